#!/bin/bash
# The lab's scenarios on a plain kernel (no Xen): manual mode, first without udev (no
# /dev/disk links, md names drift), then with udev. Prints PASS/FAIL; exits non-zero on failure.
set -u
. /lab/test/e2e/guest/common.sh
T_START=$(now)
start_target
install_program
SPEC="lun1@$IQN1+lab-disk"

manual_round() { # TAG: add, write through the array, status, remove; checks each
  local tag=$1 dev real
  dev=$(block-iscsimple add "$SPEC" 2>/tmp/add.err); local rc=$?
  check "$tag: add $SPEC exit 0" [ $rc = 0 ]
  real=$(readlink -f "$dev")
  echo "  add printed '$dev' ($real, $(stat -L -c %t:%T "$dev" 2>/dev/null))"
  check "$tag: add printed a block device" [ -b "$dev" ]
  block-iscsimple status > /tmp/status.out; sed 's/^/  /' /tmp/status.out
  check "$tag: status shows the array with its two legs" eval "grep -q 'iscsi .*write_mostly' /tmp/status.out && grep -q '  local ' /tmp/status.out"
  printf '%-16s' "BI-$tag" | dd of="$dev" bs=16 count=1 conv=fsync status=none
  check "$tag: status --json is JSON" eval "block-iscsimple status --json | grep -q '\"attachments\"'"
  check "$tag: remove $SPEC exit 0" block-iscsimple remove "$SPEC"
  check "$tag: the write reached the iSCSI leg" eval "[ \"\$(head -c 16 $SRV/vm1-lun1.img | tr -d ' ')\" = BI-$tag ]"
  check "$tag: nothing of ours left" eval "no_sessions && no_state && ! grep -q \"$(basename "$real") \" /proc/mdstat"
  ADD_DEVS="$ADD_DEVS $real"
}

step "scenario 7: no udev: devices from sysfs, md names drift (run twice)"
check "no udev is running" eval "! pgrep -x systemd-udevd"
ADD_DEVS=""
manual_round noudev1
# someone else's array takes md127 now: our next array gets another name, found by its members
truncate -s 16M $SRV/other.img; OTHER=$(losetup -f --show $SRV/other.img)
mdadm --build /dev/md/other --level=1 --raid-devices=2 "$OTHER" missing 2>/dev/null
echo "  another array: $(readlink -f /dev/md/other)"
manual_round noudev2
mdadm --stop /dev/md/other >/dev/null 2>&1; losetup -d "$OTHER"
set -- $ADD_DEVS
check "md names drifted ($1 then $2) and each add used its real device" [ "$1" != "$2" ]
check "no /dev/disk/by-path link of the LUN existed (found through sysfs)" eval "! ls /dev/disk/by-path/*iscsi* >/dev/null 2>&1"
echo "  arrays used: $ADD_DEVS"

step "scenario 6: manual mode with udev"
/lib/systemd/systemd-udevd --daemon; udevadm trigger --action=add >/dev/null 2>&1; udevadm settle -t 30
ADD_DEVS=""
manual_round udev
check "check prints the plan without changing anything" eval "block-iscsimple check '$SPEC' | grep -q 'mdadm --build /dev/md/lab-disk' && nothing_left"
bad=$(block-iscsimple add "lun1@$IQN1+nope" 2>&1); brc=$?
check "a bad label is refused with exit 2 and one line" eval "[ $brc = 2 ] && [ \$(echo \"\$bad\" | wc -l) = 1 ]"
check "nothing left after the refusal" nothing_left

step "discover: what the lab's tgt offers"
block-iscsimple discover 127.0.0.1 --luns > /tmp/discover.out 2>&1; DRC=$?
sed 's/^/  /' /tmp/discover.out
check "discover --luns exit 0" [ $DRC = 0 ]
check "discover lists lun1 and lun2 of vm1 (64 MiB) and lun3 of vm2, with disk lines" eval "grep -qE '^  lun1 +64 MiB' /tmp/discover.out && grep -qE '^  lun2 +64 MiB' /tmp/discover.out && grep -q 'target=lun3@$IQN2' /tmp/discover.out"
check "discover left no session" no_sessions

