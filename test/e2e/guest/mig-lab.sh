#!/bin/bash
# The two-host lab: live migration. Two Xen dom0s boot at once (run.sh: mig-a and mig-b), joined by
# a qemu socket network (10.9.0.1 hosta, 10.9.0.2 hostb). hosta is also the filer (tgtd on
# 10.9.0.1:3260, target vm1, LUNs 1 and 2); each host has its own local legs (loop devices). The
# image has no sshd: lab-ssh/lab-rexec (socat) carry xl's migration stream and block-iscsimple's
# prepare. hosta drives every scenario; hostb serves until hosta says it is done.
# A PVH domU (Debian's Xen has no shadow paging: a PV domU cannot live-migrate) with two mirrored
# disks writes numbered, synced, timestamped records all along; the records' gaps are the downtimes.
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
. /lab/test/e2e/guest/xen-common.sh
ROLE=$(karg lab.role)
case $ROLE in a) ME=10.9.0.1 PEER=hostb;; b) ME=10.9.0.2 PEER=hosta;; *) echo "lab.role must be a or b"; exit 2;; esac
start_xen
check "$ROLE: Xen has hardware-assisted paging (hap), which a PVH domU's migration needs" eval "xl info | grep virt_caps | grep -qw hap"

step "$ROLE: network ($ME), the lab's ssh stand-in, local legs, iscsid, block-iscsimple"
modprobe -a virtio_net loop md_mod raid1 iscsi_tcp sd_mod
IF=; for _ in $(seq 100); do IF=$(ls /sys/class/net | grep -v '^lo$' | head -1); [ -n "$IF" ] && break; sleep 0.2; done
ip addr add $ME/24 dev "$IF"; ip link set "$IF" up
printf '10.9.0.1 hosta\n10.9.0.2 hostb\n' >> /etc/hosts
install -m 0755 /lab/test/e2e/guest/lab-ssh /usr/local/bin/lab-ssh
SSH=/usr/local/bin/lab-ssh
# -t: after hosta's side ends its input, wait for the command to finish (socat's 0.5 s would cut it)
socat -t 100000 TCP-LISTEN:8003,reuseaddr,fork EXEC:/lab/test/e2e/guest/lab-rexec &
mkdir -p $SRV
for f in local1 local2; do truncate -s 64M $SRV/$f.img; done
LOCAL1=$(losetup -f --show $SRV/local1.img); LOCAL2=$(losetup -f --show $SRV/local2.img)
if [ "$ROLE" = a ]; then
  for f in vm1-lun1 vm1-lun2; do truncate -s 64M $SRV/$f.img; done
  tgtd --iscsi portal=$ME:3260
  for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
  tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $SRV/vm1-lun1.img
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b $SRV/vm1-lun2.img
  tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
fi
iscsid
for _ in $(seq 25); do iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ] && break; sleep 0.2; done
LAB_PORTAL=10.9.0.1 install_program > /tmp/install.out 2>&1 || cat /tmp/install.out
cat > /etc/xen/scripts/block-iscsimple-tab.conf <<TAB
lab-disk $LOCAL1
lab-data $LOCAL2
TAB
block-iscsimple monitor > /dev/null 2>&1 &
touch /run/lab-ready

if [ "$ROLE" = b ]; then
  step "b: serving hosta (migrations, prepare, checks) until it is done"
  # hosta ends the lab by touching /run/lab-done; the limit only keeps a lost hosta from hanging us
  for _ in $(seq 7200); do [ -e /run/lab-done ] && break; sleep 1; done
  step "b: the program's log"; sed 's/^/  /' /var/log/xen/xen-hotplug.log | tail -60
  step "b: lab-rexec's log"; sed 's/^/  /' /var/log/lab-rexec.log | tail -40
  echo "LAB-SUMMARY mig-b: $FAILED failed"
  [ "$FAILED" = 0 ]; exit
fi

# ------------------------------------------------------------------------------- hosta drives
on_b() { $SSH hostb "$@" < /dev/null; }
rc_b() { on_b rc "$@" | tail -1; }
b_nothing_left() { local out; out=$(on_b rc /bin/bash /lab/test/e2e/guest/mig-left.sh); [ "$(echo "$out" | tail -1)" = rc=0 ] || { echo "hostb: $out" | tr '\n' ' '; false; }; }
check "a: hostb is up and answers" wait_until 900 eval '[ "$(rc_b test -e /run/lab-ready)" = rc=0 ]'
HOTLOG=/var/log/xen/xen-hotplug.log

