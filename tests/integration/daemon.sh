#!/usr/bin/env bash
# Integration: `authgate serve` end to end on loopback, with real clients
# (swaks, Python smtplib, a raw pipelining socket) and messages really
# signed by dkimpy. Every verdict path, the spool content, drop actions
# (a quarantine on a mount of its own too), limits, SIGHUP and the
# SIGTERM drain.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
private_mounts "$@"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3
export PYTHONPATH=$top/tests/lib # spool_wait.py

for tool in swaks; do
	command -v $tool >/dev/null || { skip "daemon" "$tool is not installed (make deps)"; tap_done; exit; }
done

tmp=$(mktemp -d /tmp/authgate-daemon.XXXXXX)
qmount=
cleanup() { daemon_kill; [ -n "$qmount" ] && umount "$qmount"; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 143' TERM INT # tests/run.sh's timeout: still unmount and clean up
port=$(free_port)

# Zone: example.org passes SPF from loopback and publishes the DKIM key;
# fail.example passes nothing; slow.example times out (temperror).
$PY - "$top/tests/lib" "$tmp" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import dkim_fixture as fx
tmp = sys.argv[2]
open(tmp + '/zone', 'w').write(f'''$TTL 300
example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"
{fx.KEY_RR}
fail.example. TXT "v=spf1 -all"
neutral.example. TXT "v=spf1 ?all"
slow.example. TIMEOUT
perm.example. TXT "v=spf1 ?all"
sel._domainkey.perm.example. TXT "v=DKIM1; k=rsa; p=%%%not-base64"
spfperm.example. TXT "v=spf1 frobnicate:x -all"
soft.example. TXT "v=spf1 ~all"
sel._domainkey.slowkey.example. TIMEOUT
''')
def msg(frm, body):
    return (f"From: {frm}\r\nTo: bob@example.net\r\nSubject: test\r\n"
            f"Message-ID: <1@example.org>\r\n\r\n{body}").encode()
good = msg("Alice <alice@example.org>", "Hello.\r\n.a line that starts with a dot\r\n..two\r\n")
sig = fx.signature(good)
open(tmp + '/good.eml', 'wb').write(sig + good)
open(tmp + '/tampered.eml', 'wb').write(sig + good.replace(b"Hello", b"Hellx"))
open(tmp + '/unsigned-neutral.eml', 'wb').write(msg("n@neutral.example", "no signature\r\n"))
open(tmp + '/unsigned-slow.eml', 'wb').write(msg("s@slow.example", "no signature\r\n"))
import dkim
def signed(frm, domain):
    m = msg(frm, "signed by %s\r\n" % domain)
    return dkim.sign(m, b"sel", domain.encode(), fx.KEY, include_headers=[b"from", b"to", b"subject"]) + m
open(tmp + '/perm-key.eml', 'wb').write(signed("p@perm.example", "perm.example"))
open(tmp + '/slow-key.eml', 'wb').write(signed("n@neutral.example", "slowkey.example"))
open(tmp + '/spf-permerror.eml', 'wb').write(msg("n@neutral.example", "no signature\r\n"))
EOF

write_conf() { # EXTRA_LINES...
	{
		echo "listen = 127.0.0.1:$port"
		echo "hostname = mx.test"
		echo "spool = $tmp/spool"
		echo "dns.zone = $tmp/zone"
		echo "dns.servers = 127.0.0.1:9"
		echo "dns.timeout = 300"
		echo "dns.tries = 1"
		echo "xdp.interface = none"
		echo "bpf.verdicts = no" # nothing pinned in the host's /sys/fs/bpf
		echo "workers = 2"
		[ -n "${SPOOL_SYNC:-}" ] && echo "spool.sync = $SPOOL_SYNC"
		# a small journal: each start writes all of it once
		[ "${SPOOL_SYNC:-}" = journal ] && printf '%s\n' "spool.journal_size = 4M" "limits.message_size = 1M"
		for l in "$@"; do echo "$l"; done
	} >"$tmp/authgate.conf"
}

start() { daemon_start "$tmp/authgate.conf" "$tmp/serve.log"; }

stop() { daemon_stop; stopped=$daemon_status; }

send() { # FROM MSGFILE [swaks options...] → last server reply line
	local from=$1 file=$2; shift 2
	swaks --server "127.0.0.1:$port" --helo mail.example.org --from "$from" --to bob@example.net \
		--data "@$file" "$@" 2>&1 | grep -E '^<[-*]' | grep -v -E '^<-  (220|221|250-|250 (2\.1|mx)|354)' | tail -1
}

write_conf
check "the daemon starts" start

reply=$(send alice@example.org "$tmp/good.eml")
case $reply in "<-  250 2.0.0 queued as "*) ok "signed, SPF pass: 250 after spooling" ;; *) not_ok "signed, SPF pass" "$reply" ;; esac
[ -z "$(ls -A "$tmp/spool/tmp")" ] && ok "nothing left in tmp/" || not_ok "nothing left in tmp/" "$(ls "$tmp/spool/tmp")"
# spool.sync = syncfs: each worker keeps 16 anonymous files opened ahead in
# tmp/ (docs/architecture.md), and a full pool opens nothing more (the idle
# daemon does not spin); fsync mode opens none. Either way tmp/ holds the
# directory's flush file, anonymous too.
pool_files() { ls -l "/proc/$daemon_pid/fd" 2>/dev/null | grep -c -- "-> $tmp/spool/tmp/#"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$daemon_pid/stat"; }
case ${SPOOL_SYNC:-fsync} in
syncfs)
	for i in $(seq 100); do [ "$(pool_files)" -ge 33 ] && break; sleep 0.1; done
	expect_eq "16 anonymous files opened ahead for each of the 2 workers, and the flush file" \
		33 "$(pool_files)"
	t0=$(cpu_ticks)
	sleep 2
	ticks=$(($(cpu_ticks) - t0))
	[ "$ticks" -lt $(($(getconf CLK_TCK) / 2)) ] && ok "a full pool opens no more (idle: $ticks ticks in 2 s)" ||
		not_ok "the idle daemon does not spin on its pool" "$ticks ticks of CPU in 2 s"
	;;
