#!/usr/bin/env bash
# Integration: tests/integration/daemon_faults.sh again with spool.sync =
# syncfs: a full spool, smtp-source load, and kill -9 under load (every 250
# complete in new/, nothing partial there, nothing left in tmp/).
TAP_PREFIX="syncfs: " SPOOL_SYNC=syncfs exec "$(dirname "$0")/daemon_faults.sh" "$@"