step "the migrating VM: PVH, 128 MiB, two mirrored disks (lun1 + lab-disk, lun2 + lab-data), writing records"
cat > /tmp/m1.cfg <<CFG
name = "m1"
type = "pvh"
kernel = "/boot/vmlinuz-$KVER"
ramdisk = "/var/lib/lab/domu-initrd.gz"
extra = "console=hvc0 loglevel=4 $([ "$(karg lab.mig-hold)" = 1 ] && echo domu.hold=1 || echo domu.rec=100000 domu.tag=m1)"
memory = 128
vcpus = 1
disk = [ $(disk xvda "lun1@$IQN1+lab-disk"), $(disk xvdb "lun2@$IQN1+lab-data") ]
on_poweroff = "destroy"
on_crash = "destroy"
CFG
create m1
check "m1: xl create of the PVH domU succeeded" [ "$CRC" = 0 ]
if [ "$CRC" != 0 ]; then on_b touch /run/lab-done; echo "LAB-SUMMARY mig-a: $FAILED failed"; exit 1; fi

step "m1: a disk whose iSCSI leg is not current is refused before anything moves"
# LABEL's mirror on this host has both legs current (block-iscsimple status; STATUS: the command that prints it)
label_in_sync() { ${2:-block-iscsimple status} | awk -v l="+$1" 'index($1, l) && $1 ~ /^lun/ { f = 1; next } $1 ~ /^lun/ { f = 0 } f && /current data: both/ { ok = 1 } END { exit !ok }'; }
check "refuse: lab-data's mirror is in sync first (md never fails its last in-sync leg)" wait_until 300 label_in_sync lab-data
console m1 | tail -3 | sed 's/^/  /'
IDEV=$(mdadm --detail /dev/md/lab-data | awk '/writemostly/ {print $NF}')
mdadm /dev/md/lab-data --fail "$IDEV" > /dev/null 2>&1
block-iscsimple migrate m1 hostb --ssh $SSH > /tmp/refuse.out 2>&1; RC=$?
sed 's/^/  /' /tmp/refuse.out
check "refuse: block-iscsimple migrate exits 3 naming lab-data and heal (exit $RC)" eval "[ $RC = 3 ] && grep -Eq 'lab-data.*(its iSCSI leg is faulty|its direction guard is set).*heal lab-data --wait' /tmp/refuse.out"
check "refuse: m1 still runs here" eval "xl list m1 > /dev/null"
check "refuse: nothing was done on hostb (no session)" b_nothing_left
check "refuse: heal --wait rebuilds the iSCSI leg from the local one" eval "block-iscsimple heal lab-data --wait > /tmp/heal.out 2>&1"
check "refuse: after heal, both legs of lab-data are current" label_in_sync lab-data

step "m1: a destination that cannot attach (lab-data unknown there): xl reports our error, m1 stays here"
TAB=/etc/xen/scripts/block-iscsimple-tab.conf
on_b cp $TAB /tmp/tab.bak; on_b sed -i /^lab-data/d $TAB
echo "  hostb's tab.conf now: $(on_b cat $TAB | tr '\n' ';')"
T0=$(now); block-iscsimple migrate m1 hostb --ssh $SSH > /tmp/nodest.out 2>&1; RC=$?; NODEST_S=$(dt "$T0" "$(now)")
sed 's/^/  /' /tmp/nodest.out | tail -12
check "nodest: block-iscsimple migrate failed (exit $RC, after ${NODEST_S}s)" [ "$RC" != 0 ]
check "nodest: hostb's add reported why (lab-data is not in its tab.conf)" eval "on_b cat /var/log/xen/xen-hotplug.log | grep -q 'add backend.*lab-data'"
check "nodest: m1 runs on hosta again" eval "xl list m1 > /dev/null && [ -z \"\$(xl list m1 | awk 'NR == 2 && \$5 ~ /p/')\" ]"
check "nodest: nothing left on hostb (arrays, sessions, state)" wait_until 120 b_nothing_left
on_b cp /tmp/tab.bak $TAB

