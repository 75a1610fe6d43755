/* Unit tests: bpf/smtp_flow.bpf.c through BPF_PROG_TEST_RUN on packet
 * fixtures — IPv4, IPv6 with extension headers (AH, fragment, six at most),
 * 802.1Q and 802.1ad, IPv4 options and fragments, non-SMTP ports,
 * non-TCP, truncated and malformed headers (a wrong version, a short
 * ihl), SYN-ACK and RST counting, blocked and expired-block sources (at
 * the very tick too), and the blocklist generation: a known flow skips
 * the trie until blocklist_gen changes, a SYN (without ACK) never does. Each test asserts
 * the XDP verdict and the exact map contents afterwards. Then the
 * userspace side operators read: the per-CPU sum, the sweep's bounds, and
 * `authgate stats` and `authgate block` on the maps pinned in a bpffs of
 * the test's own (their exact output lines, --json, exit codes). Without
 * root/BPF every test but the prefix parser's reports a skip. */
#include <sched.h>
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
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "userspace/bpf_maps.h"
#include "userspace/commands.h"
#include "smtp_flow.skel.h"
#include "run_cmd.h"

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

/* A frame larger than a page reaches the xdp.frags program in fragments
 * (as GSO super-packets on lo do): every fragment's bytes count, in the
 * flow and in xdp_smtp_bytes. */
static void frags_count_every_byte(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt head = v4_tcp("192.0.2.13", 40013, 25, F_ACK);
	size_t len = 9000;
	unsigned char *big = calloc(1, len);
	assert_non_null(big);
	memcpy(big, head.b, head.len);
	memset(big + head.len, 'x', len - head.len);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = big, .data_size_in = (__u32)len, .repeat = 1);
	int rc = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_smtp_frags), &o);
	free(big);
	assert_int_equal(rc, 0);
	assert_int_equal(o.retval, XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.13", "198.51.100.1", 40013, 25);
	assert_int_equal(flow(&k).bytes, len);
	expect_stats(1, 1, len, 1, 0, 0);
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
	/* a length of nothing or with a sign is no length, even where /0 would do */
	assert_int_equal(ag_prefix_parse("0.0.0.0/", &k), -1);
	assert_int_equal(ag_prefix_parse("::/", &k), -1);
	assert_int_equal(ag_prefix_parse("0.0.0.0/-0", &k), -1);
	assert_int_equal(ag_prefix_parse("0.0.0.0/+0", &k), -1);
	assert_int_equal(ag_prefix_parse("192.0.2.0/ 24", &k), -1);
	assert_int_equal(ag_prefix_parse("192.0.2.0/\t24", &k), -1);
	assert_int_equal(ag_prefix_parse("192.0.2.0/024", &k), 0); /* a leading zero is a digit */
	assert_int_equal(k.prefixlen, 120);
	assert_int_equal(ag_prefix_parse("::/0", &k), 0);
	assert_int_equal(k.prefixlen, 0);
	/* the host bits go to the very last one */
	assert_int_equal(ag_prefix_parse("2001:db8::1/127", &k), -1);
	assert_int_equal(ag_prefix_parse("192.0.2.1/31", &k), -1);
	assert_int_equal(ag_prefix_parse("2001:db8::/127", &k), 0);
	/* an address of 63 characters is read, one of 64 refused, neither overruns */
	char big[80];
	memset(big, '0', 63);
	strcpy(big + 63, "/8");
	assert_int_equal(ag_prefix_parse(big, &k), -1);
	memset(big, '0', 64);
	strcpy(big + 64, "/8");
	assert_int_equal(ag_prefix_parse(big, &k), -1);
	/* IPv4 /0 is ::ffff:0:0/96; IPv6 /96 and longer stays IPv6 */
	assert_int_equal(ag_prefix_parse("0.0.0.0/0", &k), 0);
	assert_int_equal(k.prefixlen, 96);
	ag_prefix_format(&k, buf, sizeof buf);
	assert_string_equal(buf, "0.0.0.0/0");
	assert_int_equal(ag_prefix_parse("2001:db8::c000:201", &k), 0);
	ag_prefix_format(&k, buf, sizeof buf);
	assert_string_equal(buf, "2001:db8::c000:201/128");
}

