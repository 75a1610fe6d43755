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
#                        client's pid in $client
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

client=
send_until() {
	$PY "$top/tests/lib/acked_send.py" "$port" "$1" "$2" >"$tmp/acked" 2>"$tmp/send.err" &
	client=$!
	local i
	for i in $(seq 600); do
		[ "$(wc -l <"$tmp/acked")" -ge "$3" ] && break
		sleep 0.05
	done
}
