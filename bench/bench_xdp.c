/*
 * bench_xdp — cost of bpf/smtp_flow.bpf.c per packet, measured in the
 * kernel with BPF_PROG_TEST_RUN (the duration the kernel reports, no
 * syscall overhead for the repeated paths):
 *   pass      a TCP segment of a flow already in `flows` (the common case)
 *   new_flow  a SYN of a flow not yet seen (each packet another source port,
 *             so one test run per packet; pass_single_run_ns is the known
 *             flow measured the same way, for the timer overhead of that)
 *   drop      a SYN from a source in `blocklist`
 *
 *   build/bench/bench_xdp [--quick | --smoke]
 *
 * Ends with one JSON line {"bench":"xdp",...}. Needs root (or CAP_BPF);
 * without it prints {"bench":"xdp","skipped":"..."} and exits 0.
 */
#include "../userspace/bpf_maps.h"
#include "smtp_flow.skel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t packet(unsigned char *b, const char *src, uint16_t sport, uint8_t flags)
{
	memset(b, 0, 14 + 20 + 20 + 100);
	b[12] = 0x08; /* IPv4 */
	struct iphdr *ip = (struct iphdr *)(b + 14);
	ip->version = 4, ip->ihl = 5, ip->ttl = 64, ip->protocol = IPPROTO_TCP;
	ip->tot_len = htons(20 + 20 + 100);
	inet_pton(AF_INET, src, &ip->saddr);
	inet_pton(AF_INET, "198.51.100.1", &ip->daddr);
	unsigned char *t = b + 34;
	t[0] = (unsigned char)(sport >> 8), t[1] = (unsigned char)sport;
	t[3] = 25;
	t[12] = 5 << 4;
	t[13] = flags;
	return 14 + 20 + 20 + 100;
}

/* Average kernel ns per run of one packet repeated n times. */
static double repeat_ns(int prog, unsigned char *b, size_t len, unsigned n, int *verdict)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b, .data_size_in = (__u32)len, .repeat = n);
	if (bpf_prog_test_run_opts(prog, &o) < 0)
		return -1;
	*verdict = (int)o.retval;
	return o.duration;
}

int main(int argc, char **argv)
{
	unsigned n = 2000000, nflows = 50000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			n = 500000, nflows = 20000;
		else if (strcmp(argv[i], "--smoke") == 0)
			n = 20000, nflows = 2000;
		else
			return fprintf(stderr, "usage: bench_xdp [--quick | --smoke]\n"), 2;
	}
	libbpf_set_print(NULL);
	struct smtp_flow *skel = smtp_flow__open_and_load();
	if (!skel) {
		printf("{\"bench\":\"xdp\",\"skipped\":\"cannot load BPF: %s (needs root)\"}\n",
		       strerror(errno));
		return 0;
	}
	__u32 port = 25;
	__u8 one = 1;
	bpf_map_update_elem(bpf_map__fd(skel->maps.ports), &port, &one, BPF_ANY);
	int prog = bpf_program__fd(skel->progs.xdp_smtp);
	unsigned char b[256];
	int v1 = 0, v2 = 0;

	/* pass: one known flow */
	size_t len = packet(b, "192.0.2.1", 40000, 0x10);
	double pass_ns = repeat_ns(prog, b, len, n, &v1);

	/* new flow: each packet another source port (and address), one run each */
	double new_total = 0;
	unsigned done = 0;
	for (unsigned i = 0; i < nflows; i++) {
		char src[32];
		snprintf(src, sizeof src, "10.%u.%u.1", (i >> 16) & 255, (i >> 8) & 255);
		len = packet(b, src, (uint16_t)(1024 + (i & 255) * 200 + (i >> 16)), 0x02);
		int v;
		double ns = repeat_ns(prog, b, len, 1, &v);
		if (ns >= 0)
			new_total += ns, done++;
	}
	/* the same single-run method on the known flow: what repeat=1 itself costs */
	double single_total = 0;
	len = packet(b, "192.0.2.1", 40000, 0x10);
	for (unsigned i = 0; i < done; i++) {
		int v;
		double ns = repeat_ns(prog, b, len, 1, &v);
		single_total += ns > 0 ? ns : 0;
	}
	struct ag_stats st;
	ag_stats_read(bpf_map__fd(skel->maps.stats), &st);

	/* drop: a blocked source */
	struct ag_block_key k;
	ag_prefix_parse("203.0.113.0/24", &k);
	ag_block_add(bpf_map__fd(skel->maps.blocklist), &k, 0, AG_BLOCK_MANUAL);
	len = packet(b, "203.0.113.9", 40000, 0x02);
	double drop_ns = repeat_ns(prog, b, len, n, &v2);

	if (pass_ns < 0 || drop_ns < 0 || !done || v1 != 2 /* XDP_PASS */ || v2 != 1 /* XDP_DROP */) {
		fprintf(stderr, "bench_xdp: test run failed (verdicts %d, %d): %s\n", v1, v2,
			strerror(errno));
		smtp_flow__destroy(skel);
		return 1;
	}
	double new_ns = new_total / done, single_ns = single_total / done;
	/* BPF_PROG_TEST_RUN reports whole ns per run; guard the division */
	printf("{\"bench\":\"xdp\",\"method\":\"BPF_PROG_TEST_RUN\",\"packet_bytes\":%zu,"
	       "\"repeat\":%u,\"new_flows\":%u,\"new_flows_created\":%llu,"
	       "\"pass_ns_per_pkt\":%.1f,\"new_flow_ns_per_pkt\":%.1f,\"pass_single_run_ns\":%.1f,"
	       "\"drop_ns_per_pkt\":%.1f,"
	       "\"pass_pkts_per_s\":%.0f,\"new_flow_pkts_per_s\":%.0f,\"drop_pkts_per_s\":%.0f}\n",
	       len, n, done, (unsigned long long)st.new_flows, pass_ns, new_ns, single_ns, drop_ns,
	       1e9 / (pass_ns > 0 ? pass_ns : 1), 1e9 / (new_ns > 0 ? new_ns : 1),
	       1e9 / (drop_ns > 0 ? drop_ns : 1));
	smtp_flow__destroy(skel);
	return 0;
}
