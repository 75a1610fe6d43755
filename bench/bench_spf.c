/*
 * bench_spf — SPF evaluations per second on one core, warm caches:
 * authgate's engine (through the resolver and its TTL cache, as the daemon
 * runs it), libspf2 (zone layer under its cache layer) and pyspf (same
 * records through its DNSLookup hook), on identical data and queries.
 *
 *   build/bench/bench_spf [SECONDS_PER_ENGINE] [--quick] [--no-pyspf]
 *                         [--only-authgate]
 *
 * --quick: 0.5 s per engine, --smoke: 0.1 s. Ends with one JSON line for
 * bench/run.sh (rates of engines not run are left out).
 *
 * Real-DNS regime (bench/spf_unbound.sh sets it up):
 *   bench_spf [--copies K] --print-unbound
 *     the bench data as unbound local-data lines, K renamed copies
 *   bench_spf --server IP:PORT [--inflight N] [--copies K] [SECONDS]
 *     authgate alone against that server through c-ares, N checks in
 *     flight (default 256) spread over K copies of the data, so that the
 *     resolver's coalescing of identical queries in flight rarely
 *     applies; no answer is cached (the data has TTL 0).
 *   bench_spf --libspf2-resolv [--copies K] [SECONDS]
 *     libspf2 against the server /etc/resolv.conf names (its resolver
 *     takes no address), one check at a time as it works, no cache: the
 *     baseline of the same regime. spf_unbound.sh runs it in a network
 *     namespace whose resolv.conf names the bench's unbound.
 *
 * Also prints each engine's answer per query: RFC 7208 §4.6.4 makes the
 * "eleven" domain a permerror; libspf2 1.2.10 answers pass.
 */
#include "peer_child.h"
#include "records.h"

#include "../verify/dns.h"
#include "../verify/dns_ares.h"
#include "../verify/dns_zone.h"
#include "../verify/spf.h"
#include "../verify/spf_cache.h"

#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <spf2/spf.h>
#include <spf2/spf_dns_cache.h>
#include <spf2/spf_dns_zone.h>

/* A realistic mix: a big provider's include chain of three under the
 * sender's own ranges and MX, plus a domain needing 11 lookups. */
static const struct bench_rr data[] = {
	{"example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 ip4:198.51.100.0/24 "
			       "ip6:2001:db8::/32 mx include:_spf1.example.com -all"},
	{"example.com", "MX", "mx1.example.com"},
	{"example.com", "MX", "mx2.example.com"},
	{"mx1.example.com", "A", "203.0.113.10"},
	{"mx2.example.com", "A", "203.0.113.11"},
	{"mx2.example.com", "AAAA", "2001:db8:ff::11"},
	{"_spf1.example.com", "TXT", "v=spf1 ip4:203.0.113.128/25 ip4:100.64.0.0/20 "
				     "include:_spf2.example.com ~all"},
	{"_spf2.example.com", "TXT", "v=spf1 ip6:2001:db8:100::/48 ip4:100.65.0.0/16 "
				     "include:_spf3.example.com ~all"},
	{"_spf3.example.com", "TXT", "v=spf1 ip4:10.20.0.0/16 ip4:10.30.0.0/16 "
				     "a:relay.example.net ?all"},
	{"relay.example.net", "A", "172.16.5.5"},
	{"eleven.example.org", "TXT", "v=spf1 a:h1.example.org a:h2.example.org "
				      "a:h3.example.org a:h4.example.org a:h5.example.org "
				      "a:h6.example.org a:h7.example.org a:h8.example.org "
				      "a:h9.example.org a:h10.example.org a:h11.example.org -all"},
	{"h1.example.org", "A", "192.0.2.201"},  {"h2.example.org", "A", "192.0.2.202"},
	{"h3.example.org", "A", "192.0.2.203"},  {"h4.example.org", "A", "192.0.2.204"},
	{"h5.example.org", "A", "192.0.2.205"},  {"h6.example.org", "A", "192.0.2.206"},
	{"h7.example.org", "A", "192.0.2.207"},  {"h8.example.org", "A", "192.0.2.208"},
	{"h9.example.org", "A", "192.0.2.209"},  {"h10.example.org", "A", "192.0.2.210"},
	{"h11.example.org", "A", "192.0.2.211"},
};

struct query {
	const char *ip, *from, *what;
};

