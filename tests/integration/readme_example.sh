#!/usr/bin/env bash
# The README's example, as written: the daemon on etc/authgate.conf (moved
# to a free port and a scratch spool) accepts etc/demo.eml from swaks, and
# `authgate verify` gives the same verdict. Only the demo zone overlay is
# consulted (every name the example needs is in it): the run is offline,
# the resolver behind the overlay pointed at a dead server (dns.servers =
# 127.0.0.1:9 in place of /etc/resolv.conf), and a sender whose domain is
# not in the demo zone gets 451 4.7.24 (no DNS answer from anywhere else).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
private_mounts "$@"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
command -v swaks >/dev/null || { skip "README example" "swaks is not installed"; tap_done; exit; }
tmp=$(mktemp -d /tmp/authgate-readme.XXXXXX)
pid= ns= bpffs=
cleanup() {
	[ -n "$pid" ] && kill -9 $pid 2>/dev/null
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	[ -n "$bpffs" ] && umount "$bpffs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sed -e "s|^listen = .*|listen = 127.0.0.1:$port|" -e "s|^spool = .*|spool = $tmp/spool|" \
	-e "s|^dns.zone = .*|dns.zone = $top/etc/demo.zone|" -e '/^dns\.servers = /d' \
	"$top/etc/authgate.conf" >"$tmp/authgate.conf"
# Offline: the system resolver's place taken by a server that never answers
# (nothing listens on port 9), so only the demo zone can answer.
echo "dns.servers = 127.0.0.1:9" >>"$tmp/authgate.conf"
# The example attaches XDP to lo. As root, that would be the machine's own
# lo: run it in a network namespace of its own instead (its lo, its
# loopback traffic), with its maps pinned in a bpffs of its own.
# Where either cannot be had as root, the run goes without XDP.
if [ "$(id -u)" = 0 ]; then
	ip netns add "agreadme$$" 2>/dev/null && ns=agreadme$$ && ip -n "$ns" link set lo up
	mkdir -p "$tmp/bpffs" && mount -t bpf bpf "$tmp/bpffs" 2>/dev/null && bpffs=$tmp/bpffs
	if [ -n "$ns" ] && [ -n "$bpffs" ]; then
		echo "bpf.pin_dir = $bpffs/authgate" >>"$tmp/authgate.conf"
	else # and nothing pinned in the host's /sys/fs/bpf either
		sed -i 's/^xdp.interface = .*/xdp.interface = none/' "$tmp/authgate.conf"
		echo "bpf.verdicts = no" >>"$tmp/authgate.conf"
	fi
fi
pre=() # what runs a command where the daemon is
[ -n "$ns" ] && pre=(nsenter --net="/run/netns/$ns")
here() { "${pre[@]}" "$@"; }
out=$("$AUTHGATE" verify --zone "$top/etc/demo.zone" --ip 127.0.0.1 --helo mail.example.org \
	--mail-from user@example.org "$top/etc/demo.eml"); rc=$?
case "$rc|$out" in "0|"*"verdict=accept"*) ok "authgate verify accepts the demo message" ;; *) not_ok "authgate verify on the demo" "$rc: $out" ;; esac
(cd "$top" && exec "${pre[@]}" "$AUTHGATE" serve -c "$tmp/authgate.conf") >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 300); do
	here /usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2).close()" 2>/dev/null && break
	sleep 0.1
done
reply=$(here swaks --server "127.0.0.1:$port" --from user@example.org --to reply@localhost \
	--helo mail.example.org --data "@$top/etc/demo.eml" 2>&1 | grep -E '^<(-  |\*\* )[0-9]' |
	grep -v -E '^<-  (220|221|250-|250 (2\.1|[A-Za-z])|354)' | tail -1)
case $reply in "<-  250 2.0.0 queued as "*) ok "swaks as in the README: $reply" ;; *) not_ok "swaks as in the README" "$reply $(cat "$tmp/log")" ;; esac
f=$(ls "$tmp/spool/new" 2>/dev/null | head -1)
[ -n "$f" ] && grep -q '^Authentication-Results: mx.authgate.test; spf=pass' "$tmp/spool/new/$f" \
	&& ok "the message is in spool/new with its Authentication-Results" || not_ok "spooled message" "$(ls -R "$tmp/spool")"
[ -n "$f" ] && grep -q '^Received-SPF: pass' "$tmp/spool/new/$f" \
	&& ok "... and its Received-SPF: pass, as the README says" || not_ok "Received-SPF in the spooled message" "$(head -5 "$tmp/spool/new/${f:-none}" 2>&1)"
# Nothing but the demo zone answers: a sender (envelope and From) whose
# domain the zone does not hold gets no DNS answer at all, so SPF and
# Sender ID are temperror and the reply is 451 4.7.24 (with an answer,
# NXDOMAIN say, it would be 550 5.7.26, nothing passed).
sed 's/user@example\.org/user@offline.invalid/' "$top/etc/demo.eml" >"$tmp/offline.eml"
reply=$(here swaks --server "127.0.0.1:$port" --from user@offline.invalid --to reply@localhost \
	--helo mail.example.org --data "@$tmp/offline.eml" 2>&1 | grep -E '^<(-  |\*\* )[0-9]' | grep -v -E '^<-  (220|221|250|354)' | head -1)
case $reply in "<** 451 4.7.24 "*) ok "offline: a name outside the demo zone is a DNS temporary error ($reply)" ;;
*) not_ok "offline: a name outside the demo zone" "expected <** 451 4.7.24 ..., got: $reply" ;; esac
if [ -n "$ns" ] && [ -n "$bpffs" ]; then
	if grep -q 'XDP on lo (.* mode)' "$tmp/log"; then
		ok "XDP on the namespace's lo, as the example configures"
	elif grep -q 'running without XDP' "$tmp/log"; then
		skip "XDP on lo" "$(grep -m1 'running without XDP' "$tmp/log")"
	else
		not_ok "XDP on lo" "$(grep -i xdp "$tmp/log")"
	fi
fi
kill -TERM $pid; wait $pid; rc=$?; pid=
expect_eq "the daemon stops cleanly" 0 "$rc"
tap_done