/* A client's address as the verdict feedback blocks it: /32 or /128. */
static void block_key_of_client(void **state)
{
	(void)state; /* userspace only */
	struct sockaddr_storage ss;
	struct ag_block_key k, want;
	char buf[80];
	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &((struct sockaddr_in *)&ss)->sin_addr);
	ag_block_key_of(&ss, &k);
	assert_int_equal(ag_prefix_parse("192.0.2.1", &want), 0);
	assert_memory_equal(&k, &want, sizeof k);
	ag_prefix_format(&k, buf, sizeof buf);
	assert_string_equal(buf, "192.0.2.1/32");
	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_INET6;
	inet_pton(AF_INET6, "2001:db8::1", &((struct sockaddr_in6 *)&ss)->sin6_addr);
	ag_block_key_of(&ss, &k);
	assert_int_equal(ag_prefix_parse("2001:db8::1/128", &want), 0);
	assert_memory_equal(&k, &want, sizeof k);
}

/* ag_stats_read adds up every CPU's copy, each counter to its own. */
static void stats_sum_every_cpu(void **state)
{
	(void)state;
	NEED_BPF();
	int ncpu = libbpf_num_possible_cpus();
	struct ag_stats *per = calloc((size_t)ncpu, sizeof *per);
	assert_non_null(per);
	for (int i = 0; i < ncpu; i++)
		per[i] = (struct ag_stats){.packets = 1ull << i, .smtp_packets = 2ull << i,
					   .smtp_bytes = 3ull << i, .new_flows = 4ull << i,
					   .dropped_blocklist = 5ull << i,
					   .parse_errors = 6ull << i};
	__u32 zero = 0;
	int sfd = bpf_map__fd(skel->maps.stats);
	assert_int_equal(bpf_map_update_elem(sfd, &zero, per, BPF_ANY), 0);
	free(per);
	uint64_t all = (1ull << ncpu) - 1;
	expect_stats(all, 2 * all, 3 * all, 4 * all, 5 * all, 6 * all);
	/* a map without the slot: an error, not zeros */
	int fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_HASH, "nostats", 4, sizeof(struct ag_stats), 1,
				NULL);
	assert_true(fd >= 0);
	struct ag_stats s;
	assert_int_equal(ag_stats_read(fd, &s), -1);
	assert_int_equal(errno, ENOENT);
	close(fd);
}

static struct ag_block blocked(const char *prefix)
{
	struct ag_block_key k;
	struct ag_block v;
	assert_int_equal(ag_prefix_parse(prefix, &k), 0);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(skel->maps.blocklist), &k, &v), 0);
	return v;
}

/* --ttl in seconds: the expiry is that many seconds of CLOCK_MONOTONIC
 * from the add; no ttl is permanent (0). */
static void block_add_ttl(void **state)
{
	(void)state;
	NEED_BPF();
	int fd = bpf_map__fd(skel->maps.blocklist);
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse("192.0.2.0/24", &k), 0);
	assert_int_equal(ag_block_add(fd, -1, &k, 0, AG_BLOCK_VERDICTS), 0);
	struct ag_block v = blocked("192.0.2.0/24");
	assert_int_equal(v.expires_ns, 0);
	assert_int_equal(v.reason, AG_BLOCK_VERDICTS);
	uint64_t before = ag_now_ns();
	assert_int_equal(ag_block_add(fd, -1, &k, 60, AG_BLOCK_MANUAL), 0);
	uint64_t after = ag_now_ns();
	v = blocked("192.0.2.0/24");
	assert_true(v.expires_ns >= before + 60000000000ull);
	assert_true(v.expires_ns <= after + 60000000000ull);
	assert_int_equal(v.reason, AG_BLOCK_MANUAL);
}

/* The sweep removes what expired by now_ns (an expiry at now_ns too),
 * never a permanent entry, and at most 256 a round (the rest the next). */
static void sweep_bounds(void **state)
{
	(void)state;
	NEED_BPF();
	int fd = bpf_map__fd(skel->maps.blocklist);
	uint64_t now = 1000000000000ull;
	block("192.0.2.1", now);     /* expires this very ns */
	block("192.0.2.2", now + 1); /* not yet */
	block("192.0.2.3", 0);       /* permanent */
	assert_int_equal(ag_block_sweep(fd, now), 1);
	blocked("192.0.2.2");
	blocked("192.0.2.3");
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse("192.0.2.1", &k), 0);
	struct ag_block v;
	assert_true(bpf_map_lookup_elem(fd, &k, &v) < 0 && errno == ENOENT);
	for (int i = 0; i < 300; i++) {
		char p[40];
		snprintf(p, sizeof p, "10.0.%d.%d", i / 256, i % 256);
		block(p, 1);
	}
	assert_int_equal(ag_block_sweep(fd, now), 256);
	assert_int_equal(ag_block_sweep(fd, now), 44);
	assert_int_equal(ag_block_sweep(fd, now), 0);
	blocked("192.0.2.3");
}

