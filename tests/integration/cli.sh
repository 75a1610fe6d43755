#!/usr/bin/env bash
# The command-line contract: help texts, one-line usage errors with exit 2,
# `authgate lookup` against zone files and loopback servers, and the output
# lines and exit statuses of `dkim`, `senderid` and `verify`.
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
# 'authgate -h' and 'authgate help' are --help (exit 0, the same text on
# stdout); --version prints one line "authgate VERSION" and exits 0.
"$AUTHGATE" --help >"$tmp/help" 2>&1
for h in -h help; do
	run "$h"
	expect_eq "'authgate $h' is --help" "0|$(cat "$tmp/help")" "$rc|$out"
done
run --version
if [[ $rc -eq 0 && $out =~ ^authgate\ [0-9]+\.[0-9]+\.[0-9]+$ ]]; then ok "--version"; else not_ok "--version" "exit $rc: $out"; fi
# A command is named in full: a prefix of one ("sp" of spf, "ver" of
# verify and verdicts) is an unknown command, not the first match.
usage_error "a command's prefix is not the command" sp --ip 192.0.2.1 --helo h
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

# More of lookup's output (its usage text): every octet outside 0x20-0x7e
# of a TXT string as \DDD, '~' and ' ' as themselves; AAAA in IPv6
# notation; the null MX (RFC 7505) as "0 ."; MX of equal preference in a
# stable order (by name, as the zone order or a server's rotation may
# differ); SPF-type records like TXT; --verbose adds no alias line for a
# name that is its own canonical name.
cat >"$tmp/u.zone" <<'Z'
$ORIGIN u.test.
$TTL 60
edge  TXT "~ \127\032x"
v6    AAAA 2001:db8::1
null  MX 0 .
tie   MX 5 b
tie   MX 5 a
@     SPF "v=spf1 -all"
Z
run lookup --zone "$tmp/u.zone" TXT edge.u.test
expect_eq "TXT: ~ and space as is, DEL escaped" '0|"~ \127 x"' "$rc|$out"
run lookup --zone "$tmp/u.zone" AAAA v6.u.test
expect_eq "AAAA printed as IPv6" "0|2001:db8::1" "$rc|$out"
run lookup --zone "$tmp/u.zone" MX null.u.test
expect_eq "the null MX is '0 .'" "0|0 ." "$rc|$out"
run lookup --zone "$tmp/u.zone" MX tie.u.test
expect_eq "MX of equal preference ordered by name" $'0|5 a.u.test\n5 b.u.test' "$rc|$out"
run lookup --zone "$tmp/u.zone" SPF u.test
expect_eq "SPF-type records printed like TXT" '0|"v=spf1 -all"' "$rc|$out"
run lookup --zone "$tmp/u.zone" --verbose AAAA v6.u.test
expect_eq "--verbose: no alias line without a CNAME" $'0|60\t2001:db8::1' "$rc|$out"
usage_error "lookup SOA is not a supported type" lookup --zone "$tmp/u.zone" SOA u.test
usage_error "lookup with three arguments" lookup --zone "$tmp/u.zone" A u.test extra

# ------------------------------------------------------ option values
# The shared DNS options keep to the ranges their usage errors state
# ("--timeout wants milliseconds (1-600000)", "--tries wants 1-10"): both
# ends are accepted, one past them is not, and a number must be all digits.
for v in 1 600000; do
	run lookup --zone "$tmp/t.zone" --timeout $v A a.t.test
	expect_eq "--timeout $v is accepted" "0|127.0.0.1" "$rc|$out"
done
for v in 1 10; do
	run lookup --zone "$tmp/t.zone" --tries $v A a.t.test
	expect_eq "--tries $v is accepted" "0|127.0.0.1" "$rc|$out"
done
usage_error "--timeout 600001 is out of range" lookup --zone "$tmp/t.zone" --timeout 600001 A a.t.test
usage_error "--tries 11 is out of range" lookup --zone "$tmp/t.zone" --tries 11 A a.t.test
usage_error "--tries 0 is out of range" lookup --zone "$tmp/t.zone" --tries 0 A a.t.test
usage_error "--timeout with trailing junk" lookup --zone "$tmp/t.zone" --timeout 5x A a.t.test

