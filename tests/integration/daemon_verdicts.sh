#!/usr/bin/env bash
# Integration: the verdict counters (userspace/verdict_stats.c). A real
# `authgate serve` with XDP off pins <bpf.pin_dir>/verdicts on a bpffs the
# test mounts itself; real clients make an accepted message, a refusal at
# MAIL (SPF fail), an abandoned transaction (RSET) and a message whose
# body changed after signing (DKIM fail). Then:
#   - `authgate verdicts --json` and `bpftool map dump` (summed over the
#     workers' slots) both equal the counts made from the daemon's own
#     JSON log lines: every verdict and every check result;
#   - a second daemon on the same pin dir goes on counting (the pin is
#     reused, not replaced), while a pin of another layout is replaced, and
#     the CLI will not read one;
#   - bpf.verdicts = no pins nothing and says so;
#   - `authgate verdicts` without the pin exits 1 and says why.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
private_mounts "$@"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

# Usage errors need no privileges: one line, exit 2.
for args in "--bogus" "extra"; do
	out=$("$AUTHGATE" verdicts $args 2>&1); rc=$?
	[ $rc = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] && [[ $out == "authgate verdicts: "* ]] \
		&& ok "authgate verdicts $args: a usage error, exit 2" || not_ok "verdicts $args" "exit $rc: $out"
done
"$AUTHGATE" verdicts --help | grep -q '^usage: authgate verdicts \[--pin-dir DIR\] \[--json\]' \
	&& ok "authgate verdicts --help" || not_ok "authgate verdicts --help" "$("$AUTHGATE" verdicts --help 2>&1 | head -3)"

if [ "$(id -u)" != 0 ] || ! command -v bpftool >/dev/null; then
	skip "verdict counters" "needs root and bpftool"
	tap_done
	exit
fi
tmp=$(mktemp -d /tmp/authgate-verdicts.XXXXXX)
cleanup() {
	daemon_kill
	umount "$tmp/bpffs" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
if ! { mkdir -p "$tmp/bpffs" && mount -t bpf bpf "$tmp/bpffs"; }; then
	skip "verdict counters" "cannot mount a bpffs"
	tap_done
	exit
fi
pins=$tmp/bpffs/authgate
port=$(free_port)
export PYTHONPATH=$top/tests/lib

$PY - "$tmp" <<'EOF'
import sys
import dkim_fixture as fx
tmp = sys.argv[1]
open(tmp + '/zone', 'w').write(f'''$TTL 300
example.org. TXT "v=spf1 ip4:127.0.0.0/8 -all"
{fx.KEY_RR}
fail.example. TXT "v=spf1 -all"
''')
msg = b"From: Alice <alice@example.org>\r\nTo: bob@example.net\r\nSubject: counted\r\n\r\nHello.\r\n"
open(tmp + '/good.eml', 'wb').write(fx.signature(msg) + msg)
open(tmp + '/tampered.eml', 'wb').write(fx.signature(msg) + msg.replace(b"Hello", b"Hellx"))
EOF
printf '%s\n' "listen = 127.0.0.1:$port" "hostname = mx.test" "spool = $tmp/spool" \
	"dns.zone = $tmp/zone" "dns.servers = 127.0.0.1:9" "xdp.interface = none" "workers = 2" \
	"bpf.pin_dir = $pins" "log.format = json" >"$tmp/a.conf"

send() { # the four transactions, in one session each so both workers count
	$PY - "$port" "$tmp/good.eml" "$tmp/tampered.eml" <<'EOF'
import smtplib, sys
port, good, bad = int(sys.argv[1]), open(sys.argv[2], 'rb').read(), open(sys.argv[3], 'rb').read()
def session():
    c = smtplib.SMTP('127.0.0.1', port, local_hostname='client.example', timeout=30)
    c.ehlo()
    return c
c = session(); c.sendmail('alice@example.org', ['bob@example.net'], good); c.quit()
c = session(); c.mail('x@fail.example'); code, _ = c.rcpt('bob@example.net'); assert code == 550, code; c.quit()
c = session(); c.mail('alice@example.org'); c.rcpt('bob@example.net'); c.rset(); c.quit()
c = session(); c.mail('alice@example.org'); c.rcpt('bob@example.net')
code, _ = c.data(bad)  # the body changed after signing: DKIM fail
c.quit()
print(code)
EOF
}

# The counters from bpftool, from `authgate verdicts`, and from the log,
# as three JSON objects of the same shape; the first two are compared with
# the third.
compare() { # LABEL
	local label=$1
	bpftool -j map dump pinned "$pins/verdicts" >"$tmp/bpftool.json" 2>"$tmp/bpftool.err"
	"$AUTHGATE" verdicts --pin-dir "$pins" --json >"$tmp/verdicts.json" 2>"$tmp/verdicts.err"
	$PY - "$tmp" "$label" <<'EOF'
import json, sys
tmp, label = sys.argv[1], sys.argv[2]
RESULTS = ["none", "pass", "fail", "softfail", "neutral", "temperror", "permerror", "policy"]
VERDICTS = {"accept": "accept", "drop": "drop", "drop(discarded)": "drop_discarded",
            "drop(quarantined)": "drop_quarantined", "drop(at MAIL)": "drop_at_mail",
            "refused(size)": "refused_size", "tempfail": "tempfail",
            "tempfail(timeout)": "tempfail_timeout", "tempfail(local)": "tempfail_local",
            "abandoned": "abandoned"}
def empty():
    d = {"transactions": 0, **{v: 0 for v in VERDICTS.values()}}
    for c in ("spf", "sender_id", "dkim"):
        d[c] = {r: 0 for r in RESULTS}
    return d
want = empty()
for line in open(tmp + "/serve.log", encoding="utf-8"):
    if not line.startswith("{"):
        continue
    o = json.loads(line)
    want["transactions"] += 1
    want[VERDICTS[o["verdict"]]] += 1
    for c in ("spf", "sender_id", "dkim"):
        want[c][o[c]] += 1
got_bpftool = empty()
for slot in json.load(open(tmp + "/bpftool.json")):
    v = slot.get("formatted", slot)["value"]  # -j: raw bytes, and the BTF form beside them
    for k, n in v.items():
        if isinstance(n, dict):
            for r, m in n.items():
                got_bpftool[k][r] += m
        else:
            got_bpftool[k] += n
got_cli = json.load(open(tmp + "/verdicts.json"))
def report(name, got):
    if got == want:
        print("ok\t%s: %s equals the log (%d transactions)" % (label, name, want["transactions"]))
    else:
        diff = {k: (got.get(k), want[k]) for k in want if got.get(k) != want[k]}
        print("not_ok\t%s: %s equals the log\t(got, log): %s" % (label, name, diff))
report("bpftool map dump", got_bpftool)
report("authgate verdicts --json", got_cli)
print("%s\t%s: counts\t%d %d %d %d %d %d %d" % ("ok" if want["transactions"] else "not_ok", label,
      want["transactions"], want["accept"], want["drop"], want["drop_at_mail"], want["abandoned"],
      want["spf"]["fail"], want["dkim"]["fail"]))
EOF
}
tap_py() { # Python's "ok|not_ok<TAB>name<TAB>detail" lines in FILE as TAP
	local st name detail
	while IFS=$'\t' read -r st name detail; do
		case $name in *": counts") continue ;; esac
		case $st in ok) ok "$name" ;; *) not_ok "$name" "$detail" ;; esac
	done <"$1"
}
counts() { sed -n 's/^ok\t.*: counts\t//p' "$1"; } # FILE: the log's figures

