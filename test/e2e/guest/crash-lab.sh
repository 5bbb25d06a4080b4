#!/bin/bash
# The lab's boot after the crash that ends the outage boot (a hard reset, no sync): the guard, the
# LUN's file and the local leg's file come back from the second disk (vdb). The next xl create is
# refused; resolve --prefer-local brings every record back. While that domU runs, tab.conf points
# labels at disks in use (the running array's local leg, a mounted filesystem, an active LVM PV):
# every add is refused, and nothing on those disks changes. Prints PASS/FAIL and LAB-NUMBERS.
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
. /lab/test/e2e/guest/xen-common.sh
start_xen
modprobe -a loop md_mod raid1 iscsi_tcp sd_mod dm_mod
mkdir -p /persist /var/lib/block-iscsimple
check "the second disk (vdb) mounts after the reset" mount /dev/vdb /persist
mount --bind /persist/lib /var/lib/block-iscsimple
GUARD=/var/lib/block-iscsimple/stale/lab-disk.json
check "crash 2: the guard written before the reset is there" test -s $GUARD
sed 's/^/  guard: /' $GUARD 2>/dev/null | head -20
RECS=$(karg lab.crash-records); RECS=${RECS:-0}
echo "  records counted on the local leg right before the reset: $RECS"
check "crash 2: the outage boot counted records before the reset" [ "$RECS" -gt 0 ]

truncate -s 64M /persist/srv/c-lun2.img
tgtd --iscsi portal=127.0.0.1:3260
for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b /persist/srv/c-lun1.img
tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b /persist/srv/c-lun2.img
tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
iscsid
for _ in $(seq 25); do iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ] && break; sleep 0.2; done
LOCAL1=$(losetup -f --show /persist/srv/c-local.img); LOCAL2=MISSING
LAB_SPEED=40000 install_program
D1=$(disk xvda "lun1@$IQN1+lab-disk")

# ---------------------------------------------------------------------------------------------
step "crash 2: the next start is refused; resolve --prefer-local brings every record back"
cfg r1 "$D1" "domu.verify=$RECS domu.tag=crash"
create r1
check "crash 2: xl create is refused with our message" eval "[ $CRC != 0 ] && grep -q 'the local leg of lab-disk holds the only current data' /tmp/r1.out"
grep -o 'block-iscsimple: .*' /tmp/r1.out | head -1 | cut -c1-300 | sed 's/^/  /'
check "crash 2: nothing changed by the refusal" wait_until 30 nothing_left
check "crash 2: block-iscsimple resolve lab-disk --prefer-local" eval "block-iscsimple resolve lab-disk --prefer-local | sed 's/^/  /'"
cfg r2 "$D1" "domu.verify=$RECS domu.tag=crash domu.hold=1"
create r2
check "crash 2: xl create succeeds (built from the local leg)" created "$COUT"
check "crash 2: the domU read the records back" wait_until 90 eval "console r2 | grep -q 'verify n='"
read -r VN VOK <<< "$(console r2 | sed -n 's/.*verify n=\([0-9]*\) ok=\([0-9]*\).*/\1 \2/p' | head -1)"
echo "  verify: $VOK of $VN records in order (the last one may have been in flight at the reset)"
check "crash 2: every record written before the reset is there ($VOK of $RECS)" eval "[ -n '$VOK' ] && [ $VOK -ge $((RECS - 1)) ]"

