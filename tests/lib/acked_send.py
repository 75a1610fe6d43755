#!/usr/bin/python3
"""tests/lib/acked_send.py PORT SESSIONS MESSAGES [quarantine] — for the
power-cut tests (tests/integration/power_loss*.sh): SESSIONS sessions each
send MESSAGES DKIM-signed 8 KB messages as fast as the replies come, and
the moment a message gets its 250 this prints "QUEUE-NAME TAG" (flushed),
so that what was acknowledged before a cut is known. Every line of a
message's body carries its tag (tests/lib/check_durable.py). A session
whose connection dies (the daemon killed) just ends. With "quarantine",
each message's To: is changed after signing, so that its DKIM check fails
(a daemon with policy.drop_action = quarantine then answers "250 ...
accepted as NAME" and spools it to the quarantine)."""
import os
import re
import smtplib
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dkim_fixture as fx

LINES = 160


def message(tag, break_dkim):
    body = ''.join('%s line %d of a message that must survive\r\n' % (tag, i)
                   for i in range(LINES))
    msg = ('From: <alice@example.org>\r\nTo: <b@example.net>\r\n'
           f'Subject: {tag}\r\n\r\n{body}').encode()
    signed = fx.signature(msg) + msg
    return signed.replace(b'To: <b@', b'To: <c@', 1) if break_dkim else signed


def send(port, session, messages, lock, break_dkim):
    c = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.example.org',
                     timeout=60)
    c.ehlo()
    for m in range(messages):
        tag = 'power-%d-%d' % (session, m)
        c.mail('alice@example.org')
        c.rcpt('b@example.net')
        code, text = c.data(message(tag, break_dkim))
        if code == 250:
            name = re.search(rb'(?:queued|accepted) as (\S+)', text).group(1).decode()
            with lock:
                print(name, tag, flush=True)
    c.quit()


def one(port, session, messages, lock, break_dkim):
    try:
        send(port, session, messages, lock, break_dkim)
    except (OSError, smtplib.SMTPException):
        pass


def main():
    port, sessions, messages = map(int, sys.argv[1:4])
    break_dkim = sys.argv[4:5] == ['quarantine']
    lock = threading.Lock()
    ts = [threading.Thread(target=one, args=(port, s, messages, lock, break_dkim))
          for s in range(sessions)]
    [t.start() for t in ts]
    [t.join() for t in ts]


if __name__ == '__main__':
    main()
