#!/usr/bin/env bash
# dkim_dns.sh — key lookups through the real resolver path (c-ares, the
# path the daemon uses) against a DNS responder this test starts on
# 127.0.0.1: pass, no key (NXDOMAIN), timeout (temperror), and several
# files in one run sharing the resolver and the key cache.
set -u
TOP=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
cd "$TOP"
. tests/lib/tap.sh
AUTHGATE=${AUTHGATE:-$TOP/build/asan/authgate}
D=tests/data/dkim
T=$(mktemp -d)
srv=
cleanup() { [[ -n $srv ]] && kill "$srv" 2>/dev/null; rm -rf "$T"; }
trap cleanup EXIT

echo "unit._domainkey.example.com TXT $(cat $D/ed.txt)" >"$T/records"
echo "slow._domainkey.example.com TIMEOUT" >>"$T/records"
/usr/bin/python3 tests/lib/dkim_dns_server.py "$T/records" "$T/port" &
srv=$!
for _ in $(seq 50); do [[ -s $T/port ]] && break; sleep 0.1; done
if [[ ! -s $T/port ]]; then
	not_ok "start the DNS responder on 127.0.0.1"
	tap_done
	exit 1
fi
port=$(cat "$T/port")
sed 's/s=unit;/s=nokey;/' $D/oversign.eml >"$T/nokey.eml"
sed 's/s=unit;/s=slow;/' $D/oversign.eml >"$T/slow.eml"
# A short timeout only where the timeout is the point: the responder is
# one Python process and may be slow to answer on a busy machine.
out=$("$AUTHGATE" dkim --server "127.0.0.1:$port" --timeout 5000 --tries 1 \
	$D/oversign.eml $D/length.eml "$T/nokey.eml" 2>&1)
rc=$?
out+=$'\n'$("$AUTHGATE" dkim --server "127.0.0.1:$port" --timeout 300 --tries 1 "$T/slow.eml" 2>&1)
expect_eq "authgate dkim over c-ares: exit status" "0 0" "$rc $?"
got=$(grep -E '^(dkim=|sig:)' <<<"$out" | sed -n 's/.*result=\([a-z]*\) reason="\([^"]*\)".*/\1 (\2)/p' | paste -sd'|' -)
expect_eq "pass, pass, no key, timeout" \
	"pass (ok)|pass (ok)|permerror (no key record)|temperror (key lookup timed out or failed)" "$got"
expect_eq "overall results" "pass|pass|permerror|temperror" \
	"$(sed -n 's/^dkim=//p' <<<"$out" | paste -sd'|' -)"
tap_done
