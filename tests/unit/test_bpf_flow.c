/* Unit tests: bpf/smtp_flow.bpf.c through BPF_PROG_TEST_RUN on packet
 * fixtures — IPv4, IPv6 with extension headers, 802.1Q, IPv4 options,
 * non-SMTP ports, non-TCP, truncated and malformed headers, blocked and
 * expired-block sources, and the blocklist generation: a known flow skips
 * the trie until blocklist_gen changes, a SYN never does. Each test asserts
 * the XDP verdict and the exact map contents afterwards. Without root/BPF
 * every test reports a skip. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/bpf_maps.h"
#include "smtp_flow.skel.h"

#define XDP_DROP_ 1
#define XDP_PASS_ 2

static struct smtp_flow *skel;
static char why[200];

/* ------------------------------------------------------------ fixtures */

struct pkt {
	unsigned char b[512];
	size_t len;
};

static void put(struct pkt *p, const void *d, size_t n)
{
	memcpy(p->b + p->len, d, n);
	p->len += n;
}

static void eth(struct pkt *p, uint16_t proto, int vlan)
{
	unsigned char h[14] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	if (vlan >= 0) {
		h[12] = 0x81, h[13] = 0x00;
		put(p, h, 14);
		unsigned char tag[4] = {(unsigned char)(vlan >> 8), (unsigned char)vlan,
					(unsigned char)(proto >> 8), (unsigned char)proto};
		put(p, tag, 4);
		return;
	}
	h[12] = (unsigned char)(proto >> 8), h[13] = (unsigned char)proto;
	put(p, h, 14);
}

static void ipv4(struct pkt *p, const char *src, const char *dst, uint8_t proto,
		 unsigned opt_words, size_t payload)
{
	struct iphdr ip = {.version = 4, .ihl = (unsigned)(5 + opt_words), .ttl = 64,
			   .protocol = proto};
	ip.tot_len = htons((uint16_t)(ip.ihl * 4 + payload));
	inet_pton(AF_INET, src, &ip.saddr);
	inet_pton(AF_INET, dst, &ip.daddr);
	put(p, &ip, sizeof ip);
	for (unsigned i = 0; i < opt_words * 4; i++)
		p->b[p->len++] = 1; /* NOP options */
}

static void ipv6(struct pkt *p, const char *src, const char *dst, uint8_t next, size_t payload)
{
	struct ipv6hdr ip = {.version = 6, .nexthdr = next, .hop_limit = 64};
	ip.payload_len = htons((uint16_t)payload);
	inet_pton(AF_INET6, src, &ip.saddr);
	inet_pton(AF_INET6, dst, &ip.daddr);
	put(p, &ip, sizeof ip);
}

static void tcp(struct pkt *p, uint16_t sport, uint16_t dport, uint8_t flags, size_t data)
{
	unsigned char h[20] = {0};
	h[0] = (unsigned char)(sport >> 8), h[1] = (unsigned char)sport;
	h[2] = (unsigned char)(dport >> 8), h[3] = (unsigned char)dport;
	h[12] = 5 << 4;
	h[13] = flags;
	put(p, h, 20);
	memset(p->b + p->len, 'x', data);
	p->len += data;
}

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_ACK 0x10

static struct pkt v4_tcp(const char *src, uint16_t sport, uint16_t dport, uint8_t flags)
{
	struct pkt p = {0};
	eth(&p, ETH_P_IP, -1);
	ipv4(&p, src, "198.51.100.1", IPPROTO_TCP, 0, 20);
	tcp(&p, sport, dport, flags, 0);
	return p;
}

/* --------------------------------------------------------------- helpers */

static int run_prog(struct bpf_program *prog, const struct pkt *p)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = p->b, .data_size_in = (__u32)p->len,
		    .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(prog), &o);
	assert_int_equal(rc, 0);
	return (int)o.retval;
}

static int run(const struct pkt *p)
{
	return run_prog(skel->progs.xdp_smtp, p);
}

