#!/usr/bin/env bash
# dkim_vectors.sh — every DKIM vector in ../shared/conformance/dkim through
# `authgate dkim`, against the expectations of its SOURCE.md (RFC-strict
# column: RFC 6376 + RFC 8301 + RFC 8463). Zone files are built from the
# vectors' own key fixtures; no other DNS is ever asked.
set -u
TOP=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$TOP"
. tests/lib/tap.sh
AUTHGATE=${AUTHGATE:-$TOP/build/asan/authgate}
V=$TOP/../shared/conformance/dkim
PY=/usr/bin/python3
ZONE="$PY tests/lib/dkim_zone.py"
SIGN="$PY tests/lib/dkim_sign.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
if [ ! -d "$V" ]; then
	skip "dkim vectors" "no $V"
	tap_done
	exit
fi

# vec NAME ZONE MSG WANT [ARGS]: WANT is the overall result, or
# "overall:r1,r2,..." to check every signature's result too.
vec() {
	local name=$1 zone=$2 msg=$3 want=$4 out rc got sigs
	shift 4
	out=$("$AUTHGATE" dkim --zone "$zone" "$@" "$msg" 2>&1)
	rc=$?
	got=$(sed -n 's/^dkim=//p' <<<"$out")
	sigs=$(sed -n 's/^sig:.* result=\([a-z]*\) .*/\1/p' <<<"$out" | paste -sd, -)
	[[ $want == *:* ]] && got="$got:$sigs"
	if [[ $rc -eq 0 && $got == "$want" ]]; then
		ok "$name ($want)"
	else
		not_ok "$name" "expected $want, got $got (exit $rc)
$out"
	fi
}

# Split a Stalwart file (DNS lines, blank line, message) into zone + msg.
stalwart_split() {
	local f=$1 base=$2 dom=${3:-}
	awk '/^$/ { exit } { print }' "$f" | $ZONE ${dom:+--domain "$dom"} >"$base.zone"
	awk 'f { print } /^$/ { f = 1 }' "$f" >"$base.eml"
}

