#!/bin/bash
# `make test`'s last level: the real lab in qemu. Under CI=true it is mandatory: if it cannot run,
# the test command fails, saying why. Elsewhere, without root or apt (or with LAB=0), it says
# clearly that it skipped the lab and why, and lets the other levels' result stand.
# --prefetch: only start building the lab's image in the background (when the lab is to run).
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
why=""
[ "$(id -u)" = 0 ] || why="not root (the lab needs debootstrap, chroot and mknod)"
command -v apt-get >/dev/null || why="${why:+$why; }no apt-get (the lab builds a Debian guest from apt)"
# (a prefetch that cannot or need not run does nothing: the lab's own call says why)
[ "${1:-}" = --prefetch ] && { [ -n "$why" ] || [ "${LAB:-1}" = 0 ]; } && exit 0
if [ "${CI:-}" = true ]; then
  if [ -n "$why" ]; then echo "LAB FAILED: the lab is mandatory in CI and cannot run: $why" >&2; exit 1; fi
elif [ "${LAB:-1}" = 0 ]; then
  echo "LAB SKIPPED: LAB=0"; exit 0
elif [ -n "$why" ]; then
  echo "LAB SKIPPED: $why. Run 'make lab' as root on Debian for the real-kernel tests."; exit 0
fi
if [ "${1:-}" = --prefetch ]; then
  # the lab's guest image is built (or found) in the background while the other levels of `make
  # test` run (its host tools first, in the foreground: the host's apt is not for two at once);
  # the lab waits for it (build-image.sh's lock), and says why when it failed
  # (a failure here is said again, and judged, by the lab's own run)
  "$HERE/build-image.sh" --host-tools || exit 0
  mkdir -p "$HERE/../../build/lab"
  setsid "$HERE/build-image.sh" > "$HERE/../../build/lab/image-prefetch.log" 2>&1 < /dev/null &
  echo "lab: building the guest image in the background (build/lab/image-prefetch.log)"
  exit 0
fi
"$HERE/run.sh"
