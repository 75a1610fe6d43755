#!/usr/bin/env bash
# bench/bench_daemon.sh [--quick|--smoke] — the daemon end to end on
# loopback: 2 workers, every 250 after the message is durable, 8 KB
# messages DKIM-signed with RSA-2048, SPF and Sender ID from the zone
# overlay. Reports messages/s, latency from end of data to reply
# (p50/p99), CPU per message, and connections/s (connect, greeting, EHLO,
# QUIT) from bench/loadgen — once per spool.sync setting, in one run:
# fsync (per file, the baseline), syncfs (group commit) and journal (a
# write-ahead journal, published into the Maildir behind the 250s), and
# the ratios to fsync. The journal is 16 MB here, smaller than the run's
# messages, so the run cannot end before the publisher has had to keep
# up; its row also says when the last message was in new/ and counts the
# CPU up to then.
# Then latency against load: for each mode, a daemon with the default
# journal size answers LOAD_SESSIONS closed-loop sessions in turn (5, 10,
# 20, 50: the rate each allows, and the p99 at that rate), one JSON line
# "daemon_load" per point. The p99 goal is a question of load: these say
# up to which rate it holds on this machine.
# The journal mode runs twice more, both for the load and the latency
# points: with the client sending the next transaction's MAIL, RCPT and
# DATA in the same send as each message's content (loadgen
# --pipeline-next, RFC 2920 section 3.1), one round trip per message
# instead of two; JSON "pipeline_next": true.
# The baseline of the whole daemon, the Postfix + OpenDKIM milter +
# policyd-spf stack under the same corpus load, is bench/peers/postfix.sh.
#   SPOOL_DIR=DIR  make the spools DIR/spool-fsync and DIR/spool-syncfs (and
#                  remove them after); a tmpfs there takes the filesystem
#                  out of the figures
#   SPOOL_SYNC=M   run only spool.sync = M
#   SESSIONS=N     concurrent sessions (default 50)
#   MESSAGES=N     messages per session (default 100)
#   LOAD_SESSIONS="N ..."  the latency-against-load points ("" for none)
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
. "$top/tests/lib/daemon.sh" # free_port, wait_port
sessions=${SESSIONS:-50} messages=${MESSAGES:-100}
load_sessions=${LOAD_SESSIONS-5 10 20 50} load_messages=4000
case ${1:-} in
--quick) messages=20 load_sessions=${LOAD_SESSIONS-5 20} load_messages=2000 ;;
--smoke) sessions=4 messages=5 load_sessions=${LOAD_SESSIONS-2} load_messages=20 ;;
esac
tmp=$(mktemp -d /tmp/authgate-bench.XXXXXX)
port=$(free_port)
/usr/bin/python3 - "$top/tests/lib" "$tmp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import dkim_fixture as fx
tmp = sys.argv[2]
open(tmp + '/zone', 'w').write(f'example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"\n{fx.KEY_RR}\n')
body = "".join("%04d the quick brown fox jumps over the lazy dog, a reply of eight kilobytes\r\n" % i for i in range(100))
msg = f"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: re: bench\r\n\r\n{body}".encode()
sig = fx.signature(msg)
open(tmp + '/msg.eml', 'wb').write(sig + msg)
PY
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
# The whole machine's CPU time, in ticks: "busy idle". Busy is user, nice,
# system, irq and softirq: the daemon's threads are not all of what a
# message costs (loopback TCP delivers in softirq, kworkers write back),
# and the load generator shares the cores. Idle counts iowait too.
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
# "BUSY_MS_PER_MESSAGE IDLE_PCT" between two machine_ticks, for N messages.
machine_share() {
	awk -v a="$1" -v b="$2" -v n="$3" -v hz="$(getconf CLK_TCK)" 'BEGIN {
		split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]
		printf "%.3f %.1f", busy * 1000 / hz / n, (busy + idle > 0 ? 100 * idle / (busy + idle) : 0) }'
}
# Journal mode: wait until DIR holds N messages; print the JSON fields
# for the time from T0 (ns) until then and the rate that makes.
until_published() {
	local dir=$1 n=$2 t0=$3 i
	for i in $(seq 1200); do
		[ "$(ls -f "$dir" | wc -l)" -ge $((n + 2)) ] && break
		sleep 0.05
	done
	awk -v t=$(( $(date +%s%N) - t0 )) -v n="$n" -v have="$(( $(ls -f "$dir" | wc -l) - 2 ))" 'BEGIN {
		printf "in new/ %d of %d messages after %.2f s = %.0f messages/s into the Maildir\n", have, n, t / 1e9, have / (t / 1e9) > "/dev/stderr"
		printf "\"in_spool_s\":%.3f,\"spooled_per_s\":%.1f,", t / 1e9, have / (t / 1e9) }'
}
pid=
trap '[ -z "$pid" ] || { kill $pid; wait $pid; } 2>/dev/null || true
	rm -rf "$tmp" ${SPOOL_DIR:+"$SPOOL_DIR"/spool-*}' EXIT
