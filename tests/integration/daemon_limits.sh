#!/usr/bin/env bash
# Integration: the daemon's listen lines and limits end to end, each against
# a real `authgate serve` on loopback with real clients (Python smtplib and
# raw sockets). It proves:
#   - several listen lines, one of them IPv6 ([::1]:port): a message through
#     each address gets 250 and is in the spool's new/;
#   - limits.message_size: SIZE advertised with the limit, MAIL SIZE= over it
#     552 5.3.4, a DATA or BDAT message one octet over it 552 5.3.4 with
#     nothing spooled, a message of exactly the limit (after dot-unstuffing)
#     accepted byte-identical, and the session usable after every 552;
#   - limits.recipients: the recipient over the limit gets 452 4.5.3 and the
#     message still goes to the ones accepted;
#   - limits.sessions: the session over the limit gets 421 4.7.0 and is
#     closed; once one ends, a new one is served;
#   - log.format = json: every transaction line is one JSON object with the
#     fields and the values of what was sent; the text line carries the same;
#   - SIGHUP reloads the zone overlay (a sender refused by SPF is accepted
#     once its record passes; a broken zone is refused and the old one kept).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

tmp=$(mktemp -d /tmp/authgate-limits.XXXXXX)
cleanup() { daemon_kill; rm -rf "$tmp"; }
trap cleanup EXIT
export PYTHONPATH=$top/tests/lib:$tmp # spool_wait.py, t.py
port=$(free_port)

# t.py: what the Python clients below share. Every check prints one line,
# "ok<TAB>name" or "not_ok<TAB>name<TAB>detail", turned into TAP by pyrun.
cat >"$tmp/t.py" <<'EOF'
import os, socket, sys, time, traceback
from smtp_conn import Conn
def check(name, cond, detail=""):
    if cond:
        print("ok\t%s" % name)
    else:
        print("not_ok\t%s\t%s" % (name, str(detail).replace("\n", " | ").replace("\t", " ")))
    sys.stdout.flush()
    return bool(cond)
def eq(name, want, got):
    return check(name, want == got, "expected %r, got %r" % (want, got))
def run(main):
    try:
        main()
    except Exception:
        check("python client ran to the end", False, traceback.format_exc())
        sys.exit(1)
def data_wire(msg):
    """msg as the DATA phase carries it: dot-stuffed, then the final dot."""
    lines = msg.split(b"\r\n")
    assert lines[-1] == b""
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n" for l in lines[:-1]) + b".\r\n"
def new_since(new, before, count, timeout=10.0):
    import spool_wait
    return spool_wait.added(new, before, count, timeout)
def spooled_body(path, first):
    """The spooled file from the message's first line on (the daemon
    prepends Return-Path, Received-SPF and Authentication-Results)."""
    data = open(path, 'rb').read()
    i = data.find(first)
    return data[:i], (data[i:] if i >= 0 else b"")
EOF
pyrun() { # ARGS... (the Python client on stdin): its checks as TAP
	local st name detail rc
	$PY - "$@" >"$tmp/py.out" 2>"$tmp/py.err"; rc=$?
	while IFS=$'\t' read -r st name detail; do
		case $st in ok) ok "$name" ;; not_ok) not_ok "$name" "$detail" ;; *) not_ok "unexpected client output" "$st $name $detail" ;; esac
	done <"$tmp/py.out"
	[ $rc -ne 0 ] && ! grep -q '^not_ok' "$tmp/py.out" && not_ok "the Python client exited $rc" "$(tail -5 "$tmp/py.err")"
	return 0
}

# The zone: example.org passes SPF from loopback (IPv4 and ::1) and publishes
# the DKIM test key.
$PY - "$top/tests/lib" "$tmp" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import dkim_fixture as fx
tmp = sys.argv[2]
open(tmp + '/zone', 'w').write(f'''$TTL 300
example.org. TXT "v=spf1 ip4:127.0.0.0/8 ip6:::1/128 -all"
{fx.KEY_RR}
fail.example. TXT "v=spf1 -all"
''')
def msg(body):
    return (f"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: limits\r\n"
            f"Message-ID: <limits@example.org>\r\n\r\n{body}").encode()
good = msg("Hello.\r\n.a line that starts with a dot\r\n..two\r\n")
sig = fx.signature(good)
open(tmp + '/good.eml', 'wb').write(sig + good)
open(tmp + '/tampered.eml', 'wb').write(sig + good.replace(b"Hello", b"Hellx"))
EOF

