#!/usr/bin/env bash
# Integration: the transaction's phases in `authgate serve`, on loopback
# with raw sockets. Each RFC 5321 §4.5.3.2 timeout applies in its own
# phase (command, mail, rcpt, data_init, data_block) and no other;
# timeouts.data_term answers 451 4.4.3 when verification outlasts it, both
# while SPF is still out and while the verdict runs, and the session goes
# on; a fail known at MAIL is refused there only with drop_action =
# reject (discard and quarantine answer 250 after DATA), and such a
# refusal and an oversize message each get their one log line; a SIGTERM
# lets an open transaction finish. Sessions that do not end by themselves
# are ended: one stalled before its TLS handshake, one that reads no
# reply (cut after timeouts.close), one whose last error is a refused
# BDAT chunk; a SIGTERM with such sessions and a transaction left open
# still ends at timeouts.drain plus timeouts.close, exit 0.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/authgate-phases.XXXXXX)
cleanup() { daemon_kill; rm -rf "$tmp"; }
trap cleanup EXIT
port=$(free_port)

# example.org passes SPF from loopback; fail.example fails it; any other
# name goes to dns.servers, a socket on loopback that takes queries and
# never answers (so a lookup of slow.example waits dns.timeout).
cat >"$tmp/zone" <<'EOF'
example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"
fail.example. TXT "v=spf1 -all"
EOF
silent_udp
trap 'cleanup; kill $silent_pid 2>/dev/null' EXIT

conf() { # EXTRA_LINES...
	{
		echo "listen = 127.0.0.1:$port"
		echo "hostname = mx.test"
		echo "spool = $tmp/spool"
		echo "dns.zone = $tmp/zone"
		echo "dns.servers = 127.0.0.1:$silent_port"
		echo "dns.timeout = 6000"
		echo "dns.tries = 1"
		echo "xdp.interface = none"
		echo "workers = 1"
		for l in "$@"; do echo "$l"; done
	} >"$tmp/authgate.conf"
}
start() { : >"$tmp/serve.log"; daemon_start "$tmp/authgate.conf" "$tmp/serve.log"; }
stop() { daemon_stop; }

# A dialogue on one connection, step by step (tests/lib/smtp_talk.py).
talk() { $PY "$top/tests/lib/smtp_talk.py" "$port" "$@" 2>&1; }

# in_range REPLY_LINE LOW HIGH: "... after S s" with LOW <= S <= HIGH
in_range() {
	local s=${1##* after }
	s=${s% s}
	awk -v t="$s" -v lo="$2" -v hi="$3" 'BEGIN { exit !(t >= lo && t <= hi) }'
}

# 1. Each phase's timeout, 2 s, with every other one at a minute: a
# session idle in that phase is told 421 4.4.2 after 2 to 6 s.
long=(timeouts.greeting=60s timeouts.command=60s timeouts.mail=60s timeouts.rcpt=60s
	timeouts.data_init=60s timeouts.data_block=60s)
phase_conf() { # KEY: that key at 2 s, the others at 60 s
	local lines=() k
	for k in "${long[@]}"; do
		[ "${k%%=*}" = "$1" ] && k="$1=2s"
		lines+=("${k%%=*} = ${k#*=}")
	done
	conf "${lines[@]}"
}
phase_test() { # KEY STEPS...
	local key=$1 out last
	shift
	phase_conf "$key"
	start
	out=$(talk "$@" WAIT)
	last=$(echo "$out" | tail -1)
	case $last in
	"421 4.4.2 mx.test Timeout, closing connection after "*)
		if in_range "$last" 2.0 6.0; then ok "$key: idle in its phase, $last"; else not_ok "$key: 2 to 6 s" "$out"; fi ;;
	*) not_ok "$key: 421 4.4.2 after 2 s" "$out" ;;
	esac
	stop
}
phase_test timeouts.greeting
phase_test timeouts.command "EHLO c.test"
phase_test timeouts.mail "EHLO c.test" "MAIL FROM:<a@example.org>"
phase_test timeouts.rcpt "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>"
phase_test timeouts.data_init "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" "DATA"
phase_test timeouts.data_block "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" "DATA" 'Subject: x\n'
# after a whole transaction the session is back in the command phase
phase_test timeouts.command "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" "DATA" \
	'From: <a@example.org>\nSubject: x\n\nbody\n.\n' WAIT

