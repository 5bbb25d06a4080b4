#!/bin/sh
# make install's last step: when the install went into this host (DESTDIR empty or /), enable and
# start the monitor where systemd runs; else say how. ACTION is enable or disable (make uninstall).
# SYSTEMCTL and SYSTEMD_RUNTIME name systemctl and systemd's runtime folder (the package test's
# stand-ins; on a host, the defaults).
set -eu
action=$1 destdir=${2:-}
systemctl=${SYSTEMCTL:-systemctl}
if [ -n "$destdir" ] && [ "$(realpath -m "$destdir")" != / ]; then
  [ "$action" = enable ] && echo "make install: into $destdir: enable the monitor there with: systemctl enable --now block-iscsimple-monitor"
  exit 0
fi
if [ -d "${SYSTEMD_RUNTIME:-/run/systemd/system}" ] && command -v "$systemctl" >/dev/null; then
  "$systemctl" daemon-reload
  # restart: a monitor that runs already would go on with the old program
  if [ "$action" = enable ]; then "$systemctl" enable block-iscsimple-monitor.service && "$systemctl" restart block-iscsimple-monitor.service
  else "$systemctl" disable --now block-iscsimple-monitor.service || true; fi
elif [ "$action" = enable ]; then
  echo "make install: no systemd here: run 'block-iscsimple monitor' from your init system"
fi
