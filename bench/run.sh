#!/usr/bin/env bash
# bench/run.sh — run every benchmark binary (build/bench/bench_*), print
# their tables, and collect their JSON lines into bench/results/DATE.json.
# QUICK=1 shortens each run. Ratios within one run are the claims; these
# machines are noisy, so absolute figures only describe this machine.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
mode=${QUICK:+--quick}
mkdir -p bench/results
out=bench/results/$(date -u +%Y-%m-%dT%H%M%SZ).json
{
	echo "{\"machine\":\"$(nproc) cores, $(uname -r)\",\"date\":\"$(date -u +%FT%TZ)\",\"results\":["
	first=1
	for b in "$BUILD"/bench/bench_* bench/bench_*.sh; do
		[ -x "$b" ] || continue
		echo "== $(basename "$b")" >&2
		"$b" $mode | tee /dev/stderr | grep '^{' | while read -r json; do
			[ $first -eq 1 ] || echo ","
			echo "$json"
		done
		first=0
	done
	echo "]}"
} >"$out"
echo "results: $out"
