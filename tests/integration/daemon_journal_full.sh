#!/usr/bin/env bash
# Integration: spool.sync = journal with a journal that fills up. The
# spool is a tiny tmpfs that is full, so the publisher cannot empty the
# journal (1 MiB) into new/:
#   - messages are acknowledged (250) while the journal has room; then a
#     message waits for room for 10 s and is told 452 4.3.1, with a log
#     line that says the same;
#   - timeouts.data_term (5 s here) does not cut a wait for room short:
#     the spool write has begun, so only its own reply may tell;
#   - a client that leaves while its message waits for room: the session
#     lives on until the wait ends, the message has its line, and the
#     daemon serves on;
#   - a SIGTERM while a message waits for room does not cut it short with
#     421 past timeouts.drain (1 s here): the message gets its own reply
#     (452), its log line matches, and the daemon exits 0;
#   - once the spool has room, the next start publishes exactly the
#     acknowledged messages: every 250's queue name is in new/, whole,
#     and nothing told 452 is.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
private_mounts "$@"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/authgate-jfull.XXXXXX)
mounted=
cleanup() { daemon_kill; [ -n "$mounted" ] && umount "$mounted"; rm -rf "$tmp"; }
trap cleanup EXIT
if [ "$(id -u)" != 0 ] || ! { mkdir -p "$tmp/tiny" && mount -t tmpfs -o size=64k tmpfs "$tmp/tiny"; }; then
	skip "journal full" "needs root to mount a tmpfs"
	tap_done
	exit
fi
mounted=$tmp/tiny
port=$(free_port)
export PYTHONPATH=$top/tests/lib
$PY - "$tmp" <<'PYEOF'
import sys
import dkim_fixture as fx
tmp = sys.argv[1]
open(tmp + '/zone', 'w').write(f'example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"\n{fx.KEY_RR}\n')
body = "".join("line %d of a message that fills the journal\r\n" % i for i in range(300))
msg = f"From: alice@example.org\r\nTo: bob@example.net\r\nSubject: t\r\n\r\n{body}".encode()
open(tmp + '/m.eml', 'wb').write(fx.signature(msg) + msg)
PYEOF
printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.test" "spool = $tmp/tiny/spool" \
	"spool.sync = journal" "spool.journal = $tmp/journal" "spool.journal_size = 1M" \
	"limits.message_size = 64K" "dns.zone = $tmp/zone" "dns.servers = 127.0.0.1:9" \
	"xdp.interface = none" "workers = 1" "timeouts.drain = 1s" "timeouts.data_term = 5s" \
	"log.format = json" >"$tmp/a.conf"

# deliver → "CODE STATUS SECONDS"; the queue name of a 250 goes to acked
deliver() {
	$PY - "$port" "$tmp/m.eml" "$tmp/acked" <<'PYEOF'
import smtplib, sys, time
port, path, acked = int(sys.argv[1]), sys.argv[2], sys.argv[3]
s = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.example.org', timeout=60)
s.ehlo()
s.mail('alice@example.org'); s.rcpt('bob@example.net')
t = time.time()
try:
    code, text = s.data(open(path, 'rb').read())
except (smtplib.SMTPDataError, smtplib.SMTPServerDisconnected) as e:
    code, text = getattr(e, 'smtp_code', 0), getattr(e, 'smtp_error', b'- disconnected')
text = text.decode() if isinstance(text, bytes) else str(text)
print(code, text.split()[0], "%.1f" % (time.time() - t))
if code == 250:
    open(acked, 'a').write(text.split()[-1] + "\n")
PYEOF
}

: >"$tmp/acked"
daemon_start "$tmp/a.conf" "$tmp/serve.log"
acks=0 first452=
for i in $(seq 200); do
	r=$(deliver)
	case $r in
	"250 2.0.0 "*) acks=$((acks + 1)) ;;
	*) first452=$r; break ;;
	esac
done
wait_log "$tmp/serve.log" "publishing into the spool: No space left on device" 1 &&
	ok "the full spool: the publisher says why it cannot publish" ||
	not_ok "the publisher's line about the full spool" "$(grep -v '^{' "$tmp/serve.log" | tail -3)"
