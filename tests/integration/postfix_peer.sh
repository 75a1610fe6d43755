#!/usr/bin/env bash
# Integration: the Postfix stack the benchmark measures authgate against
# (bench/peers/stack.sh: Postfix + OpenDKIM milter + policyd-spf, its own
# unbound, inside namespaces of its own) does the work it is said to do.
# bench/loadgen sends every message of a fresh corpus once to it and to
# authgate; each reply must be the one the corpus MANIFEST predicts (a
# tampered message is refused, the rest accepted), the accepted ones must
# arrive in the Maildir with both checks' results, an SPF fail must be
# refused by the policy service, and STARTTLS must work on both.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/bench/peers/stack.sh"
. "$top/tests/lib/daemon.sh" # wait_port, wait_log
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$top/$BUILD ;; esac
export BUILD
AUTHGATE=${AUTHGATE:-$BUILD/asan/authgate}
LOADGEN=$BUILD/bench/loadgen
skip_all() { skip "postfix peer stack" "$1"; tap_done; exit 0; }
for tool in postfix opendkim policyd-spf unbound; do
	command -v $tool >/dev/null || skip_all "$tool is not installed (make deps)"
done
[ -x "$LOADGEN" ] || skip_all "$LOADGEN is not built"
stack_enter_namespace "$0" "$@" || skip_all "needs root and unshare (network namespace)"

tmp=$(mktemp -d /tmp/authgate-peer-test.XXXXXX)
agpid=
trap '[ -n "$agpid" ] && stack_kill "$agpid"; stack_stop; rm -rf "$tmp"' EXIT
corpus=$tmp/corpus
/usr/bin/python3 "$top/bench/corpus.py" "$corpus" --seed 5 --count 8 || { not_ok "corpus.py"; tap_done; exit; }
echo 'spf-fail.corpus.example. TXT "v=spf1 -all"' >>"$corpus/zone"
passes=$(grep -c ' pass$' "$corpus/MANIFEST") fails=$(grep -c ' fail$' "$corpus/MANIFEST")
total=$((passes + fails))

stack_namespace_setup "$tmp" || { not_ok "namespace setup"; tap_done; exit; }
expect_eq "the namespace has lo and nothing else" "lo" "$(ip -o link | awk -F': ' '{ print $2 }')"
check "unbound serves the corpus zone on the namespace's 127.0.0.1:53" stack_unbound "$tmp" "$corpus/zone"
stack_cert "$tmp"
check "Postfix, OpenDKIM and policyd-spf start" stack_postfix "$tmp" 2526
printf '%s\n' "listen = 127.0.0.1:2525" "hostname = mx.corpus.test" "spool = $tmp/spool" \
	"dns.servers = 127.0.0.1:53" "xdp.interface = none" "bpf.verdicts = no" "workers = 2" \
	"tls.cert = $tmp/cert.pem" "tls.key = $tmp/key.pem" >"$tmp/authgate.conf"
"$AUTHGATE" serve -c "$tmp/authgate.conf" 2>"$tmp/authgate.log" &
agpid=$!

