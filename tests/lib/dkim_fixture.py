"""tests/lib/dkim_fixture.py — the RSA-2048 test key from ../shared that
daemon tests and benches sign with, as selector `sel` of example.org.

    sys.path.insert(0, TOP + "/tests/lib"); import dkim_fixture as fx
    fx.KEY_RR    # 'sel._domainkey.example.org. TXT "..." "..."' (zone line)
    fx.signature(msg)  # its DKIM-Signature header (From, To, Subject signed)
"""
import os

import dkim

_TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_KEYS = os.path.join(_TOP, "..", "shared", "conformance", "dkim", "dkimpy")


def txt_strings(record):
    """A long TXT record as quoted character-strings of at most 200 octets."""
    return " ".join('"%s"' % record[i:i + 200] for i in range(0, len(record), 200))


KEY = open(os.path.join(_KEYS, "2048_testkey.key"), "rb").read()
PUBLIC = open(os.path.join(_KEYS, "2048_testkey_wo_markers.pub.txt")).read().strip().replace("\n", "")
KEY_RR = "sel._domainkey.example.org. TXT " + txt_strings(PUBLIC)


def signature(msg):
    return dkim.sign(msg, b"sel", b"example.org", KEY,
                     include_headers=[b"from", b"to", b"subject"])
