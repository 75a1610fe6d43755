# bench/peers/stack.sh — the mail stack an operator would otherwise deploy,
# run throwaway for benchmarks and tests (source it): Postfix with the
# OpenDKIM milter (verifying only, bad signatures rejected) and
# postfix-policyd-spf-python as its policy service, beside a local unbound
# that serves a zone file's records and is the only DNS any of them sees.
#
# Everything runs inside network, mount and PID namespaces of its own
# (stack_enter_namespace): its lo is the only interface, unbound answers on
# its 127.0.0.1:53, and /etc/resolv.conf is bind-mounted there to point at
# it (policyd-spf's resolver only reads resolv.conf). Nothing is added to
# the root namespace and nothing can leave the machine. The script is PID 1
# of its namespace: it reaps what Postfix's master leaves behind, and when
# it ends, however it ends, the kernel kills every process left in there.
# All files live in a scratch directory:
#   stack_enter_namespace SCRIPT ARGS...  re-exec SCRIPT inside new namespaces
#                              (returns 1 when that is impossible)
#   stack_unbound DIR ZONE     unbound on 127.0.0.1:53 with ZONE's records
#   stack_postfix DIR PORT     OpenDKIM + policyd-spf + Postfix on 127.0.0.1:PORT
#   stack_cert DIR             a throwaway certificate, DIR/cert.pem + key.pem
#   stack_ticks                CPU ticks the Postfix stack has used so far
#   stack_tree_ticks PID...    the same for any processes and their children
#   stack_wait_drained N SECS  wait until N messages are in the Maildir and
#                              the queue is empty
#   stack_kill PID...          TERM, then KILL, and reap
#   stack_stop                 stop whatever of it runs (safe to call twice)
# Paths: $stack_dir/mail/new (the Maildir), $stack_dir/maillog.

stack_dir= stack_unbound_pid= stack_opendkim_pid= stack_master_pid=

stack_enter_namespace() {
	local script=$1; shift
	[ -n "${AUTHGATE_STACK_NS:-}" ] && return 0
	[ "$(id -u)" = 0 ] || return 1
	command -v unshare >/dev/null || return 1
	local ns=(unshare --net --mount --propagation private --pid --fork --kill-child --mount-proc)
	"${ns[@]}" true 2>/dev/null || return 1
	exec "${ns[@]}" env AUTHGATE_STACK_NS=1 bash "$script" "$@"
}

# Inside the namespace: bring lo up and make resolv.conf name our unbound.
stack_namespace_setup() { # DIR
	[ -n "${AUTHGATE_STACK_NS:-}" ] || { echo "stack: not in our namespace" >&2; return 1; }
	ip link set lo up || return 1
	echo "nameserver 127.0.0.1" >"$1/resolv.conf"
	mount --bind "$1/resolv.conf" /etc/resolv.conf
}

# unbound local-data lines for the records of an authgate zone file
# ("OWNER TXT "..." ..." lines, $TTL). Everything else is NXDOMAIN.
stack_zone_to_unbound() { # ZONE
	awk '
	/^\$TTL/ { ttl = $2; next }
	/^[ \t]*($|;)/ { next }
	{
		owner = $1; type = $2
		rdata = $0; sub(/^[^ \t]+[ \t]+[^ \t]+[ \t]+/, "", rdata)
		gsub(/\x27/, "", rdata)
		printf "  local-data: \x27%s %d IN %s %s\x27\n", owner, ttl ? ttl : 300, type, rdata
	}' "$1"
}

