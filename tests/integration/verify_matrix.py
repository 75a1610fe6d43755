#!/usr/bin/python3
# tests/integration/verify_matrix.py — the verdict matrix through
# `authgate verify`: SPF and Sender ID each in {pass, fail, softfail,
# neutral, none, temperror, permerror} times DKIM in {pass, fail, permerror,
# temperror, policy, none}, under the default knobs and under
# `--softfail fail` and `--permerror neutral` (and both) for the
# combinations those knobs change. Prints TAP.
#
# Every result is produced the way the wild produces it: zone records
# (`-all`, `~all`, `?all`, no record, a TIMEOUT owner, two records) for the
# MAIL FROM domain (SPF) and for a different From domain (Sender ID, through
# spf2.0/pra records); messages really signed with dkimpy (pass), then a
# tampered body (fail), a key record with bad syntax or no key record
# (permerror), a TIMEOUT key owner (temperror), an rsa-sha1 signature or a
# 512/768-bit key (policy), or no signature (none).
#
# The expected verdict is computed here from the rule in DESIGN.md
# ("Verdict policy"), not taken from the code: any fail → drop; else one
# pass → accept; else a temperror → tempfail; else drop; softfail and
# permerror count as the knobs say. Checked for each case: the exit status,
# the verdict word, the first digit of code=, and the Authentication-Results
# header parsed back by python3-authres (methods, results, identities).
#
# Run with /usr/bin/python3 (Debian's dkim and authres modules). All files
# are generated once per run in a temporary directory; runs go two at a time.
import concurrent.futures
import itertools
import os
import re
import shutil
import subprocess
import sys
import tempfile

import authres
import dkim

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = subprocess.check_output(["git", "-C", HERE, "rev-parse", "--show-toplevel"],
                              text=True).strip()
BUILD = os.environ.get("BUILD", "build")
AUTHGATE = os.environ.get("AUTHGATE", os.path.join(TOP, BUILD, "asan", "authgate"))
KEYS = os.path.join(TOP, "..", "shared", "conformance", "dkim", "dkimpy")
CLIENT = "192.0.2.1"
HELO = "mail.m.test"
DKIM_DOMAIN = "dk.m.test"
LEAK_CHECK_EVERY = 8

SPF_RESULTS = ["pass", "fail", "softfail", "neutral", "none", "temperror", "permerror"]
DKIM_RESULTS = ["pass", "fail", "permerror", "temperror", "policy", "none"]
# DKIM results are produced several ways; the case number picks one.
DKIM_WAYS = {
    "pass": ["rsa2048"],
    "fail": ["tampered"],
    "permerror": ["badkey", "nokey"],
    "temperror": ["slowkey"],
    "policy": ["sha1", "rsa512", "rsa768"],
    "none": ["unsigned"],
}

n = 0
failed = 0


def tap(ok, name, detail=None):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
    if not ok:
        failed += 1
        for line in (detail or "").splitlines():
            print("# " + line)


# ----------------------------------------------------------- the policy

def counts_as(result, knobs):
    """DESIGN.md's table: what one method's result counts as."""
    if result == "pass":
        return "pass"
    if result == "fail":
        return "fail"
    if result == "softfail":
        return "fail" if knobs.get("softfail") == "fail" else "neither"
    if result == "permerror":
        return "neutral-ish" if knobs.get("permerror") == "neutral" else "fail"
    if result == "temperror":
        return "temperror"
    return "neither"  # neutral, none, policy


def expected_verdict(results, knobs):
    c = [counts_as(r, knobs) for r in results]
    if "fail" in c:
        return "drop"
    if "pass" in c:
        return "accept"
    if "temperror" in c:
        return "tempfail"
    return "drop"


EXIT = {"accept": 0, "drop": 1, "tempfail": 75}
CODE_CLASS = {"accept": "2", "drop": "5", "tempfail": "4"}


# ------------------------------------------------------- files, once

def txt_rdata(text):
    """A TXT record's text as quoted strings of at most 255 octets."""
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"%s"' % p.replace("\\", "\\\\").replace('"', '\\"') for p in parts)


def rsa_key(bits, tmp):
    """(private PEM, p= base64) of a fresh RSA key of this size."""
    path = os.path.join(tmp, "k%d.pem" % bits)
    subprocess.run(["openssl", "genrsa", "-out", path, str(bits)], check=True,
                   capture_output=True)
    der = subprocess.run(["openssl", "rsa", "-in", path, "-pubout", "-outform", "DER"],
                         check=True, capture_output=True).stdout
    import base64
    return open(path, "rb").read(), base64.b64encode(der).decode()


