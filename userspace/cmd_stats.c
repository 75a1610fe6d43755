/*
 * cmd_stats — `authgate stats` (the XDP counters and the busiest flows),
 * `authgate verdicts` (the transaction log counted: verdicts and each
 * check's results) and `authgate block add|del|list` (the XDP
 * blocklist), all on the maps the daemon pinned under bpf.pin_dir. They
 * need no running daemon, only the pins (and the privileges to open
 * them).
 */
#include "bpf_maps.h"
#include "cli.h"
#include "commands.h"
#include "verdict_stats.h"

#include "../verify/auth_result.h"

#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char stats_usage[] =
	"usage: authgate stats [--pin-dir DIR] [--json] [--top N]\n\n"
	"Print the XDP program's global counters, then the busiest flows\n"
	"(source, destination, packets, bytes) from the maps pinned in DIR\n"
	"(default " AG_PIN_DIR_DEFAULT ").\n\n"
	"options:\n"
	"  --pin-dir DIR  where the daemon pinned its maps (bpf.pin_dir)\n"
	"  --json         one JSON object instead of text\n"
	"  --top N        how many flows (default 10, 0: none)\n"
	"exit status: 0 ok, 1 the maps cannot be opened, 2 usage error.\n";

static const char verdicts_usage[] =
	"usage: authgate verdicts [--pin-dir DIR] [--json]\n\n"
	"Print the daemon's transaction counters from DIR/verdicts (default\n"
	AG_PIN_DIR_DEFAULT "): one per verdict of the transaction log, then\n"
	"each check's results (spf.fail: transactions whose SPF check failed).\n"
	"They go on across restarts of the daemon; remove the pin to reset them.\n\n"
	"options:\n"
	"  --pin-dir DIR  where the daemon pinned its maps (bpf.pin_dir)\n"
	"  --json         one JSON object instead of text\n"
	"exit status: 0 ok, 1 the map cannot be opened, 2 usage error.\n";

static const char block_usage[] =
	"usage: authgate block add PREFIX [--ttl SECONDS] [--pin-dir DIR]\n"
	"       authgate block del PREFIX [--pin-dir DIR]\n"
	"       authgate block list [--pin-dir DIR] [--json]\n\n"
	"Edit the XDP blocklist: packets from a blocked source to the SMTP ports\n"
	"are dropped before the kernel's TCP stack sees them. PREFIX is an\n"
	"address or CIDR prefix, IPv4 or IPv6 (192.0.2.0/24, 2001:db8::/32).\n\n"
	"options:\n"
	"  --ttl SECONDS  expire after this long (default 0: permanent)\n"
	"  --pin-dir DIR  where the daemon pinned its maps (default " AG_PIN_DIR_DEFAULT ")\n"
	"  --json         list as JSON lines\n"
	"exit status: 0 ok, 1 the map cannot be opened or changed (del: not\n"
	"found), 2 usage error.\n";

struct flow_row {
	struct ag_flow_key k;
	struct ag_flow_stats v;
};

static int by_packets(const void *a, const void *b)
{
	const struct flow_row *x = a, *y = b;
	if (x->v.packets != y->v.packets)
		return x->v.packets < y->v.packets ? 1 : -1;
	return x->v.bytes < y->v.bytes ? 1 : x->v.bytes > y->v.bytes ? -1 : 0;
}

static int open_pin(const char *cmd, const char *dir, const char *name)
{
	int fd = ag_pin_open(dir, name);
	if (fd < 0)
		fprintf(stderr, "authgate %s: %s/%s: %s%s\n", cmd, dir, name, strerror(errno),
			errno == ENOENT ? " (is the daemon running with XDP?)" : "");
	return fd;
}

static size_t read_flows(int fd, struct flow_row **out)
{
	size_t n = 0, cap = 256;
	struct flow_row *rows = malloc(cap * sizeof *rows);
	struct ag_flow_key key, next;
	void *prev = NULL;
	while (rows && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (n == cap) {
			struct flow_row *r = realloc(rows, (cap *= 2) * sizeof *rows);
			if (!r)
				break;
			rows = r;
		}
		if (bpf_map_lookup_elem(fd, &key, &rows[n].v) == 0)
			rows[n++].k = key;
	}
	*out = rows;
	return rows ? n : 0;
}