conf() { # EXTRA_LINES... (a listen line among them replaces the default)
	{
		printf '%s\n' "$@" | grep -q '^listen = ' || echo "listen = 127.0.0.1:$port"
		printf '%s\n' "$@" | grep '^listen = '
		printf '%s\n' "hostname = mx.test" "spool = $tmp/spool" "dns.zone = $tmp/zone" \
			"dns.servers = 127.0.0.1:9" "dns.timeout = 300" "dns.tries = 1" \
			"xdp.interface = none" "workers = 2"
		printf '%s\n' "$@" | grep -v '^listen = '
	} >"$tmp/a.conf"
}
start() {
	mark=$(wc -l <"$tmp/serve.log" 2>/dev/null || echo 0)
	daemon_start "$tmp/a.conf" "$tmp/serve.log"
}
stop() { daemon_stop; stopped=$daemon_status; }
runlog() { tail -n "+$((mark + 1))" "$tmp/serve.log"; } # this run's lines of the log
: >"$tmp/serve.log"

# ---------------------------------------------------------------- 1. listen
if ! ip -6 addr show dev lo 2>/dev/null | grep -q 'inet6 ::1/128'; then
	skip "IPv6 listen line" "::1 is not configured on lo"
else
	port6=$($PY -c 'import socket; s=socket.socket(socket.AF_INET6); s.bind(("::1",0)); print(s.getsockname()[1])')
	conf "listen = 127.0.0.1:$port" "listen = [::1]:$port6"
	if start; then ok "the daemon starts with listen = 127.0.0.1:$port and listen = [::1]:$port6"
	else not_ok "the daemon starts with two listen lines" "$(tail -5 "$tmp/serve.log")"; fi
	pyrun "$port" "$port6" "$tmp/good.eml" "$tmp/spool/new" <<'EOF'
import os, smtplib, sys, t
port, port6, msg, new = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], 'rb').read(), sys.argv[4]
def main():
    for host, p in (("127.0.0.1", port), ("::1", port6)):
        before = set(os.listdir(new)) if os.path.isdir(new) else set()
        s = smtplib.SMTP(host, p, local_hostname='mail.example.org', timeout=20)
        s.ehlo(); s.mail('alice@example.org'); s.rcpt('bob@example.net')
        code, text = s.data(msg)
        s.quit()
        t.check("listen %s:%d: 250 2.0.0 queued" % (host, p),
                code == 250 and text.startswith(b"2.0.0 queued as "), (code, text))
        added = t.new_since(new, before, 1)
        ok = len(added) == 1 and text.split()[-1].decode() == added[0]
        if ok:
            head, body = t.spooled_body(os.path.join(new, added[0]), b"DKIM-Signature:")
            ok = body == msg and b"spf=pass" in head
        t.check("listen %s:%d: the message is in new/ under its queue name, SPF pass, body as sent" % (host, p),
                ok, (added, text))
t.run(main)
EOF
	# The log names the IPv6 client as such.
	runlog | grep -q ' ip=::1 .* verdict=accept code="250 2.0.0"' && ok "the transaction over IPv6 is logged with ip=::1" \
		|| not_ok "IPv6 transaction log line" "$(runlog | grep verdict=)"
	stop
	expect_eq "two listen lines: SIGTERM drains and exits 0" 0 "$stopped"
fi

# ------------------------------------------------------- 2. message_size
# 10K = 10240 octets, counted after dot-unstuffing, without the final "."
# line (docs/configuration.md): a message of exactly 10240 octets passes.
conf "limits.message_size = 10K"
start
pyrun "$port" "$tmp/spool" <<'EOF'
import os, sys, t
port, spool = int(sys.argv[1]), sys.argv[2]
new, tmpdir = spool + "/new", spool + "/tmp"
LIMIT = 10240
def message(tag, size, dots=False):
    """An unsigned message (SPF and Sender ID pass) of exactly `size` octets."""
    head = ("From: alice@example.org\r\nTo: bob@example.net\r\nSubject: size\r\n"
            "X-Test: %s\r\n\r\n" % tag).encode()
    line = (b".dotted line, stuffed on the wire\r\n" if dots else b"plain line of the body text\r\n")
    body = b""
    while len(head) + len(body) + len(line) <= size - 20:
        body += line
    pad = size - len(head) - len(body)
    body += b"x" * (pad - 2) + b"\r\n"
    m = head + body
    assert len(m) == size, len(m)
    return m
def envelope(c, extra=""):
    r1 = c.cmd("MAIL FROM:<alice@example.org>" + extra)
    r2 = c.cmd("RCPT TO:<bob@example.net>")
    return r1, r2
def names():
    return set(os.listdir(new)) if os.path.isdir(new) else set()
