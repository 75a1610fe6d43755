#!/usr/bin/env bash
# bench/spf_unbound.sh — bench_spf's real-DNS regime: unbound on 127.0.0.1
# (one thread unless UNBOUND_THREADS says otherwise) serves the bench data
# with TTL 0, so every query of every check crosses the loopback; authgate
# keeps N checks in flight through c-ares, and libspf2 (its resolv layer,
# one blocking check at a time, no cache) runs against the same server in
# the same run as the baseline.
#   COPIES=K bench/spf_unbound.sh [SECONDS] [INFLIGHT...]
# K renamed copies of the data (default 1000) keep concurrent checks from
# sharing queries through the resolver's in-flight coalescing.
#
# libspf2's resolver takes no server address, only /etc/resolv.conf. As
# root the whole bench therefore runs in a network namespace it creates
# (only its loopback is up) whose resolv.conf (ip netns exec bind-mounts
# /etc/netns/NAME/resolv.conf) names this unbound on 127.0.0.1:53. Without
# root, authgate runs alone on a free port and the baseline is skipped.
set -u
cd "$(dirname "$0")/.."
. tests/lib/unbound.sh
BUILD=${BUILD:-build}
BENCH=$BUILD/bench/bench_spf
secs=${1:-5}; shift || true
inflights=("${@:-1 16 256}")
copies=${COPIES:-1000}
threads=${UNBOUND_THREADS:-1}
[ -x "$BENCH" ] || { echo "spf_unbound: build $BENCH first" >&2; exit 1; }
command -v unbound >/dev/null || { echo "spf_unbound: unbound is not installed" >&2; exit 1; }
tmp=$(mktemp -d /tmp/authgate-spf-unbound.XXXXXX)
pid= ns=
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null
	wait 2>/dev/null
	if [ -n "$ns" ]; then
		ip netns del "$ns" 2>/dev/null
		rm -rf "/etc/netns/$ns"
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
in_ns=()
if [ "$(id -u)" = 0 ] && ip netns add "agspf$$" 2>/dev/null; then
	ns=agspf$$
	in_ns=(ip netns exec "$ns")
	"${in_ns[@]}" ip link set lo up
	mkdir -p "/etc/netns/$ns"
	printf 'nameserver 127.0.0.1\noptions timeout:2 attempts:2\n' >"/etc/netns/$ns/resolv.conf"
	port=53
else
	echo "spf_unbound: not root (or no netns): libspf2's baseline needs a resolv.conf of its own; skipped"
	port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
fi
{
	unbound_server_head "$tmp" "$port"
	cat <<CONF
  num-threads: $threads
  so-reuseport: yes
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
"${in_ns[@]}" unbound -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	"${in_ns[@]}" /usr/bin/python3 - "$port" <<'PY' 2>/dev/null && break
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
# a minimal query for example.com. TXT
q = b'\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x10\x00\x01'
s.sendto(q, ("127.0.0.1", int(sys.argv[1]))); s.recvfrom(4096)
PY
	sleep 0.1
done
queries() { unbound-control -c "$tmp/unbound.conf" stats_noreset | sed -n 's/^total.num.queries=//p'; }
unbound_cpu() { awk '{print $14 + $15}' "/proc/$pid/stat"; }
hz=$(getconf CLK_TCK)
run() { # LABEL COMMAND... — the bench, then what reached unbound and its CPU
	local label=$1; shift
	echo "== $label, ${secs}s (unbound: $threads thread(s))"
	local q0 c0 q1 c1
	q0=$(queries); c0=$(unbound_cpu)
	"${in_ns[@]}" ${BENCH_WRAP:-} "$@"
	q1=$(queries); c1=$(unbound_cpu)
	# The resolver coalesces identical queries in flight: this is what
	# actually crossed the loopback (including the answer-table warm-up).
	echo "queries that reached unbound: $((q1 - q0)) ($(( (q1 - q0) / secs ))/s); unbound CPU $(awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * t / hz / s }') of one core"
}
[ -n "$ns" ] && run "libspf2, one check at a time" "$BENCH" --libspf2-resolv --copies "$copies" "$secs"
for n in ${inflights[@]}; do
	run "authgate, $n in flight" "$BENCH" --server "127.0.0.1:$port" --inflight "$n" --copies "$copies" "$secs"
done
