#!/bin/bash
# Run on hostb through lab-ssh: exit 0 when block-iscsimple left nothing there (no array, session or
# state); else says what is left.
. /lab/test/e2e/guest/common.sh
no_arrays || { echo "arrays:"; grep '^md' /proc/mdstat; }
no_sessions || { echo "sessions:"; iscsiadm -m session 2>&1; }
no_state || { echo "state:"; ls /run/block-iscsimple/attach; }
nothing_left
