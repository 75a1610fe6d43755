#!/usr/bin/python3
"""bench/corpus.py — a deterministic corpus of reply-like messages.

usage: bench/corpus.py OUTDIR [--seed N] [--count N]

Writes OUTDIR/zone (SPF, Sender ID and DKIM key records for the corpus
domains) and OUTDIR/<size>-<alg>-<n>.eml for sizes 2, 8 and 64 KB and
algorithms rsa-2048 and ed25519: reply-like text (quoted lines, a
signature block) signed by dkimpy with the fixed test keys, every eighth
message tampered after signing so a mix of them fails. The same seed
gives byte-identical files (dkimpy's t= is pinned), so runs compare and a
cache under build/ stays valid. OUTDIR/MANIFEST lists each file with its
SHA-256 and the DKIM result it must get.
"""
import base64
import hashlib
import os
import random
import sys
import time

import dkim

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.join(TOP, "..", "shared", "conformance", "dkim", "dkimpy")
FIXED_TIME = 1795000000  # pinned t= so the output is deterministic
SIZES = (2048, 8192, 65536)
WORDS = ("thanks", "for", "the", "reply", "we", "will", "look", "into", "your",
         "question", "about", "the", "order", "and", "come", "back", "to", "you",
         "shortly", "regards", "meeting", "tomorrow", "attached", "invoice")


def keys():
    rsa = open(os.path.join(SHARED, "2048_testkey.key"), "rb").read()
    rsa_pub = open(os.path.join(SHARED, "2048_testkey_wo_markers.pub.txt")).read().strip()
    seed = open(os.path.join(TOP, "tests", "data", "dkim", "ed.seed"), "rb").read().strip()
    ed_pub = open(os.path.join(TOP, "tests", "data", "dkim", "ed.txt")).read().strip()
    return {"rsa-2048": (b"rsa", rsa, rsa_pub.replace("\n", ""), b"rsa-sha256"),
            "ed25519": (b"ed", seed, ed_pub, b"ed25519-sha256")}


def txt(record):
    return " ".join('"%s"' % record[i:i + 200] for i in range(0, len(record), 200))


def body(rng, size):
    lines, n = [], 0
    while n < size:
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(6, 14)))
        line = ("> " if rng.random() < 0.4 else "") + words
        lines.append(line)
        n += len(line) + 2
    lines += ["", "-- ", "Alice Example, support desk"]
    return "\r\n".join(lines) + "\r\n"


def message(rng, size, n):
    who = rng.choice(("alice", "bob", "carol", "dave"))
    head = (f"From: {who.title()} <{who}@corpus.example>\r\n"
            f"To: replies@mx.corpus.test\r\n"
            f"Subject: Re: ticket {rng.randint(10000, 99999)}\r\n"
            f"Message-ID: <{n}.{size}@corpus.example>\r\n"
            f"Date: Fri, 27 Nov 2026 00:00:00 +0000\r\n"
            f"In-Reply-To: <{rng.randint(1, 10**9)}@mx.corpus.test>\r\n\r\n")
    return (head + body(rng, size - len(head))).encode()


def main(argv):
    if len(argv) < 2:
        sys.exit(__doc__)
    out, seed, count = argv[1], 1, 8
    args = argv[2:]
    while args:
        flag, value = args[0], args[1]
        if flag == "--seed":
            seed = int(value)
        elif flag == "--count":
            count = int(value)
        else:
            sys.exit("corpus.py: unknown option " + flag)
        args = args[2:]
    time.time = lambda: FIXED_TIME  # dkimpy stamps t= from time.time()
    os.makedirs(out, exist_ok=True)
    k = keys()
    zone = ["$TTL 3600",
            'corpus.example. TXT "v=spf1 ip4:127.0.0.0/8 ip6:::1 -all"',
            'corpus.example. TXT "spf2.0/pra ip4:127.0.0.0/8 -all"']
    for sel, _, pub, _ in k.values():
        zone.append("%s._domainkey.corpus.example. TXT %s" % (sel.decode(), txt(pub)))
    open(os.path.join(out, "zone"), "w").write("\n".join(zone) + "\n")
    rng = random.Random(seed)
    manifest = []
    for size in SIZES:
        for alg, (sel, key, _, algo) in k.items():
            for n in range(count):
                msg = message(rng, size, n)
                sig = dkim.sign(msg, sel, b"corpus.example", key, signature_algorithm=algo,
                                include_headers=[b"from", b"to", b"subject", b"message-id", b"date"])
                signed = sig + msg
                expect = "pass"
                if n % 8 == 7:  # a reply edited in transit: the body hash fails
                    signed = signed.replace(b"regards", b"Regards", 1) if b"regards" in signed \
                        else signed[:-3] + b"x\r\n"
                    expect = "fail"
                name = "%d-%s-%02d.eml" % (size // 1024, alg, n)
                open(os.path.join(out, name), "wb").write(signed)
                manifest.append("%s %s %s" % (name, hashlib.sha256(signed).hexdigest(), expect))
    open(os.path.join(out, "MANIFEST"), "w").write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main(sys.argv)