# ---------------------------------------------------------------------------------------------
step "refusals: tab.conf points a label at a disk in use (the domU above keeps running)"
TAB=/etc/xen/scripts/block-iscsimple-tab.conf
cp $TAB /tmp/tab.orig
refused() { # NAME LABEL DEVICE WORDS: the add is refused (exit 3) with WORDS, and makes no array or session
  local arrays sessions rc
  arrays=$(grep -c '^md' /proc/mdstat); sessions=$(iscsiadm -m session 2>/dev/null | wc -l)
  printf 'lab-disk MISSING\n%s %s\n' "$2" "$3" > $TAB
  block-iscsimple add "lun2@$IQN1+$2" > /tmp/refused.out 2>&1; rc=$?
  echo "  $1: exit $rc: $(cat /tmp/refused.out)"
  check "$1: refused (exit 3) because $4" eval "[ $rc = 3 ] && grep -q -- \"$4\" /tmp/refused.out"
  check "$1: no array, session or state added" eval "[ \$(grep -c '^md' /proc/mdstat) = $arrays ] && [ \$(iscsiadm -m session 2>/dev/null | wc -l) = $sessions ] && [ ! -e /run/block-iscsimple/attach/manual-label-$2.json ]"
  cp /tmp/tab.orig $TAB
}
refused "a1 (the local leg of the running domU's array)" intruder "$LOCAL1" "it is the local leg of lun1@$IQN1+lab-disk"
# the same through xl: a second domU with that disk
printf 'lab-disk MISSING\nintruder %s\n' "$LOCAL1" > $TAB
cfg r9 "$(disk xvda "lun2@$IQN1+intruder")" ""
create r9
check "a1: through xl too: xl create fails with our hotplug-error" eval "[ $CRC != 0 ] && grep -q 'is in use: it is the local leg' /tmp/r9.out"
cp /tmp/tab.orig $TAB
# a mounted filesystem with a file on it
truncate -s 32M /tmp/m.img; LOCALM=$(losetup -f --show /tmp/m.img); mkfs.ext4 -q $LOCALM; mkdir -p /mnt/m; mount $LOCALM /mnt/m
head -c 1048576 /dev/urandom > /mnt/m/data; sync; SUM=$(md5sum < /mnt/m/data)
refused "a2 (a mounted filesystem)" mounted "$LOCALM" "mounted on /mnt/m"
check "a2: the filesystem is still mounted and its file unchanged" eval "mountpoint -q /mnt/m && [ \"\$(md5sum < /mnt/m/data)\" = \"$SUM\" ]"
umount /mnt/m; losetup -d $LOCALM
# an active LVM physical volume with a logical volume on it
truncate -s 32M /tmp/pv.img; LOCALP=$(losetup -f --show /tmp/pv.img)
pvcreate -q $LOCALP >/dev/null 2>&1; vgcreate -q labvg $LOCALP >/dev/null 2>&1; lvcreate -q -y -L 8M -n lv labvg >/dev/null 2>&1
check "a3: an LV is active on the PV" test -b /dev/labvg/lv
printf '%-16s' BI-LVDATA | dd of=/dev/labvg/lv bs=16 count=1 conv=fsync status=none
refused "a3 (an active LVM PV)" pvlabel "$LOCALP" "is held by dm-"
check "a3: the LV's data is unchanged" eval "[ \"\$(head -c 16 /dev/labvg/lv | tr -d ' ')\" = BI-LVDATA ]"
vgchange -q -an labvg >/dev/null 2>&1; losetup -d $LOCALP

# ---------------------------------------------------------------------------------------------
step "crash 2: the iSCSI leg catches up; every record is still there"
block-iscsimple heal lab-disk --wait > /tmp/r2-heal 2>&1; HRC=$?
tail -3 /tmp/r2-heal | sed 's/^/  /'
check "crash 2: heal --wait rebuilt the iSCSI leg from the local one; the guard is cleared" eval "[ $HRC = 0 ] && in_sync && [ ! -e $GUARD ]"
xl destroy r2
check "crash 2: nothing left after the domU ends" wait_until 30 nothing_left
check "crash 2: both legs are byte-identical" cmp /persist/srv/c-lun1.img /persist/srv/c-local.img
cfg r3 "$D1" "domu.verify=$RECS domu.tag=crash"
create r3
check "crash 2: a last domU reads every record back after the refusals ($RECS)" eval "[ $CRC = 0 ] && wait_until 90 gone r3 && console r3 | grep -q 'verify n=$RECS ok=\\($RECS\\|$((RECS - 1))\\)'"
check "crash 2: nothing left" wait_until 30 nothing_left

echo "LAB-NUMBERS crash-dom0-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY crash: $FAILED failed"
[ "$FAILED" = 0 ]