fsync) expect_eq "fsync: no anonymous files opened ahead, only the flush file" 1 "$(pool_files)" ;;
esac

reply=$(send alice@example.org "$tmp/tampered.eml")
expect_eq "tampered body: 550 5.7.20 names DKIM" "<** 550 5.7.20 failed: DKIM fail" "$reply"
# the command the 550 answers: the one swaks sent just before it
refused_at=$(swaks --server "127.0.0.1:$port" --helo mail.example.org --from user@fail.example \
	--to bob@example.net --data "@$tmp/good.eml" 2>&1 | grep -E '^ *(->|<)' | grep -B1 '^<\*\* 550' | tr '\n' '|')
case $refused_at in " -> RCPT TO:<bob@example.net>|<** 550 5.7.23 SPF fail"*) ok "SPF fail is refused at RCPT with 5.7.23" ;;
*) not_ok "SPF fail at RCPT" "$refused_at" ;; esac
reply=$(send n@neutral.example "$tmp/unsigned-neutral.eml")
case $reply in "<** 550 5.7.26 no check passed"*) ok "nothing passed: 550 5.7.26" ;; *) not_ok "nothing passed" "$reply" ;; esac
reply=$(send s@slow.example "$tmp/unsigned-slow.eml")
case $reply in "<** 451 4.7.24 temporary error"*) ok "DNS timeout, nothing passed: 451 4.7.24" ;; *) not_ok "tempfail" "$reply" ;; esac
reply=$(send p@perm.example "$tmp/perm-key.eml")
case $reply in "<** 550 5.7.21 failed: DKIM permerror"*) ok "DKIM key unusable (permerror), SPF neutral: 550 5.7.21" ;; *) not_ok "DKIM permerror: 5.7.21" "$reply" ;; esac
reply=$(send x@spfperm.example "$tmp/spf-permerror.eml")
case $reply in "<** 550 5.7.24 failed: SPF permerror"*) ok "SPF record broken (permerror), Sender ID neutral: 550 5.7.24" ;; *) not_ok "SPF permerror: 5.7.24" "$reply" ;; esac
reply=$(send n@neutral.example "$tmp/slow-key.eml")
case $reply in "<** 451 4.7.0 temporary error: DKIM temperror"*) ok "only DKIM's key lookup times out, nothing passed: 451 4.7.0" ;; *) not_ok "DKIM temperror: 451 4.7.0" "$reply" ;; esac
reply=$(send alice@example.org "$tmp/good.eml" --pipeline)
case $reply in "<-  250 2.0.0 queued as "*) ok "PIPELINING client accepted" ;; *) not_ok "PIPELINING" "$reply" ;; esac

# SUBMITTER (RFC 4405): checked at MAIL time, and after DATA against the PRA.
sub=$($PY - "$port" "$tmp/good.eml" <<'EOF'
import smtplib, sys
port, msg = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
out = []
for submitter in ("x@fail.example", "alice@example.org", "someone@example.org"):
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.example.org')
    s.ehlo()
    code, _ = s.docmd("MAIL FROM:<alice@example.org> SUBMITTER=%s" % submitter)
    code, text = s.rcpt('bob@example.net')
    if code == 250:
        try:
            code, text = s.data(msg)
        except smtplib.SMTPDataError as e:
            code, text = e.smtp_code, e.smtp_error
    out.append("%s:%d %s" % (submitter, code, text.decode().split()[0]))
    s.quit()
print(" | ".join(out))
EOF
)
expect_eq "SUBMITTER: refused at RCPT when Sender ID fails for it; accepted when it is the PRA; 550 when the PRA differs" \
	"x@fail.example:550 5.7.23 | alice@example.org:250 2.0.0 | someone@example.org:550 5.7.23" "$sub"

