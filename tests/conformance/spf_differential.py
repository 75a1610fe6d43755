#!/usr/bin/python3
# tests/conformance/spf_differential.py — authgate's SPF engine against pyspf
# (Debian python3-spf) on generated record sets.
#
# A fixed-seed generator builds CASES independent cases, each with its own
# zone under c<N>.test (mechanisms with CIDRs, macros with transformers,
# include chains, redirects, exp=, PTR, TIMEOUTs, syntax errors, and cases
# built to reach the 10-term and 2-void limits). Both engines answer from
# the same data: ours from the zone file written by tests/lib/spf_suite.py,
# pyspf through its spf.DNSLookup hook. Every disagreement must be listed in
# docs/conformance.md ("SPF differential disagreements"), with the RFC
# section that decides it; an unlisted disagreement, or a listed case that
# now agrees, fails the test. Prints TAP, the agreement rate as a diagnostic.
import ipaddress
import os
import random
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import spf_suite  # noqa: E402

try:
    import spf  # Debian python3-spf
except ImportError:
    spf = None

TOP = spf_suite.repo_top()
BUILD = os.environ.get("BUILD", "build")
DRIVER = os.path.join(TOP, BUILD, "asan", "conformance", "spf_driver")
CASES = int(os.environ.get("SPF_DIFF_CASES", "1200"))
SEED = 7208

CLIENTS4 = ["192.0.2.1", "192.0.2.77", "198.51.100.9", "203.0.113.200"]
CLIENTS6 = ["2001:db8::1", "2001:db8:1:2::cafe"]
QUALS = ["", "", "", "+", "-", "~", "?"]


class Case:
    def __init__(self, idx, rnd):
        self.idx = idx
        self.r = rnd
        self.base = "c%d.test" % idx
        self.zone = {}
        self.doms = ["%s.%s" % (n, self.base) for n in ("d0", "d1", "d2", "d3")]
        self.hosts = ["%s.%s" % (n, self.base) for n in ("h0", "h1", "h2")]
        self.ip = rnd.choice(CLIENTS4 + CLIENTS6 + CLIENTS4)
        self.local = rnd.choice(["user", "a.b-c", "postmaster", "x+tag"])
        self.mailfrom = "" if rnd.random() < 0.08 else "%s@%s" % (self.local, self.doms[0])
        self.helo = self.doms[0] if not self.mailfrom else rnd.choice(self.hosts)
        self.build()

    def add(self, name, rec):
        self.zone.setdefault(name, []).append(rec)

    def near_ip(self):
        """An address of the client's family, equal to it or not."""
        r = self.r
        v6 = ":" in self.ip
        if r.random() < 0.5:
            return self.ip
        return r.choice(CLIENTS6 if v6 else CLIENTS4)

    def cidr_suffix(self, v6):
        r = self.r.random()
        if r < 0.6:
            return ""
        if v6:
            return "/" + str(self.r.choice([0, 32, 48, 64, 120, 127, 128]))
        return "/" + str(self.r.choice([0, 8, 16, 24, 25, 31, 32]))

    def dual(self):
        s = ""
        if self.r.random() < 0.3:
            s += "/" + str(self.r.choice([0, 16, 24, 32]))
        if self.r.random() < 0.2:
            s += "//" + str(self.r.choice([0, 48, 64, 128]))
        return s

    def macro_dom(self):
        r = self.r
        return r.choice([
            "%{i}._ip.", "%{ir}.%{v}._spf.", "%{l}.", "%{L}.", "%{o}.",
            "%{d2}.", "%{d1r}.", "%{lr-}.", "%{s}.", "%{h}.", "%{i1r}.",
            "%{p}.", "%{i2}.", "%{l1r+-}.", "%%.", "%-.",
        ]) + self.base

    def term(self, depth):
        r = self.r
        q = r.choice(QUALS)
        k = r.random()
        v6 = ":" in self.ip
        if k < 0.14:
            fam6 = r.random() < (0.7 if v6 else 0.2)
            net = ipaddress.ip_network(self.near_ip() if fam6 == v6 else
                                       (r.choice(CLIENTS6) if fam6 else r.choice(CLIENTS4)))
            return "%sip%d:%s%s" % (q, 6 if fam6 else 4, net.network_address,
                                    self.cidr_suffix(fam6))
        if k < 0.28:
            return q + "a" + (":" + r.choice(self.hosts) if r.random() < 0.6 else "") + self.dual()
        if k < 0.40:
            return q + "mx" + (":" + r.choice(self.doms) if r.random() < 0.5 else "") + self.dual()
        if k < 0.50 and depth < 3:
            return q + "include:" + r.choice(self.doms[1:])
        if k < 0.60:
            return q + "exists:" + self.macro_dom()
        if k < 0.65:
            return q + "ptr" + (":" + r.choice(self.doms + [self.base]) if r.random() < 0.5 else "")
        if k < 0.70:
            return q + "a:" + self.macro_dom()
        if k < 0.73:
            return r.choice(["ip4:1.2.3.4/33", "a:-bad", "foo:bar", "ip6:::1/129",
                             "mx//0/", "include:", "exists", "a/024", "%{z}", "x=%{z}"])
        if k < 0.76:
            return "unknown-mod=%{d}"
        return q + "all"

    def record(self, name, depth):
        r = self.r
        terms = [self.term(depth) for _ in range(r.randint(0, 5))]
        if r.random() < 0.15:
            terms.append("redirect=" + r.choice(self.doms[1:]))
        if r.random() < 0.2:
            terms.append("exp=exp." + self.base)
        r.shuffle(terms)
        return " ".join(["v=spf1"] + terms)

    def limit_case(self):
        """Chains that reach or pass the 10-term and 2-void limits."""
        r = self.r
        n = r.choice([9, 10, 11, 12])
        names = ["l%d.%s" % (i, self.base) for i in range(n)]
        for i, nm in enumerate(names):
            nxt = ("include:" + names[i + 1]) if i + 1 < n else "ip4:%s" % self.ip if ":" not in self.ip else "ip6:%s" % self.ip
            self.add(nm, {"SPF": "v=spf1 %s -all" % nxt})
        voids = r.choice([0, 2, 3])
        body = " ".join("a:nx%d.%s" % (i, self.base) for i in range(voids))
        self.add(self.doms[0], {"SPF": "v=spf1 %s include:%s -all" % (body, names[0])})

    def build(self):
        r = self.r
        if r.random() < 0.12:
            self.limit_case()
        else:
            self.add(self.doms[0], {"SPF": self.record(self.doms[0], 0)})
            for d in self.doms[1:]:
                if r.random() < 0.85:
                    self.add(d, {"SPF": self.record(d, 1)})
        for h in self.hosts + self.doms:
            if r.random() < 0.6:
                self.add(h, {"A": self.near_ip() if ":" not in self.ip else r.choice(CLIENTS4)})
            if r.random() < 0.4:
                self.add(h, {"AAAA": self.near_ip() if ":" in self.ip else r.choice(CLIENTS6)})
        for d in self.doms:
            for pref in range(r.choice([0, 0, 1, 2, 3])):
                self.add(d, {"MX": [pref, r.choice(self.hosts + [""] * 1)]})
        if r.random() < 0.4:
            rev = ipaddress.ip_address(self.ip).reverse_pointer
            for _ in range(r.randint(1, 3)):
                self.add(rev, {"PTR": r.choice(self.hosts + self.doms)})
        if r.random() < 0.3:
            self.add("exp." + self.base, {"TXT": r.choice([
                "%{i} not allowed by %{d}", "see %{h} %{l} %{o}", "bad %{z}",
                "%{c} at %{r} %{d2}", "%{p} is not welcome"])})
        if r.random() < 0.05:
            self.zone.setdefault(r.choice(self.hosts + self.doms[1:]), []).append("TIMEOUT")
        for i in range(3):
            if r.random() < 0.3:
                self.add("%s._ip.%s" % (self.ip, self.base), {"A": "127.0.0.2"})


