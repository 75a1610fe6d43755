#!/usr/bin/env bash
# Integration: the daemon out of file descriptors. Under a descriptor
# limit far below limits.sessions (prlimit), it:
#   - says so at start (the limit, limits.sessions, what it needs itself);
#   - greets the clients it has room for, and tells each of the others
#     "421 4.3.2" (a spare descriptor, given up for a moment, takes one
#     waiting client each time accepting fails) rather than leave it
#     hanging without a word;
#   - does not spin while no descriptor is free: its worker retries
#     accepting every 100 ms, so the process uses a small fraction of a
#     core while the limit is reached;
#   - serves a new client as soon as descriptors are free again, counts
#     the failures in its exit line, and exits 0 on SIGTERM.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3
LIMIT=48
CLIENTS=80

if ! command -v prlimit >/dev/null; then
	skip "descriptor limit" "needs prlimit (util-linux)"
	tap_done
	exit
fi
tmp=$(mktemp -d /tmp/authgate-fdlimit.XXXXXX)
cleanup() { daemon_kill; [ -n "${KEEP:-}" ] || rm -rf "$tmp"; }
trap cleanup EXIT
port=$(free_port)
echo 'example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"' >"$tmp/zone"
printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.test" "spool = $tmp/spool" \
	"dns.zone = $tmp/zone" "dns.servers = 127.0.0.1:9" "xdp.interface = none" "workers = 1" \
	"limits.sessions_per_ip = 1000" >"$tmp/a.conf"
# the daemon itself under the limit (exec: the pid stays the daemon's)
printf '#!/bin/sh\nexec prlimit --nofile=%s:%s %s "$@"\n' "$LIMIT" "$LIMIT" "$AUTHGATE" >"$tmp/limited"
chmod +x "$tmp/limited"
AUTHGATE=$tmp/limited daemon_start "$tmp/a.conf" "$tmp/serve.log" ||
	{ not_ok "the daemon starts under a limit of $LIMIT descriptors" "$(tail -5 "$tmp/serve.log")"; tap_done; exit; }

grep -q "the descriptor limit ($LIMIT) is below limits.sessions (20000)" "$tmp/serve.log" &&
	ok "at start: the descriptor limit below limits.sessions is logged" ||
	not_ok "a start-up line about the descriptor limit" "$(head -5 "$tmp/serve.log")"

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }

# CLIENTS connections at once; each reads its greeting (20 s at most). Those
# greeted 220 stay open while the daemon's CPU time is measured over 2 s,
# then a new client, after they close, must be served.
$PY - "$port" "$CLIENTS" "$tmp/held" <<'PYEOF' >"$tmp/greetings" &
import socket, sys, time
port, n, held = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
conns = [socket.create_connection(('127.0.0.1', port), 10) for _ in range(n)]
got = {}
deadline = time.time() + 20
for c in conns:
    c.settimeout(max(0.1, deadline - time.time()))
    try:
        g = c.recv(512).decode('latin-1').split('\r\n')[0]
    except socket.timeout:
        g = 'nothing'
    key = g[:9] if g.startswith(('220', '421')) else g
    got[key] = got.get(key, 0) + 1
print(' '.join('%s=%d' % kv for kv in sorted(got.items())), flush=True)
open(held, 'w').write('holding\n')
time.sleep(3)
for c in conns:
    c.close()
PYEOF
client=$!
wait_log "$tmp/held" holding 1
t0=$(cpu_ticks)
sleep 2
t1=$(cpu_ticks)
kill -USR1 "$daemon_pid"
wait "$client"
greetings=$(cat "$tmp/greetings")
case " $greetings " in
*" nothing="*) not_ok "every client hears something within 20 s" "$greetings" ;;
*"421 4.3.2="*) ok "clients past the limit are told 421 4.3.2, none left without a word ($greetings)" ;;
*) not_ok "some clients told 421 4.3.2" "$greetings" ;;
esac
n220=$(sed -n 's/.*220 mx.te=\([0-9]*\).*/\1/p' <<<"$greetings")
[ "${n220:-0}" -ge 20 ] && ok "the clients it has room for are greeted 220 (${n220})" ||
	not_ok "at least 20 clients greeted 220" "$greetings"
ticks=$((t1 - t0))
hz=$(getconf CLK_TCK)
if [ "$ticks" -lt $((hz / 2)) ]; then
	ok "no descriptor free: the daemon used $ticks of ${hz} ticks a second over 2 s (no spinning)"
else
	not_ok "the daemon does not spin while out of descriptors" "$ticks ticks of CPU in 2 s (${hz}/s)"
fi
sleep 1 # the daemon sees the held connections close
kill -USR1 "$daemon_pid"
sleep 0.5
reply=$($PY - "$port" <<'PYEOF'
import smtplib, sys
s = smtplib.SMTP('127.0.0.1', int(sys.argv[1]), local_hostname='client.example', timeout=20)
s.ehlo()
s.mail('alice@example.org'); s.rcpt('bob@example.net')
code, text = s.data(b'From: alice@example.org\r\nSubject: t\r\n\r\nafter the limit\r\n')
print(code, text.decode().split()[0])
s.quit()
PYEOF
)
expect_eq "descriptors free again: a new client is served" "250 2.0.0" "$reply"
held=$(grep ' status: ' "$tmp/serve.log" | head -1)
case $held in
*" status: ${n220:-x} sessions, "*" file descriptors"*) ok "SIGUSR1 at the limit: ${held#* status: }" ;;
*) not_ok "the status line at the limit shows the $n220 sessions held" "$held" ;;
esac
daemon_stop
expect_eq "SIGTERM: exit 0" 0 "$daemon_status"
failed=$(sed -n 's/.*accepting failed \([0-9]*\) times for want of descriptors.*/\1/p' "$tmp/serve.log")
[ "${failed:-0}" -gt 0 ] && ok "the exit line counts the failed accepts ($failed)" ||
	not_ok "failed accepts counted at exit" "$(grep 'connections accepted' "$tmp/serve.log")"
tap_done
