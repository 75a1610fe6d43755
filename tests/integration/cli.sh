#!/usr/bin/env bash
# The command-line contract: help texts, one-line usage errors with exit 2,
# and `authgate lookup` against zone files.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
tmp=$(mktemp -d /tmp/authgate-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# run ARGS... : sets rc, out (stdout), err (stderr)
run() { "$AUTHGATE" "$@" >"$tmp/out" 2>"$tmp/err"; rc=$?; out=$(cat "$tmp/out"); err=$(cat "$tmp/err"); }
usage_error() { # NAME ARGS...: exit 2, exactly one line on stderr, nothing on stdout
	local name=$1; shift
	run "$@"
	if [[ $rc -eq 2 && -z $out && $(wc -l <"$tmp/err") -eq 1 && $err == "authgate"* ]]; then ok "$name"
	else not_ok "$name" "exit $rc, stdout '$out', stderr '$err'"; fi
}

run --help
commands=$(sed -n 's/^  \([a-z][a-z-]*\) .*/\1/p' <<<"$out")
if [[ $rc -eq 0 && -n $commands ]]; then ok "--help lists the commands: $(echo $commands)"; else not_ok "--help" "$out"; fi
usage_error "no command" 
usage_error "unknown command" frobnicate
for c in $commands; do
	run "$c" --help
	if [[ $rc -eq 0 && $out == usage:* ]]; then ok "$c --help"; else not_ok "$c --help" "exit $rc: $out $err"; fi
	usage_error "$c rejects an unknown option" "$c" --no-such-option
done
usage_error "lookup without arguments" lookup
usage_error "lookup with one argument" lookup TXT
usage_error "lookup with an unknown type" lookup --zone "$top/etc/demo.zone" WKS example.org
usage_error "lookup --timeout without a value" lookup --timeout
usage_error "lookup --timeout not a number" lookup --timeout soon A x.test
usage_error "lookup --zone that does not exist" lookup --zone "$tmp/none.zone" A x.test

printf 'ok.test. A 127.0.0.1\nbroken.test. A 300.1.1.1\n' >"$tmp/bad.zone"
run lookup --zone "$tmp/bad.zone" A ok.test
expect_eq "a bad zone names file and line" "2|authgate lookup: $tmp/bad.zone:2: bad IPv4 address '300.1.1.1'" "$rc|$err"

cat >"$tmp/t.zone" <<'Z'
$ORIGIN t.test.
$TTL 60
@     TXT "v=spf1 " "-all"
esc   TXT "a \"q\" \\ b\009c"
@     MX 20 b
@     MX 10 a
a     A 127.0.0.1
alias CNAME a
gone  TIMEOUT
bad   SERVFAIL
Z
run lookup --zone "$tmp/t.zone" TXT t.test
expect_eq "TXT strings printed apart" '0|"v=spf1 " "-all"' "$rc|$out"
run lookup --zone "$tmp/t.zone" TXT esc.t.test
expect_eq "TXT escapes round-trip" '0|"a \"q\" \\ b\009c"' "$rc|$out"
run lookup --zone "$tmp/t.zone" MX t.test
expect_eq "MX sorted by preference" $'0|10 a.t.test\n20 b.t.test' "$rc|$out"
run lookup --zone "$tmp/t.zone" --verbose A alias.t.test
expect_eq "CNAME followed (verbose shows alias and TTL)" $'0|; alias.t.test is an alias for a.t.test\n60\t127.0.0.1' "$rc|$out"
run lookup --zone "$tmp/t.zone" A nothere.t.test
expect_eq "NXDOMAIN exits 1" "1|NXDOMAIN" "$rc|$out"
run lookup --zone "$tmp/t.zone" AAAA a.t.test
expect_eq "NODATA exits 1" "1|NODATA" "$rc|$out"
run lookup --zone "$tmp/t.zone" TXT gone.t.test
expect_eq "TIMEOUT pseudo-type exits 75" "75|TEMPFAIL (timeout)" "$rc|$out"
run lookup --zone "$tmp/t.zone" TXT bad.t.test
expect_eq "SERVFAIL pseudo-type exits 75" "75|TEMPFAIL (servfail)" "$rc|$out"
run lookup --zone "$top/etc/demo.zone" MX example.org
expect_eq "the demo zone answers" "0|10 mail.example.org" "$rc|$out"
tap_done
