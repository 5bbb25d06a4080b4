#!/bin/bash
# Tests of the Debian package (part of make test): contents and modes, conffiles, dependencies,
# the maintainer scripts, lintian, reproducibility, install / admin edit / upgrade / purge in a
# scratch root with dpkg, and make install / uninstall.
# Prints PASS/FAIL lines and "deb: N passed, N failed"; exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/../.."
DEB=$(ls build/block-iscsimple_*_amd64.deb)
VERSION=$(dpkg-deb -f "$DEB" Version)
P=0; F=0
check() { local name=$1; shift; local out; if out=$("$@" 2>&1); then echo "PASS: $name"; P=$((P + 1)); else echo "FAIL: $name -- ${out:-exit $?}"; F=$((F + 1)); fi; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# contents: exactly these paths, owners and modes
dpkg-deb -c "$DEB" | awk '{print $1, $2, $6, $7, $8}' | sed 's/ *$//' > "$T/contents"
cat > "$T/want" <<'W'
drwxr-xr-x root/root ./
drwxr-xr-x root/root ./etc/
drwxr-xr-x root/root ./etc/xen/
drwxr-xr-x root/root ./etc/xen/scripts/
-rw------- root/root ./etc/xen/scripts/block-iscsimple-chap.conf
-rw-r--r-- root/root ./etc/xen/scripts/block-iscsimple-tab.conf
-rw-r--r-- root/root ./etc/xen/scripts/block-iscsimple.conf
drwxr-xr-x root/root ./lib/
drwxr-xr-x root/root ./lib/systemd/
drwxr-xr-x root/root ./lib/systemd/system/
-rw-r--r-- root/root ./lib/systemd/system/block-iscsimple-monitor.service
drwxr-xr-x root/root ./usr/
drwxr-xr-x root/root ./usr/libexec/
drwxr-xr-x root/root ./usr/libexec/block-iscsimple/
-rwxr-xr-x root/root ./usr/libexec/block-iscsimple/block-iscsimple
drwxr-xr-x root/root ./usr/sbin/
drwxr-xr-x root/root ./usr/share/
drwxr-xr-x root/root ./usr/share/doc/
drwxr-xr-x root/root ./usr/share/doc/block-iscsimple/
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/README.Debian
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/README.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/changelog.gz
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/configuration.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/copyright
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/development.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/live-migration.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/monitoring.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/multipath.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/outages.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/safety.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/speed.md
-rw-r--r-- root/root ./usr/share/doc/block-iscsimple/under-xl.md
drwxr-xr-x root/root ./usr/share/lintian/
drwxr-xr-x root/root ./usr/share/lintian/overrides/
-rw-r--r-- root/root ./usr/share/lintian/overrides/block-iscsimple
drwxr-xr-x root/root ./usr/share/man/
drwxr-xr-x root/root ./usr/share/man/man5/
-rw-r--r-- root/root ./usr/share/man/man5/block-iscsimple-chap.conf.5.gz
-rw-r--r-- root/root ./usr/share/man/man5/block-iscsimple-tab.conf.5.gz
-rw-r--r-- root/root ./usr/share/man/man5/block-iscsimple.conf.5.gz
drwxr-xr-x root/root ./usr/share/man/man8/
-rw-r--r-- root/root ./usr/share/man/man8/block-iscsimple.8.gz
lrwxrwxrwx root/root ./etc/xen/scripts/block-iscsimple -> /usr/libexec/block-iscsimple/block-iscsimple
lrwxrwxrwx root/root ./usr/sbin/block-iscsimple -> ../libexec/block-iscsimple/block-iscsimple
W
check "contents, owners and modes are exactly as designed" diff "$T/want" "$T/contents"
check "the packaged executable is build/block-iscsimple" eval "dpkg-deb --fsys-tarfile $DEB | tar -xOf - ./usr/libexec/block-iscsimple/block-iscsimple | cmp - build/block-iscsimple"
check "conffiles are the three config files" eval "[ \"\$(dpkg-deb -I $DEB conffiles | sort | tr '\n' ' ')\" = '/etc/xen/scripts/block-iscsimple-chap.conf /etc/xen/scripts/block-iscsimple-tab.conf /etc/xen/scripts/block-iscsimple.conf ' ]"
check "depends on open-iscsi, mdadm, xenstore-utils and the libraries" eval "dpkg-deb -f $DEB Depends | grep -q 'libc6 (>= .*open-iscsi, mdadm, xenstore-utils'"
check "suggests multipath-tools (two SAN paths) and prometheus-node-exporter (the metrics)" eval "[ \"\$(dpkg-deb -f $DEB Suggests)\" = 'multipath-tools, prometheus-node-exporter' ]"
check "built by debhelper from debian/ (dpkg-buildpackage -b): the .buildinfo and .changes are beside it, nothing outside build/" eval "[ -s build/block-iscsimple_\${VERSION}_amd64.buildinfo ] && grep -q block-iscsimple_\${VERSION}_amd64.deb build/block-iscsimple_\${VERSION}_amd64.changes && [ -z \"\$(ls ../block-iscsimple_* 2>/dev/null)\" ]"
check "the maintainer scripts enable and start the monitor, stop it on remove, forget it on purge (dh_installsystemd)" eval "dpkg-deb --ctrl-tarfile $DEB | tar -xOf - ./postinst | grep -q \"deb-systemd-helper enable 'block-iscsimple-monitor.service'\" && dpkg-deb --ctrl-tarfile $DEB | tar -xOf - ./prerm | grep -q \"deb-systemd-invoke stop 'block-iscsimple-monitor.service'\" && dpkg-deb --ctrl-tarfile $DEB | tar -xOf - ./postrm | grep -q 'deb-systemd-helper purge'"
check "the monitor's unit runs the packaged program" eval "dpkg-deb --fsys-tarfile $DEB | tar -xOf - ./lib/systemd/system/block-iscsimple-monitor.service | grep -qx 'ExecStart=/usr/libexec/block-iscsimple/block-iscsimple monitor'"
command -v man >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq man-db >/dev/null; }
check "the man pages render without warnings" eval "for m in man/*.[0-9]; do w=\$(LC_ALL=C.UTF-8 man --warnings -E UTF-8 -l -Tutf8 -Z \$m 2>&1 >/dev/null); [ -z \"\$w\" ] || { echo \"\$m: \$w\"; exit 1; }; done"

