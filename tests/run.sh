#!/usr/bin/env bash
# tests/run.sh — run every suite and add up their TAP output.
#
# Suites: the cmocka unit binaries (build/asan/tests/test_*), then every
# executable script in tests/conformance/ and tests/integration/ (each
# prints TAP: "ok N - name", "not ok N - name", "ok N - name # SKIP why").
# A suite that exits non-zero without reporting a failure counts as one
# failure. Ends with one line: "tests: N passed, N failed, N skipped".
# ONLY=regex runs the suites whose name matches.
set -u
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
AUTHGATE=${AUTHGATE:-$BUILD/asan/authgate}
AUTHGATE=$(realpath "$AUTHGATE")
export AUTHGATE BUILD
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:halt_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CMOCKA_MESSAGE_OUTPUT=TAP
SUITE_TIMEOUT=${SUITE_TIMEOUT:-900}

pass=0 fail=0 skip=0
log_dir=$BUILD/test-logs
mkdir -p "$log_dir"

run_suite() {
	local name=$1; shift
	[[ -n ${ONLY:-} && ! $name =~ $ONLY ]] && return
	local log=$log_dir/${name//\//_}.log
	timeout "$SUITE_TIMEOUT" "$@" >"$log" 2>&1
	local rc=$? p=0 f=0 s=0 line
	while IFS= read -r line; do
		case $line in
		"not ok "*"# SKIP"*) # cmocka's TAP prints skip() this way
			s=$((s + 1)); echo "  skipped: $name: ${line#*# SKIP }" ;;
		"not ok "*)
			f=$((f + 1)); echo "  FAIL $name: ${line#not ok }" ;;
		"ok "*"# SKIP"* | "ok "*"# skip"*)
			s=$((s + 1)); local what=${line#ok } why=${line#*# [Ss][Kk][Ii][Pp] }
			echo "  skipped ($why): $name: ${what%% # [Ss][Kk][Ii][Pp]*}" ;;
		"ok "*)
			p=$((p + 1)) ;;
		esac
	done <"$log"
	if [[ $rc -ne 0 && $f -eq 0 ]]; then
		f=1; echo "  FAIL $name: exited $rc without a TAP failure"
	fi
	if [[ $f -gt 0 ]]; then
		echo "  --- last lines of $log:"; tail -n 25 "$log" | sed 's/^/    /'
	fi
	printf '%-40s %4d passed, %d failed, %d skipped\n' "$name" "$p" "$f" "$s"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

for t in "$BUILD"/asan/tests/test_*; do
	[[ -x $t ]] && run_suite "unit/$(basename "$t")" "$t"
done
for dir in conformance integration; do
	for t in tests/$dir/*; do
		[[ -f $t && -x $t ]] && run_suite "$dir/$(basename "$t")" "$t"
	done
done

# Fuzz targets: their seed corpora plus a few seconds of new inputs each.
run_suite "fuzz/smoke" env FUZZ_SECONDS="${FUZZ_TEST_SECONDS:-5}" BUILD="$BUILD" tests/fuzz/smoke.sh

echo "tests: $pass passed, $fail failed, $skip skipped"
[[ $fail -eq 0 ]]
