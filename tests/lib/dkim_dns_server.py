#!/usr/bin/python3
"""dkim_dns_server.py — a tiny authoritative UDP DNS responder on 127.0.0.1
for tests that exercise the c-ares path (never the machine's resolver).

usage: dkim_dns_server.py RECORDS PORTFILE
RECORDS lines: `NAME TXT VALUE...`, `NAME TIMEOUT` (queries dropped), or
`NAME DELAY MS VALUE...` (the TXT answer sent MS milliseconds late).
Other names: NXDOMAIN. Binds an ephemeral port, writes it to PORTFILE,
serves until killed.
"""
import socket
import struct
import sys
import threading


def load(path):
    txt, drop, delay = {}, set(), {}
    for line in open(path, encoding="latin-1"):
        parts = line.rstrip("\n").split(" ", 2)
        if len(parts) >= 2 and parts[1] == "TIMEOUT":
            drop.add(parts[0].lower())
        elif len(parts) == 3 and parts[1] == "TXT":
            txt.setdefault(parts[0].lower(), []).append(parts[2].encode("latin-1"))
        elif len(parts) == 3 and parts[1] == "DELAY":
            ms, value = parts[2].split(" ", 1)
            delay[parts[0].lower()] = int(ms) / 1000
            txt.setdefault(parts[0].lower(), []).append(value.encode("latin-1"))
    return txt, drop, delay


def qname(msg):
    labels, i = [], 12
    while msg[i]:
        n = msg[i]
        labels.append(msg[i + 1:i + 1 + n].decode("latin-1"))
        i += 1 + n
    return ".".join(labels).lower(), i + 5  # end of the question


def answer(msg, txt):
    name, qend = qname(msg)
    qtype = struct.unpack("!H", msg[qend - 4:qend - 2])[0]
    records = txt.get(name, []) if qtype == 16 else []
    rcode = 0 if name in txt else 3
    out = msg[:2] + struct.pack("!HHHHH", 0x8400 | rcode, 1, len(records), 0, 0)
    out += msg[12:qend]
    for value in records:
        chunks = [value[i:i + 255] for i in range(0, len(value), 255)] or [b""]
        rdata = b"".join(bytes([len(c)]) + c for c in chunks)
        out += struct.pack("!HHHIH", 0xC00C, 16, 1, 300, len(rdata)) + rdata
    return out


def main():
    txt, drop, delay = load(sys.argv[1])
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    with open(sys.argv[2], "w") as f:
        f.write(str(s.getsockname()[1]))
    while True:
        msg, peer = s.recvfrom(4096)
        try:
            name = qname(msg)[0]
            if name in drop:
                continue
            if name in delay:
                threading.Timer(delay[name], s.sendto, (answer(msg, txt), peer)).start()
                continue
            s.sendto(answer(msg, txt), peer)
        except (IndexError, struct.error):
            continue


main()