# And a phase's timeout does not cut another phase short: with
# timeouts.command = 2s, a session idle after MAIL (timeouts.mail = 60s)
# is still there 4 s later.
conf "timeouts.command = 2s" "timeouts.mail = 60s"
start
out=$(talk "EHLO c.test" "MAIL FROM:<a@example.org>" SLEEP:4 NOOP | tail -1)
case $out in "250 "*) ok "timeouts.command does not apply inside a transaction (NOOP after 4 s: $out)" ;; *) not_ok "timeouts.command inside a transaction" "$out" ;; esac
stop

# 2. timeouts.data_term = 1s, lookups that take 6 s.
msg() { printf 'From: %s\r\nTo: b@example.net\r\nSubject: t\r\n\r\nbody\r\n.\r\n' "$1"; }
rm -rf "$tmp/spool"
conf "timeouts.data_term = 1s"
start
# SPF still out at the end of data (MAIL FROM in slow.example)
out=$(talk "EHLO c.test" "MAIL FROM:<s@slow.example>" "RCPT TO:<b@example.net>" "DATA" \
	"$(msg '<s@slow.example>' | sed 's/\r$//' | awk '{printf "%s\\n", $0}')" WAIT "NOOP")
line=$(echo "$out" | grep '^451' | head -1)
case $line in
"451 4.4.3 verification did not finish in time, try again later after "*)
	if in_range "$line" 0.9 4.5; then ok "timeouts.data_term, SPF still out: $line"; else not_ok "data_term (SPF): 1 to 4.5 s" "$out"; fi ;;
*) not_ok "timeouts.data_term, SPF still out: 451 4.4.3" "$out" ;;
esac
case $(echo "$out" | tail -1) in "250 "*) ok "the session goes on after the data_term 451 (NOOP: 250)" ;; *) not_ok "the session after data_term" "$out" ;; esac
# the verdict running (SPF passes, Sender ID asks slow.example for the PRA)
out=$(talk "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" "DATA" \
	"$(msg '<s@slow.example>' | sed 's/\r$//' | awk '{printf "%s\\n", $0}')" WAIT "NOOP" "MAIL FROM:<a@example.org>")
line=$(echo "$out" | grep '^451' | head -1)
case $line in
"451 4.4.3 verification did not finish in time, try again later after "*)
	if in_range "$line" 0.9 4.5; then ok "timeouts.data_term, verdict running: $line"; else not_ok "data_term (verdict): 1 to 4.5 s" "$out"; fi ;;
*) not_ok "timeouts.data_term, verdict running: 451 4.4.3" "$out" ;;
esac
case $(echo "$out" | tail -2 | tr '\n' '|') in "250 "*"|250 "*) ok "after the verdict ends, the session goes on (NOOP and MAIL: 250)" ;; *) not_ok "the session after data_term (verdict)" "$out" ;; esac
n=$(ls -A "$tmp/spool/new" 2>/dev/null | wc -l)
expect_eq "nothing is spooled for a transaction told 451" 0 "$n"
n=$(grep -c 'verdict=tempfail(timeout) code="451 4.4.3"' "$tmp/serve.log")
expect_eq "each data_term 451 has its log line" 2 "$n"
stop

