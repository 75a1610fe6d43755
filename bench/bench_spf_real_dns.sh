#!/usr/bin/env bash
# bench/bench_spf_real_dns.sh [--quick|--smoke] — SPF with every lookup sent to a
# real DNS server on loopback (bench/spf_unbound.sh: unbound, TTL 0, in a
# network namespace of its own): libspf2 one blocking check at a time as
# it works, then authgate with one check in flight and with many, in the
# same run against the same server. One JSON line for bench/run.sh.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
secs=3 many=256 copies=1000
case ${1:-} in --quick) secs=1 many=64 copies=300 ;; --smoke) secs=0.3 many=16 copies=50 ;; esac
command -v unbound >/dev/null || { echo '{"bench":"spf_real_dns","skipped":"unbound is not installed"}'; exit 0; }
out=$(COPIES=$copies BUILD=$BUILD bash "$top/bench/spf_unbound.sh" "$secs" 1 "$many" 2>&1) || {
	echo "$out" >&2
	exit 1
}
echo "$out" | grep -E '^(==|libspf2|authgate against|unbound CPU|queries that)'
# The bench's output reaches Python through the environment, never as
# source text.
SPF_UNBOUND_OUT=$out /usr/bin/python3 - "$many" <<'PY'
import json, os, sys
many = int(sys.argv[1])
runs = [json.loads(l) for l in os.environ["SPF_UNBOUND_OUT"].splitlines() if l.startswith("{")]
spf2 = [r for r in runs if r["bench"] == "spf_real_dns_libspf2"]
ours = {r["inflight"]: r for r in runs if r["bench"] == "spf_real_dns"}
if 1 not in ours or not ours.get(many) and not [k for k in ours if k > 1]:
    sys.exit("bench_spf_real_dns: authgate did not report")
top = ours.get(many) or ours[max(ours)]
doc = {"bench": "spf_real_dns", "server": "unbound", "data_copies": top["data_copies"],
       "inflight": top["inflight"], "authgate_per_s": top["authgate_per_s"],
       "authgate_cpu_us_per_eval": top["cpu_us_per_eval"],
       "authgate_serial_per_s": ours[1]["authgate_per_s"],
       "authgate_serial_cpu_us_per_eval": ours[1]["cpu_us_per_eval"]}
if spf2:
    doc.update(libspf2_per_s=spf2[0]["libspf2_per_s"], libspf2_cpu_us_per_eval=spf2[0]["cpu_us_per_eval"],
               authgate_vs_libspf2=round(top["authgate_per_s"] / spf2[0]["libspf2_per_s"], 2))
print(json.dumps(doc, separators=(",", ":")))
PY