# Python smtplib: two messages on one connection; the spooled copy must be
# the prepended headers plus the message exactly as sent (after unstuffing).
if $PY - "$port" "$tmp/good.eml" "$tmp/spool/new" <<'EOF'
import os, smtplib, sys, spool_wait
port, path, new = int(sys.argv[1]), sys.argv[2], sys.argv[3]
msg = open(path, 'rb').read()
before = set(os.listdir(new))
s = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.example.org')
s.ehlo()
for _ in range(2):
    s.mail('alice@example.org'); s.rcpt('bob@example.net')
    code, text = s.data(msg)
    assert code == 250, (code, text)
s.quit()
added = spool_wait.added(new, before, 2)
assert len(added) == 2, added
for name in added:
    spooled = open(os.path.join(new, name), 'rb').read()
    assert spooled.startswith(b"Return-Path: <alice@example.org>\r\nReceived-SPF: pass"), spooled[:80]
    assert b"\r\nAuthentication-Results: mx.test; spf=pass" in spooled
    i = spooled.index(b"DKIM-Signature:")
    assert spooled[i:] == msg, (spooled[i:][-80:], msg[-80:])
EOF
then ok "smtplib: two messages on one connection; spooled with headers prepended, body byte-identical"
else not_ok "smtplib delivery and spool content"; fi
# Commands right behind the final dot, in the same write: they are read
# with the message's last bytes and still answered, in order, after it.
if $PY - "$port" "$tmp/good.eml" "$tmp/spool/new" <<'EOF'
import os, socket, sys, spool_wait
port, msg, new = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), sys.argv[3]
wire = b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in msg.split(b"\r\n")[:-1])
before = set(os.listdir(new))
c = socket.create_connection(('127.0.0.1', port)); c.settimeout(20)
f = c.makefile('rb'); f.readline()
c.sendall(b"EHLO mail.example.org\r\n")
while not f.readline().startswith(b"250 "): pass
c.sendall(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n")
replies = [f.readline() for _ in range(3)]
assert replies[2].startswith(b"354 "), replies
c.sendall(wire + b".\r\nRSET\r\nNOOP\r\nQUIT\r\n")
replies = [f.readline() for _ in range(4)]
assert replies[0].startswith(b"250 2.0.0 queued as "), replies
assert replies[1].startswith(b"250 ") and replies[2].startswith(b"250 "), replies
assert replies[3].startswith(b"221 "), replies
added = spool_wait.added(new, before, 1)
assert added == [replies[0].split()[-1].decode()], (added, replies[0])
spooled = open(os.path.join(new, added[0]), 'rb').read()
assert spooled[spooled.index(b"DKIM-Signature:"):] == msg
EOF
then ok "commands in the same write as the final dot: answered after the 250, message spooled byte-identical"
else not_ok "commands pipelined behind the final dot"; fi
grep -q 'verdict=accept code="250 2.0.0"' "$tmp/serve.log" && grep -q 'spf=pass sender-id=pass dkim=pass' "$tmp/serve.log" \
	&& ok "one log line per transaction with all three results" || not_ok "transaction log" "$(tail -5 "$tmp/serve.log")"
# Arenas: a session's second message takes the arena its first one gave
# back to the worker's pool. While that message is open, SIGUSR1's status
# line counts the arena as mapped but no longer pooled (all else idle).
$PY "$top/tests/lib/smtp_talk.py" "$port" "EHLO arena.client.test" "MAIL FROM:<alice@example.org>" \
	"RCPT TO:<bob@example.net>" DATA 'Subject: one\n\none\n.\n' WAIT "MAIL FROM:<alice@example.org>" \
	"RCPT TO:<bob@example.net>" DATA NOTE:held "UNTIL:$tmp/arena.go" 'Subject: two\n\ntwo\n.\n' WAIT QUIT \
	>"$tmp/arena.out" &
talk=$!
wait_log "$tmp/arena.out" '^held' 1
n=$(grep -c ' status: ' "$tmp/serve.log")
kill -USR1 "$daemon_pid"
wait_log "$tmp/serve.log" ' status: ' $((n + 1))
arenas=$(grep ' status: ' "$tmp/serve.log" | tail -1 |
	sed -n 's/.* \([0-9]*\) message arenas mapped (\([0-9]*\) of them pooled).*/\1 \2/p')
touch "$tmp/arena.go"
wait "$talk"
read -r mapped pooled <<<"$arenas"
[ -n "$arenas" ] && [ $((mapped - pooled)) = 1 ] &&
	ok "SIGUSR1: the one arena in use is mapped, not pooled ($mapped mapped, $pooled pooled)" ||
	not_ok "status line: arenas mapped minus pooled is the one in use" "$arenas | $(tr '\n' '|' <"$tmp/arena.out")"
stop
expect_eq "SIGTERM drains and exits 0" 0 "$stopped"
copied=$(sed -n 's/.*transactions, \([0-9]*\) message bytes copied in userspace.*/\1/p' "$tmp/serve.log" | tail -1)
expect_eq "no userspace copy of message bytes (debug counter)" 0 "$copied"
if [ "${SPOOL_SYNC:-}" = syncfs ]; then
	rounds=$(sed -n 's/.*spool sync: \([0-9]*\) syncfs rounds.*/\1/p' "$tmp/serve.log" | tail -1)
	[ "${rounds:-0}" -gt 0 ] && ok "every 250 waited for syncfs rounds ($rounds)" \
		|| not_ok "syncfs rounds" "$(grep 'spool sync' "$tmp/serve.log")"
fi
if [ "${SPOOL_SYNC:-}" = journal ]; then
	rounds=$(sed -n 's/.*spool sync: \([0-9]*\) journal rounds.*/\1/p' "$tmp/serve.log" | tail -1)
	[ "${rounds:-0}" -gt 0 ] && ok "every 250 waited for a journal round ($rounds)" \
		|| not_ok "journal rounds" "$(grep 'spool sync' "$tmp/serve.log")"
	accepted=$(grep -c 'verdict=accept code="250 2.0.0"' "$tmp/serve.log")
	expect_eq "the drain published every accepted message from the journal into new/" \
		"$accepted messages published into the spool, 0 of them recovered at start" \
		"$(sed -n 's/.*spool journal: \([0-9]* messages published.*\)/\1/p' "$tmp/serve.log" | tail -1)"
	expect_eq "... and they are all in new/" "$accepted" "$(ls "$tmp/spool/new" | wc -l)"
fi
# The sum over the workers' exit lines of the number before/after a phrase.
sum_of() { grep -o "$1" | awk -v f="$2" '{s += $f} END {print s + 0}'; }
pooled=$(sum_of '[0-9]* command reads from the shared pool' 1 <"$tmp/serve.log")
[ "$pooled" -gt 0 ] && ok "commands were read through the provided-buffer ring ($pooled reads)" \
	|| not_ok "provided-buffer reads" "$(grep 'connections accepted' "$tmp/serve.log")"
direct=$(grep -o '[0-9]* log lines written at once, [0-9]* log bytes lost' "$tmp/serve.log" | awk '{d += $1; l += $7} END {print d + 0, l + 0, NR}')
expect_eq "transaction lines went out through the ring: none written at once, none lost (2 workers)" "0 0 2" "$direct"

# A pool of one 2 KB buffer: a 6 KB pipelined burst (two whole transactions,
# each with 60 recipients and its BDAT chunk right behind the command, then
# QUIT) runs the pool dry. Nothing may be lost: every reply in order, both
# messages spooled byte-identical, and the daemon says the pool ran dry.
burst() { # → "ok" or what went wrong
	$PY - "$port" "$tmp/good.eml" "$tmp/spool/new" <<'PYEOF'
import os, socket, sys, spool_wait
port, msg, new = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), sys.argv[3]
before = set(os.listdir(new))
c = socket.create_connection(('127.0.0.1', port)); c.settimeout(20)
f = c.makefile('rb'); f.readline()
c.sendall(b"EHLO mail.example.org\r\n")
while not f.readline().startswith(b"250 "): pass
rcpts = b"".join(b"RCPT TO:<bob%d@example.net>\r\n" % i for i in range(60))
one = b"MAIL FROM:<alice@example.org>\r\n" + rcpts + b"BDAT %d LAST\r\n" % len(msg) + msg
c.sendall(one + one + b"QUIT\r\n")
replies = [f.readline() for _ in range(2 * 62 + 1)]
for t in (0, 62):
    assert replies[t].startswith(b"250 2.1.0"), replies[t]
    assert all(r.startswith(b"250 2.1.5") for r in replies[t + 1:t + 61]), replies[t + 1:t + 61]
    assert replies[t + 61].startswith(b"250 2.0.0 queued"), replies[t + 61]
assert replies[-1].startswith(b"221 "), replies[-1]
added = spool_wait.added(new, before, 2)
assert len(added) == 2, added
for name in added:
    spooled = open(os.path.join(new, name), 'rb').read()
    assert spooled[spooled.index(b"DKIM-Signature:"):] == msg, name
print("ok")
PYEOF
}
# One daemon run with CONFIG_LINE: $burst_result, and the run's own log
# lines in $tmp/run.log (serve.log grows across runs).
burst_with() {
	write_conf "$1"
	local mark
	mark=$(wc -l <"$tmp/serve.log")
	start
	burst_result=$(burst 2>&1 | tail -1)
	stop
	tail -n "+$((mark + 1))" "$tmp/serve.log" >"$tmp/run.log"
}
burst_with "limits.command_buffers = 1"
expect_eq "pool of one buffer: a 6 KB pipelined burst of two BDAT transactions, nothing lost" ok "$burst_result"
# The copy counter's positive control: a BDAT chunk that arrives in the
# same read as its command is copied out of that read's buffer (the one
# copy docs/architecture.md admits), so here the counter must move.
copied=$(sed -n 's/.*transactions, \([0-9]*\) message bytes copied in userspace.*/\1/p' "$tmp/run.log" | tail -1)
[ "${copied:-0}" -gt 0 ] && ok "the copy counter counts: BDAT chunks behind their commands, $copied bytes copied" \
	|| not_ok "copy counter positive control" "$(grep 'message bytes copied' "$tmp/run.log")"
