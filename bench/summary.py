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
        if "skipped" in r:
            yield ("%s: skipped (%s)" % (b, r["skipped"]), None, "", "")
            continue
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
            for path in ("pass", "drop", "new_flow", "pass_bl", "drop_bl"):
                if ("%s_ns_per_pkt" % path) in r:
                    yield ("XDP %s path" % path.replace("_bl", " (4096 blocked)").replace("_", " "),
                           r["%s_ns_per_pkt" % path], "ns",
                           "per packet, test-run floor %.0f ns" % r.get("floor_ns_per_pkt", 0))
        elif b == "xdp_synflood":
            sent = max(r["xdp_flood_sent"], 1)
            yield ("SYN flood kernel cost, XDP off vs on",
                   (r["noxdp_flood_receive_ms"] / max(r["noxdp_flood_sent"], 1)) /
                   max(r["xdp_flood_receive_ms"] / sent, 1e-9), "x",
                   "%.2f vs %.2f us per SYN" % (1000.0 * r["noxdp_flood_receive_ms"] / max(r["noxdp_flood_sent"], 1),
                                                1000.0 * r["xdp_flood_receive_ms"] / sent))
            yield ("daemon CPU under SYN flood with XDP", r["xdp_flood_daemon_ms"], " ms",
                   "idle %d ms, %d s at %d/s" % (r["xdp_idle_daemon_ms"], r["seconds"], r["rate"]))
        elif b == "daemon":
            sync = ", spool.sync = %s" % r["spool_sync"] if "spool_sync" in r else ""
            sync += next_envelope(r)
            spooled = ", %.0f/s into new/" % r["spooled_per_s"] if "spooled_per_s" in r else ""
            machine = (", machine %.2f ms/msg busy, %.0f %% idle" % (r["machine_busy_ms_per_message"],
                                                                    r["machine_idle_pct"])
                       if "machine_busy_ms_per_message" in r else "")
            yield ("daemon messages/s (%d sessions%s)" % (r["sessions"], sync), r["messages_per_s"], "/s",
                   "p50 %.1f ms, p99 %.1f ms, CPU %.2f ms/msg%s%s" % (r["p50_ms"], r["p99_ms"],
                                                                     r["cpu_ms_per_message"], machine, spooled))
            yield ("daemon connections/s (EHLO, QUIT%s)" % sync, r["connections_per_s"], "/s", "")
        elif b == "daemon_load":
            yield ("daemon at %d sessions, spool.sync = %s%s" % (r["sessions"], r["spool_sync"], next_envelope(r)),
                   r["messages_per_s"], "/s", "p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms" %
                   (r["p50_ms"], r["p99_ms"], r["p999_ms"]))
        elif b == "daemon_idle":
            yield ("daemon memory per idle session (%d)" % r["sessions"], r["bytes_per_idle_session"], " B", "")
        elif b == "postfix_peer":
            tls = ", STARTTLS" if r["starttls"] else ""
            yield ("SMTP vs Postfix+OpenDKIM+policyd-spf%s" % tls, r["authgate_vs_postfix"], "x",
                   "%.0f vs %.0f messages/s (%d sessions)" % (r["authgate_messages_per_s"],
                                                               r["postfix_messages_per_s"], r["sessions"]))
            if r["authgate_cpu_ms_per_message"]:
                yield ("  CPU per message, Postfix stack / authgate", r["postfix_cpu_vs_authgate"], "x",
                       "%.2f vs %.2f ms" % (r["postfix_cpu_ms_per_message"], r["authgate_cpu_ms_per_message"]))
            for p in ("p50", "p99"):
                a, q = r["authgate_%s_ms" % p], r["postfix_%s_ms" % p]
                if a:
                    yield ("  %s latency, Postfix stack / authgate" % p, q / a, "x", "%.1f vs %.1f ms" % (q, a))
        elif b == "spf_real_dns":
            if r.get("libspf2_per_s"):
                yield ("SPF through %s, %d in flight vs libspf2" % (r["server"], r["inflight"]),
                       r["authgate_vs_libspf2"], "x", "%.0f vs %.0f/s" % (r["authgate_per_s"], r["libspf2_per_s"]))
                yield ("  CPU per SPF check, libspf2 / authgate", r["libspf2_cpu_us_per_eval"] /
                       r["authgate_cpu_us_per_eval"], "x", "%.0f vs %.0f us" % (r["libspf2_cpu_us_per_eval"],
                                                                         r["authgate_cpu_us_per_eval"]))
            else:
                yield ("SPF through %s, %d in flight" % (r["server"], r["inflight"]), r["authgate_per_s"], "/s", "")
        elif b == "senderid":
            if r.get("mail_spf_per_s"):
                yield ("Sender ID (PRA) warm cache vs Mail::SPF", r["authgate_vs_mail_spf"], "x",
                       "%.0f/s" % r["authgate_per_s"])
            else:
                yield ("Sender ID (PRA) warm cache", r["authgate_per_s"], "/s", "")
        elif b == "smtp":
            yield ("SMTP DATA path vs byte-at-a-time scan", r["vs_bytewise"], "x",
                   "%.0f transactions/s of %d bytes" % (r["transaction_per_s"], r["message_bytes"]))
            yield ("  dot-stuffed, vs byte-at-a-time scan", r["stuffed_transaction_per_s"] /
                   r["stuffed_bytewise_per_s"], "x", "")
        elif b == "peer_count":
            yield ("sessions_per_ip table vs list, %d addresses" % r["addresses"], r["table_vs_list"], "x",
                   "%.0f sessions/s" % r["table_per_s"])
        elif b == "openssl_speed":
            yield ("openssl speed: RSA-2048 verify (context)", r["rsa2048_verify_per_s"], "/s",
                   "Ed25519 %.0f/s, SHA-256 %.0f MB/s" % (r["ed25519_verify_per_s"], r["sha256_8k_mb_per_s"]))


def next_envelope(r):
    """The label of a load run whose client sent the next envelope with
    each message's content (loadgen --pipeline-next)."""
    return ", next envelope with the content" if r.get("pipeline_next") else ""


def p99_goal_rows(results, goal_ms=5.0):
    """Per spool.sync mode (and client pipelining) with latency-against-load
    points: the highest rate measured with p99 under the goal (issue 6:
    5 ms)."""
    modes = {}
    for r in results:
        if r.get("bench") == "daemon_load" and "skipped" not in r:
            modes.setdefault(r["spool_sync"] + next_envelope(r), []).append(r)
    for mode, points in modes.items():
        under = [r for r in points if r["p99_ms"] < goal_ms]
        name = "daemon p99 < %g ms, spool.sync = %s" % (goal_ms, mode)
        if under:
            best = max(under, key=lambda r: r["messages_per_s"])
            yield (name, best["messages_per_s"], "/s", "the highest rate measured with it, at %d sessions"
                   % best["sessions"])
        else:
            yield ("%s: at no load measured (lowest p99 %.1f ms)"
                   % (name, min(r["p99_ms"] for r in points)), None, "", "")


def main():
    doc = json.load(open(sys.argv[1]))
    print("\n%-46s %12s  %s" % ("summary (%s)" % doc.get("machine", ""), "", ""))
    results = doc.get("results", [])
    for name, value, unit, extra in list(rows(results)) + list(p99_goal_rows(results)):
        if value is None:
            print(name)
        else:
            print("%-46s %10.2f%-3s %s" % (name, value, unit, extra))


if __name__ == "__main__":
    main()