/* ------------------------------------------------------------ the CLI */

/* A bpffs of this test's own with the skeleton's maps pinned in it, as the
 * daemon pins them in bpf.pin_dir. */
static char bpffs[] = "/tmp/authgate-bpffs.XXXXXX";
static char pins[64];
static bool mounted;
static const char *const pinned[] = {"stats", "flows", "blocklist", "blocklist_gen"};

static int pin_setup(void **state)
{
	setup(state);
	if (!skel)
		return 0;
	strcpy(bpffs, "/tmp/authgate-bpffs.XXXXXX");
	mounted = mkdtemp(bpffs) && mount("bpf", bpffs, "bpf", 0, NULL) == 0;
	snprintf(pins, sizeof pins, "%s/pins", bpffs);
	if (!mounted || mkdir(pins, 0700) < 0)
		return 0;
	struct bpf_map *maps[] = {skel->maps.stats, skel->maps.flows, skel->maps.blocklist,
				  skel->maps.blocklist_gen};
	for (size_t i = 0; i < 4; i++) {
		char path[128];
		snprintf(path, sizeof path, "%s/%s", pins, pinned[i]);
		assert_int_equal(bpf_obj_pin(bpf_map__fd(maps[i]), path), 0);
	}
	return 0;
}

static int pin_teardown(void **state)
{
	(void)state;
	if (mounted) {
		for (size_t i = 0; i < 4; i++) {
			char path[128];
			snprintf(path, sizeof path, "%s/%s", pins, pinned[i]);
			unlink(path);
		}
		rmdir(pins);
		umount(bpffs);
		mounted = false;
	}
	rmdir(bpffs);
	return 0;
}

#define NEED_PINS()            \
	do {                   \
		NEED_BPF();    \
		if (!mounted)  \
			skip(); \
	} while (0)


static void put_flow(const struct ag_flow_key *k, uint64_t packets, uint64_t bytes, uint64_t syns,
		     uint64_t fin_rst)
{
	struct ag_flow_stats v = {.packets = packets, .bytes = bytes, .syns = syns,
				  .fin_rst = fin_rst};
	assert_int_equal(bpf_map_update_elem(bpf_map__fd(skel->maps.flows), k, &v, BPF_ANY), 0);
}

/* `authgate stats`: the six counters, then the busiest flows, most packets
 * first and of those the most bytes; --top cuts (0: no flows, and no
 * header); an IPv6 address in brackets before its port in text, bare in
 * JSON (operations.md, "CLI"). */