dry=$(sum_of 'pool dry [0-9]* times' 3 <"$tmp/run.log")
[ "$dry" -gt 0 ] && ok "the pool ran dry ($dry times) and the sessions read into buffers of their own" \
	|| not_ok "pool dry fallback was not exercised" "$(grep 'connections accepted' "$tmp/run.log")"
burst_with "limits.command_buffers = 0"
expect_eq "limits.command_buffers = 0: every session reads into its own buffer" ok "$burst_result"
expect_eq "limits.command_buffers = 0: no pooled reads" 0 \
	"$(sum_of '[0-9]* command reads from the shared pool' 1 <"$tmp/run.log")"

# Transaction lines of two workers into a log file opened without O_APPEND
# (`2>file`): none may overwrite another.
LOADGEN=${BUILD:+$top/$BUILD/bench/loadgen}
if [ -x "${LOADGEN:-}" ]; then
	write_conf
	"$AUTHGATE" serve -c "$tmp/authgate.conf" >"$tmp/trunc.log" 2>&1 &
	tpid=$!
	wait_port "$port"
	# The race is rare under load; the flag that prevents it is certain.
	flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$tpid/fdinfo/2")
	[ $(( 8#$flags & 8#2000 )) -ne 0 ] && ok "the daemon set O_APPEND on a log file opened without it" \
		|| not_ok "O_APPEND on stderr" "flags $flags"
	"$LOADGEN" --server "127.0.0.1:$port" --message "$tmp/good.eml" --sessions 20 --messages 25 \
		--pipelining >/dev/null 2>&1
	kill -TERM "$tpid"; wait "$tpid"
	expect_eq "2>file (no O_APPEND): all 500 transaction lines of 2 workers are in the log" 500 \
		"$(grep -c ' verdict=' "$tmp/trunc.log")"
else
	skip "log file without O_APPEND" "bench/loadgen is not built (make test-bins)"
fi

# Drop actions: discard answers 250 and keeps nothing; quarantine keeps it aside.
write_conf "policy.drop_action = discard"
start
before=$(ls "$tmp/spool/new" | wc -l)
reply=$(send alice@example.org "$tmp/tampered.eml")
case $reply in "<-  250 2.0.0 accepted"*) ok "discard: 250" ;; *) not_ok "discard" "$reply" ;; esac
expect_eq "discard: nothing spooled" "$before" "$(ls "$tmp/spool/new" | wc -l)"
# CHUNKING: the message in two BDAT chunks, pipelined with the envelope.
if $PY - "$port" "$tmp/good.eml" <<'EOF'
import socket, sys
port, msg = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
c = socket.create_connection(('127.0.0.1', port))
f = c.makefile('rb')
f.readline()
c.sendall(b"EHLO mail.example.org\r\n")
while not f.readline().startswith(b"250 "): pass
half = len(msg) // 2
c.sendall(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n" +
          b"BDAT %d\r\n" % half + msg[:half] + b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
replies = [f.readline() for _ in range(4)]
assert replies[2].startswith(b"250 2.0.0 %d octets" % half), replies
assert replies[3].startswith(b"250 2.0.0 "), replies
c.sendall(b"QUIT\r\n"); f.readline(); c.close()
EOF
then ok "BDAT chunks pipelined with the envelope"
else not_ok "BDAT chunks"; fi
# A BDAT chunk of a transaction abandoned with RSET must not become the
# start of the next message.
if $PY - "$port" "$tmp/good.eml" "$tmp/spool/new" <<'EOF'
import os, socket, sys, spool_wait
port, msg, new = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), sys.argv[3]
before = set(os.listdir(new))
c = socket.create_connection(('127.0.0.1', port)); c.settimeout(20)
f = c.makefile('rb'); f.readline()
c.sendall(b"EHLO mail.example.org\r\n")
while not f.readline().startswith(b"250 "): pass
c.sendall(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nBDAT 13\r\nSTALE-BYTES\r\nRSET\r\n")
replies = [f.readline() for _ in range(4)]
assert replies[2].startswith(b"250 2.0.0 13 octets"), replies
c.sendall(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nBDAT %d LAST\r\n" % len(msg) + msg)
replies = [f.readline() for _ in range(3)]
assert replies[2].startswith(b"250 2.0.0 "), replies
added = spool_wait.added(new, before, 1)
assert len(added) == 1, added
spooled = open(os.path.join(new, added[0]), 'rb').read()
assert b"STALE" not in spooled, spooled[:200]
c.sendall(b"QUIT\r\n"); f.readline(); c.close()
EOF
then ok "a BDAT chunk abandoned with RSET is not part of the next message"
else not_ok "stale BDAT bytes"; fi
stop
write_conf "policy.drop_action = quarantine" "limits.sessions_per_ip = 2"
start
reply=$(send alice@example.org "$tmp/tampered.eml")
case $reply in "<-  250 2.0.0 accepted as "*) ok "quarantine: 250" ;; *) not_ok "quarantine" "$reply" ;; esac
expect_eq "quarantine: spooled to quarantine/new" 1 "$(wait_files "$tmp/spool/quarantine/new" 1)"
# limits.sessions_per_ip = 2: the third concurrent connection gets 421.
third=$($PY - "$port" <<'EOF'
import socket, sys, time
port = int(sys.argv[1])
# Two sessions greeted with 220 (a session that just ended may still be
# counted for a moment: then try again), then a third.
for _ in range(100):
    keep = [socket.create_connection(('127.0.0.1', port)) for _ in range(2)]
    if all(k.recv(200).startswith(b"220 ") for k in keep):
        break
    for k in keep: k.close()
    time.sleep(0.1)
c = socket.create_connection(('127.0.0.1', port))
print(c.recv(200).decode().strip())
EOF
)
expect_eq "limits.sessions_per_ip: the third session gets 421 4.7.0" "421 4.7.0 mx.test Too many sessions from your address, try again later" "$third"
# SIGHUP: a new policy without a restart.
write_conf "policy.drop_action = reject"
reloads=$(grep -c "reload: policy" "$tmp/serve.log")
kill -HUP "$daemon_pid"
wait_log "$tmp/serve.log" "reload: policy" $((reloads + 1)) || not_ok "SIGHUP: no reload line in 30 s"
reply=$(send alice@example.org "$tmp/tampered.eml")
expect_eq "SIGHUP reloads the policy (reject again)" "<** 550 5.7.20 failed: DKIM fail" "$reply"
# policy.softfail and policy.permerror, at start and after a SIGHUP. A
# message signed by example.org (DKIM and Sender ID pass) with a MAIL
# FROM whose SPF is a softfail or a permerror: accepted exactly when that
# result counts as neutral.
# expect_spf_policy WHAT SOFT PERM: ok if the softfail sender's reply
# starts with SOFT and the permerror sender's with PERM
expect_spf_policy() {
	local soft perm
	soft=$(send s@soft.example "$tmp/good.eml")
	perm=$(send p@spfperm.example "$tmp/good.eml")
	case "$soft|$perm" in "$2"*"|$3"*) ok "$1" ;;
	*) not_ok "$1" "softfail: $soft; permerror: $perm" ;; esac
}
expect_spf_policy "defaults: an SPF softfail counts as neutral (250), a permerror as a fail (550 5.7.24)" \
	"<-  250 2.0.0 queued as " "<** 550 5.7.24 "