# one migration: hosta -> hostb (FROM runs it); prints its time; the destination's add timings
migrate() { # NAME FROM TO HOW(wrapper|xl)
  local t0 out=/tmp/$1.out rc
  : > $HOTLOG; on_b truncate -s 0 $HOTLOG
  t0=$(now)
  if [ "$4" = wrapper ]; then
    if [ "$2" = hosta ]; then block-iscsimple migrate m1 "$3" --ssh $SSH > $out 2>&1; echo "rc=$?" >> $out
    else on_b rc /etc/xen/scripts/block-iscsimple migrate m1 "$3" --ssh $SSH > $out 2>&1; fi
  else
    if [ "$2" = hosta ]; then xl migrate -s $SSH m1 "$3" > $out 2>&1; echo "rc=$?" >> $out
    else on_b rc xl migrate -s $SSH m1 "$3" > $out 2>&1; fi
  fi
  MIG_S=$(dt "$t0" "$(now)")
  sed 's/^/  /' $out | tail -8
  echo "  $1: $4 $2 -> $3 in ${MIG_S}s"
  check "$1: the migration $2 -> $3 succeeded" eval "tail -1 $out | grep -qx rc=0"
  if [ "$3" = hostb ]; then DEST_LOG=$(on_b cat $HOTLOG); SRC_LOG=$(cat $HOTLOG); else DEST_LOG=$(cat $HOTLOG); SRC_LOG=$(on_b cat $HOTLOG); fi
  echo "$DEST_LOG" | grep 'add backend.*timing: total' | sed 's/.*: timing/  destination add: timing/'
  ADD_MS=$(echo "$DEST_LOG" | sed -n 's/.*add backend.*timing: total \([0-9]*\) ms.*start-up \([0-9]*\) ms.*/\1 \2/p' | awk '{ t = $1 + $2; if (t > m) m = t } END { print m + 0 }')
  echo "  $1: the destination's longest add, start-up included: ${ADD_MS} ms"
  check "$1: the source's removes left nothing there" wait_until 120 eval "$([ "$2" = hosta ] && echo nothing_left || echo b_nothing_left)"
  check "$1: no critical message on the source (its iSCSI legs were current)" eval "! echo \"\$SRC_LOG\" | grep -q ' crit: '"
  eval "MIG_${1}_S=$MIG_S; ADD_${1}_MS=$ADD_MS"
}

step "migration 1: block-iscsimple migrate hosta -> hostb (the destination is prepared)"
migrate M1 hosta hostb wrapper
check "M1: hostb adopted the prepared sessions" eval "on_b cat $HOTLOG | grep -q 'adopted the prepared session'"
step "migration 2: block-iscsimple migrate hostb -> hosta"
migrate M2 hostb hosta wrapper
step "migration 3: plain xl migrate hosta -> hostb (no prepare: the adds log in during the downtime)"
migrate M3 hosta hostb xl

step "the end: m1 on hostb; its legs in sync, then it stops; every record is on the LUN"
b_in_sync() { [ "$(on_b /etc/xen/scripts/block-iscsimple status | grep -c 'current data: both')" = 2 ]; }
check "end: both mirrors on hostb are in sync" wait_until 900 b_in_sync
on_b xl destroy m1
check "end: hostb stopped everything (arrays, sessions, state)" wait_until 120 b_nothing_left
sync
# the records on the iSCSI LUN (hosta's file): numbered from 0 without a hole, this run's tag
dd if=$SRV/vm1-lun1.img bs=512 skip=4096 count=120000 2>/dev/null | tr -d '\000' | grep -a '^REC ' > /tmp/recs
read -r NREC OKREC <<< "$(awk '$2 == sprintf("%06d", ok) && $4 == "m1" { ok++ } END { print NR, ok + 0 }' /tmp/recs)"
check "end: every record the domU wrote is on the LUN, in order ($OKREC of $NREC)" eval "[ ${NREC:-0} -gt 100 ] && [ $NREC = $OKREC ]"
# the VM's downtimes: the longest gaps between two records (one per migration, in order)
GAPS=$(awk 'NR > 1 { printf "%.1f %d\n", $3 - t, NR } { t = $3 }' /tmp/recs | sort -gr | head -3 | sort -k2 -n | awk '{ printf "%s ", $1 }')
echo "  the three longest gaps between records, in order: $GAPS"
check "end: hostb's local legs are byte-identical to the LUNs" eval "[ \"\$(on_b md5sum /srv/local1.img | cut -c1-32)\" = \"\$(md5sum $SRV/vm1-lun1.img | cut -c1-32)\" ] && [ \"\$(on_b md5sum /srv/local2.img | cut -c1-32)\" = \"\$(md5sum $SRV/vm1-lun2.img | cut -c1-32)\" ]"
check "end: nothing left on hosta" wait_until 60 nothing_left
on_b touch /run/lab-done

step "the program's log (hosta)"
sed 's/^/  /' $HOTLOG | tail -30
echo "LAB-NUMBERS migration-s=$MIG_M1_S,$MIG_M2_S,$MIG_M3_S dest-add-ms=$ADD_M1_MS,$ADD_M2_MS,$ADD_M3_MS (M1, M2 block-iscsimple migrate; M3 plain xl migrate) downtime-gaps-s=$GAPS records=$NREC failed-dest-migration-s=$NODEST_S"
echo "LAB-NUMBERS mig-dom0-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY mig-a: $FAILED failed"
[ "$FAILED" = 0 ]