def main():
    c = t.Conn("127.0.0.1", port)
    t.check("greeting", c.reply().startswith("220 "), "")
    ehlo = c.cmd("EHLO size.client.test").split("\n")
    t.check("EHLO advertises SIZE 10240 (limits.message_size = 10K)", "250-SIZE 10240" in ehlo, ehlo)
    chunking = any(l[4:] == "CHUNKING" for l in ehlo)
    r = c.cmd("MAIL FROM:<alice@example.org> SIZE=%d" % (LIMIT + 1))
    t.check("MAIL FROM SIZE=10241: 552 5.3.4", r.startswith("552 5.3.4 "), r)
    r1, r2 = envelope(c, " SIZE=%d" % LIMIT)
    t.check("MAIL FROM SIZE=10240 (the limit): 250", r1.startswith("250 ") and r2.startswith("250 "), (r1, r2))
    # DATA one octet over the limit
    before = names()
    r = c.cmd("DATA")
    c.send(t.data_wire(message("over-by-one", LIMIT + 1)))
    r = c.reply()
    t.check("DATA of 10241 octets: 552 5.3.4", r.startswith("552 5.3.4 "), r)
    t.eq("DATA over the limit: nothing new in new/", set(), names() - before)
    t.eq("DATA over the limit: nothing left in tmp/", [], os.listdir(tmpdir))
    r = c.cmd("NOOP"); t.check("after the 552: NOOP 250", r.startswith("250 "), r)
    noop = r
    r = c.cmd("RSET"); t.check("after the 552: RSET 250", r.startswith("250 "), r)
    # far over the limit: the rest of the data is read and dropped, not
    # taken for commands
    envelope(c)
    c.cmd("DATA")
    big = message("far-over", 200 * 1024).replace(b"plain line", b"RSET\r\nQUIT")
    c.send(t.data_wire(big))
    r = c.reply()
    t.check("DATA of 200 KiB (lines reading RSET and QUIT): one reply, 552 5.3.4", r.startswith("552 5.3.4 "), r)
    r = c.cmd("NOOP")
    t.check("after the 200 KiB 552: the session is in step (the NOOP reply, then nothing)",
            r == noop and c.quiet(), r)
    t.eq("DATA far over the limit: nothing new in new/", set(), names() - before)
    # exactly the limit, plain and dot-stuffed
    for tag, dots in (("exact", False), ("exact-dotted", True)):
        m = message(tag, LIMIT, dots)
        before = names()
        r1, r2 = envelope(c)
        c.cmd("DATA")
        wire = t.data_wire(m)
        c.send(wire)
        r = c.reply()
        t.check("DATA of exactly 10240 octets%s: 250 2.0.0 queued" %
                (" (%d on the wire, dot-stuffed)" % (len(wire) - 3) if dots else ""),
                r.startswith("250 2.0.0 queued as "), (r1, r2, r))
        added = t.new_since(new, before, 1)
        ok = len(added) == 1 and t.spooled_body(os.path.join(new, added[0]), b"From: alice")[1] == m
        t.check("... spooled byte-identical (%s)" % tag, ok, added)
    if not chunking:
        t.check("EHLO advertises CHUNKING (BDAT size checks)", False, ehlo)
        return
    # BDAT: one chunk one octet over; two chunks adding up to one over
    before = names()
    envelope(c)
    m = message("bdat-over", LIMIT + 1)
    c.send(b"BDAT %d LAST\r\n" % len(m) + m)
    r = c.reply()
    t.check("BDAT 10241 LAST: 552 5.3.4", r.startswith("552 5.3.4 "), r)
    r = c.cmd("RSET"); t.check("after the BDAT 552: RSET 250, nothing else (the chunk was not taken for commands)", r.startswith("250 ") and c.quiet(), r)
    envelope(c)
    c.send(b"BDAT 6000\r\n" + m[:6000])
    r1 = c.reply()
    c.send(b"BDAT %d LAST\r\n" % (len(m) - 6000) + m[6000:])
    r2 = c.reply()
    t.check("BDAT 6000 then BDAT 4241 LAST: 250 then 552 5.3.4", r1.startswith("250 ") and r2.startswith("552 5.3.4 "), (r1, r2))
    r = c.cmd("RSET"); t.check("after the second BDAT 552: RSET 250", r.startswith("250 "), r)
    t.eq("BDAT over the limit: nothing new in new/", set(), names() - before)
    m = message("bdat-exact", LIMIT)
    envelope(c)
    c.send(b"BDAT 5000\r\n" + m[:5000])
    r1 = c.reply()
    c.send(b"BDAT %d LAST\r\n" % (len(m) - 5000) + m[5000:])
    r2 = c.reply()
    t.check("BDAT 5000 + BDAT 5240 LAST (exactly the limit): 250 2.0.0 queued",
            r1.startswith("250 ") and r2.startswith("250 2.0.0 queued as "), (r1, r2))
    added = t.new_since(new, before, 1)
    ok = len(added) == 1 and t.spooled_body(os.path.join(new, added[0]), b"From: alice")[1] == m
    t.check("... spooled byte-identical (bdat-exact)", ok, added)
    r = c.cmd("QUIT"); t.check("QUIT: 221", r.startswith("221 "), r)