write_conf "policy.drop_action = reject" "policy.softfail = fail" "policy.permerror = neutral"
reloads=$(grep -c "reload: policy" "$tmp/serve.log")
kill -HUP "$daemon_pid"
wait_log "$tmp/serve.log" "reload: policy" $((reloads + 1)) || not_ok "SIGHUP: no reload line in 30 s"
expect_spf_policy "after SIGHUP: softfail = fail refuses (550 5.7.23), permerror = neutral accepts (250)" \
	"<** 550 5.7.23 " "<-  250 2.0.0 queued as "
# A burst of SIGHUPs, many arriving while a reload runs: every thread but
# the one waiting for signals blocks them, so none ends the process.
for i in $(seq 200); do kill -HUP "$daemon_pid"; sleep 0.001; done
sleep 0.5
reply=$(send alice@example.org "$tmp/good.eml")
case $reply in "<-  250 2.0.0 queued as "*) ok "200 SIGHUPs, a millisecond apart: still serving" ;; *) not_ok "SIGHUP burst" "$reply" ;; esac
stop
expect_eq "drain after reload exits 0" 0 "$stopped"
# The workers' exit lines count the per-address refusals apart from the
# refusals of a full server (there were none of those).
counts=$(grep -o '[0-9]* of them told 421 for limits.sessions, [0-9]* for limits.sessions_per_ip' "$tmp/serve.log" | tail -2 |
	awk '{full += $1; peer += $8} END {print NR, full + 0, (peer > 0 ? "some" : "none")}')
