#!/bin/bash
# Builds build/block-iscsimple_<version>_amd64.deb from build/block-iscsimple, etc/, man/ and
# debian/ with plain dpkg-deb: reproducible (SOURCE_DATE_EPOCH from debian/changelog, mtimes
# clamped, --root-owner-group, fixed permissions and order), so two builds give the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/block-iscsimple
VERSION=$(dpkg-parsechangelog -l debian/changelog -S Version)
PKGVER=$(sed -n 's/^ *"version": "\(.*\)",$/\1/p' package.json | head -1)
[ "$VERSION" = "$PKGVER" ] || { echo "build-deb: debian/changelog has $VERSION, package.json $PKGVER" >&2; exit 1; }
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(dpkg-parsechangelog -l debian/changelog -S Timestamp)}
R=build/deb-root
rm -rf "$R"
umask 022
install -D -m 0755 "$BIN" "$R/usr/libexec/block-iscsimple/block-iscsimple"
mkdir -p "$R/etc/xen/scripts"
ln -s /usr/libexec/block-iscsimple/block-iscsimple "$R/etc/xen/scripts/block-iscsimple"
install -m 0644 etc/block-iscsimple.conf etc/block-iscsimple-tab.conf "$R/etc/xen/scripts/"
install -m 0600 etc/block-iscsimple-chap.conf "$R/etc/xen/scripts/"
for m in man/*.[0-9]; do
  sec=${m##*.}
  install -D -m 0644 "$m" "$R/usr/share/man/man$sec/$(basename "$m")"
  gzip -n -9 "$R/usr/share/man/man$sec/$(basename "$m")"
done
D=$R/usr/share/doc/block-iscsimple
install -D -m 0644 debian/copyright "$D/copyright"
install -m 0644 debian/README.Debian "$D/README.Debian"
# a native package (no Debian revision): the changelog is changelog.gz
gzip -n -9 -c debian/changelog > "$D/changelog.gz"; chmod 0644 "$D/changelog.gz"
install -D -m 0644 debian/lintian-overrides "$R/usr/share/lintian/overrides/block-iscsimple"
install -D -m 0644 debian/block-iscsimple-monitor.service "$R/lib/systemd/system/block-iscsimple-monitor.service"

# the libraries the executable links to, as dpkg-shlibdeps sees them
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/debian"; printf 'Source: block-iscsimple\n\nPackage: block-iscsimple\nArchitecture: amd64\n' > "$T/debian/control"
SHLIBS=$(cd "$T" && dpkg-shlibdeps -O "$OLDPWD/$R/usr/libexec/block-iscsimple/block-iscsimple" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
[ -n "$SHLIBS" ] || { echo "build-deb: dpkg-shlibdeps found no libraries" >&2; exit 1; }

mkdir -p "$R/DEBIAN"
SIZE=$(find "$R" -path "$R/DEBIAN" -prune -o \( -type f -o -type l \) -printf '%s\n' | awk '{k += int(($1 + 1023) / 1024)} END {print k}')
sed -e "s/@VERSION@/$VERSION/" -e "s/@SIZE@/$SIZE/" -e "s/@SHLIBS@/$SHLIBS/" debian/control > "$R/DEBIAN/control"
install -m 0644 debian/conffiles "$R/DEBIAN/conffiles"
for s in postinst prerm postrm; do install -m 0755 "debian/$s" "$R/DEBIAN/$s"; done
(cd "$R" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) > "$R/DEBIAN/md5sums"
chmod 0644 "$R/DEBIAN/md5sums"
find "$R" -newermt "@$SOURCE_DATE_EPOCH" -print0 | xargs -0 touch -h -d "@$SOURCE_DATE_EPOCH"
OUT=build/block-iscsimple_${VERSION}_amd64.deb
dpkg-deb --root-owner-group -Zxz --build "$R" "$OUT" >/dev/null
echo "built $OUT ($(du -k "$OUT" | cut -f1) KiB)"
