#!/usr/bin/env bash
# Integration: tests/integration/daemon.sh again with spool.sync = syncfs
# (anonymous files, group commit by syncfs): every verdict path, the spool
# content byte for byte, quarantine, drain.
TAP_PREFIX="syncfs: " SPOOL_SYNC=syncfs exec "$(dirname "$0")/daemon.sh" "$@"