# Without --zone or --server the resolver is the one /etc/resolv.conf names
# (CLI_DNS_HELP: "default /etc/resolv.conf"), not an empty DNS. Seen in a
# network and mount namespace of its own, where resolv.conf names
# 127.0.0.1 on a lo that nothing listens on: no answer comes, so the
# lookup is a temporary failure (an empty DNS would say NXDOMAIN). Only
# loopback is ever reached.
printf 'nameserver 127.0.0.1\n' >"$tmp/resolv.conf"
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null &&
	unshare -m -n true 2>/dev/null; then
	rc=0
	out=$(unshare -m -n sh -c 'ip link set lo up && mount --make-rprivate / &&
		mount --bind "$1" /etc/resolv.conf && exec "$2" lookup --timeout 200 --tries 1 A x.invalid' \
		sh "$tmp/resolv.conf" "$AUTHGATE" 2>"$tmp/err") || rc=$?
	expect_eq "no --zone/--server: /etc/resolv.conf's server is asked" "75|TEMPFAIL" "$rc|${out%% *}"
else
	skip "no --zone/--server: /etc/resolv.conf's server is asked" "needs root and unshare"
fi

# Two loopback servers: "silent" never answers and counts the queries it
# gets; "cut" answers each with a record cut short. Both stop once the
# lookup has exited (so every query it sent is counted).
cat >"$tmp/udp.py" <<'PY'
import os, socket, sys
mode, portfile, stopfile = sys.argv[1:4]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
with open(portfile + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
os.rename(portfile + ".tmp", portfile)
s.settimeout(0.1)
n = 0
while not os.path.exists(stopfile):
    try:
        q, peer = s.recvfrom(4096)
    except socket.timeout:
        continue
    n += 1
    if mode == "cut":
        end = 12
        while q[end]:
            end += 1 + q[end]
        end += 5  # the question: name, type, class
        # QR RD RA, one question (echoed), one answer: its A record ends
        # inside TYPE/CLASS.
        s.sendto(q[:2] + b"\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00" + q[12:end] +
                 b"\xc0\x0c\x00\x01\x00", peer)
print(n)
PY
udp_lookup() { # MODE ARGS...: lookup against a fresh server; sets rc, out, count
	local mode=$1 spid; shift
	rm -f "$tmp/port" "$tmp/stop"
	/usr/bin/python3 "$tmp/udp.py" "$mode" "$tmp/port" "$tmp/stop" >"$tmp/count" &
	spid=$!
	for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
	run lookup --server "127.0.0.1:$(cat "$tmp/port")" "$@"
	touch "$tmp/stop"; wait $spid
	count=$(cat "$tmp/count")
}
# --tries N is how many times each server is asked.
for t in 1 3; do
	udp_lookup silent --timeout 100 --tries $t A x.invalid
	expect_eq "--tries $t: the silent server is asked $t times" "75|$t" "$rc|$count"
done
# A malformed answer is its own class, exit 65.
udp_lookup cut --timeout 2000 --tries 1 A x.invalid
expect_eq "a malformed answer exits 65" "65|MALFORMED" "$rc|${out%% *}"
# A usage error names what was wrong: a long option missing its value is
# named as written (not as getopt's internal option code), and so is an
# unknown short option.
run lookup --timeout
expect_eq "a long option without its value is named" "2|1" "$rc|$(grep -c -- "'--timeout'" "$tmp/err")"
run lookup -Z A a.t.test
expect_eq "an unknown short option is named" "2|1" "$rc|$(grep -c -- "'-Z'" "$tmp/err")"

# --------------------------------------------------------------- dkim
# A key and signer of our own: the RFC 8032 §7.1 test 1 Ed25519 key (its
# public half is the RFC 8463 example key) at s._domainkey.c.test.
cat >"$tmp/c.zone" <<'Z'
$ORIGIN c.test.
$TTL 60
@              TXT "v=spf1 ip4:192.0.2.0/24 -all"
s._domainkey   TXT "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
slow           TIMEOUT
Z
printf 'nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=' >"$tmp/ed.key"
sign() { /usr/bin/python3 "$top/tests/lib/dkim_sign.py" "$tmp/ed.key" s c.test ed25519-sha256 relaxed/relaxed; }
hdr=$'From: a@c.test\nTo: b@example.net\nSubject: cli\nDate: Sat, 28 Nov 2026 12:00:00 +0000\n'
if /usr/bin/python3 -c 'import dkim' 2>/dev/null; then
	# Files are read whole (up to 64 MiB, the help's promise of "message
	# files" has no smaller limit): a body past the first 64 KiB read
	# buffer is still all hashed.
	{ printf '%s\n' "$hdr"; for i in $(seq 3000); do printf 'line %05d of a long body, well past 64 KiB\n' $i; done; } |
		sign >"$tmp/big.eml"
	run dkim --zone "$tmp/c.zone" "$tmp/big.eml"
	expect_eq "dkim: a message over 64 KiB verifies ($(wc -c <"$tmp/big.eml") octets)" "0|dkim=pass" "$rc|$(tail -1 "$tmp/out")"
	# Two signatures: the output is one "sig:" line each, then dkim=, and
	# nothing else (no "file:" line for a single file).
	printf '%s\nbody\n' "$hdr" | sign | sign >"$tmp/s.eml"
	sigpass='sig: d=c.test s=s a=ed25519-sha256 result=pass reason="ok"'
	run dkim --zone "$tmp/c.zone" "$tmp/s.eml"
	expect_eq "dkim: one line per signature, then the result" "0|$sigpass
$sigpass
dkim=pass" "$rc|$out"
	# --max-signatures N verifies the first N; the others are listed, not
	# checked. 64 is the most allowed.
	run dkim --zone "$tmp/c.zone" --max-signatures 1 "$tmp/s.eml"
	expect_eq "dkim --max-signatures 1 checks one of two" "0|pass,none|pass" \
		"$rc|$(sed -n 's/^sig:.* result=\([a-z]*\) .*/\1/p' "$tmp/out" | paste -sd, -)|$(sed -n 's/^dkim=//p' "$tmp/out")"
	run dkim --zone "$tmp/c.zone" --max-signatures 64 "$tmp/s.eml"
	expect_eq "dkim --max-signatures 64 is allowed" "0|dkim=pass" "$rc|$(tail -1 "$tmp/out")"
	# Several files: "file: PATH" before each one's lines, every file
	# verified even after one that cannot be read, and exit 1 for that one.
	run dkim --zone "$tmp/c.zone" "$tmp/none.eml" "$tmp/s.eml"
	expect_eq "dkim: several files, one missing" "1|file: $tmp/none.eml
file: $tmp/s.eml
$sigpass
$sigpass
dkim=pass|1" "$rc|$out|$(grep -c "none.eml" "$tmp/err")"
else
	skip "dkim: signed messages (size, signatures, files)" "python3-dkim not installed"
fi
# A file that starts with a bare LF (no header at all) is read as CRLF
# like every other bare LF, without looking before its first octet.
printf '\nbody\n' >"$tmp/nohdr.eml"
run dkim --zone "$tmp/c.zone" "$tmp/nohdr.eml"
expect_eq "dkim: a file starting with an empty line has no signature" "0|dkim=none" "$rc|$out"
usage_error "dkim --max-signatures 65 is too many" dkim --zone "$tmp/c.zone" --max-signatures 65 "$tmp/nohdr.eml"
# Each signature's line stays parseable whatever its tags hold: d=, s= and
# a= are printed without blanks or quotes, and an empty one as "-".
{ printf 'DKIM-Signature: v=1; a=ed25519-sha256; d=c.test; s=; h=from; bh=x; b=y\n'
  printf 'DKIM-Signature: v=1; a=ed25519-sha256; d=c.test; s=a"b c; h=from; bh=x; b=y\n'
  printf '%s\nbody\n' "$hdr"; } >"$tmp/odd.eml"
run dkim --zone "$tmp/c.zone" "$tmp/odd.eml"
expect_eq "dkim: odd tags printed as one word each" '0|2|s=-,s=abc|dkim=permerror' \
	"$rc|$(grep -Ec '^sig: d=[^ "]+ s=[^ "]+ a=[^ "]+ result=[a-z]+ reason="[^"]*"$' "$tmp/out")|$(
		sed -n 's/^sig: .* \(s=[^ ]*\) a=.*/\1/p' "$tmp/out" | paste -sd, -)|$(tail -1 "$tmp/out")"