if ! command -v lintian >/dev/null; then
  echo "deb-test: installing lintian"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lintian >/dev/null
fi
lintian --pedantic -I --show-overrides "$DEB" > "$T/lintian" 2>/dev/null
grep -E '^[EWIPXO]:' "$T/lintian" | sed 's/^/  lintian: /' | sort | uniq -c | head -20
check "lintian: no error, warning, info or pedantic tag that is not overridden" eval "! grep -E '^[EWIPX]:' $T/lintian"
check "every lintian override is used" eval "! grep -q unused-override $T/lintian"

# reproducible: a second build gives the same bytes
cp "$DEB" "$T/first.deb"
rm -f "$DEB"; make -s deb >/dev/null
check "two builds of the .deb are byte-identical" cmp "$DEB" "$T/first.deb"

# install, admin edit, upgrade, purge in a scratch root (no Xen, no iscsi there: deps forced)
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/var/lib/dpkg/triggers"
touch "$R/var/lib/dpkg/status" "$R/var/lib/dpkg/available"
dp() { dpkg --root="$R" --force-depends --force-script-chrootless --log=/dev/null "$@"; }
check "dpkg -i on a host without Xen" dp -i "$DEB"
check "installed: the executable, the hotplug symlink, the config files, man pages" eval "[ -x $R/usr/libexec/block-iscsimple/block-iscsimple ] && [ \$(readlink $R/etc/xen/scripts/block-iscsimple) = /usr/libexec/block-iscsimple/block-iscsimple ] && [ -f $R/etc/xen/scripts/block-iscsimple.conf ] && [ -f $R/usr/share/man/man8/block-iscsimple.8.gz ]"
check "the command is on root's PATH: /usr/sbin/block-iscsimple runs the program" eval "[ \"\$(readlink -f $R/usr/sbin/block-iscsimple)\" = $R/usr/libexec/block-iscsimple/block-iscsimple ] && $R/usr/sbin/block-iscsimple --version | grep -qx $VERSION"
echo "[attach]" >> "$R/etc/xen/scripts/block-iscsimple.conf"; echo "deadline = 20" >> "$R/etc/xen/scripts/block-iscsimple.conf"
# the next version: same files, higher version
dpkg-deb -R "$DEB" "$T/up"; sed -i "s/^Version: .*/Version: $VERSION+up1/" "$T/up/DEBIAN/control"
dpkg-deb --root-owner-group -Znone --build "$T/up" "$T/up.deb" >/dev/null
check "upgrade" dp -i "$T/up.deb"
check "an admin's change to a conffile survives the upgrade" grep -q "deadline = 20" "$R/etc/xen/scripts/block-iscsimple.conf"
check "the upgraded version is installed" eval "dpkg --root=$R -s block-iscsimple | grep -q 'Version: $VERSION+up1'"
mkdir -p "$R/var/lib/block-iscsimple/local"; touch "$R/var/lib/block-iscsimple/local/x.json"
check "remove keeps the conffiles" eval "dp -r block-iscsimple && [ -f $R/etc/xen/scripts/block-iscsimple.conf ] && [ ! -e $R/usr/libexec/block-iscsimple ]"
# (deb-systemd-helper keeps its state folders, empty, under the root it was given: DPKG_ROOT)
check "purge removes every file" eval "dp -P block-iscsimple && [ -z \"\$(cd $R && find . -path ./var/lib/dpkg -prune -o ! -type d -print)\" ]"
# a direction guard survives a purge (a reinstalled program must not copy a stale LUN over the data)
dp -i "$DEB" >/dev/null 2>&1; mkdir -p "$R/var/lib/block-iscsimple/stale"; echo '{}' > "$R/var/lib/block-iscsimple/stale/vm.json"
# (the output whole first: grep -q ends at its match, and dpkg, still writing, would die of SIGPIPE)
check "purge keeps the direction guards, and says so" eval "out=\$(dp -P block-iscsimple 2>&1); echo \"\$out\" | grep -q 'kept .*stale: direction guards are set' && [ -f $R/var/lib/block-iscsimple/stale/vm.json ] && [ ! -e $R/var/lib/block-iscsimple/local ]"
check "the scratch root's install left this host's systemd alone" eval "! ls /etc/systemd/system/*/block-iscsimple-monitor.service 2>/dev/null"

