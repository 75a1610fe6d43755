#!/usr/bin/python3
"""bench/check_results.py RESULTS.json... — is each results document what
bench/run.sh promises? Exit 0 if all are, 1 (with one line per problem on
stderr) if not.

Two layers: bench/results.schema.json (JSON Schema, checked with
python3-jsonschema: the fields each benchmark must report, their types and
signs), then what a schema cannot say: a load run's replies add up to the
transactions sent, latency percentiles do not decrease, and a stated ratio
is the ratio of the figures beside it.
"""
import json
import os
import sys

import jsonschema

SCHEMA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results.schema.json")


def load_runs(r):
    """(prefix, transactions sent) of each loadgen run inside result r."""
    if r.get("bench") in ("daemon", "daemon_load"):
        return [("", r["sessions"] * r["messages"])]
    if r.get("bench") == "postfix_peer":
        return [(side + "_", r["sessions"] * r["messages"]) for side in ("authgate", "postfix")]
    return []


def semantic_problems(doc):
    for i, r in enumerate(doc.get("results", [])):
        if "skipped" in r:
            continue
        where = "results[%d] (%s)" % (i, r.get("bench"))
        for p, sent in load_runs(r):
            done = sum(r[p + k] for k in ("accepted", "rejected", "tempfailed"))
            if done != sent:
                yield "%s: %saccepted + rejected + tempfailed = %d, but %d were sent" % (where, p, done, sent)
            pct = [r[p + k] for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms")]
            if pct != sorted(pct):
                yield "%s: %s percentiles decrease: %s" % (where, p or "latency", pct)
        if r.get("bench") == "postfix_peer":
            want = r["authgate_messages_per_s"] / r["postfix_messages_per_s"]
            if abs(r["authgate_vs_postfix"] - want) > 0.02 * want + 0.01:
                yield "%s: authgate_vs_postfix %.2f, but the rates give %.2f" % (where, r["authgate_vs_postfix"], want)
        if r.get("bench") == "senderid" and "mail_spf_per_s" in r:
            want = r["authgate_per_s"] / r["mail_spf_per_s"]
            if abs(r["authgate_vs_mail_spf"] - want) > 0.02 * want + 0.01:
                yield "%s: authgate_vs_mail_spf %.2f, but the rates give %.2f" % (where, r["authgate_vs_mail_spf"], want)
        if r.get("bench") == "spf_real_dns" and "libspf2_per_s" in r:
            want = r["authgate_per_s"] / r["libspf2_per_s"]
            if abs(r["authgate_vs_libspf2"] - want) > 0.02 * want + 0.01:
                yield "%s: authgate_vs_libspf2 %.2f, but the rates give %.2f" % (where, r["authgate_vs_libspf2"], want)
        if r.get("bench") == "spf":
            want = r["authgate_per_s"] / r["libspf2_per_s"]
            if abs(r["authgate_vs_libspf2"] - want) > 0.02 * want + 0.01:
                yield "%s: authgate_vs_libspf2 %.2f, but the rates give %.2f" % (where, r["authgate_vs_libspf2"], want)


def problems(doc, schema):
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    for e in errors:
        yield "%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(document)", e.message)
    if not errors:
        yield from semantic_problems(doc)


def main(paths):
    if not paths:
        sys.exit(__doc__)
    schema = json.load(open(SCHEMA))
    jsonschema.Draft202012Validator.check_schema(schema)
    bad = 0
    for path in paths:
        try:
            doc = json.load(open(path))
        except (OSError, ValueError) as e:
            print("%s: %s" % (path, e), file=sys.stderr)
            bad += 1
            continue
        for p in problems(doc, schema):
            print("%s: %s" % (path, p), file=sys.stderr)
            bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
