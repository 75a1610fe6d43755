// SPDX-License-Identifier: GPL-2.0
/*
 * smtp_flow — XDP in front of the SMTP listeners.
 *
 * Parses Ethernet (+ one 802.1Q/802.1ad tag), IPv4 (options included) or
 * IPv6 (hop-by-hop, routing, destination options, fragment and AH headers
 * skipped), then TCP. Only TCP to a port marked in `ports` is touched:
 * a source in `blocklist` (an unexpired entry) → XDP_DROP, otherwise the
 * flow is counted in `flows`. Everything else passes untouched. Truncated
 * or malformed headers count a parse error and pass: the kernel's own
 * stack is the judge of bad packets, not us.
 *
 * Fast paths (docs/performance.md has the figures behind each):
 *  - A SYN goes to the blocklist first: it is what a new connection and a
 *    flood send, and a blocked source never has a flow entry to look up.
 *  - Any other segment looks its flow up first. The flow remembers the
 *    `blocklist_gen` value it was last checked against; while that value
 *    is unchanged the LPM trie lookup is skipped. Every writer that adds
 *    to the blocklist stores a fresh random value there afterwards (and
 *    the daemon once a second, for edits made with bpftool directly).
 *  - The clock is bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC at the last
 *    tick; the precise clock costs ~20 ns a read on kvm-clock), read on
 *    the drop path only when the entry has an expiry.
 *  - A new flow is inserted already counted: no second lookup, no atomics.
 *
 * Two entry points with one body: `xdp_smtp` (SEC "xdp") and
 * `xdp_smtp_frags` (SEC "xdp.frags", for lo/GSO and jumbo frames; byte
 * counts use bpf_xdp_get_buff_len() so every fragment counts).
 * Maps and their writers: see authgate_maps.h.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "authgate_maps.h"

/* vmlinux.h has no #defines */
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define IPPROTO_TCP_ 6
#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF
#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_DEST 60
#define MAX_EXT_HEADERS 6
#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, AG_FLOWS_MAX);
	__type(key, struct ag_flow_key);
	__type(value, struct ag_flow_stats);
} flows SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, AG_BLOCKLIST_MAX);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct ag_block_key);
	__type(value, struct ag_block);
} blocklist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} blocklist_gen SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_PORTS_MAX);
	__type(key, __u32);
	__type(value, __u8);
} ports SEC(".maps");

struct parsed {
	struct ag_flow_key key;
	__u8 tcp_flags; /* byte 13 of the TCP header */
};

enum parse_result { P_SMTP, P_OTHER, P_ERROR };

/* One bounds-checked cursor step: the header at *off of size len, or NULL. */
static __always_inline void *header(void *data, void *end, __u32 off, __u32 len)
{
	void *p = data + off;
	if (p + len > end)
		return NULL;
	return p;
}

static __always_inline enum parse_result parse_tcp(void *data, void *end, __u32 off,
						    struct parsed *p)
{
	struct tcphdr *th = header(data, end, off, sizeof(*th));
	if (!th)
		return P_ERROR;
	if (th->doff < 5)
		return P_ERROR;
	if ((void *)th + th->doff * 4 > end)
		return P_ERROR;
	p->key.sport = bpf_ntohs(th->source);
	p->key.dport = bpf_ntohs(th->dest);
	p->tcp_flags = ((__u8 *)th)[13];
	__u32 port = p->key.dport;
	__u8 *smtp = bpf_map_lookup_elem(&ports, &port);
	return smtp && *smtp ? P_SMTP : P_OTHER;
}

static __always_inline enum parse_result parse_ipv4(void *data, void *end, __u32 off,
						     struct parsed *p)
{
	struct iphdr *ip = header(data, end, off, sizeof(*ip));
	if (!ip)
		return P_ERROR;
	if (ip->version != 4 || ip->ihl < 5)
		return P_ERROR;
	__u32 hlen = ip->ihl * 4;
	if (!header(data, end, off, hlen))
		return P_ERROR;
	if (ip->protocol != IPPROTO_TCP_)
		return P_OTHER;
	if (bpf_ntohs(ip->frag_off) & IP_OFFSET)
		return P_OTHER; /* a later fragment: no TCP header here */
	p->key.family = AG_FAMILY_V4;
	__builtin_memcpy(p->key.saddr, &ip->saddr, 4);
	__builtin_memcpy(p->key.daddr, &ip->daddr, 4);
	return parse_tcp(data, end, off + hlen, p);
}

static __always_inline enum parse_result parse_ipv6(void *data, void *end, __u32 off,
						     struct parsed *p)
{
	struct ipv6hdr *ip6 = header(data, end, off, sizeof(*ip6));
	if (!ip6)
		return P_ERROR;
	if (ip6->version != 6)
		return P_ERROR;
	__u8 next = ip6->nexthdr;
	p->key.family = AG_FAMILY_V6;
	__builtin_memcpy(p->key.saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->key.daddr, &ip6->daddr, 16);
	off += sizeof(*ip6);
	for (int i = 0; i < MAX_EXT_HEADERS; i++) {
		if (next == IPPROTO_TCP_)
			return parse_tcp(data, end, off, p);
		__u8 *ext = header(data, end, off, 8);
		switch (next) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if (!ext)
				return P_ERROR;
			next = ext[0];
			off += (ext[1] + 1) * 8;
			break;
		case NEXTHDR_AUTH:
			if (!ext)
				return P_ERROR;
			next = ext[0];
			off += (ext[1] + 2) * 4;
			break;
		case NEXTHDR_FRAGMENT:
			if (!ext)
				return P_ERROR;
			/* offset != 0: a later fragment without the TCP header */
			if (bpf_ntohs(*(__u16 *)(ext + 2)) & 0xFFF8)
				return P_OTHER;
			next = ext[0];
			off += 8;
			break;
		default:
			return P_OTHER;
		}
		if (off > 512)
			return P_ERROR;
	}
	return next == IPPROTO_TCP_ ? parse_tcp(data, end, off, p) : P_OTHER;
}

