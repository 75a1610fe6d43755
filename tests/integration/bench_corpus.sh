#!/usr/bin/env bash
# The benchmark corpus (bench/corpus.py): the same seed gives byte-identical
# files, another seed different ones, and every message gets the DKIM
# result its MANIFEST promises when authgate verifies it against the zone
# the generator wrote.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
tmp=$(mktemp -d /tmp/authgate-corpus.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
gen() { /usr/bin/python3 "$top/bench/corpus.py" "$tmp/$1" --seed "$2" --count 8; }
gen a 7 && gen b 7 && gen c 8 || { not_ok "corpus.py runs"; tap_done; exit; }
diff -r "$tmp/a" "$tmp/b" >/dev/null && ok "same seed: byte-identical corpus" || not_ok "same seed: byte-identical corpus"
diff -q "$tmp/a/MANIFEST" "$tmp/c/MANIFEST" >/dev/null && not_ok "another seed: another corpus" || ok "another seed: another corpus"
expect_eq "48 messages: 3 sizes x 2 algorithms x 8" 48 "$(wc -l <"$tmp/a/MANIFEST")"
bad=0 n=0
while read -r name sum expect; do
	n=$((n + 1))
	got=$("$AUTHGATE" dkim --zone "$tmp/a/zone" "$tmp/a/$name" | tail -1)
	[ "$got" = "dkim=$expect" ] || { bad=$((bad + 1)); echo "# $name: $got, manifest says $expect"; }
	[ "$(sha256sum "$tmp/a/$name" | cut -d' ' -f1)" = "$sum" ] || { bad=$((bad + 1)); echo "# $name: checksum"; }
done <"$tmp/a/MANIFEST"
expect_eq "every message verifies as its manifest says ($n)" 0 "$bad"
tap_done