expect_eq "the exit lines count per-address refusals on their own" "2 0 some" "$counts"
# the same two keys read at start (the file still says fail and neutral)
start
expect_spf_policy "at start: policy.softfail = fail refuses (550 5.7.23), policy.permerror = neutral accepts (250)" \
	"<** 550 5.7.23 " "<-  250 2.0.0 queued as "
stop

# The quarantine on another mount of the same filesystem (a bind mount):
# nothing made in the main tmp/ can be linked into it (EXDEV), so its
# files are made in its own tmp/.
if [ "$(id -u)" = 0 ] && mkdir -p "$tmp/elsewhere" && mount --bind "$tmp/elsewhere" "$tmp/spool/quarantine"; then
	qmount=$tmp/spool/quarantine
	write_conf "policy.drop_action = quarantine"
	start
	reply=$(send alice@example.org "$tmp/tampered.eml")
	case $reply in "<-  250 2.0.0 accepted as "*) ok "quarantine on a bind mount: 250" ;; *) not_ok "quarantine on a bind mount: 250" "$reply" ;; esac
	expect_eq "quarantine on a bind mount: spooled to its new/" 1 "$(wait_files "$qmount/new" 1)"
	stop
	umount "$qmount"
	qmount=
else
	skip "quarantine on a bind mount" "needs root to mount"
