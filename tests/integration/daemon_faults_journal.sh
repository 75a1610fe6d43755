#!/usr/bin/env bash
# Integration: tests/integration/daemon_faults.sh again with spool.sync =
# journal: a full spool, smtp-source load, and kill -9 under load, after
# which the next start publishes every acknowledged message from the
# journal (complete in new/, nothing partial there, nothing left in tmp/).
TAP_PREFIX="journal: " SPOOL_SYNC=journal exec "$(dirname "$0")/daemon_faults.sh" "$@"
