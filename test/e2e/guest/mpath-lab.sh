# The lab's two-path scenarios, in a Xen dom0: the filer (tgtd) lives in a network namespace "san"
# with a portal on each of two subnets (10.0.1.1 and 10.0.2.1, one veth pair each), and
# multipathd builds a map over the two sessions. A domU writes numbered records while one path,
# then both, are cut (the dom0 end of a veth is set down). Prints PASS/FAIL and LAB-NUMBERS.
# Sourced by xen-lab.sh (the Xen boot: after its own scenarios, or alone with lab.parts=mpath), so
# that they share one boot; it starts from the state those leave: no domU, array or session.
T_MP=$(now)
MP_FAILED=$FAILED
RT=${LAB_REPLACEMENT:-8}
SRV=/srv/mp
HOTLOG=/var/log/xen/xen-hotplug.log

step "two SAN paths: tgtd in a network namespace, a portal on each subnet; multipathd"
modprobe -a loop md_mod raid1 iscsi_tcp sd_mod veth dm_multipath dm_round_robin
# the Xen scenarios' filer, node records, log and kernel messages go (their files and loop devices
# stay in /srv): a host with no other target, as the checks below expect. tgtd ignores SIGTERM, and
# its control socket is a file that the filer in the namespace needs.
tgtd_alive() { ps -C tgtd -o stat= 2>/dev/null | grep -q '^[^Z]'; } # a zombie holds no socket
if tgtd_alive; then
  pkill -KILL -x tgtd
  check "the Xen scenarios' filer (tgtd) is gone" wait_until 30 eval '! tgtd_alive'
fi
iscsiadm -m node -o delete >/dev/null 2>&1
[ -e $HOTLOG ] && : > $HOTLOG
dmesg -C
mkdir -p $SRV
for f in vm1-lun1 local1; do truncate -s 32M $SRV/$f.img; done
ip netns add san
ip -n san link set lo up
for p in 1 2; do
  ip link add i$p type veth peer name s$p
  ip link set s$p netns san
  ip addr add 10.0.$p.2/24 dev i$p; ip link set i$p up
  ip -n san addr add 10.0.$p.1/24 dev s$p; ip -n san link set s$p up
done
ip netns exec san tgtd
for _ in $(seq 50); do ip netns exec san tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
ip netns exec san tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
ip netns exec san tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $SRV/vm1-lun1.img
ip netns exec san tgtadm --lld iscsi --op bind --mode target --tid 1 -I ALL
pgrep -x iscsid >/dev/null || iscsid
for _ in $(seq 25); do iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ] && break; sleep 0.2; done
LOCAL1=$(losetup -f --show $SRV/local1.img); LOCAL2=MISSING
# the admin's multipath.conf: every iSCSI LUN is multipathed, and (on purpose) queues I/O forever
# when no path is left, which block-iscsimple must turn off for its maps
cat > /etc/multipath.conf <<'CONF'
defaults {
    user_friendly_names yes
    find_multipaths no
    polling_interval 2
    no_path_retry queue
}
blacklist {
    devnode "^(vd|xvd|loop)[a-z0-9]*"
}
CONF
multipathd
for _ in $(seq 50); do multipathd show daemon >/dev/null 2>&1 && break; sleep 0.2; done
check "multipathd answers" multipathd show daemon
for p in 1 2; do check "path $p: the portal 10.0.$p.1 answers from dom0" eval "timeout 5 bash -c '</dev/tcp/10.0.$p.1/3260'"; done