static void cli_stats(void **state)
{
	(void)state;
	NEED_PINS();
	struct ag_flow_key a = fkey(AG_FAMILY_V4, "192.0.2.1", "198.51.100.1", 40001, 25),
			   b = fkey(AG_FAMILY_V4, "192.0.2.2", "198.51.100.1", 40002, 465),
			   c = fkey(AG_FAMILY_V6, "2001:db8::1", "2001:db8::25", 50000, 587),
			   d = fkey(AG_FAMILY_V4, "192.0.2.4", "198.51.100.1", 40004, 25),
			   e = fkey(AG_FAMILY_V4, "192.0.2.5", "198.51.100.1", 40005, 25);
	put_flow(&a, 5, 500, 1, 0);
	put_flow(&b, 9, 100, 2, 1);
	put_flow(&c, 5, 700, 0, 3);
	put_flow(&d, 1, 60, 1, 0);
	put_flow(&e, 5, 300, 1, 2);
	__u32 zero = 0;
	int ncpu = libbpf_num_possible_cpus();
	struct ag_stats *per = calloc((size_t)ncpu, sizeof *per);
	assert_non_null(per);
	per[0] = (struct ag_stats){.packets = 12, .smtp_packets = 11, .smtp_bytes = 1070,
				   .new_flows = 1, .dropped_blocklist = 2, .parse_errors = 3};
	int sfd = bpf_map__fd(skel->maps.stats);
	assert_int_equal(bpf_map_update_elem(sfd, &zero, per, BPF_ANY), 0);
	free(per);
	static const char counters[] = "xdp_packets            12\n"
				       "xdp_smtp_packets       11\n"
				       "xdp_smtp_bytes         1070\n"
				       "xdp_new_flows          1\n"
				       "xdp_dropped_blocklist  2\n"
				       "xdp_parse_errors       3\n";
	char want[4096];
	snprintf(want, sizeof want,
		 "%s\n%-40s %-40s %10s %12s %5s %5s\n"
		 "%-40s %-40s %10d %12d %5d %5d\n"
		 "%-40s %-40s %10d %12d %5d %5d\n"
		 "%-40s %-40s %10d %12d %5d %5d\n"
		 "%-40s %-40s %10d %12d %5d %5d\n",
		 counters, "source", "destination", "packets", "bytes", "syn", "fin",
		 "192.0.2.2:40002", "198.51.100.1:465", 9, 100, 2, 1,
		 "[2001:db8::1]:50000", "[2001:db8::25]:587", 5, 700, 0, 3,
		 "192.0.2.1:40001", "198.51.100.1:25", 5, 500, 1, 0,
		 "192.0.2.5:40005", "198.51.100.1:25", 5, 300, 1, 2);
	assert_int_equal(CMD(cmd_stats, "stats", "--pin-dir", pins, "--top", "4"), 0);
	assert_string_equal(out, want);
	assert_string_equal(err, "");
	assert_int_equal(CMD(cmd_stats, "stats", "--top", "0", "--pin-dir", pins), 0);
	assert_string_equal(out, counters);
	assert_int_equal(CMD(cmd_stats, "stats", "--pin-dir", pins, "--json", "--top", "2"), 0);
	assert_string_equal(out, "{\"xdp_packets\":12,\"xdp_smtp_packets\":11,"
				 "\"xdp_smtp_bytes\":1070,\"xdp_new_flows\":1,"
				 "\"xdp_dropped_blocklist\":2,\"xdp_parse_errors\":3,\"flows\":["
				 "{\"src\":\"192.0.2.2\",\"sport\":40002,\"dst\":\"198.51.100.1\","
				 "\"dport\":465,\"packets\":9,\"bytes\":100,\"syns\":2,"
				 "\"fin_rst\":1},"
				 "{\"src\":\"2001:db8::1\",\"sport\":50000,\"dst\":\"2001:db8::25\","
				 "\"dport\":587,\"packets\":5,\"bytes\":700,\"syns\":0,"
				 "\"fin_rst\":3}]}\n");
	assert_int_equal(CMD(cmd_stats, "stats", "--pin-dir", pins, "--json", "--top", "0"), 0);
	assert_true(strstr(out, "\"flows\":[]}\n") != NULL);
	/* more flows than the first allocation holds (256): every one read,
	 * and those of as many packets in the order of their bytes (here the
	 * port's order), whatever the map's */
	for (uint16_t port = 1; port <= 300; port++) {
		struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.9", "198.51.100.1", port, 25);
		put_flow(&k, 1, 1000u + port, 1, 0);
	}
	assert_int_equal(CMD(cmd_stats, "stats", "--pin-dir", pins, "--top", "1000"), 0);
	size_t lines = 0;
	unsigned long last = 301;
	for (const char *l = out, *nl; (nl = strchr(l, '\n')); l = nl + 1) {
		lines++;
		if (strncmp(l, "192.0.2.9:", 10) == 0) {
			unsigned long port = strtoul(l + 10, NULL, 10);
			assert_true(port == last - 1);
			last = port;
		}
	}
	assert_int_equal(last, 1);
	assert_int_equal(lines, 6 + 2 + 305); /* counters, blank and header, flows */
	/* the maps missing: exit 1, and why */
	assert_int_equal(CMD(cmd_stats, "stats", "--pin-dir", bpffs), 1);
	assert_string_equal(out, "");
	assert_non_null(strstr(err, "/stats: No such file or directory "
				    "(is the daemon running with XDP?)\n"));
}

/* `authgate block`: add (permanent or --ttl), list (text and --json: the
 * expiry in whole seconds rounded up, "expired", the reason, the hits),
 * del, and the exit status of each. */
