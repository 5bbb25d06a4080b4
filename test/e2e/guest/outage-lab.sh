#!/bin/bash
# The lab's outage scenarios, in a Xen dom0: a domU writes numbered records while the iSCSI portal
# goes away (tgtd is killed, then started again on the same LUN files), or while the local leg
# fails (a device-mapper device switched to the error target). Prints PASS/FAIL and LAB-NUMBERS.
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
. /lab/test/e2e/guest/xen-common.sh
start_xen
start_target
RT=${LAB_REPLACEMENT:-8}
LAB_SPEED=40000 install_program
sed -i "s/^login-retries = 1/login-retries = 1\nreplacement-timeout = $RT/" /etc/xen/scripts/block-iscsimple.conf
cat /etc/xen/scripts/block-iscsimple.conf | sed 's/^/  conf: /'
HOTLOG=/var/log/xen/xen-hotplug.log
TGTPID=$(pidof tgtd)
D1=$(disk xvda "lun1@$IQN1+lab-disk")

portal_down() { kill -9 $(pidof tgtd); echo "[$(now)s] portal down (tgtd killed)"; }
portal_up() { # [noacl]: the filer answers but refuses logins (no initiator allowed yet)
  tgtd --iscsi portal=127.0.0.1:3260
  for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
  tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $SRV/vm1-lun1.img
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b $SRV/vm1-lun2.img
  [ "${1:-}" = noacl ] || tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
  echo "[$(now)s] portal up again${1:+ (refusing logins)}"
}
# the kernel name (sdX) of lun N of vm1 on its session
iscsi_lun_dev() { ls /sys/class/iscsi_session/session*/device/target*/*:*:*:$1/block/ 2>/dev/null | head -1; }
session_states() { cat /sys/class/iscsi_session/session*/state 2>/dev/null | sort | uniq -c | tr -s ' ' | tr '\n' ' '; }
count_recs() { dd if="$1" bs=512 skip=4096 count=126976 status=none | tr -d '\000' | grep -ac '^REC '; }

