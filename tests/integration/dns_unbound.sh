#!/usr/bin/env bash
# Integration: the c-ares backend against a real DNS server (unbound from
# Debian) that this test starts on 127.0.0.1 with a generated config and a
# free port. Nothing is sent anywhere but that server.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/unbound.sh"
. "$top/tests/lib/daemon.sh" # silent_udp
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

if ! command -v unbound >/dev/null || ! command -v unbound-control >/dev/null; then
	skip "dns against unbound" "unbound is not installed (make deps)"
	tap_done; exit
fi

tmp=$(mktemp -d /tmp/authgate-unbound.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

port=$(unbound_port)

# A TXT record of four 240-octet strings (960 octets, over 512 and under
# the EDNS size) and one of ten (2,400 octets, over the 1232 EDNS size).
txt_strings() { $PY -c "import sys; print(' '.join('\"' + ('%03d' % i) * 80 + '\"' for i in range(int(sys.argv[1]))))" "$1"; }
big4=$(txt_strings 4)
big10=$(txt_strings 10)

cat >"$tmp/missing-soa.zone" <<'EOF'
x.servfail.test. 300 IN A 127.0.0.1
EOF
{
	unbound_server_head "$tmp" "$port"
	cat <<EOF
  extended-statistics: yes
  local-zone: "test." nodefault
  local-zone: "authgate.test." static
  local-data: "authgate.test. 300 IN SOA ns.authgate.test. h.authgate.test. 1 3600 600 86400 120"
  local-data: 'multi.authgate.test. 300 IN TXT "first string" "second string"'
  local-data: 'esc.authgate.test. 300 IN TXT "quote\" backslash\\\\ end"'
  local-data: 'big.authgate.test. 300 IN TXT $big4'
  local-data: 'huge.authgate.test. 300 IN TXT $big10'
  local-data: "authgate.test. 300 IN MX 10 mail.authgate.test."
  local-data: "authgate.test. 300 IN MX 20 backup.authgate.test."
  local-data: "mail.authgate.test. 300 IN A 127.0.0.1"
  local-data: "mail.authgate.test. 300 IN AAAA ::1"
  local-data: "www.authgate.test. 300 IN CNAME mail.authgate.test."
  local-zone: "2.0.192.in-addr.arpa." static
  local-data-ptr: "192.0.2.7 mail.authgate.test."
  local-zone: "refused.test." always_refuse
  local-zone: "drop.test." deny
# A zone without an SOA: unbound loads it but can only answer SERVFAIL for
# names and types it does not hold (no SOA to build a negative answer).
auth-zone:
  name: "servfail.test."
  zonefile: "$tmp/missing-soa.zone"
  for-upstream: yes
  for-downstream: yes
  fallback-enabled: no
remote-control:
  control-enable: yes
  control-interface: "$tmp/unbound.ctl"
  control-use-cert: no
EOF
} >"$tmp/unbound.conf"

if ! unbound-checkconf "$tmp/unbound.conf" >"$tmp/check.log" 2>&1; then
	not_ok "unbound config is valid" "$(cat "$tmp/check.log")"
	tap_done; exit
fi
unbound -c "$tmp/unbound.conf" >"$tmp/unbound.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
	unbound-control -c "$tmp/unbound.conf" status >/dev/null 2>&1 && break
	sleep 0.1
done
if ! unbound-control -c "$tmp/unbound.conf" status >/dev/null 2>&1; then
	not_ok "unbound starts" "$(cat "$tmp/unbound.log")"
	tap_done; exit
fi
ok "unbound started on 127.0.0.1:$port"

srv=(--server "127.0.0.1:$port")
# lookup NAME EXPECTED_EXIT EXPECTED_OUTPUT ARGS...
lookup() {
	local name=$1 want_rc=$2 want=$3; shift 3
	local out rc
	out=$("$AUTHGATE" lookup "$@" 2>&1); rc=$?
	if [[ $rc -eq $want_rc && $out == "$want" ]]; then ok "$name"; else
		not_ok "$name" "$(printf 'want exit %s: %s\n got exit %s: %s' "$want_rc" "$want" "$rc" "$out")"; fi
}
tcp_queries() {
	unbound-control -c "$tmp/unbound.conf" stats_noreset | sed -n 's/^num.query.tcp=//p'
}

lookup "multi-string TXT kept apart" 0 '"first string" "second string"' "${srv[@]}" TXT multi.authgate.test
lookup "TXT escapes printed" 0 '"quote\" backslash\\ end"' "${srv[@]}" TXT esc.authgate.test
lookup "MX as PREF HOST" 0 $'10 mail.authgate.test\n20 backup.authgate.test' "${srv[@]}" MX authgate.test
lookup "A" 0 "127.0.0.1" "${srv[@]}" A mail.authgate.test
lookup "AAAA" 0 "::1" "${srv[@]}" AAAA mail.authgate.test
lookup "CNAME followed" 0 "127.0.0.1" "${srv[@]}" A www.authgate.test
lookup "PTR" 0 "mail.authgate.test" "${srv[@]}" PTR 7.2.0.192.in-addr.arpa
lookup "NXDOMAIN" 1 "NXDOMAIN" "${srv[@]}" TXT nothere.authgate.test
lookup "NODATA is not NXDOMAIN" 1 "NODATA" "${srv[@]}" TXT mail.authgate.test
lookup "SERVFAIL is a temporary failure" 75 "TEMPFAIL (servfail)" "${srv[@]}" A y.servfail.test
lookup "REFUSED is a temporary failure" 75 "TEMPFAIL (refused)" "${srv[@]}" A x.refused.test
lookup "a server that drops the query times out" 75 "TEMPFAIL (timeout)" \
	"${srv[@]}" --timeout 300 --tries 1 A x.drop.test

before=$(tcp_queries)
lookup "960-octet TXT over plain UDP (512) comes back whole" 0 "$big4" \
	"${srv[@]}" --no-edns TXT big.authgate.test
after=$(tcp_queries)
if [[ -n $before && -n $after && $after -gt $before ]]; then ok "... and was fetched over TCP after truncation ($before -> $after TCP queries)"
else not_ok "... and was fetched over TCP after truncation" "num.query.tcp $before -> $after"; fi

before=$after
lookup "2,400-octet TXT over the EDNS size comes back whole" 0 "$big10" "${srv[@]}" TXT huge.authgate.test
after=$(tcp_queries)
if [[ $after -gt $before ]]; then ok "... and was fetched over TCP ($before -> $after)"
else not_ok "... and was fetched over TCP" "num.query.tcp $before -> $after"; fi

# A port where nothing answers.
silent_udp
pids+=("$silent_pid")
silent=$silent_port
start=$(date +%s%N)
lookup "silent port times out" 75 "TEMPFAIL (timeout)" --server "127.0.0.1:$silent" --timeout 200 --tries 2 TXT any.authgate.test
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
if (( elapsed >= 350 && elapsed < 5000 )); then ok "timeout honoured two tries of 200 ms (${elapsed} ms)"
else not_ok "timeout honoured two tries of 200 ms" "took ${elapsed} ms"; fi

# The overlay answers what it holds; the rest goes to the server.
cat >"$tmp/overlay.zone" <<'EOF'
multi.authgate.test. 60 TXT "from the overlay"
EOF
lookup "overlay in front of the server" 0 '"from the overlay"' --zone "$tmp/overlay.zone" "${srv[@]}" TXT multi.authgate.test
lookup "names the overlay lacks go upstream" 0 "127.0.0.1" --zone "$tmp/overlay.zone" "${srv[@]}" A mail.authgate.test

out=$("$AUTHGATE" lookup --server not-an-ip A mail.authgate.test 2>&1); rc=$?
if [[ $rc -eq 2 && $out == "authgate lookup: c-ares: "*"server list not-an-ip" ]]; then ok "bad server list is a one-line usage error"
else not_ok "bad server list is a one-line usage error" "exit $rc: $out"; fi
tap_done
