#!/usr/bin/env bash
# Integration: the daemon's DNS server stops while it serves. The records
# come from a real unbound on 127.0.0.1 (free port, generated config) and
# nowhere else: a message is accepted through it; unbound is stopped, and
# a sender the daemon has not looked up yet gets 451 4.7.24 (a temporary
# error, nothing spooled) while one it has cached is still accepted;
# unbound is started again on the same port, and the refused sender's
# next try is accepted. Every 250 is in new/.
# Then a server that answers some names and never others
# (tests/lib/dkim_dns_server.py): after a lookup that times out, c-ares
# closes its socket while the worker's poll on it is still armed, and the
# next socket often gets the same number. Later lookups on that worker
# must still be read: a sender whose record answers is accepted after
# each timeout. An SPF fail that comes late (during a BDAT chunk, during
# DATA, after its transaction was abandoned with RSET) refuses only its
# own transaction and gives it one log line; the exit lines count each
# transaction once.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/unbound.sh"
. "$top/tests/lib/daemon.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

if ! command -v unbound >/dev/null; then
	skip "dns outage" "unbound is not installed (make deps)"
	tap_done
	exit
fi
tmp=$(mktemp -d /tmp/authgate-outage.XXXXXX)
ub=
cleanup() {
	daemon_kill
	[ -n "$ub" ] && kill "$ub" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
dns_port=$(unbound_port)
port=$(free_port)

{
	unbound_server_head "$tmp" "$dns_port"
	cat <<'CONF'
  local-zone: "outage.test." static
  local-data: "outage.test. 300 IN SOA ns.outage.test. h.outage.test. 1 3600 600 86400 60"
  local-data: 'early.outage.test. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"'
  local-data: 'late.outage.test. 300 IN TXT "v=spf1 ip4:127.0.0.0/8 -all"'
CONF
} >"$tmp/unbound.conf"
start_unbound() {
	unbound -c "$tmp/unbound.conf" >>"$tmp/unbound.log" 2>&1 &
	ub=$!
	for _ in $(seq 50); do
		$PY - "$dns_port" <<'EOF' && return 0
import socket, sys
name = b''.join(bytes([len(l)]) + l for l in b'early.outage.test'.split(b'.')) + b'\0'
q = bytes.fromhex('123401000001000000000000') + name + bytes.fromhex('00100001')  # TXT IN
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(0.2)
s.sendto(q, ('127.0.0.1', int(sys.argv[1])))
try:
    s.recv(512)
except OSError:
    sys.exit(1)
EOF
		sleep 0.1
	done
	return 1
}
stop_unbound() { kill "$ub"; wait "$ub" 2>/dev/null; ub=; }

: >"$tmp/empty.zone"
printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.test" "spool = $tmp/spool" \
	"dns.zone = $tmp/empty.zone" "dns.servers = 127.0.0.1:$dns_port" "dns.timeout = 500" \
	"dns.tries = 2" "xdp.interface = none" "workers = 1" >"$tmp/authgate.conf"

# deliver DOMAIN: an unsigned message from user@DOMAIN (envelope and
# From), SPF and Sender ID from DOMAIN's record; prints "CODE STATUS" or
# "CODE STATUS NAME" for a 250
deliver() {
	$PY - "$port" "$1" <<'EOF'
import re, smtplib, sys
port, dom = int(sys.argv[1]), sys.argv[2]
c = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.' + dom, timeout=30)
c.ehlo()
msg = f'From: <user@{dom}>\r\nTo: <b@example.net>\r\nSubject: outage\r\n\r\nbody\r\n'.encode()
c.mail('user@' + dom); c.rcpt('b@example.net')
code, text = c.data(msg)
m = re.search(rb'queued as (\S+)', text)
print(code, text.split()[0].decode(), m.group(1).decode() if m else '')
c.quit()
EOF
}

if ! start_unbound; then
	not_ok "unbound answers on 127.0.0.1:$dns_port" "$(tail -3 "$tmp/unbound.log")"
	tap_done
	exit
fi
daemon_start "$tmp/authgate.conf" "$tmp/serve.log"
names=()
got=$(deliver early.outage.test)
case $got in "250 2.0.0 "?*) ok "with unbound up: 250"; names+=("${got##* }") ;; *) not_ok "with unbound up: 250" "$got" ;; esac