def spf_records(result, version):
    """Zone lines (owner-relative rdata) giving this result for CLIENT."""
    tag = "v=spf1" if version == 1 else "spf2.0/pra"
    return {
        "pass": ["TXT " + txt_rdata("%s ip4:%s -all" % (tag, CLIENT))],
        "fail": ["TXT " + txt_rdata("%s ip4:198.51.100.0/24 -all" % tag)],
        "softfail": ["TXT " + txt_rdata("%s ~all" % tag)],
        "neutral": ["TXT " + txt_rdata("%s ?all" % tag)],
        "none": ["A 192.0.2.99"],
        "temperror": ["TIMEOUT"],
        "permerror": ["TXT " + txt_rdata("%s -all" % tag), "TXT " + txt_rdata("%s +all" % tag)],
    }[result]


def write_zone(tmp, keys):
    lines = ["$TTL 300"]
    for r in SPF_RESULTS:
        # SPF: the MAIL FROM domains. The spf2.0/pra record beside each
        # keeps Sender ID off them should a From ever use one.
        for rr in spf_records(r, 1):
            lines.append("%s.spf.m.test. %s" % (r, rr))
        # Sender ID: the From domains carry spf2.0/pra records only, and a
        # v=spf1 record that says the opposite where the pra one exists,
        # so a v=spf1 fallback would show.
        for rr in spf_records(r, 2):
            lines.append("%s.sid.m.test. %s" % (r, rr))
        if r in ("pass", "fail", "softfail", "neutral", "permerror"):
            opposite = "-all" if r == "pass" else "ip4:%s -all" % CLIENT
            lines.append("%s.sid.m.test. TXT %s" % (r, txt_rdata("v=spf1 " + opposite)))
    # HELO names for the null reverse-path
    for r in ("pass", "fail", "softfail"):
        for rr in spf_records(r, 1):
            lines.append("%s.helo.m.test. %s" % (r, rr))
    # one domain for both: v=spf1 says fail, spf2.0/pra says pass
    lines.append("both.m.test. TXT %s" % txt_rdata("v=spf1 -all"))
    lines.append("both.m.test. TXT %s" % txt_rdata("spf2.0/pra ip4:%s -all" % CLIENT))
    lines.append("rev.m.test. TXT %s" % txt_rdata("v=spf1 ip4:%s -all" % CLIENT))
    lines.append("rev.m.test. TXT %s" % txt_rdata("spf2.0/pra -all"))
    dk = "_domainkey." + DKIM_DOMAIN + "."
    lines.append("good.%s TXT %s" % (dk, txt_rdata("v=DKIM1; k=rsa; p=" + keys["rsa2048"][1])))
    lines.append("k512.%s TXT %s" % (dk, txt_rdata("v=DKIM1; k=rsa; p=" + keys["rsa512"][1])))
    lines.append("k768.%s TXT %s" % (dk, txt_rdata("v=DKIM1; k=rsa; p=" + keys["rsa768"][1])))
    # bad syntax: a tag without "=", then a p= that is not base64
    lines.append("bad.%s TXT %s" % (dk, txt_rdata("v=DKIM1; k=rsa; p=" + keys["rsa2048"][1][:40]
                                                 + "!!; broken")))
    lines.append("slow.%s TIMEOUT" % dk)
    lines.append("%s A 192.0.2.53" % DKIM_DOMAIN)
    path = os.path.join(tmp, "matrix.zone")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def message(pra_domain, way, keys):
    """pra_domain: the From domain; "NOPRA" gives two From mailboxes and
    so no PRA (RFC 4407 §2)."""
    sender = ("a@pass.sid.m.test, b@pass.sid.m.test" if pra_domain == "NOPRA"
              else pra_domain if "@" in pra_domain  # an address as it is
              else "Someone <someone@%s>" % pra_domain)
    msg = ("From: %s\r\n"
           "To: reply@authgate.test\r\n"
           "Subject: verdict matrix %s\r\n"
           "Date: Fri, 27 Nov 2026 02:00:00 +0000\r\n"
           "Message-ID: <%s.%s@m.test>\r\n"
           "\r\n"
           "A reply to a notification.\r\n" % (sender, way, way, pra_domain)).encode()
    if way == "unsigned":
        return msg
    sel, key, alg = {
        "rsa2048": ("good", keys["rsa2048"][0], b"rsa-sha256"),
        "tampered": ("good", keys["rsa2048"][0], b"rsa-sha256"),
        "badkey": ("bad", keys["rsa2048"][0], b"rsa-sha256"),
        "nokey": ("absent", keys["rsa2048"][0], b"rsa-sha256"),
        "slowkey": ("slow", keys["rsa2048"][0], b"rsa-sha256"),
        "sha1": ("good", keys["rsa2048"][0], b"rsa-sha1"),
        "rsa512": ("k512", keys["rsa512"][0], b"rsa-sha256"),
        "rsa768": ("k768", keys["rsa768"][0], b"rsa-sha256"),
    }[way]
    sig = dkim.sign(msg, sel.encode(), DKIM_DOMAIN.encode(), key, signature_algorithm=alg,
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id"],
                    linesep=b"\r\n")
    signed = sig + msg
    if way == "tampered":
        signed = signed.replace(b"A reply to", b"A forged reply to")
    return signed


