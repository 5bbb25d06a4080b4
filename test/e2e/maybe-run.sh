#!/bin/bash
# `make test`'s last level: the real lab in qemu. Under CI=true it is mandatory: if it cannot run,
# the test command fails, saying why. Elsewhere, without root or apt (or with LAB=0), it says
# clearly that it skipped the lab and why, and lets the other levels' result stand.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
why=""
[ "$(id -u)" = 0 ] || why="not root (the lab needs debootstrap, chroot and mknod)"
command -v apt-get >/dev/null || why="${why:+$why; }no apt-get (the lab builds a Debian guest from apt)"
if [ "${CI:-}" = true ]; then
  if [ -n "$why" ]; then echo "LAB FAILED: the lab is mandatory in CI and cannot run: $why" >&2; exit 1; fi
elif [ "${LAB:-1}" = 0 ]; then
  echo "LAB SKIPPED: LAB=0"; exit 0
elif [ -n "$why" ]; then
  echo "LAB SKIPPED: $why. Run 'make lab' as root on Debian for the real-kernel tests."; exit 0
fi
"$HERE/run.sh"