stop_unbound
got=$(deliver late.outage.test)
case $got in "451 4.7.24 "*) ok "unbound stopped, a sender not looked up yet: 451 4.7.24" ;; *) not_ok "unbound stopped: 451 4.7.24" "$got" ;; esac
got=$(deliver early.outage.test)
case $got in "250 2.0.0 "?*) ok "unbound stopped, a sender in the cache: still 250"; names+=("${got##* }") ;; *) not_ok "unbound stopped, cached sender: 250" "$got" ;; esac

start_unbound || not_ok "unbound starts again" "$(tail -3 "$tmp/unbound.log")"
got=$(deliver late.outage.test)
case $got in "250 2.0.0 "?*) ok "unbound back: the refused sender's next try is accepted"; names+=("${got##* }") ;; *) not_ok "unbound back: 250" "$got" ;; esac

daemon_stop
expect_eq "the daemon exits 0" 0 "$daemon_status"

stop_unbound
printf '%s\n' "slow.outage.test TIMEOUT" "quick.outage.test TXT v=spf1 ip4:127.0.0.0/8 -all" \
	"slowfail.outage.test DELAY 300 v=spf1 -all" "slowdata.outage.test DELAY 300 v=spf1 -all" \
	"stale.outage.test DELAY 300 v=spf1 -all" >"$tmp/records"
$PY "$top/tests/lib/dkim_dns_server.py" "$tmp/records" "$tmp/dns.port" &
ub=$!
for _ in $(seq 50); do [ -s "$tmp/dns.port" ] && break; sleep 0.1; done
sed -i "s/^dns.servers = .*/dns.servers = 127.0.0.1:$(cat "$tmp/dns.port")/" "$tmp/authgate.conf"
echo "limits.message_size = 65536" >>"$tmp/authgate.conf"
daemon_start "$tmp/authgate.conf" "$tmp/serve.log"
for round in 1 2 3; do
	got=$(deliver slow.outage.test)
	case $got in "451 4.7.24 "*) ok "round $round: a sender whose lookup times out: 451 4.7.24" ;;
	*) not_ok "round $round: lookup timing out: 451 4.7.24" "$got" ;; esac
	got=$(deliver quick.outage.test)
	case $got in "250 2.0.0 "?*) ok "round $round: after that timeout, a sender whose record answers: 250"
		names+=("${got##* }") ;;
	*) not_ok "round $round: after a timeout, an answering sender: 250" "$got" ;; esac
done

