#!/usr/bin/python3
"""bench/summary.py RESULTS.json — the table of ratios `make bench` ends with.

Ratios compare authgate with the baseline measured in the same run; the
absolute figures only describe the machine the run was on.
"""
import json
import sys


def rows(results):
    for r in results:
        b = r.get("bench")
        if b == "dns":
            yield ("DNS cached lookup vs overlay without cache", r["resolver_vs_uncached"], "x",
                   "%.0f/s" % r["resolver_cached_per_s"])
        elif b == "spf":
            yield ("SPF warm cache vs libspf2", r["authgate_vs_libspf2"], "x",
                   "%.0f/s" % r["authgate_per_s"])
            if r.get("pyspf_per_s"):
                yield ("SPF warm cache vs pyspf", r["authgate_per_s"] / r["pyspf_per_s"], "x", "")
        elif b == "dkim":
            for k, v in r.items():
                if k.endswith("_per_s") and "opendkim" not in k:
                    case = k[:-len("_per_s")]
                    od = r.get(case + "_opendkim_per_s")
                    if od:
                        yield ("DKIM %s vs OpenDKIM" % case, v / od, "x", "%.0f/s" % v)
                    ceil = r.get(case + "_of_ceiling")
                    if ceil:
                        yield ("DKIM %s of the OpenSSL ceiling" % case, 100 * ceil, "%", "")
        elif b == "xdp":
            for path in ("pass", "drop", "new_flow"):
                yield ("XDP %s path" % path.replace("_", " "), r["%s_ns_per_pkt" % path], "ns", "per packet")
        elif b == "daemon":
            yield ("daemon messages/s (%d sessions)" % r["sessions"], r["messages_per_s"], "/s",
                   "p50 %.1f ms, p99 %.1f ms, CPU %.2f ms/msg" % (r["p50_ms"], r["p99_ms"], r["cpu_ms_per_message"]))
        elif b == "daemon_idle":
            yield ("daemon memory per idle session (%d)" % r["sessions"], r["bytes_per_idle_session"], " B", "")
        elif b == "spf_real_dns":
            yield ("SPF through unbound, %d in flight" % r["inflight"], r["authgate_per_s"], "/s", "")


def main():
    doc = json.load(open(sys.argv[1]))
    print("\n%-46s %12s  %s" % ("summary (%s)" % doc.get("machine", ""), "", ""))
    for name, value, unit, extra in rows(doc.get("results", [])):
        print("%-46s %10.2f%-3s %s" % (name, value, unit, extra))


if __name__ == "__main__":
    main()
