#!/bin/bash
# The lab's Xen scenarios, in dom0 (Xen 4.17, PV dom0). Started by lab-init; prints PASS/FAIL lines
# and LAB-NUMBERS; exits non-zero on any failure.
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
. /lab/test/e2e/guest/xen-common.sh
start_xen
start_target
install_program
HOTLOG=/var/log/xen/xen-hotplug.log

# ---------------------------------------------------------------------------------------------
step "scenario 1: xl create with three disks (two mirrored LUNs of vm1, a plain LUN of vm2)"
D1=$(disk xvda "lun1@$IQN1+lab-disk"); D2=$(disk xvdb "lun2@$IQN1+lab-data"); D3=$(disk xvdc "lun3@$IQN2")
echo "disk = [ $D1, $D2, $D3 ]"
cfg s1 "$D1, $D2, $D3" "domu.write=S1"
: > $HOTLOG
create s1; S1_CREATE=$CREATE_S
check "s1: xl create succeeded" [ "$CRC" = 0 ]
grep -h 'timing: total' $HOTLOG | sed 's/^/  /'
S1_TIMINGS=$(grep 'add backend.*timing: total' $HOTLOG | sed 's/.*timing: //' | tr '\n' ';')
check "s1: the domU powered off" wait_until 120 gone s1
console s1 | sed 's/^/  /'
for n in xvda xvdb xvdc; do check "s1: the domU wrote and read back BI-S1-$n" in_console s1 "wrote $n first='BI-S1-$n"; done
check "s1: remove ran for every disk, nothing left (no array, session, state)" wait_until 30 nothing_left
for f in vm1-lun1:xvda local1:xvda vm1-lun2:xvdb local2:xvdb vm2-lun3:xvdc; do
  file=$SRV/${f%%:*}.img; n=${f##*:}
  check "s1: $(basename $file) holds BI-S1-$n at the start and the end" eval "pattern_at $file S1-$n 0 && pattern_at $file S1-$n 64512"
done
check "s1: md arrays were built with the iSCSI leg write-mostly" grep -q 'write-mostly' $HOTLOG

# ---------------------------------------------------------------------------------------------
step "scenario 2: the other host changes the LUN; the domU reads the new data while md resyncs"
printf '%-16s' BI-S2NEW-xvda > /tmp/blk; for _ in $(seq 6); do cat /tmp/blk /tmp/blk > /tmp/b2; mv /tmp/b2 /tmp/blk; done
dd if=/tmp/blk of=$SRV/vm1-lun1.img bs=1024 seek=0 conv=notrunc status=none
dd if=/tmp/blk of=$SRV/vm1-lun1.img bs=1024 seek=64512 conv=notrunc status=none
sync
cfg s2 "$D1" "domu.read=1"
create s2
check "s2: xl create succeeded" [ "$CRC" = 0 ]
MDSTAT=$(cat /proc/mdstat); echo "$MDSTAT" | sed 's/^/  /'
check "s2: md was still rebuilding the local leg while the domU ran" eval "echo \"\$MDSTAT\" | grep -q recovery"
check "s2: domU gone" wait_until 120 gone s2
console s2 | sed 's/^/  /'
check "s2: the domU read the new data at the start (local leg rebuilt from iSCSI)" in_console s2 "read xvda first='BI-S2NEW-xvda"
check "s2: the domU read the new data at the end (not yet rebuilt: from the iSCSI leg)" in_console s2 "last='BI-S2NEW-xvda"
check "s2: nothing left" wait_until 30 nothing_left
check "s2: the local leg was rebuilt from iSCSI at its start" pattern_at $SRV/local1.img S2NEW-xvda 0

# ---------------------------------------------------------------------------------------------
step "scenario 3: xl block-attach / block-detach on a running domU"
cfg s3 "$D1" "domu.hold=1"
create s3
check "s3: xl create succeeded" [ "$CRC" = 0 ]
t0=$(now); xl block-attach s3 "vdev=xvdb,access=w,script=block-iscsimple,target=lun2@$IQN1+lab-data" > /tmp/s3-attach.out 2>&1; ARC=$?
echo "block-attach rc=$ARC in $(dt "$t0" "$(now)")s"
check "s3: block-attach succeeded" [ "$ARC" = 0 ]
check "s3: the domU sees the new disk" wait_until 20 in_console s3 "new disk /dev/xvdb"
DOMID=$(xl domid s3)
for dev in 51712 51728; do
  be=/local/domain/0/backend/vbd/$DOMID/$dev
  pd=$(xenstore-read $be/physical-device 2>/dev/null); pp=$(xenstore-read $be/physical-device-path 2>/dev/null)
  check "s3: vbd $dev physical-device $pd is the hex major:minor of $pp" [ -n "$pd" ] && [ "$pd" = "$(stat -L -c %t:%T "$pp")" ]
done
t0=$(now); xl block-detach s3 xvdb > /tmp/s3-detach.out 2>&1; DRC=$?
echo "block-detach rc=$DRC in $(dt "$t0" "$(now)")s"
check "s3: block-detach succeeded" [ "$DRC" = 0 ]
one_array() { [ "$(grep -c '^md' /proc/mdstat)" = 1 ]; }
check "s3: the detached disk's array is stopped, the other one runs" wait_until 20 one_array
logged_in() { iscsiadm -m session 2>/dev/null | grep -qw "$1"; }
check "s3: still logged in to $IQN1 (lab-disk uses it)" logged_in "$IQN1"
ISCSI_LEG=$(block-iscsimple status --json | grep -o '"iscsiDevice": "[^"]*"' | head -1 | cut -d'"' -f4)
check "s3: the remaining disk's iSCSI leg ($ISCSI_LEG) still reads" dd if="$ISCSI_LEG" of=/dev/null bs=4096 count=16 iflag=direct status=none
check "s3: no md leg is faulty" eval "! grep -q '(F)' /proc/mdstat"
block-iscsimple status | sed 's/^/  /'
xl destroy s3
check "s3: nothing left after destroy" wait_until 30 nothing_left

# ---------------------------------------------------------------------------------------------
step "scenario 4: a bad label in the disk line"
cfg s4 "$(disk xvda "lun1@$IQN1+no-such-label")" ""
create s4
sed 's/^/  /' /tmp/s4.out | tail -5
check "s4: xl create failed" [ "$CRC" != 0 ]
check "s4: xl's output carries our hotplug-error" grep -q "label 'no-such-label' is not defined in /etc/xen/scripts/block-iscsimple-tab.conf" /tmp/s4.out
check "s4: nothing left" wait_until 30 nothing_left

# ---------------------------------------------------------------------------------------------
step "scenario 5: a portal that does not answer"
# a listener that accepts connections and never answers the iSCSI login
( while true; do busybox nc -l -p 3270 >/dev/null 2>&1 < /dev/null; done ) & NCLOOP=$!
iscsiadm -m node -o new -T $IQNDEAD -p 127.0.0.1:3270 >/dev/null
cfg s5 "$(disk xvda "lun1@$IQNDEAD")" ""
create s5
sed 's/^/  /' /tmp/s5.out | tail -4
check "s5: xl create failed" [ "$CRC" != 0 ]
check "s5: it failed inside the deadline, before libxl's 40 s (took ${CREATE_S}s)" awk -v t="$CREATE_S" 'BEGIN{exit !(t < 40)}'
check "s5: the error names the login" grep -q "log in to $IQNDEAD failed" /tmp/s5.out
check "s5: nothing left" wait_until 30 nothing_left
kill $NCLOOP 2>/dev/null; pkill -f "nc -l -p 3270"
iscsiadm -m node -o delete -T $IQNDEAD >/dev/null 2>&1

step "the program's log"
sed 's/^/  /' $HOTLOG | tail -40
echo
echo "LAB-NUMBERS scenario1-xl-create-s=$S1_CREATE"
echo "LAB-NUMBERS scenario1-adds=$S1_TIMINGS"
echo "LAB-NUMBERS dom0-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY xen: $FAILED failed"
[ "$FAILED" = 0 ]
