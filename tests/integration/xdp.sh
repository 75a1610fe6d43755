#!/usr/bin/env bash
# Integration: the daemon with XDP and SK_REUSEPORT in network namespaces
# this script creates (a veth pair, one end per namespace; nothing is ever
# added to the root namespace). For native and generic XDP mode:
#   - the XDP counters match what the client's veth sent (swaks traffic);
#   - `authgate block add` makes the client's connect time out and counts
#     drops, and cuts a session already open; `block del` restores service;
#   - xdp.block_after drop verdicts block a source by themselves, and
#     tempfails never count;
#   - SK_REUSEPORT spreads 100 connections over 4 workers;
#   - shutdown detaches XDP and removes the pins.
# Skips (with the reason) when not root or a kernel feature is missing.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/veth.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

skip_all() { skip "xdp integration" "$1"; tap_done; exit 0; }

# Usage errors need no privileges: one line, exit 2.
usage() { # NAME WANT-SUBSTRING ARGS...
	local name=$1 want=$2; shift 2
	local out rc
	out=$("$AUTHGATE" "$@" 2>&1); rc=$?
	if [ $rc -eq 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] && [[ $out == *"$want"* ]]; then
		ok "usage: $name"
	else
		not_ok "usage: $name" "exit $rc: $out"
	fi
}
usage "block without an action" "missing action" block
usage "block with a bad action" "unknown action 'flush'" block flush
usage "block add without a prefix" "add needs a PREFIX" block add
usage "block add with a bad prefix" "'10.0.0.1/33' is not an address or prefix" block add 10.0.0.1/33
usage "block add with host bits" "'10.0.0.1/8' is not" block add 10.0.0.1/8
usage "block add with a bad ttl" "--ttl wants seconds" block add 10.0.0.0/8 --ttl soon
usage "block del with --ttl" "--ttl only goes with add" block del 10.0.0.0/8 --ttl 5
usage "stats with an argument" "unexpected argument 'x'" stats x
usage "stats with a bad option" "stats" stats --bogus
out=$("$AUTHGATE" stats --pin-dir /nonexistent 2>&1); rc=$?
[ $rc -eq 1 ] && [[ $out == *"is the daemon running with XDP?"* ]] \
	&& ok "stats without pins: exit 1 and says why" || not_ok "stats without pins" "exit $rc: $out"
[ "$(id -u)" = 0 ] || skip_all "needs root (network namespaces, XDP)"
for tool in ip swaks nsenter; do
	command -v $tool >/dev/null || skip_all "$tool is not installed (make deps)"
done