# 3. A fail known at MAIL (SPF -all), per policy.drop_action.
for action in reject discard quarantine; do
	rm -rf "$tmp/spool"
	conf "policy.drop_action = $action"
	start
	out=$(talk "EHLO c.test" "MAIL FROM:<x@fail.example>" SLEEP "RCPT TO:<b@example.net>" "DATA" \
		"$(msg '<x@fail.example>' | sed 's/\r$//' | awk '{printf "%s\\n", $0}')" WAIT)
	rcpt=$(echo "$out" | sed -n 3p)
	final=$(echo "$out" | tail -1)
	case $action in
	reject)
		case $rcpt in "550 5.7.23 SPF fail"*) ok "reject: refused at RCPT ($rcpt)" ;; *) not_ok "reject: 550 5.7.23 at RCPT" "$out" ;; esac
		n=$(grep -c 'spf=fail sender-id=none dkim=none verdict=drop(at MAIL) code="550 5.7.23"' "$tmp/serve.log")
		expect_eq "reject: the refusal at MAIL has one log line" 1 "$n"
		# SPF and SUBMITTER both fail: still one refusal, one line
		talk "EHLO c.test" "MAIL FROM:<y@fail.example> SUBMITTER=y@fail.example" SLEEP \
			"RCPT TO:<b@example.net>" >/dev/null
		n=$(grep -c 'from=<y@fail.example> .*verdict=drop(at MAIL)' "$tmp/serve.log")
		expect_eq "reject: SPF and SUBMITTER both failing make one log line" 1 "$n"
		# a transaction abandoned (RSET) before its SPF fail is known: no
		# refusal was sent, none is logged
		before=$(grep -c 'verdict=drop(at MAIL)' "$tmp/serve.log")
		talk "EHLO c.test" 'MAIL FROM:<z@fail.example>\nRSET\n' SLEEP NOOP >/dev/null
		n=$(grep -c 'verdict=drop(at MAIL)' "$tmp/serve.log")
		expect_eq "reject: an abandoned transaction's late SPF fail is not logged" "$before" "$n"
		# the fail arrives while a BDAT chunk (not LAST) is read: the chunk
		# gets its 250, BDAT LAST the 550, and the refusal its one line
		out=$(talk "EHLO c.test" 'MAIL FROM:<w@fail.example>\nRCPT TO:<b@example.net>\nBDAT 2000\n' \
			WAIT WAIT SLEEP "$(head -c 1998 /dev/zero | tr '\0' x)\n" WAIT "BDAT 0 LAST")
		case $(echo "$out" | tr '\n' '|') in "250 "*"|250 "*"|250 2.0.0 2000 octets received"*"|550 5.7.23 "*) ok "reject: SPF fail during a BDAT chunk: 250 for the chunk, 550 for LAST" ;;
		*) not_ok "reject: SPF fail during a BDAT chunk" "$out" ;; esac
		n=$(grep -c 'from=<w@fail.example> .*verdict=drop(at MAIL)' "$tmp/serve.log")
		expect_eq "reject: ... and that refusal has its one log line" 1 "$n" ;;
	discard)
		case $rcpt:$final in "250 "*:"250 "*) ok "discard: RCPT and the message get 250, the sender learns nothing" ;; *) not_ok "discard: 250s" "$out" ;; esac
		expect_eq "discard: nothing in new/" 0 "$(ls -A "$tmp/spool/new" 2>/dev/null | wc -l)"
		n=$(grep -c 'spf=fail .*verdict=drop(discarded) code="250 2.0.0"' "$tmp/serve.log")
		expect_eq "discard: one log line, spf=fail" 1 "$n" ;;
	quarantine)
		case $rcpt:$final in "250 "*:"250 "*) ok "quarantine: RCPT and the message get 250" ;; *) not_ok "quarantine: 250s" "$out" ;; esac
		expect_eq "quarantine: the message is in quarantine/new" 1 "$(wait_files "$tmp/spool/quarantine/new" 1)"
		expect_eq "quarantine: nothing in new/" 0 "$(ls -A "$tmp/spool/new" 2>/dev/null | wc -l)" ;;
	esac
	stop
done

# 4. An oversize message: 552 5.3.4 and its log line.
conf "limits.message_size = 1K"
start
big=$(head -c 3000 /dev/zero | tr '\0' 'x')
out=$(talk "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" "DATA" "Subject: big\\n\\n$big\\n.\\n" WAIT "NOOP")
case $(echo "$out" | grep '^552' | head -1) in "552 5.3.4 Message size exceeds fixed maximum message size after "*) ok "oversize: 552 5.3.4" ;; *) not_ok "oversize: 552 5.3.4" "$out" ;; esac
n=$(grep -c 'from=<a@example.org> rcpts=b@example.net size=[0-9]* .*verdict=refused(size) code="552 5.3.4"' "$tmp/serve.log")
expect_eq "oversize: one log line with the envelope" 1 "$n"
stop

# 5. SIGTERM with a transaction open (MAIL and RCPT given): it may
# finish; a new connection is refused meanwhile; then the daemon exits 0.
conf
start
talk "EHLO c.test" "MAIL FROM:<a@example.org>" "RCPT TO:<b@example.net>" NOTE:open "UNTIL:$tmp/go" \
	DATA 'From: <a@example.org>\nSubject: d\n\nbody\n.\n' WAIT QUIT >"$tmp/drain.out" &