# A pin of another layout (an older authgate's, say): the CLI refuses to
# read it, and the daemon replaces it. (A struct of the same size in
# another order, which bpftool cannot make, is tests/unit/test_bpf_layout.)
mkdir -p "$pins"
bpftool map create "$pins/verdicts" type array key 4 value 8 entries 64 name verdicts
out=$("$AUTHGATE" verdicts --pin-dir "$pins" 2>&1); rc=$?
expect_eq "a verdicts pin of another layout: the CLI says so, exit 1" \
	"1|authgate verdicts: $pins/verdicts: not the layout of this version (pinned by another authgate?)" "$rc|$out"

daemon_start "$tmp/a.conf" "$tmp/serve.log"
wait_log "$tmp/serve.log" "verdict counters in $pins/verdicts" 1 \
	&& ok "the daemon pins its verdict counters with XDP off" \
	|| not_ok "verdict counters pinned" "$(grep -i verdict "$tmp/serve.log")"
grep -q "bpf: $pins/verdicts has another layout; replacing the stale pin" "$tmp/serve.log" \
	&& ok "... replacing the pin of another layout, with a line that says so" \
	|| not_ok "stale verdicts pin replaced" "$(grep -i verdicts "$tmp/serve.log")"
expect_eq "accepted, refused at MAIL, abandoned, then the tampered message: 550" 550 "$(send)"
daemon_stop
expect_eq "the daemon exits 0" 0 "$daemon_status"
compare "first run" >"$tmp/cmp1"
tap_py "$tmp/cmp1"
expect_eq "first run, from the log: 4 transactions, an accept, a drop, a drop(at MAIL), an abandoned, an SPF fail, a DKIM fail" \
	"4 1 1 1 1 1 1" "$(counts "$tmp/cmp1")"

# A second daemon on the same pins: the counts go on from there.
daemon_start "$tmp/a.conf" "$tmp/serve.log"
wait_log "$tmp/serve.log" "verdict counters in $pins/verdicts" 2 || not_ok "second start: counters" "$(tail -3 "$tmp/serve.log")"
send >/dev/null
daemon_stop
expect_eq "the second daemon exits 0" 0 "$daemon_status"
compare "after a restart" >"$tmp/cmp2"
tap_py "$tmp/cmp2"
expect_eq "after a restart: the counts of both runs" "8 2 2 2 2 2 2" "$(counts "$tmp/cmp2")"

# bpf.verdicts = no: a line says so, and nothing is pinned.
echo "bpf.verdicts = no" >>"$tmp/a.conf"
sed -i "s|^bpf.pin_dir = .*|bpf.pin_dir = $tmp/bpffs/off|" "$tmp/a.conf"
daemon_start "$tmp/a.conf" "$tmp/serve.log"
daemon_stop
grep -q "verdict counters off (bpf.verdicts = no); counting only in the log" "$tmp/serve.log" && [ ! -e "$tmp/bpffs/off/verdicts" ] \
	&& [ "$daemon_status" = 0 ] && ok "bpf.verdicts = no: no pin, one line, exit 0" \
	|| not_ok "bpf.verdicts = no" "exit $daemon_status; $(ls "$tmp/bpffs/off" 2>&1); $(grep -i 'verdict counters' "$tmp/serve.log" | tail -2)"

out=$("$AUTHGATE" verdicts --pin-dir "$tmp/bpffs/nothing" 2>&1); rc=$?
case "$rc|$out" in
"1|authgate verdicts: $tmp/bpffs/nothing/verdicts: No such file or directory"*) ok "no pin: exit 1, and why" ;;
*) not_ok "authgate verdicts without a pin" "$rc|$out" ;;
esac
tap_done