static const struct query queries[] = {
	{"192.0.2.7", "alice@example.com", "first ip4"},
	{"2001:db8::25", "alice@example.com", "ip6"},
	{"203.0.113.11", "alice@example.com", "mx"},
	{"203.0.113.200", "bob@example.com", "include depth 1"},
	{"2001:db8:100::5", "bob@example.com", "include depth 2"},
	{"10.30.1.1", "carol@example.com", "include depth 3"},
	{"172.16.5.5", "carol@example.com", "a: at depth 3"},
	{"198.18.0.1", "mallory@example.com", "no match (fail)"},
	{"192.0.2.211", "dave@eleven.example.org", "11 lookups"},
};
#define NQ (sizeof queries / sizeof queries[0])
#define NDATA (sizeof data / sizeof data[0])

/* CPU seconds this process used (user + system). */
static double cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------------- authgate */

struct ours {
	struct dns_resolver *r;
	struct spf_config cfg;
	struct spf_request req[NQ];
	enum spf_result last;
};

static void on_done(void *arg, const struct spf_outcome *o)
{
	((struct ours *)arg)->last = o->result;
}

static enum spf_result ours_eval(struct ours *o, size_t i)
{
	if (spf_check_async(o->r, &o->req[i], &o->cfg, on_done, o))
		while (dns_resolver_pending(o->r))
			dns_resolver_dispatch(o->r);
	return o->last;
}

static int ours_init(struct ours *o)
{
	if (!(o->r = records_resolver(data, NDATA, "bench_spf")))
		return -1;
	o->cfg.cache = spf_cache_new(1024);
	for (size_t i = 0; i < NQ; i++) {
		o->req[i] = (struct spf_request){.mail_from = queries[i].from,
						 .helo = "mta.example.net"};
		spf_ip_parse(queries[i].ip, &o->req[i].ip);
	}
	return 0;
}

/* ------------------------------------------------------------ libspf2 */

static ns_type spf2_type(const char *t)
{
	return strcmp(t, "A") == 0 ? ns_t_a : strcmp(t, "AAAA") == 0 ? ns_t_aaaa
					   : strcmp(t, "MX") == 0 ? ns_t_mx : ns_t_txt;
}

static SPF_server_t *spf2_init(void)
{
	SPF_dns_server_t *zone = SPF_dns_zone_new(NULL, "bench-zone", 0);
	if (!zone)
		return NULL;
	for (size_t i = 0; i < NDATA; i++)
		SPF_dns_zone_add_str(zone, data[i].owner, spf2_type(data[i].type),
				     NETDB_SUCCESS, data[i].value);
	/* everything else does not exist (most specific entries first) */
	SPF_dns_zone_add_str(zone, "*", ns_t_any, HOST_NOT_FOUND, NULL);
	SPF_dns_server_t *cache = SPF_dns_cache_new(zone, "bench-cache", 0, 10);
	return cache ? SPF_server_new_dns(cache, 0) : NULL;
}

/* Query i of the mix, with `from` as the MAIL FROM (a renamed copy). */
static SPF_result_t spf2_check(SPF_server_t *s, size_t i, const char *from)
{
	SPF_request_t *req = SPF_request_new(s);
	SPF_response_t *resp = NULL;
	if (strchr(queries[i].ip, ':'))
		SPF_request_set_ipv6_str(req, queries[i].ip);
	else
		SPF_request_set_ipv4_str(req, queries[i].ip);
	SPF_request_set_helo_dom(req, "mta.example.net");
	SPF_request_set_env_from(req, from);
	SPF_request_query_mailfrom(req, &resp);
	SPF_result_t r = SPF_response_result(resp);
	SPF_response_free(resp);
	SPF_request_free(req);
	return r;
}

static const char *spf2_eval(SPF_server_t *s, size_t i)
{
	return SPF_strresult(spf2_check(s, i, queries[i].from));
}

/* -------------------------------------------------------------- pyspf */

static const char pyspf_script[] =
	"import sys, time, socket, spf\n"
	"zone = {}\n"
	"for line in open(sys.argv[1]):\n"
	"    o, t, v = line.rstrip('\\n').split('\\t')\n"
	"    zone.setdefault(o, []).append((t, v))\n"
	"def lookup(name, qtype, strict=True, timeout=None):\n"
	"    for t, v in zone.get(name.rstrip('.').lower(), []):\n"
	"        if t != qtype: continue\n"
	"        if t == 'TXT': v = (v.encode(),)\n"
	"        elif t == 'MX': v = (10, v)\n"
	"        elif t == 'AAAA': v = socket.inet_pton(socket.AF_INET6, v)\n"
	"        yield ((name, t), v)\n"
	"spf.DNSLookup = lookup\n"
	"qs = [l.rstrip('\\n').split('\\t') for l in open(sys.argv[2])]\n"
	"for ip, mf in qs:\n"
	"    print('answer', spf.check2(i=ip, s=mf, h='mta.example.net')[0])\n"
	"secs = float(sys.argv[3]); n = 0; t0 = time.time()\n"
	"while time.time() - t0 < secs:\n"
	"    for ip, mf in qs:\n"
	"        spf.query(i=ip, s=mf, h='mta.example.net').check()\n"
	"    n += len(qs)\n"
	"print('rate', n / (time.time() - t0))\n";