t.run(main)
EOF
stop

# ------------------------------------------------------- 3. recipients
conf "limits.recipients = 3"
start
pyrun "$port" "$tmp/good.eml" "$tmp/spool/new" <<'EOF'
import os, smtplib, sys, t
port, msg, new = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), sys.argv[3]
def main():
    before = set(os.listdir(new))
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='rcpt.client.test', timeout=20)
    s.ehlo()
    s.mail('alice@example.org')
    codes = [s.rcpt('r%d@example.net' % i) for i in range(1, 6)]
    t.check("limits.recipients = 3: RCPT 1-3 get 250", all(c == 250 for c, _ in codes[:3]), codes[:3])
    t.check("limits.recipients = 3: RCPT 4 gets 452 4.5.3", codes[3][0] == 452 and codes[3][1].startswith(b"4.5.3"), codes[3])
    t.check("limits.recipients = 3: RCPT 5 gets 452 4.5.3 too", codes[4][0] == 452 and codes[4][1].startswith(b"4.5.3"), codes[4])
    code, text = s.data(msg)
    t.check("limits.recipients = 3: the transaction still delivers (250)", code == 250, (code, text))
    t.eq("... one message in new/", 1, len(t.new_since(new, before, 1)))
    # smtplib.sendmail: the refused recipient is reported, the rest delivered
    refused = s.sendmail('alice@example.org', ['s%d@example.net' % i for i in range(1, 5)], msg)
    t.check("smtplib.sendmail with 4 recipients: only the 4th refused (452)",
            list(refused) == ['s4@example.net'] and refused['s4@example.net'][0] == 452, refused)
    s.quit()
t.run(main)
EOF
# Which recipients the message went to: the transaction log line.
wait_log "$tmp/serve.log" 'helo=rcpt.client.test' 2
lines=$(runlog | grep -c 'helo=rcpt.client.test .*rcpts=r1@example.net,r2@example.net,r3@example.net size=[0-9]* .*verdict=accept code="250 2.0.0"')
expect_eq "the log line names exactly the 3 accepted recipients" 1 "$lines"
stop

# ------------------------------------------------------- 4. sessions
conf "limits.sessions = 4" "limits.sessions_per_ip = 50"
start
pyrun "$port" <<'EOF'
import socket, sys, time, t
port = int(sys.argv[1])
def main():
    # A session that just ended (daemon_start's probe) may still be
    # counted for a moment: then try again.
    for _ in range(50):
        held = [t.Conn("127.0.0.1", port) for _ in range(4)]
        greets = [c.reply() for c in held]
        if all(g.startswith("220 ") for g in greets):
            break
        for c in held: c.close()
        time.sleep(0.1)
    t.check("limits.sessions = 4: four sessions get 220", all(g.startswith("220 ") for g in greets), greets)
    over = t.Conn("127.0.0.1", port, timeout=10)
    r = over.reply()
    t.eq("the fifth session gets 421 4.7.0", "421 4.7.0 mx.test Too many sessions, try again later", r)
    t.check("... and is closed by the daemon", over.eof(), "connection still open after the 421")
    over.close()
    r = [c.cmd("NOOP") for c in held]
    t.check("the four sessions are still served (NOOP 250)", all(x.startswith("250 ") for x in r), r)
    held.pop().close()
    # The closed session's count drops a moment later: retry for 5 s.
    deadline, r = time.time() + 5, ""
    while time.time() < deadline:
        c = t.Conn("127.0.0.1", port)
        r = c.reply()
        if r.startswith("220 "):
            break
        c.close()
        time.sleep(0.1)
    t.check("once one closes, a new session gets 220", r.startswith("220 "), r)
    if r.startswith("220 "):
        e = c.cmd("EHLO again.client.test")
        q = c.cmd("QUIT")
        t.check("... and is served (EHLO 250, QUIT 221)", e.startswith("250") and q.startswith("221 "), (e, q))
    for h in held:
        h.cmd("QUIT"); h.close()
