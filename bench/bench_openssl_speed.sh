#!/usr/bin/env bash
# bench/bench_openssl_speed.sh [--quick|--smoke] — the machine's crypto ceiling
# for context, from `openssl speed` itself: RSA-2048 and Ed25519 verifies
# per second and SHA-256 throughput over 8 KiB (the DKIM bench computes its
# own ceiling in-process; this is the same machine seen by the OpenSSL CLI).
set -eu
secs=2
case ${1:-} in --quick) secs=1 ;; --smoke) secs=1 ;; esac
command -v openssl >/dev/null || { echo '{"bench":"openssl_speed","skipped":"openssl is not installed"}'; exit 0; }
sig=$(openssl speed -mr -seconds "$secs" rsa2048 ed25519 2>/dev/null | grep '^+F')
sha=$(openssl speed -mr -seconds "$secs" -bytes 8192 -evp sha256 2>/dev/null | grep '^+F:')
rsa=$(awk -F: '$1 == "+F2" && $3 == 2048 { print $5 }' <<<"$sig")
ed=$(awk -F: '$1 == "+F6" && $4 == "Ed25519" { print $6 }' <<<"$sig")
mb=$(awk -F: '{ printf "%.1f", $4 / 1e6 }' <<<"$sha")
[ -n "$rsa" ] && [ -n "$ed" ] && [ -n "$mb" ] || { echo "bench_openssl: cannot read openssl speed's output" >&2; exit 1; }
printf 'openssl %s: RSA-2048 verify %.0f/s, Ed25519 verify %.0f/s, SHA-256 (8 KiB blocks) %s MB/s\n' \
	"$(openssl version | awk '{print $2}')" "$rsa" "$ed" "$mb"
printf '{"bench":"openssl_speed","rsa2048_verify_per_s":%.0f,"ed25519_verify_per_s":%.0f,"sha256_8k_mb_per_s":%s}\n' \
	"$rsa" "$ed" "$mb"
