# tests/lib/tap.sh — TAP helpers for shell test scripts (source it).
#   ok NAME / not_ok NAME [DETAIL] / skip NAME REASON / check NAME CMD...
#   expect_eq NAME EXPECTED ACTUAL
# tap_done prints the plan and exits 1 if anything failed.
# TAP_PREFIX, when set, starts every test name (a script run again with
# another configuration says which run a line belongs to).
_tap_n=0 _tap_failed=0
ok() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - ${TAP_PREFIX:-}$1"; }
not_ok() {
	_tap_n=$((_tap_n + 1)); _tap_failed=$((_tap_failed + 1))
	echo "not ok $_tap_n - ${TAP_PREFIX:-}$1"
	[ $# -gt 1 ] && printf '%s\n' "$2" | sed 's/^/# /'
	return 0
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - ${TAP_PREFIX:-}$1 # SKIP $2"; }
check() { local n=$1; shift; if "$@"; then ok "$n"; else not_ok "$n" "command failed: $*"; fi; }
expect_eq() {
	if [ "$2" == "$3" ]; then ok "$1"; else
		not_ok "$1" "$(printf 'expected: %s\n  actual: %s' "$2" "$3")"; fi
}
tap_done() { echo "1..$_tap_n"; [ "$_tap_failed" -eq 0 ]; }

# private_mounts "$@": as root, run the rest of the calling script again
# in a mount namespace of its own (call it before making anything), so
# what it mounts (a tiny tmpfs, a bpffs, a FUSE or loop filesystem) is
# never seen on the host, and a script killed before its cleanup leaves
# nothing mounted there. Without root or unshare it goes on as it is.
private_mounts() {
	[ "$(id -u)" = 0 ] && [ -z "${AUTHGATE_PRIVATE_MOUNTS:-}" ] || return 0
	command -v unshare >/dev/null && unshare -m --propagation private true 2>/dev/null || return 0
	AUTHGATE_PRIVATE_MOUNTS=1 exec unshare -m --propagation private bash "$0" "$@"
}
