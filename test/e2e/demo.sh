#!/bin/bash
# make demo: boots Xen 4.17 in qemu (software emulation), starts a domU whose disk is an iscsimple
# RAID1 (iSCSI from tgt + a local loop device), and prints the transcript. Needs root and apt
# (the guest image is built, or reused from the cache, first). Full log: build/lab/demo.log.
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
mkdir -p "$REPO/build/lab"
echo "building or reusing the guest image..." >&2
IMG=$("$HERE/build-image.sh") || exit 1
echo "booting Xen under qemu (about a minute before the first lines)..." >&2
timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -cpu qemu64 -m 2048 -smp 2 -display none -monitor none \
  -serial stdio -nodefaults -no-reboot -drive file="$IMG/root.img",if=virtio,format=raw,snapshot=on \
  -virtfs local,path="$REPO",mount_tag=lab,security_model=none,readonly=on -kernel "$IMG/xen" \
  -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 noreboot" \
  -initrd "$IMG/vmlinuz root=/dev/vda rw console=hvc0 loglevel=4 init=/sbin/lab-init lab.script=demo.sh,$IMG/initrd.img" \
  </dev/null 2>&1 | tee "$REPO/build/lab/demo.log" | sed -un 's/^DEMO| \{0,1\}//p'
grep -q '^LAB-RESULT rc=0' "$REPO/build/lab/demo.log"