static __always_inline enum parse_result parse(struct xdp_md *ctx, struct parsed *p)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = header(data, end, 0, sizeof(*eth));
	if (!eth)
		return P_ERROR;
	__u32 off = sizeof(*eth);
	__u16 proto = eth->h_proto;
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD)) {
		struct vlan_hdr *vh = header(data, end, off, sizeof(*vh));
		if (!vh)
			return P_ERROR;
		proto = vh->h_vlan_encapsulated_proto;
		off += sizeof(*vh);
	}
	if (proto == bpf_htons(ETH_P_IP))
		return parse_ipv4(data, end, off, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return parse_ipv6(data, end, off, p);
	return P_OTHER;
}

/* The source as a blocklist key: IPv6 as is, IPv4 as ::ffff:a.b.c.d. */
static __always_inline void block_key(const struct ag_flow_key *k, struct ag_block_key *bk)
{
	bk->prefixlen = 128;
	if (k->family == AG_FAMILY_V6) {
		__builtin_memcpy(bk->addr, k->saddr, 16);
		return;
	}
	__builtin_memset(bk->addr, 0, 10);
	bk->addr[10] = 0xff;
	bk->addr[11] = 0xff;
	__builtin_memcpy(bk->addr + 12, k->saddr, 4);
}

/* Is the source covered by an unexpired blocklist entry? Then that entry's
 * hits count the packet. The clock is read only for an entry that expires.
 * hits is a plain add, not an atomic one: it is a statistic for operators,
 * and the atomic was a quarter of the drop path (21 vs 16 ns). Two CPUs
 * dropping for one entry at the same instant may lose an increment; the
 * exact count is xdp_dropped_blocklist (per-CPU). */
static __always_inline int blocked(const struct ag_flow_key *k)
{
	struct ag_block_key bk;
	block_key(k, &bk);
	struct ag_block *b = bpf_map_lookup_elem(&blocklist, &bk);
	if (!b || (b->expires_ns && bpf_ktime_get_coarse_ns() >= b->expires_ns))
		return 0;
	b->hits++;
	return 1;
}

static __always_inline void count_packet(struct ag_flow_stats *fs, __u8 flags, __u64 len,
					 __u64 now)
{
	__sync_fetch_and_add(&fs->packets, 1);
	__sync_fetch_and_add(&fs->bytes, len);
	if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		__sync_fetch_and_add(&fs->syns, 1);
	if (flags & (TCP_FIN | TCP_RST))
		__sync_fetch_and_add(&fs->fin_rst, 1);
	fs->last_seen_ns = now;
}

/* A flow not in `flows`: insert it with this packet already counted. */
static __always_inline void new_flow(const struct parsed *p, struct ag_stats *st, __u64 len,
				     __u64 gen)
{
	__u64 now = bpf_ktime_get_coarse_ns();
	__u8 f = p->tcp_flags;
	struct ag_flow_stats fresh = {
		.packets = 1,
		.bytes = len,
		.syns = (f & (TCP_SYN | TCP_ACK)) == TCP_SYN,
		.fin_rst = (f & (TCP_FIN | TCP_RST)) != 0,
		.first_seen_ns = now,
		.last_seen_ns = now,
		.block_gen = gen,
	};
	if (bpf_map_update_elem(&flows, &p->key, &fresh, BPF_NOEXIST) == 0) {
		st->new_flows++;
		return;
	}
	/* another CPU inserted it meanwhile */
	struct ag_flow_stats *fs = bpf_map_lookup_elem(&flows, &p->key);
	if (fs)
		count_packet(fs, f, len, now);
}

static __always_inline int smtp_flow(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct ag_stats *st = bpf_map_lookup_elem(&stats, &zero);
	if (!st)
		return XDP_PASS;
	st->packets++;
	struct parsed p = {};
	enum parse_result r = parse(ctx, &p);
	if (r == P_ERROR) {
		st->parse_errors++;
		return XDP_PASS;
	}
	if (r != P_SMTP)
		return XDP_PASS;
	__u64 len = bpf_xdp_get_buff_len(ctx);
	st->smtp_packets++;
	st->smtp_bytes += len;
	/* read before the trie: a flow may only remember a generation whose
	 * entries were all in the trie when it looked */
	__u64 *genp = bpf_map_lookup_elem(&blocklist_gen, &zero);
	__u64 gen = genp ? *genp : 0;
	int syn = (p.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	if (syn && blocked(&p.key))
		goto drop;
	struct ag_flow_stats *fs = bpf_map_lookup_elem(&flows, &p.key);
	if (!syn && !(fs && fs->block_gen == gen) && blocked(&p.key))
		goto drop;
	if (!fs) {
		new_flow(&p, st, len, gen);
		return XDP_PASS;
	}
	count_packet(fs, p.tcp_flags, len, bpf_ktime_get_coarse_ns());
	if (fs->block_gen != gen)
		fs->block_gen = gen;
	return XDP_PASS;
drop:
	st->dropped_blocklist++;
	return XDP_DROP;
}

SEC("xdp")
int xdp_smtp(struct xdp_md *ctx)
{
	return smtp_flow(ctx);
}

SEC("xdp.frags")
int xdp_smtp_frags(struct xdp_md *ctx)
{
	return smtp_flow(ctx);
}

char LICENSE[] SEC("license") = "GPL";