int cmd_stats(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-dir", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"top", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = AG_PIN_DIR_DEFAULT;
	bool json = false;
	long top = 10;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(stats_usage, stdout), 0;
		else if (c == 'p')
			dir = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 't') {
			if (cli_parse_int(optarg, 0, 1000000, &top) < 0)
				return cli_usage_error("stats", "--top wants a number, not '%s'", optarg);
		} else
			return cli_bad_option("stats", argv);
	}
	if (optind != argc)
		return cli_usage_error("stats", "unexpected argument '%s'", argv[optind]);
	int sfd = open_pin("stats", dir, "stats");
	if (sfd < 0)
		return 1;
	int ffd = open_pin("stats", dir, "flows");
	if (ffd < 0)
		return close(sfd), 1;
	struct ag_stats st;
	if (ag_stats_read(sfd, &st) < 0) {
		fprintf(stderr, "authgate stats: %s/stats: %s\n", dir, strerror(errno));
		return close(sfd), close(ffd), 1;
	}
	struct flow_row *rows;
	size_t n = read_flows(ffd, &rows);
	qsort(rows, n, sizeof *rows, by_packets);
	if ((size_t)top < n)
		n = (size_t)top;
	const char *names[] = {"xdp_packets", "xdp_smtp_packets", "xdp_smtp_bytes",
			       "xdp_new_flows", "xdp_dropped_blocklist", "xdp_parse_errors"};
	unsigned long long vals[] = {st.packets, st.smtp_packets, st.smtp_bytes,
				     st.new_flows, st.dropped_blocklist, st.parse_errors};
	if (json) {
		printf("{");
		for (size_t i = 0; i < 6; i++)
			printf("\"%s\":%llu,", names[i], vals[i]);
		printf("\"flows\":[");
	} else {
		for (size_t i = 0; i < 6; i++)
			printf("%-22s %llu\n", names[i], vals[i]);
		if (n)
			printf("\n%-40s %-40s %10s %12s %5s %5s\n", "source", "destination", "packets",
			       "bytes", "syn", "fin");
	}
	for (size_t i = 0; i < n; i++) {
		char sa[64], da[64], s[80], d[80];
		const struct ag_flow_key *k = &rows[i].k;
		const struct ag_flow_stats *v = &rows[i].v;
		ag_flow_addr_format(k, true, sa, sizeof sa);
		ag_flow_addr_format(k, false, da, sizeof da);
		const char *fmt = k->family == AG_FAMILY_V6 ? "[%s]:%u" : "%s:%u";
		snprintf(s, sizeof s, fmt, sa, k->sport);
		snprintf(d, sizeof d, fmt, da, k->dport);
		if (json)
			printf("%s{\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,"
			       "\"packets\":%llu,\"bytes\":%llu,\"syns\":%llu,\"fin_rst\":%llu}",
			       i ? "," : "", sa, k->sport, da, k->dport,
			       (unsigned long long)v->packets, (unsigned long long)v->bytes,
			       (unsigned long long)v->syns, (unsigned long long)v->fin_rst);
		else
			printf("%-40s %-40s %10llu %12llu %5llu %5llu\n", s, d,
			       (unsigned long long)v->packets, (unsigned long long)v->bytes,
			       (unsigned long long)v->syns, (unsigned long long)v->fin_rst);
	}
	if (json)
		printf("]}\n");
	free(rows);
	close(sfd);
	close(ffd);
	return 0;
}

static unsigned long long counter(const struct ag_verdicts *v, size_t offset)
{
	return *(const __u64 *)((const char *)v + offset);
}

/* Every counter by its field name: the verdicts, then each check's results
 * ("spf.fail", or in JSON "spf":{"fail":...}). */
static void print_verdicts(const struct ag_verdicts *v, bool json)
{
	if (json)
		printf("{\"transactions\":%llu", (unsigned long long)v->transactions);
	else
		printf("%-22s %llu\n", "transactions", (unsigned long long)v->transactions);
	for (size_t i = 0; i < AG_VERDICT_FIELDS; i++) {
		const struct ag_verdict_field *f = &ag_verdict_fields[i];
		if (json)
			printf(",\"%s\":%llu", f->name, counter(v, f->offset));
		else
			printf("%-22s %llu\n", f->name, counter(v, f->offset));
	}
	for (size_t c = 0; c < AG_VERDICT_CHECKS; c++) {
		const struct ag_verdict_field *f = &ag_verdict_checks[c];
		if (json)
			printf(",\"%s\":{", f->name);
		for (int r = 0; r < AUTH_RESULT_COUNT; r++) {
			unsigned long long n = counter(v, f->offset + (size_t)r * sizeof(__u64));
			if (json)
				printf("%s\"%s\":%llu", r ? "," : "", auth_result_name(r), n);
			else
				printf("%s.%-*s %llu\n", f->name, (int)(21 - strlen(f->name)),
				       auth_result_name(r), n);
		}
		if (json)
			printf("}");
	}
	if (json)
		printf("}\n");
}

