# Shared by the lab's guest scripts: results, timing, the iSCSI target (tgtd) and the initiator.
now() { cut -d' ' -f1 /proc/uptime; }
step() { echo; echo "=== [$(now)s] $*"; }
dt() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.1f", b-a}'; }
# wanted NAME: the scenario NAME runs (all of them, unless lab.only=NAME+NAME... on the kernel command line)
wanted() { local only; only=$(karg lab.only); [ -z "$only" ] || [[ "+$only+" == *"+$1+"* ]]; }
karg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p"; }
FAILED=0
# each result with the guest's uptime at its end (where a boot's time goes)
pass() { echo "PASS: $* (at $(now) s)"; }
fail() { echo "FAIL: $* (at $(now) s)"; FAILED=$((FAILED + 1)); }
# check NAME COMMAND...: PASS when the command succeeds, else FAIL with its output as the reason,
# followed by the evidence (EVIDENCE lines, which run.sh prints with the FAIL line)
check() {
  local name=$1; shift
  local out rc
  if out=$("$@" 2>&1); then pass "$name"; return 0; else rc=$?; fi
  fail "$name -- $(printf '%s' "${out:-exit $rc}" | head -c 600 | tr '\n' ' ')"
  evidence "$*"
  return 1
}
# the host's state, for a failed check's evidence: the program's last log lines, status, md, sessions
lab_state() {
  echo "the program's log, last lines:"; tail -n 12 /var/log/xen/xen-hotplug.log 2>/dev/null | cut -c1-400
  if command -v block-iscsimple >/dev/null; then echo "block-iscsimple status:"; timeout 30 block-iscsimple status 2>&1 | head -n 24; fi
  echo "/proc/mdstat:"; grep -A2 '^md' /proc/mdstat 2>/dev/null
  echo "iSCSI sessions:"; iscsiadm -m session 2>&1 | head -n 6
  echo "records and guards: $(ls /run/block-iscsimple/attach /var/lib/block-iscsimple/stale 2>/dev/null | tr '\n' ' ')"
  if command -v xl >/dev/null; then
    echo "xl list:"; xl list 2>&1 | tail -n +2
    local xllog; xllog=$(ls -t /var/log/xen/xl-*.log 2>/dev/null | head -1)
    [ -n "$xllog" ] && { echo "$xllog, last lines:"; tail -n 8 "$xllog"; }
    echo "processes: $(ps -eo pid,stat,etime,args 2>/dev/null | grep -E ' (xl|/etc/xen/scripts/block-iscsimple|block-iscsimple|mdadm|iscsiadm) ' | grep -v grep | cut -c1-120 | tr '\n' ';')"
    echo "backends: $(xenstore-ls -f /local/domain/0/backend/vbd 2>/dev/null | grep -E '/(state|online|hotplug-status) ' | tr '\n' ' ' | cut -c1-600)"
  fi
  echo "kernel, last lines:"; dmesg 2>/dev/null | tail -n 6
}
# evidence TEXT: what a failed check looked at, as EVIDENCE lines: every /tmp file TEXT names (the
# output of the commands it ran), then what lab_state prints (each boot's own: the program's log...)
evidence() {
  local f
  for f in $(printf '%s\n' "$1" | grep -o '/tmp/[A-Za-z0-9._-]*' | sort -u); do
    [ -f "$f" ] || continue
    echo "EVIDENCE $f (last lines):"; tail -n 15 "$f" | sed 's/^/EVIDENCE   /'
  done
  if type lab_state >/dev/null 2>&1; then lab_state 2>&1 | head -n 60 | sed 's/^/EVIDENCE   /'; fi
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
  configure_program
}
# the lab's configuration (again, for a later part of the same boot)
configure_program() {
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