stack_unbound() { # DIR ZONE
	local dir=$1
	. "$(dirname "${BASH_SOURCE[0]}")/../../tests/lib/unbound.sh"
	{
		unbound_server_head "$dir" 53
		echo '  num-threads: 1'
		echo '  local-zone: "." static'
		stack_zone_to_unbound "$2"
	} >"$dir/unbound.conf"
	unbound-checkconf "$dir/unbound.conf" >"$dir/unbound.log" 2>&1 || return 1
	unbound -d -c "$dir/unbound.conf" >>"$dir/unbound.log" 2>&1 &
	stack_unbound_pid=$!
	# Ready when it answers (one Python polling, 5 s at most).
	/usr/bin/python3 - <<'PY' && return 0
import socket, struct, sys, time
q = struct.pack(">HHHHHH", 1, 0x100, 1, 0, 0, 0) + b"\x06corpus\x07invalid\x00\x00\x10\x00\x01"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.1)
for _ in range(50):
    try:
        s.sendto(q, ("127.0.0.1", 53))
        if s.recv(512)[:2] == q[:2]:
            sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PY
	echo "stack: unbound did not answer" >&2
	return 1
}

stack_write_postfix_conf() { # DIR PORT
	local dir=$1 port=$2 uid gid
	uid=$(id -u postfix) gid=$(id -g postfix)
	mkdir -p "$dir/etc" "$dir/queue" "$dir/data" "$dir/mail" "$dir/milter"
	chown postfix:postfix "$dir/data" "$dir/mail"
	chown opendkim:opendkim "$dir/milter"
	cat >"$dir/etc/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
maillog_file = $dir/maillog
maillog_file_prefixes = $dir
myhostname = mx.corpus.test
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost =
alias_maps =
alias_database =
biff = no
# Nothing leaves: every transport but the Maildir one is an error.
default_transport = error:5.7.1 the bench stack relays nothing
relay_transport = error:5.7.1 the bench stack relays nothing
local_transport = error:5.7.1 the bench stack has no local users
virtual_mailbox_domains = mx.corpus.test
virtual_mailbox_base = $dir
virtual_mailbox_maps = static:mail/
virtual_uid_maps = static:$uid
virtual_gid_maps = static:$gid
# SPF through the policy service, for every client (no permit_mynetworks:
# the load comes from 127.0.0.1).
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service unix:private/policyd-spf
policyd-spf_time_limit = 3600
# DKIM through the milter; a milter failure defers rather than accepts.
smtpd_milters = unix:$dir/milter/opendkim.sock
non_smtpd_milters = \$smtpd_milters
milter_default_action = tempfail
smtpd_tls_cert_file = $dir/cert.pem
smtpd_tls_key_file = $dir/key.pem
smtpd_tls_security_level = may
EOF
	# Debian's service list without chroot (the scratch queue has no
	# chroot files), the SMTP listener on our loopback port, and the
	# policy service spawned per smtpd connection as README.Debian says.
	cat >"$dir/etc/master.cf" <<EOF
127.0.0.1:$port inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
proxywrite unix - - n - 1 proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
policyd-spf unix - n n - 0 spawn
  user=policyd-spf argv=/usr/bin/policyd-spf $dir/policyd-spf.conf
EOF
	# policyd-spf: Debian's defaults (reject SPF fail at MAIL and HELO)
	# but checking loopback clients, which it skips by default.
	cat >"$dir/policyd-spf.conf" <<EOF
debugLevel = 1
TestOnly = 1
HELO_reject = Fail
Mail_From_reject = Fail
PermError_reject = False
TempError_Defer = False
skip_addresses = 192.0.2.255/32
EOF
	# OpenDKIM: verify only, reject a signature that does not verify
	# (its default is to accept), DNS from our unbound only.
	cat >"$dir/opendkim.conf" <<EOF
Mode v
Socket local:$dir/milter/opendkim.sock
UMask 000
Background no
UserID opendkim
Syslog no
Nameservers 127.0.0.1
On-BadSignature reject
SoftwareHeader no
EOF
	chmod 644 "$dir/policyd-spf.conf" "$dir/opendkim.conf"
}

# The queue directories as post-install(1) makes them (postfix-files), done
# here because `postfix check` takes seconds of shell and postconf runs.
stack_queue_dirs() { # QUEUE
	local d
	for d in active bounce corrupt defer deferred flush hold incoming private saved trace; do
		install -d -o postfix -g root -m 700 "$1/$d"
	done
	install -d -o postfix -g postdrop -m 730 "$1/maildrop"
	install -d -o postfix -g postdrop -m 710 "$1/public"
	install -d -o root -g root -m 755 "$1/pid"
}