# ------------------------------------------------------------------ pyspf

ZONE = {}


def py_lookup(name, qtype, strict=True, timeout=None):
    name = name.rstrip(".").lower()
    recs = ZONE.get(name)
    if recs is None:
        return
    have = {t for t, _ in recs if t != "TIMEOUT"}
    if qtype not in have and any(t == "TIMEOUT" for t, _ in recs):
        raise spf.TempError("DNS timeout")
    for t, v in recs:
        if t != qtype:
            continue
        if t == "AAAA":
            v = socket.inet_pton(socket.AF_INET6, v)
        elif t == "TXT":
            v = tuple(s for s in spf_suite.txt_strings(v))
        elif t == "MX":
            v = (v[0], v[1])
        yield ((name, t), v)


def py_zone(zonedata):
    out = {}
    for owner, recs in zonedata.items():
        lst = out.setdefault(owner.lower(), [])
        has_txt = any(isinstance(r, dict) and "TXT" in r for r in recs)
        for rec in recs:
            if rec == "TIMEOUT":
                lst.append(("TIMEOUT", None))
                continue
            for t, v in rec.items():
                if t == "SPF":
                    if not has_txt:
                        lst.append(("TXT", v))
                    continue
                lst.append((t, v))
    return out


def py_query(c, void_limit=True):
    """pyspf's (result, explanation-or-error message)."""
    saved = spf.MAX_VOID_LOOKUPS
    if not void_limit:
        spf.MAX_VOID_LOOKUPS = 1 << 30
    try:
        q = spf.query(i=c.ip, s=c.mailfrom, h=c.helo, strict=True)
        q.set_default_explanation("DEFAULT")
        res, _code, exp = q.check()
    finally:
        spf.MAX_VOID_LOOKUPS = saved
    return res, exp


def py_check(c, void_limit=True):
    res, exp = py_query(c, void_limit)
    return res, exp if res == "fail" else ""