# ----------------------------------------------------------- the cases

def cases():
    """(name, spf, sid, dkim, knobs, mail_from_domain, pra_domain)."""
    out = []
    # Under a knob, the combinations it can change: a softfail next to a
    # DKIM pass or temperror (the only DKIM results that would otherwise
    # accept or tempfail it); a permerror next to any DKIM result that
    # counts differently (pass, temperror, none, permerror), or a DKIM
    # permerror next to every SPF/Sender ID pair.
    knob_sets = [
        ({}, lambda s, i, d: True),
        ({"softfail": "fail"}, lambda s, i, d: "softfail" in (s, i) and d in ("pass", "temperror")),
        ({"permerror": "neutral"},
         lambda s, i, d: ("permerror" in (s, i) and d in ("pass", "temperror", "none", "permerror"))
         or (d == "permerror" and "permerror" not in (s, i))),
        ({"softfail": "fail", "permerror": "neutral"},
         lambda s, i, d: "softfail" in (s, i) and "permerror" in (s, i, d)
         and d in ("pass", "temperror", "permerror")),
    ]
    for knobs, matters in knob_sets:
        for s, i, d in itertools.product(SPF_RESULTS, SPF_RESULTS, DKIM_RESULTS):
            if matters(s, i, d):
                out.append((s, i, d, knobs, s + ".spf.m.test", i + ".sid.m.test"))
    # No PRA (Sender ID permerror) under both permerror knobs, and the
    # null reverse-path (SPF checks the HELO name, smtp.helo).
    for d in ("pass", "none", "temperror"):
        for knobs in ({}, {"permerror": "neutral"}):
            out.append(("pass", "permerror", d, knobs, "pass.spf.m.test", "NOPRA"))
    for s in ("pass", "fail", "softfail"):
        out.append((s, "pass", "none", {}, "", "pass.sid.m.test"))
    # Quoted local-parts: rendered as quoted-strings with quoted-pairs,
    # which python-authres hands back still escaped.
    out.append(("pass", "pass", "none", {}, '"a b"@pass.spf.m.test', '"some one"@pass.sid.m.test'))
    out.append(("fail", "pass", "pass", {}, '"we\\"ird"@fail.spf.m.test', '"q\\"t"@pass.sid.m.test'))
    # Sender ID and SPF on one domain, told apart by the record version.
    for d in DKIM_RESULTS:
        out.append(("fail", "pass", d, {}, "both.m.test", "both.m.test"))
        out.append(("pass", "fail", d, {}, "rev.m.test", "rev.m.test"))
    return out


def knob_args(knobs):
    a = []
    for k, v in sorted(knobs.items()):
        a += ["--" + k, v]
    return a


def run_case(zone, msgfile, c, k):
    s, i, d, knobs, mf, pra = c
    env = dict(os.environ)
    if k % LEAK_CHECK_EVERY:
        # LeakSanitizer doubles the run time; one run in LEAK_CHECK_EVERY
        # keeps it (the leak check is what ASAN_OPTIONS says).
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"

    helo = HELO if mf else "%s.helo.m.test" % s
    mail_from = mf if "@" in mf else "x@" + mf if mf else ""
    cmd = [AUTHGATE, "verify", "--ip", CLIENT, "--helo", helo, "--mail-from", mail_from,
           "--hostname", "mx.authgate.test", "--zone", zone] + knob_args(knobs) + [msgfile]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return p.returncode, p.stdout, p.stderr


def unescape(v):
    """Resolve quoted-pairs (python-authres keeps them)."""
    return re.sub(r"\\(.)", r"\1", v) if v is not None else None


def canonical(addr):
    """local@domain with the local-part's quotes and quoted-pairs removed,
    as the PRA is reported."""
    local, domain = addr.rsplit("@", 1)
    if local.startswith('"'):
        local = unescape(local[1:-1])
    return local + "@" + domain


