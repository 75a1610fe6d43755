#!/usr/bin/python3
"""dkim_zone.py — turn DKIM key fixtures into an authgate zone file.

Input lines (stdin), one record each:
  OWNER VALUE           TXT value (Mail::DKIM FAKE_DNS.dat, Stalwart headers)
  OWNER<TAB>TXT<TAB>V   rspamd dns-fixtures.tsv
  OWNER<TAB>TIMEOUT     pseudo-types; "~~Query timed out~~" and "~~SERVFAIL~~"
                        values map to TIMEOUT / SERVFAIL; NXDOMAIN is omitted
Lines starting with # or ; and blank lines are skipped. `--domain D` appends
D to owners without "._domainkey." (Stalwart's 001 lists bare selectors).
Values are split into 255-octet strings and quoted for the master file.
"""
import sys


def quote(value):
    b = value.encode("latin-1")
    if b == b'""':
        b = b""
    parts = [b[i:i + 255] for i in range(0, len(b), 255)] or [b""]
    out = []
    for p in parts:
        s = "".join("\\" + chr(c) if c in b'"\\' else
                    ("\\%03d" % c if c < 0x20 or c > 0x7e else chr(c)) for c in p)
        out.append('"' + s + '"')
    return " ".join(out)


def main():
    domain = None
    if len(sys.argv) == 3 and sys.argv[1] == "--domain":
        domain = sys.argv[2]
    print("$TTL 300")
    for raw in sys.stdin.buffer.read().decode("latin-1").splitlines():
        line = raw.rstrip("\r")
        if not line.strip() or line.lstrip()[0] in "#;":
            continue
        if "\t" in line:
            f = line.split("\t", 2)
            owner, kind = f[0], f[1]
            value = f[2] if len(f) > 2 else ""
        else:
            owner, _, value = line.partition(" ")
            value = value.strip()
            kind = "TXT"
        if domain and "._domainkey." not in owner:
            owner = owner + "._domainkey." + domain
        if value == "NXDOMAIN":
            continue
        if value == "~~Query timed out~~":
            kind = "TIMEOUT"
        elif value == "~~SERVFAIL~~":
            kind = "SERVFAIL"
        if kind in ("TIMEOUT", "SERVFAIL"):
            print("%s. %s" % (owner, kind))
        else:
            print("%s. TXT %s" % (owner, quote(value)))


main()
