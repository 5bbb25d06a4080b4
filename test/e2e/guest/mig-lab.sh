#!/bin/bash
# The two-host lab: live migration. Two Xen dom0s boot at once (run.sh: mig-a and mig-b) on the
# hypervisor with shadow paging (xen-shadow: a PV domU migrates only with it), joined by two qemu
# socket networks: the hosts' own (10.9.0.1 hosta, 10.9.0.2 hostb: migration stream, commands) and
# the storage network (10.9.1.x), which one host can lose alone. hosta is also the filer (tgtd on
# 10.9.1.1:3260, target vm1, LUNs 1 and 2); each host has its own local legs (loop devices). The
# image has no sshd: lab-ssh/lab-rexec (socat) carry xl's migration stream and block-iscsimple's
# prepare. hosta drives every scenario; hostb serves until hosta says it is done.
# A PV domU with two mirrored disks writes numbered, synced, timestamped records all along; the
# records' gaps are the VM's downtimes. Prints PASS/FAIL, LAB-NUMBERS and the figures of each move.
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
. /lab/test/e2e/guest/xen-common.sh
ROLE=$(karg lab.role)
case $ROLE in a) ME=1 PEER=hostb;; b) ME=2 PEER=hosta;; *) echo "lab.role must be a or b"; exit 2;; esac
# a distinct initiator name per host, as on real hosts (the image has one)
echo "InitiatorName=iqn.2026-11.test.lab:host$ROLE" > /etc/iscsi/initiatorname.iscsi
start_xen
check "$ROLE: the hypervisor has shadow paging (xl info virt_caps), which a PV domU's live migration needs" eval "xl info | grep virt_caps | grep -qw shadow"
xl info | grep -E 'xen_version|virt_caps' | sed 's/^/  /'