if [ -x /etc/xen/scripts/block-iscsimple ]; then LAB_SPEED=40000 configure_program; else LAB_SPEED=40000 install_program; fi
# lab-disk has another local disk now (the Xen scenarios recorded theirs): the administrator's way
check "accept-local lab-disk: the new disk is accepted as its local leg" block-iscsimple accept-local lab-disk
check "no direction guard is set" eval "[ -z \"\$(ls /var/lib/block-iscsimple/stale 2>/dev/null)\" ]"
sed -i "s/^portals = .*/portals = 10.0.1.1, 10.0.2.1/; s/^login-retries = 1/login-retries = 1\nreplacement-timeout = $RT/" /etc/xen/scripts/block-iscsimple.conf
# lab.mpath-queueing=warn (LAB_ARGS): the control experiment, block-iscsimple leaves the map queueing
[ -n "$(karg lab.mpath-queueing)" ] && printf '[multipath]\nqueueing = %s\n' "$(karg lab.mpath-queueing)" >> /etc/xen/scripts/block-iscsimple.conf
sed 's/^/  conf: /' /etc/xen/scripts/block-iscsimple.conf
D1=$(disk xvda "lun1@$IQN1+lab-disk")

path_down() { ip link set i$1 down; echo "[$(now)s] path $1 cut (i$1 down)"; }
path_up() { ip link set i$1 up; echo "[$(now)s] path $1 back (i$1 up)"; }
active_paths() { multipathd show maps raw format '%n %N' 2>/dev/null | awk '$1 ~ /^mpath/ {print $2}' | head -1; }
two_active() { [ "$(active_paths)" = 2 ]; }
no_maps() { [ -z "$(dmsetup ls --target multipath 2>/dev/null | grep -v 'No devices found')" ]; }
member_is_map() { grep -E '^md' /proc/mdstat | grep -q 'dm-[0-9]*\[[0-9]\](W)'; }

# ---------------------------------------------------------------------------------------------
step "multipath 1: the domU runs from a two-path multipath iSCSI leg; one path is cut mid-write"
cfg m1 "$D1" "domu.rec=stop domu.tag=m1"
create m1
check "m1: xl create succeeded" created "$COUT"
iscsiadm -m session | sed 's/^/  /'
grep -A2 '^md' /proc/mdstat | sed 's/^/  /'
multipathd show maps raw format '%n %w %Q %N %f' | sed 's/^/  map: /'
check "m1: a session on each portal" eval "[ \$(iscsiadm -m session | grep -c '$IQN1') = 2 ]"
check "m1: md's iSCSI member is the multipath map (dm-N, write-mostly), not one path" member_is_map
check "m1: the map has both paths active" wait_until 20 two_active
grep 'lab-disk\|mpath\|multipath' /var/log/xen/xen-hotplug.log | grep -i 'multipath\|queue' | sed 's/^.*info: //' | sed 's/^/  log: /'
check "m1: block-iscsimple turned off the map's queue-forever policy (multipathd: queueing off)" \
  eval "multipathd show maps raw format '%n %Q' | grep -q '^mpath[a-z]* off$' && grep -q 'queueing disabled on it' /var/log/xen/xen-hotplug.log"
