# tests/lib/unbound.sh — the part of an unbound.conf every test and bench
# that starts its own unbound on 127.0.0.1 shares (source it).
#   unbound_port   a port on 127.0.0.1 free for both UDP and TCP (unbound
#   binds both), from below the ephemeral range (see free_port.py)
#   unbound_server_head DIR PORT   print the "server:" block's common lines:
#   loopback only, foreground, no chroot or user switch, files in DIR,
#   IPv4, only our own clients, no recursion (iterator, local data only)
unbound_server_head() {
	cat <<CONF
server:
  interface: 127.0.0.1
  port: $2
  do-daemonize: no
  use-syslog: no
  logfile: ""
  username: ""
  chroot: ""
  directory: "$1"
  pidfile: "$1/unbound.pid"
  do-ip6: no
  access-control: 127.0.0.0/8 allow
  module-config: "iterator"
CONF
}

# where this file is, made absolute now: callers may cd later
ag_test_lib=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

unbound_port() {
	/usr/bin/python3 "$ag_test_lib/free_port.py" tcp udp
}
