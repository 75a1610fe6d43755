#!/usr/bin/python3
"""dkim_interop_gen.py — messages signed by real DKIM signers, plus
tampered copies, with the result a correct verifier must give.

usage: dkim_interop_gen.py KEYDIR OUTDIR ODSIGN [SEED]
KEYDIR holds r2048.pem/r1024.pem (PKCS#8), r2048.rsa.pem/r1024.rsa.pem
(PKCS#1, for Mail::DKIM), ed.pem (PKCS#8) and ed.seed (base64 seed).
ODSIGN is the compiled tests/lib/dkim_opendkim_sign.c. Writes
OUTDIR/NNNN.eml and OUTDIR/manifest.tsv: path, expected, signer, what.
Selectors: <signer>-<key> at example.com (see dkim_interop.sh's zone).
"""
import os
import random
import subprocess
import sys

import dkim

KEYDIR, OUT, ODSIGN = sys.argv[1:4]
SEED = int(sys.argv[4]) if len(sys.argv) > 4 else 6376
rnd = random.Random(SEED)
HERE = os.path.dirname(os.path.abspath(__file__))
CANONS = ["simple/simple", "simple/relaxed", "relaxed/simple", "relaxed/relaxed"]
WORDS = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda "
         "mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega").split()
manifest = []
counter = [0]


def words(n):
    return " ".join(rnd.choice(WORDS) for _ in range(n))


def header_block(i):
    subj = words(rnd.randint(2, 9))
    if i % 3 == 0:  # 8-bit header (raw UTF-8)
        subj += " caf\u00e9 na\u00efve \u65e5\u672c"
    h = []
    if i % 4 == 0:
        h.append("Received: from relay%d.example.net (relay [192.0.2.%d])\r\n"
                 "\tby mx.example.com with ESMTP id %d;\r\n"
                 "\tMon, 1 Jan 2024 00:00:%02d +0000" % (i, i % 250, i, i % 60))
    h.append("From: Sender %d <sender%d@example.com>" % (i, i))
    if i % 2:
        h.append("To: a@example.org,\r\n  b@example.org,\r\n\tc@example.org")
    else:
        h.append("To: rcpt@example.org")
    if i % 5 == 0:  # folded subject with odd whitespace
        h.append("Subject:   " + subj[:20] + "\r\n   \t" + subj[20:] + "  ")
    else:
        h.append("Subject: " + subj)
    h.append("Date: Mon, 1 Jan 2024 12:%02d:00 +0000" % (i % 60))
    h.append("Message-ID: <%d.%d@example.com>" % (i, SEED))
    if i % 6 == 1:
        h.append("X-Mixed-Case:  Value\twith   tabs ")
    if i % 7 == 2:
        h.append("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8")
    return "\r\n".join(h) + "\r\n"


def body_block(i):
    kind = i % 8
    if kind == 0:
        return ""
    lines = []
    for _ in range(rnd.randint(1, 40 if kind != 7 else 400)):
        r = rnd.random()
        if r < 0.1:
            lines.append("")
        elif r < 0.2:
            lines.append(words(3) + "  \t ")
        elif r < 0.3:
            lines.append("  " + words(4).replace(" ", "   "))
        elif r < 0.35:
            lines.append("8-bit: \u00e0 \u00e9 \u00fc \u20ac")
        elif r < 0.4:
            lines.append("x" * 990)
        else:
            lines.append(words(rnd.randint(1, 14)))
    body = "\r\n".join(lines) + "\r\n"
    if kind == 3:
        body += "\r\n\r\n  \r\n"   # trailing blank lines, one with WSP
    return body


def base_message(i):
    return (header_block(i) + "\r\n" + body_block(i)).encode("utf-8")


def write(data, expected, signer, what):
    counter[0] += 1
    path = os.path.join(OUT, "%04d.eml" % counter[0])
    with open(path, "wb") as f:
        f.write(data)
    manifest.append((path, expected, signer, what))


def split(msg):
    head, sep, body = msg.partition(b"\r\n\r\n")
    return head + sep, body


def tampered(signed, canon, has_l, ws=True):
    """(name, data, expected) variants of a signed message; ws adds the
    whitespace changes whose outcome depends on the canonicalization."""
    hc, bc = canon.split("/")
    head, body = split(signed)
    out = [("body-changed", head + b"X" + body, "fail")]
    if has_l:
        # Past l= is unsigned, except that simple turns an empty body into
        # CRLF, which the appended text then replaces.
        empty_simple = bc == "simple" and body == b""
        out.append(("appended-past-l", signed + b"appended\r\n",
                    "fail" if empty_simple else "pass"))
    else:
        out.append(("body-appended", signed + b"appended\r\n", "fail"))
    out.append(("subject-changed",
                head.replace(b"\r\nSubject:", b"\r\nSubject: Re:", 1) + body, "fail"))
    if not ws:
        out.append(("unsigned-header-added", b"X-Added: 1\r\n" + signed, "pass"))
        return out
    out.append(("subject-ws",
                head.replace(b"\r\nSubject:", b"\r\nSubject: ", 1) + body,
                "fail" if hc == "simple" else "pass"))
    if body[:1] not in (b"", b"\r"):
        eol = body.index(b"\r\n")
        out.append(("body-trailing-ws", head + body[:eol] + b" \t" + body[eol:],
                    "fail" if bc == "simple" else "pass"))
    out.append(("unsigned-header-added", b"X-Added: 1\r\n" + signed, "pass"))
    return out