t.run(main)
EOF
stop
expect_eq "limits.sessions: SIGTERM drains and exits 0" 0 "$stopped"
# The workers' exit lines count the sessions told 421 for limits.sessions:
# the fifth one at least (a retry above may add one).
full=$(runlog | grep -o '[0-9]* of them told 421 for limits.sessions,' | awk '{s += $1} END {print s + 0}')
[ "$full" -ge 1 ] && ok "limits.sessions: the exit lines count the sessions told 421 ($full)" ||
	not_ok "limits.sessions: refusals counted at exit" "$(runlog | grep 'connections accepted')"

# ------------------------------------------------------- 5. log.format
conf "log.format = json"
start
weird_helo='weird"quote\back.client.test'
pyrun "$port" "$tmp/good.eml" "$tmp/tampered.eml" "$weird_helo" <<'EOF'
import smtplib, sys, t
port, good, bad, weird = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), open(sys.argv[3], 'rb').read(), sys.argv[4]
def main():
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='json.client.test', timeout=20)
    s.ehlo()
    refused = s.sendmail('alice@example.org', ['bob@example.net', 'carol@example.net'], good)
    t.eq("json run: signed message to 2 recipients accepted", {}, refused)
    s.mail('alice@example.org'); s.rcpt('bob@example.net')
    code, text = s.data(bad)
    t.check("json run: tampered message 550 5.7.20", code == 550 and text.startswith(b"5.7.20"), (code, text))
    s.quit()
    c = t.Conn("127.0.0.1", port)
    c.reply()
    r = c.cmd("EHLO " + weird)
    t.check("EHLO with a quote and a backslash in its name: 250", r.startswith("250"), r)
    c.cmd("MAIL FROM:<alice@example.org>"); c.cmd("RCPT TO:<bob@example.net>")
    c.cmd("DATA"); c.send(t.data_wire(good))
    r = c.reply()
    t.check("json run: third message (odd HELO) accepted", r.startswith("250 2.0.0"), r)
    c.cmd("QUIT")
t.run(main)
EOF
wait_log "$tmp/serve.log" '^{' 3 || not_ok "json: three transaction lines within 30 s" "$(runlog)"
stop
runlog >"$tmp/json.log"
pyrun "$tmp/json.log" "$tmp/good.eml" "$weird_helo" <<'EOF'
import datetime, json, re, sys, t
log, good, weird = sys.argv[1], open(sys.argv[2], 'rb').read(), sys.argv[3]
FIELDS = ["time", "session", "ip", "helo", "mail_from", "rcpts", "nrcpt", "size", "spf",
          "sender_id", "dkim", "verdict", "code", "reason", "ms"]
