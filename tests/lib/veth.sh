# tests/lib/veth.sh — two network namespaces joined by a veth pair, both
# made here: nothing is added to the root namespace (source it).
#   veth_setup TAG SUBNET   e.g. veth_setup agx 10.77.0
# names the namespaces $cli and $srv and their veth ends $vc and $vs (TAG
# and this shell's pid keep concurrent tests apart), gives the client
# SUBNET.1/24 and the server SUBNET.2/24, turns IPv6 off, brings every
# link up; skip_all (tap.sh) when the kernel or privileges do not allow.
#   in_cli CMD...  in_srv CMD...   run in a namespace (in_srv keeps bpffs
#                                  visible: nsenter, not ip netns exec)
#   veth_teardown                  delete both namespaces (and the pair)
veth_setup() {
	local tag=$1 net=$2 ns
	cli=$tag-c$$ srv=$tag-s$$ vc=${tag}c$$ vs=${tag}s$$
	ip netns add "$cli" && ip netns add "$srv" || skip_all "cannot create network namespaces"
	ip link add "$vc" netns "$cli" type veth peer name "$vs" netns "$srv" ||
		skip_all "cannot create a veth pair"
	for ns in "$cli" "$srv"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
		ip -n "$ns" link set lo up
	done
	ip -n "$cli" addr add "$net.1/24" dev "$vc"
	ip -n "$srv" addr add "$net.2/24" dev "$vs"
	ip -n "$cli" link set "$vc" up
	ip -n "$srv" link set "$vs" up
}
in_cli() { ip netns exec "$cli" "$@"; }
in_srv() { nsenter --net="/run/netns/$srv" "$@"; }
veth_teardown() {
	[ -n "${cli:-}" ] && ip netns del "$cli" 2>/dev/null
	[ -n "${srv:-}" ] && ip netns del "$srv" 2>/dev/null
	return 0
}
