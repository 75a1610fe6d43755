#!/usr/bin/env bash
# bench/bench_daemon_idle.sh [--quick|--smoke] — memory per idle session:
# start the daemon on a free loopback port, open N idle sessions (10,000;
# 1,000 with --quick, 500 with --smoke: with fewer, the growth can vanish
# into memory the daemon had already touched), report RSS growth per
# session.
# Measured twice in one run: with the shared provided-buffer pool for
# command reads (the default), and with limits.command_buffers = 0 (every
# session keeps a read buffer of its own), the baseline the pool is for.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
. "$top/tests/lib/daemon.sh" # free_port, wait_port
n=10000
case ${1:-} in --quick) n=1000 ;; --smoke) n=500 ;; esac
tmp=$(mktemp -d /tmp/authgate-bench.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT

per_session() { # COMMAND_BUFFERS → bytes per idle session
	local port
	port=$(free_port)
	printf '%s\n' "listen = 127.0.0.1:$port" "spool = $tmp/spool" "xdp.interface = none" "bpf.verdicts = no" "workers = 2" \
		"limits.sessions = 20000" "limits.sessions_per_ip = 20000" \
		"limits.command_buffers = $1" >"$tmp/a.conf"
	"$top/$BUILD/authgate" serve -c "$tmp/a.conf" 2>"$tmp/log" &
	pid=$!
	wait_port "$port" || echo "authgate is not listening on $port after 30 s" >&2
	local out
	out=$(/usr/bin/python3 "$top/bench/idle_sessions.py" "$port" "$pid" "$n")
	echo "command_buffers=$1: $out" >&2
	kill $pid
	wait $pid 2>/dev/null || true
	pid=
	sed -n 's/.*, \([0-9]*\) bytes per session/\1/p' <<<"$out"
}

pooled=$(per_session 1024)
own=$(per_session 0)
echo "{\"bench\":\"daemon_idle\",\"sessions\":$n,\"bytes_per_idle_session\":$pooled,\"bytes_per_idle_session_own_buffers\":$own}"
