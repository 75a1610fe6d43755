#!/usr/bin/env bash
# bench/run.sh — run every benchmark ($BUILD/bench/bench_*, bench/bench_*.sh
# and the peer baselines bench/peers/*.sh), show their tables, collect their
# JSON lines into bench/results/DATE.json, check it against
# bench/results.schema.json (bench/check_results.py), draw the plots next to
# it (bench/plot.py) and end with the table of ratios (bench/summary.py).
#   QUICK=1      shorter runs (make bench-quick)
#   SMOKE=1      a few seconds each, for tests/integration/bench_smoke.sh
#   RESULTS=F    write F (and F's plots) instead of bench/results/DATE.json
# Ratios within one run are the claims; these machines are noisy, so
# absolute figures only describe the machine they ran on. Exits 1 if a
# benchmark failed or the results do not check.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mode=full flag=
[ -n "${QUICK:-}" ] && mode=quick flag=--quick
[ -n "${SMOKE:-}" ] && mode=smoke flag=--smoke
mkdir -p bench/results
out=${RESULTS:-bench/results/$(date -u +%Y-%m-%dT%H%M%SZ).json}
lines=$(mktemp)
trap 'rm -f "$lines"' EXIT
failed=()
for b in "$BUILD"/bench/bench_* bench/bench_*.sh bench/peers/*.sh; do
	[ -x "$b" ] || continue
	echo "== $(basename "$b")"
	BUILD=$BUILD "$b" $flag | tee -a "$lines" | grep -v '^{'
	rc=${PIPESTATUS[0]}
	[ "$rc" -eq 0 ] || { echo "   $(basename "$b") exited $rc"; failed+=("$(basename "$b")"); }
done
/usr/bin/python3 - "$lines" "$out" "$(nproc) cores, $(uname -r)" "$mode" "${failed[@]}" <<'PY'
import json, sys, time
results = []
for l in open(sys.argv[1]):
    if l.startswith("{"):
        try:
            results.append(json.loads(l))
        except ValueError:
            print("not JSON, left out: " + l.strip())
doc = {"machine": sys.argv[3], "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
       "mode": sys.argv[4], "results": results}
if sys.argv[5:]:
    doc["failed"] = sys.argv[5:]
json.dump(doc, open(sys.argv[2], "w"), indent=1)
PY
echo "results: $out"
ok=$([ ${#failed[@]} -eq 0 ] && echo 1)
/usr/bin/python3 bench/check_results.py "$out" || { echo "results: do not match bench/results.schema.json"; ok=; }
/usr/bin/python3 bench/plot.py "$out" || ok=
/usr/bin/python3 bench/summary.py "$out"
[ -n "$ok" ]