# ---------------------------------------------------------------------------------------------
o1() {
step "outage 1: the portal goes away mid-write; the domU goes on; heal copies local -> iSCSI"
cfg o1 "$D1" "domu.rec=stop domu.tag=o1"
create o1
check "o1: xl create succeeded" created "$COUT"
check "o1: the first resync (iSCSI -> local) finishes" wait_until 60 in_sync
check "o1: the sessions' replacement timeout is ours ($RT s, not open-iscsi's 120 s)" eval "[ \"\$(cat /sys/class/iscsi_session/session*/recovery_tmo | sort -u)\" = $RT ]"
check "o1: the domU writes its records" wait_until 120 wrote 20 o1 $SRV/vm1-lun1.img
T_DOWN=$(now); portal_down
failover o1 60 "$T_DOWN" " (after the replacement timeout, $RT s)"
sleep 3
portal_up
T_HEAL=$(now)
block-iscsimple heal lab-disk --wait > /tmp/o1-heal 2>&1; HRC=$?
sed 's/^/  /' /tmp/o1-heal | tail -5
check "o1: heal re-added the iSCSI leg and waited for the resync (local -> iSCSI)" eval "[ $HRC = 0 ] && grep -q 're-added the iSCSI leg' /tmp/o1-heal"
HEAL_S=$(dt "$T_HEAL" "$(now)")
check "o1: both legs in sync" in_sync
# the domU writes until the checks above are done: it ends when told, never in the middle of them
check "o1: the domU ends when told (xl shutdown)" stop_domu o1
console o1 | sed 's/^/  /'
read -r N OK GAP <<< "$(records o1)"
check "o1: every record the domU wrote reads back ($OK of $N)" eval "[ -n '$N' ] && [ '$N' = '$OK' ] && [ '$N' -gt 0 ]"
# the stall is a figure (it grows with the machine's slowness); what must hold is that I/O resumed
# long before open-iscsi's own 120 s: md failed the leg after our replacement timeout
check "o1: the writes resumed after the cut: longest stall ${GAP}s, well under open-iscsi's 120 s" awk -v g="${GAP:-999}" 'BEGIN{exit !(g < 100)}'
check "o1: nothing left after the domU ended" wait_until 30 nothing_left
check "o1: both legs are byte-identical" legs_identical
check "o1: both legs hold all $N records" eval "[ \$(count_recs $SRV/vm1-lun1.img) -ge $N ] && [ \$(count_recs $SRV/local1.img) -ge $N ]"
check "o1: no direction guard left (healed)" eval "[ ! -e /var/lib/block-iscsimple/stale/lab-disk.json ]"
echo "LAB-NUMBERS outage-stall-s=$GAP faulty-after-s=$FAULTY_S heal-resync-s=$HEAL_S records=$N lost=$((N - OK)) lun-mib=64"

}
# ---------------------------------------------------------------------------------------------
o2() {
step "outage 2: the monitor heals by itself"
block-iscsimple monitor > /tmp/monitor.out 2>&1 & MON=$!
cfg o2 "$D1" "domu.rec=stop domu.tag=o2"
create o2
check "o2: xl create succeeded" created "$COUT"
check "o2: the first resync finishes" wait_until 60 in_sync
check "o2: the domU writes its records" wait_until 120 wrote 20 o2 $SRV/vm1-lun1.img
portal_down
check "o2: md marks the iSCSI leg faulty" wait_until 60 leg_faulty
check "o2: the monitor recorded that the local leg is the only current copy" wait_until 20 test -e /var/lib/block-iscsimple/stale/lab-disk.json
portal_up
check "o2: the monitor healed it: both legs in sync again, guard cleared" wait_until 90 eval "in_sync && [ ! -e /var/lib/block-iscsimple/stale/lab-disk.json ]"
check "o2: the domU ends when told (xl shutdown)" stop_domu o2
read -r N OK GAP <<< "$(records o2)"
check "o2: every record reads back ($OK of $N)" [ -n "$N" ] && [ "$N" = "$OK" ]
check "o2: nothing left; both legs byte-identical" eval "wait_until 30 nothing_left && legs_identical"
kill $MON; wait $MON 2>/dev/null
grep -E 'lab-disk' /var/log/xen/xen-hotplug.log | grep -E 'monitor|heal' | sed 's/^.*info: //' | tail -6 | sed 's/^/  /'

}
# ---------------------------------------------------------------------------------------------
o3() {
step "outage 3: the domU stops before healing; the next start is refused; --prefer-local brings it up"
cfg o3 "$D1" "domu.rec=stop domu.tag=o3"
create o3
check "o3: xl create succeeded" created "$COUT"
check "o3: the first resync finishes" wait_until 60 in_sync
check "o3: the domU writes its records" wait_until 120 wrote 20 o3 $SRV/vm1-lun1.img
portal_down
check "o3: md marks the iSCSI leg faulty" wait_until 60 leg_faulty
check "o3: the domU ends during the outage, on the local leg (xl shutdown)" stop_domu o3
read -r N3 OK3 GAP3 <<< "$(records o3)"
check "o3: the array was stopped; the guard recorded why" wait_until 30 eval "nothing_left && grep -q 'stopped while its iSCSI leg was faulty' /var/lib/block-iscsimple/stale/lab-disk.json"
portal_up
# o3b reads the records back and stays up until told: the checks below never race its end
cfg o3b "$D1" "domu.verify=${N3:-0} domu.tag=o3 domu.hold=1"
create o3b
check "o3: the next xl create is refused with our message" eval "[ $CRC != 0 ] && grep -q 'the local leg of lab-disk holds the only current data' /tmp/o3b.out"
grep -o 'block-iscsimple: .*' /tmp/o3b.out | head -1 | sed 's/^/  /'
check "o3: nothing changed by the refusal" wait_until 30 nothing_left
sed -i 's/^\[md\]/[md]\non-stale-iscsi = prefer-local/' /etc/xen/scripts/block-iscsimple.conf
create o3b
check "o3: with on-stale-iscsi = prefer-local, xl create succeeds" created "$COUT"
grep -A3 '^md' /proc/mdstat | sed 's/^/  /'
check "o3: the iSCSI leg catches up (local -> iSCSI), the guard is cleared by heal --wait" eval "block-iscsimple heal lab-disk --wait >/tmp/o3-heal 2>&1 && in_sync && [ ! -e /var/lib/block-iscsimple/stale/lab-disk.json ]"
check "o3: every record written during the outage is there ($N3)" wait_until 120 in_console o3b "verify n=$N3 ok=$N3"
check "o3: the domU ends when told (xl shutdown)" stop_domu o3b
console o3b | sed 's/^/  /' 
check "o3: nothing left; both legs byte-identical" eval "wait_until 30 nothing_left && legs_identical"
sed -i '/^on-stale-iscsi/d' /etc/xen/scripts/block-iscsimple.conf

}
# ---------------------------------------------------------------------------------------------
o4() {
step "outage 4: the local leg fails (device-mapper error target); the domU goes on with iSCSI"
modprobe dm_mod
SECTORS=$(blockdev --getsz $LOCAL1)
dmsetup create lablocal --table "0 $SECTORS linear $LOCAL1 0"
sed -i "s|^lab-disk .*|lab-disk /dev/mapper/lablocal|" /etc/xen/scripts/block-iscsimple-tab.conf
cfg o4 "$D1" "domu.rec=stop domu.tag=o4"
create o4
check "o4: tab.conf now names another disk for lab-disk: xl create is refused until the admin accepts it" \
  eval "[ $CRC != 0 ] && grep -q \"tab.conf now names /dev/mapper/lablocal\" /tmp/o4.out"
check "o4: block-iscsimple accept-local lab-disk" eval "block-iscsimple accept-local lab-disk | sed 's/^/  /'"
create o4
check "o4: xl create succeeded" created "$COUT"
check "o4: the first resync finishes" wait_until 60 in_sync
check "o4: the domU writes its records" wait_until 120 wrote 20 o4 $SRV/vm1-lun1.img
dmsetup suspend lablocal; dmsetup reload lablocal --table "0 $SECTORS error"; dmsetup resume lablocal
echo "[$(now)s] local leg now returns errors"
check "o4: md marks the local leg faulty" wait_until 60 leg_faulty
block-iscsimple status > /tmp/o4-status; sed 's/^/  /' /tmp/o4-status
check "o4: status says the VM runs on the iSCSI leg" grep -q 'local leg faulty; current data: iscsi' /tmp/o4-status
dmsetup suspend lablocal; dmsetup reload lablocal --table "0 $SECTORS linear $LOCAL1 0"; dmsetup resume lablocal
check "o4: heal re-adds the replaced local disk" eval "block-iscsimple heal lab-disk --wait > /tmp/o4-heal 2>&1 && grep -q 're-added the local leg' /tmp/o4-heal && in_sync"
check "o4: the domU ends when told (xl shutdown)" stop_domu o4
read -r N OK GAP <<< "$(records o4)"
check "o4: every record reads back ($OK of $N)" [ -n "$N" ] && [ "$N" = "$OK" ]
check "o4: nothing left" wait_until 30 nothing_left
dmsetup remove lablocal

}
# ---------------------------------------------------------------------------------------------
o5() {
step "outage 5: the filer comes back but refuses logins for a while; iscsid may give up the session; heal gets it back"
sed -i "s|^lab-disk .*|lab-disk $LOCAL1|" /etc/xen/scripts/block-iscsimple-tab.conf
block-iscsimple accept-local lab-disk >/dev/null
cfg o5 "$D1" "domu.rec=stop domu.tag=o5"
create o5
check "o5: xl create succeeded" created "$COUT"
check "o5: the first resync finishes" wait_until 60 in_sync
check "o5: the domU writes its records" wait_until 120 wrote 20 o5 $SRV/vm1-lun1.img
portal_down
check "o5: md marks the iSCSI leg faulty" wait_until 60 leg_faulty
portal_up noacl
sleep 15
ST5=$(session_states); echo "  session states while the filer refuses logins: $ST5"
tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL; echo "[$(now)s] logins allowed again"
block-iscsimple heal lab-disk --wait > /tmp/o5-heal 2>&1; HRC=$?
sed 's/^/  /' /tmp/o5-heal | tail -3
grep 'iscsid gave up' /var/log/xen/xen-hotplug.log | sed 's/^.*info: /  log: /'
check "o5: heal re-added the iSCSI leg once logins were allowed" eval "[ $HRC = 0 ] && grep -q 're-added the iSCSI leg' /tmp/o5-heal && in_sync"
if grep -q 'iscsid gave up on it' /var/log/xen/xen-hotplug.log; then echo "  o5: the session stayed FREE: heal logged out and in again"; else echo "  o5: open-iscsi recovered the session by itself"; fi
check "o5: the domU ends when told (xl shutdown)" stop_domu o5
read -r N OK GAP <<< "$(records o5)"
check "o5: every record reads back ($OK of $N)" [ -n "$N" ] && [ "$N" = "$OK" ]
check "o5: nothing left; both legs byte-identical" eval "wait_until 30 nothing_left && legs_identical"

}
# ---------------------------------------------------------------------------------------------
o6() {
step "outage 6: while the iSCSI leg is down, the filer maps another volume at lun1: heal refuses to copy over it"
sed -i "s|^lab-disk .*|lab-disk $LOCAL1|" /etc/xen/scripts/block-iscsimple-tab.conf
block-iscsimple accept-local lab-disk >/dev/null
cfg o6 "$D1" "domu.rec=stop domu.tag=o6"
create o6
check "o6: xl create succeeded" created "$COUT"
check "o6: the first resync finishes" wait_until 60 in_sync
check "o6: the domU writes its records" wait_until 120 wrote 20 o6 $SRV/vm1-lun1.img
WWID_BEFORE=$(cat /sys/block/$(iscsi_lun_dev 1)/device/wwid 2>/dev/null)
portal_down
check "o6: md marks the iSCSI leg faulty" wait_until 60 leg_faulty
# the filer comes back with another volume (another VM's disk) at lun1: another file, another identity
head -c 4M /dev/urandom > $SRV/other-vm.img; truncate -s 64M $SRV/other-vm.img
OTHER_MD5=$(md5sum < $SRV/other-vm.img)
tgtd --iscsi portal=127.0.0.1:3260
for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $SRV/other-vm.img
# tgt names a LU by its target and number alone: the other volume gets an identity of its own
tgtadm --lld iscsi --op update --mode logicalunit --tid 1 --lun 1 --params scsi_id=0ddba11c0ffee0001,scsi_sn=otheRvm1
tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b $SRV/vm1-lun2.img
tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
echo "[$(now)s] portal up again, another volume at lun1"
check "o6: the session is back" wait_until 120 eval "iscsiadm -m session -P 1 2>/dev/null | grep -q 'iSCSI Session State: LOGGED_IN'"
echo "  lun1's WWID as the kernel read it at attach: $WWID_BEFORE; as it shows now, before heal: $(cat /sys/block/$(iscsi_lun_dev 1)/device/wwid 2>/dev/null)"
block-iscsimple heal lab-disk > /tmp/o6-heal 2>&1; HRC=$?
sed 's/^/  /' /tmp/o6-heal | tail -3
check "o6: heal refuses (exit 3), naming both WWIDs and the label" eval "[ $HRC = 3 ] && grep -q \"label 'lab-disk': refusing to copy the local leg over lun1 of $IQN1\" /tmp/o6-heal && grep -q 'another volume is mapped at that LUN number' /tmp/o6-heal"
check "o6: the other volume's bytes are unchanged (md5)" eval "[ \"\$(md5sum < $SRV/other-vm.img)\" = \"$OTHER_MD5\" ]"
check "o6: the iSCSI leg stays out of the array, the guard stays set" eval "leg_faulty && [ -e /var/lib/block-iscsimple/stale/lab-disk.json ]"
echo "LAB-NUMBERS identity-refused wwid-at-attach=$WWID_BEFORE"
# the filer's mistake is put right: the VM's own volume is back at lun1; heal copies local -> iSCSI
portal_down
portal_up
check "o6: with the right volume back, heal --wait brings the iSCSI leg back in sync" eval "wait_until 120 eval \"iscsiadm -m session -P 1 2>/dev/null | grep -q 'iSCSI Session State: LOGGED_IN'\" && block-iscsimple heal lab-disk --wait > /tmp/o6-heal2 2>&1 && in_sync"
check "o6: the other volume's bytes are still unchanged" eval "[ \"\$(md5sum < $SRV/other-vm.img)\" = \"$OTHER_MD5\" ]"
check "o6: the domU ends when told (xl shutdown)" stop_domu o6
read -r N OK GAP <<< "$(records o6)"
check "o6: every record reads back ($OK of $N)" eval "[ -n '$N' ] && [ '$N' = '$OK' ]"
check "o6: nothing left; both legs byte-identical" eval "wait_until 30 nothing_left && legs_identical"
}