def main():
    lines = open(log, encoding='utf-8', errors='replace').read().splitlines()
    txn = [l for l in lines if l.startswith("{")]
    text_txn = [l for l in lines if " verdict=" in l]
    t.eq("json: three transaction lines", 3, len(txn))
    t.eq("json: no text-format transaction line", [], text_txn)
    objs = []
    for l in txn:
        try:
            objs.append(json.loads(l))
        except ValueError as e:
            t.check("json: the line is valid JSON", False, "%s: %s" % (e, l))
    t.eq("json: every transaction line is valid JSON", len(txn), len(objs))
    t.eq("json: every line has these fields, in this order: " + " ".join(FIELDS),
         [FIELDS] * len(objs), [list(o) for o in objs])
    if len(objs) != 3 or any(list(o) != FIELDS for o in objs):
        return
    # Workers flush their own lines: the first connection's two lines (one
    # worker, in order) may come after the second connection's.
    mine = [o for o in objs if o["helo"] == "json.client.test"]
    other = [o for o in objs if o["helo"] != "json.client.test"]
    t.eq("json: two lines with helo json.client.test, one with another", (2, 1), (len(mine), len(other)))
    if (len(mine), len(other)) != (2, 1):
        return
    (a, b), w = mine, other[0]
    now = datetime.datetime.now(datetime.timezone.utc)
    def recent(v):
        if not isinstance(v, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", v):
            return False
        ts = datetime.datetime.strptime(v, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        return abs((now - ts).total_seconds()) < 300
    t.check("json: time is UTC ISO 8601 with milliseconds, within the last 5 minutes",
            all(recent(o["time"]) for o in objs), [o["time"] for o in objs])
    t.check("json: ms is a number of milliseconds (0 to 60000)",
            all(type(o["ms"]) in (int, float) and 0 <= o["ms"] < 60000 for o in objs), [o["ms"] for o in objs])
    t.check("json: session is WORKER-N",
            all(isinstance(o["session"], str) and re.fullmatch(r"\d+-\d+", o["session"]) for o in objs),
            [o["session"] for o in objs])
    t.eq("json: both transactions of one connection share the session id", a["session"], b["session"])
    t.check("json: another connection, another session id", w["session"] != a["session"], (a["session"], w["session"]))
    t.eq("json: the accepted transaction's values",
         dict(ip="127.0.0.1", helo="json.client.test", mail_from="alice@example.org",
              rcpts="bob@example.net,carol@example.net", nrcpt=2, size=len(good), spf="pass",
              sender_id="pass", dkim="pass", verdict="accept", code="250 2.0.0"),
         {k: a[k] for k in ("ip", "helo", "mail_from", "rcpts", "nrcpt", "size", "spf", "sender_id",
                            "dkim", "verdict", "code")})
    t.eq("json: the rejected transaction's values",
         dict(ip="127.0.0.1", helo="json.client.test", mail_from="alice@example.org",
              rcpts="bob@example.net", nrcpt=1, size=len(good), spf="pass", sender_id="pass",
              dkim="fail", code="550 5.7.20"),
         {k: b[k] for k in ("ip", "helo", "mail_from", "rcpts", "nrcpt", "size", "spf", "sender_id",
                            "dkim", "code")})
    t.check("json: the rejected transaction's verdict is not accept, its reason names DKIM",
            b["verdict"] != "accept" and "DKIM" in b["reason"], (b["verdict"], b["reason"]))
    t.eq("json: a HELO with a quote and a backslash comes back exactly", weird, w["helo"])
t.run(main)
EOF
# The text format: the same fields on one line.
conf "log.format = text"
start
pyrun "$port" "$tmp/good.eml" <<'EOF'
import smtplib, sys, t
port, good = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
def main():
    s = smtplib.SMTP('127.0.0.1', port, local_hostname='text.client.test', timeout=20)
    refused = s.sendmail('alice@example.org', ['bob@example.net', 'carol@example.net'], good)
    t.eq("text run: signed message accepted", {}, refused)
    s.quit()
t.run(main)
EOF
wait_log "$tmp/serve.log" 'helo=text.client.test' 1
size=$(stat -c %s "$tmp/good.eml")
line=$(runlog | grep ' verdict=')
re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}Z session=[0-9]+-[0-9]+ ip=127\.0\.0\.1 helo=text\.client\.test from=<alice@example\.org> rcpts=bob@example\.net,carol@example\.net size='$size' spf=pass sender-id=pass dkim=pass verdict=accept code="250 2\.0\.0" reason="[^"]*" ms=[0-9]+\.[0-9]{3}$'
if [ "$(printf '%s\n' "$line" | wc -l)" = 1 ] && [[ $line =~ $re ]]; then
	ok "text: one line with time, session, ip, helo, from, rcpts, size, spf, sender-id, dkim, verdict, code, reason, ms"
else
	not_ok "text transaction line" "$(printf 'expected to match: %s\n  actual: %s' "$re" "$line")"
fi
stop

# A HELO in Latin-1 (not UTF-8) and more recipients than the line holds:
# the JSON line stays valid (U+FFFD for the byte), and the cut list of
# recipients ends in "..." beside the whole count.
conf "log.format = json" "limits.recipients = 100"
json_lines=$(grep -c '^{' "$tmp/serve.log")
start
pyrun "$port" "$tmp/good.eml" <<'EOF2'
import sys, t
port, good = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
def main():
    c = t.Conn("127.0.0.1", port); c.reply()
    c.send(b"EHLO caf\xe9.client.test\r\n"); r = c.reply()
    t.check("EHLO with a Latin-1 byte: 250", r.startswith("250"), r)
    c.cmd("MAIL FROM:<alice@example.org>")
    codes = [c.cmd("RCPT TO:<recipient-number-%02d@a-rather-long-domain.example.net>" % i)[:3] for i in range(60)]
    t.eq("60 recipients accepted", ["250"] * 60, codes)
    c.cmd("DATA"); c.send(t.data_wire(good)); r = c.reply()
    t.check("the message to 60 recipients: 250", r.startswith("250 2.0.0"), r)
    c.cmd("QUIT")