# More signatures than can be reported (64): the rest are counted on a
# line of their own, not checked.
for i in $(seq 66); do printf 'DKIM-Signature: v=1; a=ed25519-sha256; d=c.test; s=n%d; h=from; bh=x; b=y\n' $i; done >"$tmp/many.eml"
printf '%s\nbody\n' "$hdr" >>"$tmp/many.eml"
run dkim --zone "$tmp/c.zone" "$tmp/many.eml"
expect_eq "dkim: signatures past 64 are counted, not listed" "0|64|unreported: 2 more signatures, not checked" \
	"$rc|$(grep -c '^sig: ' "$tmp/out")|$(grep '^unreported' "$tmp/out")"

# ----------------------------------------------------------- senderid
# c.test's v=spf1 record stands for spf2.0/mfrom,pra (RFC 4406 §3.4).
printf 'From: a@c.test\nSubject: x\n\nbody\n' >"$tmp/m.eml"
printf 'Subject: no From, no Sender\n\nbody\n' >"$tmp/nopra.eml"
sid=(senderid --zone "$tmp/c.zone" --ip 192.0.2.1 --helo h.c.test)
run "${sid[@]}" "$tmp/m.eml"
expect_eq "senderid: result, then pra=" $'0|pass\npra=a@c.test' "$rc|$out"
run "${sid[@]}" --verbose "$tmp/m.eml"
expect_eq "senderid --verbose: the header on stderr, stdout unchanged" $'0|pass\npra=a@c.test|header: From' \
	"$rc|$out|$(grep '^header:' "$tmp/err")"
