#!/usr/bin/env bash
# tests/conformance/senderid.sh — Sender ID (RFC 4406) through
# `authgate senderid`:
#   1. ../shared/conformance/senderid/rfc4406-tests.yml and
#      mail-spf-iterator/misc.yml in the mfrom scope (--scope mfrom), with
#      the "Sender ID mfrom-scope check (RFC 4406)" column of that folder's
#      SOURCE.md as the expectation (sender-id-pick-spf: fail, see
#      docs/conformance.md, "Sender ID"), and the PRA-scope checks SOURCE.md
#      derives from misc.yml's zone;
#   2. project-written record-selection cases for both scopes;
#   3. SUBMITTER (RFC 4405) cases, including usage errors.
# Answers come from zone files only (the YAML zonedata converted by
# tests/lib/spf_suite.py): nothing here reaches a DNS server.
set -u
cd "$(dirname "$0")/../.."
. tests/lib/tap.sh
AUTHGATE=${AUTHGATE:-build/asan/authgate}
SHARED=$(git rev-parse --show-toplevel)/../shared/conformance/senderid
tmp=$(mktemp -d /tmp/authgate-senderid.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# ---------------------------------------------------------------- 1. YAML

# Each suite's zonedata as a zone file, its tests as one line each:
# SUITE NAME HOST MAILFROM HELO RESULTS
/usr/bin/python3 - "$SHARED" "$tmp" >"$tmp/cases" <<'PY'
import os, sys
sys.path.insert(0, "tests/lib")
import spf_suite
shared, tmp = sys.argv[1], sys.argv[2]
for label, path in (("rfc4406", "rfc4406-tests.yml"), ("misc", "mail-spf-iterator/misc.yml")):
    for i, sc in enumerate(spf_suite.load_scenarios(os.path.join(shared, path))):
        zone = "%s/%s-%d.zone" % (tmp, label, i)
        with open(zone, "w") as f:
            f.write(spf_suite.zone_text(sc["zonedata"]))
        for name, t in spf_suite.tests_of(sc):
            print(label, name, zone, t["host"], t["mailfrom"], t["helo"], ",".join(t["results"]))
PY
[[ -s $tmp/cases ]] || { not_ok "YAML suites converted"; tap_done; exit 1; }

# Where the expectation is not the source's: RFC 4406 §4.4 (and
# v2-preferred-over-v1 in rfc4406-tests.yml) pick the spf2.0/mfrom record
# over v=spf1; Mail::SPF::Iterator prefers v=spf1. SOURCE.md's RFC 4406
# column.
declare -A override=([misc/sender-id-pick-spf]=fail)

ncases=0
while read -r suite name zone host mailfrom helo results; do
	want=${override[$suite/$name]:-$results}
	got=$("$AUTHGATE" senderid --scope mfrom --ip "$host" --helo "$helo" \
		--mail-from "$mailfrom" --zone "$zone" 2>"$tmp/err")
	rc=$?
	if [[ $rc -eq 0 && ,$want, == *,$got,* ]]; then ok "$suite $name: $got"
	else not_ok "$suite $name" "expected $want, got '$got' (exit $rc) $(cat "$tmp/err")"; fi
	ncases=$((ncases + 1))
done <"$tmp/cases"
expect_eq "YAML tests run (2 rfc4406 + 9 misc)" 11 "$ncases"

# The PRA-scope checks SOURCE.md derives from misc.yml's zone (client
# 1.2.3.5): the PRA is the From address of a one-header message.
msg() { { printf '%s\n' "$@"; printf 'Subject: t\n\nbody\n'; } >"$tmp/m.eml"; }
pra() { # NAME EXPECTED-OUTPUT HEADER... -- ARGS...
	local name=$1 want=$2; shift 2
	local headers=()
	while [[ $# -gt 0 && $1 != -- ]]; do headers+=("$1"); shift; done
	shift
	msg "${headers[@]}"
	local got
	got=$("$AUTHGATE" senderid --helo mail.example.net "$@" "$tmp/m.eml" 2>"$tmp/err" | tr '\n' ' ')
	expect_eq "$name" "$want " "$got"
}
mz=$tmp/misc-0.zone
pra "derived PRA: spf2.0/pra,mfrom record passes" "pass pra=x@example2.net" \
	"From: x@example2.net" -- --ip 1.2.3.5 --zone "$mz"
pra "derived PRA: the spf2.0/pra record (not mfrom) decides: fail" "fail pra=x@example3.net" \
	"From: x@example3.net" -- --ip 1.2.3.5 --zone "$mz"
pra "derived PRA: the spf2.0/pra record (not mfrom) decides: pass" "pass pra=x@example4.net" \
	"From: x@example4.net" -- --ip 1.2.3.5 --zone "$mz"
pra "derived PRA: v=spf1 alone stands for spf2.0/mfrom,pra (§3.4)" "pass pra=x@example.com" \
	"From: x@example.com" -- --ip 1.2.3.5 --zone "$mz"
pra "derived PRA: spf2.0/mfrom does not cover pra, v=spf1 does" "pass pra=x@example5.net" \
	"From: x@example5.net" -- --ip 1.2.3.5 --zone "$mz"
pra "derived PRA: Sender is the PRA, not From" "fail pra=s@example3.net" \
	"From: x@example2.net" "Sender: s@example3.net" -- --ip 1.2.3.5 --zone "$mz"

# ------------------------------------------------- 2. record selection

cat >"$tmp/sel.zone" <<'Z'
$ORIGIN sid.test.
$TTL 300
pra          TXT "spf2.0/pra ip4:192.0.2.1 -all"
both         TXT "spf2.0/mfrom,pra ip4:192.0.2.1 -all"
both-rev     TXT "spf2.0/pra,mfrom ip4:192.0.2.1 ~all"
upper        TXT "SPF2.0/PRA ip4:192.0.2.1 -all"
v1           TXT "v=spf1 ip4:192.0.2.1 -all"
v2v1         TXT "spf2.0/pra ip4:192.0.2.1 -all"
v2v1         TXT "v=spf1 +all"
mfromv1      TXT "spf2.0/mfrom -all"
mfromv1      TXT "v=spf1 ip4:192.0.2.1 ?all"
dup          TXT "spf2.0/pra +all"
dup          TXT "spf2.0/mfrom,pra +all"
dupv1        TXT "v=spf1 +all"
dupv1        TXT "v=spf1 -all"
dupv1v2      TXT "v=spf1 +all"
dupv1v2      TXT "v=spf1 -all"
dupv1v2      TXT "spf2.0/pra ip4:192.0.2.1 -all"
unknown      TXT "spf2.0/pra,future ip4:192.0.2.1 -all"
onlyunknown  TXT "spf2.0/future +all"
onlyunknown  TXT "v=spf1 -all"
unknownonly  TXT "spf2.0/future +all"
noscope      TXT "spf2.0/ +all"
noscope      TXT "v=spf1 ?all"
v2.1         TXT "spf2.1/pra +all"
v2.1         TXT "v=spf1 -all"
prefix       TXT "spf2.0/prax +all"
prefix       TXT "v=spf1 ~all"
praonly      TXT "spf2.0/pra ip4:192.0.2.1 -all"
mfromonly    TXT "spf2.0/mfrom ip4:192.0.2.1 -all"
inc          TXT "spf2.0/pra include:target.sid.test -all"
target       TXT "spf2.0/pra ip4:192.0.2.1 -all"
target       TXT "v=spf1 -all"
inc-mfrom    TXT "spf2.0/pra include:mfromonly.sid.test -all"
inc-v1       TXT "spf2.0/pra include:v1.sid.test -all"
inc-none     TXT "spf2.0/pra include:nothing.sid.test -all"
red          TXT "spf2.0/pra redirect=target.sid.test"
red-dup      TXT "spf2.0/pra redirect=dup.sid.test"
red-mfrom    TXT "spf2.0/pra redirect=mfromonly.sid.test"
syntax       TXT "spf2.0/pra ip4:192.0.2.300 -all"
syntax-other TXT "spf2.0/mfrom ip4:192.0.2.300 -all"
syntax-other TXT "spf2.0/pra ip4:192.0.2.1 -all"
macro        TXT "spf2.0/pra exists:%{l}.%{o}._ok.sid.test -all"
x.macro.sid.test._ok A 127.0.0.2
notxt        A 192.0.2.1
slow         TIMEOUT
Z
sel() { # NAME DOMAIN IP EXPECTED-PRA [EXPECTED-MFROM]
	local name=$1 dom=$2 ip=$3 want=$4 wantm=${5:-}
	msg "From: x@$dom"
	local got
	got=$("$AUTHGATE" senderid --ip "$ip" --helo h.sid.test --zone "$tmp/sel.zone" "$tmp/m.eml" 2>"$tmp/err" | head -1)
	expect_eq "pra scope: $name" "$want" "$got"
	if [[ -n $wantm ]]; then
		got=$("$AUTHGATE" senderid --scope mfrom --ip "$ip" --helo h.sid.test --zone "$tmp/sel.zone" \
			--mail-from "x@$dom" 2>"$tmp/err")
		expect_eq "mfrom scope: $name" "$wantm" "$got"
	fi
}
sel "spf2.0/pra, listed address" pra.sid.test 192.0.2.1 pass none
sel "spf2.0/pra, other address" pra.sid.test 192.0.2.9 fail none
sel "spf2.0/mfrom,pra covers both scopes" both.sid.test 192.0.2.9 fail fail
sel "spf2.0/pra,mfrom (order free)" both-rev.sid.test 192.0.2.9 softfail softfail
sel "version and scope are case-insensitive" upper.sid.test 192.0.2.1 pass none
sel "only v=spf1: read as spf2.0/mfrom,pra, pass" v1.sid.test 192.0.2.1 pass pass
sel "only v=spf1: read as spf2.0/mfrom,pra, fail" v1.sid.test 192.0.2.9 fail fail
sel "spf2.0/pra + v=spf1: spf2.0 wins for pra; v=spf1 for mfrom" v2v1.sid.test 192.0.2.9 fail pass
sel "spf2.0/mfrom + v=spf1: v=spf1 for pra; spf2.0 for mfrom" mfromv1.sid.test 192.0.2.9 neutral fail
sel "two records covering pra: permerror (one covers mfrom)" dup.sid.test 192.0.2.1 permerror pass
sel "two v=spf1 and no spf2.0: permerror" dupv1.sid.test 192.0.2.1 permerror permerror
sel "two v=spf1 but one spf2.0/pra: the spf2.0 record" dupv1v2.sid.test 192.0.2.1 pass permerror
sel "unknown scope token beside pra is ignored" unknown.sid.test 192.0.2.9 fail none
sel "spf2.0/future covers neither scope: v=spf1 applies" onlyunknown.sid.test 192.0.2.1 fail fail
sel "spf2.0/future alone: none" unknownonly.sid.test 192.0.2.1 none none
sel "spf2.0/ with no scope covers nothing" noscope.sid.test 192.0.2.1 neutral neutral
sel "spf2.1 is not spf2.0" v2.1.sid.test 192.0.2.1 fail fail
sel "scope 'prax' is not 'pra'" prefix.sid.test 192.0.2.1 softfail softfail
sel "include: the target's spf2.0/pra record, not its v=spf1" inc.sid.test 192.0.2.1 pass
sel "include: target without a pra record is a permerror" inc-mfrom.sid.test 192.0.2.1 permerror
sel "include: a v=spf1-only target stands for pra" inc-v1.sid.test 192.0.2.1 pass
sel "include: target with no record is a permerror" inc-none.sid.test 192.0.2.1 permerror
sel "redirect to a spf2.0/pra record" red.sid.test 192.0.2.1 pass
sel "redirect to a domain with two pra records: permerror" red-dup.sid.test 192.0.2.1 permerror
sel "redirect to a domain without a pra record: permerror" red-mfrom.sid.test 192.0.2.1 permerror
sel "syntax error in the selected record: permerror" syntax.sid.test 192.0.2.1 permerror none
sel "syntax error in a record of the other scope is not read" syntax-other.sid.test 192.0.2.1 pass permerror
sel "macros expand the PRA (%{l}, %{o})" macro.sid.test 192.0.2.9 pass
sel "no TXT record: none" notxt.sid.test 192.0.2.1 none none
sel "TXT lookup times out: temperror" slow.sid.test 192.0.2.1 temperror temperror
sel "PRA domain does not exist: fail (RFC 4406 §4.3)" nxdomain.sid.test 192.0.2.1 fail none

# ------------------------------------------------------- 3. SUBMITTER

sub() { # NAME EXPECTED-OUTPUT SUBMITTER-ARGS... (message in m.eml)
	local name=$1 want=$2; shift 2
	local got
	got=$("$AUTHGATE" senderid --ip 192.0.2.1 --helo h.sid.test --zone "$tmp/sel.zone" "$@" \
		"$tmp/m.eml" 2>"$tmp/err" | tr '\n' ' ')
	expect_eq "SUBMITTER: $name" "$want " "$got"
}
msg "From: Someone <x@pra.sid.test>"
sub "absent: the PRA is checked" "pass pra=x@pra.sid.test"
sub "equal to the PRA" "pass pra=x@pra.sid.test" --submitter x@pra.sid.test
sub "domain differs only in case: a match" "pass pra=x@pra.sid.test" --submitter x@PRA.Sid.Test
sub "another domain: fail" "fail pra=x@pra.sid.test" --submitter x@both.sid.test
sub "another local-part: fail" "fail pra=x@pra.sid.test" --submitter y@pra.sid.test
sub "local-part differs in case: fail (local-parts compare exactly)" "fail pra=x@pra.sid.test" --submitter X@pra.sid.test
msg "From: x@pra.sid.test" "Sender: s@both.sid.test"
sub "matches the Sender, which is the PRA" "pass pra=s@both.sid.test" --submitter s@both.sid.test
sub "matches From, but Sender is the PRA: fail" "fail pra=s@both.sid.test" --submitter x@pra.sid.test
msg "From: x@pra.sid.test, y@pra.sid.test"
sub "message without a PRA: permerror" "permerror pra=none" --submitter x@pra.sid.test
msg 'From: "quoted local"@pra.sid.test'
sub "quoted local-part equal after unquoting" 'pass pra=quoted local@pra.sid.test' --submitter '"quoted local"@pra.sid.test'

# A SUBMITTER that is not an RFC 5321 mailbox is a usage error: exit 2,
# one line on stderr, nothing on stdout.
msg "From: x@pra.sid.test"
for bad in '' nobody 'x@' '@pra.sid.test' 'x@@pra.sid.test' 'x y@pra.sid.test' \
	'<x@pra.sid.test>' 'x@pra..sid.test' 'x@-pra.sid.test' 'x.@pra.sid.test' \
	'x@pra.sid.test,y@pra.sid.test'; do
	"$AUTHGATE" senderid --ip 192.0.2.1 --helo h.sid.test --zone "$tmp/sel.zone" \
		--submitter "$bad" "$tmp/m.eml" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [[ $rc -eq 2 && ! -s $tmp/out && $(wc -l <"$tmp/err") -eq 1 ]]; then
		ok "SUBMITTER '$bad' is a usage error"
	else
		not_ok "SUBMITTER '$bad' is a usage error" "exit $rc, stdout '$(cat "$tmp/out")', stderr '$(cat "$tmp/err")'"
	fi
done
# The same rule and the same check in `authgate verify`.
"$AUTHGATE" verify --ip 192.0.2.1 --helo h.sid.test --mail-from x@pra.sid.test --zone "$tmp/sel.zone" \
	--submitter 'not a mailbox' "$tmp/m.eml" >"$tmp/out" 2>"$tmp/err"
expect_eq "verify: a bad --submitter is a usage error" "2|0|1" "$?|$(wc -c <"$tmp/out")|$(wc -l <"$tmp/err")"
got=$("$AUTHGATE" verify --ip 192.0.2.1 --helo h.sid.test --mail-from x@pra.sid.test \
	--zone "$tmp/sel.zone" --submitter y@pra.sid.test "$tmp/m.eml" | tr -d '\n\t')
[[ $got == *"sender-id=fail"*"verdict=drop"* ]] && ok "verify: SUBMITTER mismatch fails Sender ID and drops" \
	|| not_ok "verify: SUBMITTER mismatch fails Sender ID and drops" "$got"
for good in 'x@pra.sid.test' '"a b"@pra.sid.test' 'x.y+z@pra.sid.test' 'x@[192.0.2.1]' \
	'x@[IPv6:2001:db8::1]' 'üser@pra.sid.test'; do
	"$AUTHGATE" senderid --ip 192.0.2.1 --helo h.sid.test --zone "$tmp/sel.zone" \
		--submitter "$good" "$tmp/m.eml" >"$tmp/out" 2>"$tmp/err"
	expect_eq "SUBMITTER '$good' is accepted" 0 "$?"
done
tap_done
