#!/usr/bin/python3
"""tests/lib/smtp_talk.py PORT STEP... — one SMTP dialogue on a raw socket
to 127.0.0.1:PORT, for tests that need to stop between commands. The
greeting is read first and not printed; then each STEP:

  LINE        send LINE + CRLF, print the one reply (multi-line replies:
              the last line)
  TEXT\\n      (ending in the two characters backslash and n) send TEXT
              with each "\\n" as CRLF, read nothing: message bytes
  WAIT        read and print a reply with nothing sent, followed by
              " after S s", S the time since the last send
  SLEEP       wait half a second; SLEEP:S waits S seconds
  UNTIL:PATH  wait until PATH exists (another process's signal to go on)
  NOTE:TEXT   print TEXT (a marker for the caller)

A reply that does not come in 20 s prints "no reply"; a closed
connection prints "EOF".
"""
import os
import socket
import sys
import time

from smtp_conn import Conn


def main():
    c = Conn("127.0.0.1", int(sys.argv[1]))

    def reply():
        last = c.reply().split("\n")[-1]
        return "EOF" if last == "<EOF>" else last

    def say(text):
        print(text, flush=True)

    reply()  # the greeting
    t = time.time()
    for step in sys.argv[2:]:
        if step == "SLEEP" or step.startswith("SLEEP:"):
            time.sleep(float(step[6:]) if ":" in step else 0.5)
        elif step.startswith("UNTIL:"):
            while not os.path.exists(step[6:]):
                time.sleep(0.05)
        elif step.startswith("NOTE:"):
            say(step[5:])
        elif step == "WAIT":
            try:
                r = reply()
            except socket.timeout:
                r = "no reply"
            say("%s after %.1f s" % (r, time.time() - t))
        elif step.endswith("\\n"):
            c.send(step.encode().replace(b"\\n", b"\r\n"))
            t = time.time()
        else:
            c.send(step.encode() + b"\r\n")
            t = time.time()
            try:
                say(reply())
            except socket.timeout:
                say("no reply")


if __name__ == "__main__":
    main()