static void cli_block(void **state)
{
	(void)state;
	NEED_PINS();
	assert_int_equal(CMD(cmd_block, "block", "add", "192.0.2.0/24", "--pin-dir", pins), 0);
	assert_string_equal(out, "blocked 192.0.2.0/24\n");
	uint64_t g = gen();
	assert_true(g != 0);
	uint64_t t0 = ag_now_ns();
	assert_int_equal(CMD(cmd_block, "block", "--pin-dir", pins, "add", "2001:db8::/32", "--ttl",
			     "3600"), 0);
	assert_string_equal(out, "blocked 2001:db8::/32 for 3600s\n");
	assert_true(gen() != g);
	struct ag_block v = blocked("2001:db8::/32");
	assert_true(v.expires_ns >= t0 + 3600000000000ull);
	/* an expired entry, and one the verdicts put there with hits */
	block("198.51.100.7", 1);
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse("203.0.113.9", &k), 0);
	struct ag_block hit = {.hits = 42, .reason = AG_BLOCK_VERDICTS};
	int bfd = bpf_map__fd(skel->maps.blocklist);
	assert_int_equal(bpf_map_update_elem(bfd, &k, &hit, BPF_ANY), 0);
	assert_int_equal(CMD(cmd_block, "block", "list", "--pin-dir", pins), 0);
	uint64_t t1 = ag_now_ns();
	static const char row[] = "%-44s %-10s %-9s hits=%d\n";
	char line[128];
	snprintf(line, sizeof line, row, "192.0.2.0/24", "permanent", "manual", 0);
	assert_non_null(strstr(out, line));
	snprintf(line, sizeof line, row, "198.51.100.7/32", "expired", "manual", 0);
	assert_non_null(strstr(out, line));
	snprintf(line, sizeof line, row, "203.0.113.9/32", "permanent", "verdicts", 42);
	assert_non_null(strstr(out, line));
	/* 3600 s from the add, read less than a second later: 3600s, rounded up */
	snprintf(line, sizeof line, row, "2001:db8::/32", "3600s", "manual", 0);
	if (t1 - t0 < 1000000000ull)
		assert_non_null(strstr(out, line));
	assert_int_equal(CMD(cmd_block, "block", "list", "--json", "--pin-dir", pins), 0);
	assert_non_null(strstr(out, "{\"prefix\":\"203.0.113.9/32\",\"expires\":\"permanent\","
				    "\"reason\":\"verdicts\",\"hits\":42}\n"));
	assert_non_null(strstr(out, "{\"prefix\":\"198.51.100.7/32\",\"expires\":\"expired\","
				    "\"reason\":\"manual\",\"hits\":0}\n"));
	/* del: found, then not */
	assert_int_equal(CMD(cmd_block, "block", "del", "192.0.2.0/24", "--pin-dir", pins), 0);
	assert_string_equal(out, "unblocked 192.0.2.0/24\n");
	assert_int_equal(CMD(cmd_block, "block", "del", "192.0.2.0/24", "--pin-dir", pins), 1);
	assert_string_equal(out, "");
	assert_string_equal(err, "authgate block: del 192.0.2.0/24: not in the blocklist\n");
	/* --ttl 0 is permanent, and a usage error is exit 2 */
	assert_int_equal(CMD(cmd_block, "block", "add", "192.0.2.0/25", "--ttl", "0", "--pin-dir",
			     pins), 0);
	assert_string_equal(out, "blocked 192.0.2.0/25\n");
	assert_int_equal(blocked("192.0.2.0/25").expires_ns, 0);
	assert_int_equal(CMD(cmd_block, "block", "add", "192.0.2.0/25", "192.0.2.0/26", "--pin-dir",
			     pins), 2);
	assert_int_equal(CMD(cmd_block, "block", "list", "--ttl", "5", "--pin-dir", pins), 2);
}

/* An add the kernel refuses (a blocklist pin of another key size, whose
 * trie takes no /120) exits 1 and prints nothing on stdout. */
static void cli_block_add_refused(void **state)
{
	(void)state;
	NEED_PINS();
	char dir[128], path[160];
	snprintf(dir, sizeof dir, "%s/small", bpffs);
	assert_int_equal(mkdir(dir, 0700), 0);
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	int fd = bpf_map_create(BPF_MAP_TYPE_LPM_TRIE, "blocklist", 8, sizeof(struct ag_block), 16,
				&o);
	assert_true(fd >= 0);
	snprintf(path, sizeof path, "%s/blocklist", dir);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
	int rc = CMD(cmd_block, "block", "add", "192.0.2.0/24", "--pin-dir", dir);
	unlink(path);
	rmdir(dir);
	assert_int_equal(rc, 1);
	assert_string_equal(out, "");
	assert_true(strncmp(err, "authgate block: add 192.0.2.0/24: ", 34) == 0);
}

