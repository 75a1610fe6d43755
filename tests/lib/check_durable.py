#!/usr/bin/python3
"""tests/lib/check_durable.py DIR ACKED — after a power cut: every queue
name in ACKED (lines "NAME TAG" from tests/lib/acked_send.py) is a whole
message in DIR (the headers the daemon adds, and all 160 lines of its body
with its own tag), and every file in DIR is whole by the same test, its
tag read from its Subject. Prints one line saying
what it found; exits 0 only if nothing is missing or partial and something
was acknowledged."""
import os
import re
import sys

LINES = 160


def whole(data, tag):
    return (data.startswith(b'Return-Path: ')
            and b'Authentication-Results: ' in data
            and data.count(tag.encode() + b' line ') == LINES
            and data.endswith(b'must survive\r\n'))


def whole_by_subject(data):
    """A message in new/ that nobody was told about must be whole too:
    its tag is in its Subject, and every line of its body must carry it (a
    block lost in the middle reads as zeros)."""
    m = re.search(rb'\r\nSubject: (power-[0-9]+-[0-9]+)\r\n', data)
    return bool(m) and whole(data, m.group(1).decode())


def main():
    d, acked_file = sys.argv[1], sys.argv[2]
    # A line still being written when ACKED was copied is not one yet.
    lines = open(acked_file).read().split('\n')[:-1]
    acked = [l.split() for l in lines if l.strip()]
    missing = [n for n, t in acked
               if not os.path.exists(os.path.join(d, n))
               or not whole(open(os.path.join(d, n), 'rb').read(), t)]
    names = os.listdir(d) if os.path.isdir(d) else []
    partial = [n for n in names
               if not whole_by_subject(open(os.path.join(d, n), 'rb').read())]
    print('%d acknowledged, %d missing or not whole%s, %d partial in new/%s' % (
        len(acked), len(missing),
        (' (' + ' '.join(missing[:3]) + ')') if missing else '',
        len(partial), (' (' + ' '.join(partial[:3]) + ')') if partial else ''))
    sys.exit(0 if acked and not missing and not partial else 1)


if __name__ == '__main__':
    main()
