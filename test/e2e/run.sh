#!/bin/bash
# The real lab: boots the guest image under qemu (software emulation) five times: a plain kernel for
# the manual-mode scenarios, then Xen 4.17 with a PV dom0 for the xl scenarios, the outage scenarios
# (ending with a hard reset of dom0), the boot after that crash (with the refusals of disks in use),
# and the two-path (multipath) scenarios. The repository reaches the guest read-only over 9p, so the
# guest installs build/block-iscsimple (or the .deb) as a host would.
# Logs: build/lab/{plain,xen,outage,crash,mpath}.log. Exit 0 only when every scenario passed.
# Env: LAB_ONLY=plain,xen,outage,crash,mpath (a subset; outage and crash run together), LAB_TIMEOUT (s, per boot, default 900), LAB_CACHE (see build-image.sh),
# LAB_ARGS (more kernel arguments for the guest scripts, e.g. lab.mpath-queueing=warn).
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
OUT=$REPO/build/lab
mkdir -p "$OUT"
[ -x "$REPO/build/block-iscsimple" ] || { echo "lab: build/block-iscsimple is missing (run make)" >&2; exit 1; }
T0=$(date +%s.%N)
IMG=$("$HERE/build-image.sh") || { echo "lab: the guest image could not be built" >&2; exit 1; }
T1=$(date +%s.%N)
DEB=0; ls "$REPO"/build/block-iscsimple_*_amd64.deb >/dev/null 2>&1 && DEB=${LAB_DEB:-1}

boot() { # NAME SCRIPT MODE [MORE-KERNEL-ARGS]
  local name=$1 script=$2 log=$OUT/$1.log t0 t1 common xenargs="noreboot"
  common=(-accel tcg,thread=multi -m 2048 -smp 2 -display none -monitor none -serial stdio -nodefaults -no-reboot
          -drive file="$IMG/root.img",if=virtio,format=raw,snapshot=on
          -virtfs local,path="$REPO",mount_tag=lab,security_model=none,readonly=on)
  # the outage and crash boots share a second disk (vdb) that survives the outage boot's hard reset;
  # a reboot (sysrq b) must end qemu (-no-reboot), so Xen may reboot there
  case $name in outage|crash) common+=(-drive file="$OUT/persist.img",if=virtio,format=raw); xenargs="";; esac
  local args="root=/dev/vda rw loglevel=4 init=/sbin/lab-init lab.script=$script lab.deb=$DEB ${4:-} ${LAB_ARGS:-}"
  t0=$(date +%s.%N)
  if [ "$3" = xen ]; then
    # multiboot: qemu splits -initrd on commas, so the dom0 command line holds none
    timeout "${LAB_TIMEOUT:-900}" qemu-system-x86_64 -cpu qemu64 "${common[@]}" -kernel "$IMG/xen" \
      -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 $xenargs" \
      -initrd "$IMG/vmlinuz $args console=hvc0,$IMG/initrd.img" </dev/null > "$log" 2>&1
  else
    timeout "${LAB_TIMEOUT:-900}" qemu-system-x86_64 -cpu qemu64 "${common[@]}" -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
      -append "$args console=ttyS0" </dev/null > "$log" 2>&1
  fi
  t1=$(date +%s.%N)
  grep -E '^(PASS|FAIL|LAB-NUMBERS|LAB-SUMMARY|LAB-RESULT)' "$log" | sed "s/^/[$name] /"
  echo "[$name] qemu wall time $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, log $log"
  grep -q '^LAB-RESULT rc=0' "$log" && ! grep -q '^FAIL' "$log"
}

rc=0
want() { [ -z "${LAB_ONLY:-}" ] || [[ ",$LAB_ONLY," == *",$1,"* ]]; }
want plain && { boot plain plain-lab.sh plain || rc=1; }
want xen && { boot xen xen-lab.sh xen || rc=1; }
if want outage || want crash; then
  rm -f "$OUT/persist.img"; truncate -s 256M "$OUT/persist.img"
  boot outage outage-lab.sh xen || rc=1
  # the outage boot ends with a hard reset (crash 1); this boot checks what survived it (crash 2)
  recs=$(sed -n 's/^LAB-CRASH records=\([0-9]*\).*/\1/p' "$OUT/outage.log" | tail -1)
  boot crash crash-lab.sh xen "lab.crash-records=${recs:-0}" || rc=1
fi
want mpath && { boot mpath mpath-lab.sh xen || rc=1; }
T2=$(date +%s.%N)
echo "lab: image $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s, whole lab $(awk -v a="$T0" -v b="$T2" 'BEGIN{printf "%.1f", b-a}') s: $([ $rc = 0 ] && echo PASSED || echo FAILED)"
exit $rc