/* The bench data and queries as peer_child.h's tab-separated files. */
static void peer_files(char *zone, size_t zsize, char *qs, size_t qsize)
{
	records_tab_file(data, NDATA, zone, zsize);
	size_t n = 0;
	for (size_t i = 0; i < NQ && n < qsize; i++)
		n += (size_t)snprintf(qs + n, qsize - n, "%s\t%s\n", queries[i].ip, queries[i].from);
}

static double run_pyspf(double secs, char answers[NQ][16])
{
	char zone[8192], qs[2048];
	peer_files(zone, sizeof zone, qs, sizeof qs);
	return peer_child_run("/usr/bin/python3", pyspf_script, zone, qs, secs, answers, NQ);
}

/* ---------------------------------------------------- real-DNS regime */

/* Copy s with every "example." renamed "k<copy>-example." (copy 0 keeps
 * the names): copies of the data that no cache or coalescing can share. */
static void rename_copy(const char *s, unsigned copy, char *out, size_t size)
{
	size_t n = 0;
	while (*s && n + 16 < size) {
		if (copy && strncmp(s, "example.", 8) == 0)
			n += (size_t)snprintf(out + n, size - n, "k%u-", copy);
		out[n++] = *s++;
	}
	out[n] = '\0';
}

static void print_unbound(unsigned copies)
{
	char owner[256], value[512];
	for (unsigned k = 0; k < copies; k++)
		for (size_t i = 0; i < NDATA; i++) {
			const struct bench_rr *r = &data[i];
			rename_copy(r->owner, k, owner, sizeof owner);
			rename_copy(r->value, k, value, sizeof value);
			if (strcmp(r->type, "TXT") == 0)
				printf("local-data: '%s. 0 IN TXT \"%s\"'\n", owner, value);
			else if (strcmp(r->type, "MX") == 0)
				printf("local-data: \"%s. 0 IN MX 10 %s.\"\n", owner, value);
			else
				printf("local-data: \"%s. 0 IN %s %s\"\n", owner, r->type, value);
		}
}

struct flight {
	struct ours *o;
	struct spf_request *reqs; /* NQ per copy of the data */
	size_t nreqs;
	unsigned long started, done, by_result[SPF_PERMERROR + 1];
	unsigned inflight, max_inflight;
	double deadline;
};

static void flight_start(struct flight *f);

static void flight_done(void *arg, const struct spf_outcome *out)
{
	struct flight *f = arg;
	f->done++;
	f->inflight--;
	f->by_result[out->result]++;
	if (now_s() < f->deadline)
		flight_start(f);
}

static void flight_start(struct flight *f)
{
	/* Consecutive checks use different copies of the data. */
	size_t n = f->started++, copies = f->nreqs / NQ;
	size_t i = (n % copies) * NQ + (n / copies) % NQ;
	f->inflight++;
	if (f->inflight > f->max_inflight)
		f->max_inflight = f->inflight;
	if (!spf_check_async(f->o->r, &f->reqs[i], &f->o->cfg, flight_done, f) && errno)
		f->inflight--; /* could not start; flight_done will not run */
}