secs=${first452##* }
case $first452 in
"452 4.3.1 "*)
	if awk -v s="$secs" 'BEGIN { exit !(s >= 9 && s <= 20) }'; then
		ok "journal full after $acks messages: the next waits ${secs} s for room, then 452 4.3.1"
	else
		not_ok "journal full: 452 after waiting about 10 s" "$first452"
	fi ;;
*) not_ok "journal full: 452 4.3.1" "after $acks 250s: ${first452:-no other reply in 200 messages}" ;;
esac

# A client that sends its message and leaves while it waits for room:
# the session lives on until the journal answers; then the message's one
# line says what became of it (452 4.3.1; "abandoned" should the close
# be read before the spool write began), and the daemon serves on.
$PY - "$port" "$tmp/m.eml" <<'PYEOF'
import smtplib, sys, time
port, msg = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
assert not any(l.startswith(b".") for l in msg.split(b"\r\n"))
s = smtplib.SMTP('127.0.0.1', port, local_hostname='leaver.example.org', timeout=60)
s.ehlo()
s.mail('alice@example.org'); s.rcpt('bob@example.net')
assert s.docmd('DATA')[0] == 354
s.send(msg + b".\r\n")
time.sleep(2)
s.close()
PYEOF
leaver='"helo":"leaver.example.org"'
wait_log "$tmp/serve.log" "$leaver" 1
case $(grep "$leaver" "$tmp/serve.log") in
*'"code":"452 4.3.1"'* | *'"verdict":"abandoned"'*)
	if kill -0 "$daemon_pid" 2>/dev/null; then
		ok "a client that leaves while its message waits for room: one line ($(grep -o '"code":"[^"]*"' <<<"$(grep "$leaver" "$tmp/serve.log")")), the daemon runs on"
	else
		not_ok "the daemon runs on after a client left during its spool write" "$(grep -v '^{' "$tmp/serve.log" | tail -5)"
	fi ;;
*) not_ok "a client that left while its message waited: its line" "$(grep "$leaver" "$tmp/serve.log"; grep -v '^{' "$tmp/serve.log" | tail -5)" ;;
esac

# A message waiting for room when SIGTERM comes: its own reply, not 421.
deliver >"$tmp/last" &
client=$!
sleep 2
t0=$(date +%s)
daemon_stop
t1=$(date +%s)
wait "$client"
case $(cat "$tmp/last") in
"452 4.3.1 "*) ok "SIGTERM while a message waits for journal room: it still gets its own reply ($(cat "$tmp/last"))" ;;
*) not_ok "the waiting message gets 452, not 421, on SIGTERM" "$(cat "$tmp/last")" ;;
esac
expect_eq "... and the daemon exits 0 (after $((t1 - t0)) s)" 0 "$daemon_status"
n452=$(grep -v "$leaver" "$tmp/serve.log" | grep -c '"code":"452 4.3.1"')
n421=$(grep -c '"code":"421' "$tmp/serve.log")
expect_eq "the log's codes are the replies sent: two 452 4.3.1, no 421" "2 0" "$n452 $n421"
expect_eq "... and the client that left has one line" 1 "$(grep -c "$leaver" "$tmp/serve.log")"
expect_eq "the log has one 250 line per 250 sent" "$acks" "$(grep -c '"verdict":"accept","code":"250 2.0.0"' "$tmp/serve.log")"

# Room again: the next start publishes exactly what was acknowledged.
mount -o remount,size=8m "$tmp/tiny"
daemon_start "$tmp/a.conf" "$tmp/serve2.log"
daemon_stop
expect_eq "with room, new/ holds exactly the $acks acknowledged messages" \
	"$(sort "$tmp/acked" | tr '\n' ' ')" "$(ls "$tmp/tiny/spool/new" | sort | tr '\n' ' ')"
whole=1
for f in "$tmp/tiny/spool/new"/*; do tail -c 60 "$f" | grep -q "line 299 of a message" || whole=0; done
expect_eq "every one whole" 1 "$whole"
tap_done
