#!/usr/bin/python3
"""tests/lib/soak_client.py — rounds of every kind of session the daemon
meets, run concurrently, for tests/integration/daemon_soak.sh.

    soak_client.py PORT ROUNDS [--tls] [--threads N] [--seed S]

Each round runs every scenario below once, shuffled, on N client threads
(each scenario is one connection). A scenario checks the replies it is
owed; one that got something else prints
"not_ok<TAB>round R: SCENARIO<TAB>what came". The last line is
"ok<TAB>ROUNDS rounds, SESSIONS sessions, ACCEPTED accepted" when every
scenario of every round got what it was owed. Messages are signed once
(tests/lib/dkim_fixture.py) and sent again every round.
"""
import argparse
import random
import socket
import ssl
import sys
import threading
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dkim_fixture as fx  # noqa: E402
from smtp_conn import Conn  # noqa: E402

BODY = b"".join(b"line %d of the body, long enough to be a real one.\r\n" % i for i in range(60))
HEAD = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: soak\r\n\r\n"
# a line that starts with a dot: stuffed on the wire, unstuffed in the spool
RAW = HEAD + BODY + b".hidden line\r\n" + BODY
GOOD = fx.signature(RAW) + RAW
TAMPERED = GOOD.replace(b"line 7 of", b"line 8 of")


def stuffed(msg):
    """DATA form: leading dots doubled, the final dot line added."""
    lines = msg.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines[:-1]) + b"\r\n.\r\n"


class Owed(Exception):
    """A reply other than the one the scenario is owed."""


def expect(got, prefix, what):
    if not got.startswith(prefix):
        raise Owed("%s: expected %s..., got %r" % (what, prefix, got))
    return got


def session(port):
    c = Conn("127.0.0.1", port, timeout=30)
    expect(c.reply(), "220 ", "greeting")
    expect(c.cmd("EHLO client.example"), "250", "EHLO")
    return c


def envelope(c, sender):
    """MAIL, RCPT, DATA pipelined (RFC 2920); the three replies."""
    c.send(b"MAIL FROM:<%s>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n" % sender)
    return c.reply(), c.reply(), c.reply()


def goodbye(c):
    expect(c.cmd("QUIT"), "221", "QUIT")
    c.close()


def accepted(c, msg=GOOD, sender=b"alice@example.org"):
    m, r, d = envelope(c, sender)
    expect(m, "250", "MAIL")
    expect(r, "250", "RCPT")
    expect(d, "354", "DATA")
    c.send(stuffed(msg))
    expect(c.reply(), "250 2.0.0", "end of data")


def sc_data(port, _tls):
    c = session(port)
    accepted(c)
    goodbye(c)
    return 1


