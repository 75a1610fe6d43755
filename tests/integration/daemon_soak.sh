#!/usr/bin/env bash
# Integration: a soak of `authgate serve` — what other suites test one at a
# time, many times over and concurrently, to find what leaks only slowly.
# tests/lib/soak_client.py runs rounds of thirteen kinds of session (DATA
# and BDAT messages, STARTTLS, an SPF fail, a DKIM fail, a DNS timeout, an
# oversize message, sessions cut in DATA, in a BDAT chunk and in the TLS
# handshake, command errors, a client that never reads, a reset before the
# greeting), eight at a time, and checks every reply each is owed. Then,
# once every connection is gone:
#   - the daemon holds no more file descriptors than after the warm-up
#     rounds (an fd left open per session, message or failure would show);
#   - every session slot came back: limits.sessions connections at once
#     all get their 220;
#   - every message a client saw 250 for, and every accept the log
#     records, is in new/;
#   - SIGTERM drains and exits 0 (the ASan build's LeakSanitizer fails
#     the exit on unreachable memory);
#   - every message arena is back in its worker's pool (arenas are mmap'd:
#     LeakSanitizer would not see one lost), with no session open;
#   - with the release build, glibc's heap in use (the daemon's SIGUSR1
#     status line) is within SOAK_HEAP_KB of what it was after the
#     warm-up: memory still reachable but never given back, per session,
#     would grow it (LeakSanitizer catches memory once unreachable).
# Runs with spool.sync = fsync (ASan build) and journal (release build).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
BUILD=${BUILD:-build}
RELEASE=$(cd "$top" && realpath "$BUILD/authgate")
PY=/usr/bin/python3
WARMUP=${SOAK_WARMUP:-3}
ROUNDS=${SOAK_ROUNDS:-25}
SOAK_HEAP_KB=${SOAK_HEAP_KB:-64}
SESSIONS=16

