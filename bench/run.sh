#!/usr/bin/env bash
# bench/run.sh — run every benchmark binary in $BUILD/bench (make bench).
# QUICK=1 gives each measurement a fraction of the time (make bench-quick).
set -eu
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
secs=1.0
[[ -n ${QUICK:-} ]] && secs=0.2
for b in "$BUILD"/bench/bench_*; do
	[[ -x $b ]] || continue
	echo "== $(basename "$b")"
	"$b" "$secs"
done