# ---------------------------------------------------------------------------------------------
o7() {
step "outage 7: two CHAP targets on one portal: the second's discovery leaves the first's node record; a new login of the first works"
IQN3=iqn.2026-11.test.lab:chap3; IQN4=iqn.2026-11.test.lab:chap4
for f in chap3 chap4 local3 local4; do truncate -s 64M $SRV/$f.img; done
tgtadm --lld iscsi --op new --mode target --tid 3 -T $IQN3
tgtadm --lld iscsi --op new --mode logicalunit --tid 3 --lun 1 -b $SRV/chap3.img
tgtadm --lld iscsi --op new --mode target --tid 4 -T $IQN4
tgtadm --lld iscsi --op new --mode logicalunit --tid 4 --lun 1 -b $SRV/chap4.img
tgtadm --lld iscsi --op new --mode account --user host3 --password Secret3-chap3x
tgtadm --lld iscsi --op new --mode account --user host4 --password Secret4-chap4x
tgtadm --lld iscsi --op bind --mode account --tid 3 --user host3
tgtadm --lld iscsi --op bind --mode account --tid 4 --user host4
for t in 3 4; do tgtadm --lld iscsi --op bind --mode target --tid $t -I ALL; done
printf '[%s]\nusername = host3\npassword = Secret3-chap3x\n[%s]\nusername = host4\npassword = Secret4-chap4x\n' $IQN3 $IQN4 > /etc/xen/scripts/block-iscsimple-chap.conf
chmod 600 /etc/xen/scripts/block-iscsimple-chap.conf
L3=$(losetup -f --show $SRV/local3.img); L4=$(losetup -f --show $SRV/local4.img)
printf 'chap-a %s\nchap-b %s\n' "$L3" "$L4" >> /etc/xen/scripts/block-iscsimple-tab.conf
iscsiadm -m node -o delete -T $IQN3 >/dev/null 2>&1; iscsiadm -m node -o delete -T $IQN4 >/dev/null 2>&1
check "o7: the first target is attached (discovered: no node record before)" eval "block-iscsimple add lun1@$IQN3+chap-a > /tmp/o7-add3 2>&1"
check "o7: the second target is attached (its own discovery on the same portal)" eval "block-iscsimple add lun1@$IQN4+chap-b > /tmp/o7-add4 2>&1"
check "o7: the first target's node record still holds its CHAP password" eval "grep -rqx 'node.session.auth.password = Secret3-chap3x' /etc/iscsi/nodes/$IQN3"
check "o7: the first mirror's first resync finishes" wait_until 60 eval "block-iscsimple status | grep -A12 chap-a | grep -q 'current data: both'"
# its session goes away (logged out under the array): md fails the leg; heal must log in again, with CHAP
iscsiadm -m node -T $IQN3 --logout > /tmp/o7-logout 2>&1; echo "  logout of $IQN3: $(tr '\n' ' ' < /tmp/o7-logout)"
# nothing writes to that mirror: one write makes md find the leg gone
dd if=/dev/zero of=/dev/md/chap-a bs=4096 count=1 oflag=direct conv=notrunc status=none 2>/dev/null
check "o7: md marks the first mirror's iSCSI leg faulty" wait_until 60 eval "block-iscsimple status | grep -A12 chap-a | grep -qE 'iSCSI leg (faulty|missing)'"
check "o7: heal logs in again (CHAP) and re-adds the iSCSI leg" eval "block-iscsimple heal chap-a --wait > /tmp/o7-heal 2>&1 && grep -q 're-added the iSCSI leg' /tmp/o7-heal"
check "o7: both targets detach; nothing left" eval "block-iscsimple remove lun1@$IQN3+chap-a && block-iscsimple remove lun1@$IQN4+chap-b && wait_until 30 nothing_left"
check "o7: no CHAP secret on any command line the program ran (its log)" eval "! grep -q 'Secret[34]' /var/log/xen/xen-hotplug.log"
sed -i '/^chap-[ab] /d' /etc/xen/scripts/block-iscsimple-tab.conf; rm -f /etc/xen/scripts/block-iscsimple-chap.conf
losetup -d "$L3" "$L4"
}

