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

echo "LAB-NUMBERS plain-total-s=$(dt "$T_START" "$(now)")"
echo "LAB-SUMMARY plain: $FAILED failed"
[ "$FAILED" = 0 ]
