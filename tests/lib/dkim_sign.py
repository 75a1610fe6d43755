#!/usr/bin/python3
"""dkim_sign.py — sign a message with dkimpy (Debian python3-dkim).

usage: dkim_sign.py KEYFILE SELECTOR DOMAIN ALG CANON [options] < msg > signed
  ALG    rsa-sha256 | ed25519-sha256 (KEYFILE: PEM, or base64 ed25519 seed)
  CANON  header/body, e.g. relaxed/simple
  --length          add l=
  --all-headers     sign every header field present that dkimpy allows
                    (it refuses Return-Path, Received, ...)
  --identity I      add i=
Input may use LF or CRLF; output is CRLF. Run with /usr/bin/python3.
"""
import sys

import dkim


def main():
    a = sys.argv[1:]
    keyfile, sel, dom, alg, canon = a[:5]
    opts = a[5:]
    msg = sys.stdin.buffer.read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    key = open(keyfile, "rb").read()
    hc, bc = canon.split("/")
    kw = {}
    if "--length" in opts:
        kw["length"] = True
    if "--identity" in opts:
        kw["identity"] = opts[opts.index("--identity") + 1].encode()
    if "--all-headers" in opts:
        head = msg.split(b"\r\n\r\n", 1)[0]
        names = []
        for line in head.split(b"\r\n"):
            if line and line[:1] not in b" \t" and b":" in line:
                names.append(line.split(b":", 1)[0].strip().lower())
        kw["include_headers"] = [n for n in names if n not in dkim.DKIM.SHOULD_NOT]
    sig = dkim.sign(msg, sel.encode(), dom.encode(), key,
                    canonicalize=(hc.encode(), bc.encode()),
                    signature_algorithm=alg.encode(), linesep=b"\r\n", **kw)
    sys.stdout.buffer.write(sig + msg)


main()