static int run_server(const char *server, unsigned inflight, unsigned copies, double secs)
{
	char err[256];
	struct dns_upstream_config uc = {.servers = server, .timeout_ms = 2000, .tries = 2};
	struct dns_upstream *up = dns_upstream_new(&uc, err, sizeof err);
	if (!up)
		return fprintf(stderr, "bench_spf: %s\n", err), 1;
	struct ours o = {.r = dns_resolver_new(NULL, NULL, up)};
	if (!o.r)
		return 1;
	o.cfg.cache = spf_cache_new(1024);
	for (size_t i = 0; i < NQ; i++) {
		o.req[i] = (struct spf_request){.mail_from = queries[i].from,
						.helo = "mta.example.net"};
		spf_ip_parse(queries[i].ip, &o.req[i].ip);
	}
	for (size_t i = 0; i < NQ; i++) {
		o.last = SPF_NONE;
		if (spf_check_async(o.r, &o.req[i], &o.cfg, on_done, &o))
			dns_resolver_run(o.r, 10000);
		printf("%-20s %-24s %s\n", queries[i].what, queries[i].ip, spf_result_name(o.last));
	}
	struct flight f = {.o = &o, .nreqs = NQ * copies};
	f.reqs = calloc(f.nreqs, sizeof *f.reqs);
	char (*froms)[128] = calloc(f.nreqs, sizeof *froms);
	if (!f.reqs || !froms)
		return 1;
	for (size_t k = 0; k < copies; k++)
		for (size_t i = 0; i < NQ; i++) {
			size_t j = k * NQ + i;
			rename_copy(queries[i].from, (unsigned)k, froms[j], sizeof froms[j]);
			f.reqs[j] = o.req[i];
			f.reqs[j].mail_from = froms[j];
		}
	double t0 = now_s(), c0 = cpu_s();
	f.deadline = t0 + secs;
	for (unsigned k = 0; k < inflight; k++)
		flight_start(&f);
	int rc = dns_resolver_run(o.r, (int)(secs * 1000) + 30000);
	double t = now_s() - t0;
	struct dns_cache_stats cs;
	dns_resolver_cache_stats(o.r, &cs);
	double cpu = cpu_s() - c0;
	printf("\nauthgate against %s: %lu evaluations in %.2f s = %.0f/s, up to %u in "
	       "flight; CPU %.2f s (%.0f us per evaluation); %lu temperror, %lu permerror; "
	       "resolver cache hits %llu, misses %llu%s\n",
	       server, f.done, t, f.done / t, f.max_inflight, cpu, cpu * 1e6 / (double)(f.done ? f.done : 1),
	       f.by_result[SPF_TEMPERROR],
	       f.by_result[SPF_PERMERROR], (unsigned long long)cs.hits,
	       (unsigned long long)cs.misses, rc < 0 ? " (resolver run timed out)" : "");
	printf("{\"bench\":\"spf_real_dns\",\"authgate_per_s\":%.0f,\"inflight\":%u,"
	       "\"data_copies\":%u,\"cpu_us_per_eval\":%.1f}\n", f.done / t, f.max_inflight, copies,
	       cpu * 1e6 / (double)(f.done ? f.done : 1));
	free(f.reqs);
	free(froms);
	spf_cache_free(o.cfg.cache);
	dns_resolver_free(o.r);
	return rc < 0;
}

/* libspf2 through its resolv layer (res_nquery, blocking), no cache. */
static int run_spf2_resolv(unsigned copies, double secs)
{
	SPF_server_t *s = SPF_server_new(SPF_DNS_RESOLV, 0);
	if (!s)
		return fprintf(stderr, "bench_spf: SPF_server_new failed\n"), 1;
	for (size_t i = 0; i < NQ; i++)
		printf("%-20s %-24s %s\n", queries[i].what, queries[i].ip, spf2_eval(s, i));
	unsigned long done = 0, temperror = 0;
	char from[128];
	double t0 = now_s(), t, c0 = cpu_s();
	while ((t = now_s() - t0) < secs) {
		size_t i = (done / copies) % NQ;
		rename_copy(queries[i].from, (unsigned)(done % copies), from, sizeof from);
		temperror += spf2_check(s, i, from) == SPF_RESULT_TEMPERROR;
		done++;
	}
	printf("\nlibspf2 (resolv layer, serial): %lu evaluations in %.2f s = %.0f/s; %lu temperror; "
	       "CPU %.2f s (%.0f us per evaluation)\n", done, t, done / t, temperror, cpu_s() - c0,
	       (cpu_s() - c0) * 1e6 / (double)(done ? done : 1));
	printf("{\"bench\":\"spf_real_dns_libspf2\",\"libspf2_per_s\":%.0f,\"data_copies\":%u,"
	       "\"cpu_us_per_eval\":%.1f}\n", done / t, copies,
	       (cpu_s() - c0) * 1e6 / (double)(done ? done : 1));
	return 0; /* no SPF_server_free(): see main() */
}

