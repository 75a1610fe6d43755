#!/usr/bin/env bash
# bench/xdp_compare.sh [REV] [bench_xdp options] — the XDP program of this
# tree against REV's (default main), interleaved in one bench_xdp run:
# builds REV's bpf/smtp_flow.bpf.c and this tree's bench/xdp_bench.bpf.c
# around it into $BUILD/xdp-baseline/REV/, then
# `bench_xdp --baseline DIR`. `make bench-xdp-compare [XDP_REV=REV]` runs it
# with the Makefile's BPF flags.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
BUILD=${BUILD:-build}
CLANG=${CLANG:-clang}
BPF_CFLAGS=${BPF_CFLAGS:--g -O2 -target bpf -D__TARGET_ARCH_x86 -idirafter /usr/include/$(cc -dumpmachine)}
rev=${1:-main}
[ $# -gt 0 ] && shift
dir=$BUILD/xdp-baseline/$(printf '%s' "$rev" | tr -c 'A-Za-z0-9._-' _)
mkdir -p "$dir/src"
for f in bpf/smtp_flow.bpf.c bpf/authgate_maps.h; do
	git show "$rev:$f" >"$dir/src/$(basename "$f")"
done
# next to REV's smtp_flow.bpf.c, so its #include finds that one
cp bench/xdp_bench.bpf.c "$dir/src/"
make -s B="$BUILD" "$BUILD/bpf/vmlinux.h" "$BUILD/bench/bench_xdp"
for f in smtp_flow xdp_bench; do
	# shellcheck disable=SC2086
	$CLANG $BPF_CFLAGS -I"$dir/src" -I"$BUILD/bpf" -c "$dir/src/$f.bpf.c" -o "$dir/$f.bpf.o"
done
echo "baseline: $rev ($(git rev-parse --short "$rev")) in $dir"
exec "$BUILD/bench/bench_xdp" --baseline "$dir" "$@"