def sign_dkimpy(msg, key, canon, has_l):
    alg = b"ed25519-sha256" if key == "ed" else b"rsa-sha256"
    kfile = os.path.join(KEYDIR, "ed.seed" if key == "ed" else key + ".pem")
    hc, bc = canon.split("/")
    sig = dkim.sign(msg, ("dkimpy-" + key).encode(), b"example.com",
                    open(kfile, "rb").read(), canonicalize=(hc.encode(), bc.encode()),
                    signature_algorithm=alg, length=has_l, linesep=b"\r\n")
    return sig + msg


def sign_opendkim(msg, key, canon, has_l):
    alg = "ed25519-sha256" if key == "ed" else "rsa-sha256"
    p = subprocess.run([ODSIGN, os.path.join(KEYDIR, key + ".pem"), "opendkim-" + key,
                        "example.com", alg, canon, "1" if has_l else "0"],
                       input=msg, capture_output=True, check=True)
    return p.stdout


mdkim_jobs = []


def queue_mdkim(msg, key, canon, tag):
    src = os.path.join(OUT, "mdkim-src-%d.eml" % len(mdkim_jobs))
    dst = os.path.join(OUT, "mdkim-out-%d.eml" % len(mdkim_jobs))
    with open(src, "wb") as f:
        f.write(msg)
    mdkim_jobs.append((src, dst, key, canon, tag))
    return dst


def emit(signer, signed, canon, has_l, what, do_tamper):
    write(signed, "pass", signer, what)
    if do_tamper:
        for name, data, exp in tampered(signed, canon, has_l, signer != "multi"):
            write(data, exp, signer, what + " " + name)


def main():
    os.makedirs(OUT, exist_ok=True)
    i = 0
    # dkimpy and OpenDKIM: 3 keys x 4 canonicalizations x l= on/off.
    for signer, fn, reps in (("dkimpy", sign_dkimpy, 3), ("opendkim", sign_opendkim, 2)):
        for key in ("r2048", "r1024", "ed"):
            for canon in CANONS:
                for has_l in (False, True):
                    for r in range(reps):
                        i += 1
                        msg = base_message(i)
                        what = "%s %s l=%d msg%d" % (key, canon, has_l, i)
                        emit(signer, fn(msg, key, canon, has_l), canon, has_l, what,
                             r == 0)
    # Mail::DKIM: RSA keys (its ed25519 needs CryptX, absent on Debian 12).
    for key in ("r2048", "r1024"):
        for canon in CANONS:
            for r in range(4):
                i += 1
                queue_mdkim(base_message(i), key, canon,
                            "%s %s msg%d tamper=%d" % (key, canon, i, r == 0))
    # Several signatures: dkimpy ed25519 under OpenDKIM rsa (+ Mail::DKIM).
    multi = []
    for r in range(16):
        i += 1
        canon = CANONS[r % 4]
        m = sign_dkimpy(base_message(i), "ed", canon, False)
        m = sign_opendkim(m, "r2048", CANONS[(r + 1) % 4], False)
        if r % 2:
            multi.append((queue_mdkim(m, "r1024", canon, "multi msg%d" % i), canon))
        else:
            emit("multi", m, canon, False, "dkimpy-ed+opendkim-rsa msg%d" % i, r % 4 == 0)
    jobs = "".join("%s %s %s mdkim-%s example.com %s rsa-sha256\n" % (
        s, d, os.path.join(KEYDIR, k + ".rsa.pem"), k, c) for s, d, k, c, _ in mdkim_jobs)
    subprocess.run(["perl", os.path.join(HERE, "dkim_mdkim_sign.pl")],
                   input=jobs.encode(), check=True)
    for s, d, k, c, tag in mdkim_jobs:
        signed = open(d, "rb").read()
        signer = "multi" if tag.startswith("multi") else "mail-dkim"
        emit(signer, signed, c, False, tag, tag.endswith("tamper=1") or signer == "multi")
        os.remove(s)
        os.remove(d)
    # A signature whose key is revoked, and one with no key record.
    i += 1
    m = sign_dkimpy(base_message(i), "r2048", "relaxed/relaxed", False)
    write(m.replace(b"s=dkimpy-r2048", b"s=revoked", 1), "permerror", "dkimpy", "revoked key")
    write(m.replace(b"s=dkimpy-r2048", b"s=nokey", 1), "permerror", "dkimpy", "no key")
    with open(os.path.join(OUT, "manifest.tsv"), "w") as f:
        for row in manifest:
            f.write("\t".join(row) + "\n")


main()
