#!/usr/bin/env bash
# bench/spf_unbound.sh — bench_spf's real-DNS regime: unbound on 127.0.0.1
# (a free port, one thread) serves the bench data with TTL 0, so every
# query of every check crosses the loopback through c-ares; N checks are
# kept in flight. Nothing is sent anywhere but this unbound.
#   COPIES=K bench/spf_unbound.sh [SECONDS] [INFLIGHT...]
# K renamed copies of the data (default 1000) keep concurrent checks from
# sharing queries through the resolver's in-flight coalescing.
set -u
cd "$(dirname "$0")/.."
. tests/lib/unbound.sh
BUILD=${BUILD:-build}
BENCH=$BUILD/bench/bench_spf
secs=${1:-5}; shift || true
inflights=("${@:-1 16 256}")
copies=${COPIES:-1000}
[ -x "$BENCH" ] || { echo "spf_unbound: build $BENCH first" >&2; exit 1; }
command -v unbound >/dev/null || { echo "spf_unbound: unbound is not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/authgate-spf-unbound.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
	unbound_server_head "$tmp" "$port"
	cat <<CONF
  num-threads: 1
  ratelimit: 0
  ip-ratelimit: 0
  so-rcvbuf: 8m
  so-sndbuf: 8m
  local-zone: "com." static
  local-zone: "org." static
  local-zone: "net." static
CONF
	"$BENCH" --copies "$copies" --print-unbound | sed 's/^/  /'
	cat <<CONF
remote-control:
  control-enable: yes
  control-interface: "$tmp/unbound.ctl"
  control-use-cert: no
CONF
} >"$tmp/unbound.conf"
unbound-checkconf "$tmp/unbound.conf" >/dev/null || exit 1
unbound -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	/usr/bin/python3 - "$port" <<'PY' 2>/dev/null && break
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
# a minimal query for example.com. TXT
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x10\x00\x01'
s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); s.recvfrom(4096)
PY
	sleep 0.1
done
queries() { unbound-control -c "$tmp/unbound.conf" stats_noreset | sed -n 's/^total.num.queries=//p'; }
for n in ${inflights[@]}; do
	echo "== $n in flight, ${secs}s"
	q0=$(queries)
	${BENCH_WRAP:-} "$BENCH" --server "127.0.0.1:$port" --inflight "$n" --copies "$copies" "$secs"
	q1=$(queries)
	# The resolver coalesces identical queries in flight: this is what
	# actually crossed the loopback (including the answer-table warm-up).
	echo "queries that reached unbound: $((q1 - q0)) ($(( (q1 - q0) / secs ))/s)"
	unbound-control -c "$tmp/unbound.conf" stats_noreset | grep -E "requestlist.(exceeded|overwritten)|num.queries_ip_ratelimited|total.requestlist.max|total.num.cachemiss" | tr "\n" " "; echo
done