# Every corpus message once: the reply must be the one the MANIFEST says.
# A third argument, --pipeline-next, sends each transaction's envelope in
# the same write as the message before it (RFC 2920 section 3.1).
send_corpus() { # NAME PORT [--pipeline-next]
	timeout 120 "$LOADGEN" --server "127.0.0.1:$2" --corpus "$corpus" --sessions 2 --messages $((total / 2)) \
		"${3:---pipelining}" --helo mail.corpus.example --replies "$tmp/$1.replies" --json >"$tmp/$1.out" 2>&1
	local wrong
	wrong=$(awk 'NR == FNR { want[$1] = ($3 == "pass") ? "1 0 0" : "0 1 0"; next }
		{ got = $2 " " $3 " " $4; if (got != want[$1]) print $1 ": got " got ", want " want[$1] }' \
		"$corpus/MANIFEST" "$tmp/$1.replies")
	expect_eq "$1: each of $total messages gets the reply its manifest predicts ($passes accepted, $fails refused)" "" "$wrong"
	expect_eq "$1: loadgen counts" "$passes $fails 0 0" \
		"$(sed -n 's/.*"accepted":\([0-9]*\),"rejected":\([0-9]*\),"tempfailed":\([0-9]*\),"errors":\([0-9]*\).*/\1 \2 \3 \4/p' "$tmp/$1.out")"
	[ "${3:-}" != --pipeline-next ] || expect_eq "$1: loadgen sent each envelope with the message before it" \
		1 "$(grep -c '"pipeline_next":true' "$tmp/$1.out")"
}
wait_port 2525
send_corpus authgate 2525
send_corpus postfix 2526
# Postfix's answers show the client's pipelining is one a real server
# takes; authgate's, that it holds the next envelope's replies behind the
# message's final reply, a refusal at end of data included.
send_corpus authgate-next 2525 --pipeline-next
send_corpus postfix-next 2526 --pipeline-next
expect_eq "authgate spooled the $passes accepted messages twice" $((2 * passes)) \
	"$(wait_files "$tmp/spool/new" $((2 * passes)))"

check "Postfix delivers the $passes accepted messages (twice) and empties its queue" \
	stack_wait_drained $((2 * passes)) 30
delivered=$(find "$stack_dir/mail/new" -type f | wc -l)
expect_eq "exactly $((2 * passes)) in the Maildir" $((2 * passes)) "$delivered"
with_both=$(grep -l -E '^Received-SPF: Pass ' "$stack_dir"/mail/new/* 2>/dev/null |
	xargs -r grep -l -E 'dkim=pass .*header.d=corpus.example' | wc -l)
expect_eq "each carries Received-SPF: Pass and OpenDKIM's dkim=pass" $((2 * passes)) "$with_both"
tampered=$(grep -l -E '^Message-ID: <7\.[0-9]+@corpus.example>' "$stack_dir"/mail/new/* 2>/dev/null | wc -l)
expect_eq "no tampered message (the eighth of each set) was delivered" 0 "$tampered"
# maillog is written by Postfix's postlogd, another process: it may lag.
in_maillog() { wait_log "$stack_dir/maillog" "$1" 1; }
in_maillog 'milter-reject: END-OF-MESSAGE .* bad DKIM signature' &&
	ok "the refusals are OpenDKIM's (On-BadSignature reject)" || not_ok "OpenDKIM rejected" "$(tail -5 "$stack_dir/maillog")"

# SPF: policyd-spf refuses a sender whose domain does not allow loopback.
one=$(awk '$3 == "pass" { print $1; exit }' "$corpus/MANIFEST")
"$LOADGEN" --server 127.0.0.1:2526 --message "$corpus/$one" --from x@spf-fail.corpus.example \
	--to replies@mx.corpus.test --sessions 1 --messages 1 --helo mail.corpus.example --json >"$tmp/spf.out" 2>&1
case $(grep '^{' "$tmp/spf.out") in
*'"accepted":0,"rejected":1,'*) ok "an SPF fail is refused" ;;
*) not_ok "an SPF fail is refused" "$(cat "$tmp/spf.out")" ;;
esac
in_maillog 'reject: RCPT from .*SPF fail' &&
	ok "by policyd-spf at RCPT" || not_ok "policyd-spf refused at RCPT" "$(grep reject "$stack_dir/maillog" | tail -3)"

# STARTTLS on both, through loadgen's TLS client.
for side in authgate:2525 postfix:2526; do
	"$LOADGEN" --server "127.0.0.1:${side#*:}" --message "$corpus/$one" --sessions 2 --messages 2 \
		--from alice@corpus.example --to replies@mx.corpus.test \
		--starttls --pipelining --helo mail.corpus.example --json >"$tmp/tls.out" 2>&1
	case $(grep '^{' "$tmp/tls.out") in
	*'"tls_handshakes":2,"accepted":4,"rejected":0,"tempfailed":0,"errors":0'*) ok "${side%:*}: STARTTLS, 2 sessions x 2 messages" ;;
	*) not_ok "${side%:*}: STARTTLS" "$(cat "$tmp/tls.out")" ;;
	esac
done
tap_done
