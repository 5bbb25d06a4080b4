#!/bin/bash
# make demo, inside the Xen dom0: one domU whose disk is an iscsimple RAID1, shown as a transcript
# (lines "DEMO| ..."; the host prints only those).
set -u
. /lab/test/e2e/guest/common.sh
say() { echo "DEMO| $*"; }
show() { sed 's/^/DEMO|     /'; }
modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback
mkdir -p /var/log/xen/console /var/lib/xen /var/run/xen
echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> /etc/default/xen
/etc/init.d/xen start >/dev/null
/lib/systemd/systemd-udevd --daemon; udevadm trigger --action=add >/dev/null 2>&1; udevadm settle -t 30
start_target >/dev/null
LAB_SPEED=1000 install_program >/dev/null
printf '%-16s' HELLO-FROM-ISCSI | dd of=$SRV/vm1-lun1.img conv=notrunc status=none
DISK="'vdev=xvda,access=w,script=block-iscsimple,target=lun1@$IQN1+lab-disk'"
cat > /tmp/demo.cfg <<CFG
name = "demo"
type = "pv"
kernel = "/boot/vmlinuz-$(uname -r)"
ramdisk = "/var/lib/lab/domu-initrd.gz"
extra = "console=hvc0 loglevel=4 domu.read=1 domu.hold=1"
memory = 128
disk = [ $DISK ]
CFG
say "Xen $(xl info | awk '/xen_version/{print $3}') dom0 up; tgtd serves $IQN1 (LUN 1: 64 MiB) on 127.0.0.1:3260"
say ""
say "== the domU's disk line (/tmp/demo.cfg)"
say "    disk = [ $DISK ]"
say "== /etc/xen/scripts/block-iscsimple-tab.conf"
show < /etc/xen/scripts/block-iscsimple-tab.conf
say ""
say "== xl create /tmp/demo.cfg"
t0=$(now); xl create /tmp/demo.cfg 2>&1 | show; say "   (took $(dt "$t0" "$(now)") s)"
say ""
say "== the commands block-iscsimple ran (from /var/log/xen/xen-hotplug.log)"
grep -E ': (ran |lun|/dev/md|attached|timing)' /var/log/xen/xen-hotplug.log | sed 's/^.*info: add [^:]*: /  /' | show
say ""
say "== xenstore: what the backend got"
DOMID=$(xl domid demo); BE=/local/domain/0/backend/vbd/$DOMID/51712
for k in params physical-device physical-device-path hotplug-status; do say "    $k = $(xenstore-read $BE/$k)"; done
say ""
say "== /proc/mdstat: the iSCSI leg is (W)rite-mostly, the local leg is being rebuilt from it"
show < /proc/mdstat
sleep 6
say ""
say "== what the domU sees (its console)"
grep '^DOMU' /var/log/xen/console/guest-demo.log | show
say ""
say "== block-iscsimple status"
block-iscsimple status | show
say ""
say "== xl destroy demo: libxl runs block-iscsimple remove"
xl destroy demo
wait_until 30 nothing_left
grep -E 'remove .*: (ran |stopping|logging out)' /var/log/xen/xen-hotplug.log | sed 's/^.*info: remove [^:]*: /  /' | show
say ""
say "== afterwards"
say "    /proc/mdstat arrays: $(grep -c '^md' /proc/mdstat); iSCSI sessions: $(iscsiadm -m session 2>/dev/null | wc -l)"
