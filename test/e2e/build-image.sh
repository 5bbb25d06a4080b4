#!/bin/bash
# Builds (or reuses) the lab's guest: Debian bookworm with kernel 6.1, Xen 4.17, tgt, open-iscsi,
# mdadm and udev, from the host's own apt sources, plus a tiny busybox domU initramfs.
# Output, under $LAB_CACHE/img-<hash of the inputs> (outside the checkout, so that CI's fresh
# clones reuse it): root.img (ext4, booted read-only with snapshot=on), vmlinuz, initrd.img,
# xen (ELF, multiboot), xen-shadow (the migration boots' hypervisor, or xen-shadow.missing: why not),
# domu-initrd.gz. Rebuilt only when an input changes; prints the folder.
# --host-tools: only install the host's tools (qemu, debootstrap...), with the host's apt.
# Needs root and apt. Env: LAB_CACHE (default /var/cache/block-iscsimple-lab), MIRROR, SECURITY.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${LAB_CACHE:-/var/cache/block-iscsimple-lab}
PKGS="linux-image-amd64 udev kmod mdadm open-iscsi tgt xen-utils-4.17 xen-hypervisor-4.17-amd64 iproute2 procps busybox e2fsprogs dmsetup multipath-tools lvm2 socat"
log() { echo "[lab image $(date +%T)] $*" >&2; }

[ "$(id -u)" = 0 ] || { echo "build-image: needs root (debootstrap, chroot, mount)" >&2; exit 1; }
HOST_TOOLS_ONLY=0; [ "${1:-}" = --host-tools ] && HOST_TOOLS_ONLY=1

# host tools
need=""
for p in qemu-system-x86_64:qemu-system-x86 debootstrap:debootstrap busybox:busybox-static cpio:cpio mkfs.ext4:e2fsprogs; do
  command -v "${p%%:*}" >/dev/null || need="$need ${p##*:}"
done
[ -x /bin/busybox ] && file /bin/busybox 2>/dev/null | grep -q dynamically && need="$need busybox-static"
if [ -n "$need" ]; then
  log "installing host packages:$need"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >&2
fi

[ $HOST_TOOLS_ONLY = 1 ] && exit 0

# one build at a time: `make test` starts one in the background while the other levels run, and the
# lab's own call waits here for it (then finds it done)
mkdir -p "$CACHE"
exec 9< "$CACHE"
flock 9

HASH=$( (echo "$PKGS"; cat "$HERE/build-image.sh" "$HERE/guest/lab-init" "$HERE/guest/domu-init") | sha256sum | cut -c1-16)
OUT=$CACHE/img-$HASH
if [ -e "$OUT/.done" ]; then echo "$OUT"; exit 0; fi