def check(c, rc, out, err):
    s, i, d, knobs, mf, pra = c
    want = expected_verdict([s, i, d], knobs)
    problems = []
    lines = out.splitlines()
    vline = [l for l in lines if l.startswith("verdict=")]
    header = "\r\n".join(l for l in lines if not l.startswith("verdict="))
    if len(vline) != 1:
        return ["no single verdict line in %r (stderr %r)" % (out, err)]
    words = dict(w.split("=", 1) for w in vline[0].split() if "=" in w and not w.startswith('"'))
    if words.get("verdict") != want:
        problems.append("verdict %s, expected %s" % (words.get("verdict"), want))
    if rc != EXIT[want]:
        problems.append("exit %d, expected %d" % (rc, EXIT[want]))
    code = vline[0].rsplit("code=", 1)[-1]
    if not code.startswith(CODE_CLASS[want] + "."):
        problems.append("code=%s, expected %s.x.x" % (code, CODE_CLASS[want]))
    # A drop for failures names each failing check (DESIGN.md: "a human
    # reason naming the failing check"), and only those.
    reason = vline[0].split('reason="', 1)[-1].rsplit('" code=', 1)[0]
    failing = ["%s %s" % (label, r) for label, r in
               (("SPF", s), ("Sender ID", i), ("DKIM", d)) if counts_as(r, knobs) == "fail"]
    if failing and reason != "failed: " + ", ".join(failing):
        problems.append("reason %r, expected 'failed: %s'" % (reason, ", ".join(failing)))
    # The header, unfolded, through a real parser.
    unfolded = header.replace("\r\n\t", " ").replace("\r\n ", " ")
    try:
        h = authres.AuthenticationResultsHeader.parse(unfolded)
    except Exception as e:  # noqa: BLE001 - any parse failure is the finding
        return problems + ["authres cannot parse %r: %s" % (unfolded, e)]
    if h.authserv_id != "mx.authgate.test":
        problems.append("authserv-id %r" % h.authserv_id)
    got = {}
    props = {}
    for r in h.results:
        got.setdefault(r.method, []).append(r.result)
        for p in r.properties:
            props[(r.method, p.type + "." + p.name)] = unescape(p.value)
    want_methods = {"spf": [s], "sender-id": [i], "dkim": [d]}
    if got != want_methods:
        problems.append("header results %s, expected %s" % (got, want_methods))
    spf_prop = (("smtp.mailfrom", mf if "@" in mf else "x@" + mf) if mf
                else ("smtp.helo", "%s.helo.m.test" % s))
    if props.get(("spf", spf_prop[0])) != spf_prop[1]:
        problems.append("spf %s %r, expected %r" % (spf_prop[0], props.get(("spf", spf_prop[0])),
                                                    spf_prop[1]))
    want_from = (None if pra == "NOPRA" else canonical(pra) if "@" in pra
                 else "someone@" + pra)
    if props.get(("sender-id", "header.from")) != want_from:
        problems.append("sender-id header.from %r" % props.get(("sender-id", "header.from")))
    if d != "none" and props.get(("dkim", "header.d")) != DKIM_DOMAIN:
        problems.append("dkim header.d %r" % props.get(("dkim", "header.d")))
    return problems


def main():
    tmp = tempfile.mkdtemp(prefix="authgate-matrix.")
    try:
        keys = {"rsa2048": (open(os.path.join(KEYS, "2048_testkey.key"), "rb").read(),
                            open(os.path.join(KEYS, "2048_testkey_wo_markers.pub.txt"))
                            .read().split("p=", 1)[1].strip())}
        keys["rsa512"] = rsa_key(512, tmp)
        keys["rsa768"] = rsa_key(768, tmp)
        zone = write_zone(tmp, keys)
        all_cases = cases()
        msgfiles = {}
        jobs = []
        for k, c in enumerate(all_cases):
            ways = DKIM_WAYS[c[2]]
            way = ways[k % len(ways)]
            key = (c[5], way)
            if key not in msgfiles:
                path = os.path.join(tmp, "m%d.eml" % len(msgfiles))
                with open(path, "wb") as f:
                    f.write(message(c[5], way, keys))
                msgfiles[key] = path
            jobs.append((c, way, msgfiles[key]))
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            results = list(pool.map(lambda kj: run_case(zone, kj[1][2], kj[1][0], kj[0]),
                                    enumerate(jobs)))
        per_verdict = {}
        for (c, way, _), (rc, out, err) in zip(jobs, results):
            s, i, d, knobs, mf, pra = c
            want = expected_verdict([s, i, d], knobs)
            per_verdict[want] = per_verdict.get(want, 0) + 1
            name = "spf=%s sender-id=%s dkim=%s (%s)%s%s -> %s" % (
                s, i, d, way, " " if knobs else "", " ".join(knob_args(knobs)),
                want) + (" [no PRA]" if pra == "NOPRA" else " [null MAIL FROM]" if not mf
                         else " [quoted local-parts]" if "@" in mf
                         else "" if mf.endswith(".spf.m.test") else " [one domain]")
            problems = check(c, rc, out, err)
            tap(not problems, name, "\n".join(problems + ["output:"] + out.splitlines()))
        print("# %d cases, %d messages: %s" % (len(jobs), len(msgfiles), ", ".join(
            "%s %d" % kv for kv in sorted(per_verdict.items()))))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("1..%d" % n)
    return 1 if failed else 0


sys.exit(main())