block-iscsimple status > /tmp/m1-status; sed 's/^/  /' /tmp/m1-status
check "m1: status shows the map and its two paths" eval "grep -q 'multipath map mpath[a-z]* (WWID ' /tmp/m1-status && [ \$(grep -c '^    path   sd[a-z]* session [0-9]* LOGGED_IN' /tmp/m1-status) = 2 ]"
check "m1: the first resync (iSCSI -> local) finishes" wait_until 60 in_sync
check "m1: the domU writes its records" wait_until 120 wrote 20 m1 $SRV/vm1-lun1.img
T_CUT=$(now); path_down 1
check "m1: multipathd sees one active path left" wait_until 60 eval '[ "$(active_paths)" = 1 ]'
T_ONE=$(now); echo "  multipathd: one path left $(dt "$T_CUT" "$T_ONE") s after the cut"
sleep 8
grep -A2 '^md' /proc/mdstat | sed 's/^/  /'
check "m1: md did not fail the iSCSI leg (the map went on over the other path)" eval "! leg_faulty"
block-iscsimple status > /tmp/m1-status2; grep -E 'path|health' /tmp/m1-status2 | sed 's/^/  /'
check "m1: status shows one path failed" grep -qE '^    path   sd[a-z]* session [0-9]* (FAILED|REOPEN|FREE)' /tmp/m1-status2
path_up 1
check "m1: the path comes back: two active paths again" wait_until 60 two_active
T_BACK=$(now); echo "  both paths active $(dt "$T_CUT" "$T_BACK") s after the cut"
check "m1: the domU ends when told (xl shutdown)" stop_domu m1
console m1 | sed 's/^/  /'
read -r N OK GAP <<< "$(records m1)"
check "m1: every record the domU wrote reads back ($OK of $N)" eval "[ -n '$N' ] && [ '$N' = '$OK' ] && [ '$N' -gt 0 ]"
check "m1: no md failure during the whole run" eval "! grep -q 'lab-disk.*faulty' /var/log/xen/xen-hotplug.log && ! dmesg | grep -q 'md/raid1:md[0-9]*: Disk failure'"
check "m1: nothing left after the domU ended (array, sessions, state, multipath map)" wait_until 30 eval "nothing_left && no_maps"
check "m1: remove flushed the map before logging out" eval "grep -q 'removing the multipath map mpath[a-z]*' /var/log/xen/xen-hotplug.log"
check "m1: both legs are byte-identical" legs_identical
echo "LAB-NUMBERS mpath-one-path-stall-s=$GAP one-path-detected-s=$(dt "$T_CUT" "$T_ONE") records=$N lost=$((N - OK))"

# ---------------------------------------------------------------------------------------------
step "multipath 2: both paths cut mid-write: md fails over to the local leg; heal brings iSCSI back"
cfg m2 "$D1" "domu.rec=stop domu.tag=m2"
create m2
check "m2: xl create succeeded" created "$COUT"
check "m2: the first resync finishes" wait_until 60 in_sync
check "m2: the domU writes its records" wait_until 120 wrote 20 m2 $SRV/vm1-lun1.img
T_DOWN=$(now); path_down 1; path_down 2
failover m2 90 "$T_DOWN" " (the map fails I/O instead of queueing it)"
sleep 3
path_up 1; path_up 2
T_HEAL=$(now)
check "m2: heal --wait re-adds the map and waits for the resync (local -> iSCSI)" \
  eval "wait_until 60 eval 'block-iscsimple heal lab-disk --wait > /tmp/m2-heal 2>&1' && grep -q 're-added the iSCSI leg /dev/mapper/mpath' /tmp/m2-heal"
sed 's/^/  /' /tmp/m2-heal | tail -4
HEAL_S=$(dt "$T_HEAL" "$(now)")
check "m2: both legs in sync" in_sync
check "m2: the domU ends when told (xl shutdown)" stop_domu m2
console m2 | sed 's/^/  /'
read -r N OK GAP <<< "$(records m2)"
check "m2: every record the domU wrote reads back ($OK of $N)" eval "[ -n '$N' ] && [ '$N' = '$OK' ] && [ '$N' -gt 0 ]"
# a figure, not a verdict (it grows with the machine's slowness): I/O resumed well before open-iscsi's 120 s
check "m2: the writes resumed after both paths were cut: longest stall ${GAP}s, well under open-iscsi's 120 s" awk -v g="${GAP:-999}" 'BEGIN{exit !(g < 100)}'
check "m2: nothing left after the domU ended" wait_until 30 eval "nothing_left && no_maps"
check "m2: both legs are byte-identical" legs_identical
echo "LAB-NUMBERS mpath-both-paths-stall-s=$GAP faulty-after-s=$FAULTY_S heal-s=$HEAL_S records=$N lost=$((N - OK))"

echo "LAB-NUMBERS mpath-part-s=$(dt "$T_MP" "$(now)")"
echo "LAB-SUMMARY mpath: $((FAILED - MP_FAILED)) failed"