run "${sid[@]}" "$tmp/nopra.eml"
expect_eq "senderid: no PRA is pra=none (RFC 4407 §2: permerror)" $'0|permerror\npra=none' "$rc|$out"
# The mfrom scope checks MAIL FROM alone: its one line, no pra=, with or
# without a message file ("mfrom needs no MSG").
run "${sid[@]}" --ip 198.51.100.1 --scope mfrom --mail-from a@c.test
expect_eq "senderid --scope mfrom without MSG" "0|fail" "$rc|$out"
run "${sid[@]}" --scope mfrom --mail-from a@c.test "$tmp/m.eml"
expect_eq "senderid --scope mfrom with a MSG" "0|pass" "$rc|$out"
usage_error "senderid --scope mfrom without --mail-from" "${sid[@]}" --scope mfrom
usage_error "senderid --scope mfrom with two files" "${sid[@]}" --scope mfrom --mail-from a@c.test "$tmp/m.eml" "$tmp/m.eml"
usage_error "senderid without MSG" "${sid[@]}"
usage_error "senderid with two MSGs" "${sid[@]}" "$tmp/m.eml" "$tmp/m.eml"
usage_error "senderid without --helo" senderid --zone "$tmp/c.zone" --ip 192.0.2.1 "$tmp/m.eml"
usage_error "senderid with a bad --ip" senderid --zone "$tmp/c.zone" --ip 192.0.2.256 --helo h.c.test "$tmp/m.eml"
# "1 MSG unreadable": one line on stderr, nothing on stdout.
run "${sid[@]}" "$tmp/none.eml"
expect_eq "senderid: an unreadable MSG exits 1" "1||1" "$rc|$out|$(wc -l <"$tmp/err")"