# An SPF fail that comes while a BDAT chunk (not LAST) larger than
# limits.message_size is still arriving: the transaction is refused at
# MAIL, which is its one log line; the chunk's end gets 552 and no second
# line.
got=$($PY - "$port" "$top/tests/lib" <<'EOF'
import sys, time
sys.path.insert(0, sys.argv[2])
from smtp_conn import Conn
c = Conn('127.0.0.1', int(sys.argv[1]), timeout=30)
reply = c.reply
reply()
c.send(b'EHLO mail.slowfail.outage.test\r\n'); reply()
# One write: the worker takes all three commands before any answer.
n = 100000
c.send(b'MAIL FROM:<user@slowfail.outage.test>\r\nRCPT TO:<b@example.net>\r\nBDAT %d\r\n' % n)
mail, rcpt = reply(), reply()
for _ in range(10):  # 3 s: the record's answer comes 0.3 s after MAIL
    c.send(b'x' * (n // 10)); time.sleep(0.3)
bdat = reply()
c.send(b'QUIT\r\n'); reply()
print(mail[:3], rcpt[:3], bdat[:9])
EOF
)
expect_eq "SPF fail during a BDAT chunk over the size limit: MAIL 250, RCPT 250, the chunk 552" \
	"250 250 552 5.3.4" "$got"

# The same fail while a DATA message is still arriving: the message's
# verdict sees it and refuses the message; that is the transaction's one
# line (not a second one at the fail).
got=$($PY - "$port" "$top/tests/lib" <<'EOF'
import sys, time
sys.path.insert(0, sys.argv[2])
from smtp_conn import Conn
c = Conn('127.0.0.1', int(sys.argv[1]), timeout=30)
reply = c.reply
reply()
c.send(b'EHLO mail.slowdata.outage.test\r\n'); reply()
c.send(b'MAIL FROM:<user@slowdata.outage.test>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n')
mail, rcpt, data = reply(), reply(), reply()
c.send(b'From: <user@slowdata.outage.test>\r\nSubject: slow\r\n\r\n')
time.sleep(2)  # the record's answer comes 0.3 s after MAIL
c.send(b'body\r\n.\r\n')
end = reply()
c.send(b'QUIT\r\n'); reply()
print(mail[:3], rcpt[:3], data[:3], end[:3])
EOF
)
expect_eq "SPF fail while DATA is arriving: MAIL 250, RCPT 250, DATA 354, the message 550" \
	"250 250 354 550" "$got"
# A transaction abandoned (RSET) while its SPF lookup is out, and a new
# one begun at once: the old fail, when it comes, is not the new one's.
got=$($PY - "$port" "$top/tests/lib" <<'EOF'
import re, sys, time
sys.path.insert(0, sys.argv[2])
from smtp_conn import Conn
c = Conn('127.0.0.1', int(sys.argv[1]), timeout=30)
reply = c.reply
reply()
c.send(b'EHLO mail.quick.outage.test\r\n'); reply()
c.send(b'MAIL FROM:<user@stale.outage.test>\r\nRSET\r\nMAIL FROM:<user@quick.outage.test>\r\n'
          b'RCPT TO:<b@example.net>\r\n')
codes = [reply()[:3] for _ in range(4)]
time.sleep(1)  # the stale fail comes 0.3 s after the first MAIL
c.send(b'DATA\r\n'); codes.append(reply()[:3])
c.send(b'From: <user@quick.outage.test>\r\nSubject: stale\r\n\r\nbody\r\n.\r\n')
end = reply()
m = re.search(r'queued as (\S+)', end)
c.send(b'QUIT\r\n'); reply()
print(" ".join(codes), end[:3], m.group(1) if m else '')
EOF
)
case $got in "250 250 250 250 354 250 "?*) ok "the late SPF fail of a transaction abandoned with RSET does not refuse the next one"
	names+=("${got##* }") ;;
*) not_ok "a late SPF fail of an abandoned transaction" "$got" ;; esac
daemon_stop # every log line is out after it
lines=$(grep -c 'from=<user@slowfail.outage.test>' "$tmp/serve.log")
grep -q 'from=<user@slowfail.outage.test>.*verdict=drop(at MAIL) code="550 5.7.23"' "$tmp/serve.log" && [ "$lines" = 1 ] \
	&& ok "... and one log line for it, drop(at MAIL)" \
	|| not_ok "one drop(at MAIL) line for the slow SPF fail" "$(grep 'slowfail' "$tmp/serve.log")"
lines=$(grep -c 'from=<user@slowdata.outage.test>' "$tmp/serve.log")
grep -q 'from=<user@slowdata.outage.test>.*verdict=drop code="550 ' "$tmp/serve.log" && [ "$lines" = 1 ] \
	&& ok "the SPF fail during DATA: one log line, the verdict's" \
	|| not_ok "one line for the SPF fail during DATA" "$(grep 'slowdata' "$tmp/serve.log")"
# The exit lines count transactions, one per log line: the chunk's 552
# does not count the transaction refused at MAIL a second time.
counted=$(sed -n 's/.*stopped: \([0-9]*\) transactions.*/\1/p' "$tmp/serve.log" | awk '{s += $1} END {print s + 0}')
expect_eq "the exit lines count each transaction once, as many as its log lines" \
	"$(grep -c ' verdict=' "$tmp/serve.log")" "$counted"
missing=0
for n in "${names[@]}"; do [ -s "$tmp/spool/new/$n" ] || missing=$((missing + 1)); done
expect_eq "every 250 is in new/ (${#names[@]})" 0 "$missing"
expect_eq "nothing else is in new/" "${#names[@]}" "$(ls "$tmp/spool/new" | wc -l)"
expect_eq "the daemon exits 0" 0 "$daemon_status"
tap_done
