# Shared by the lab's Xen boots (dom0): Xen's daemons, udev, and domU helpers.
KVER=$(uname -r)
start_xen() {
  step "dom0 ready; starting Xen's daemons"
  modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback
  mkdir -p /var/log/xen/console /var/lib/xen /var/run/xen
  echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> /etc/default/xen
  /etc/init.d/xen start >/dev/null
  /lib/systemd/systemd-udevd --daemon; udevadm trigger --action=add >/dev/null 2>&1; udevadm settle -t 30
}
cfg() { # NAME "DISKS" EXTRA
  cat > /tmp/$1.cfg <<CFG
name = "$1"
type = "pv"
kernel = "/boot/vmlinuz-$KVER"
ramdisk = "/var/lib/lab/domu-initrd.gz"
extra = "console=hvc0 loglevel=4 $3"
memory = ${DOMU_MEM:-128}
vcpus = 1
disk = [ $2 ]
on_poweroff = "destroy"
on_crash = "destroy"
CFG
}
disk() { echo "'vdev=$1,access=w,script=block-iscsimple,target=$2'"; }
create() { # NAME -> CRC, CREATE_S, COUT (xl's output: /tmp/NAME.out), CLOG0 (the program's log's length before)
  local t0; t0=$(now)
  COUT=/tmp/$1.out
  CLOG0=$(wc -l 2>/dev/null < /var/log/xen/xen-hotplug.log || echo 0)
  timeout 120 xl create /tmp/$1.cfg > /tmp/$1.out 2>&1; CRC=$?
  CREATE_S=$(dt "$t0" "$(now)")
  echo "xl create $1: rc=$CRC in ${CREATE_S}s"
  # where its adds spent their time (under libxl's 40 s each), for every create: a slow machine shows
  tail -n +$((CLOG0 + 1)) /var/log/xen/xen-hotplug.log 2>/dev/null | grep -E ' add .*timing( until the failure)?: ' | sed -E 's/^.*(add [^:]*): timing/  \1: timing/'
  # a failure shows why at once (the guest's files are gone after the boot)
  if [ "$CRC" != 0 ]; then
    sed 's/^/  xl: /' /tmp/$1.out | tail -8
    tail -n +$((CLOG0 + 1)) /var/log/xen/xen-hotplug.log 2>/dev/null | cut -c1-400 | sed 's/^/  hotplug log: /' | tail -80
  fi
}
# the last create succeeded; else its failure says why in the FAIL line itself (the last lines xl
# printed, then the program's), since a CI log may show little more: check "..." created "$COUT"
created() { # XL-OUTPUT-FILE
  [ "$CRC" = 0 ] && return 0
  echo "xl create: rc=$CRC after ${CREATE_S}s: $(grep -v -e '^\s*$' -e '^Parsing config' "$1" | head -n 1 | cut -c1-160)"
  # the program's errors (why each add failed, without their time and pid), else its last lines
  local lines; lines=$(tail -n +$((CLOG0 + 1)) /var/log/xen/xen-hotplug.log 2>/dev/null)
  echo "hotplug log: $({ echo "$lines" | grep ' err: ' || echo "$lines" | tail -n 4; } | sed 's/^.* err: //' | tail -n 2 | cut -c1-220 | tr '\n' ' ')"
  return 1
}
gone() { ! xl domid "$1" >/dev/null 2>&1; }
# ends a domU started with domu.rec=stop or domu.hold=1 when the checks that need it running are
# done: it stops writing, reads its records back, reports them and powers off
stop_domu() { xl shutdown "$1" >/dev/null 2>&1 || { echo "xl shutdown $1 failed"; return 1; }; wait_until 300 gone "$1"; }
# the domU tagged TAG has written record N (and so N + 1 records) to FILE, the iSCSI LUN's file
wrote() { dd if="$3" bs=512 skip=$((4096 + $1)) count=1 status=none | tr -d '\000' | grep -aq "^REC $(printf %06d "$1") [0-9.]* $2\$"; }
console() { grep '^DOMU' /var/log/xen/console/guest-$1.log 2>/dev/null; }
in_console() { console "$1" | grep -q -- "$2"; }
# the record-writing domU (domu.rec) on lab-disk: lun1 of vm1 mirrored on local1
leg_faulty() { grep -q '(F)' /proc/mdstat; }
in_sync() { block-iscsimple status | grep -q 'current data: both'; }
records() { console "$1" | sed -n 's/.*records n=\([0-9]*\) ok=\([0-9]*\) maxgap=\([0-9.]*\)s.*/\1 \2 \3/p'; }
legs_identical() { cmp $SRV/vm1-lun1.img $SRV/local1.img; }
# the iSCSI leg fails over: md marks it faulty within SECONDS, and status warns (prints how long it took)
failover() { # TAG SECONDS SINCE WHAT
  check "$1: md marks the iSCSI leg faulty$4" wait_until "$2" leg_faulty
  FAULTY_S=$(dt "$3" "$(now)"); echo "  iSCSI leg faulty $FAULTY_S s after the cut"
  grep -A3 '^md' /proc/mdstat | sed 's/^/  /'
  block-iscsimple status > /tmp/$1-status; sed 's/^/  /' /tmp/$1-status
  check "$1: status warns that only the local leg is current" grep -q 'WARNING  the iSCSI leg of lab-disk is faulty: only the local leg is current' /tmp/$1-status
}