t.run(main)
EOF2
wait_log "$tmp/serve.log" '^{' $((json_lines + 1)) || not_ok "json: the transaction line within 30 s" "$(runlog)"
stop
runlog >"$tmp/json2.log"
pyrun "$tmp/json2.log" <<'EOF2'
import json, sys, t
def main():
    raw = [l for l in open(sys.argv[1], 'rb').read().split(b"\n") if l.startswith(b"{")]
    t.eq("one JSON transaction line", 1, len(raw))
    if len(raw) != 1:
        return
    try:
        o = json.loads(raw[0].decode('utf-8'))
    except ValueError as e:
        t.check("the line is UTF-8 and valid JSON", False, "%s: %r" % (e, raw[0]))
        return
    t.eq("the Latin-1 byte of the HELO is U+FFFD", "caf\ufffd.client.test", o["helo"])
    t.eq("nrcpt counts all 60 recipients", 60, o["nrcpt"])
    listed = o["rcpts"][:-3].split(",") if o["rcpts"].endswith("...") else None
    t.check("the recipients' list is cut and ends in '...'", listed is not None and len(o["rcpts"]) < 1024, o["rcpts"][-80:])
    want = ["recipient-number-%02d@a-rather-long-domain.example.net" % i for i in range(60)]
    t.check("... after whole addresses only, the first ones in order",
            listed is not None and 0 < len(listed) < 60 and listed == want[:len(listed)], listed and listed[-2:])
t.run(main)
EOF2

# A transaction the client abandons, with RSET or a new EHLO, gets its
# own line (verdict abandoned, code "-", the command in the reason) with
# the envelope it had; the transaction after it is logged as usual, and
# a RSET with nothing open logs nothing.
conf "log.format = json"
accepts=$(grep -c '"verdict":"accept"' "$tmp/serve.log")
start
pyrun "$port" "$tmp/good.eml" <<'EOF2'
import sys, t
port, good = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
def main():
    c = t.Conn("127.0.0.1", port); c.reply()
    c.cmd("EHLO first.client.test")
    c.cmd("MAIL FROM:<alice@example.org>"); c.cmd("RCPT TO:<bob@example.net>")
    t.check("RSET in a transaction: 250", c.cmd("RSET").startswith("250 2.0.0"))
    t.check("RSET with nothing open: 250", c.cmd("RSET").startswith("250 2.0.0"))
    c.cmd("MAIL FROM:<carol@example.org>"); c.cmd("RCPT TO:<dave@example.net>"); c.cmd("RCPT TO:<erin@example.net>")
    t.check("EHLO in a transaction: 250", c.cmd("EHLO second.client.test").startswith("250"))
    c.cmd("MAIL FROM:<alice@example.org>"); c.cmd("RCPT TO:<bob@example.net>")
    c.cmd("DATA"); c.send(t.data_wire(good)); r = c.reply()
    t.check("the message after them: 250", r.startswith("250 2.0.0"), r)
    c.cmd("QUIT")
t.run(main)
EOF2
wait_log "$tmp/serve.log" '"verdict":"accept"' $((accepts + 1)) || not_ok "json: the accepted transaction's line within 30 s" "$(runlog)"
stop
runlog >"$tmp/json3.log"
pyrun "$tmp/json3.log" <<'EOF2'
import json, sys, t
def main():
    lines = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8') if l.startswith("{")]
    got = [(o["verdict"], o["code"], o["helo"], o["mail_from"], o["rcpts"], o["nrcpt"], o["size"]) for o in lines]
    t.eq("three lines, in order: RSET, EHLO, the message", [
        ("abandoned", "-", "first.client.test", "alice@example.org", "bob@example.net", 1, 0),
        ("abandoned", "-", "first.client.test", "carol@example.org", "dave@example.net,erin@example.net", 2, 0),
        ("accept", "250 2.0.0", "second.client.test", "alice@example.org", "bob@example.net", 1, lines[-1]["size"] if lines else 0),
    ], got)
    if len(lines) == 3:
        t.eq("the reasons name the command", ["the client abandoned the transaction with RSET",
             "the client abandoned the transaction with EHLO"], [lines[0]["reason"], lines[1]["reason"]])
        t.check("all three in one session", len({o["session"] for o in lines}) == 1, [o["session"] for o in lines])
        t.check("the abandoned ones show no check run", all(lines[i][k] == "none" for i in (0, 1) for k in ("spf", "sender_id", "dkim")), lines[:2])
t.run(main)
EOF2

