#!/usr/bin/env bash
# Integration: "250 only once the message is durable", under a simulated
# power cut. The spool (spool.sync = fsync), or the journal (spool.sync =
# journal), lives on tests/lib/crashfs.py: a FUSE filesystem that keeps
# only what fsync made durable (a file's bytes as of its last fsync, a
# name as of its directory's last fsync). Clients send messages from
# several sessions at once and keep the queue name of every 250; while
# they are still sending, the daemon is killed (-9) and the power cut;
# what the filesystem had made durable is written out and must hold every
# acknowledged message, whole, and nothing partial in new/. Kill -9 alone cannot show this: the page
# cache survives it. A control shows the check fails for a file named
# into new/ without the fsyncs.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/lib/tap.sh"
. "$top/tests/lib/daemon.sh"
. "$top/tests/lib/power_cut.sh"
private_mounts "$@"
AUTHGATE=${AUTHGATE:-$top/build/asan/authgate}
PY=/usr/bin/python3

if [ ! -c /dev/fuse ] || ! $PY -c 'import fusepy' 2>/dev/null || [ "$(id -u)" != 0 ]; then
	skip "power loss" "needs root, /dev/fuse and python3-fusepy (make deps)"
	tap_done
	exit
fi

tmp=$(mktemp -d /tmp/authgate-power.XXXXXX)
fs_pid=
cleanup() {
	daemon_kill
	mountpoint -q "$tmp/mnt" && umount -l "$tmp/mnt"
	[ -n "$fs_pid" ] && kill "$fs_pid" 2>/dev/null
	mountpoint -q "$tmp/small" && umount "$tmp/small"
	[ -n "${KEEP:-}" ] || rm -rf "$tmp"
}
trap cleanup EXIT
port=$(free_port)

power_zone

mount_crashfs() {
	mkdir -p "$tmp/mnt" "$tmp/dump"
	rm -rf "$tmp/dump"/* "$tmp/dump/.done"
	$PY "$top/tests/lib/crashfs.py" "$tmp/mnt" "$tmp/dump" 2>"$tmp/crashfs.log" &
	fs_pid=$!
	for i in $(seq 100); do mountpoint -q "$tmp/mnt" && return 0; sleep 0.1; done
	return 1
}

# Cut the power: the daemon first (it may sync no more), then the dump.
# With CONTROL_DIR set, first a control file is named into it the way a
# careless writer would, no fsync of it or of the directory: the cut must
# lose it.
power_cut() {
	daemon_kill
	if [ -n "${CONTROL_DIR:-}" ]; then
		printf 'never synced\r\n' >"$CONTROL_DIR/../tmp/control"
		mv "$CONTROL_DIR/../tmp/control" "$CONTROL_DIR/control"
	fi
	: >"$tmp/mnt/.crash"
	for i in $(seq 100); do [ -e "$tmp/dump/.done" ] && break; sleep 0.1; done
	umount -l "$tmp/mnt"
	kill "$fs_pid" 2>/dev/null
	wait "$fs_pid" 2>/dev/null
	fs_pid=
}

# send SESSIONS MESSAGES CUT_AFTER: cut the power once CUT_AFTER messages
# are acknowledged, while the sessions are still sending
send_and_cut() {
	send_until "$1" "$2" "$3"
	power_cut
	wait "$client"
}

# 1. spool.sync = fsync, the spool on the crash filesystem.
if mount_crashfs; then
	power_conf "spool = $tmp/mnt/spool" "spool.sync = fsync"
	if daemon_start "$tmp/authgate.conf" "$tmp/serve.log"; then
		CONTROL_DIR=$tmp/mnt/spool/new send_and_cut 4 30 20
		expect_durable fsync "$tmp/dump/durable/spool/new" "crashfs"
		[ ! -e "$tmp/dump/durable/spool/new/control" ] && ok "the control: a file named without fsyncs is gone after the cut" ||
			not_ok "the control file survived the cut: the crash filesystem keeps too much"
	else
		not_ok "fsync: the daemon starts on the crash filesystem" "$(tail -5 "$tmp/serve.log")"
		power_cut
	fi
else
	not_ok "crashfs mounts" "$(cat "$tmp/crashfs.log")"
fi

# 2. spool.sync = journal, the journal on the crash filesystem and the
# spool on a tmpfs of one page, too small for one message: nothing can be published, so
# every 250 rests on the journal alone. After the cut, a start with the
# journal as the cut left it, and room in the spool, must publish them all.
mkdir -p "$tmp/small"
if mount -t tmpfs -o size=4k tmpfs "$tmp/small" && mount_crashfs; then
	power_conf "spool = $tmp/small" "spool.sync = journal" "spool.journal = $tmp/mnt/journal" \
		"spool.journal_size = 1M" "limits.message_size = 256K"
	if daemon_start "$tmp/authgate.conf" "$tmp/serve.log"; then
		send_and_cut 3 20 8
		umount "$tmp/small"
		mkdir -p "$tmp/spool2"
		cp "$tmp/dump/durable/journal" "$tmp/journal2" 2>/dev/null
		power_conf "spool = $tmp/spool2" "spool.sync = journal" "spool.journal = $tmp/journal2" \
			"spool.journal_size = 1M" "limits.message_size = 256K"
		recover journal && expect_durable journal "$tmp/spool2/new" "crashfs, $published"
	else
		not_ok "journal: the daemon starts with its journal on the crash filesystem" "$(tail -5 "$tmp/serve.log")"
		power_cut
	fi
else
	not_ok "journal: tmpfs and crashfs mount" "$(cat "$tmp/crashfs.log")"
fi
tap_done
