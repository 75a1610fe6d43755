/*
 * bench_xdp — cost of bpf/smtp_flow.bpf.c per packet, measured in the
 * kernel with BPF_PROG_TEST_RUN and a large repeat count (the duration the
 * kernel reports per repeat; no syscall in it):
 *   floor     a two-instruction XDP_PASS program: what the test-run loop
 *             itself costs per repeat, the floor under every figure
 *   pass      a TCP ACK of a flow already in `flows` (the common case)
 *   new_flow  a SYN of a flow never seen: bench/xdp_bench.bpf.c runs the
 *             program, then adds 1 to the frame's source address, so each
 *             repeat is a new flow (mutate_ns: what that write costs)
 *   drop      a SYN from a source in `blocklist`
 * each first with one entry in the blocklist (the /24 the drop frame comes
 * from), then with 4096 (/24s, /32s and IPv6 /48s besides it): *_bl.
 * Rounds alternate between the variants; figures are the median and the
 * minimum over rounds (the minimum: the run least disturbed by the rest of
 * a shared machine).
 *
 *   build/bench/bench_xdp [--quick | --smoke] [--baseline DIR]
 *
 * --baseline DIR also measures DIR/smtp_flow.bpf.o and DIR/xdp_bench.bpf.o
 * (another revision's program, built by bench/xdp_compare.sh) in the same
 * rounds and reports the ratios. Ends with one JSON line
 * {"bench":"xdp",...}. Needs root (or CAP_BPF); without it prints
 * {"bench":"xdp","skipped":"..."} and exits 0.
 */
#include "../userspace/bpf_maps.h"
#include "smtp_flow.skel.h"
#include "xdp_bench.skel.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define MAX_ROUNDS 9
#define BIG_BLOCKLIST 4096

enum metric { M_PASS, M_NEW, M_DROP, M_PASS_BL, M_NEW_BL, M_DROP_BL, M_MUTATE, M_COUNT };
static const char *const metric_name[M_COUNT] = {"pass",    "new_flow",    "drop",  "pass_bl",
						 "new_flow_bl", "drop_bl", "mutate"};

struct variant {
	const char *name;
	struct bpf_object *flow, *bench;
	int pass_prog, newflow_prog, touch_prog;
	int blocklist_fd, gen_fd;                 /* flow object's; gen -1 if it has none */
	int bench_flows_fd, bench_stats_fd, bench_blocklist_fd, bench_gen_fd;
	double ns[M_COUNT][MAX_ROUNDS];
	unsigned jited;
};

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

/* Kernel ns per repeat of one frame run n times; -1 on error or when the
 * verdict is not the one expected. The frame is copied in, so each call
 * starts from b as it is (xdp_bench changes only the kernel's copy). */
static double run(int prog, const unsigned char *b, size_t len, unsigned n, int want)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = b, .data_size_in = (__u32)len, .repeat = n);
	if (bpf_prog_test_run_opts(prog, &o) < 0)
		return -1;
	if ((int)o.retval != want) {
		fprintf(stderr, "bench_xdp: verdict %u, expected %d\n", o.retval, want);
		return -1;
	}
	return o.duration;
}

static int map_fd(struct bpf_object *o, const char *name)
{
	struct bpf_map *m = bpf_object__find_map_by_name(o, name);
	return m ? bpf_map__fd(m) : -1;
}

static int prog_fd(struct bpf_object *o, const char *name)
{
	struct bpf_program *p = bpf_object__find_program_by_name(o, name);
	return p ? bpf_program__fd(p) : -1;
}

static struct bpf_object *open_obj(const char *dir, const char *file, const void *mem, size_t sz)
{
	struct bpf_object *o;
	if (dir) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, file);
		o = bpf_object__open_file(path, NULL);
	} else {
		o = bpf_object__open_mem(mem, sz, NULL);
	}
	if (!o)
		return NULL;
	if (bpf_object__load(o) < 0) {
		bpf_object__close(o);
		return NULL;
	}
	/* port 25 is SMTP in both objects (the `ports` array of every revision) */
	__u32 port = 25;
	__u8 one = 1;
	bpf_map_update_elem(map_fd(o, "ports"), &port, &one, BPF_ANY);
	return o;
}

