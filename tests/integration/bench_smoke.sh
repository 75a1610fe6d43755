#!/usr/bin/env bash
# A few-second smoke run of the whole benchmark harness, so it cannot rot:
# bench/run.sh with SMOKE=1 runs every benchmark and the Postfix peer; each
# must exit 0 and report, the results document must check against
# bench/results.schema.json (and broken copies of it must not), the plots
# must be PNGs, and the ratio table must be printed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
BUILD=${BUILD:-build}
shopt -s nullglob
benches=("$top/$BUILD"/bench/bench_* "$top"/bench/bench_*.sh "$top"/bench/peers/*.sh)
[ ${#benches[@]} -gt 0 ] || { skip "benchmarks" "none built"; tap_done; exit; }
tmp=$(mktemp -d /tmp/authgate-bench-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
doc=$tmp/results.json

(cd "$top" && SMOKE=1 RESULTS="$doc" BUILD=$BUILD bash bench/run.sh) >"$tmp/run.log" 2>&1
rc=$?
expect_eq "bench/run.sh (SMOKE=1) exits 0" 0 "$rc"
[ $rc -eq 0 ] || tail -30 "$tmp/run.log" | sed 's/^/# /'

# Each benchmark reported: a result of its name, not in "failed".
for b in "${benches[@]}"; do
	[ -x "$b" ] || continue
	file=$(basename "$b") name=${file#bench_}
	name=${name%.sh}
	case $b in */peers/*) name=${name}_peer ;; esac
	got=$(/usr/bin/python3 - "$doc" "$name" "$file" <<'PY' 2>&1
import json, sys
doc = json.load(open(sys.argv[1]))
mine = [r for r in doc["results"] if r.get("bench") == sys.argv[2]]
if sys.argv[3] in doc.get("failed", []):
    print("failed")
elif not mine:
    print("no result")
elif all("skipped" in r for r in mine):
    print("skipped: " + mine[0]["skipped"])
else:
    print("ok")
PY
)
	case $got in
	ok) ok "$file --smoke" ;;
	"skipped: "*) skip "$file --smoke" "${got#skipped: }" ;;
	*) not_ok "$file --smoke" "$got; $(grep -A5 "== $file" "$tmp/run.log" | head -8)" ;;
	esac
done

out=$(/usr/bin/python3 "$top/bench/check_results.py" "$doc" 2>&1)
expect_eq "the results document checks against bench/results.schema.json" "" "$out"

# The checker must catch broken documents: each variant of the real one
# below must fail, for the reason given.
/usr/bin/python3 - "$doc" "$tmp" <<'PY' >"$tmp/variants"
import copy, json, sys
doc = json.load(open(sys.argv[1]))
def first(bench):
    return next((i for i, r in enumerate(doc["results"]) if r.get("bench") == bench and "skipped" not in r), None)
def variant(name, change, complaint):
    d = copy.deepcopy(doc)
    change(d)
    path = "%s/broken-%d.json" % (sys.argv[2], variant.n)
    variant.n += 1
    json.dump(d, open(path, "w"))
    print("%s\t%s\t%s" % (path, name, complaint))
variant.n = 0
variant("no results array", lambda d: d.pop("results"), "'results' is a required property")
variant("a malformed date", lambda d: d.update(date="27 Nov 2026"), "date: ")
variant("an unknown benchmark", lambda d: d["results"].append({"bench": "nonsense", "x_per_s": 1}), "'nonsense' is not one of")
variant("a skipped result that still has figures", lambda d: d["results"].append({"bench": "dns", "skipped": "x", "resolver_cached_per_s": 5}), "too many properties")
variant("a result that is not an object", lambda d: d["results"].append(["dns"]), "is not of type 'object'")
i = first("dns")
if i is not None:
    variant("dns: a rate of zero", lambda d: d["results"][i].update(resolver_cached_per_s=0), "resolver_cached_per_s: 0 is less than")
    variant("dns: a rate as a string", lambda d: d["results"][i].update(cache_probe_per_s="45000000"), "cache_probe_per_s: '45000000' is not of type")
    variant("dns: a required rate missing", lambda d: d["results"][i].pop("zone_uncached_per_s"), "'zone_uncached_per_s' is a required property")
i = first("daemon")
if i is not None:
    variant("daemon: p99 missing", lambda d: d["results"][i].pop("p99_ms"), "'p99_ms' is a required property")
    variant("daemon: replies do not add up to the transactions sent", lambda d: d["results"][i].update(accepted=d["results"][i]["accepted"] + 1), "were sent")
    variant("daemon: p99 below p50", lambda d: d["results"][i].update(p99_ms=d["results"][i]["p50_ms"] / 2 - 0.001, p50_ms=d["results"][i]["p50_ms"] + 1), "percentiles decrease")
    variant("daemon: negative CPU", lambda d: d["results"][i].update(cpu_ms_per_message=-1), "cpu_ms_per_message: -1 is less than")
    variant("daemon: transport errors", lambda d: d["results"][i].update(errors=3), "errors: 0 was expected")
i = first("daemon_load")
if i is not None:
    variant("daemon_load: no spool.sync", lambda d: d["results"][i].pop("spool_sync"), "'spool_sync' is a required property")
    variant("daemon_load: replies do not add up", lambda d: d["results"][i].update(rejected=d["results"][i]["rejected"] + 2), "were sent")
i = first("postfix_peer")
if i is not None:
    variant("postfix_peer: a side missing", lambda d: [d["results"][i].pop(k) for k in list(d["results"][i]) if k.startswith("postfix_")], "'postfix_messages_per_s' is a required property")
    variant("postfix_peer: a ratio that is not the rates' ratio", lambda d: d["results"][i].update(authgate_vs_postfix=d["results"][i]["authgate_vs_postfix"] * 2 + 1), "authgate_vs_postfix")
    variant("postfix_peer: counts as floats", lambda d: d["results"][i].update(postfix_rejected=0.5), "postfix_rejected: 0.5 is not of type 'integer'")
i = first("dkim")
if i is not None:
    variant("dkim: an unknown field", lambda d: d["results"][i].update(rsa_1024_per_s=5), "'rsa_1024_per_s' does not match")
PY
# One checker run for all of them; each must have drawn the complaint its
# breakage calls for (not just any: the real document might have one too).
cut -f1 "$tmp/variants" | xargs /usr/bin/python3 "$top/bench/check_results.py" 2>"$tmp/why" >/dev/null
while IFS=$'\t' read -r path what complaint; do
	if grep -F "$path: " "$tmp/why" | grep -q -F -- "$complaint"; then
		ok "the checker refuses $what"
	else
		not_ok "the checker refuses $what" "wanted \"$complaint\", got: $(grep -F "$path: " "$tmp/why")"
	fi
done <"$tmp/variants"

if command -v gnuplot >/dev/null; then
	for p in throughput latency load; do
		png=$tmp/results-$p.png
		if [ "$(head -c 8 "$png" 2>/dev/null | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] && [ "$(stat -c %s "$png")" -gt 5000 ]; then
			ok "plot: results-$p.png"
		else
			not_ok "plot: results-$p.png" "$(grep -i plot "$tmp/run.log")"
		fi
	done
else
	skip "plots" "gnuplot is not installed (make deps)"
fi
grep -q '^summary (' "$tmp/run.log" && ok "the ratio table is printed" || not_ok "the ratio table is printed"
# latency against load: one point per spool.sync mode, and the summary
# says up to which rate the p99 goal held
for m in fsync syncfs journal; do
	if /usr/bin/python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not any(r.get("bench") == "daemon_load" and r.get("spool_sync") == sys.argv[2] for r in d["results"]))' "$tmp/results.json" "$m"; then
		ok "latency against load measured, spool.sync = $m"
	else
		not_ok "latency against load measured, spool.sync = $m"
	fi
done
grep -q '^daemon p99 < 5 ms, spool.sync = journal' "$tmp/run.log" && ok "the summary says where p99 < 5 ms held" || not_ok "the summary says where p99 < 5 ms held" "$(grep 'p99 <' "$tmp/run.log")"
tap_done
