#!/usr/bin/env bash
# bench/bench_xdp_synflood.sh [--quick|--smoke] — a SYN flood from a blocked
# /24 over a veth, with the daemon's XDP program and without it, in one run:
# tests/integration/xdp_synflood.sh with the release daemon and a heavier
# flood (200,000 SYNs/s for 5 s; 100,000 for 3 s with --quick, 20,000 for
# 1 s with --smoke; SYNFLOOD_RATE / SYNFLOOD_SECONDS override). Prints the
# script's per-phase lines and one JSON line {"bench":"xdp_synflood",...};
# without root {"bench":"xdp_synflood","skipped":"..."}.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
rate=200000 secs=5
case ${1:-} in --quick) rate=100000 secs=3 ;; --smoke) rate=20000 secs=1 ;; esac
export BUILD
out=$(AUTHGATE="$top/$BUILD/authgate" SYNFLOOD_JSON=1 \
	SYNFLOOD_RATE=${SYNFLOOD_RATE:-$rate} SYNFLOOD_SECONDS=${SYNFLOOD_SECONDS:-$secs} \
	bash "$top/tests/integration/xdp_synflood.sh" 2>&1)
rc=$?
if skip=$(grep -m1 '# SKIP' <<<"$out"); then
	echo "{\"bench\":\"xdp_synflood\",\"skipped\":\"${skip#*# SKIP }\"}"
	exit 0
fi
grep -E '^# (flood|xdp_|noxdp_|daemon CPU|flood kernel)' <<<"$out" | grep -v '^# {'
if [ $rc -ne 0 ] || grep -q '^not ok' <<<"$out"; then
	grep -A3 '^not ok' <<<"$out" >&2
	echo "bench_xdp_synflood: the flood test failed" >&2
	exit 1
fi
sed -n 's/^# \({"bench":"xdp_synflood".*\)/\1/p' <<<"$out"