fi

# STARTTLS (RFC 3207) with a throwaway certificate: a real TLS client
# delivers; a command pipelined after STARTTLS is never executed; the
# session starts over (EHLO again, STARTTLS no longer offered).
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$tmp/key.pem" -out "$tmp/cert.pem" \
	-days 2 -subj /CN=mx.test >/dev/null 2>&1
write_conf "tls.cert = $tmp/cert.pem" "tls.key = $tmp/key.pem"
start
if $PY - "$port" "$tmp/good.eml" <<'EOF'
import smtplib, socket, ssl, sys
port, msg = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.example.org')
code, ehlo = s.ehlo()
assert b'STARTTLS' in ehlo, ehlo
assert s.starttls(context=ctx)[0] == 220
code, ehlo = s.ehlo()
assert code == 250 and b'STARTTLS' not in ehlo, ehlo
s.mail('alice@example.org'); s.rcpt('bob@example.net')
code, text = s.data(msg)
assert code == 250 and text.startswith(b'2.0.0 queued'), (code, text)
s.quit()
# Injection: "STARTTLS\r\nNOOP" in one write; the NOOP must not run.
c = socket.create_connection(('127.0.0.1', port)); f = c.makefile('rb'); f.readline()
c.sendall(b'EHLO x\r\n')
while not f.readline().startswith(b'250 '): pass
c.sendall(b'STARTTLS\r\nNOOP\r\n')
assert f.readline().startswith(b'220 '), 'no 220'
t = ctx.wrap_socket(c, server_hostname='mx.test')
t.sendall(b'MAIL FROM:<a@example.org>\r\n'); t.settimeout(5)
assert t.recv(200) == b'503 5.5.1 Send HELO or EHLO first\r\n'  # state was reset, NOOP never answered
# The same in two writes: the NOOP comes after the daemon has read the
# STARTTLS (and perhaps sent its 220). It must not be answered in
# plaintext, nor run inside TLS: either the handshake takes it for
# garbage and fails, or it is dropped and the session starts over.
import time
c = socket.create_connection(('127.0.0.1', port)); c.settimeout(5)
def line():
    b = b''
    while not b.endswith(b'\n'):
        d = c.recv(1)
        assert d, ('closed', b)
        b += d
    return b
line()
c.sendall(b'EHLO x\r\n')
while not line().startswith(b'250 '): pass
c.sendall(b'STARTTLS\r\n'); time.sleep(0.3); c.sendall(b'NOOP\r\n')
assert line().startswith(b'220 '), 'no 220'
c.settimeout(0.5)
try:
    extra = c.recv(100, socket.MSG_PEEK)
except socket.timeout:
    extra = b''
assert extra == b'', ('a plaintext reply after the 220', extra)
c.settimeout(5)
try:
    t = ctx.wrap_socket(c, server_hostname='mx.test')
    t.sendall(b'MAIL FROM:<a@example.org>\r\n')
    got = t.recv(200)
except (ssl.SSLError, OSError):
    got = None  # the handshake failed on the NOOP's bytes: nothing ran
assert got in (None, b'503 5.5.1 Send HELO or EHLO first\r\n'), got
# STARTTLS with a transaction open: the handshake ends it (logged below).
def starttls_in_transaction(sender):
    c = socket.create_connection(('127.0.0.1', port)); f = c.makefile('rb'); f.readline()
    c.sendall(b'EHLO x\r\n')
    while not f.readline().startswith(b'250 '): pass
    for cmd in (b'MAIL FROM:<%s>' % sender, b'RCPT TO:<bob@example.net>'):
        c.sendall(cmd + b'\r\n'); assert f.readline().startswith(b'250 '), cmd
    c.sendall(b'STARTTLS\r\n')
    assert f.readline().startswith(b'220 '), 'no 220'
    return c
