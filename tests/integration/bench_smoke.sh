#!/usr/bin/env bash
# A few-second smoke run of every benchmark, so the harness cannot rot:
# each must exit 0 and print its JSON line with positive rates.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
BUILD=${BUILD:-build}
shopt -s nullglob
benches=("$top/$BUILD"/bench/bench_* "$top"/bench/bench_*.sh)
[ ${#benches[@]} -gt 0 ] || { skip "benchmarks" "none built"; tap_done; exit; }
for b in "${benches[@]}"; do
	name=$(basename "$b")
	out=$(BUILD=$BUILD "$b" --smoke 2>&1); rc=$?
	json=$(grep '^{' <<<"$out" | head -1)
	if [[ $rc -eq 0 && $json == "{\"bench\":"* ]] &&
		/usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if all(v > 0 for k,v in d.items() if k.endswith("_per_s")) else 1)' "$json"; then
		ok "$name --smoke"
	else
		not_ok "$name --smoke" "exit $rc: $out"
	fi
done
tap_done
