#!/usr/bin/env bash
# etc/run.sh — what `make run` starts: the daemon on etc/authgate.conf, in
# the foreground (Ctrl-C drains and stops it).
set -eu
authgate=$1
cd "$(dirname "$0")/.."
mkdir -p var/spool
exec "$authgate" serve -c etc/authgate.conf