/* ------------------------------------------------ headers, bounds, flags */

/* The IPv4 header's flags and fragment offset (bytes 6-7), host order. */
static void ipv4_frag_off(struct pkt *p, uint16_t frag_off)
{
	p->b[14 + 6] = (unsigned char)(frag_off >> 8);
	p->b[14 + 7] = (unsigned char)frag_off;
}

/* A version nibble that is not the EtherType's is malformed, and so are
 * an ihl past the end even when the protocol is not TCP and an ihl below
 * 5 even when a TCP header follows: each counts a parse error (and
 * passes). */
static void ip_version_and_length_checked(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt v4 = v4_tcp("192.0.2.1", 40000, 25, F_SYN);
	v4.b[14] = 0x65; /* version 6 in an IPv4 EtherType, ihl 5 */
	assert_int_equal(run(&v4), XDP_PASS_);
	struct pkt v6 = {0};
	eth(&v6, ETH_P_IPV6, -1);
	ipv6(&v6, "2001:db8::1", "2001:db8::25", IPPROTO_TCP, 20);
	tcp(&v6, 50000, 25, F_SYN, 0);
	v6.b[14] = 0x40; /* version 4 in an IPv6 EtherType */
	assert_int_equal(run(&v6), XDP_PASS_);
	struct pkt udp = {0};
	eth(&udp, ETH_P_IP, -1);
	ipv4(&udp, "192.0.2.1", "198.51.100.1", IPPROTO_UDP, 0, 8);
	unsigned char uh[8] = {0x9c, 0x40, 0, 25, 0, 8, 0, 0};
	put(&udp, uh, sizeof uh);
	udp.b[14] = 0x4f; /* 60 bytes of header in a 28-byte packet */
	assert_int_equal(run(&udp), XDP_PASS_);
	/* ihl 4: a 16-byte header, with a good TCP header to port 25 behind */
	struct pkt short_ihl = {0};
	eth(&short_ihl, ETH_P_IP, -1);
	struct iphdr ip = {.version = 4, .ihl = 4, .ttl = 64, .protocol = IPPROTO_TCP};
	put(&short_ihl, &ip, 16);
	tcp(&short_ihl, 40000, 25, F_SYN, 0);
	assert_int_equal(run(&short_ihl), XDP_PASS_);
	assert_int_equal(nflows(), 0);
	expect_stats(4, 0, 0, 0, 0, 4);
}

/* IPv4 fragments: the first one (offset 0, with MF or DF) carries the TCP
 * header and counts; a later one has none, even when its bytes look like
 * one to port 25, and passes uncounted without an error. */