def classify(c, mine, void_limit=True):
    """The documented reason for a disagreement, or None. Each reason is a
    pyspf permerror that RFC 7208 does not call for; the void-lookup one is
    confirmed by re-running pyspf without it."""
    res, msg = py_query(c, void_limit)
    if res != "permerror":
        return None
    if "Void lookup limit" in msg:
        # §4.6.4 limits void lookups per *term*; pyspf counts every empty
        # answer, including the address lookups of MX hosts and PTR names.
        if py_check(c, void_limit=False) == mine:
            return "void-lookups"
        return classify(c, mine, void_limit=False) if void_limit else None
    if "MUST appear at most once" in msg and not any(
            m in msg for m in ("redirect=", "exp=")):
        # §6: unrecognized modifiers are ignored "no matter where, or how
        # often, they appear"; pyspf rejects a repeated one.
        return "repeated-unknown-modifier"
    if "trivial recursion" in msg:
        # §4.6.2, §5.2: a self-include is only an error (the 10-term limit)
        # when evaluation reaches it; pyspf rejects it statically.
        return "unreached-self-include"
    return None


# ------------------------------------------------------------------- main

def explained():
    """category -> set of case numbers, from the docs table (column 1 the
    category, column 3 the cases as "c5 c66 ...")."""
    path = os.path.join(TOP, "docs", "conformance.md")
    rows = spf_suite.read_md_table(path, "SPF differential disagreements")
    return {r[0].strip("`"): {int(x.lstrip("c")) for x in r[2].split()} for r in rows}


def compare(cases, ours):
    """Return (agree count, {case: category or None} for disagreements)."""
    agree, diffs = 0, {}
    for c, o in zip(cases, ours):
        mine = (o[0], o[1])
        if py_check(c) == mine:
            agree += 1
        else:
            diffs[c.idx] = classify(c, mine)
    return agree, diffs


def report(cases, ours, diffs, listed):
    n = 0
    bad = 0
    verbose = os.environ.get("SPF_DIFF_VERBOSE")
    for cat, ids in sorted(listed.items()):
        got = {i for i, k in diffs.items() if k == cat}
        n += 1
        ok = got == ids
        bad += not ok
        print("%s %d - differential category %s: %d cases as documented" %
              ("ok" if ok else "not ok", n, cat, len(got)))
        if not ok:
            print("# now:    %s" % " ".join("c%d" % i for i in sorted(got)))
            print("# listed: %s" % " ".join("c%d" % i for i in sorted(ids)))
    for i, cat in sorted(diffs.items()):
        if cat in listed:
            continue
        n += 1
        bad += 1
        c, o = cases[i], ours[i]
        print("not ok %d - c%d: authgate %s, pyspf %s (unexplained)" %
              (n, i, (o[0], o[1]), py_check(c)))
        if verbose:
            for owner, recs in c.zone.items():
                print("#   %s %s" % (owner, recs))
            print("#   ip %s mailfrom %r helo %s; ours: mech %r problem %r" %
                  (c.ip, c.mailfrom, c.helo, o[2], o[3]))
    return n, bad


def main():
    if spf is None:
        print("1..0 # SKIP python3-spf not installed")
        return 0
    if not os.access(DRIVER, os.X_OK):
        print("Bail out! %s is not built" % DRIVER)
        return 1
    rnd = random.Random(SEED)
    cases = [Case(i, rnd) for i in range(CASES)]
    zonedata = {}
    for c in cases:
        zonedata.update(c.zone)
    ZONE.update(py_zone(zonedata))
    spf.DNSLookup = py_lookup
    with tempfile.TemporaryDirectory(prefix="spf-diff-") as tmp:
        zone = os.path.join(tmp, "diff.zone")
        with open(zone, "w", encoding="utf-8") as f:
            f.write(spf_suite.zone_text(zonedata))
        lines = "".join("%s\t%s\t%s\n" % (c.ip, c.mailfrom, c.helo) for c in cases)
        p = subprocess.run([DRIVER, "--default-explanation", "DEFAULT", zone],
                           input=lines, capture_output=True, text=True)
    ours = [l.split("\t") for l in p.stdout.splitlines()]
    if p.returncode != 0 or len(ours) != len(cases):
        print("Bail out! driver failed: %s" % p.stderr.strip())
        return 1
    agree, diffs = compare(cases, ours)
    n, bad = report(cases, ours, diffs, explained())
    if os.environ.get("SPF_DIFF_LIST"):
        for cat in sorted({k for k in diffs.values() if k}):
            print("# %s: %s" % (cat, " ".join("c%d" % i for i, k in sorted(diffs.items()) if k == cat)))
    n += 1
    print("%s %d - %d generated cases, every disagreement documented" %
          ("ok" if bad == 0 else "not ok", n, len(cases)))
    print("# agreement with pyspf %s: %d/%d = %.1f%% (%d documented disagreements)" %
          (getattr(spf, "__version__", "?"), agree, len(cases), 100.0 * agree / len(cases),
           len(cases) - agree))
    print("1..%d" % n)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
