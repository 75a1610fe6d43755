#!/usr/bin/env bash
# tests/conformance/spf_cli.sh — `authgate spf`: output format, identities,
# scopes and usage errors. Answers come from a zone file only: no test here
# reaches a DNS server.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
AUTHGATE=${AUTHGATE:-build/asan/authgate}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cat >"$tmp/z" <<'ZONE'
$ORIGIN example.com.
@        TXT "v=spf1 ip4:192.0.2.0/24 -all exp=why.%{d}"
why      TXT "%{i} may not send for %{d} (see %{r})"
helo     TXT "v=spf1 ip6:2001:db8::/32 ~all"
soft     TXT "v=spf1 ?all"
hard     TXT "v=spf1 -all"
ZONE

spf() { "$AUTHGATE" spf --zone "$tmp/z" "$@" 2>"$tmp/err"; }

expect_eq "pass: result alone on one line" "pass" \
	"$(spf --ip 192.0.2.9 --helo helo.example.com --mail-from a@example.com)"
expect_eq "fail: explanation on the second line (exp= expanded)" \
	"$(printf 'fail\nexplanation: 198.51.100.1 may not send for example.com (see mx.test)')" \
	"$(spf --ip 198.51.100.1 --helo x.example.com --mail-from a@example.com --receiver mx.test)"
expect_eq "empty MAIL FROM checks postmaster@HELO" "softfail" \
	"$(spf --ip 192.0.2.9 --helo helo.example.com --mail-from '')"
expect_eq "absent --mail-from is the empty reverse path" "softfail" \
	"$(spf --ip 192.0.2.9 --helo helo.example.com)"
expect_eq "--scope helo ignores MAIL FROM" "pass" \
	"$(spf --ip 2001:db8::5 --helo helo.example.com --mail-from a@soft.example.com --scope helo)"
expect_eq "IPv4-mapped IPv6 client is IPv4" "pass" \
	"$(spf --ip ::ffff:192.0.2.1 --helo h.example.com --mail-from a@example.com)"
expect_eq "no record: none" "none" \
	"$(spf --ip 192.0.2.9 --helo h.example.com --mail-from a@nothing.example.com)"
expect_eq "HELO that is no domain: none" "none" \
	"$(spf --ip 192.0.2.9 --helo '[192.0.2.9]' --mail-from '')"
expect_eq "default explanation is expanded" \
	"$(printf 'fail\nexplanation: 198.51.100.7 refused by hard.example.com')" \
	"$(spf --ip 198.51.100.7 --helo h.example.com --mail-from a@hard.example.com \
		--default-explanation '%{i} refused by %{d}')"
spf --ip 198.51.100.7 --helo h.example.com --mail-from a@hard.example.com --verbose >/dev/null
check "--verbose names the mechanism on stderr" grep -qx 'mechanism: -all' "$tmp/err"

usage() { # NAME ARGS...: exit 2, one line on stderr naming the problem
	local name=$1; shift
	"$AUTHGATE" spf --zone "$tmp/z" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [[ $rc -eq 2 && ! -s $tmp/out && $(wc -l <"$tmp/err") -eq 1 ]] &&
		grep -q '^authgate spf: ' "$tmp/err"; then ok "$name"
	else not_ok "$name" "exit $rc, stdout '$(cat "$tmp/out")', stderr '$(cat "$tmp/err")'"; fi
}
usage "unknown option" --ip 192.0.2.1 --helo h --bogus
usage "missing --ip" --helo h --mail-from a@example.com
usage "missing --helo" --ip 192.0.2.1 --mail-from a@example.com
usage "bad IP" --ip 192.0.2.300 --helo h
usage "bad --scope" --ip 192.0.2.1 --helo h --scope pra
usage "stray argument" --ip 192.0.2.1 --helo h extra
"$AUTHGATE" spf --help >"$tmp/out"
check "--help exits 0 and documents --scope" grep -q -- '--scope mfrom|helo' "$tmp/out"
"$AUTHGATE" --help >"$tmp/out"
check "'spf' is listed in authgate --help" grep -qE '^  spf ' "$tmp/out"
tap_done