/* --------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	double secs = 3.0;
	bool only = false, py = true;
	const char *server = NULL;
	bool spf2_resolv = false;
	unsigned inflight = 256, copies = 1;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--copies") == 0 && i + 1 < argc)
			copies = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--print-unbound") == 0)
			return print_unbound(copies ? copies : 1), 0;
		if (strcmp(argv[i], "--server") == 0 && i + 1 < argc)
			server = argv[++i];
		else if (strcmp(argv[i], "--libspf2-resolv") == 0)
			spf2_resolv = true;
		else if (strcmp(argv[i], "--inflight") == 0 && i + 1 < argc)
			inflight = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--quick") == 0)
			secs = 0.5;
		else if (strcmp(argv[i], "--smoke") == 0)
			secs = 0.1;
		else if (strcmp(argv[i], "--no-pyspf") == 0)
			py = false;
		else if (strcmp(argv[i], "--only-authgate") == 0)
			only = true, py = false;
		else if (atof(argv[i]) > 0)
			secs = atof(argv[i]);
		else
			return fprintf(stderr, "usage: bench_spf [SECONDS] [--quick|--smoke] "
					       "[--no-pyspf] [--only-authgate] [--server IP:PORT "
					       "[--inflight N] [--copies K]] [--libspf2-resolv]\n"), 2;
	}
	if (spf2_resolv)
		return run_spf2_resolv(copies ? copies : 1, secs);
	if (server)
		return run_server(server, inflight ? inflight : 1, copies ? copies : 1, secs);
	struct ours o = {0};
	SPF_server_t *s2 = spf2_init();
	if (ours_init(&o) < 0 || !s2)
		return fprintf(stderr, "bench_spf: setup failed\n"), 1;
	char pyans[NQ][16] = {{0}};
	double py_rate = py ? run_pyspf(secs, pyans) : -1;

	printf("%-20s %-24s %-10s %-10s %-10s\n", "query", "client", "authgate", "libspf2", "pyspf");
	for (size_t i = 0; i < NQ; i++) /* also warms both caches */
		printf("%-20s %-24s %-10s %-10s %-10s\n", queries[i].what, queries[i].ip,
		       spf_result_name(ours_eval(&o, i)), spf2_eval(s2, i),
		       pyans[i][0] ? pyans[i] : "-");

	/* Interleave 20 ms slices of each engine, so load from other
	 * processes on this shared machine hits both alike. */
	unsigned long n1 = 0, n2 = 0;
	double ours_t = 0, spf2_t = 0;
	while (ours_t + spf2_t < 2 * secs) {
		double t0 = now_s(), t1;
		do {
			for (size_t i = 0; i < NQ; i++)
				ours_eval(&o, i);
			n1 += NQ;
		} while ((t1 = now_s()) - t0 < 0.02);
		ours_t += t1 - t0;
		if (only) {
			spf2_t += t1 - t0;
			continue;
		}
		t0 = now_s();
		do {
			for (size_t i = 0; i < NQ; i++)
				spf2_eval(s2, i);
			n2 += NQ;
		} while ((t1 = now_s()) - t0 < 0.02);
		spf2_t += t1 - t0;
	}
	double ours_rate = n1 / ours_t;
	double spf2_rate = only ? 1 : n2 / spf2_t;

	printf("\nevaluations/s, one core, warm caches, %zu-query mix:\n", NQ);
	printf("  authgate  %10.0f\n", ours_rate);
	if (!only)
		printf("  libspf2   %10.0f   authgate/libspf2 = %.1fx\n", spf2_rate,
		       ours_rate / spf2_rate);
	if (py_rate > 0)
		printf("  pyspf     %10.0f   authgate/pyspf   = %.1fx\n", py_rate, ours_rate / py_rate);
	struct dns_cache_stats cs;
	dns_resolver_cache_stats(o.r, &cs);
	struct spf_cache_stats ps;
	spf_cache_stats(o.cfg.cache, &ps);
	printf("authgate resolver cache: %llu hits, %llu misses; parsed-record cache: "
	       "%llu hits, %llu misses\n", (unsigned long long)cs.hits,
	       (unsigned long long)cs.misses, ps.hits, ps.misses);
	SPF_server_free(s2);
	printf("{\"bench\":\"spf\",\"authgate_per_s\":%.0f", ours_rate);
	if (!only)
		printf(",\"libspf2_per_s\":%.0f,\"authgate_vs_libspf2\":%.2f", spf2_rate,
		       ours_rate / spf2_rate);
	if (py_rate > 0)
		printf(",\"pyspf_per_s\":%.0f", py_rate);
	printf("}\n");
	/* No SPF_server_free(s2): libspf2 1.2.10 double-frees a server made
	 * with SPF_server_new_dns() (abort in free()); the process ends here. */
	spf_cache_free(o.cfg.cache);
	dns_resolver_free(o.r);
	return 0;
}