static int variant_load(struct variant *v, const char *name, const char *dir)
{
	size_t fsz = 0, bsz = 0;
	const void *fmem = dir ? NULL : smtp_flow__elf_bytes(&fsz);
	const void *bmem = dir ? NULL : xdp_bench__elf_bytes(&bsz);
	v->name = name;
	if (!(v->flow = open_obj(dir, "smtp_flow.bpf.o", fmem, fsz)) ||
	    !(v->bench = open_obj(dir, "xdp_bench.bpf.o", bmem, bsz)))
		return -1;
	v->pass_prog = prog_fd(v->flow, "xdp_smtp");
	v->newflow_prog = prog_fd(v->bench, "xdp_bench_newflow");
	v->touch_prog = prog_fd(v->bench, "xdp_bench_touch");
	v->blocklist_fd = map_fd(v->flow, "blocklist");
	v->gen_fd = map_fd(v->flow, "blocklist_gen");
	v->bench_flows_fd = map_fd(v->bench, "flows");
	v->bench_stats_fd = map_fd(v->bench, "stats");
	v->bench_blocklist_fd = map_fd(v->bench, "blocklist");
	v->bench_gen_fd = map_fd(v->bench, "blocklist_gen");
	struct bpf_prog_info info = {0};
	__u32 len = sizeof info;
	if (bpf_obj_get_info_by_fd(v->pass_prog, &info, &len) == 0)
		v->jited = info.jited_prog_len;
	return v->pass_prog < 0 || v->newflow_prog < 0 || v->touch_prog < 0 ? (errno = ENOENT, -1)
									      : 0;
}

static void variant_close(struct variant *v)
{
	bpf_object__close(v->flow);
	bpf_object__close(v->bench);
}

/* Delete every entry: the keys first, then the deletes (restarting the walk
 * from NULL after each delete would scan all the buckets each time). */
static void clear(int fd, size_t key_size)
{
	size_t n = 0, cap = 1024;
	unsigned char *keys = malloc(cap * key_size);
	void *prev = NULL;
	while (keys) {
		if (n == cap) {
			unsigned char *k = realloc(keys, (cap *= 2) * key_size);
			if (!k)
				break;
			keys = k;
		}
		if (bpf_map_get_next_key(fd, prev, keys + n * key_size) < 0)
			break;
		prev = keys + n++ * key_size;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * key_size);
	free(keys);
}

/* Both objects' blocklists: clear, then the /24 the drop frame comes from,
 * and with big, BIG_BLOCKLIST - 1 other entries. */
static void blocklist(struct variant *v, bool big)
{
	int fds[2][2] = {{v->blocklist_fd, v->gen_fd}, {v->bench_blocklist_fd, v->bench_gen_fd}};
	for (int i = 0; i < 2; i++) {
		struct ag_block_key k;
		clear(fds[i][0], sizeof k);
		for (unsigned j = 0; big && j < BIG_BLOCKLIST - 1; j++) {
			char s[64];
			if (j % 4 == 0)
				snprintf(s, sizeof s, "2001:db8:%x::/48", j);
			else if (j % 4 == 1)
				snprintf(s, sizeof s, "100.64.%u.%u", (j >> 8) & 255, j & 255);
			else
				snprintf(s, sizeof s, "100.%u.%u.0/24", 65 + (j >> 8), j & 255);
			ag_prefix_parse(s, &k);
			ag_block_add(fds[i][0], fds[i][1], &k, 0, AG_BLOCK_MANUAL);
		}
		ag_prefix_parse("203.0.113.0/24", &k);
		ag_block_add(fds[i][0], fds[i][1], &k, 0, AG_BLOCK_MANUAL);
	}
}

