# Shared by the lab's Xen boots (dom0): Xen's daemons, udev, and domU helpers.
KVER=$(uname -r)
start_xen() {
  step "dom0 ready; starting Xen's daemons"
  modprobe -a xenfs xen-evtchn xen-gntdev xen-gntalloc xen-privcmd xen-blkback
  mkdir -p /var/log/xen/console /var/lib/xen /var/run/xen
  echo 'XENCONSOLED_ARGS="--log=guest --log-dir=/var/log/xen/console"' >> /etc/default/xen
  /etc/init.d/xen start >/dev/null
  /lib/systemd/systemd-udevd --daemon; udevadm trigger --action=add >/dev/null 2>&1; udevadm settle -t 30
}
cfg() { # NAME "DISKS" EXTRA
  cat > /tmp/$1.cfg <<CFG
name = "$1"
type = "pv"
kernel = "/boot/vmlinuz-$KVER"
ramdisk = "/var/lib/lab/domu-initrd.gz"
extra = "console=hvc0 loglevel=4 $3"
memory = 128
vcpus = 1
disk = [ $2 ]
on_poweroff = "destroy"
on_crash = "destroy"
CFG
}
disk() { echo "'vdev=$1,access=w,script=block-iscsimple,target=$2'"; }
create() { # NAME -> CRC, CREATE_S; output in /tmp/NAME.out
  local t0; t0=$(now)
  timeout 120 xl create /tmp/$1.cfg > /tmp/$1.out 2>&1; CRC=$?
  CREATE_S=$(dt "$t0" "$(now)")
  echo "xl create $1: rc=$CRC in ${CREATE_S}s"
}
gone() { ! xl domid "$1" >/dev/null 2>&1; }
console() { grep '^DOMU' /var/log/xen/console/guest-$1.log 2>/dev/null; }
in_console() { console "$1" | grep -q -- "$2"; }