tmp=$(mktemp -d /tmp/authgate-xdp.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	veth_teardown
	umount "$tmp/bpffs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

veth_setup agx 10.77.0 # distinct names and subnet per test script
mkdir -p "$tmp/bpffs" && mount -t bpf bpf "$tmp/bpffs" || skip_all "cannot mount bpffs"
pins=$tmp/bpffs/authgate
bad_exits= # daemon runs stopped with SIGTERM that did not exit 0 (a sanitizer report, a leak)

cat >"$tmp/zone" <<'Z'
$TTL 300
ok.example. TXT "v=spf1 ip4:10.77.0.0/24 -all"
neutral.example. TXT "v=spf1 ?all"
slow.example. TIMEOUT
Z

write_conf() { # MODE
	cat >"$tmp/authgate.conf" <<C
listen = 10.77.0.2:25
hostname = mx.test
spool = $tmp/spool
dns.zone = $tmp/zone
dns.servers = 127.0.0.1:9
dns.timeout = 300
dns.tries = 1
workers = 4
xdp.interface = $vs
xdp.mode = $1
bpf.pin_dir = $pins
bpf.steer = hash
xdp.block_after = 3
xdp.block_window = 60
xdp.block_ttl = 60
C
}

# connect(2) from the client namespace: "ok" (greeting read) or "timeout".
probe() {
	in_cli $PY - <<'P'
import socket
try:
    s = socket.create_connection(("10.77.0.2", 25), 2)
    s.settimeout(3)
    print("ok" if s.recv(100).startswith(b"220") else "bad")
    s.sendall(b"QUIT\r\n"); s.recv(100); s.close()
except socket.timeout:
    print("timeout")
except OSError as e:
    print("error", e)
P
}

start() {
	: >"$tmp/serve.log"
	# not through in_srv: a function in the background is a subshell,
	# and $pid must be the daemon's (nsenter execs it)
	nsenter --net="/run/netns/$srv" "$AUTHGATE" serve -c "$tmp/authgate.conf" >>"$tmp/serve.log" 2>&1 &
	pid=$!
	# Baselines once XDP is attached, before the first probe.
	for _ in $(seq 100); do
		grep -q 'XDP on\|XDP off' "$tmp/serve.log" && break
		sleep 0.1
	done
	base_frames=$(tx packets) base_octets=$(ip_out OutOctets) base_ippkts=$(ip_out OutRequests)
	for _ in $(seq 100); do
		# probe only once it serves: earlier probes could all land on
		# one worker before steering is attached, and skew the spread
		grep -q 'serving on' "$tmp/serve.log" && [ "$(probe)" = ok ] && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

stop() { # SIGTERM: drain and exit 0; anything else is noted in bad_exits
	kill -TERM "$pid"; wait "$pid"; stopped=$?; pid=
	[ "$stopped" -eq 0 ] || bad_exits+=" $stopped"
}

send() { # FROM → last reply line
	in_cli swaks --server 10.77.0.2:25 --helo c.test --from "$1" --to bob@example.net \
		--timeout 5 2>&1 | grep -E '^<[-*]' | grep -v -E '^<-  (220|221|250-|250 (2\.1|mx)|354)' | tail -1
}

json() { # KEY from `authgate stats --json`
	in_srv "$AUTHGATE" stats --pin-dir "$pins" --json --top 1000 | $PY -c "
import json, sys
d = json.load(sys.stdin)
k = sys.argv[1]
if k == 'flow_packets': print(sum(f['packets'] for f in d['flows']))
elif k == 'flow_bytes': print(sum(f['bytes'] for f in d['flows']))
elif k == 'client_flows': print(sum(1 for f in d['flows'] if f['src'] == '10.77.0.1' and f['dport'] == 25))
else: print(d[k])" "$1"
}
tx() { in_cli cat "/sys/class/net/$vc/statistics/tx_$1"; }
# The client's IP output counters (/proc/net/snmp Ip: and netstat IpExt:).
ip_out() {
	in_cli cat /proc/net/snmp /proc/net/netstat | awk -v k="$1" '
		$1 == "Ip:" || $1 == "IpExt:" { if (!h[$1]) { for (i = 2; i <= NF; i++) c[$1, $i] = i; h[$1] = 1 }
		  else for (key in c) { split(key, p, SUBSEP); if (p[1] == $1 && p[2] == k) print $c[key] } }'
}

for mode in native generic; do
	write_conf $mode
	if ! start; then
		if grep -q 'native mode\|attach failed' "$tmp/serve.log"; then
			skip "$mode: XDP" "kernel refused $mode XDP on veth: $(grep -m1 XDP "$tmp/serve.log")"
			[ -n "$pid" ] && kill -9 "$pid"; pid=; continue
		fi
		not_ok "$mode: the daemon starts" "$(tail -5 "$tmp/serve.log")"; continue
	fi
	if ! grep -q "XDP on $vs ($mode mode)" "$tmp/serve.log"; then
		skip "$mode: XDP" "not attached: $(grep -m1 XDP "$tmp/serve.log")"
		stop; continue
	fi
	ok "$mode: the daemon attaches XDP to $vs"
	grep -q 'SK_REUSEPORT steering over 4 workers' "$tmp/serve.log" \
		&& ok "$mode: SK_REUSEPORT program attached" || not_ok "$mode: SK_REUSEPORT" "$(grep -i reuseport "$tmp/serve.log")"

	# 100 connections for the steering check, then real SMTP traffic.
	in_cli $PY - <<'P'
import socket
for i in range(100):
    s = socket.create_connection(("10.77.0.2", 25), 3)
    s.recv(100); s.sendall(b"QUIT\r\n"); s.recv(100); s.close()
P
	reply=$(send a@ok.example)
	case $reply in "<-  250 2.0.0 queued as "*) ok "$mode: swaks message accepted through XDP" ;; *) not_ok "$mode: swaks" "$reply" ;; esac
	reply=$(send b@ok.example)
	# A consistent snapshot: the client's counters did not move while the
	# maps were read (the last ACKs of a close can trail by a delayed ACK).
	for _ in $(seq 20); do
		sleep 0.5
		f0=$(tx packets) o0=$(ip_out OutOctets) i0=$(ip_out OutRequests)
		read -r pk sp sb fp < <(in_srv "$AUTHGATE" stats --pin-dir "$pins" --json --top 100000 | $PY -c "
import json, sys
d = json.load(sys.stdin)
print(d['xdp_packets'], d['xdp_smtp_packets'], d['xdp_smtp_bytes'], sum(f['packets'] for f in d['flows']))")
		[ "$(tx packets)" = "$f0" ] && [ "$(ip_out OutRequests)" = "$i0" ] && break
	done
	frames=$((f0 - base_frames)) octets=$((o0 - base_octets)) ippkts=$((i0 - base_ippkts))
	echo "# client: $frames frames, $ippkts IP packets, $octets IP octets; xdp: $pk frames, $sp smtp, $sb smtp bytes"
	expect_eq "$mode: xdp_packets = frames the client's veth sent" "$frames" "$pk"
	# All the client's IP traffic is SMTP to us (IPv6 is off; the rest is ARP);
	# XDP counts the 14-byte Ethernet header too.
	expect_eq "$mode: xdp_smtp_packets = IP packets the client sent" "$ippkts" "$sp"
	expect_eq "$mode: xdp_smtp_bytes = the client's IP octets + Ethernet headers" "$((octets + 14 * ippkts))" "$sb"
	expect_eq "$mode: flows add up to xdp_smtp_packets" "$sp" "$fp"
	# the probes during start, 100 + 2 swaks connections: one flow each
	nf=$(json client_flows)
	expect_eq "$mode: one flow per connection (new flows)" "$nf" "$(json xdp_new_flows)"
	[ "$nf" -ge 102 ] && ok "$mode: $nf client flows" || not_ok "$mode: client flows" "$nf"
	in_srv "$AUTHGATE" stats --pin-dir "$pins" --top 3 >"$tmp/stats.txt"
	grep -q '^10.77.0.1:[0-9]* *10.77.0.2:25 ' "$tmp/stats.txt" \
		&& ok "$mode: authgate stats lists the client's flows" || not_ok "$mode: stats text" "$(cat "$tmp/stats.txt")"

	# Manual block.
	in_srv "$AUTHGATE" block add 10.77.0.0/24 --pin-dir "$pins" >/dev/null
	d0=$(json xdp_dropped_blocklist)
	expect_eq "$mode: blocked: the client's connect times out" timeout "$(probe)"
	d1=$(json xdp_dropped_blocklist)
	[ "$d1" -gt "$d0" ] && ok "$mode: xdp_dropped_blocklist counts the drops ($d0 → $d1)" \
		|| not_ok "$mode: drop counter" "$d0 → $d1"
	in_srv "$AUTHGATE" block list --pin-dir "$pins" | grep -q '^10.77.0.0/24 *permanent *manual *hits=[1-9]' \
		&& ok "$mode: block list shows the entry and its hits" || not_ok "$mode: block list" "$(in_srv "$AUTHGATE" block list --pin-dir "$pins")"
	in_srv "$AUTHGATE" block del 10.77.0.0/24 --pin-dir "$pins" >/dev/null
	expect_eq "$mode: block del restores service" ok "$(probe)"

	# A session already open when its source is blocked: block add stores a
	# new blocklist_gen, so the flow's next segment is checked (and dropped);
	# after block del the retransmission gets through.
	out=$(in_cli $PY - "$AUTHGATE" "/run/netns/$srv" "$pins" <<'P'
import socket, subprocess, sys
authgate, ns, pins = sys.argv[1:4]
def block(*args):
    subprocess.run(["nsenter", "--net=" + ns, authgate, "block", *args, "--pin-dir", pins],
                   check=True, stdout=subprocess.DEVNULL)
s = socket.create_connection(("10.77.0.2", 25), 3)
s.settimeout(2)
s.recv(100)
s.sendall(b"NOOP\r\n"); first = s.recv(100)[:3].decode()
block("add", "10.77.0.1")
s.sendall(b"NOOP\r\n")
try:
    blocked = "answered " + s.recv(100)[:3].decode()
except socket.timeout:
    blocked = "timeout"
block("del", "10.77.0.1")
s.settimeout(10)
try:
    after = s.recv(100)[:3].decode()
except socket.timeout:
    after = "timeout"
s.close()
print(first, blocked, after)
P
)
	expect_eq "$mode: an open session is cut by block add and resumes after block del" "250 timeout 250" "$out"

	# Verdict feedback: tempfails never count; 3 drops within the window block.
	for _ in 1 2 3; do send s@slow.example >/dev/null; done
	expect_eq "$mode: 3 tempfails do not block" "" "$(in_srv "$AUTHGATE" block list --pin-dir "$pins")"
	for _ in 1 2 3; do send n@neutral.example >/dev/null; done
	in_srv "$AUTHGATE" block list --pin-dir "$pins" | grep -q '^10.77.0.1/32 *[0-9]*s *verdicts' \
		&& ok "$mode: 3 drop verdicts put the source in the blocklist" \
		|| not_ok "$mode: verdict feedback" "$(in_srv "$AUTHGATE" block list --pin-dir "$pins"; grep xdp: "$tmp/serve.log")"
	expect_eq "$mode: the auto-blocked client times out" timeout "$(probe)"
	in_srv "$AUTHGATE" block del 10.77.0.1 --pin-dir "$pins" >/dev/null

	stop
	expect_eq "$mode: SIGTERM exits 0" 0 "$stopped"
	counts=$(sed -n 's/.*worker \([0-9]*\): \([0-9]*\) connections accepted.*/\2/p' "$tmp/serve.log" | tr '\n' ' ')
	$PY -c "
import sys
c = [int(x) for x in sys.argv[1].split()]
sys.exit(0 if len(c) == 4 and min(c) >= 8 and sum(c) >= 100 else 1)" "$counts" \
		&& ok "$mode: SK_REUSEPORT spread the connections over 4 workers ($counts)" \
		|| not_ok "$mode: reuseport spread" "$counts"
	[ ! -e "$pins/flows" ] && [ ! -e "$pins/stats" ] && [ ! -e "$pins/blocklist" ] && [ ! -e "$pins/blocklist_gen" ] \
		&& ok "$mode: pins removed on shutdown" || not_ok "$mode: pins" "$(ls "$pins")"
	in_srv ip link show "$vs" | grep -q 'prog/xdp\|xdpgeneric\|xdp ' \
		&& not_ok "$mode: XDP detached" "$(in_srv ip link show "$vs")" || ok "$mode: XDP detached on shutdown"
done

# Restarts: a pin with another layout is replaced, a kept pin is reused, and
# a program left attached by a daemon killed with -9 is replaced.
if command -v bpftool >/dev/null; then
	write_conf generic
	echo "bpf.keep_blocklist = yes" >>"$tmp/authgate.conf"
	mkdir -p "$pins" && rm -f "$pins"/*
	bpftool map create "$pins/flows" type hash key 4 value 4 entries 4 name flows
	if start; then
		grep -q "flows has another layout; replacing the stale pin" "$tmp/serve.log" \
			&& bpftool map show pinned "$pins/flows" | grep -q lru_hash \
			&& ok "a pin with another layout is replaced" || not_ok "stale pin" "$(grep bpf: "$tmp/serve.log")"
		in_srv "$AUTHGATE" block add 192.0.2.9 --pin-dir "$pins" >/dev/null
		kill -9 "$pid"; wait "$pid" 2>/dev/null; pid=
		if start; then
			grep -q "replaced a stale authgate program" "$tmp/serve.log" \
				&& ok "a program left by kill -9 is replaced" || not_ok "stale program" "$(grep XDP "$tmp/serve.log")"
			in_srv "$AUTHGATE" block list --pin-dir "$pins" | grep -q '^192.0.2.9/32 ' \
				&& ok "the pinned blocklist is reused across restarts" || not_ok "blocklist reuse"
			stop
			expect_eq "clean exit with leak checks on (load, pin, steer, detach)" 0 "$stopped"
			[ -e "$pins/blocklist" ] && [ ! -e "$pins/flows" ] && [ ! -e "$pins/stats" ] && [ ! -e "$pins/blocklist_gen" ] \
				&& ok "bpf.keep_blocklist = yes: only the blocklist pin stays" || not_ok "keep_blocklist" "$(ls "$pins")"
		else
			not_ok "restart after kill -9" "$(tail -3 "$tmp/serve.log")"
		fi
	else
		not_ok "start with a stale pin" "$(tail -3 "$tmp/serve.log")"
	fi
else
	skip "restarts" "bpftool is not installed"
fi

# bpf.steer = least: 40 connections held open land 10 per worker (each
# worker publishes its open sessions in steer_load when it accepts).
write_conf generic
sed -i 's/^bpf.steer = .*/bpf.steer = least/' "$tmp/authgate.conf"
if start; then
	grep -q 'SK_REUSEPORT steering over 4 workers (least loaded)' "$tmp/serve.log" \
		&& ok "least: steering attached" || not_ok "least: steering" "$(grep -i reuseport "$tmp/serve.log")"
	in_cli $PY - <<'P' && ok "least: 40 connections held open" || not_ok "least: connections"
import socket, time
held = []
for i in range(40):
    s = socket.create_connection(("10.77.0.2", 25), 3)
    s.recv(100)
    held.append(s)
for s in held:
    s.sendall(b"QUIT\r\n"); s.recv(100); s.close()
P
	stop
	counts=$(sed -n 's/.*worker \([0-9]*\): \([0-9]*\) connections accepted.*/\2/p' "$tmp/serve.log" | tr '\n' ' ')
	# the start-up probes (closed before the next one) add a few on top
	$PY -c "
import sys
c = [int(x) for x in sys.argv[1].split()]
sys.exit(0 if len(c) == 4 and min(c) >= 10 and max(c) - min(c) <= 3 else 1)" "$counts" \
		&& ok "least: even spread over the workers ($counts)" || not_ok "least: spread" "$counts"
else
	not_ok "least: the daemon starts" "$(tail -3 "$tmp/serve.log")"
fi

# lo (of the server's namespace): generic mode with the xdp.frags program;
# a 300 kB message crosses as GSO super-packets, and every byte counts.
sed -e 's/^listen = .*/listen = 127.0.0.1:25/' -e 's/^xdp.interface = .*/xdp.interface = lo/' \
	-e 's/^xdp.mode = .*/xdp.mode = auto/' "$tmp/authgate.conf" >"$tmp/lo.conf"
sed -i 's|^ok.example. TXT .*|ok.example. TXT "v=spf1 ip4:10.77.0.0/24 ip4:127.0.0.0/8 -all"|' "$tmp/zone"
: >"$tmp/lo.log"
nsenter --net="/run/netns/$srv" "$AUTHGATE" serve -c "$tmp/lo.conf" >"$tmp/lo.log" 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q 'serving on' "$tmp/lo.log" && break; sleep 0.1; done
if grep -q 'XDP on lo (generic mode)' "$tmp/lo.log" && in_srv ip link show lo | grep -q 'name xdp_smtp_frags'; then
	ok "lo: generic mode with the xdp.frags program"
	$PY -c 'print("From: a@ok.example\r\nSubject: big\r\n\r\n" + ("x" * 998 + "\r\n") * 300)' >"$tmp/big.eml"
	reply=$(in_srv swaks --server 127.0.0.1:25 --helo c.test --from a@ok.example --to bob@example.net \
		--data "@$tmp/big.eml" --timeout 10 2>&1 | grep -E '^<[-*]' | grep -v -E '^<-  (220|221|250-|250 (2\.1|mx)|354)' | tail -1)
	case $reply in "<-  250 2.0.0 queued as "*) ok "lo: 300 kB message accepted" ;; *) not_ok "lo: big message" "$reply" ;; esac
	sb=$(in_srv "$AUTHGATE" stats --pin-dir "$pins" --json | $PY -c 'import json,sys; print(json.load(sys.stdin)["xdp_smtp_bytes"])')
	[ "$sb" -ge 300000 ] && ok "lo: xdp_smtp_bytes counts the whole message ($sb)" || not_ok "lo: bytes" "$sb"
