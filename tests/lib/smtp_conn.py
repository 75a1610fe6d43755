#!/usr/bin/python3
"""tests/lib/smtp_conn.py — a raw SMTP client for tests: replies exactly as
the server sent them (multi-line replies joined by newlines), nothing
fixed up on the client side as smtplib does. Used by smtp_talk.py and
the suites' Python clients (tests/integration/daemon_limits.sh)."""
import socket


class Conn:
    """A raw SMTP client: exact reply text, no client-side fixing."""
    def __init__(self, host, port, timeout=20):
        self.s = socket.create_connection((host, port), timeout)
        self.timeout, self.buf = timeout, b""
    def readline(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                l, self.buf = self.buf, b""
                return l
            self.buf += d
        i = self.buf.index(b"\n") + 1
        l, self.buf = self.buf[:i], self.buf[i:]
        return l
    def reply(self):
        lines = []
        while True:
            l = self.readline()
            if not l:
                lines.append("<EOF>")
                break
            lines.append(l.decode('latin-1').rstrip('\r\n'))
            if len(l) < 4 or l[3:4] != b'-':
                break
        return "\n".join(lines)
    def cmd(self, line):
        self.s.sendall(line.encode() + b"\r\n")
        return self.reply()
    def send(self, data):
        self.s.sendall(data)
    def eof(self):
        """True when the server closes the connection without another byte."""
        if self.buf:
            return False
        try:
            return self.s.recv(100) == b""
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False
    def quiet(self, wait=0.5):
        """True when nothing more arrives within `wait` seconds (no stray
        replies queued behind the last one read, and no close)."""
        if self.buf:
            return False
        self.s.settimeout(wait)
        try:
            self.s.recv(1, socket.MSG_PEEK)
            return False
        except socket.timeout:
            return True
        finally:
            self.s.settimeout(self.timeout)
    def close(self):
        self.s.close()