static void clear_hash(int fd, size_t key_size)
{
	unsigned char key[64];
	assert_true(key_size <= sizeof key);
	while (bpf_map_get_next_key(fd, NULL, key) == 0)
		assert_int_equal(bpf_map_delete_elem(fd, key), 0);
}

static int setup(void **state)
{
	(void)state;
	if (!skel)
		return 0; /* the test itself reports the skip */
	clear_hash(bpf_map__fd(skel->maps.flows), sizeof(struct ag_flow_key));
	clear_hash(bpf_map__fd(skel->maps.blocklist), sizeof(struct ag_block_key));
	int ncpu = libbpf_num_possible_cpus();
	struct ag_stats *zero = calloc((size_t)ncpu, sizeof *zero);
	__u32 k = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.stats), &k, zero, BPF_ANY), 0);
	free(zero);
	__u64 gen0 = 0;
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.blocklist_gen), &k, &gen0,
					     BPF_ANY), 0);
	return 0;
}

static uint64_t gen(void)
{
	__u32 k = 0;
	__u64 v;
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.blocklist_gen), &k, &v), 0);
	return v;
}

static int gen_fd(void)
{
	return bpf_map__fd(skel->maps.blocklist_gen);
}

static struct ag_stats stats(void)
{
	struct ag_stats s;
	assert_int_equal(ag_stats_read(bpf_map__fd(skel->maps.stats), &s), 0);
	return s;
}

static void expect_stats(uint64_t packets, uint64_t smtp, uint64_t smtp_bytes, uint64_t flows,
			 uint64_t dropped, uint64_t errors)
{
	struct ag_stats s = stats();
	assert_int_equal(s.packets, packets);
	assert_int_equal(s.smtp_packets, smtp);
	assert_int_equal(s.smtp_bytes, smtp_bytes);
	assert_int_equal(s.new_flows, flows);
	assert_int_equal(s.dropped_blocklist, dropped);
	assert_int_equal(s.parse_errors, errors);
}

static size_t nflows(void)
{
	int fd = bpf_map__fd(skel->maps.flows);
	struct ag_flow_key k, next;
	size_t n = 0;
	void *prev = NULL;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

static struct ag_flow_key fkey(int family, const char *src, const char *dst, uint16_t sport,
			       uint16_t dport)
{
	struct ag_flow_key k;
	memset(&k, 0, sizeof k);
	int af = family == AG_FAMILY_V4 ? AF_INET : AF_INET6;
	inet_pton(af, src, k.saddr);
	inet_pton(af, dst, k.daddr);
	k.sport = sport;
	k.dport = dport;
	k.family = (uint8_t)family;
	return k;
}

static struct ag_flow_stats flow(const struct ag_flow_key *k)
{
	struct ag_flow_stats v;
	int rc = bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows), k, &v);
	if (rc)
		fail_msg("flow not in the map: %s", strerror(errno));
	return v;
}

static void block(const char *prefix, uint64_t expires_ns)
{
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse(prefix, &k), 0);
	struct ag_block v = {.expires_ns = expires_ns, .reason = AG_BLOCK_MANUAL};
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.blocklist), &k, &v, BPF_ANY), 0);
}

static uint64_t block_hits(const char *prefix)
{
	struct ag_block_key k;
	struct ag_block v;
	assert_int_equal(ag_prefix_parse(prefix, &k), 0);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.blocklist), &k, &v), 0);
	return v.hits;
}

/* ----------------------------------------------------------------- tests */

/* cmocka only reports skip() from the test body, not from a setup. */
#define NEED_BPF()          \
	do {                \
		if (!skel)  \
			skip(); \
	} while (0)