# ------------------------------------------------------------- verify
# Exit 0 accept, 1 drop, 75 tempfail (the usage text and cmd_verify.c).
vfy=(verify --zone "$tmp/c.zone" --helo h.c.test --mail-from a@c.test)
run "${vfy[@]}" --ip 192.0.2.1 "$tmp/m.eml"
expect_eq "verify: accept exits 0; the headers name localhost by default" \
	"0|Authentication-Results: localhost; spf=pass|verdict=accept" \
	"$rc|$(head -1 "$tmp/out" | cut -d' ' -f1-3)|$(tail -1 "$tmp/out" | cut -d' ' -f1)"
run "${vfy[@]}" --ip 198.51.100.1 --hostname mx.c.test "$tmp/m.eml"
expect_eq "verify: drop exits 1" "1|Authentication-Results: mx.c.test; spf=fail|verdict=drop" \
	"$rc|$(head -1 "$tmp/out" | cut -d' ' -f1-3)|$(tail -1 "$tmp/out" | cut -d' ' -f1)"
printf 'From: a@slow.c.test\nSubject: x\n\nbody\n' >"$tmp/slow.eml"
run verify --zone "$tmp/c.zone" --helo h.c.test --mail-from a@slow.c.test --ip 192.0.2.1 "$tmp/slow.eml"
expect_eq "verify: tempfail exits 75" "75|verdict=tempfail" "$rc|$(tail -1 "$tmp/out" | cut -d' ' -f1)"
# --received-spf adds the Received-SPF header (RFC 7208 §9.1) after
# Authentication-Results, its receiver= our --hostname; without it, none.
run "${vfy[@]}" --ip 192.0.2.1 --hostname mx.c.test --received-spf "$tmp/m.eml"
# Every line of the output ends in LF alone, the headers' folds too
# (a tab starts each continuation), not the CRLF of a message.
expect_eq "verify --received-spf" "0|Received-SPF: pass|1|0" \
	"$rc|$(grep '^Received-SPF:' "$tmp/out")|$(grep -c 'receiver=mx.c.test;' "$tmp/out")|$(grep -c $'\r' "$tmp/out")"
run "${vfy[@]}" --ip 192.0.2.1 "$tmp/m.eml"
expect_eq "verify without --received-spf" "0|0" "$rc|$(grep -c 'Received-SPF' "$tmp/out")"
# --now takes any time after 1970, 2038 and beyond included.
run "${vfy[@]}" --ip 192.0.2.1 --now 4102444800 "$tmp/m.eml"
expect_eq "verify --now after 2038" "0|verdict=accept" "$rc|$(tail -1 "$tmp/out" | cut -d' ' -f1)"
usage_error "verify --now 0" "${vfy[@]}" --ip 192.0.2.1 --now 0 "$tmp/m.eml"
usage_error "verify without --mail-from" verify --zone "$tmp/c.zone" --ip 192.0.2.1 --helo h.c.test "$tmp/m.eml"
usage_error "verify with two MSGs" "${vfy[@]}" --ip 192.0.2.1 "$tmp/m.eml" "$tmp/m.eml"
usage_error "verify with a bad --ip" "${vfy[@]}" --ip 192.0.2.256 "$tmp/m.eml"
# A usage error is one line even when several options are bad: the first.
usage_error "verify: two bad option values, one line" "${vfy[@]}" --ip 192.0.2.1 --softfail x --permerror y "$tmp/m.eml"
# An unreadable MSG cannot be 1 (drop) or 75 (tempfail): it exits 2.
usage_error "verify: an unreadable MSG exits 2" "${vfy[@]}" --ip 192.0.2.1 "$tmp/none.eml"
# serve: a stray argument after the options is a usage error, not
# ignored (--check, so that a serve that took it would print "ok" and exit
# 0 instead of starting a daemon); so is a serve without -c.
: >"$tmp/empty.conf"
run serve --check -c "$tmp/empty.conf"
expect_eq "serve --check of a configuration of defaults" "0|$tmp/empty.conf: ok" "$rc|$out"
usage_error "serve with a stray argument" serve --check -c "$tmp/empty.conf" extra
[[ $err == *"unexpected argument 'extra'"* ]] && ok "... which it names" || not_ok "serve: stray argument named" "$err"
usage_error "serve without -c" serve --check
tap_done