tmp=$(mktemp -d /tmp/authgate-soak.XXXXXX)
cleanup() { daemon_kill; [ -n "${SOAK_KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
port=$(free_port)
export PYTHONPATH=$top/tests/lib

# example.org passes SPF from loopback and publishes the DKIM key;
# fail.example fails SPF; any other name (slow.example) goes to a server
# that never answers.
$PY - "$tmp/zone" <<'EOF'
import sys
import dkim_fixture as fx
open(sys.argv[1], 'w').write(f'''example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"
{fx.KEY_RR}
fail.example. TXT "v=spf1 -all"
''')
EOF
silent_udp
trap 'cleanup; kill $silent_pid 2>/dev/null' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 2 -subj /CN=mx.test >/dev/null 2>&1

conf() { # SPOOL_SYNC
	printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.test" "spool = $tmp/spool-$1" \
		"spool.sync = $1" "dns.zone = $tmp/zone" "dns.servers = 127.0.0.1:$silent_port" \
		"dns.timeout = 300" "dns.tries = 1" "xdp.interface = none" "workers = 2" \
		"tls.cert = $tmp/cert.pem" "tls.key = $tmp/key.pem" "limits.message_size = 64K" \
		"limits.sessions = $SESSIONS" "limits.sessions_per_ip = $SESSIONS" \
		"timeouts.close = 2s" "log.format = json" >"$tmp/$1.conf"
}

# status: the daemon's SIGUSR1 line, as "SESSIONS MAPPED POOLED HEAP_KB FDS".
status() {
	local n
	n=$(grep -c ' status: ' "$log")
	kill -USR1 "$daemon_pid"
	wait_log "$log" ' status: ' $((n + 1)) || { echo "no status line"; return; }
	grep ' status: ' "$log" | tail -1 | sed -n 's/.* status: \([0-9]*\) sessions, \([0-9]*\) message arenas mapped (\([0-9]*\) of them pooled), heap in use \([0-9]*\) kB, \([0-9]*\) file descriptors$/\1 \2 \3 \4 \5/p'
}

# Wait (30 s at most) until no connection to the port is left and the
# daemon's fd count has held still for a second.
settle() {
	local i last=-1 same=0 n
	for i in $(seq 150); do
		if [ -z "$(ss -Htn state established "( sport = :$port or dport = :$port )")" ]; then
			n=$(ls "/proc/$daemon_pid/fd" 2>/dev/null | wc -l)
			if [ "$n" = "$last" ]; then same=$((same + 1)); else same=0; fi
			last=$n
			[ $same -ge 5 ] && return 0
		fi
		sleep 0.2
	done
	return 1
}

# soak ROUNDS LABEL: the client's rounds; its failures become TAP lines,
# the client-side 250 count goes to $accepted_by_client.
soak() {
	local out
	out=$($PY "$top/tests/lib/soak_client.py" "$port" "$1" --tls --seed "$RANDOM" 2>&1)
	local bad
	bad=$(printf '%s\n' "$out" | grep -c '^not_ok')
	if [ "$bad" = 0 ] && [[ $(printf '%s\n' "$out" | tail -1) == ok* ]]; then
		ok "$2: $(printf '%s\n' "$out" | tail -1 | cut -f2), every reply as owed"
	else
		not_ok "$2: every scenario gets the replies it is owed ($bad did not)" \
			"$(printf '%s\n' "$out" | grep -v '^ok' | head -12)"
	fi
	local n
	n=$(printf '%s\n' "$out" | sed -n 's/^ok\t.* \([0-9]*\) accepted$/\1/p' | tail -1)
	accepted_by_client=$((accepted_by_client + ${n:-0}))
}

# all_greeted: limits.sessions connections at once, each greeted 220.
all_greeted() {
	$PY - "$port" "$SESSIONS" <<'EOF'
import socket, sys
port, n = int(sys.argv[1]), int(sys.argv[2])
conns = [socket.create_connection(('127.0.0.1', port), 10) for _ in range(n)]
greetings = [c.recv(512).decode('latin-1').split('\r\n')[0] for c in conns]
for c in conns:
    c.close()
bad = [g for g in greetings if not g.startswith('220 ')]
print(len(bad), bad[:3])
EOF
}

run_phase() { # SPOOL_SYNC BINARY LABEL
	local mode=$1 bin=$2 label=$3 st0 st1 spooled logged greeted
	local sess0 map0 pool0 heap0 fd0 sess1 map1 pool1 heap1 fd1
	log=$tmp/$mode.log
	conf "$mode"
	: >"$log"
	accepted_by_client=0
	# No per-thread malloc caches: mallinfo2 counts what they hold as in
	# use, and they fill up as the run goes on, which would look like growth.
	GLIBC_TUNABLES=glibc.malloc.tcache_count=0 AUTHGATE=$bin daemon_start "$tmp/$mode.conf" "$log" ||
		{ not_ok "$label: the daemon starts" "$(tail -5 "$log")"; return; }
	soak "$WARMUP" "$label: warm-up"
	settle || not_ok "$label: the connections end after the warm-up" "$(ss -Htn "( sport = :$port )" | head -3)"
	st0=$(status)
	read -r sess0 map0 pool0 heap0 fd0 <<<"$st0"
	soak "$ROUNDS" "$label: soak"
	settle || not_ok "$label: the connections end after the soak" "$(ss -Htn "( sport = :$port )" | head -3)"
	st1=$(status)
	read -r sess1 map1 pool1 heap1 fd1 <<<"$st1"
	if [ -z "$fd1" ] || [ -z "$fd0" ]; then
		not_ok "$label: SIGUSR1 status lines" "after the warm-up: $st0; after the soak: $st1"
		daemon_stop
		return
	fi
	expect_eq "$label: no session left open" "0 0" "$sess0 $sess1"
	if [ "$fd1" -le $((fd0 + 2)) ]; then
		ok "$label: file descriptors after the warm-up $fd0, after $ROUNDS more rounds $fd1"
	else
		not_ok "$label: no file descriptor left behind (at most 2 more than after the warm-up)" \
			"after the warm-up $fd0, after the soak $fd1:$(ls -l "/proc/$daemon_pid/fd" | tail -8)"
	fi
	if [ "$map1" = "$pool1" ] && [ "$map1" -le $((2 * 64)) ]; then
		ok "$label: every message arena back in a pool ($map0 mapped after the warm-up, $map1 after the soak)"
	else
		not_ok "$label: every message arena back in a pool, at most 64 per worker" \
			"after the warm-up $map0 mapped, $pool0 pooled; after the soak $map1 mapped, $pool1 pooled"
	fi
	if [ "$bin" = "$RELEASE" ]; then
		if [ $((heap1 - heap0)) -le "$SOAK_HEAP_KB" ]; then
			ok "$label: heap in use $heap0 kB after the warm-up, $heap1 kB after the soak (limit +$SOAK_HEAP_KB kB)"
		else
			not_ok "$label: heap in use grows by at most $SOAK_HEAP_KB kB" "$heap0 kB after the warm-up, $heap1 kB after the soak"
		fi
	fi
	greeted=$(all_greeted)
	expect_eq "$label: every session slot came back ($SESSIONS connections at once, none refused)" "0 []" "$greeted"
	daemon_stop
	expect_eq "$label: SIGTERM drains and exits 0" 0 "$daemon_status"
	logged=$(grep -c '"verdict":"accept"' "$log")
	spooled=$(ls "$tmp/spool-$mode/new" | wc -l)
	if [ "$spooled" = "$logged" ] && [ "$spooled" -ge "$accepted_by_client" ] && [ "$accepted_by_client" -gt 0 ]; then
		ok "$label: new/ holds every accepted message ($spooled; the clients saw $accepted_by_client 250s)"
	else
		not_ok "$label: every accepted message in new/" "new/ $spooled, accept lines $logged, 250s seen $accepted_by_client"
	fi
	grep -q 'ERROR: \|runtime error' "$log" &&
		not_ok "$label: no sanitizer report" "$(grep -m3 -A8 'ERROR: \|runtime error' "$log")"
}

run_phase fsync "$AUTHGATE" "fsync, $(basename "$(dirname "$AUTHGATE")")"
run_phase journal "$RELEASE" "journal, release"
tap_done