# make install (hosts that are not Debian): the command on PATH, the monitor's unit pointing at the
# installed program, and enabled only when the install goes into this host (a stand-in systemctl)
M=$T/make-install
make -s install DESTDIR="$M" PREFIX=/opt/bi >/dev/null
check "make install puts the command in PREFIX/sbin" eval "[ \"\$(readlink $M/opt/bi/sbin/block-iscsimple)\" = /opt/bi/libexec/block-iscsimple/block-iscsimple ] && [ -x $M/opt/bi/libexec/block-iscsimple/block-iscsimple ]"
check "make install installs the monitor's unit, with ExecStart at PREFIX" grep -qx 'ExecStart=/opt/bi/libexec/block-iscsimple/block-iscsimple monitor' "$M/etc/systemd/system/block-iscsimple-monitor.service"
check "make install installs the four man pages" eval "ls $M/opt/bi/share/man/man8/block-iscsimple.8 $M/opt/bi/share/man/man5/block-iscsimple.conf.5 $M/opt/bi/share/man/man5/block-iscsimple-tab.conf.5 $M/opt/bi/share/man/man5/block-iscsimple-chap.conf.5"
make -s uninstall DESTDIR="$M" PREFIX=/opt/bi >/dev/null
check "make uninstall removes all but the administrator's configuration" eval "[ \"\$(cd $M && find . -type f -o -type l | sort | tr '\n' ' ')\" = './etc/xen/scripts/block-iscsimple-chap.conf ./etc/xen/scripts/block-iscsimple-tab.conf ./etc/xen/scripts/block-iscsimple.conf ' ]"
# the monitor is enabled when the install goes into this host: DESTDIR empty or / (not for another root)
SC=$T/systemctl; printf '#!/bin/sh\necho "$*" >> %s/systemctl.log\n' "$T" > "$SC"; chmod +x "$SC"; mkdir -p "$T/run-systemd"
for d in "" / //; do SYSTEMCTL=$SC SYSTEMD_RUNTIME=$T/run-systemd scripts/enable-monitor.sh enable "$d" >/dev/null; done
SYSTEMCTL=$SC SYSTEMD_RUNTIME=$T/run-systemd scripts/enable-monitor.sh enable "$M" >/dev/null
check "the monitor is enabled (and restarted: a running one would go on with the old program) for DESTDIR empty, / and //, never for another root" eval "[ \$(grep -c '^enable block-iscsimple-monitor.service\$' $T/systemctl.log) = 3 ] && [ \$(grep -c '^restart block-iscsimple-monitor.service\$' $T/systemctl.log) = 3 ]"
SYSTEMCTL=$SC SYSTEMD_RUNTIME=$T/run-systemd scripts/enable-monitor.sh disable / >/dev/null
check "make uninstall into this host disables the monitor" grep -qx 'disable --now block-iscsimple-monitor.service' "$T/systemctl.log"

echo "deb: $P passed, $F failed"
[ "$F" = 0 ]