client=$!
for i in $(seq 100); do grep -q open "$tmp/drain.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$daemon_pid"
# the signal thread wakes the workers right after its line
wait_log "$tmp/serve.log" "stopping: draining" 1
sleep 0.5
late=$($PY -c "
import socket
try:
    c = socket.create_connection(('127.0.0.1', $port), 2); c.settimeout(2)
    print(c.recv(200).decode().strip() or 'closed')
except OSError:
    print('refused')" 2>&1)
touch "$tmp/go"
wait "$client"
wait "$daemon_pid"
status=$?
daemon_pid=
got=$(tr '\n' '|' <"$tmp/drain.out")
# after its 250 the session is idle: QUIT may meet the drain's 421
if echo "$got" | grep -qE '\|open\|354 [^|]*\|250 2\.0\.0 queued as [^|]*\|(221 |421 4\.3\.2 )'; then
	ok "drain: the open transaction finishes (${got})"
else
	not_ok "drain: the open transaction finishes" "$got"
fi
case $late in refused | "421 "* | closed) ok "drain: a new connection is not served ($late)" ;; *) not_ok "drain: new connection" "$late" ;; esac
expect_eq "drain: exit 0" 0 "$status"

# 6. Sessions that do not cooperate at the end (timeouts.close = 2s,
# timeouts.drain = 3s). Each client is tests/lib/stall_client.py.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$tmp/key.pem" \
	-out "$tmp/cert.pem" -days 2 -subj /CN=mx.test 2>/dev/null
close_conf=("timeouts.command = 2s" "timeouts.close = 2s" "timeouts.drain = 3s"
	"tls.cert = $tmp/cert.pem" "tls.key = $tmp/key.pem")
stall() { $PY "$top/tests/lib/stall_client.py" "$port" "$@" 2>&1; }
# elapsed_in LINE LOW HIGH: LINE ends in "after S s", LOW <= S <= HIGH
conf "${close_conf[@]}"
start
# a client that says STARTTLS and then nothing (its handshake never
# starts): at timeouts.command the session ends, though its 421 cannot
# be sent in plaintext
out=$(stall starttls-silent)
case $out in "closed after "*) if in_range "$out" 1.5 4.8; then ok "STARTTLS, then silence: the connection ends at the phase timeout ($out)"; else not_ok "STARTTLS then silence: 2 to 4.8 s" "$out"; fi ;;
*) not_ok "STARTTLS, then silence: the connection ends" "$out" ;; esac
# a client that pipelines commands and never reads a reply: at the phase
# timeout its 421 is queued behind replies it does not take; after
# timeouts.close the connection is cut
out=$(stall no-read)
case $out in "cut after "*) if in_range "$out" 3.5 10.0; then ok "a client that reads nothing: cut after the phase timeout and timeouts.close ($out)"; else not_ok "no-read: 4 to 10 s" "$out"; fi ;;
*) not_ok "a client that reads nothing is cut" "$out" ;; esac
# (the line goes out through the worker's log queue, maybe after the reset)
wait_log "$tmp/serve.log" 'connection cut, the client took no reply for 2 s (timeouts.close)' 1
n=$(grep -c 'connection cut, the client took no reply for 2 s (timeouts.close)' "$tmp/serve.log")
expect_eq "the cut has its log line" 1 "$n"
# too many errors, the last one a refused BDAT chunk: 421 and the
# connection closes at once
out=$(stall bdat-errors)
case $out in "421 4.7.0 "*"|closed after "*) if in_range "$out" 0 1.0; then ok "too many errors ending in a BDAT chunk: 421, closed at once"; else not_ok "bdat errors: closed within 1 s" "$out"; fi ;;
*) not_ok "too many errors ending in a BDAT chunk: 421 and close" "$out" ;; esac
# a command line over 2048 octets: 500 5.5.2, and the session goes on
out=$(talk "EHLO c.test" "NOOP $(head -c 3000 /dev/zero | tr '\0' x)" NOOP | tr '\n' '|')
case $out in "250 "*"|500 5.5.2 Line too long|250 2.0.0 OK|") ok "a line too long: 500 5.5.2, then NOOP is answered" ;;
*) not_ok "a line too long: 500 5.5.2" "$out" ;; esac
# a client that leaves in the middle of a transaction: one log line
talk "EHLO c.test" "MAIL FROM:<gone@example.org>" "RCPT TO:<b@example.net>" >/dev/null
wait_log "$tmp/serve.log" 'from=<gone@example.org> rcpts=b@example.net size=0 .*verdict=abandoned code="-" reason="the client closed the connection during the transaction"' 1 \
	&& ok "a transaction the client leaves has its log line (verdict=abandoned, code -)" \
	|| not_ok "abandoned transaction's log line" "$(grep gone@ "$tmp/serve.log")"
stop