static void ipv4_flow(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt syn = v4_tcp("192.0.2.1", 40000, 25, F_SYN);
	struct pkt fin = v4_tcp("192.0.2.1", 40000, 25, F_FIN | F_ACK);
	assert_int_equal(run(&syn), XDP_PASS_);
	assert_int_equal(run(&fin), XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.1", "198.51.100.1", 40000, 25);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.packets, 2);
	assert_int_equal(v.bytes, syn.len + fin.len);
	assert_int_equal(v.syns, 1);
	assert_int_equal(v.fin_rst, 1);
	assert_true(v.first_seen_ns > 0 && v.last_seen_ns >= v.first_seen_ns);
	assert_int_equal(v.block_gen, 0);
	assert_int_equal(nflows(), 1);
	expect_stats(2, 2, syn.len + fin.len, 1, 0, 0);
}

/* A new flow is inserted already counted, with the generation it was
 * checked against, and stamped with CLOCK_MONOTONIC (coarse: at most a
 * tick behind). */
static void new_flow_entry(void **state)
{
	(void)state;
	NEED_BPF();
	assert_int_equal(ag_block_gen_bump(gen_fd()), 0);
	uint64_t g = gen();
	struct pkt syn = v4_tcp("192.0.2.3", 40003, 25, F_SYN);
	uint64_t before = ag_now_ns();
	assert_int_equal(run(&syn), XDP_PASS_);
	uint64_t after = ag_now_ns();
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.3", "198.51.100.1", 40003, 25);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.packets, 1);
	assert_int_equal(v.bytes, syn.len);
	assert_int_equal(v.syns, 1);
	assert_int_equal(v.fin_rst, 0);
	assert_int_equal(v.block_gen, g);
	assert_int_equal(v.first_seen_ns, v.last_seen_ns);
	assert_true(v.first_seen_ns <= after);
	assert_true(v.first_seen_ns + 100000000ull >= before); /* a tick: 1-10 ms */
	/* an ACK of a flow never seen (mid-connection after a restart) too */
	struct pkt ack = v4_tcp("192.0.2.4", 40004, 25, F_ACK);
	assert_int_equal(run(&ack), XDP_PASS_);
	struct ag_flow_key k2 = fkey(AG_FAMILY_V4, "192.0.2.4", "198.51.100.1", 40004, 25);
	v = flow(&k2);
	assert_int_equal(v.packets, 1);
	assert_int_equal(v.syns, 0);
	assert_int_equal(v.block_gen, g);
	assert_int_equal(nflows(), 2);
	expect_stats(2, 2, syn.len + ack.len, 2, 0, 0);
}

/* A known flow skips the blocklist while blocklist_gen is the value it was
 * checked against; a SYN always checks; a new generation makes every known
 * flow check again on its next packet. */
static void blocklist_generation(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt ack = v4_tcp("192.0.2.5", 40000, 25, F_ACK);
	struct pkt syn_new = v4_tcp("192.0.2.5", 40001, 25, F_SYN);
	struct pkt syn_known = v4_tcp("192.0.2.5", 40000, 25, F_SYN);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.5", "198.51.100.1", 40000, 25);
	assert_int_equal(run(&ack), XDP_PASS_);
	assert_int_equal(flow(&k).block_gen, 0);
	/* in the trie, but no new generation: the known flow is not re-checked */
	block("192.0.2.0/24", 0);
	assert_int_equal(run(&ack), XDP_PASS_);
	assert_int_equal(block_hits("192.0.2.0/24"), 0);
	assert_int_equal(flow(&k).packets, 2);
	/* SYNs check the trie first, new flow or not */
	assert_int_equal(run(&syn_new), XDP_DROP_);
	assert_int_equal(run(&syn_known), XDP_DROP_);
	assert_int_equal(block_hits("192.0.2.0/24"), 2);
	/* a new generation: the known flow checks, is dropped, and stays
	 * unchecked (so it checks again) */
	assert_int_equal(ag_block_gen_bump(gen_fd()), 0);
	uint64_t g = gen();
	assert_int_equal(run(&ack), XDP_DROP_);
	assert_int_equal(run(&ack), XDP_DROP_);
	assert_int_equal(block_hits("192.0.2.0/24"), 4);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.packets, 2);
	assert_int_equal(v.block_gen, 0);
	/* unblocked (a delete needs no new generation): checked, passes, and
	 * remembers the generation */
	struct ag_block_key bk;
	assert_int_equal(ag_prefix_parse("192.0.2.0/24", &bk), 0);
	assert_int_equal(ag_block_del(bpf_map__fd(skel->maps.blocklist), &bk), 0);
	assert_int_equal(run(&ack), XDP_PASS_);
	v = flow(&k);
	assert_int_equal(v.packets, 3);
	assert_int_equal(v.block_gen, g);
	assert_int_equal(nflows(), 1);
	expect_stats(7, 7, 7 * ack.len, 1, 4, 0);
}

