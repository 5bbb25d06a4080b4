#!/bin/bash
# The real lab: boots the guest image under qemu (software emulation) six times: a plain kernel for
# the manual-mode scenarios, then Xen 4.17 with a PV dom0 for the xl scenarios and after them the
# two-path (multipath) ones, the outage scenarios (ending with a hard reset of dom0), the boot after
# that crash (with the refusals of disks in use), and the two-host live migration (two Xen boots at
# once, mig-a and mig-b). The repository reaches the guest read-only over 9p, so the guest installs
# build/block-iscsimple (or the .deb) as a host would.
# Logs: build/lab/{plain,xen,outage,crash,mig-a,mig-b}.log (the two-path scenarios are in xen.log). Exit 0 only when every scenario passed.
# Env: LAB_ONLY=plain,xen,outage,crash,mpath,mig (a subset; outage and crash run together; xen and
# mpath share the Xen boot), LAB_TIMEOUT (s, per boot, against a hang only, default 1800;
# LAB_TIMEOUT_MIG for the two-host boots, default 2700),
# LAB_MIG_CPU and LAB_MIG_XENARGS (their qemu CPU and Xen arguments), LAB_XEN_SHADOW (their
# hypervisor, default the image's xen-shadow), LAB_CACHE (see build-image.sh),
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

boot() { # NAME SCRIPT MODE [MORE-KERNEL-ARGS]; BOOT_CPU and BOOT_NET (qemu arguments) for the two-host boots
  local name=$1 script=$2 log=$OUT/$1.log t0 t1 common xenargs="noreboot"
  common=(-accel tcg,thread=multi -m 2048 -smp 2 -display none -monitor none -serial stdio -nodefaults -no-reboot "${BOOT_NET[@]}"
          -drive file="$IMG/root.img",if=virtio,format=raw,snapshot=on
          -virtfs local,path="$REPO",mount_tag=lab,security_model=none,readonly=on)
  # the outage and crash boots share a second disk (vdb) that survives the outage boot's hard reset;
  # a reboot (sysrq b) must end qemu (-no-reboot), so Xen may reboot there
  case $name in outage|crash) common+=(-drive file="$OUT/persist.img",if=virtio,format=raw); xenargs="";; esac
  local args="root=/dev/vda rw loglevel=4 init=/sbin/lab-init lab.script=$script lab.deb=$DEB ${4:-} ${LAB_ARGS:-}"
  t0=$(date +%s.%N)
  if [ "$3" = xen ]; then
    # multiboot: qemu splits -initrd on commas, so the dom0 command line holds none
    timeout "${BOOT_TIMEOUT:-${LAB_TIMEOUT:-1800}}" qemu-system-x86_64 -cpu "${BOOT_CPU:-qemu64}" "${common[@]}" -kernel "${BOOT_XEN:-$IMG/xen}" \
      -append "console=com1 com1=115200,8n1 dom0_mem=1024M,max:1024M dom0_max_vcpus=2 $xenargs ${BOOT_XENARGS:-}" \
      -initrd "$IMG/vmlinuz $args console=hvc0,$IMG/initrd.img" </dev/null > "$log" 2>&1
  else
    timeout "${LAB_TIMEOUT:-1800}" qemu-system-x86_64 -cpu qemu64 "${common[@]}" -kernel "$IMG/vmlinuz" -initrd "$IMG/initrd.img" \
      -append "$args console=ttyS0" </dev/null > "$log" 2>&1
  fi
  t1=$(date +%s.%N)
  # (a serial console ends its lines with CR LF: the CR goes, or a CI log shows each line twice)
  tr -d '\r' < "$log" | grep -E '^(PASS|FAIL|EVIDENCE|LAB-NUMBERS|LAB-SUMMARY|LAB-RESULT)' | sed "s/^/[$name] /"
  echo "[$name] qemu wall time $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s, log $log"
  grep -q '^LAB-RESULT rc=0' "$log" && ! grep -q '^FAIL' "$log" && return 0
  echo "$name" >> "$OUT/failed-boots"
  return 1
}

BOOT_NET=()