static struct ag_stats bench_stats(const struct variant *v)
{
	struct ag_stats st = {0};
	ag_stats_read(v->bench_stats_fd, &st);
	return st;
}

/* One round of every path on one variant; 0, or -1 with the reason printed. */
static int round_of(struct variant *v, int r, unsigned n, unsigned nflows)
{
	unsigned char known[256], syn[256], blocked[256];
	size_t len = packet(known, "192.0.2.1", 40000, 0x10);
	packet(syn, "10.0.0.1", 40000, 0x02);
	packet(blocked, "203.0.113.9", 40000, 0x02);
	for (int big = 0; big < 2; big++) {
		blocklist(v, big);
		/* pass: the first repeat creates the flow (or, after a new
		 * blocklist generation, re-checks it); the rest are known */
		double pass = run(v->pass_prog, known, len, n, XDP_PASS_);
		clear(v->bench_flows_fd, sizeof(struct ag_flow_key));
		uint64_t before = bench_stats(v).new_flows;
		double nf = run(v->newflow_prog, syn, len, nflows, XDP_PASS_);
		uint64_t created = bench_stats(v).new_flows - before;
		if (nf >= 0 && created != nflows) {
			fprintf(stderr, "bench_xdp: %s: %u new-flow repeats created %llu flows\n",
				v->name, nflows, (unsigned long long)created);
			return -1;
		}
		double drop = run(v->pass_prog, blocked, len, n, XDP_DROP_);
		if (pass < 0 || nf < 0 || drop < 0)
			return fprintf(stderr, "bench_xdp: %s: test run failed: %s\n", v->name,
				       strerror(errno)), -1;
		v->ns[big ? M_PASS_BL : M_PASS][r] = pass;
		v->ns[big ? M_NEW_BL : M_NEW][r] = nf;
		v->ns[big ? M_DROP_BL : M_DROP][r] = drop;
	}
	double touch = run(v->touch_prog, known, len, n, XDP_PASS_);
	double pass = run(v->pass_prog, known, len, n, XDP_PASS_);
	if (touch < 0 || pass < 0)
		return -1;
	v->ns[M_MUTATE][r] = touch - pass;
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(const double *xs, int n)
{
	double s[MAX_ROUNDS];
	memcpy(s, xs, (size_t)n * sizeof *s);
	qsort(s, (size_t)n, sizeof *s, cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double minimum(const double *xs, int n)
{
	double m = xs[0];
	for (int i = 1; i < n; i++)
		m = xs[i] < m ? xs[i] : m;
	return m;
}

static int jit_enable(void)
{
	FILE *f = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	int v = -1;
	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned n = 2000000, nflows = 50000;
	int rounds = 7;
	const char *baseline = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			n = 500000, nflows = 20000, rounds = 3;
		else if (strcmp(argv[i], "--smoke") == 0)
			n = 20000, nflows = 2000, rounds = 1;
		else if (strcmp(argv[i], "--baseline") == 0 && i + 1 < argc)
			baseline = argv[++i];
		else
			return fprintf(stderr,
				       "usage: bench_xdp [--quick | --smoke] [--baseline DIR]\n"), 2;
	}
	libbpf_set_print(NULL);
	struct variant vs[2] = {0};
	int nv = baseline ? 2 : 1;
	if (variant_load(&vs[0], "current", NULL) < 0) {
		printf("{\"bench\":\"xdp\",\"skipped\":\"cannot load BPF: %s (needs root)\"}\n",
		       strerror(errno));
		variant_close(&vs[0]);
		return 0;
	}
	if (baseline && variant_load(&vs[1], "baseline", baseline) < 0) {
		fprintf(stderr, "bench_xdp: cannot load the baseline from %s: %s\n", baseline,
			strerror(errno));
		variant_close(&vs[0]);
		variant_close(&vs[1]);
		return 1;
	}
	struct bpf_insn pass_insns[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS_},
		{.code = BPF_JMP | BPF_EXIT},
	};
	int floor_prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_floor", "GPL", pass_insns, 2, NULL);
	double floor_ns[MAX_ROUNDS];
	unsigned char frame[256];
	size_t len = packet(frame, "192.0.2.1", 40000, 0x10);
	int rc = floor_prog < 0;
	for (int r = 0; !rc && r < rounds; r++) {
		floor_ns[r] = run(floor_prog, frame, len, n, XDP_PASS_);
		/* alternate which variant goes first */
		for (int k = 0; !rc && k < nv; k++)
			rc = round_of(&vs[(r + k) % nv], r, n, nflows);
	}
	if (rc) {
		fprintf(stderr, "bench_xdp: failed\n");
		for (int i = 0; i < nv; i++)
			variant_close(&vs[i]);
		return 1;
	}
	double fl = median(floor_ns, rounds), med[2][M_COUNT], lo[2][M_COUNT];
	for (int i = 0; i < nv; i++)
		for (int m = 0; m < M_COUNT; m++) {
			med[i][m] = median(vs[i].ns[m], rounds);
			lo[i][m] = minimum(vs[i].ns[m], rounds);
		}

	printf("XDP BPF_PROG_TEST_RUN, ns per packet, median (min) of %d rounds; repeat %u, %u new"
	       " flows, _bl: %d blocklist entries\n",
	       rounds, n, nflows, BIG_BLOCKLIST);
	printf("floor (XDP_PASS, 2 insns) %.0f (%.0f) ns; bpf_jit_enable %d, xdp_smtp jited %u bytes\n",
	       fl, minimum(floor_ns, rounds), jit_enable(), vs[0].jited);
	printf("%-12s %14s%s\n", "path", "current", baseline ? "       baseline  speedup" : "");
	for (int m = 0; m < M_COUNT; m++) {
		printf("%-12s %8.0f (%3.0f)", metric_name[m], med[0][m], lo[0][m]);
		if (baseline)
			printf(" %8.0f (%3.0f)  %6.2fx", med[1][m], lo[1][m],
			       m != M_MUTATE && med[0][m] > 0 ? med[1][m] / med[0][m] : 0);
		printf("\n");
	}

	printf("{\"bench\":\"xdp\",\"method\":\"BPF_PROG_TEST_RUN\",\"packet_bytes\":%zu,"
	       "\"repeat\":%u,\"new_flows\":%u,\"rounds\":%d,\"blocklist_entries_bl\":%d,"
	       "\"bpf_jit_enable\":%d,\"jited_bytes\":%u,\"floor_ns_per_pkt\":%.1f",
	       len, n, nflows, rounds, BIG_BLOCKLIST, jit_enable(), vs[0].jited, fl);
	for (int m = 0; m < M_COUNT; m++)
		printf(",\"%s_ns_per_pkt\":%.1f,\"%s_min_ns\":%.1f", metric_name[m], med[0][m],
		       metric_name[m], lo[0][m]);
	for (int m = 0; m < M_COUNT; m++)
		if (m != M_MUTATE)
			printf(",\"%s_over_floor_ns\":%.1f", metric_name[m], med[0][m] - fl);
	printf(",\"pass_pkts_per_s\":%.0f,\"new_flow_pkts_per_s\":%.0f,\"drop_pkts_per_s\":%.0f",
	       1e9 / (med[0][M_PASS] > 0 ? med[0][M_PASS] : 1),
	       1e9 / (med[0][M_NEW] > 0 ? med[0][M_NEW] : 1),
	       1e9 / (med[0][M_DROP] > 0 ? med[0][M_DROP] : 1));
	if (baseline) {
		printf(",\"baseline\":\"%s\"", baseline);
		for (int m = 0; m < M_COUNT; m++)
			printf(",\"baseline_%s_ns_per_pkt\":%.1f,\"baseline_%s_min_ns\":%.1f",
			       metric_name[m], med[1][m], metric_name[m], lo[1][m]);
	}
	printf("}\n");
	for (int i = 0; i < nv; i++)
		variant_close(&vs[i]);
	close(floor_prog);
	return 0;
}