static void ipv4_fragments(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt first = v4_tcp("192.0.2.1", 40000, 25, F_SYN);
	ipv4_frag_off(&first, 0x2000); /* MF, offset 0 */
	struct pkt df = v4_tcp("192.0.2.1", 40000, 25, F_ACK);
	ipv4_frag_off(&df, 0x4000); /* DF, as TCP sends */
	struct pkt later = v4_tcp("192.0.2.2", 40000, 25, F_SYN);
	ipv4_frag_off(&later, 0x0003); /* offset 24 octets, the last fragment */
	assert_int_equal(run(&first), XDP_PASS_);
	assert_int_equal(run(&df), XDP_PASS_);
	assert_int_equal(run(&later), XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.1", "198.51.100.1", 40000, 25);
	assert_int_equal(flow(&k).packets, 2);
	assert_int_equal(nflows(), 1);
	expect_stats(3, 2, first.len + df.len, 1, 0, 0);
}

/* An 802.1ad (QinQ service) tag is skipped like an 802.1Q one. */
static void qinq_tagged(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt p = {0};
	eth(&p, ETH_P_IP, 7);
	p.b[12] = 0x88, p.b[13] = 0xa8;
	ipv4(&p, "192.0.2.8", "198.51.100.1", IPPROTO_TCP, 0, 20);
	tcp(&p, 41001, 25, F_SYN, 0);
	assert_int_equal(run(&p), XDP_PASS_);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.8", "198.51.100.1", 41001, 25);
	assert_int_equal(flow(&k).packets, 1);
	expect_stats(1, 1, p.len, 1, 0, 0);
}

/* One IPv6 extension header: its type, its second octet, and for a
 * fragment header the offset/M field (octets 2-3). */
struct ext {
	uint8_t type, len;
	uint16_t frag;
};

/* IPv6 from 2001:db8::1 (sport) to port 25, behind the n headers of exts. */
static struct pkt v6_exts(const struct ext *exts, size_t n, uint16_t sport)
{
	struct pkt p = {0};
	eth(&p, ETH_P_IPV6, -1);
	ipv6(&p, "2001:db8::1", "2001:db8::25", n ? exts[0].type : IPPROTO_TCP, 0);
	for (size_t i = 0; i < n; i++) {
		size_t size = exts[i].type == 51   ? (exts[i].len + 2u) * 4u
			      : exts[i].type == 44 ? 8u
						   : (exts[i].len + 1u) * 8u;
		unsigned char *h = p.b + p.len;
		memset(h, 0, size);
		h[0] = i + 1 < n ? exts[i + 1].type : IPPROTO_TCP;
		h[1] = exts[i].len;
		h[2] = (unsigned char)(exts[i].frag >> 8), h[3] = (unsigned char)exts[i].frag;
		p.len += size;
	}
	tcp(&p, sport, 25, F_SYN, 0);
	return p;
}

static uint64_t v6_flow_packets(uint16_t sport)
{
	struct ag_flow_key k = fkey(AG_FAMILY_V6, "2001:db8::1", "2001:db8::25", sport, 25);
	return flow(&k).packets;
}

/* AH counts its length in 4-octet units (plus 2); a fragment header is 8
 * octets whatever its second octet says, and only a fragment offset, not
 * the M flag, makes a later fragment (no TCP header: passed uncounted). */
static void ipv6_ah_and_fragment(void **state)
{
	(void)state;
	NEED_BPF();
	struct ext ah[] = {{51, 4, 0}};         /* 24 octets */
	struct ext first[] = {{44, 1, 0x0001}}; /* offset 0, M set */
	struct ext later[] = {{44, 0, 0x0008}}; /* offset 1 (8 octets) */
	struct pkt a = v6_exts(ah, 1, 50001), f = v6_exts(first, 1, 50002),
		   l = v6_exts(later, 1, 50003);
	assert_int_equal(run(&a), XDP_PASS_);
	assert_int_equal(run(&f), XDP_PASS_);
	assert_int_equal(run(&l), XDP_PASS_);
	assert_int_equal(v6_flow_packets(50001), 1);
	assert_int_equal(v6_flow_packets(50002), 1);
	assert_int_equal(nflows(), 2);
	expect_stats(3, 2, a.len + f.len, 2, 0, 0);
}

/* Up to six extension headers are skipped (the program's bound); behind a
 * seventh TCP is not looked for. A header claiming more than 512 octets is
 * malformed even when nothing follows it (next header 59). */
static void ipv6_header_chain_bounds(void **state)
{
	(void)state;
	NEED_BPF();
	struct ext six[] = {{0, 0, 0}, {60, 0, 0}, {43, 0, 0}, {51, 0, 0}, {60, 0, 0}, {60, 0, 0}};
	struct ext seven[] = {{0, 0, 0},  {60, 0, 0}, {43, 0, 0}, {51, 0, 0},
			      {60, 0, 0}, {60, 0, 0}, {60, 0, 0}};
	struct pkt s6 = v6_exts(six, 6, 50006), s7 = v6_exts(seven, 7, 50007);
	assert_int_equal(run(&s6), XDP_PASS_);
	assert_int_equal(run(&s7), XDP_PASS_);
	assert_int_equal(v6_flow_packets(50006), 1);
	assert_int_equal(nflows(), 1);
	struct pkt big = {0};
	eth(&big, ETH_P_IPV6, -1);
	ipv6(&big, "2001:db8::1", "2001:db8::25", 0 /* hop-by-hop */, 8);
	unsigned char hop[8] = {59 /* no next header */, 255 /* 2 KiB */};
	put(&big, hop, sizeof hop);
	assert_int_equal(run(&big), XDP_PASS_);
	expect_stats(3, 1, s6.len, 1, 0, 1);
}

/* A SYN counts as one only without ACK (a SYN-ACK is no connection
 * attempt), a FIN or an RST in fin_rst, for a new flow and a known one;
 * and a known flow's last_seen_ns moves while first_seen_ns stays. */
static void flags_and_times_counted(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt synack = v4_tcp("192.0.2.10", 40010, 25, F_SYN | F_ACK);
	struct pkt rst = v4_tcp("192.0.2.10", 40010, 25, F_RST);
	struct ag_flow_key k = fkey(AG_FAMILY_V4, "192.0.2.10", "198.51.100.1", 40010, 25);
	assert_int_equal(run(&synack), XDP_PASS_);
	struct ag_flow_stats v = flow(&k);
	assert_int_equal(v.syns, 0);
	usleep(30000); /* several ticks of the coarse clock (1-10 ms each) */
	assert_int_equal(run(&synack), XDP_PASS_);
	assert_int_equal(run(&rst), XDP_PASS_);
	struct ag_flow_stats w = flow(&k);
	assert_int_equal(w.packets, 3);
	assert_int_equal(w.syns, 0);
	assert_int_equal(w.fin_rst, 1);
	assert_int_equal(w.first_seen_ns, v.first_seen_ns);
	assert_true(w.last_seen_ns > v.last_seen_ns);
}

/* Only a SYN without ACK bypasses the generation: a SYN-ACK of a known
 * flow already checked against the current generation skips the trie. */
static void synack_uses_generation(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt ack = v4_tcp("192.0.2.11", 40011, 25, F_ACK);
	struct pkt synack = v4_tcp("192.0.2.11", 40011, 25, F_SYN | F_ACK);
	assert_int_equal(run(&ack), XDP_PASS_);
	block("192.0.2.11", 0); /* no new generation */
	assert_int_equal(run(&synack), XDP_PASS_);
	assert_int_equal(block_hits("192.0.2.11"), 0);
	expect_stats(2, 2, 2 * ack.len, 1, 0, 0);
}

/* CLOCK_MONOTONIC_COARSE is the clock the program reads. */
static uint64_t coarse_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* An entry expiring at the very tick the program reads has expired (the
 * sweep's bound too, sweep_bounds): tried until a run falls within one
 * tick, which the first nearly always does. */
static void expiry_at_this_tick(void **state)
{
	(void)state;
	NEED_BPF();
	struct pkt syn = v4_tcp("192.0.2.12", 40012, 25, F_SYN);
	int same_tick = 0;
	for (int i = 0; i < 100 && !same_tick; i++) {
		uint64_t t = coarse_now();
		block("192.0.2.12", t);
		assert_int_equal(run(&syn), XDP_PASS_);
		same_tick = coarse_now() == t;
	}
	assert_true(same_tick);
	assert_int_equal(block_hits("192.0.2.12"), 0);
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

/* The bpffs mounts below live in a mount namespace of this process's own
 * (when it may make one): a crash before a teardown leaves nothing
 * mounted on the host. */
static void private_mounts(void)
{
	if (unshare(CLONE_NEWNS) == 0)
		mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

int main(void)
{
	private_mounts();
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
		cmocka_unit_test_setup(frags_count_every_byte, setup),
		cmocka_unit_test_setup(ip_version_and_length_checked, setup),
		cmocka_unit_test_setup(ipv4_fragments, setup),
		cmocka_unit_test_setup(qinq_tagged, setup),
		cmocka_unit_test_setup(ipv6_ah_and_fragment, setup),
		cmocka_unit_test_setup(ipv6_header_chain_bounds, setup),
		cmocka_unit_test_setup(flags_and_times_counted, setup),
		cmocka_unit_test_setup(synack_uses_generation, setup),
		cmocka_unit_test_setup(expiry_at_this_tick, setup),
		cmocka_unit_test(block_key_of_client),
		cmocka_unit_test_setup(stats_sum_every_cpu, setup),
		cmocka_unit_test_setup(block_add_ttl, setup),
		cmocka_unit_test_setup(sweep_bounds, setup),
		cmocka_unit_test_setup_teardown(cli_stats, pin_setup, pin_teardown),
		cmocka_unit_test_setup_teardown(cli_block, pin_setup, pin_teardown),
		cmocka_unit_test_setup_teardown(cli_block_add_refused, pin_setup, pin_teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