stack_postfix() { # DIR PORT
	local dir=$1 port=$2
	stack_dir=$dir
	chmod 755 "$dir"
	[ -f "$dir/cert.pem" ] || stack_cert "$dir" || return 1
	stack_write_postfix_conf "$dir" "$port"
	opendkim -x "$dir/opendkim.conf" >"$dir/opendkim.log" 2>&1 &
	stack_opendkim_pid=$!
	stack_queue_dirs "$dir/queue"
	# The master in the foreground (-d), as our child: it reaps every
	# Postfix process, so its CPU counters cover the whole stack.
	/usr/lib/postfix/sbin/master -d -c "$dir/etc" >>"$dir/postfix.log" 2>&1 &
	stack_master_pid=$!
	local i
	for i in $(seq 200); do
		[ -S "$dir/milter/opendkim.sock" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.05
	done
	echo "stack: Postfix or OpenDKIM did not start" >&2
	cat "$dir/postfix.log" "$dir/opendkim.log" >&2
	return 1
}

# utime + stime + cutime + cstime of the given processes and every process
# below them (cat, not awk, opens the files: a process may exit meanwhile).
stack_tree_ticks() { # PID...
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v roots="$*" '
	{
		pid = $1; line = $0; sub(/^[0-9]+ \(.*\) /, "", line); split(line, f, " ")
		ppid[pid] = f[2]; t[pid] = f[12] + f[13] + f[14] + f[15]
	}
	END {
		n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1
		do { grew = 0; for (p in ppid) if (!(p in keep) && (ppid[p] in keep)) { keep[p] = 1; grew = 1 } } while (grew)
		for (p in keep) sum += t[p]
		print sum + 0
	}'
}

stack_ticks() {
	stack_tree_ticks $stack_master_pid $stack_opendkim_pid
}

stack_wait_drained() { # N SECONDS
	local i
	for i in $(seq $(($2 * 10))); do
		if [ "$(find "$stack_dir/mail/new" -type f 2>/dev/null | wc -l)" -ge "$1" ] &&
			[ -z "$(find "$stack_dir/queue/incoming" "$stack_dir/queue/active" "$stack_dir/queue/deferred" "$stack_dir/queue/maildrop" -type f 2>/dev/null | head -1)" ]; then
			return 0
		fi
		sleep 0.1
	done
	return 1
}

# A throwaway certificate (P-256: quick to make) for STARTTLS.
stack_cert() { # DIR
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1/key.pem" \
		-out "$1/cert.pem" -days 2 -subj /CN=mx.corpus.test >/dev/null 2>&1
}

# SIGTERM, and SIGKILL after two seconds: nothing of this stack needs saving.
stack_kill() { # PID...
	local p i
	kill -TERM "$@" 2>/dev/null
	for i in $(seq 20); do
		for p in "$@"; do kill -0 "$p" 2>/dev/null && break; p=; done
		[ -z "$p" ] && break
		sleep 0.1
	done
	kill -KILL "$@" 2>/dev/null
	for p in "$@"; do wait "$p" 2>/dev/null; done
	return 0
}

# OpenDKIM holds nothing worth a clean exit and takes seconds to act on
# SIGTERM: it gets SIGKILL at once.
# (bash reports a job that ends by a signal on stderr: not worth a line.)
stack_stop() {
	[ -n "$stack_opendkim_pid" ] && kill -KILL "$stack_opendkim_pid"
	[ -n "$stack_master_pid$stack_opendkim_pid$stack_unbound_pid" ] &&
		stack_kill $stack_master_pid $stack_opendkim_pid $stack_unbound_pid
	stack_master_pid= stack_opendkim_pid= stack_unbound_pid=
} 2>/dev/null
