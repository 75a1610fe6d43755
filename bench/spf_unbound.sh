#!/usr/bin/env bash
# bench/spf_unbound.sh — bench_spf's real-DNS regime: unbound on 127.0.0.1
# (one thread unless UNBOUND_THREADS says otherwise) serves the bench data
# with TTL 0, so every query of every check crosses the loopback; authgate
# keeps N checks in flight through c-ares, and libspf2 (its resolv layer,
# one blocking check at a time, no cache) runs against the same server in
# the same run as the baseline.
#   COPIES=K DNS_SERVER=unbound|nsd bench/spf_unbound.sh [SECONDS] [INFLIGHT...]
# K renamed copies of the data (default 1000) keep concurrent checks from
# sharing queries through the resolver's in-flight coalescing.
# DNS_SERVER=nsd serves the same data from NSD (authoritative for com.,
# org. and net.), a faster server than unbound's local-data, to show where
# the DNS server stops being the limit.
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
server=${DNS_SERVER:-unbound}
[ -x "$BENCH" ] || { echo "spf_unbound: build $BENCH first" >&2; exit 1; }
command -v "$server" >/dev/null || { echo "spf_unbound: $server is not installed" >&2; exit 1; }
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
	port=$(unbound_port)
fi
start_unbound() {
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
}

# The same records as zone files: com., org. and net., each with its SOA.
start_nsd() {
	local tld
	"$BENCH" --copies "$copies" --print-unbound |
		sed -e "s/^local-data: '\(.*\)'\$/\1/" -e 's/^local-data: "\(.*\)"$/\1/' >"$tmp/records"
	for tld in com org net; do
		{
			echo "$tld. 0 IN SOA ns.$tld. hostmaster.$tld. 1 3600 600 86400 0"
			echo "$tld. 0 IN NS ns.$tld."
			grep -E "^[^ ]*\.$tld\. " "$tmp/records"
		} >"$tmp/$tld.zone"
	done
	cat >"$tmp/nsd.conf" <<CONF
server:
  ip-address: 127.0.0.1
  port: $port
  server-count: $threads
  username: ""
  chroot: ""
  zonesdir: "$tmp"
  database: ""
  zonelistfile: "$tmp/zone.list"
  xfrdfile: "$tmp/xfrd.state"
  xfrdir: "$tmp"
  pidfile: "$tmp/nsd.pid"
  logfile: "$tmp/nsd.log"
  do-ip6: no
  verbosity: 0
  reuseport: yes
  refuse-any: yes
remote-control:
  control-enable: no
zone:
  name: com
  zonefile: com.zone
zone:
  name: org
  zonefile: org.zone
zone:
  name: net
  zonefile: net.zone
CONF
	nsd-checkconf "$tmp/nsd.conf" || exit 1
	"${in_ns[@]}" nsd -d -c "$tmp/nsd.conf" >"$tmp/nsd.out" 2>&1 &
	pid=$!
}
start_$server
queries() {
	[ "$server" = unbound ] && unbound-control -c "$tmp/unbound.conf" stats_noreset | sed -n 's/^total.num.queries=//p' || echo 0
}
# NSD forks its serving processes (grandchildren) and replaces them now
# and then: count the whole tree, with what its reaped children used.
tree() { local c; echo "$1"; for c in $(pgrep -P "$1"); do tree "$c"; done; }
server_cpu() {
	local p t=0
	for p in $(tree "$pid"); do t=$((t + $(awk '{print $14 + $15 + $16 + $17}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
	echo $t
}
hz=$(getconf CLK_TCK)
run() { # LABEL COMMAND... — the bench, then what reached unbound and its CPU
	local label=$1; shift
	echo "== $label, ${secs}s ($server: $threads thread(s))"
	local q0 c0 q1 c1
	q0=$(queries); c0=$(server_cpu)
	"${in_ns[@]}" ${BENCH_WRAP:-} "$@"
	q1=$(queries); c1=$(server_cpu)
	# The resolver coalesces identical queries in flight: this is what
	# actually crossed the loopback (including the answer-table warm-up).
	[ "$server" = unbound ] && echo "queries that reached unbound: $((q1 - q0)) ($(awk -v q=$((q1 - q0)) -v s="$secs" 'BEGIN { printf "%.0f", q / s }')/s)"
	# Datagrams a full socket buffer dropped (this namespace's counters).
	[ -n "$ns" ] && echo "UDP receive-buffer drops so far: $("${in_ns[@]}" awk '$1 == "Udp:" && $2 ~ /^[0-9]/ { print $6 }' /proc/net/snmp)"
	echo "$server CPU: $(awk -v t=$((c1 - c0)) -v hz="$hz" -v s="$secs" 'BEGIN { printf "%.0f%%", 100 * t / hz / s }') of one core"
}
[ -n "$ns" ] && run "libspf2, one check at a time" "$BENCH" --libspf2-resolv --copies "$copies" "$secs"
for n in ${inflights[@]}; do
	run "authgate, $n in flight" "$BENCH" --server "127.0.0.1:$port" --inflight "$n" --copies "$copies" "$secs"
done
