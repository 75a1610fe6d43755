#!/usr/bin/env bash
# bench/bench_daemon.sh [--quick|--smoke] — the daemon end to end on
# loopback: 2 workers, fsync on, 8 KB messages DKIM-signed with RSA-2048,
# SPF and Sender ID from the zone overlay. Reports messages/s, latency from
# end of data to reply (p50/p99), CPU per message, and connections/s
# (connect, greeting, EHLO, QUIT) from bench/loadgen.
# Its baseline, the Postfix + OpenDKIM milter + policyd-spf stack under the
# same corpus load, is bench/peers/postfix.sh.
#   SPOOL_DIR=DIR  put the spool there (default: in the scratch directory);
#                  a tmpfs there takes the filesystem out of the figures
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
sessions=50 messages=100
case ${1:-} in --quick) messages=20 ;; --smoke) sessions=4 messages=5 ;; esac
tmp=$(mktemp -d /tmp/authgate-bench.XXXXXX)
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
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
printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.bench" "spool = ${SPOOL_DIR:-$tmp/spool}" "dns.zone = $tmp/zone" \
	"dns.servers = 127.0.0.1:9" "xdp.interface = none" "workers = 2" \
	"limits.sessions_per_ip = 10000" >"$tmp/a.conf"
"$top/$BUILD/authgate" serve -c "$tmp/a.conf" 2>"$tmp/log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$tmp" ${SPOOL_DIR:+"$SPOOL_DIR"}' EXIT
sleep 0.5
ticks() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
c0=$(ticks)
out=$("$top/$BUILD/bench/loadgen" --server "127.0.0.1:$port" --message "$tmp/msg.eml" \
	--sessions $sessions --messages $messages --pipelining --json)
c1=$(ticks)
echo "$out" | grep -v '^{'
json=$(echo "$out" | grep '^{')
n=$(( sessions * messages ))
cpu_ms=$(awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n=$n 'BEGIN { printf "%.3f", t * 1000 / hz / n }')
echo "CPU per message: $cpu_ms ms ($(wc -c <"$tmp/msg.eml") byte messages, RSA-2048, fsync on, 2 workers)"
# Connections per second: each of the sessions' slots connects, reads the
# greeting, sends EHLO and QUIT, and connects again.
conns=$(( messages * 2 ))
cout=$("$top/$BUILD/bench/loadgen" --server "127.0.0.1:$port" --message "$tmp/msg.eml" \
	--sessions $sessions --messages 0 --connections $conns --json)
echo "$cout" | grep -v '^{' | grep connections
cps=$(echo "$cout" | grep '^{' | sed -n 's/.*"connections_per_s":\([0-9.]*\).*/\1/p')
json=$(echo "$json" | sed 's/,"connections":[0-9]*,"connections_per_s":[0-9.]*//')
echo "{\"bench\":\"daemon\",\"cpu_ms_per_message\":$cpu_ms,\"connections_per_s\":$cps,\"connect_only_sessions\":$sessions,\"connect_only_per_session\":$conns,${json#*\"loadgen\",}"
