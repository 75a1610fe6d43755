#!/usr/bin/env bash
# dkim_interop.sh — authgate's DKIM verifier against real signers: dkimpy
# (python3-dkim), OpenDKIM (libopendkim, through tests/lib/
# dkim_opendkim_sign.c) and Mail::DKIM. Keys are generated per run (RSA-2048,
# RSA-1024, ed25519); messages, signatures and tampered copies come from
# tests/lib/dkim_interop_gen.py; every verdict must equal the expected one.
# DNS is a zone file only.
set -u
TOP=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$TOP"
. tests/lib/tap.sh
AUTHGATE=${AUTHGATE:-$TOP/build/asan/authgate}
PY=/usr/bin/python3
T=$(mktemp -d)
[[ -n ${KEEP:-} ]] && echo "# keeping $T" || trap 'rm -rf "$T"' EXIT

need() {
	if ! "$@" >/dev/null 2>&1; then
		skip "dkim interop" "missing: $*"
		tap_done
		exit 0
	fi
}
need $PY -c 'import dkim'
need perl -MMail::DKIM::Signer -e 1
need test -r /usr/include/opendkim/dkim.h

K=$T/keys
mkdir -p "$K" "$T/msgs"
for bits in 2048 1024; do
	openssl genpkey -algorithm rsa -pkeyopt rsa_keygen_bits:$bits -out "$K/r$bits.pem" 2>/dev/null
	openssl rsa -in "$K/r$bits.pem" -traditional -out "$K/r$bits.rsa.pem" 2>/dev/null
done
openssl genpkey -algorithm ed25519 -out "$K/ed.pem" 2>/dev/null
openssl pkey -in "$K/ed.pem" -outform DER | tail -c 32 | base64 -w0 >"$K/ed.seed"
pub_rsa() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | base64 -w0; }
pub_ed() { openssl pkey -in "$1" -pubout -outform DER 2>/dev/null | tail -c 32 | base64 -w0; }

cc -O1 -w -o "$T/odsign" tests/lib/dkim_opendkim_sign.c -lopendkim ||
	{ not_ok "build OpenDKIM signer helper"; tap_done; exit 1; }

{
	for s in dkimpy opendkim mdkim; do
		for k in r2048 r1024; do
			echo "$s-$k._domainkey.example.com v=DKIM1; k=rsa; p=$(pub_rsa "$K/$k.pem")"
		done
		echo "$s-ed._domainkey.example.com v=DKIM1; k=ed25519; p=$(pub_ed "$K/ed.pem")"
	done
	echo "revoked._domainkey.example.com v=DKIM1; k=rsa; p="
} | $PY tests/lib/dkim_zone.py >"$T/zone"

if ! $PY tests/lib/dkim_interop_gen.py "$K" "$T/msgs" "$T/odsign" >"$T/gen.log" 2>&1; then
	not_ok "generate and sign messages" "$(tail -20 "$T/gen.log")"
	tap_done
	exit 1
fi
ok "generated $(wc -l <"$T/msgs/manifest.tsv") messages"

cut -f1 "$T/msgs/manifest.tsv" >"$T/list"
xargs "$AUTHGATE" dkim --zone "$T/zone" <"$T/list" >"$T/out" 2>"$T/err"
rc=$?
expect_eq "authgate dkim exit status" 0 "$rc"
# file: PATH ... dkim=RESULT  ->  PATH RESULT
awk '/^file: / { f = $2 } /^dkim=/ { sub(/^dkim=/, ""); print f "\t" $0 }' "$T/out" >"$T/got"

declare -A got
while IFS=$'\t' read -r path res; do got[$path]=$res; done <"$T/got"
declare -A agree total
bad=0
while IFS=$'\t' read -r path want signer what; do
	total[$signer]=$((${total[$signer]:-0} + 1))
	if [[ ${got[$path]:-missing} == "$want" ]]; then
		agree[$signer]=$((${agree[$signer]:-0} + 1))
	else
		bad=$((bad + 1))
		[[ $bad -le 20 ]] && echo "# MISMATCH $signer $what: want $want got ${got[$path]:-missing} ($path)" &&
			grep -A6 "^file: $path\$" "$T/out" | sed 's/^/#   /'
	fi
done <"$T/msgs/manifest.tsv"
all=0 all_ok=0
for s in dkimpy opendkim mail-dkim multi; do
	echo "# agreement $s: ${agree[$s]:-0}/${total[$s]:-0}"
	all=$((all + ${total[$s]:-0}))
	all_ok=$((all_ok + ${agree[$s]:-0}))
	expect_eq "$s: every verdict as expected" "${total[$s]:-0}" "${agree[$s]:-0}"
done
echo "# agreement total: $all_ok/$all"
[[ $all -ge 500 ]] && ok "at least 500 messages ($all)" || not_ok "at least 500 messages ($all)"
tap_done