# the scenarios, in order (LAB_ARGS=lab.only=o4+o5 runs some of them, to look into one; not a comma: qemu cuts -initrd there)
for s in o1 o2 o3 o4 o5 o6 o7; do wanted "$s" && "$s"; done

# ---------------------------------------------------------------------------------------------
step "crash 1: the portal goes away mid-write, md fails the leg, dom0 is hard-reset at once (no sync)"
# the state that must survive the crash lives on a second disk (vdb), written by nobody else:
# the guard (/var/lib/block-iscsimple), the LUN's file and the local leg's file
mkfs.ext4 -q -F /dev/vdb && mkdir -p /persist && mount /dev/vdb /persist && mkdir -p /persist/lib /persist/srv
mount --bind /persist/lib /var/lib/block-iscsimple
kill -9 $(pidof tgtd); sleep 1
truncate -s 64M /persist/srv/c-lun1.img /persist/srv/c-local.img
tgtd --iscsi portal=127.0.0.1:3260
for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b /persist/srv/c-lun1.img
tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
LOCALC=$(losetup -f --show /persist/srv/c-local.img)
sed -i "s|^lab-disk .*|lab-disk $LOCALC|" /etc/xen/scripts/block-iscsimple-tab.conf
# the monitor's own poll is an hour away: only md's event (mdadm --monitor runs us) can write the guard
sed -i 's/^\[md\]/[monitor]\ninterval = 3600\n[md]/' /etc/xen/scripts/block-iscsimple.conf
block-iscsimple monitor > /tmp/monitor-c.out 2>&1 & MON=$!
cfg c1 "$D1" "domu.rec=600 domu.tag=crash"
create c1
check "c1: xl create succeeded" created "$COUT"
check "c1: the first resync (iSCSI -> local) finishes" wait_until 60 in_sync
check "c1: the monitor runs mdadm --monitor (started once the array is recorded)" wait_until 60 eval "pgrep -f 'mdadm --monitor' >/dev/null"
# the reference for the guard's latency, on this machine now: a bare start of the program
t0=$(now); for _ in 1 2 3; do block-iscsimple --version >/dev/null; done; START_S=$(awk -v a="$t0" -v b="$(now)" 'BEGIN{printf "%.2f", (b-a)/3}')
echo "LAB-NUMBERS program-start-s=$START_S (block-iscsimple --version, mean of 3, while the domU writes)"
check "c1: the domU writes its records" wait_until 120 wrote 20 crash /persist/srv/c-lun1.img
GUARD=/var/lib/block-iscsimple/stale/lab-disk.json
kill -9 $(pidof tgtd); T_CUT=$(now); echo "[$T_CUT s] portal down (tgtd killed)"
# md's verdict and the guard, each looked at every 50 ms
n=0; while ! grep -q '(F)' /proc/mdstat && [ $n -lt 1800 ]; do sleep 0.05; n=$((n + 1)); done; T_F=$(now)
n=0; while [ ! -e $GUARD ] && [ $n -lt 600 ]; do sleep 0.05; n=$((n + 1)); done; T_G=$(now)
GUARD_S=$(dt "$T_F" "$T_G")
echo "  md failed the iSCSI leg $(dt "$T_CUT" "$T_F") s after the cut; the guard was on disk $GUARD_S s after md's verdict"
# (a timing is reported, never judged: this machine emulates; see the start-up reference below)
check "c1: md's event wrote the guard (the monitor's poll is an hour away)" eval "[ -e $GUARD ] && grep -q 'md reported Fail' $GUARD"
RECS=$(count_recs /persist/srv/c-local.img)
echo "LAB-NUMBERS guard-after-md-fail-s=$GUARD_S md-fail-after-cut-s=$(dt "$T_CUT" "$T_F") records-before-crash=$RECS"
echo "LAB-CRASH records=$RECS"
echo "LAB-SUMMARY outage: $FAILED failed"
echo "LAB-RESULT rc=$FAILED (dom0 is reset now: sysrq b, no sync)"
echo b > /proc/sysrq-trigger
sleep 60