# key_zone OUT OWNER VALUE [OWNER VALUE ...]
key_zone() {
	local out=$1
	shift
	while [ $# -ge 2 ]; do
		printf '%s %s\n' "$1" "$2"
		shift 2
	done | $ZONE >"$out"
}

# ---------------------------------------------------------------- §1
stalwart_split "$V/stalwart-mail-auth/001.txt" "$T/rfc8463" football.example.com
vec "RFC 8463 A.3 ed25519 + rsa (stalwart 001)" "$T/rfc8463.zone" "$T/rfc8463.eml" \
	"pass:pass,pass"
grep -q 'bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=' "$T/rfc8463.eml" &&
	ok "RFC 8463 A.3 body hash is the RFC's" || not_ok "RFC 8463 A.3 body hash is the RFC's"
# The same message with one body byte changed must fail both signatures.
sed 's/^Joe\./Joe!/' "$T/rfc8463.eml" >"$T/rfc8463-bad.eml"
vec "RFC 8463 A.3 altered body" "$T/rfc8463.zone" "$T/rfc8463-bad.eml" "fail:fail,fail"

# ---------------------------------------------------------------- §2 dkimpy
P=$V/dkimpy
ED_FOOT='v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo='
GMAIL='k=rsa; p=MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA1Kd87/UeJjenpabgbFwh+eBCsSTrqmwIYYvywlbhbqoo2DymndFkbjOVIPIldNs/m40KF+yzMn1skyoxcTUGCQs8g3FgD2Ap3ZB5DekAo5wMmk4wimDO+U8QzI3SD07y2+07wlNWwIt8svnxgdxGkVbbhzY8i+RQ9DpSVpPbF7ykQxtKXkv/ahW3KjViiAH+ghvvIhkx4xYSIc9oSwVmAl5OctMEeWUwg8Istjqz8BZeTWbf41fbNhte7Y+YqZOwq1Sd0DbvYAD9NOZK9vlfuac0598HY+vtSBczUiKERHv1yRbcaQtZFh5wtiRrN04BLUTD21MycBX5jYchHjPY/wIDAQAB'
key_zone "$T/py.zone" test._domainkey.football.example.com "$(cat "$P/test.txt")" \
	brisbane._domainkey.football.example.com "$ED_FOOT" \
	sed._domainkey.test.ex "$(cat "$P/eximtest.dns")" \
	20120113._domainkey.gmail.com "$GMAIL"
vec "dkimpy rfc6376.signed.msg" "$T/py.zone" "$P/rfc6376.signed.msg" "pass:pass,pass"
vec "dkimpy rfc6376.signed.rsa.msg" "$T/py.zone" "$P/rfc6376.signed.rsa.msg" "pass:pass"
key_zone "$T/pybad.zone" test._domainkey.football.example.com "$(cat "$P/test_bad.txt")"
vec "dkimpy rfc6376.signed.rsa.msg, corrupted key" "$T/pybad.zone" \
	"$P/rfc6376.signed.rsa.msg" "permerror:permerror"
vec "dkimpy ed25519test2.msg (Exim signer)" "$T/py.zone" "$P/ed25519test2.msg" "pass:pass"
vec "dkimpy test2.message (Gmail, degenerate folding)" "$T/py.zone" "$P/test2.message" "pass:pass"
vec "dkimpy test.message.baddomain (d= not a domain)" "$T/py.zone" \
	"$P/test.message.baddomain" "permerror:permerror"

if ! $PY -c 'import dkim' 2>/dev/null; then
	skip "dkimpy sign-then-verify" "python3-dkim not installed"
else
	key_zone "$T/ex.zone" test._domainkey.example.com "$(cat "$P/test.txt")" \
		ed._domainkey.example.com "$(cat "$P/ed25519test.dns")" \
		test2._domainkey.example.com "$(cat "$P/test2.txt")" \
		badv._domainkey.example.com "$(cat "$P/badversion.txt")" \
		badk._domainkey.example.com "$(cat "$P/badk.txt")" \
		tlsrpt._domainkey.example.com "$(cat "$P/test_tlsrpt.txt")" \
		test1._domainkey.example.com "$(cat "$P/1024_testkey_wo_markers.pub.txt")" \
		test2r._domainkey.example.com "$(cat "$P/1024_testkey_wo_markers.pub.rsa.txt")" \
		test3._domainkey.example.com "$(cat "$P/2048_testkey_wo_markers.pub.txt")" \
		test4._domainkey.example.com "$(cat "$P/2048_testkey_wo_markers.pub.rsa.txt")" \
		test5._domainkey.example.com "$(cat "$P/2048_testkey_PKCS8.key.pub.txt")"
	for alg in rsa ed25519; do
		if [ $alg = rsa ]; then
			key=$P/test.private sel=test a=rsa-sha256 src=$P/test.message
		else
			key=$P/ed25519test.key sel=ed a=ed25519-sha256 src=$P/ed25519test.msg
		fi
		for c in simple/simple simple/relaxed relaxed/simple relaxed/relaxed; do
			m=$T/$alg-${c/\//-}.eml
			$SIGN "$key" $sel example.com $a $c <"$src" >"$m"
			vec "dkimpy sign $alg $c" "$T/ex.zone" "$m" "pass:pass"
		done
		m=$T/$alg-relaxed-relaxed.eml
		{ cat "$m"; printf 'foo\r\n'; } >"$T/x.eml"
		vec "dkimpy $alg body appended" "$T/ex.zone" "$T/x.eml" "fail:fail"
		{ printf 'From: evil@example.net\r\n'; cat "$m"; } >"$T/x.eml"
		vec "dkimpy $alg second From above" "$T/ex.zone" "$T/x.eml" "fail:fail"
		awk 'done == 0 && /^\r?$/ { printf "From: evil@example.net\r\n"; done = 1 } { print }' \
			"$m" >"$T/x.eml"
		vec "dkimpy $alg second From below" "$T/ex.zone" "$T/x.eml" "fail:fail"
		{ printf 'X-Unrelated: yes\r\n'; cat "$m"; } >"$T/x.eml"
		vec "dkimpy $alg unrelated header added" "$T/ex.zone" "$T/x.eml" "pass:pass"
	done
	for f in message.mbox test_extra.message; do
		$SIGN "$P/test.private" test example.com rsa-sha256 relaxed/relaxed --all-headers \
			<"$P/$f" >"$T/x.eml"
		vec "dkimpy $f, all headers signed" "$T/ex.zone" "$T/x.eml" "pass"
	done
	# No From in h=: a verifier must refuse the signature (RFC 6376 §5.4).
	sed '1,/^\r$/ s/h=message-id : date :/h=message-id : date : to :/; 1,/^\r$/ s/ from : to : subject : from;/ to : subject : date;/' \
		"$T/rsa-relaxed-relaxed.eml" >"$T/x.eml"
	if grep -qi 'h=.*from' <(sed -n '1,4p' "$T/x.eml"); then
		not_ok "h= without From" "could not remove From from h="
	else
		vec "h= without From (test_nofrom rule)" "$T/ex.zone" "$T/x.eml" "permerror:permerror"
		"$AUTHGATE" dkim --zone "$T/ex.zone" "$T/x.eml" | grep -q "h= does not include From" &&
			ok "h= without From: reason" || not_ok "h= without From: reason"
	fi
	$SIGN "$P/test.private" test2 example.com rsa-sha256 relaxed/relaxed <"$P/test.message" >"$T/x.eml"
	vec "dkimpy key test2.txt (k= implied rsa)" "$T/ex.zone" "$T/x.eml" "pass:pass"
	$SIGN "$P/test.private" badv example.com rsa-sha256 relaxed/relaxed <"$P/test.message" >"$T/x.eml"
	vec "dkimpy key badversion.txt (v=DKIM1:)" "$T/ex.zone" "$T/x.eml" "permerror:permerror"
	$SIGN "$P/test.private" badk example.com rsa-sha256 relaxed/relaxed <"$P/test.message" >"$T/x.eml"
	vec "dkimpy key badk.txt (k=ed25519-sha256)" "$T/ex.zone" "$T/x.eml" "permerror:permerror"
	$SIGN "$P/test.private" tlsrpt example.com rsa-sha256 relaxed/relaxed <"$P/test.message" >"$T/x.eml"
	vec "dkimpy key test_tlsrpt.txt (s=tlsrpt)" "$T/ex.zone" "$T/x.eml" "permerror:permerror"
	for pair in "test1 1024_testkey.key SPKI-1024" "test2r 1024_testkey.key PKCS1-1024" \
		"test3 2048_testkey.key SPKI-2048" "test4 2048_testkey.key PKCS1-2048" \
		"test5 2048_testkey_PKCS8.key PKCS8-signer-2048"; do
		set -- $pair
		$SIGN "$P/$2" "$1" example.com rsa-sha256 simple/simple <"$P/test.message" >"$T/x.eml"
		vec "dkimpy key encoding $3" "$T/ex.zone" "$T/x.eml" "pass:pass"
	done
	$SIGN "$P/rfc8032_7_1.key" brisbane football.example.com ed25519-sha256 relaxed/relaxed \
		<"$P/rfc6376.msg" >"$T/x.eml"
	vec "dkimpy sign rfc6376.msg with the RFC 8463 key" "$T/py.zone" "$T/x.eml" "pass:pass"
	$SIGN "$P/test.private" test example.com rsa-sha256 relaxed/relaxed <"$P/rfc6376.w1258.msg" >"$T/x.eml"
	vec "dkimpy rfc6376.w1258.msg (8-bit body, informative upstream)" "$T/ex.zone" "$T/x.eml" "pass:pass"
fi

# ---------------------------------------------------------------- §3 Stalwart
NOW=1667843664
for n in 2 3 4 5 6; do
	stalwart_split "$V/stalwart-mail-auth/00$n.txt" "$T/st$n"
done
vec "stalwart 002 (PKCS#1 p=, simple/simple)" "$T/st2.zone" "$T/st2.eml" "pass:pass" --now $NOW
vec "stalwart 003 (two identical signatures)" "$T/st3.zone" "$T/st3.eml" "pass:pass,pass" --now $NOW
vec "stalwart 004 (key t=s; h=sha256)" "$T/st4.zone" "$T/st4.eml" "pass:pass" --now $NOW
vec "stalwart 005 (x= in the future at $NOW)" "$T/st5.zone" "$T/st5.eml" "pass:pass" --now $NOW
vec "stalwart 005 today (x= past)" "$T/st5.zone" "$T/st5.eml" "permerror:permerror"
# `authgate verify --now` is the same clock for its DKIM check: the x= that
# has passed today is still ahead at $NOW, so DKIM passes and (SPF and
# Sender ID none, the zone holding only keys) the message is accepted.
out=$("$AUTHGATE" verify --zone "$T/st5.zone" --ip 192.0.2.1 --helo mail.topicbox.com \
	--mail-from topicbox@topicbox.com --now $NOW "$T/st5.eml" 2>&1)
rc=$?
expect_eq "verify --now: stalwart 005 DKIM passes at \$NOW" "0|1" "$rc|$(grep -c 'dkim=pass' <<<"$out")"
vec "stalwart 006 (github, encoded words)" "$T/st6.zone" "$T/st6.eml" "pass:pass" --now $NOW

# ---------------------------------------------------------------- §4 rspamd
R=$V/rspamd/messages
$ZONE <"$V/rspamd/dns-fixtures.tsv" >"$T/rspamd.zone"
while read -r file want; do
	vec "rspamd $file" "$T/rspamd.zone" "$R/$file" "$want"
done <<'LIST'
ed25519.eml pass:pass,pass
ed25519-broken.eml fail:fail,fail
dkim_broken_key.eml permerror:permerror
dkim_revoked_key.eml permerror:permerror
dkim_key_too_long.eml permerror:permerror
dkim_key_too_wide.eml permerror:permerror
dkim_key_wide_ok.eml fail:fail
dkim_huge_hlist.eml permerror:permerror
dkim_large_hlist.eml permerror:permerror
dkim_many_sigs.eml permerror:permerror,permerror,permerror,permerror,permerror,none
dkim_sigs_at_limit.eml pass:permerror,permerror,permerror,permerror,pass
dmarc/dkim_unknown_tags.eml pass:pass
dmarc/bad_dkim1.eml permerror:permerror
dmarc/bad_dkim2.eml permerror:permerror
dmarc/bad_dkim3.eml temperror:temperror
utf.eml none
LIST
# The cap is configurable: with 6, the valid 6th signature is reached.
vec "rspamd dkim_many_sigs.eml, --max-signatures 6" "$T/rspamd.zone" "$R/dkim_many_sigs.eml" \
	"pass" --max-signatures 6

# ---------------------------------------------------------------- §5 Mail::DKIM
# RFC-strict column: rsa-sha1 and RSA < 1024 bits are policy (RFC 8301),
# pre-RFC drafts (no v=, v=0.5) and other syntax/key/DNS errors permerror,
# DomainKeys alone is none; Mail::DKIM "invalid" = permerror/temperror.
$ZONE <"$V/mail-dkim/FAKE_DNS.dat" >"$T/mdkim.zone"
while read -r file want; do
	vec "Mail::DKIM $file" "$T/mdkim.zone" "$V/mail-dkim/corpus/$file" "$want"
done <<'LIST'
bad_1.txt permerror
bad_1878954.txt policy
bad_dk_1.txt none
bad_dk_2.txt none
bad_dk_3.txt none
bad_dk_4.txt none
bad_dk_5.txt none
bad_ietf01_1.txt permerror
bad_ietf01_2.txt permerror
bad_ietf01_3.txt permerror
badkey1_ed25519.txt permerror:permerror
badkey2_ed25519.txt fail:fail
badkey3_ed25519.txt fail:fail
badkey4_ed25519.txt permerror:permerror
badkey5_ed25519.txt permerror:permerror
badkey_1.txt permerror
badkey_10.txt policy
badkey_11.txt policy
badkey_12.txt policy
badkey_13.txt policy
badkey_14.txt policy
badkey_15.txt policy
badkey_2.txt permerror
badkey_3.txt permerror
badkey_4.txt permerror
badkey_5.txt permerror
badkey_6.txt permerror
badkey_7.txt permerror
badkey_8.txt policy
badkey_9.txt policy
dk_headers_1.txt none
dk_headers_2.txt none
dk_multiple_1.txt none
good_1878523.txt policy
good_83176.txt policy
good_dk_1.txt none
good_dk_2.txt none
good_dk_3.txt none
good_dk_4.txt none
good_dk_5.txt none
good_dk_6.txt none
good_dk_7.txt none
good_dk_gmail.txt none
good_dk_yahoo.txt none
good_ietf00_1.txt permerror
good_ietf00_2.txt permerror
good_ietf00_3.txt permerror
good_ietf00_4.txt permerror
good_ietf00_5.txt permerror
good_ietf01_1.txt permerror
good_ietf01_2.txt permerror
good_qp_1.txt policy
good_qp_2.txt policy
good_qp_3.txt policy
good_rfc4871_3.txt policy
good_rfc4871_4.txt policy
goodkey_1.txt policy
goodkey_2.txt policy
goodkey_3.txt policy
goodkey_4.txt policy
goodkey_ed25519.txt pass:pass
ignore_1.txt permerror
ignore_2.txt permerror
ignore_3.txt permerror
ignore_4.txt permerror
ignore_5.txt permerror
ignore_6.txt permerror
ignore_7.txt permerror
ignore_8.txt permerror
mine_ietf01_1.txt permerror
mine_ietf01_2.txt permerror
mine_ietf01_3.txt permerror
mine_ietf01_4.txt permerror
mine_ietf05_1.txt permerror
multiple_1.txt permerror:permerror,permerror,permerror,permerror
multiple_2.txt permerror:permerror,policy,policy,permerror
no_body_1.txt permerror
no_body_2.txt permerror
no_body_3.txt permerror
LIST
# ---------------------------------------------------------------- CLI
"$AUTHGATE" dkim >/dev/null 2>"$T/err"
expect_eq "cli: no file is a usage error (exit 2)" 2 $?
expect_eq "cli: usage error is one line" 1 "$(wc -l <"$T/err")"
"$AUTHGATE" dkim --max-signatures 0 x >/dev/null 2>&1
expect_eq "cli: bad --max-signatures (exit 2)" 2 $?
"$AUTHGATE" dkim --zone "$T/rfc8463.zone" "$T/does-not-exist" >/dev/null 2>&1
expect_eq "cli: unreadable file (exit 1)" 1 $?
sed 's/$/\r/' "$T/rfc8463.eml" >"$T/rfc8463-crlf.eml"
out=$("$AUTHGATE" dkim --zone "$T/rfc8463.zone" "$T/rfc8463.eml" "$T/rfc8463-crlf.eml" "$R/utf.eml")
expect_eq "cli: several files, LF and CRLF alike" \
	"file: $T/rfc8463.eml|pass|file: $T/rfc8463-crlf.eml|pass|file: $R/utf.eml|none" \
	"$(grep -E '^(file:|dkim=)' <<<"$out" | sed 's/^dkim=//' | paste -sd'|' -)"

n=$(ls "$V/mail-dkim/corpus" | wc -l)
expect_eq "Mail::DKIM corpus: all $n files listed" 79 "$n"

tap_done
