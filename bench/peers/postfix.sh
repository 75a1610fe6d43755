#!/usr/bin/env bash
# bench/peers/postfix.sh [--quick|--smoke] [--starttls] — authgate beside
# the stack an operator would otherwise deploy (Postfix + OpenDKIM milter +
# policyd-spf, bench/peers/stack.sh), in one run, under the same load: the
# same bench/loadgen and corpus (bench/corpus.py, round-robin, one message
# in eight tampered), PIPELINING, the same DNS (one unbound on the
# namespace's loopback serving the corpus zone), the same certificate. Each
# server is idle while the other is measured.
#
# Each measurement starts with a warm-up: caches fill, and Postfix starts
# an smtpd and a policyd-spf for every concurrent session (postfix_warm). For
# Postfix it ends when its queue is empty, so the delivery into its Maildir
# (authgate's spool already is one) counts in its CPU. CPU per message is
# the server's user+system time (all its processes) over the measured load;
# unbound's is reported apart.
#
# Plain SMTP, and in the full run (no option) STARTTLS as well; --starttls
# runs only that. One table and one JSON line {"bench":"postfix_peer", ...}
# per mode (bench/peers/combine.py).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/bench/peers/stack.sh"
. "$top/tests/lib/daemon.sh" # wait_port
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
export BUILD
skipped() { echo "{\"bench\":\"postfix_peer\",\"skipped\":\"$1\"}"; exit 0; }
for tool in postfix opendkim policyd-spf unbound; do
	command -v $tool >/dev/null || skipped "$tool is not installed (make deps)"
done
stack_enter_namespace "$0" "$@" || skipped "needs root and unshare (network namespace)"

sessions=50 messages=48 warm=4 modes="plain starttls"
for a in "$@"; do
	case $a in
	--quick) sessions=20 messages=24 warm=4 modes=plain ;;
	--smoke) sessions=2 messages=12 warm=1 modes=plain ;;
	--starttls) modes=starttls ;;
	esac
done
corpus=$BUILD/corpus/seed-1
[ -f "$corpus/MANIFEST" ] || /usr/bin/python3 "$top/bench/corpus.py" "$corpus" --seed 1 || exit 1
for f in "$BUILD/authgate" "$BUILD/bench/loadgen"; do
	[ -x "$f" ] || { echo "postfix peer: build $f first" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/authgate-peer.XXXXXX)
agpid=
cleanup() {
	[ -n "$agpid" ] && stack_kill "$agpid"
	stack_stop
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
stack_namespace_setup "$tmp" || exit 1
stack_unbound "$tmp" "$corpus/zone" || { cat "$tmp/unbound.log" >&2; exit 1; }
stack_cert "$tmp" || exit 1
hz=$(getconf CLK_TCK)

json_get() { sed -n "s/.*\"$2\":\([0-9.]*\).*/\1/p" "$1" | tail -1; }

load() { # PORT MESSAGES MODE [loadgen options]
	local port=$1 m=$2 mode=$3; shift 3
	"$BUILD/bench/loadgen" --server "127.0.0.1:$port" --corpus "$corpus" --sessions "$sessions" \
		--messages "$m" --pipelining --helo mail.corpus.example \
		$([ "$mode" = starttls ] && echo --starttls) "$@"
}

# Postfix is warm when it has an smtpd, and each smtpd its policyd-spf, for
# every concurrent session: its master starts them one by one as sessions
# wait, and a Python start costs about half a second of CPU. Without this
# the measured load would pay for them (a third of its CPU at 50 sessions).
postfix_warm() {
	[ "$(pgrep -c -x smtpd)" -ge "$sessions" ] &&
		[ "$(pgrep -c -f '^/usr/bin/python3 /usr/bin/policyd-spf')" -ge "$sessions" ]
}
always_warm() { true; }

# measure NAME MODE PORT TICKS_FN WARM_FN [DRAIN_FN]: warm up (rounds of a
# short load until WARM_FN, for 90 s at most: Postfix's pool grows by a few
# processes a round), then the measured load; $tmp/NAME-MODE.out gets
# loadgen's output and a line of our figures.
measure() {
	local name=$1 mode=$2 port=$3 ticks=$4 warm_fn=$5 drain=${6:-} out=$tmp/$1-$2.out
	local t0 t1 u0 u1 w0 w1 before=0 round=0 start=$SECONDS
	while [ $((SECONDS - start)) -lt 90 ]; do
		round=$((round + 1))
		load "$port" "$warm" "$mode" --json >"$out.warm" || { cat "$out.warm" >&2; return 1; }
		if [ -n "$drain" ]; then # the warm-up's mail delivered, the queue empty
			$drain 0 60 || { echo "$name: warm-up not delivered" >&2; return 1; }
			before=$(($(find "$stack_dir/mail/new" -type f | wc -l) + 0))
		fi
		$warm_fn && break
	done
	$warm_fn || echo "$name: still starting processes after $round warm-up rounds ($(pgrep -c -x smtpd) smtpd)"
	t0=$($ticks) u0=$(stack_tree_ticks "$stack_unbound_pid") w0=$(date +%s.%N)
	load "$port" "$messages" "$mode" --json >"$out" || { cat "$out" >&2; return 1; }
	if [ -n "$drain" ]; then
		$drain $((before + $(json_get "$out" accepted))) 120 || { echo "$name: queue not drained" >&2; return 1; }
	fi
	t1=$($ticks) u1=$(stack_tree_ticks "$stack_unbound_pid") w1=$(date +%s.%N)
	grep -v '^{' "$out" | sed "s/^/$name: /"
	echo "$name: measured after $round warm-up round(s) of $sessions x $warm"
	awk -v t=$((t1 - t0)) -v u=$((u1 - u0)) -v w0="$w0" -v w1="$w1" -v hz="$hz" -v r="$round" \
		'BEGIN { printf "{\"cpu_s\":%.3f,\"dns_cpu_s\":%.3f,\"until_delivered_s\":%.3f,\"warmup_rounds\":%d}\n", t / hz, u / hz, w1 - w0, r }' >>"$out"
}

# authgate: 2 workers, fsync on, DNS from the same unbound (no overlay).
agport=2525 pfport=2526 # the namespace is ours: nothing else listens
printf '%s\n' "listen = 127.0.0.1:$agport" "hostname = mx.corpus.test" "spool = $tmp/spool" \
	"dns.servers = 127.0.0.1:53" "xdp.interface = none" "bpf.verdicts = no" "workers = 2" \
	"tls.cert = $tmp/cert.pem" "tls.key = $tmp/key.pem" >"$tmp/authgate.conf"
"$BUILD/authgate" serve -c "$tmp/authgate.conf" 2>"$tmp/authgate.log" &
agpid=$!
ag_ticks() { awk '{ print $14 + $15 }' "/proc/$agpid/stat"; }
stack_postfix "$tmp" "$pfport" || exit 1
wait_port "$agport" || echo "authgate is not listening on $agport" >&2

for mode in $modes; do
	measure authgate "$mode" "$agport" ag_ticks always_warm || { tail -5 "$tmp/authgate.log" >&2; exit 1; }
	measure postfix "$mode" "$pfport" stack_ticks postfix_warm stack_wait_drained ||
		{ tail -20 "$tmp/maillog" >&2; exit 1; }
	/usr/bin/python3 "$top/bench/peers/combine.py" "$tmp" "$mode" "$sessions" "$messages" || exit 1
done
