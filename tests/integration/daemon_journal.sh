#!/usr/bin/env bash
# Integration: tests/integration/daemon.sh again with spool.sync = journal
# (a 250 once the message's journal record is durable; the publisher puts
# it into new/): every verdict path, the spool content byte for byte,
# quarantine, drain.
TAP_PREFIX="journal: " SPOOL_SYNC=journal exec "$(dirname "$0")/daemon.sh" "$@"