step "$ROLE: networks (10.9.0.$ME, storage 10.9.1.$ME), the lab's ssh stand-in, local legs, iscsid, block-iscsimple"
modprobe -a virtio_net loop md_mod raid1 iscsi_tcp sd_mod
ifname() { for _ in $(seq 100); do for i in /sys/class/net/*; do [ "$(cat "$i/address" 2>/dev/null)" = "$1" ] && { basename "$i"; return; }; done; sleep 0.2; done; }
IF=$(ifname 52:54:00:09:00:0$ME); SIF=$(ifname 52:54:00:09:01:0$ME)
ip addr add 10.9.0.$ME/24 dev "$IF"; ip link set "$IF" up
ip addr add 10.9.1.$ME/24 dev "$SIF"; ip link set "$SIF" up
printf '10.9.0.1 hosta\n10.9.0.2 hostb\n' >> /etc/hosts
install -m 0755 /lab/test/e2e/guest/lab-ssh /usr/local/bin/lab-ssh
SSH=/usr/local/bin/lab-ssh
# -t: after hosta's side ends its input, wait for the command to finish (socat's 0.5 s would cut it)
socat -t 100000 TCP-LISTEN:8003,reuseaddr,fork EXEC:/lab/test/e2e/guest/lab-rexec &
mkdir -p $SRV
# 32 MiB disks: every move rebuilds the new host's local legs from the LUNs (and c's heal the LUN
# from a local leg), and that copy is most of the time between two moves; the records need 2 MiB
MIB=32
for f in local1 local2; do truncate -s ${MIB}M $SRV/$f.img; done
LOCAL1=$(losetup -f --show $SRV/local1.img); LOCAL2=$(losetup -f --show $SRV/local2.img)
if [ "$ROLE" = a ]; then
  for f in vm1-lun1 vm1-lun2; do truncate -s ${MIB}M $SRV/$f.img; done
  tgtd --iscsi portal=10.9.1.1:3260
  for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
  tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $SRV/vm1-lun1.img
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b $SRV/vm1-lun2.img
  tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
fi
iscsid
for _ in $(seq 25); do iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ] && break; sleep 0.2; done
RT=8
LAB_PORTAL=10.9.1.1 LAB_SPEED=40000 install_program > /tmp/install.out 2>&1 || cat /tmp/install.out
sed -i "s/^login-retries = 1/login-retries = 1\nreplacement-timeout = $RT/" /etc/xen/scripts/block-iscsimple.conf
block-iscsimple monitor > /tmp/monitor.out 2>&1 &
touch /run/lab-ready

if [ "$ROLE" = b ]; then
  step "b: serving hosta (migrations, prepare, checks) until it is done"
  # hosta ends the lab by touching /run/lab-done; the limit only keeps a lost hosta from hanging us
  # (a look every 3 s: what an idle host does costs the other host CPU, they share the machine)
  for _ in $(seq 2400); do [ -e /run/lab-done ] && break; sleep 3; done
  step "b: the program's log"; sed 's/^/  /' /var/log/xen/xen-hotplug.log | tail -60
  step "b: lab-rexec's log"; sed 's/^/  /' /var/log/lab-rexec.log | tail -40
  echo "LAB-SUMMARY mig-b: $FAILED failed"
  [ "$FAILED" = 0 ]; exit
fi

# ------------------------------------------------------------------------------- hosta drives
on_b() { $SSH hostb "$@" < /dev/null; }
rc_b() { on_b rc "$@" | tail -1; }
# a command on hostb succeeds (lab-ssh does not carry the exit status: its rc word does)
b_ok() { [ "$(rc_b "$@")" = rc=0 ]; }
b_nothing_left() { local out; out=$(on_b rc /bin/bash /lab/test/e2e/guest/mig-left.sh); [ "$(echo "$out" | tail -1)" = rc=0 ] || { echo "hostb: $out" | tr '\n' ' '; false; }; }
# a failed check shows hostb's side too
lab_state() {
  echo "hosta: the program's log, last lines:"; tail -n 10 /var/log/xen/xen-hotplug.log 2>/dev/null | cut -c1-300
  echo "hosta: status:"; timeout 30 block-iscsimple status 2>&1 | head -n 16
  echo "hosta: xl list: $(xl list 2>&1 | tail -n +2 | tr '\n' ';')"
  echo "hostb: the program's log, last lines:"; timeout 30 $SSH hostb tail -n 10 /var/log/xen/xen-hotplug.log < /dev/null 2>&1 | cut -c1-300
  echo "hostb: status:"; timeout 30 $SSH hostb /etc/xen/scripts/block-iscsimple status < /dev/null 2>&1 | head -n 16
  echo "hostb: xl list: $(timeout 30 $SSH hostb xl list < /dev/null 2>&1 | tail -n +2 | tr '\n' ';')"
  echo "hostb: lab-rexec's log:"; timeout 30 $SSH hostb tail -n 6 /var/log/lab-rexec.log < /dev/null 2>&1 | cut -c1-300
}
check "a: hostb is up and answers" wait_until 900 eval '[ "$(rc_b test -e /run/lab-ready)" = rc=0 ]'
HOTLOG=/var/log/xen/xen-hotplug.log
LUN1=$SRV/vm1-lun1.img
# a bound on one migration, against a hang only (its output shows in the log as it comes)
MIG_LIMIT=900
# the records on the LUN (hosta is the filer: its file is the LUN): "N OK" = how many, how many in order with m1's tag
RECMAX=$((MIB * 2048 - 4096)) # sectors for records: all after the first 2 MiB (some 3,000 are written, one a sector)
# (dd reads in 1 MiB blocks: 512-byte ones cost a system call each, which is slow under emulation)
lun_records() { dd if=$LUN1 bs=1M skip=$((4096 * 512)) count=$((RECMAX * 512)) iflag=skip_bytes,count_bytes status=none | tr -d '\000' | grep -a '^REC ' > /tmp/recs; awk '$2 == sprintf("%06d", ok) && $4 == "m1" { ok++ } END { print NR, ok + 0 }' /tmp/recs; }
records_in_order() { local n ok; read -r n ok <<< "$(lun_records)"; [ "$n" -gt 0 ] && [ "$n" = "$ok" ] || { echo "$ok of $n records in order"; false; }; }
# how many records m1 wrote so far: they are contiguous from 0, so a search of single sectors
record_count() { local lo=0 hi=$RECMAX mid; while [ $lo -lt $hi ]; do mid=$(( (lo + hi) / 2 )); if wrote $mid m1 $LUN1; then lo=$((mid + 1)); else hi=$mid; fi; done; echo $lo; }
# the VM goes on writing: record N + 10 is there
writes_on() { wrote $(( $1 + 10 )) m1 $LUN1; }
# the longest gap between two consecutive records from record FROM on (the guest's own timestamps)
gap_since() { awk -v from="$1" 'NR > from + 1 { g = $3 - t; if (g > m) m = g } { t = $3 } END { printf "%.1f", m }' /tmp/recs; }
# LABEL's mirror on this host has both legs current (STATUS: the command that prints the status)
label_in_sync() { ${2:-block-iscsimple status} | awk -v l="+$1" 'index($1, l) && $1 ~ /^lun/ { f = 1; next } $1 ~ /^lun/ { f = 0 } f && /current data: both/ { ok = 1 } END { exit !ok }'; }
b_status() { on_b /etc/xen/scripts/block-iscsimple status; }

# 96 MiB (not 128): the memory copy is most of each migration's time under emulation; with 64 the
# kernel does not fit (xc_dom_chk_alloc_pages: segment kernel too large)
DOMU_MEM=96
step "the migrating VM: PV, $DOMU_MEM MiB, two mirrored disks (lun1 + lab-disk, lun2 + lab-data), writing records"
cfg m1 "$(disk xvda "lun1@$IQN1+lab-disk"), $(disk xvdb "lun2@$IQN1+lab-data")" "domu.rec=stop domu.tag=m1"
create m1
# where the cold adds spent their time, line by line (the program's log is gone after the boot)
tail -n +$((CLOG0 + 1)) $HOTLOG 2>/dev/null | grep ' add backend' | sed -E 's/^[0-9-]+T([0-9:.]+)Z block-iscsimple\[[0-9]+\] [a-z]+: add backend\/vbd\/[0-9]+\//  \1 /' | cut -c1-220
check "m1: xl create of the PV domU succeeded" created "$COUT"
if [ "$CRC" != 0 ]; then on_b touch /run/lab-done; echo "LAB-SUMMARY mig-a: $FAILED failed"; exit 1; fi
check "m1: both mirrors are in sync" wait_until 300 eval "label_in_sync lab-disk && label_in_sync lab-data"
check "m1: the domU writes its records" wait_until 300 wrote 20 m1 $LUN1

# ---------------------------------------------------------------------------------------------
step "b. a destination that cannot attach (lab-data unknown there): xl reports our error, m1 goes on here"
TAB=/etc/xen/scripts/block-iscsimple-tab.conf
on_b cp $TAB /tmp/tab.bak; on_b sed -i /^lab-data/d $TAB
N0=$(record_count)
T0=$(now); timeout $MIG_LIMIT block-iscsimple migrate m1 hostb --ssh $SSH 2>&1 | tee /tmp/nodest.out | sed 's/^/  | /'; RC=${PIPESTATUS[0]}; NODEST_S=$(dt "$T0" "$(now)")
sed 's/^/  /' /tmp/nodest.out | tail -8
check "b: block-iscsimple migrate failed (exit $RC, after ${NODEST_S}s)" [ "$RC" != 0 ]
check "b: hostb's xl reports our hotplug-error (lab-data is not in its tab.conf)" eval "on_b cat /var/log/lab-rexec.log | grep -q \"block-iscsimple: .*label 'lab-data' is not defined\""
check "b: m1 runs on hosta again" eval "xl list m1 > /dev/null && [ -z \"\$(xl list m1 | awk 'NR == 2 && \$5 ~ /p/')\" ]"
check "b: nothing left on hostb (arrays, sessions, state)" wait_until 120 b_nothing_left
check "b: m1 goes on writing on hosta, every record in order" eval "wait_until 300 writes_on $N0 && records_in_order"
on_b cp /tmp/tab.bak $TAB

# one migration (FROM runs it); the figures of the move
declare -A FIG
migrate() { # NAME FROM TO HOW(wrapper|xl)
  local t0 out=/tmp/$1.out n0 n1
  : > $HOTLOG; on_b truncate -s 0 $HOTLOG
  n0=$(record_count)
  t0=$(now)
  if [ "$4" = wrapper ]; then
    if [ "$2" = hosta ]; then timeout $MIG_LIMIT block-iscsimple migrate m1 "$3" --ssh $SSH 2>&1 | tee $out | sed 's/^/  | /'; echo "rc=${PIPESTATUS[0]}" >> $out
    else timeout $MIG_LIMIT $SSH hostb rc /etc/xen/scripts/block-iscsimple migrate m1 "$3" --ssh $SSH < /dev/null 2>&1 | tee $out | sed 's/^/  | /'; fi
  else
    if [ "$2" = hosta ]; then timeout $MIG_LIMIT xl migrate -s $SSH m1 "$3" 2>&1 | tee $out | sed 's/^/  | /'; echo "rc=${PIPESTATUS[0]}" >> $out
    else timeout $MIG_LIMIT $SSH hostb rc xl migrate -s $SSH m1 "$3" < /dev/null 2>&1 | tee $out | sed 's/^/  | /'; fi
  fi
  FIG[$1.total]=$(dt "$t0" "$(now)")
  sed 's/^/  /' $out | tail -6
  check "$1: the migration $2 -> $3 succeeded" eval "tail -1 $out | grep -qx rc=0"
  local dest_log src_log
  if [ "$3" = hostb ]; then dest_log=$(on_b cat $HOTLOG); src_log=$(cat $HOTLOG); else dest_log=$(cat $HOTLOG); src_log=$(on_b cat $HOTLOG); fi
  FIG[$1.xl]=$(sed -n 's/.*xl migrate \([0-9.]*\) s.*/\1/p' $out | tail -1); [ -n "${FIG[$1.xl]}" ] || FIG[$1.xl]=${FIG[$1.total]}
  echo "$dest_log" | grep 'add backend.*timing: total' | sed 's/.*: timing/  destination add: timing/'
  echo "$dest_log" | grep 'add backend.*adopted the prepared session' | sed 's/.*info: /  destination: /'
  # the first disk's add, line by line (the time of day, to the millisecond: where the downtime goes)
  echo "$dest_log" | grep ' add backend/vbd/[0-9]*/51712' | sed -E 's/^[0-9-]+T([0-9:.]+)Z [^ ]+ [a-z]+: add backend[^:]*: (.{0,160}).*/  \1 \2/'
  # the destination's adds, split (the longest of the two disks): start-up, login, device, mdadm, xenstore, own
  FIG[$1.add]=$(echo "$dest_log" | sed -n 's/.*add backend.*timing: \(.*\)/\1/p' | awk '
    { tot = 0; out = 0; su = 0; lg = 0; wd = 0; md = 0; xs = 0
      if (match($0, /total [0-9]+/)) tot = substr($0, RSTART + 6, RLENGTH - 6)
      if (match($0, /outside [0-9]+/)) out = substr($0, RSTART + 8, RLENGTH - 8)
      if (match($0, /start-up [0-9]+/)) su = substr($0, RSTART + 9, RLENGTH - 9)
      if (match($0, /iscsiadm [0-9]+/)) lg = substr($0, RSTART + 9, RLENGTH - 9)
      if (match($0, /wait-device [0-9]+/)) wd = substr($0, RSTART + 12, RLENGTH - 12)
      if (match($0, /mdadm [0-9]+/)) md = substr($0, RSTART + 6, RLENGTH - 6)
      if (match($0, /xenstore [0-9]+/)) xs = substr($0, RSTART + 9, RLENGTH - 9)
      if (tot + su > best) { best = tot + su; line = sprintf("add %d ms = start-up %d + login %d + device %d + mdadm %d + xenstore %d + own %d (+ other waits %d); floor (mdadm + xenstore) %d ms, ratio %.2f", tot + su, su, lg, wd, md, xs, tot - out, out - lg - wd - md - xs, md + xs, (md + xs) > 0 ? (tot + su) / (md + xs) : 0) }
    } END { print line }')
  check "$1: the source's removes left nothing there" wait_until 120 eval "$([ "$2" = hosta ] && echo nothing_left || echo b_nothing_left)"
  check "$1: no critical message on the source (its iSCSI legs were current)" eval "! echo \"\$src_log\" | grep -q ' crit: '"
  check "$1: the VM goes on writing on $3, every record in order" eval "wait_until 300 writes_on $n0 && records_in_order"
  n1=$(record_count)
  FIG[$1.gap]=$(gap_since "$n0")
  echo "  $1: $4 $2 -> $3: downtime (longest gap between records) ${FIG[$1.gap]} s, migration ${FIG[$1.total]} s (xl migrate ${FIG[$1.xl]} s); destination ${FIG[$1.add]}"
}
# once in sync, the legs on host TO hold what the LUN holds (up to the records written before the look)
legs_match_lun() { # HOST(hosta|hostb)
  local n sectors a b
  n=$(record_count); sectors=$((4096 + n))
  for pair in "local1.img $LUN1" "local2.img $SRV/vm1-lun2.img"; do
    set -- $pair
    b=$(dd if=$2 bs=1M count=$((sectors * 512)) iflag=count_bytes status=none | md5sum | cut -c1-32)
    if [ "$TO" = hostb ]; then a=$(on_b dd if=/srv/$1 bs=1M count=$((sectors * 512)) iflag=count_bytes status=none | md5sum | cut -c1-32)
    else a=$(dd if=$SRV/$1 bs=1M count=$((sectors * 512)) iflag=count_bytes status=none | md5sum | cut -c1-32); fi
    [ "$a" = "$b" ] || { echo "$1 differs from its LUN in the first $sectors sectors"; return 1; }
  done
}

step "a. migration 1: block-iscsimple migrate hosta -> hostb (the destination is prepared)"
migrate M1 hosta hostb wrapper
check "M1: hostb adopted the prepared sessions" eval "on_b cat $HOTLOG | grep -q 'adopted the prepared session'"
TO=hostb
check "M1: both mirrors on hostb are in sync" wait_until 600 eval "label_in_sync lab-disk b_status && label_in_sync lab-data b_status"
check "M1: hostb's legs hold what the LUNs hold" legs_match_lun

# ---------------------------------------------------------------------------------------------
step "c. the source's iSCSI leg fails (hostb loses the storage network alone): migrate refuses before anything moves"
on_b ip link set "$SIF" down; echo "[$(now)s] hostb's storage network is down"
check "c: md fails lab-disk's iSCSI leg on hostb (the VM writes there)" wait_until 120 b_ok grep -q '(F)' /proc/mdstat
N0=$(record_count)
on_b rc /etc/xen/scripts/block-iscsimple migrate m1 hosta --ssh $SSH > /tmp/refuse.out 2>&1
# (lab-ssh carries stdout only: the message is in hostb's lab-rexec.log)
on_b tail -n 5 /var/log/lab-rexec.log >> /tmp/refuse.out
sed 's/^/  /' /tmp/refuse.out | tail -6
check "c: block-iscsimple migrate exits 3, naming lab-disk and heal" eval "grep -qx rc=3 /tmp/refuse.out && grep -Eq 'not migrating m1: .*lab-disk.*(its iSCSI leg is faulty|its direction guard is set).*heal lab-disk --wait' /tmp/refuse.out"
check "c: m1 still runs on hostb; nothing was done on hosta" eval "b_ok xl list m1 && nothing_left"
on_b ip link set "$SIF" up; echo "[$(now)s] hostb's storage network is back"
check "c: heal --wait on hostb rebuilds the iSCSI leg from the local one" eval "on_b rc /etc/xen/scripts/block-iscsimple heal lab-disk --wait > /tmp/heal.out 2>&1; tail -1 /tmp/heal.out | grep -qx rc=0"
check "c: both mirrors on hostb are in sync again" wait_until 600 eval "label_in_sync lab-disk b_status && label_in_sync lab-data b_status"
check "c: every record is there, in order" eval "wait_until 300 writes_on $N0 && records_in_order"

step "a. migration 2: block-iscsimple migrate hostb -> hosta"
migrate M2 hostb hosta wrapper
TO=hosta
check "M2: both mirrors on hosta are in sync" wait_until 600 eval "label_in_sync lab-disk && label_in_sync lab-data"
check "M2: hosta's legs hold what the LUNs hold" legs_match_lun

step "a. migration 3: plain xl migrate hosta -> hostb (no prepare: the adds log in during the downtime)"
migrate M3 hosta hostb xl
TO=hostb
check "M3: both mirrors on hostb are in sync" wait_until 600 eval "label_in_sync lab-disk b_status && label_in_sync lab-data b_status"
check "M3: hostb's legs hold what the LUNs hold" legs_match_lun

# ---------------------------------------------------------------------------------------------
step "d. a prepared session that no add adopts expires: the monitor logs it out"
: > $HOTLOG
check "d: prepare on hosta (kept 15 s)" eval "block-iscsimple prepare --keep=15 lun1@$IQN1 > /tmp/prepare.out 2>&1"
check "d: hosta holds a session to the target meanwhile" eval "iscsiadm -m session 2>/dev/null | grep -q $IQN1"
check "d: the monitor released it once its time was up: no session, no state" wait_until 300 eval "no_sessions && no_state && grep -q 'released the prepared session of lun1@' $HOTLOG"

# ---------------------------------------------------------------------------------------------
step "the end: m1 stops on hostb; every record is on the LUN, in order; both hosts are clean"
on_b xl shutdown m1
check "end: m1 ended when told" wait_until 300 eval "! b_ok xl domid m1"
check "end: hostb stopped everything (arrays, sessions, state)" wait_until 120 b_nothing_left
read -r NREC OKREC <<< "$(lun_records)"
check "end: every record the domU wrote is on the LUN, in order ($OKREC of $NREC)" eval "[ ${NREC:-0} -gt 100 ] && [ $NREC = $OKREC ]"
check "end: hostb's local legs are byte-identical to the LUNs" eval "[ \"\$(on_b md5sum /srv/local1.img | cut -c1-32)\" = \"\$(md5sum $LUN1 | cut -c1-32)\" ] && [ \"\$(on_b md5sum /srv/local2.img | cut -c1-32)\" = \"\$(md5sum $SRV/vm1-lun2.img | cut -c1-32)\" ]"
check "end: nothing left on hosta" wait_until 60 nothing_left
on_b touch /run/lab-done

step "the figures of each move (under software emulation: compare them with each other, not with hardware)"
for m in M1 M2 M3; do
  how=$([ $m = M3 ] && echo "plain xl migrate" || echo "block-iscsimple migrate")
  echo "  $m ($how): VM downtime ${FIG[$m.gap]} s; migration ${FIG[$m.total]} s, xl migrate ${FIG[$m.xl]} s; destination ${FIG[$m.add]}"
done
echo "LAB-NUMBERS mig-downtime-s=${FIG[M1.gap]},${FIG[M2.gap]},${FIG[M3.gap]} (M1, M2 block-iscsimple migrate; M3 plain xl migrate) xl-migrate-s=${FIG[M1.xl]},${FIG[M2.xl]},${FIG[M3.xl]} records=$NREC failed-dest-migration-s=$NODEST_S"
for m in M1 M2 M3; do echo "LAB-NUMBERS mig-$m-dest-${FIG[$m.add]// /_}"; done
echo "LAB-NUMBERS mig-dom0-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY mig-a: $FAILED failed"
[ "$FAILED" = 0 ]