# the host's own mirrors (deb822 .sources or one-line .list), unless MIRROR/SECURITY are set
uri() {
  { cat /etc/apt/sources.list.d/*.sources 2>/dev/null || true; } | awk -v want="$1" '
    /^URIs:/ {u=$2} /^Suites:/ {for (i=2;i<=NF;i++) if ($i == "bookworm" want) {print u; exit}}'
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } | awk -v want="$1" '$1=="deb" && $3=="bookworm" want {print $2; exit}'
}
MIRROR=${MIRROR:-$(uri "" | head -1)}
SECURITY=${SECURITY:-$(uri -security | head -1)}
[ -n "$MIRROR" ] || { echo "build-image: no bookworm mirror in the host's apt sources; set MIRROR" >&2; exit 1; }

mkdir -p "$CACHE/debs"
WORK=$CACHE/work-$HASH
R=$WORK/rootfs
# (a build killed before its cleanup may have left its mounts: never delete through them)
umount "$R/proc" "$R/var/cache/apt/archives" 2>/dev/null || true
rm -rf --one-file-system "$WORK"; mkdir -p "$WORK"
cleanup() { umount "$R/proc" "$R/var/cache/apt/archives" 2>/dev/null || true; }
trap cleanup EXIT
log "debootstrap bookworm ($MIRROR)"
debootstrap --variant=minbase --cache-dir="$CACHE/debs" bookworm "$R" "$MIRROR" > "$WORK/debootstrap.log" 2>&1 \
  || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
cat > "$R/etc/apt/sources.list" <<SRC
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
${SECURITY:+deb $SECURITY bookworm-security main}
SRC
printf '#!/bin/sh\nexit 101\n' > "$R/usr/sbin/policy-rc.d"; chmod +x "$R/usr/sbin/policy-rc.d"
mkdir -p "$R/etc/initramfs-tools/conf.d"
echo 'MODULES=list' > "$R/etc/initramfs-tools/conf.d/lab.conf"
printf '%s\n' virtio_pci virtio_blk ext4 9p 9pnet_virtio > "$R/etc/initramfs-tools/modules"
mount --bind "$CACHE/debs" "$R/var/cache/apt/archives"
mount -t proc proc "$R/proc"
log "installing guest packages"
chroot "$R" apt-get update -qq
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $PKGS > "$WORK/install.log" 2>&1 \
  || { tail -20 "$WORK/install.log" >&2; exit 1; }
chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get -y dist-upgrade >> "$WORK/install.log" 2>&1
# The migration boots' hypervisor: a PV domU live-migrates only with shadow paging (log-dirty
# mode), which the security update's Xen (4.17.7+) is built without (XSA-495); bookworm's main
# archive still has 4.17.5+72, built with it. Its tools are the image's own (same domctl/sysctl
# interface). Downloaded into the package cache; when it cannot be had the image is built all the
# same, and the migration boots fail saying why (xen-shadow.missing).
XEN_SHADOW_VERSION=4.17.5+72-g01140da4e8-1
XS_DEB=$CACHE/debs/xen-hypervisor-4.17-amd64_${XEN_SHADOW_VERSION}_amd64.deb
[ -s "$XS_DEB" ] || chroot "$R" sh -c "cd /var/cache/apt/archives && apt-get download -q xen-hypervisor-4.17-amd64=$XEN_SHADOW_VERSION" >> "$WORK/install.log" 2>&1 || true
if [ -s "$XS_DEB" ]; then
  mkdir -p "$WORK/xs"; dpkg-deb -x "$XS_DEB" "$WORK/xs"
  if grep -q '^CONFIG_SHADOW_PAGING=y' "$WORK/xs/boot/xen-4.17-amd64.config" 2>/dev/null; then
    zcat "$WORK/xs/boot/xen-4.17-amd64.gz" > "$WORK/xen-shadow"
  else
    echo "Debian's xen-hypervisor-4.17-amd64 $XEN_SHADOW_VERSION is not built with CONFIG_SHADOW_PAGING=y" > "$WORK/xen-shadow.missing"
  fi
  rm -rf "$WORK/xs"
else
  echo "apt-get download xen-hypervisor-4.17-amd64=$XEN_SHADOW_VERSION failed (the mirror no longer has it?): $(tail -1 "$WORK/install.log")" > "$WORK/xen-shadow.missing"
fi
KVER=$(ls "$R/lib/modules" | sort -V | tail -1)
for k in $(ls "$R/lib/modules"); do
  [ "$k" = "$KVER" ] || chroot "$R" env DEBIAN_FRONTEND=noninteractive apt-get -y purge "linux-image-$k" >> "$WORK/install.log" 2>&1 || true
done
cleanup; trap - EXIT

log "configuring"
for d in drivers/gpu drivers/media drivers/net/wireless drivers/infiniband drivers/staging drivers/bluetooth \
         drivers/iio drivers/usb drivers/net/ethernet sound net/wireless net/mac80211 net/bluetooth \
         fs/btrfs fs/xfs fs/ocfs2 fs/gfs2 fs/nfs fs/nfsd fs/ceph fs/smb fs/f2fs; do
  rm -rf "$R/lib/modules/$KVER/kernel/$d"
done
chroot "$R" depmod "$KVER"
rm -rf "$R/usr/share/doc" "$R/usr/share/man" "$R/usr/share/locale" "$R/var/cache/apt/"*.bin
install -m 0755 "$HERE/guest/lab-init" "$R/sbin/lab-init"
echo lab > "$R/etc/hostname"
printf '127.0.0.1 localhost lab\n' > "$R/etc/hosts"
echo 'InitiatorName=iqn.2026-11.test.lab:initiator' > "$R/etc/iscsi/initiatorname.iscsi"
printf '/dev/vda / ext4 rw 0 1\n' > "$R/etc/fstab"
mkdir -p "$R/lab" "$R/var/log/xen" "$R/var/lib/lab"

log "domU initramfs"
D=$WORK/domu; mkdir -p "$D/bin" "$D/lib/modules"
cp "$(command -v busybox)" "$D/bin/busybox"
for f in $(chroot "$R" modprobe --show-depends --set-version "$KVER" xen-blkfront | awk '/^insmod/{print $2}'); do cp "$R$f" "$D/lib/modules/"; done
install -m 0755 "$HERE/guest/domu-init" "$D/init"
(cd "$D" && find . | sort | cpio -o -H newc 2>/dev/null | gzip -n -1) > "$WORK/domu-initrd.gz"
cp "$WORK/domu-initrd.gz" "$R/var/lib/lab/domu-initrd.gz"

log "ext4 image"
cp "$R/boot/vmlinuz-$KVER" "$WORK/vmlinuz"
cp "$R/boot/initrd.img-$KVER" "$WORK/initrd.img"
zcat "$R/boot/xen-4.17-amd64.gz" > "$WORK/xen"
truncate -s 1536M "$WORK/root.img"
mkfs.ext4 -q -L labroot -d "$R" "$WORK/root.img"
rm -rf "$R" "$D"
# keep only this image
for old in "$CACHE"/img-*; do [ "$old" = "$OUT" ] || rm -rf "$old"; done
rm -rf "$OUT"; mv "$WORK" "$OUT"; touch "$OUT/.done"
log "ready: $OUT (kernel $KVER)"
echo "$OUT"