t = ctx.wrap_socket(starttls_in_transaction(b'tls-abandon@example.org'), server_hostname='mx.test')
t.settimeout(5)
t.sendall(b'QUIT\r\n')
assert t.recv(200).startswith(b'221 '), 'no 221 inside TLS'
# The same with a handshake that fails: still one line, the same reason.
c = starttls_in_transaction(b'tls-abandon2@example.org')
c.sendall(b'this is no TLS handshake\r\n' * 4); c.settimeout(5)
try:
    while c.recv(4096): pass
except OSError:
    pass
c.close()
EOF
then ok "STARTTLS: delivery over TLS, state reset after the handshake, no plaintext injection (one write or two)"
else not_ok "STARTTLS with smtplib"; fi
out=$(printf 'EHLO c.example\r\nQUIT\r\n' | timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$port" -quiet 2>/dev/null)
case $out in *"250 SUBMITTER"*"221 2.0.0"*) ok "openssl s_client -starttls smtp" ;; *) not_ok "openssl s_client -starttls smtp" "$out" ;; esac
stop
expect_eq "TLS daemon drains and exits 0" 0 "$stopped"
# After the stop every log line is out: a second one would be there too.
starttls_line='verdict=abandoned code="-" reason="the client abandoned the transaction with STARTTLS"'
[ "$(grep -c "from=<tls-abandon@example.org> rcpts=bob@example.net size=0 spf=none sender-id=none dkim=none $starttls_line" "$tmp/serve.log")" = 1 ] \
	&& [ "$(grep -c 'from=<tls-abandon@example.org>' "$tmp/serve.log")" = 1 ] \
	&& ok "a transaction open at STARTTLS is logged as abandoned, once" \
	|| not_ok "STARTTLS-abandoned transaction's line" "$(grep 'tls-abandon@' "$tmp/serve.log")"
[ "$(grep -c "from=<tls-abandon2@example.org>.*$starttls_line" "$tmp/serve.log")" = 1 ] \
	&& [ "$(grep -c 'from=<tls-abandon2@example.org>' "$tmp/serve.log")" = 1 ] \
	&& ok "... and with a handshake that fails: the same one line" \
	|| not_ok "STARTTLS then a failed handshake: one line" "$(grep 'tls-abandon2' "$tmp/serve.log")"
printf 'tls.cert = %s\ntls.key = %s\n' "$tmp/key.pem" "$tmp/cert.pem" >"$tmp/badtls.conf"
out=$("$AUTHGATE" serve -c "$tmp/badtls.conf" 2>&1); rc=$?
case "$rc|$out" in "2|authgate serve: $tmp/badtls.conf: TLS: "*) ok "an unusable certificate is a configuration error (exit 2)" ;; *) not_ok "bad certificate" "$rc|$out" ;; esac
out=$("$AUTHGATE" serve --check -c "$tmp/badtls.conf" 2>&1); rc=$?
case "$rc|$out" in "2|authgate serve: $tmp/badtls.conf: TLS: "*) ok "... and --check finds it before a restart" ;; *) not_ok "--check with a bad certificate" "$rc|$out" ;; esac
printf 'ok.test. A 127.0.0.1\nbroken.test. A 300.1.1.1\n' >"$tmp/bad.zone"
printf 'listen = 127.0.0.1:%s\nspool = %s/badzone-spool\ndns.zone = %s\n' "$port" "$tmp" "$tmp/bad.zone" >"$tmp/badzone.conf"
zone_error="authgate serve: $tmp/badzone.conf: dns.zone: $tmp/bad.zone:2: bad IPv4 address '300.1.1.1'"
out=$("$AUTHGATE" serve --check -c "$tmp/badzone.conf" 2>&1); rc=$?
expect_eq "a zone the daemon cannot load is a configuration error for --check (exit 2)" "2|$zone_error" "$rc|$out"
out=$("$AUTHGATE" serve -c "$tmp/badzone.conf" 2>&1); rc=$?
expect_eq "... and at start, before anything is opened" "2|$zone_error|no spool" "$rc|$out|$([ -e "$tmp/badzone-spool" ] && echo spool || echo no spool)"

printf 'listen = 127.0.0.1:%s\nworkers = many\n' "$port" >"$tmp/bad.conf"
out=$("$AUTHGATE" serve -c "$tmp/bad.conf" 2>&1); rc=$?
expect_eq "a bad configuration names the line and exits 2" "2|authgate serve: $tmp/bad.conf:2: workers = many: expected a whole number" "$rc|$out"
tap_done