# The two-host boots, at once, for live migration: hosta listens on two qemu socket networks (the
# hosts' own, 10.9.0.x, and the storage one, 10.9.1.x, which a host can lose alone), hostb connects
# to them. Their hypervisor has shadow paging (xen-shadow: a PV domU migrates only with it, see
# build-image.sh); plain qemu64 (no svm).
boot_pair() {
  local port a b xen
  xen=${LAB_XEN_SHADOW:-$IMG/xen-shadow}
  if [ ! -s "$xen" ]; then
    echo "FAIL: no hypervisor with shadow paging for the migration boots: $(cat "$IMG/xen-shadow.missing" 2>/dev/null || echo "$xen is missing"). Give one with LAB_XEN_SHADOW=FILE (a Xen 4.17 ELF built with CONFIG_SHADOW_PAGING=y), or remove $IMG to build the image again" > "$OUT/mig.log"
    echo "LAB-RESULT rc=1" >> "$OUT/mig.log"
    sed 's/^/[mig] /' "$OUT/mig.log"
    echo mig >> "$OUT/failed-boots"
    return 1
  fi
  port=$((20000 + $$ % 20000))
  rm -f "$OUT/mig-a.log" "$OUT/mig-b.log"
  local cpu=${LAB_MIG_CPU:-qemu64}
  ( BOOT_CPU=$cpu; BOOT_XEN=$xen; BOOT_XENARGS="${LAB_MIG_XENARGS:-}"; BOOT_TIMEOUT=${LAB_TIMEOUT_MIG:-2700}
    BOOT_NET=(-netdev "socket,id=n0,listen=127.0.0.1:$port" -device virtio-net-pci,netdev=n0,mac=52:54:00:09:00:01
              -netdev "socket,id=n1,listen=127.0.0.1:$((port + 1))" -device virtio-net-pci,netdev=n1,mac=52:54:00:09:01:01)
    boot mig-a mig-lab.sh xen "lab.role=a" > "$OUT/mig-a.out" ) & a=$!
  # hostb's qemu connects at once: wait until hosta's listens (or its qemu ended)
  for _ in $(seq 300); do ss -ltn 2>/dev/null | grep -q "127.0.0.1:$((port + 1)) " && break; kill -0 $a 2>/dev/null || break; sleep 0.1; done
  ( BOOT_CPU=$cpu; BOOT_XEN=$xen; BOOT_XENARGS="${LAB_MIG_XENARGS:-}"; BOOT_TIMEOUT=${LAB_TIMEOUT_MIG:-2700}
    BOOT_NET=(-netdev "socket,id=n0,connect=127.0.0.1:$port" -device virtio-net-pci,netdev=n0,mac=52:54:00:09:00:02
              -netdev "socket,id=n1,connect=127.0.0.1:$((port + 1))" -device virtio-net-pci,netdev=n1,mac=52:54:00:09:01:02)
    boot mig-b mig-lab.sh xen "lab.role=b" > "$OUT/mig-b.out" ) & b=$!
  local ra=0 rb=0
  wait $a || ra=1; wait $b || rb=1
  cat "$OUT/mig-a.out" "$OUT/mig-b.out"
  [ $ra = 0 ] && [ $rb = 0 ]
}

rc=0
rm -f "$OUT/failed-boots"
want() { [ -z "${LAB_ONLY:-}" ] || [[ ",$LAB_ONLY," == *",$1,"* ]]; }
want plain && { boot plain plain-lab.sh plain || rc=1; }
# the two-path scenarios run in the Xen boot, after its own (one boot less)
if want xen || want mpath; then
  parts=$(want xen && echo xen)+$(want mpath && echo mpath)
  parts=${parts#+}; parts=${parts%+}
  boot xen xen-lab.sh xen "lab.parts=$parts" || rc=1
fi
if want outage || want crash; then
  rm -f "$OUT/persist.img"; truncate -s 256M "$OUT/persist.img"
  boot outage outage-lab.sh xen || rc=1
  # the outage boot ends with a hard reset (crash 1); this boot checks what survived it (crash 2)
  recs=$(sed -n 's/^LAB-CRASH records=\([0-9]*\).*/\1/p' "$OUT/outage.log" | tail -1)
  boot crash crash-lab.sh xen "lab.crash-records=${recs:-0}" || rc=1
fi
want mig && { boot_pair || rc=1; }
T2=$(date +%s.%N)
echo "lab: image $(awk -v a="$T0" -v b="$T1" 'BEGIN{printf "%.1f", b-a}') s, whole lab $(awk -v a="$T0" -v b="$T2" 'BEGIN{printf "%.1f", b-a}') s: $([ $rc = 0 ] && echo PASSED || echo FAILED)"
# the failures last, where a CI log's tail shows them
if [ $rc != 0 ]; then
  for n in $(cat "$OUT/failed-boots" 2>/dev/null); do
    # each FAIL line with its evidence (what its commands printed, the program's log, the host's state)
    tr -d '\r' < "$OUT/$n.log" | awk '/^FAIL/ { p = 1; print; next } /^EVIDENCE/ { if (p) print; next } /^(PASS|=== )/ { p = 0 }' | sed "s/^/[$n] /" | tail -n 150
    grep -q '^LAB-RESULT' "$OUT/$n.log" || { echo "[$n] no LAB-RESULT (timed out or crashed); its last lines:"; tail -4 "$OUT/$n.log" | tr -d '\r' | sed "s/^/[$n]   /"; }
  done
  # and last of all, where even a short tail of the log shows them: which checks failed, and why
  echo "lab: FAILED: $(tr '\n' ' ' < "$OUT/failed-boots" 2>/dev/null)"
  for n in $(cat "$OUT/failed-boots" 2>/dev/null); do
    tr -d '\r' < "$OUT/$n.log" | grep '^FAIL' | cut -c1-700 | sed "s/^/[$n] /" | tail -n 8
  done
fi
exit $rc