def sc_bdat(port, _tls):
    c = session(port)
    half = len(GOOD) // 2
    c.send(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\n")
    expect(c.reply(), "250", "MAIL")
    expect(c.reply(), "250", "RCPT")
    c.send(b"BDAT %d\r\n" % half + GOOD[:half])
    expect(c.reply(), "250", "BDAT chunk")
    c.send(b"BDAT %d LAST\r\n" % (len(GOOD) - half) + GOOD[half:])
    expect(c.reply(), "250 2.0.0", "BDAT LAST")
    goodbye(c)
    return 1


def starttls(port):
    c = session(port)
    expect(c.cmd("STARTTLS"), "220", "STARTTLS")
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    return c, ctx


def sc_tls(port, tls):
    if not tls:
        return 0
    c, ctx = starttls(port)
    c.s = ctx.wrap_socket(c.s, server_hostname="mx.test")
    expect(c.cmd("EHLO client.example"), "250", "EHLO after STARTTLS")
    accepted(c)
    goodbye(c)
    return 1


def sc_tls_cut(port, tls):
    """A handshake the client gives up on: garbage, then gone."""
    if not tls:
        return 0
    c, _ = starttls(port)
    c.send(b"\x16\x03\x01\x00\x05hello")
    c.close()
    return 0


def sc_spf_fail(port, _tls):
    c = session(port)
    expect(c.cmd("MAIL FROM:<x@fail.example>"), "250", "MAIL")
    expect(c.cmd("RCPT TO:<bob@example.net>"), "550 5.7.23", "RCPT after an SPF fail")
    goodbye(c)
    return 0


def sc_dkim_fail(port, _tls):
    c = session(port)
    m, r, d = envelope(c, b"alice@example.org")
    expect(d, "354", "DATA")
    c.send(stuffed(TAMPERED))
    expect(c.reply(), "550 5.7.2", "a body changed after signing")
    goodbye(c)
    return 0


def sc_tempfail(port, _tls):
    """A sender whose lookups time out (dns.servers never answers), with
    no signature to pass either: 451."""
    c = session(port)
    m, r, d = envelope(c, b"s@slow.example")
    expect(d, "354", "DATA")
    c.send(stuffed(RAW.replace(b"alice@example.org", b"s@slow.example")))
    expect(c.reply(), "451 4.7.", "end of data, the lookup timed out")
    c.close()
    return 0


def sc_oversize(port, _tls):
    c = session(port)
    m, r, d = envelope(c, b"alice@example.org")
    expect(d, "354", "DATA")
    c.send(stuffed(GOOD + (b"y" * 70 + b"\r\n") * 1000))
    expect(c.reply(), "552 5.3.4", "a message over limits.message_size")
    expect(c.cmd("NOOP"), "250", "NOOP after 552")
    c.close()
    return 0


def sc_cut_data(port, _tls):
    c = session(port)
    envelope(c, b"alice@example.org")
    c.send(GOOD[: len(GOOD) // 2])
    c.close()
    return 0


def sc_cut_bdat(port, _tls):
    c = session(port)
    c.send(b"MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nBDAT 9000\r\n" + GOOD[:3000])
    c.close()
    return 0


def sc_errors(port, _tls):
    c = session(port)
    expect(c.cmd("X" * 5000), "500 5.5.2", "a line too long")
    expect(c.cmd("RCPT TO:<bob@example.net>"), "503", "RCPT before MAIL")
    expect(c.cmd("MAIL FROM:<<>"), "501", "MAIL syntax")
    expect(c.cmd("MAIL FROM:<alice@example.org>"), "250", "MAIL")
    expect(c.cmd("RSET"), "250", "RSET")
    expect(c.cmd("VRFY bob"), "252", "VRFY")
    goodbye(c)
    return 0


def sc_no_read(port, _tls):
    """Everything at once, then gone without reading a reply."""
    c = Conn("127.0.0.1", port, timeout=30)
    c.send(b"EHLO client.example\r\nMAIL FROM:<alice@example.org>\r\n"
           b"RCPT TO:<bob@example.net>\r\nDATA\r\n" + stuffed(GOOD) + b"QUIT\r\n")
    c.close()
    return 0


def sc_abrupt(port, _tls):
    """Connect and reset (SO_LINGER 0) before the greeting is read."""
    s = socket.create_connection(("127.0.0.1", port), 30)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()
    return 0


SCENARIOS = [sc_data, sc_bdat, sc_tls, sc_tls_cut, sc_spf_fail, sc_dkim_fail, sc_tempfail,
             sc_oversize, sc_cut_data, sc_cut_bdat, sc_errors, sc_no_read, sc_abrupt]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("rounds", type=int)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    lock = threading.Lock()
    totals = {"sessions": 0, "accepted": 0, "failed": 0}

    def run(rnd, sc, sem):
        try:
            n = sc(a.port, a.tls)
        except Exception as e:  # an unexpected one is a failure too, never lost
            with lock:
                totals["failed"] += 1
                print("not_ok\tround %d: %s\t%s: %s" % (rnd, sc.__name__, type(e).__name__, e), flush=True)
            return
        finally:
            sem.release()
        with lock:
            totals["sessions"] += 1
            totals["accepted"] += n

    for rnd in range(1, a.rounds + 1):
        work = SCENARIOS[:]
        rng.shuffle(work)
        sem = threading.Semaphore(a.threads)
        threads = []
        for sc in work:
            sem.acquire()
            t = threading.Thread(target=run, args=(rnd, sc, sem))
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
    if totals["failed"] == 0:
        print("ok\t%d rounds, %d sessions, %d accepted" % (a.rounds, totals["sessions"], totals["accepted"]))
    return 1 if totals["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