# ------------------------------------------------------- 6. SIGHUP zone reload
# hup.example publishes -all; the zone is then rewritten to let loopback
# send for it, SIGHUP, and the same message is accepted.
cp "$tmp/zone" "$tmp/zone.base"
{ cat "$tmp/zone.base"; echo 'hup.example. TXT "v=spf1 -all"'; } >"$tmp/zone"
printf 'From: h@hup.example\r\nTo: bob@example.net\r\nSubject: hup\r\n\r\nreload me\r\n' >"$tmp/hup.eml"
conf
start
hup_send() { # → "RCPT-reply | final reply" for the hup.example message
	$PY - "$port" "$tmp/hup.eml" <<'EOF'
import sys, t
port, msg = int(sys.argv[1]), open(sys.argv[2], 'rb').read()
c = t.Conn("127.0.0.1", port); c.reply(); c.cmd("EHLO mail.hup.example")
c.cmd("MAIL FROM:<h@hup.example>")
r = c.cmd("RCPT TO:<bob@example.net>")
if r.startswith("250"):
    c.cmd("DATA"); c.send(t.data_wire(msg)); r = r + " | " + c.reply()
print(r.split("\n")[-1])
c.cmd("QUIT")
EOF
}
reply=$(hup_send)
case $reply in "550 5.7.23 "*) ok "hup.example -all: refused at RCPT with 550 5.7.23 ($reply)" ;; *) not_ok "SPF -all before the reload" "expected 550 5.7.23 at RCPT, got: $reply" ;; esac
{ cat "$tmp/zone.base"; echo 'hup.example. TXT "v=spf1 ip4:127.0.0.0/8 -all"'; } >"$tmp/zone.new"
mv "$tmp/zone.new" "$tmp/zone"
before=$(ls "$tmp/spool/new" | wc -l)
zl=$(grep -c 'zone overlay reloaded' "$tmp/serve.log")
kill -HUP "$daemon_pid"
if wait_log "$tmp/serve.log" "reload: policy" 1 && wait_log "$tmp/serve.log" 'zone overlay reloaded' $((zl + 2)); then
	ok "SIGHUP: the reload line and both workers' zone overlay reloaded lines"
	expect_eq "SIGHUP: the zone file is read once for all workers" 1 "$(grep -c "reload: $tmp/zone read (" "$tmp/serve.log")"
else
	not_ok "SIGHUP reload lines" "$(runlog | grep reload)"
fi
reply=$(hup_send)
case $reply in "250 "*" | 250 2.0.0 queued as "*) ok "after SIGHUP the zone passes hup.example: 250 ($reply)" ;; *) not_ok "SIGHUP reloads the zone overlay" "expected 250 ... | 250 2.0.0 queued, got: $reply" ;; esac
expect_eq "... and the message is in new/" $((before + 1)) "$(wait_files "$tmp/spool/new" $((before + 1)))"
n=$(runlog | grep -c 'takes effect at the next start')
expect_eq "SIGHUP with only the zone changed: no key is said to wait for a restart" 0 "$n"
# A key SIGHUP does not apply: the log says so, and the running value stays.
echo "limits.recipients = 1" >>"$tmp/a.conf"
hups=$(grep -c 'reload: policy' "$tmp/serve.log")
kill -HUP "$daemon_pid"
wait_log "$tmp/serve.log" "reload: limits.recipients changed in the file; it takes effect at the next start, the running value stays" 1 \
	|| not_ok "SIGHUP: no line for limits.recipients in 30 s" "$(runlog | grep reload)"
n=$(runlog | grep -c 'takes effect at the next start')
expect_eq "SIGHUP with limits.recipients changed: one line says it waits for a restart" 1 "$n"
reply=$($PY - "$port" <<'EOF2'
import sys, t
c = t.Conn("127.0.0.1", int(sys.argv[1])); c.reply(); c.cmd("EHLO c.test")
c.cmd("MAIL FROM:<a@example.org>"); c.cmd("RCPT TO:<b@example.net>")
print(c.cmd("RCPT TO:<c@example.net>").split("\n")[-1]); c.cmd("QUIT")
EOF2
)
case $reply in "250 "*) ok "... and the running limit stays (a second recipient: $reply)" ;; *) not_ok "running limits.recipients kept" "$reply" ;; esac
sed -i '/^limits.recipients = 1$/d' "$tmp/a.conf"
# A broken zone on SIGHUP: refused, the old one kept.
echo 'broken.example. TXT "unterminated' >>"$tmp/zone"
kept=$(grep -c 'reload kept the old zone' "$tmp/serve.log")
kill -HUP "$daemon_pid"
if wait_log "$tmp/serve.log" 'reload kept the old zone: .*zone:' $((kept + 1)); then
	ok "SIGHUP with a broken zone: the old zone is kept, and a line says why"
else
	not_ok "broken zone on SIGHUP" "$(runlog | grep reload)"
fi
reply=$(hup_send)
case $reply in "250 "*" | 250 2.0.0 queued as "*) ok "... and hup.example still passes ($reply)" ;; *) not_ok "old zone kept after a broken reload" "$reply" ;; esac
stop
expect_eq "SIGHUP run: SIGTERM drains and exits 0" 0 "$stopped"
tap_done
