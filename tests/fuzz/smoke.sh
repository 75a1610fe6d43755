#!/usr/bin/env bash
# tests/fuzz/smoke.sh — run every libFuzzer target over its seed corpus and
# then for FUZZ_SECONDS of new inputs; TAP output, one line per target.
# New corpus entries go to a scratch copy, never into the repository.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
shopt -s nullglob
targets=("$BUILD"/fuzz/fuzz_*)
if [ ${#targets[@]} -eq 0 ]; then
	skip "fuzz targets" "none built (make fuzz needs clang)"
	tap_done; exit
fi
scratch=$(mktemp -d /tmp/authgate-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
	name=$(basename "$t")
	seeds=$top/tests/fuzz/corpus/$name
	work=$scratch/$name
	mkdir -p "$work"
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work"/
	log=$scratch/$name.log
	if "$t" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
		-max_len=65536 -artifact_prefix="$scratch/$name-" "$work" >"$log" 2>&1; then
		ok "$name: seeds + ${FUZZ_SECONDS}s ($(grep -o 'cov: [0-9]*' "$log" | tail -1))"
	else
		not_ok "$name" "$(grep -A12 -E 'ERROR|SUMMARY|deadly' "$log" | head -30)"
		for a in "$scratch/$name-"*; do echo "# crashing input (base64): $(base64 -w0 "$a" | head -c 2000)"; done
	fi
done
tap_done
