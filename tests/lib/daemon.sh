# tests/lib/daemon.sh — running `authgate serve` in tests and benches
# (source it after setting AUTHGATE). Loopback only.
#   free_port              a free TCP port on 127.0.0.1 (tests/lib/free_port.py)
#   wait_port PORT         wait (30 s at most) until something accepts on it
#   wait_log FILE RE N     wait (30 s at most) until N lines of FILE match RE
#   wait_files DIR N       wait (30 s at most) until DIR holds N entries; print
#                          how many it holds (spool.sync = journal publishes
#                          into new/ shortly after the 250)
#   silent_udp             a UDP socket on 127.0.0.1 that takes datagrams and
#                          never answers (a DNS server that is there but
#                          silent), for ten minutes; its port in
#                          $silent_port, its process in $silent_pid
#   daemon_start CONF LOG  start the daemon in the background; pid in $daemon_pid
#                          (CONF gains "bpf.verdicts = no" unless it names a
#                          bpf.pin_dir or bpf.verdicts: tests keep off the
#                          host's /sys/fs/bpf)
#   daemon_stop            SIGTERM, wait; the exit status in $daemon_status
#   daemon_kill            kill -9 the daemon, if one runs, and wait for it (so
#                          that its hold on files and mounts is gone)

# where this file is, made absolute now: callers may cd later
ag_test_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

free_port() {
	/usr/bin/python3 "$ag_test_lib/free_port.py" tcp
}

wait_port() {
	local i
	for i in $(seq 300); do
		/usr/bin/python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.2).close()" \
			2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

wait_log() {
	local i n
	for i in $(seq 300); do
		n=$(grep -c -- "$2" "$1" 2>/dev/null)
		[ "${n:-0}" -ge "$3" ] && return 0
		sleep 0.1
	done
	return 1
}

wait_files() {
	local i n
	for i in $(seq 300); do
		n=$(ls -A "$1" 2>/dev/null | wc -l)
		[ "$n" -ge "$2" ] && break
		sleep 0.1
	done
	echo "$n"
}

silent_udp() {
	local fd
	exec {fd}< <(exec /usr/bin/python3 -c 'import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
time.sleep(600)')
	silent_pid=$!
	read -r silent_port <&$fd
	exec {fd}<&-
}

daemon_pid=
daemon_start() {
	# A test daemon never touches the host's bpffs: without a pin dir of the
	# test's own, no verdict counters (they would pin /sys/fs/bpf/authgate).
	grep -q '^bpf\.\(verdicts\|pin_dir\) ' "$1" || echo "bpf.verdicts = no" >>"$1"
	"$AUTHGATE" serve -c "$1" >>"$2" 2>&1 &
	daemon_pid=$!
	wait_port "$(sed -n 's/^listen = .*:\([0-9]*\)$/\1/p' "$1" | head -1)"
}

daemon_stop() {
	kill -TERM "$daemon_pid"
	wait "$daemon_pid"
	daemon_status=$?
	daemon_pid=
}

daemon_kill() {
	[ -n "$daemon_pid" ] || return 0
	kill -9 "$daemon_pid" 2>/dev/null
	wait "$daemon_pid" 2>/dev/null
	daemon_pid=
}
