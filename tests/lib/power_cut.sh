# tests/lib/power_cut.sh — what the power-cut suites (power_loss.sh,
# power_loss_disk.sh) share. Source it after daemon.sh, with $top, $tmp,
# $port and $PY set.
#   power_zone           $tmp/zone: SPF for 127.0.0.0/8 and the DKIM key of
#                        tests/lib/dkim_fixture.py
#   power_conf LINES...  $tmp/authgate.conf: the daemon on $port, offline,
#                        2 workers, then LINES
#   send_until S M N     S sessions of M messages each
#                        (tests/lib/acked_send.py) in the background, each
#                        250's queue name and tag in $tmp/acked; returns
#                        once N are acknowledged (30 s at most), the
#                        client's pid in $client. With send_kind=quarantine,
#                        the messages sent fail their DKIM check
#   recover WHAT         a start with $tmp/authgate.conf (log
#                        $tmp/serve2.log) publishes what the journal the
#                        cut left holds, and stops with status 0; what it
#                        published in $published. Otherwise says not ok
#                        and returns 1
#   expect_durable WHAT DIR NOTE
#                        ok if every acknowledged message is whole in DIR
#                        and nothing there is partial
#                        (tests/lib/check_durable.py), else not ok with
#                        what the image holds of the messages reported
power_zone() {
	$PY - "$top/tests/lib" "$tmp" <<'PY'
import sys
sys.path.insert(0, sys.argv[1])
import dkim_fixture as fx
open(sys.argv[2] + '/zone', 'w').write(f'example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"\n{fx.KEY_RR}\n')
PY
}

power_conf() {
	{
		echo "listen = 127.0.0.1:$port"
		echo "hostname = mx.test"
		echo "dns.zone = $tmp/zone"
		echo "dns.servers = 127.0.0.1:9"
		echo "xdp.interface = none"
		echo "workers = 2"
		local l
		for l in "$@"; do echo "$l"; done
	} >"$tmp/authgate.conf"
}

client= send_kind=
send_until() {
	# Emptied here, not by the client's redirection alone: that happens in
	# the background, and the count below would first read the last run's.
	: >"$tmp/acked"
	$PY "$top/tests/lib/acked_send.py" "$port" "$1" "$2" ${send_kind:+"$send_kind"} >"$tmp/acked" 2>"$tmp/send.err" &
	client=$!
	local i
	for i in $(seq 600); do
		[ "$(wc -l <"$tmp/acked")" -ge "$3" ] && break
		sleep 0.05
	done
}

published=
recover() {
	: >"$tmp/serve2.log"
	if ! daemon_start "$tmp/authgate.conf" "$tmp/serve2.log"; then
		not_ok "$1: a start with the journal the cut left" "$(tail -5 "$tmp/serve2.log")"
		daemon_kill
		return 1
	fi
	daemon_stop
	if [ "$daemon_status" != 0 ]; then
		not_ok "$1: the start with the journal the cut left exits 0" \
			"status $daemon_status; $(tail -5 "$tmp/serve2.log")"
		return 1
	fi
	published=$(grep -o '[0-9]* published now' "$tmp/serve2.log" || echo 'nothing to publish')
}

expect_durable() {
	local out
	if out=$($PY "$top/tests/lib/check_durable.py" "$2" "$tmp/acked"); then
		ok "$1: after the power cut, $out ($3)"
	else
		not_ok "$1: every acknowledged message durable and whole" \
			"$out; $3; $(tail -3 "$tmp/send.err")$(durable_evidence "$2" "$out")"
	fi
}

# What a failure leaves to go on (a loss seen once in CI and not again):
# for each name reported, what the cut image holds under it (absent, its
# size, how many of its bytes are zero), what tmp/ holds, and e2fsck's
# last words.
durable_evidence() { # DIR CHECK_OUTPUT
	local name
	for name in $(sed -n 's/.*missing or not whole (\([^)]*\)).*/\1/p' <<<"$2"); do
		printf '\n%s: ' "$name"
		if [ -f "$1/$name" ]; then
			printf '%s bytes, %s zero' "$(stat -c %s "$1/$name")" "$(tr -cd '\0' <"$1/$name" | wc -c)"
		else
			printf 'not in new/'
		fi
	done
	printf '\ntmp/: %s\ne2fsck: %s' "$(ls "$1/../tmp" 2>&1 | head -5 | tr '\n' ' ')" \
		"$(tail -4 "$tmp/e2fsck.log" 2>/dev/null | tr '\n' ' ')"
}
