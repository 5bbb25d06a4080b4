# Shared by the lab's guest scripts: results, timing, the iSCSI target (tgtd) and the initiator.
now() { cut -d' ' -f1 /proc/uptime; }
step() { echo; echo "=== [$(now)s] $*"; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
karg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
FAILED=0
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; FAILED=$((FAILED + 1)); }
# check NAME COMMAND...: PASS when the command succeeds, else FAIL with its output as the reason
check() {
  local name=$1; shift
  local out; if out=$("$@" 2>&1); then pass "$name"; else fail "$name -- ${out:-exit $?}" ; fi
}

IQN1=iqn.2026-11.test.lab:vm1
IQN2=iqn.2026-11.test.lab:vm2
IQNDEAD=iqn.2026-11.test.lab:dead
SRV=/srv

# tgtd on 127.0.0.1:3260: target vm1 with LUNs 1 and 2, target vm2 with LUN 3 (64 MiB files).
start_target() {
  modprobe -a loop md_mod raid1 iscsi_tcp sd_mod
  mkdir -p $SRV
  for f in vm1-lun1 vm1-lun2 vm2-lun3 local1 local2; do truncate -s 64M $SRV/$f.img; done
  tgtd --iscsi portal=127.0.0.1:3260
  for _ in $(seq 50); do tgtadm --lld iscsi --op show --mode sys >/dev/null 2>&1 && break; sleep 0.2; done
  tgtadm --lld iscsi --op new --mode target --tid 1 -T $IQN1
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 1 -b $SRV/vm1-lun1.img
  tgtadm --lld iscsi --op new --mode logicalunit --tid 1 --lun 2 -b $SRV/vm1-lun2.img
  tgtadm --lld iscsi --op new --mode target --tid 2 -T $IQN2
  tgtadm --lld iscsi --op new --mode logicalunit --tid 2 --lun 3 -b $SRV/vm2-lun3.img
  for t in 1 2; do tgtadm --lld iscsi --op bind --mode target --tid $t -I ALL; done
  iscsid
  for _ in $(seq 25); do iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ] && break; sleep 0.2; done
  LOCAL1=$(losetup -f --show $SRV/local1.img)
  LOCAL2=$(losetup -f --show $SRV/local2.img)
  echo "tgtd up; local legs $LOCAL1 $LOCAL2"
}

# The program, installed as on a real host, with the lab's configuration.
install_program() {
  if [ -n "$(ls /lab/build/block-iscsimple_*_amd64.deb 2>/dev/null)" ] && [ "$(karg lab.deb)" = 1 ]; then
    dpkg -i /lab/build/block-iscsimple_*_amd64.deb
    check "the Debian package is installed with dpkg; /etc/xen/scripts/block-iscsimple is its program" \
      eval "dpkg -s block-iscsimple | grep -q 'Status: install ok installed' && [ \$(readlink -f /etc/xen/scripts/block-iscsimple) = /usr/libexec/block-iscsimple/block-iscsimple ]"
  else
    mkdir -p /etc/xen/scripts
    install -m 0755 /lab/build/block-iscsimple /etc/xen/scripts/block-iscsimple
  fi
  cat > /etc/xen/scripts/block-iscsimple.conf <<CONF
[iscsi]
portals = ${LAB_PORTAL:-127.0.0.1}
login-timeout = 3
login-retries = 1
[md]
sync-speed-max = ${LAB_SPEED:-2000}
CONF
  printf 'lab-disk %s\nlab-data %s\n' "$LOCAL1" "$LOCAL2" > /etc/xen/scripts/block-iscsimple-tab.conf
  export PATH=/etc/xen/scripts:$PATH
}

# "BI-TOKEN-NAME" 1 KiB blocks: the domU's pattern; is it at the start (and end) of FILE?
pattern_at() { # FILE TOKEN-NAME KIB_OFFSET
  [ "$(dd if="$1" bs=1024 skip="$3" count=1 status=none | head -c 16 | tr -d ' ')" = "BI-$2" ]
}
no_arrays() { ! grep -q '^md' /proc/mdstat; }
no_sessions() { iscsiadm -m session >/dev/null 2>&1; [ $? = 21 ]; }
no_state() { [ -z "$(ls /run/block-iscsimple/attach 2>/dev/null)" ]; }
nothing_left() { no_arrays && no_sessions && no_state; }
wait_until() { # SECONDS COMMAND...
  local n=$(( $1 * 5 )); shift
  while ! "$@" 2>/dev/null; do n=$((n - 1)); [ $n -gt 0 ] || return 1; sleep 0.2; done
}