/* ag_block_add stores a new generation after the entry (gen_fd -1: none),
 * so a known flow from the source is dropped on its next packet. */
static void block_add_bumps_generation(void **state)
{
	(void)state;
	NEED_BPF();
	int fd = bpf_map__fd(skel->maps.blocklist);
	struct pkt ack = v4_tcp("192.0.2.6", 40000, 25, F_ACK);
	assert_int_equal(run(&ack), XDP_PASS_);
	struct ag_block_key bk;
	assert_int_equal(ag_prefix_parse("192.0.2.6", &bk), 0);
	assert_int_equal(ag_block_add(fd, -1, &bk, 0, AG_BLOCK_MANUAL), 0);
	assert_int_equal(gen(), 0);
	assert_int_equal(run(&ack), XDP_PASS_); /* no generation: not re-checked */
	assert_int_equal(ag_block_add(fd, gen_fd(), &bk, 60, AG_BLOCK_MANUAL), 0);
	uint64_t g1 = gen();
	assert_true(g1 != 0);
	assert_int_equal(run(&ack), XDP_DROP_);
	assert_int_equal(block_hits("192.0.2.6"), 1);
	assert_int_equal(ag_block_add(fd, gen_fd(), &bk, 0, AG_BLOCK_MANUAL), 0);
	assert_true(gen() != g1 && gen() != 0);
	expect_stats(3, 3, 3 * ack.len, 1, 1, 0);
}

static void ipv6_ext_headers(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt p = {0};
	eth(&p, ETH_P_IPV6, -1);
	ipv6(&p, "2001:db8::1", "2001:db8::25", 0 /* hop-by-hop */, 8 + 16 + 20);
	unsigned char hop[8] = {60 /* dest opts next */, 0, 1, 4, 0, 0, 0, 0};
	put(&p, hop, sizeof hop);
	unsigned char dst[16] = {IPPROTO_TCP, 1, 1, 12};
	put(&p, dst, sizeof dst);
	tcp(&p, 50000, 587, F_SYN, 0);
	assert_int_equal(run(&p), XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V6, "2001:db8::1", "2001:db8::25", 50000, 587);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.packets, 1);
	assert_int_equal(v.bytes, p.len);
	assert_int_equal(v.syns, 1);
	expect_stats(1, 1, p.len, 1, 0, 0);
}

