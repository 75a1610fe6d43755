/*
 * bench_dns — cached lookups per second on one core, through the whole
 * resolver path a check uses (dns_resolve + dispatch of the continuation),
 * beside two baselines measured in the same run:
 *   - cache probe: dns_cache_get alone (the floor of the resolver path);
 *   - uncached overlay: building each answer from the zone (what every
 *     lookup would cost without the cache).
 * Prints a table, the ratios, and one JSON line (for bench/run.sh).
 * Usage: bench_dns [--quick|--smoke]
 */
#include "verify/dns.h"
#include "verify/dns_cache.h"
#include "verify/dns_zone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NAMES 1000

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct dns_zone *make_zone(void)
{
	size_t cap = NAMES * 96, len = 0;
	char *text = malloc(cap);
	for (int i = 0; i < NAMES; i++)
		len += (size_t)snprintf(text + len, cap - len,
					"d%d.bench.test. 300 TXT \"v=spf1 ip4:192.0.2.%d -all\"\n",
					i, i % 250);
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(text, len, "bench", &err);
	free(text);
	if (!z) {
		fprintf(stderr, "bench_dns: %s\n", err.msg);
		exit(1);
	}
	return z;
}

static char names[NAMES][32];
static unsigned long sink;

static void count(void *arg, struct dns_answer *a)
{
	(void)arg;
	sink += a->count;
}

/* Run fn until min_seconds have passed; returns operations per second. */
static double rate(void (*fn)(void *, long), void *arg, double min_seconds)
{
	long n = 1000;
	for (;;) {
		double t0 = now_s();
		fn(arg, n);
		double dt = now_s() - t0;
		if (dt >= min_seconds)
			return (double)n / dt;
		n = dt > 0.001 ? (long)((double)n * min_seconds / dt * 1.1) : n * 10;
	}
}

static void via_resolver(void *arg, long n)
{
	struct dns_resolver *r = arg;
	for (long i = 0; i < n; i++) {
		dns_resolve(r, names[i % NAMES], DNS_TYPE_TXT, count, NULL);
		if ((i & 63) == 63)
			dns_resolver_dispatch(r);
	}
	dns_resolver_dispatch(r);
}

static void via_cache(void *arg, long n)
{
	struct dns_cache *c = arg;
	for (long i = 0; i < n; i++) {
		struct dns_answer *a = dns_cache_get(c, names[i % NAMES], DNS_TYPE_TXT, 1);
		sink += a->count;
		dns_answer_release(a);
	}
}

static void via_zone(void *arg, long n)
{
	struct dns_zone *z = arg;
	for (long i = 0; i < n; i++) {
		struct dns_answer *a = dns_zone_answer(z, names[i % NAMES], DNS_TYPE_TXT, false);
		sink += a->count;
		dns_answer_release(a);
	}
}

int main(int argc, char **argv)
{
	double secs = 1.0;
	if (argc > 1 && strcmp(argv[1], "--quick") == 0)
		secs = 0.3;
	else if (argc > 1 && strcmp(argv[1], "--smoke") == 0)
		secs = 0.02;
	for (int i = 0; i < NAMES; i++)
		snprintf(names[i], sizeof names[i], "d%d.bench.test", i);

	struct dns_resolver *r = dns_resolver_new(NULL, make_zone(), NULL);
	via_resolver(r, NAMES); /* warm the cache */
	struct dns_cache_stats st;
	dns_resolver_cache_stats(r, &st);
	if (st.entries != NAMES) {
		fprintf(stderr, "bench_dns: cache holds %zu, want %d\n", st.entries, NAMES);
		return 1;
	}
	struct dns_cache *c = dns_cache_new(4096, 0);
	struct dns_zone *z = make_zone();
	for (int i = 0; i < NAMES; i++) {
		struct dns_answer *a = dns_zone_answer(z, names[i], DNS_TYPE_TXT, false);
		dns_cache_put(c, a, 0);
		dns_answer_release(a);
	}

	double resolver = rate(via_resolver, r, secs);
	double probe = rate(via_cache, c, secs);
	double zone = rate(via_zone, z, secs);

	printf("%-44s %14s %8s\n", "dns (one core, 1000 names, TXT)", "lookups/s", "ratio");
	printf("%-44s %14.0f %8s\n", "resolver, warm cache (dns_resolve+dispatch)", resolver, "1.00");
	printf("%-44s %14.0f %8.2f\n", "baseline: cache probe alone", probe, probe / resolver);
	printf("%-44s %14.0f %8.2f\n", "baseline: overlay without cache", zone, zone / resolver);
	printf("{\"bench\":\"dns\",\"resolver_cached_per_s\":%.0f,\"cache_probe_per_s\":%.0f,"
	       "\"zone_uncached_per_s\":%.0f,\"resolver_vs_uncached\":%.2f}\n",
	       resolver, probe, zone, resolver / zone);
	dns_resolver_free(r);
	dns_cache_free(c);
	dns_zone_free(z);
	return sink == 0;
}
