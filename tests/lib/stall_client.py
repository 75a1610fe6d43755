#!/usr/bin/python3
"""tests/lib/stall_client.py PORT MODE [READY] — an SMTP client on
127.0.0.1:PORT that does not end its session the way a client should, for
the tests of how the daemon ends such sessions
(tests/integration/daemon_phases.sh). Once it is where it stalls, it
creates the file READY (if given). Prints one line:

  starttls-silent   EHLO, STARTTLS, then nothing (no handshake):
                    "closed after S s" (S from the 220), or "open after
                    S s" if the server keeps the connection 30 s; any
                    byte the server sends meanwhile is reported instead
  no-read           pipelines EHLO until the server stops taking them,
                    reading no reply: "cut after S s" (S from the last
                    bytes it took) once the server resets the connection
  bdat-errors       EHLO, then BDAT chunks without a transaction until the
                    server says 421: "421 ...|closed after S s" (S from
                    the 421)
  open-transaction  EHLO, MAIL, RCPT, then waits: "REPLY after S s"
"""
import select
import socket
import sys
import time

from smtp_conn import Conn

LIMIT = 30.0


def ready():
    if len(sys.argv) > 3:
        open(sys.argv[3], "w").close()


def wait_closed(c, since):
    """Seconds until the server closes or resets; nothing may come first."""
    c.s.settimeout(0.2)
    got = c.buf
    while time.time() - since < LIMIT:
        try:
            d = c.s.recv(65536)
        except socket.timeout:
            continue
        except ConnectionResetError:
            d = b""
        if d:
            got += d
            continue
        end = "closed after %.1f s" % (time.time() - since)
        return end if not got else "sent %r, then %s" % (got[:200], end)
    return "open after %.1f s" % (time.time() - since)


def starttls_silent(port):
    c = Conn("127.0.0.1", port)
    c.reply()
    c.cmd("EHLO stall.test")
    r = c.cmd("STARTTLS")
    if not r.startswith("220"):
        return "STARTTLS: " + r
    ready()
    return wait_closed(c, time.time())


def no_read(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    chunk = b"EHLO stall.test\r\n" * 256
    last = time.time()
    while time.time() - last < 1.0:
        try:
            s.send(chunk)
            last = time.time()
        except BlockingIOError:
            time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            return "cut after %.1f s" % (time.time() - last)
    ready()
    p = select.poll()
    p.register(s, select.POLLERR | select.POLLHUP)
    while time.time() - last < LIMIT:
        if p.poll(200):
            return "cut after %.1f s" % (time.time() - last)
    return "not cut after %.1f s" % (time.time() - last)


def bdat_errors(port):
    c = Conn("127.0.0.1", port)
    c.reply()
    c.cmd("EHLO stall.test")
    for _ in range(40):
        c.send(b"BDAT 4\r\nxxxx")
        r = c.reply()
        if r.startswith("421"):
            return r + "|" + wait_closed(c, time.time())
        if not r.startswith("5"):
            return "unexpected: " + r
    return "no 421 after 40 refused chunks"


def open_transaction(port):
    c = Conn("127.0.0.1", port, timeout=LIMIT)
    c.reply()
    c.cmd("EHLO stall.test")
    c.cmd("MAIL FROM:<a@example.org>")
    c.cmd("RCPT TO:<b@example.net>")
    ready()
    t = time.time()
    try:
        r = c.reply()
    except socket.timeout:
        r = "no reply"
    return "%s after %.1f s" % (r, time.time() - t)


MODES = {"starttls-silent": starttls_silent, "no-read": no_read,
         "bdat-errors": bdat_errors, "open-transaction": open_transaction}

if __name__ == "__main__":
    print(MODES[sys.argv[2]](int(sys.argv[1])), flush=True)