static void vlan_tagged(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt p = {0};
	eth(&p, ETH_P_IP, 42);
	ipv4(&p, "192.0.2.7", "198.51.100.1", IPPROTO_TCP, 0, 25);
	tcp(&p, 41000, 465, F_ACK, 5);
	assert_int_equal(run(&p), XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.7", "198.51.100.1", 41000, 465);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.packets, 1);
	assert_int_equal(v.bytes, p.len);
	assert_int_equal(v.syns, 0);
	expect_stats(1, 1, p.len, 1, 0, 0);
}

static void ipv4_options(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt p = {0};
	eth(&p, ETH_P_IP, -1);
	ipv4(&p, "192.0.2.9", "198.51.100.1", IPPROTO_TCP, 3 /* 12 bytes */, 20);
	tcp(&p, 42000, 2525, F_RST, 0);
	assert_int_equal(run(&p), XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.9", "198.51.100.1", 42000, 2525);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.packets, 1);
	assert_int_equal(v.fin_rst, 1);
	expect_stats(1, 1, p.len, 1, 0, 0);
}

static void non_smtp_port(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt p = v4_tcp("192.0.2.1", 40000, 80, F_SYN);
	assert_int_equal(run(&p), XDP_PASS_);
	struct pkt back = v4_tcp("192.0.2.1", 25, 40000, F_SYN | F_ACK); /* from port 25 */
	assert_int_equal(run(&back), XDP_PASS_);
	assert_int_equal(nflows(), 0);
	expect_stats(2, 0, 0, 0, 0, 0);
}

static void non_tcp(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt udp = {0};
	eth(&udp, ETH_P_IP, -1);
	ipv4(&udp, "192.0.2.1", "198.51.100.1", IPPROTO_UDP, 0, 8);
	unsigned char uh[8] = {0x9c, 0x40, 0, 25, 0, 8, 0, 0};
	put(&udp, uh, sizeof uh);
	struct pkt arp = {0};
	eth(&arp, ETH_P_ARP, -1);
	memset(arp.b + arp.len, 0, 28);
	arp.len += 28;
	struct pkt icmp6 = {0};
	eth(&icmp6, ETH_P_IPV6, -1);
	ipv6(&icmp6, "2001:db8::1", "2001:db8::25", 58, 8);
	memset(icmp6.b + icmp6.len, 0, 8);
	icmp6.len += 8;
	assert_int_equal(run(&udp), XDP_PASS_);
	assert_int_equal(run(&arp), XDP_PASS_);
	assert_int_equal(run(&icmp6), XDP_PASS_);
	assert_int_equal(nflows(), 0);
	expect_stats(3, 0, 0, 0, 0, 0);
}

static void malformed(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt full = v4_tcp("192.0.2.1", 40000, 25, F_SYN);
	struct pkt p;
	/* IPv4 header cut short */
	p = full, p.len = 14 + 10;
	assert_int_equal(run(&p), XDP_PASS_);
	/* TCP header cut short */
	p = full, p.len = 14 + 20 + 12;
	assert_int_equal(run(&p), XDP_PASS_);
	/* ihl < 5 */
	p = full, p.b[14] = 0x44;
	assert_int_equal(run(&p), XDP_PASS_);
	/* ihl claims options past the end */
	p = full, p.b[14] = 0x4f, p.len = 14 + 40;
	assert_int_equal(run(&p), XDP_PASS_);
	/* TCP data offset < 5 */
	p = full, p.b[14 + 20 + 12] = 4 << 4;
	assert_int_equal(run(&p), XDP_PASS_);
	/* TCP data offset past the end */
	p = full, p.b[14 + 20 + 12] = 15 << 4;
	assert_int_equal(run(&p), XDP_PASS_);
	/* VLAN tag cut short */
	struct pkt v = {0};
	eth(&v, ETH_P_IP, 1);
	v.len = 16;
	assert_int_equal(run(&v), XDP_PASS_);
	/* IPv6 hop-by-hop header cut short */
	struct pkt x = {0};
	eth(&x, ETH_P_IPV6, -1);
	ipv6(&x, "2001:db8::1", "2001:db8::25", 0, 4);
	memset(x.b + x.len, 0, 4);
	x.len += 4;
	assert_int_equal(run(&x), XDP_PASS_);
	assert_int_equal(nflows(), 0);
	expect_stats(8, 0, 0, 0, 0, 8);
}

static void blocked_source(void **state)
{
	(void)state;
	NEED_BPF();
	block("192.0.2.0/24", 0);
	block("2001:db8:bad::/48", ag_now_ns() + 3600ull * 1000000000ull);
	struct pkt a = v4_tcp("192.0.2.77", 40000, 25, F_SYN);
	struct pkt other = v4_tcp("192.0.3.1", 40000, 25, F_SYN);
	struct pkt six = {0};
	eth(&six, ETH_P_IPV6, -1);
	ipv6(&six, "2001:db8:bad::1", "2001:db8::25", IPPROTO_TCP, 20);
	tcp(&six, 50000, 25, F_SYN, 0);
	struct pkt http = v4_tcp("192.0.2.77", 40000, 80, F_SYN); /* blocked, but not SMTP */
	assert_int_equal(run(&a), XDP_DROP_);
	assert_int_equal(run(&a), XDP_DROP_);
	assert_int_equal(run(&six), XDP_DROP_);
	assert_int_equal(run(&other), XDP_PASS_);
	assert_int_equal(run(&http), XDP_PASS_);
	assert_int_equal(block_hits("192.0.2.0/24"), 2);
	assert_int_equal(block_hits("2001:db8:bad::/48"), 1);
	assert_int_equal(nflows(), 1); /* only 192.0.3.1 */
	expect_stats(5, 4, 2 * a.len + six.len + other.len, 1, 3, 0);
}

static void expired_block(void **state)
{
	(void)state;
	NEED_BPF();
	block("192.0.2.1", 1); /* expired long ago */
	struct pkt a = v4_tcp("192.0.2.1", 40000, 25, F_SYN);
	assert_int_equal(run(&a), XDP_PASS_);
	assert_int_equal(block_hits("192.0.2.1/32"), 0);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.1", "198.51.100.1", 40000, 25);
	assert_int_equal(flow(&k).packets, 1);
	expect_stats(1, 1, a.len, 1, 0, 0);
	/* and the sweep removes it */
	assert_int_equal(ag_block_sweep(bpf_map__fd(skel->maps.blocklist), ag_now_ns()), 1);
}

static void frags_variant(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt a = v4_tcp("192.0.2.1", 40000, 25, F_SYN);
	assert_int_equal(run_prog(skel->progs.xdp_smtp_frags, &a), XDP_PASS_);
	block("192.0.2.1", 0);
	assert_int_equal(run_prog(skel->progs.xdp_smtp_frags, &a), XDP_DROP_);
	expect_stats(2, 2, 2 * a.len, 1, 1, 0);
}

static void prefixes(void **state)
{
	(void)state; /* userspace only: runs without BPF too */
	struct ag_block_key k;
	char buf[80];
	assert_int_equal(ag_prefix_parse("192.0.2.0/24", &k), 0);
	assert_int_equal(k.prefixlen, 120);
	ag_prefix_format(&k, buf, sizeof buf);
	assert_string_equal(buf, "192.0.2.0/24");
	assert_int_equal(ag_prefix_parse("2001:db8::/32", &k), 0);
	ag_prefix_format(&k, buf, sizeof buf);
	assert_string_equal(buf, "2001:db8::/32");
	assert_int_equal(ag_prefix_parse("192.0.2.1", &k), 0);
	assert_int_equal(k.prefixlen, 128);
	assert_int_equal(ag_prefix_parse("192.0.2.1/24", &k), -1); /* host bits */
	assert_int_equal(ag_prefix_parse("192.0.2.0/33", &k), -1);
	assert_int_equal(ag_prefix_parse("192.0.2.0/", &k), -1);
	assert_int_equal(ag_prefix_parse("nonsense", &k), -1);
}

static int group_setup(void **state)
{
	(void)state;
	libbpf_set_print(NULL);
	skel = smtp_flow__open_and_load();
	if (!skel) {
		snprintf(why, sizeof why, "cannot load BPF (%s): needs root and a BPF kernel",
			 strerror(errno));
		fprintf(stdout, "# %s\n", why);
		return 0;
	}
	__u8 one = 1;
	__u32 ports[] = {25, 465, 587, 2525};
	for (size_t i = 0; i < 4; i++)
		bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &ports[i], &one, BPF_ANY);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	smtp_flow__destroy(skel);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prefixes),
		cmocka_unit_test_setup(ipv4_flow, setup),
		cmocka_unit_test_setup(new_flow_entry, setup),
		cmocka_unit_test_setup(blocklist_generation, setup),
		cmocka_unit_test_setup(block_add_bumps_generation, setup),
		cmocka_unit_test_setup(ipv6_ext_headers, setup),
		cmocka_unit_test_setup(vlan_tagged, setup),
		cmocka_unit_test_setup(ipv4_options, setup),
		cmocka_unit_test_setup(non_smtp_port, setup),
		cmocka_unit_test_setup(non_tcp, setup),
		cmocka_unit_test_setup(malformed, setup),
		cmocka_unit_test_setup(blocked_source, setup),
		cmocka_unit_test_setup(expired_block, setup),
		cmocka_unit_test_setup(frags_variant, setup),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
