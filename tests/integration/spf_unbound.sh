#!/usr/bin/env bash
# Integration: `authgate spf --server` through the c-ares backend against
# unbound, which this test starts on 127.0.0.1 (free port, generated
# config). Nothing is sent anywhere but that server.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/unbound.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

if ! command -v unbound >/dev/null; then
	skip "spf against unbound" "unbound is not installed (make deps)"
	tap_done; exit
fi
tmp=$(mktemp -d /tmp/authgate-spf-ub.XXXXXX)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
port=$(unbound_port)

{
	unbound_server_head "$tmp" "$port"
	cat <<CONF
  local-zone: "spf.test." static
  local-data: "spf.test. 300 IN SOA ns.spf.test. h.spf.test. 1 3600 600 86400 60"
  local-data: 'spf.test. 300 IN TXT "v=spf1 mx include:_i.spf.test ptr:spf.test -all exp=why.spf.test"'
  local-data: 'spf.test. 300 IN TXT "some other text"'
  local-data: "spf.test. 300 IN MX 10 mx1.spf.test."
  local-data: "spf.test. 300 IN MX 20 mx2.spf.test."
  local-data: "mx1.spf.test. 300 IN A 192.0.2.1"
  local-data: "mx2.spf.test. 300 IN AAAA 2001:db8::2"
  local-data: '_i.spf.test. 300 IN TXT "v=spf1 ip4:198.51.100.0/24" " ~all"'
  local-data: 'why.spf.test. 300 IN TXT "%{i} is not a mail server of %{d}"'
  local-data: "host.spf.test. 300 IN A 203.0.113.5"
  local-data: 'two.spf.test. 300 IN TXT "v=spf1 +all"'
  local-data: 'two.spf.test. 300 IN TXT "v=spf1 -all"'
  local-data: 'refuse.spf.test. 300 IN TXT "v=spf1 include:x.refused.test -all"'
  local-zone: "113.0.203.in-addr.arpa." static
  local-data-ptr: "203.0.113.5 host.spf.test."
  local-zone: "refused.test." always_refuse
CONF
} >"$tmp/unbound.conf"
unbound -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
pid=$!
spf() { "$AUTHGATE" spf --server "127.0.0.1:$port" --timeout 500 --tries 2 "$@" 2>&1; }
for _ in $(seq 50); do
	[[ $(spf --ip 192.0.2.1 --helo h --mail-from a@spf.test) == pass ]] && break
	sleep 0.1
done

expect_eq "mx host A over c-ares: pass" "pass" "$(spf --ip 192.0.2.1 --helo h --mail-from a@spf.test)"
expect_eq "mx host AAAA: pass" "pass" "$(spf --ip 2001:db8::2 --helo h --mail-from a@spf.test)"
expect_eq "include of a record split in two strings: pass" "pass" \
	"$(spf --ip 198.51.100.7 --helo h --mail-from a@spf.test)"
expect_eq "ptr validated through PTR then A: pass" "pass" \
	"$(spf --ip 203.0.113.5 --helo h --mail-from a@spf.test)"
expect_eq "fail with exp= fetched over DNS" \
	"$(printf 'fail\nexplanation: 198.18.0.9 is not a mail server of spf.test')" \
	"$(spf --ip 198.18.0.9 --helo h --mail-from a@spf.test)"
expect_eq "two v=spf1 records: permerror" "permerror" "$(spf --ip 192.0.2.1 --helo h --mail-from a@two.spf.test)"
expect_eq "NXDOMAIN: none" "none" "$(spf --ip 192.0.2.1 --helo h --mail-from a@nothere.spf.test)"
expect_eq "REFUSED in an include: temperror" "temperror" \
	"$(spf --ip 192.0.2.1 --helo h --mail-from a@refuse.spf.test)"
tap_done