int cmd_verdicts(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-dir", required_argument, NULL, 'p'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = AG_PIN_DIR_DEFAULT;
	bool json = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(verdicts_usage, stdout), 0;
		else if (c == 'p')
			dir = optarg;
		else if (c == 'j')
			json = true;
		else
			return cli_bad_option("verdicts", argv);
	}
	if (optind != argc)
		return cli_usage_error("verdicts", "unexpected argument '%s'", argv[optind]);
	int fd = ag_pin_open(dir, "verdicts");
	if (fd < 0) {
		fprintf(stderr, "authgate verdicts: %s/verdicts: %s%s\n", dir, strerror(errno),
			errno == ENOENT ? " (has a daemon with this bpf.pin_dir run?)" : "");
		return 1;
	}
	struct ag_verdicts v;
	int rc = verdict_stats_read(fd, &v);
	close(fd);
	if (rc < 0) {
		if (errno == EPROTO)
			fprintf(stderr, "authgate verdicts: %s/verdicts: not the layout of this "
				"version (pinned by another authgate?)\n", dir);
		else
			fprintf(stderr, "authgate verdicts: %s/verdicts: %s\n", dir, strerror(errno));
		return 1;
	}
	print_verdicts(&v, json);
	return 0;
}

static int block_list(int fd, bool json)
{
	struct ag_block_key key, next;
	struct ag_block v;
	void *prev = NULL;
	uint64_t now = ag_now_ns();
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) < 0)
			continue;
		char p[80], exp[40];
		ag_prefix_format(&key, p, sizeof p);
		if (!v.expires_ns)
			snprintf(exp, sizeof exp, "permanent");
		else if (v.expires_ns <= now)
			snprintf(exp, sizeof exp, "expired");
		else
			snprintf(exp, sizeof exp, "%llus",
				 (unsigned long long)((v.expires_ns - now + 999999999) / 1000000000));
		if (json)
			printf("{\"prefix\":\"%s\",\"expires\":\"%s\",\"reason\":\"%s\",\"hits\":%llu}\n",
			       p, exp, ag_block_reason_name(v.reason), (unsigned long long)v.hits);
		else
			printf("%-44s %-10s %-9s hits=%llu\n", p, exp, ag_block_reason_name(v.reason),
			       (unsigned long long)v.hits);
	}
	return 0;
}

int cmd_block(int argc, char **argv)
{
	static const struct option opts[] = {
		{"pin-dir", required_argument, NULL, 'p'},
		{"ttl", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *dir = AG_PIN_DIR_DEFAULT;
	long ttl = 0;
	bool json = false, have_ttl = false;
	int c;
	opterr = 0;
	/* options may follow the action and the prefix (no '+') */
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(block_usage, stdout), 0;
		else if (c == 'p')
			dir = optarg;
		else if (c == 'j')
			json = true;
		else if (c == 't') {
			if (cli_parse_int(optarg, 0, 31536000L * 10, &ttl) < 0)
				return cli_usage_error("block", "--ttl wants seconds, not '%s'", optarg);
			have_ttl = true;
		} else
			return cli_bad_option("block", argv);
	}
	if (optind >= argc)
		return cli_usage_error("block", "missing action (add, del or list)");
	const char *action = argv[optind++];
	bool add = strcmp(action, "add") == 0, del = strcmp(action, "del") == 0,
	     list = strcmp(action, "list") == 0;
	if (!add && !del && !list)
		return cli_usage_error("block", "unknown action '%s' (add, del or list)", action);
	struct ag_block_key k;
	if (!list) {
		if (optind >= argc)
			return cli_usage_error("block", "%s needs a PREFIX", action);
		if (ag_prefix_parse(argv[optind], &k) < 0)
			return cli_usage_error("block", "'%s' is not an address or prefix",
					       argv[optind]);
		optind++;
	}
	if (optind != argc)
		return cli_usage_error("block", "unexpected argument '%s'", argv[optind]);
	if (have_ttl && !add)
		return cli_usage_error("block", "--ttl only goes with add");
	int fd = open_pin("block", dir, "blocklist");
	if (fd < 0)
		return 1;
	int rc = 0;
	char text[80];
	if (list) {
		rc = block_list(fd, json);
	} else if (add) {
		ag_prefix_format(&k, text, sizeof text);
		/* no blocklist_gen pin (a daemon of an older layout): nothing to bump */
		int gen_fd = ag_pin_open(dir, "blocklist_gen");
		if (ag_block_add(fd, gen_fd, &k, (uint64_t)ttl, AG_BLOCK_MANUAL) < 0)
			fprintf(stderr, "authgate block: add %s: %s\n", text, strerror(errno)), rc = 1;
		else if (ttl)
			printf("blocked %s for %lds\n", text, ttl);
		else
			printf("blocked %s\n", text);
		if (gen_fd >= 0)
			close(gen_fd);
	} else {
		ag_prefix_format(&k, text, sizeof text);
		if (ag_block_del(fd, &k) < 0)
			fprintf(stderr, "authgate block: del %s: %s\n", text,
				errno == ENOENT ? "not in the blocklist" : strerror(errno)), rc = 1;
		else
			printf("unblocked %s\n", text);
	}
	close(fd);
	return rc;
}