# wait_or_kill PID SECONDS: its exit status, or 137 after a kill -9 when it
# has not exited in SECONDS (a drain that never ends fails, not hangs)
wait_or_kill() {
	local pid=$1 watchdog rc
	(sleep "$2"; kill -9 "$pid" 2>/dev/null) &
	watchdog=$!
	wait "$pid"
	rc=$?
	kill "$watchdog" 2>/dev/null
	wait "$watchdog" 2>/dev/null
	return $rc
}

# SIGTERM with three sessions that do not end by themselves: one in its
# TLS handshake, one that reads nothing, one inside a transaction. The
# idle ones end at once, the transaction gets 421 4.3.2 at
# timeouts.drain, the one reading nothing is cut timeouts.close later;
# the daemon exits 0 in about 5 s.
start
rm -f "$tmp"/ready.*
stall starttls-silent "$tmp/ready.1" >"$tmp/s1.out" &
clients=($!)
stall no-read "$tmp/ready.2" >"$tmp/s2.out" &
clients+=($!)
stall open-transaction "$tmp/ready.3" >"$tmp/s3.out" &
clients+=($!)
for _ in $(seq 200); do [ -e "$tmp/ready.1" ] && [ -e "$tmp/ready.2" ] && [ -e "$tmp/ready.3" ] && break; sleep 0.05; done
t0=$(date +%s%N)
drains=$(grep -c 'stopping: draining' "$tmp/serve.log")
kill -TERM "$daemon_pid"
# While it drains, the listeners it shut are not taken up again (each
# accept there would fail at once, and be armed again): the daemon waits
# for its sessions and uses next to no CPU.
wait_log "$tmp/serve.log" 'stopping: draining' $((drains + 1))
c0=$(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat")
sleep 2
ticks=$(($(awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat") - c0))
wait_or_kill "$daemon_pid" 30
status=$?
daemon_pid=
took=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "${clients[@]}"
expect_eq "drain with stalled sessions: exit 0" 0 "$status"
[ "$ticks" -lt $(($(getconf CLK_TCK) / 2)) ] && ok "drain: the daemon does not spin while it waits ($ticks ticks in 2 s)" ||
	not_ok "drain: no spinning while sessions finish" "$ticks ticks of CPU in 2 s"
if [ "$took" -ge 2500 ] && [ "$took" -le 9000 ]; then ok "drain with stalled sessions: the daemon exits after timeouts.drain and timeouts.close (${took} ms)"
else not_ok "drain with stalled sessions: 3 to 9 s" "${took} ms"; fi
n=$(grep -c 'from=<a@example.org> rcpts=b@example.net .*verdict=abandoned code="421 4.3.2" reason="the session ended during the transaction"' "$tmp/serve.log")
expect_eq "drain: the transaction cut short by timeouts.drain has its log line (code 421 4.3.2)" 1 "$n"
case $(cat "$tmp/s3.out") in "421 4.3.2 mx.test Service shutting down after "*) ok "drain: the transaction left open gets 421 4.3.2 at timeouts.drain ($(cat "$tmp/s3.out"))" ;;
*) not_ok "drain: the open transaction gets 421 4.3.2" "$(cat "$tmp/s3.out")" ;; esac
case $(cat "$tmp/s1.out") in "closed after "*) ok "drain: the session in its TLS handshake ends" ;; *) not_ok "drain: TLS handshake session" "$(cat "$tmp/s1.out")" ;; esac
case $(cat "$tmp/s2.out") in "cut after "*) ok "drain: the session reading nothing is cut" ;; *) not_ok "drain: no-read session" "$(cat "$tmp/s2.out")" ;; esac

# An idle session is told 421 4.3.2 at once.
start
talk "EHLO c.test" NOTE:idle WAIT >"$tmp/idle.out" &
client=$!
for i in $(seq 100); do grep -q idle "$tmp/idle.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$daemon_pid"
wait "$client"
wait_or_kill "$daemon_pid" 30
status=$?
daemon_pid=
case $(tail -1 "$tmp/idle.out") in "421 4.3.2 mx.test Service shutting down after "*) if in_range "$(tail -1 "$tmp/idle.out")" 0 1.5; then ok "drain: an idle session is told 421 4.3.2 at once"; else not_ok "drain: idle 421 at once" "$(cat "$tmp/idle.out")"; fi ;;
*) not_ok "drain: an idle session is told 421 4.3.2" "$(cat "$tmp/idle.out")" ;; esac
expect_eq "drain with an idle session: exit 0" 0 "$status"
tap_done
