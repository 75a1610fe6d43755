#!/usr/bin/python3
"""bench/plot.py RESULTS.json — the run's plots, next to it (gnuplot):

  RESULTS-throughput.png  each comparison of the run as two bars, authgate
                          and its baseline (libspf2, pyspf, OpenDKIM, the
                          Postfix stack), on a log scale, with the ratio
  RESULTS-latency.png     end-of-data-to-reply latency percentiles (p50,
                          p90, p99, p99.9) of authgate and of the Postfix
                          stack under the same load, log scale
  RESULTS-load.png        p99 against messages/s per spool.sync mode, one
                          point per number of sessions (bench_daemon's
                          latency against load), with the 5 ms goal

Prints the paths written. Exits 0 without plots if gnuplot is missing.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from summary import next_envelope


def throughput_rows(results):
    """(label, authgate, baseline) per comparison, in the run's order."""
    for r in results:
        if "skipped" in r:
            continue
        b = r["bench"]
        if b == "spf":
            yield "SPF evaluations\\nvs libspf2", r["authgate_per_s"], r["libspf2_per_s"]
            if r.get("pyspf_per_s"):
                yield "SPF evaluations\\nvs pyspf", r["authgate_per_s"], r["pyspf_per_s"]
        elif b == "dkim":
            for k, v in r.items():
                if k.endswith("_per_s") and "opendkim" not in k:
                    case = k[:-len("_per_s")]
                    od = r.get(case + "_opendkim_per_s")
                    if od:
                        yield "DKIM %s\\nvs OpenDKIM" % case.replace("_", " "), v, od
        elif b == "senderid" and r.get("mail_spf_per_s"):
            yield "Sender ID checks\\nvs Mail::SPF", r["authgate_per_s"], r["mail_spf_per_s"]
        elif b == "spf_real_dns" and r.get("libspf2_per_s"):
            yield ("SPF via unbound, %d in flight\\nvs libspf2" % r["inflight"], r["authgate_per_s"],
                   r["libspf2_per_s"])
        elif b == "postfix_peer":
            tls = " STARTTLS" if r["starttls"] else ""
            yield ("SMTP messages%s\\nvs Postfix stack" % tls, r["authgate_messages_per_s"],
                   r["postfix_messages_per_s"])


def latency_series(results):
    """(title, [p50, p90, p99, p99.9] in ms) per server and mode."""
    keys = ("p50_ms", "p90_ms", "p99_ms", "p999_ms")
    peers = [r for r in results if r.get("bench") == "postfix_peer" and "skipped" not in r]
    for r in peers:
        tls = ", STARTTLS" if r["starttls"] else ""
        yield "authgate%s" % tls, [r["authgate_" + k] for k in keys]
        yield "Postfix + OpenDKIM + policyd-spf%s" % tls, [r["postfix_" + k] for k in keys]
    if not peers:  # no peer on this machine: authgate's own daemon bench
        for r in results:
            if r.get("bench") == "daemon" and "skipped" not in r:
                sync = ", spool.sync = %s" % r["spool_sync"] if "spool_sync" in r else ""
                sync += next_envelope(r)
                yield "authgate (bench_daemon%s; Postfix peer not run)" % sync, [r[k] for k in keys]


def load_series(results):
    """{spool.sync mode and summary.next_envelope's label: [(messages/s,
    p99 ms, sessions)]}, by rate."""
    modes = {}
    for r in results:
        if r.get("bench") == "daemon_load" and "skipped" not in r:
            modes.setdefault(r["spool_sync"] + next_envelope(r), []).append(
                (r["messages_per_s"], r["p99_ms"], r["sessions"]))
    return {m: sorted(v) for m, v in modes.items()}


