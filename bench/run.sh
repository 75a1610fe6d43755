#!/usr/bin/env bash
# bench/run.sh — run every benchmark ($BUILD/bench/bench_* and
# bench/bench_*.sh), show their tables, collect their JSON lines into
# bench/results/DATE.json and end with the table of ratios
# (bench/summary.py). QUICK=1 gives each a shorter run (make bench-quick).
# Ratios within one run are the claims; these machines are noisy, so
# absolute figures only describe the machine they ran on.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mode=${QUICK:+--quick}
mkdir -p bench/results
out=bench/results/$(date -u +%Y-%m-%dT%H%M%SZ).json
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
for b in "$BUILD"/bench/bench_* bench/bench_*.sh; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	BUILD=$BUILD "$b" $mode | tee -a "$lines" | grep -v '^{'
done
/usr/bin/python3 - "$lines" "$out" "$(nproc) cores, $(uname -r)" <<'PY'
import json, sys, time
results = [json.loads(l) for l in open(sys.argv[1]) if l.startswith("{")]
json.dump({"machine": sys.argv[3], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "results": results}, open(sys.argv[2], "w"), indent=1)
PY
echo "results: $out"
/usr/bin/python3 bench/summary.py "$out"