# A daemon with spool.sync = $1, spool $2, and any further config lines.
start_daemon() {
	local mode=$1 spool=$2
	shift 2
	printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.bench" "spool = $spool" \
		"spool.sync = $mode" "dns.zone = $tmp/zone" \
		"dns.servers = 127.0.0.1:9" "xdp.interface = none" "bpf.verdicts = no" "workers = 2" \
		"limits.sessions_per_ip = 10000" "limits.message_size = 1M" "$@" >"$tmp/a.conf"
	"$top/$BUILD/authgate" serve -c "$tmp/a.conf" 2>"$tmp/log-$mode" &
	pid=$!
	wait_port "$port" || echo "authgate is not listening on $port after 30 s" >&2
}
# A run's name (its spool, its JSON file): MODE, or MODE-next with
# loadgen --pipeline-next (CLIENT).
run_tag() { if [ "$2" = --pipelining ]; then echo "$1"; else echo "$1-next"; fi; }
# One daemon with spool.sync = $1: the message load, then connections.
# $2: the loadgen pipelining flag (--pipelining, or --pipeline-next).
# Each run has its own spool, kept to the end: removing thousands of
# files between runs would slow the next run's inode allocation.
run_mode() {
	local mode=$1 client=${2:---pipelining}
	local tag=$(run_tag "$mode" "$client")
	start_daemon "$mode" "${SPOOL_DIR:-$tmp}/spool-$tag" "spool.journal_size = 16M"
	echo "spool.sync = $mode${2:+, loadgen $client}"
	local c0 c1 m0 m1 machine out json n cpu_ms conns cout cps t0 extra=
	c0=$(ticks)
	m0=$(machine_ticks)
	t0=$(date +%s%N)
	out=$("$top/$BUILD/bench/loadgen" --server "127.0.0.1:$port" --message "$tmp/msg.eml" \
		--sessions $sessions --messages $messages "$client" --json)
	echo "$out" | grep -v '^{'
	json=$(echo "$out" | grep '^{')
	n=$(( sessions * messages ))
	if [ "$mode" = journal ]; then
		extra=$(until_published "${SPOOL_DIR:-$tmp}/spool-$tag/new" \
			"$(echo "$json" | sed -n 's/.*"accepted":\([0-9]*\).*/\1/p')" "$t0")
	fi
	c1=$(ticks)
	m1=$(machine_ticks)
	cpu_ms=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n=$n 'BEGIN { printf "%.3f", t * 1000 / hz / n }')
	machine=$(machine_share "$m0" "$m1" $n)
	echo "CPU per message: $cpu_ms ms ($(wc -c <"$tmp/msg.eml") byte messages, RSA-2048, durable before 250, 2 workers)"
	echo "the whole machine meanwhile: ${machine% *} ms busy per message (the kernel's softirq and kworkers and the load generator too), ${machine#* } % idle"
	# Connections per second: each of the sessions' slots connects, reads the
	# greeting, sends EHLO and QUIT, and connects again.
	conns=$(( messages * 2 ))
	cout=$("$top/$BUILD/bench/loadgen" --server "127.0.0.1:$port" --message "$tmp/msg.eml" \
		--sessions $sessions --messages 0 --connections $conns --json)
	echo "$cout" | grep -v '^{' | grep connections
	cps=$(echo "$cout" | grep '^{' | sed -n 's/.*"connections_per_s":\([0-9.]*\).*/\1/p')
	json=$(echo "$json" | sed 's/,"connections":[0-9]*,"connections_per_s":[0-9.]*//')
	kill $pid; wait $pid 2>/dev/null; pid=
	echo "{\"bench\":\"daemon\",\"spool_sync\":\"$mode\",\"cpu_ms_per_message\":$cpu_ms,\"machine_busy_ms_per_message\":${machine% *},\"machine_idle_pct\":${machine#* },\"connections_per_s\":$cps,\"connect_only_sessions\":$sessions,\"connect_only_per_session\":$conns,$extra${json#*\"loadgen\",}" >"$tmp/json-$tag"
	cat "$tmp/json-$tag"
}
# Latency against load, spool.sync = $1: one loadgen run per point, each
# of about load_messages messages, against one daemon configured as
# deployed (the default journal size). $2 as for run_mode.
run_load() {
	local mode=$1 client=${2:---pipelining} s out
	local tag=$(run_tag "$mode" "$client")
	[ -n "$load_sessions" ] || return 0
	start_daemon "$mode" "${SPOOL_DIR:-$tmp}/spool-$tag-load"
	for s in $load_sessions; do
		out=$("$top/$BUILD/bench/loadgen" --server "127.0.0.1:$port" --message "$tmp/msg.eml" \
			--sessions "$s" --messages $(( (load_messages + s - 1) / s )) "$client" --json)
		echo "$out" | grep -v '^{' | sed -n "s/^sessions.*= \(.*\)/spool.sync = $mode${2:+ ($client)}, $s sessions: \1/p; s/^end of data to reply[^:]*: /   /p"
		echo "$out" | grep '^{' | sed "s/\"bench\":\"loadgen\",/\"bench\":\"daemon_load\",\"spool_sync\":\"$mode\",/"
	done
	kill $pid; wait $pid 2>/dev/null; pid=
}
modes=${SPOOL_SYNC:-fsync syncfs journal}
for mode in $modes; do
	run_mode "$mode"
done
case " $modes " in *" journal "*) run_mode journal --pipeline-next ;; esac
for mode in $modes; do
	run_load "$mode"
done
case " $modes " in *" journal "*) run_load journal --pipeline-next ;; esac
rate() { sed -n 's/.*"messages_per_s":\([0-9.]*\).*/\1/p' "$tmp/json-$1"; }
if [ -z "${SPOOL_SYNC:-}" ]; then
	for m in syncfs journal; do
		awk -v m=$m -v a="$(rate $m)" -v b="$(rate fsync)" 'BEGIN { printf "spool.sync = %s: %.2fx the messages/s of fsync in this run\n", m, a / b }'
	done
fi
if [ -f "$tmp/json-journal-next" ]; then
	awk -v a="$(rate journal-next)" -v b="$(rate journal)" 'BEGIN { printf "spool.sync = journal, loadgen --pipeline-next: %.2fx the messages/s of --pipelining in this run\n", a / b }'
fi
