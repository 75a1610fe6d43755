#!/usr/bin/python3
# tests/conformance/spf_rfc7208.py — the openspf SPF test suites (RFC 7208,
# RFC 4408, pyspf's extra tests), every test run twice: through the library
# (build/asan/conformance/spf_driver, the sans-I/O engine on the zone) and
# through the CLI (`authgate spf --zone`). Prints TAP.
#
# RFC 4408 tests whose answer RFC 7208 changed are asserted with the RFC 7208
# answer listed in docs/conformance.md ("RFC 4408 tests changed by RFC 7208").
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
import spf_suite  # noqa: E402

TOP = spf_suite.repo_top()
SHARED = os.path.join(TOP, "..", "shared", "conformance", "spf")
BUILD = os.environ.get("BUILD", "build")
AUTHGATE = os.environ.get("AUTHGATE", os.path.join(TOP, BUILD, "asan", "authgate"))
DRIVER = os.path.join(TOP, BUILD, "asan", "conformance", "spf_driver")
SUITES = [
    ("rfc7208", "rfc7208-tests.yml"),
    ("rfc4408", "rfc4408-tests.yml"),
    ("pyspf-extra", "pyspf-extra/test.yml"),
]

n = 0
failed = 0


def tap(ok, name, detail=None):
    global n, failed
    n += 1
    print("%s %d - %s" % ("ok" if ok else "not ok", n, name))
    if not ok:
        failed += 1
        if detail:
            for line in detail.splitlines():
                print("# " + line)


# Suites whose listed tests are asserted with the RFC 7208 answer from a
# table in docs/conformance.md (column 1 test, column 3 RFC 7208 answer).
OVERRIDES = {
    "rfc4408": "RFC 4408 tests changed by RFC 7208",
    "pyspf-extra": "pyspf extra tests that contradict RFC 7208",
}


def overrides(label):
    if label not in OVERRIDES:
        return {}
    path = os.path.join(TOP, "docs", "conformance.md")
    rows = spf_suite.read_md_table(path, OVERRIDES[label])
    return {r[0].strip("`"): [x.strip() for x in r[2].split(",")] for r in rows}


def verdict(expect, got_result, got_exp):
    if got_result not in expect["results"]:
        return False, "expected %s, got %s" % ("|".join(expect["results"]), got_result)
    want_exp = expect["explanation"]
    if want_exp is not None and got_result == "fail" and got_exp != want_exp:
        return False, "explanation: expected %r, got %r" % (want_exp, got_exp)
    return True, None


def run_library(zone, tests):
    lines = "".join("%s\t%s\t%s\n" % (t["host"], t["mailfrom"], t["helo"]) for _, t in tests)
    p = subprocess.run([DRIVER, "--default-explanation", "DEFAULT", zone], input=lines,
                       capture_output=True, text=True)
    out = p.stdout.splitlines()
    if p.returncode != 0 or len(out) != len(tests):
        return None, p.stderr
    return [l.split("\t") for l in out], None


def run_cli(zone, t):
    p = subprocess.run([AUTHGATE, "spf", "--ip", t["host"], "--mail-from", t["mailfrom"],
                        "--helo", t["helo"], "--zone", zone,
                        "--default-explanation", "DEFAULT"], capture_output=True, text=True)
    lines = p.stdout.splitlines()
    if p.returncode != 0 or not lines:
        return None, None, "exit %d: %s" % (p.returncode, p.stderr.strip())
    exp = lines[1][len("explanation: "):] if len(lines) > 1 else ""
    return lines[0], exp, None


def run_suite(label, fname, tmp, changed):
    counts = {"lib": 0, "cli": 0}
    total = 0
    for si, scen in enumerate(spf_suite.load_scenarios(os.path.join(SHARED, fname))):
        zone = os.path.join(tmp, "%s-%d.zone" % (label, si))
        with open(zone, "w", encoding="utf-8") as f:
            f.write(spf_suite.zone_text(scen["zonedata"]))
        tests = list(spf_suite.tests_of(scen))
        for name, t in tests:
            if name in changed:
                t["results"] = changed[name]
        lib, err = run_library(zone, tests)
        for i, (name, t) in enumerate(tests):
            total += 1
            tag = "%s/%s" % (label, name)
            if lib is None:
                tap(False, "lib " + tag, "driver failed: " + (err or ""))
            else:
                ok, why = verdict(t, lib[i][0], lib[i][1])
                counts["lib"] += ok
                tap(ok, "lib " + tag, why and why + " (mechanism %r, problem %r)" % (lib[i][2], lib[i][3]))
            res, exp, err = run_cli(zone, t)
            if res is None:
                tap(False, "cli " + tag, err)
                continue
            ok, why = verdict(t, res, exp)
            counts["cli"] += ok
            tap(ok, "cli " + tag, why)
    print("# %s: library %d/%d, CLI %d/%d" % (label, counts["lib"], total, counts["cli"], total))


def main():
    for path in (AUTHGATE, DRIVER):
        if not os.access(path, os.X_OK):
            print("Bail out! %s is not built" % path)
            return 1
    for _, fname in SUITES:
        if not os.path.exists(os.path.join(SHARED, fname)):
            print("Bail out! %s not found (the suites live in ../shared next to "
                  "the repository)" % os.path.join(SHARED, fname))
            return 1
    with tempfile.TemporaryDirectory(prefix="spf-conf-") as tmp:
        for label, fname in SUITES:
            run_suite(label, fname, tmp, overrides(label))
    print("1..%d" % n)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