else
	not_ok "lo: XDP" "$(grep XDP "$tmp/lo.log"; in_srv ip link show lo)"
fi
stop

# Without privileges the daemon serves without XDP and says so once.
if command -v setpriv >/dev/null; then
	nobody=$tmp/nobody
	mkdir -p "$nobody" && chown 65534:65534 "$nobody" && chmod 755 "$tmp"
	cat >"$nobody/a.conf" <<C
listen = 10.77.0.2:2525
hostname = mx.test
spool = $nobody/spool
dns.servers = 127.0.0.1:9
workers = 2
xdp.interface = $vs
bpf.pin_dir = $nobody/pins
C
	nsenter --net="/run/netns/$srv" setpriv --reuid=65534 --regid=65534 --clear-groups \
		"$AUTHGATE" serve -c "$nobody/a.conf" >"$nobody/log" 2>&1 &
	pid=$!
	for _ in $(seq 50); do grep -q 'serving on' "$nobody/log" && break; sleep 0.1; done
	n=$(grep -c 'running without XDP' "$nobody/log")
	grep -q 'serving on' "$nobody/log" && [ "$n" = 1 ] \
		&& ok "unprivileged: serves without XDP and says so once" \
		|| not_ok "unprivileged daemon" "$(cat "$nobody/log")"
	stop
else
	skip "unprivileged daemon" "setpriv is not installed"
fi
# Leak checks stay on for every run: LeakSanitizer makes an exit non-zero.
expect_eq "every daemon run drained and exited 0 (no sanitizer or leak report)" "" "$bad_exits"
tap_done