step "CHAP: a protected target; the right secret works, a wrong one fails clearly"
IQNCHAP=iqn.2026-11.test.lab:chap
truncate -s 64M $SRV/chap-lun1.img
tgtadm --lld iscsi --op new --mode target --tid 3 -T $IQNCHAP
tgtadm --lld iscsi --op new --mode logicalunit --tid 3 --lun 1 -b $SRV/chap-lun1.img
tgtadm --lld iscsi --op bind --mode target --tid 3 -I ALL
tgtadm --lld iscsi --op new --mode account --user labhost --password Lab-Secret-7531
tgtadm --lld iscsi --op bind --mode account --tid 3 --user labhost
CHAPF=/etc/xen/scripts/block-iscsimple-chap.conf
printf '[%s]\nusername = labhost\npassword = Lab-Secret-7531#x;y\n' $IQNCHAP > $CHAPF; chmod 600 $CHAPF
tgtadm --lld iscsi --op delete --mode account --user labhost >/dev/null 2>&1
tgtadm --lld iscsi --op new --mode account --user labhost --password 'Lab-Secret-7531#x;y'
tgtadm --lld iscsi --op bind --mode account --tid 3 --user labhost
# a sampler reads every process's command line and environment (as any local user can) all along
( while [ ! -e /tmp/sampler.stop ]; do cat /proc/[0-9]*/cmdline /proc/[0-9]*/environ 2>/dev/null | tr '\0' '\n' | grep -c 'Lab-Secre[t]-7531' >> /tmp/sampler.hits; done ) & SAMPLER=$!
dev=$(block-iscsimple add "lun1@$IQNCHAP" 2>/tmp/chap.err); crc=$?
check "CHAP: the right secret (with # and ; in it) attaches (got '$dev')" eval "[ $crc = 0 ] && [ -b '$dev' ]"
# (the pattern spells the secret with [t], as the sampler does: this grep runs while the sampler looks)
check "CHAP: the secret is in the node record's file, readable by root only" eval "grep -rqx 'node.session.auth.password = Lab-Secre[t]-7531#x;y' /etc/iscsi/nodes/$IQNCHAP && [ -z \"\$(find /etc/iscsi/nodes/$IQNCHAP -type f -perm /077)\" ]"
check "CHAP: remove" block-iscsimple remove "lun1@$IQNCHAP"
block-iscsimple discover 127.0.0.1 --luns > /tmp/discover-chap.out 2>&1
touch /tmp/sampler.stop; wait $SAMPLER
echo "  open-iscsi's records: $(find /etc/iscsi/nodes/$IQNCHAP -type f | head -3 | tr '\n' ' '); its lock folder: $(ls /run/lock/iscsi 2>&1 | tr '\n' ' ')"
echo "  sampler: $(wc -l < /tmp/sampler.hits) looks at every /proc/*/cmdline and environ during add, remove and discover --luns"
check "CHAP: the secret never appeared in any process's command line or environment" eval "[ \$(wc -l < /tmp/sampler.hits) -gt 5 ] && ! grep -qv '^0\$' /tmp/sampler.hits"
printf '[%s]\nusername = labhost\npassword = Wrong-Secret-000\n' $IQNCHAP > $CHAPF
block-iscsimple add "lun1@$IQNCHAP" > /dev/null 2>/tmp/chap.err; crc=$?
sed 's/^/  /' /tmp/chap.err
check "CHAP: a wrong secret fails with 'authentication failed for TARGET at PORTAL'" eval "[ $crc = 1 ] && grep -q 'authentication failed for $IQNCHAP at 127.0.0.1:3260' /tmp/chap.err"
check "CHAP: nothing left after the failure" nothing_left
check "CHAP: no secret in the logs" eval "! grep -rqE 'Lab-Secret-7531|Wrong-Secret-000' /var/log/ /tmp/chap.err"
chmod 644 $CHAPF
check "CHAP: a readable credentials file is refused" eval "block-iscsimple add lun1@$IQNCHAP 2>&1 | grep -q 'refusing to read secrets'"
rm -f $CHAPF

echo "LAB-NUMBERS plain-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY plain: $FAILED failed"
[ "$FAILED" = 0 ]