def plot_load(modes, out, tmp, term):
    colours = {"fsync": "#e07b39", "syncfs": "#5fa8d3", "journal": "#1b6ca8"}
    plots = []
    for i, (mode, points) in enumerate(modes.items()):
        dat = os.path.join(tmp, "load-%d.dat" % i)
        with open(dat, "w") as f:
            for rate, p99, sessions in points:
                f.write("%g %g %d\n" % (rate, max(p99, 0.001), sessions))
        colour = colours.get(mode, "#0b3d5c" if mode.startswith("journal") else "#444444")
        plots.append("'%s' using 1:2 with linespoints pt 7 lc rgb '%s' title 'spool.sync = %s'"
                     % (dat, colour, mode))
        plots.append("'%s' using 1:2:(sprintf('%%d', $3)) with labels offset 0,1 font ',8' "
                     "tc rgb '%s' notitle" % (dat, colour))
    plots.append("5 with lines dt 2 lc rgb '#aa0000' title 'goal: p99 under 5 ms'")
    return """set terminal {term}
set output '{out}'
set title "p99 from end of data to reply against the rate it allows (labels: sessions)"
set logscale y
set grid
set key top left
set xlabel "messages/s (closed loop, 2 workers, load generator on the same cores)"
set ylabel "p99 ms (log scale)"
set xrange [0:*]
plot """.format(term=term, out=out) + ", \\\n     ".join(plots) + "\n"


def terminal():
    ok = subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True).returncode == 0
    return "pngcairo size 1100,620 font 'sans,10'" if ok else "png size 1100,620"


COMMON = """set terminal {term}
set output '{out}'
set title "{title}"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set grid ytics mytics
set key top right
set xtics scale 0 font ',9'
set ylabel "{ylabel}"
"""


def plot_throughput(rows, out, tmp, term):
    dat = os.path.join(tmp, "throughput.dat")
    with open(dat, "w") as f:
        for label, a, b in rows:
            f.write('"%s" %g %g\n' % (label, a, b))
    top = max(max(a, b) for _, a, b in rows)
    return COMMON.format(term=term, out=out, ylabel="per second (log scale)",
                         title="Throughput: authgate beside each baseline, same run, same data") + """
set yrange [1:{top}]
set xtics rotate by -25 offset -1,0
set bmargin 7
plot '{dat}' using 2:xtic(1) title 'authgate' lc rgb '#1b6ca8', \\
     '' using 3 title 'baseline (named below the bars)' lc rgb '#e07b39', \\
     '' using ($0 - 0.22):($2 * 1.6):(sprintf('%.1fx', $2 / $3)) with labels notitle font ',9'
""".format(top=top * 8, dat=dat)


def plot_latency(series, out, tmp, term):
    dat = os.path.join(tmp, "latency.dat")
    names = ["p50", "p90", "p99", "p99.9"]
    with open(dat, "w") as f:
        for i, n in enumerate(names):
            f.write('"%s" %s\n' % (n, " ".join("%g" % max(v[i], 0.001) for _, v in series)))
    colours = ["#1b6ca8", "#e07b39", "#5fa8d3", "#f2b279"]
    plots = ["'%s' using %d%s title '%s' lc rgb '%s'" % (
        dat if i == 0 else "", i + 2, ":xtic(1)" if i == 0 else "", t, colours[i % 4])
        for i, (t, _) in enumerate(series)]
    low = min(max(v, 0.001) for _, vs in series for v in vs)
    return COMMON.format(term=term, out=out, ylabel="ms from end of data to the reply (log scale)",
                         title="Latency under the same load: end of data to final reply") + \
        "set yrange [%g:*]\nset key below horizontal\nplot " % (low / 4) + \
        ", \\\n     ".join(plots) + "\n"


def main(argv):
    if len(argv) != 2:
        sys.exit(__doc__)
    if not shutil.which("gnuplot"):
        print("plots: gnuplot is not installed (make deps), none written")
        return
    doc = json.load(open(argv[1]))
    base = argv[1][:-len(".json")] if argv[1].endswith(".json") else argv[1]
    results = doc.get("results", [])
    term = terminal()
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        rows = list(throughput_rows(results))
        if rows:
            jobs.append((base + "-throughput.png", plot_throughput(rows, base + "-throughput.png", tmp, term)))
        series = list(latency_series(results))
        if series:
            jobs.append((base + "-latency.png", plot_latency(series, base + "-latency.png", tmp, term)))
        modes = load_series(results)
        if modes:
            jobs.append((base + "-load.png", plot_load(modes, base + "-load.png", tmp, term)))
        for out, script in jobs:
            run = subprocess.run(["gnuplot"], input=script, text=True, capture_output=True)
            if run.returncode != 0 or not os.path.exists(out):
                sys.exit("plots: gnuplot failed for %s: %s" % (out, run.stderr.strip()))
            print("plot: %s" % out)


if __name__ == "__main__":
    main(sys.argv)
