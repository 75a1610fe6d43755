#!/usr/bin/python3
"""tests/lib/acked_send.py PORT SESSIONS MESSAGES — for the power-cut tests
(tests/integration/power_loss*.sh): SESSIONS sessions each send MESSAGES
DKIM-signed 8 KB messages as fast as the replies come, and the moment a
message gets its 250 this prints "QUEUE-NAME TAG" (flushed), so that what
was acknowledged before a cut is known. Every line of a message's body
carries its tag (tests/lib/check_durable.py). A session whose connection
dies (the daemon killed) just ends."""
import os
import re
import smtplib
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dkim_fixture as fx

LINES = 160


def message(tag):
    body = ''.join('%s line %d of a message that must survive\r\n' % (tag, i)
                   for i in range(LINES))
    msg = ('From: <alice@example.org>\r\nTo: <b@example.net>\r\n'
           f'Subject: {tag}\r\n\r\n{body}').encode()
    return fx.signature(msg) + msg


def send(port, session, messages, lock):
    c = smtplib.SMTP('127.0.0.1', port, local_hostname='mail.example.org',
                     timeout=60)
    c.ehlo()
    for m in range(messages):
        tag = 'power-%d-%d' % (session, m)
        c.mail('alice@example.org')
        c.rcpt('b@example.net')
        code, text = c.data(message(tag))
        if code == 250:
            name = re.search(rb'queued as (\S+)', text).group(1).decode()
            with lock:
                print(name, tag, flush=True)
    c.quit()


def one(port, session, messages, lock):
    try:
        send(port, session, messages, lock)
    except (OSError, smtplib.SMTPException):
        pass


def main():
    port, sessions, messages = map(int, sys.argv[1:4])
    lock = threading.Lock()
    ts = [threading.Thread(target=one, args=(port, s, messages, lock))
          for s in range(sessions)]
    [t.start() for t in ts]
    [t.join() for t in ts]


if __name__ == '__main__':
    main()
