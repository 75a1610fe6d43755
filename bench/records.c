/*
 * records — see records.h.
 */
#include "records.h"

#include "../verify/dns.h"
#include "../verify/dns_zone.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* TTLs are whole seconds: a coarse clock is exact enough for the cache and
 * costs a fraction of CLOCK_MONOTONIC (what the daemon's workers use too). */
static uint64_t coarse_seconds(void *arg)
{
	(void)arg;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

/* The records in the overlay's zone-file syntax; NULL when out of memory. */
static char *zone_text(const struct bench_rr *rr, size_t n, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	if (!f)
		return NULL;
	fprintf(f, "$TTL 3600\n");
	for (size_t i = 0; i < n; i++) {
		if (strcmp(rr[i].type, "TXT") == 0)
			fprintf(f, "%s. TXT \"%s\"\n", rr[i].owner, rr[i].value);
		else if (strcmp(rr[i].type, "MX") == 0)
			fprintf(f, "%s. MX 10 %s.\n", rr[i].owner, rr[i].value);
		else
			fprintf(f, "%s. %s %s\n", rr[i].owner, rr[i].type, rr[i].value);
	}
	if (fclose(f) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

struct dns_resolver *records_resolver(const struct bench_rr *rr, size_t n, const char *who)
{
	size_t len = 0;
	char *text = zone_text(rr, n, &len);
	struct dns_zone_error err = {.msg = "out of memory"};
	struct dns_zone *z = text ? dns_zone_parse(text, len, "bench", &err) : NULL;
	free(text);
	if (!z) {
		fprintf(stderr, "%s: zone: %s\n", who, err.msg);
		return NULL;
	}
	struct dns_resolver_config rc = {.clock = coarse_seconds};
	struct dns_resolver *r = dns_resolver_new(&rc, z, NULL);
	if (!r)
		fprintf(stderr, "%s: resolver: out of memory\n", who);
	return r;
}

void records_tab_file(const struct bench_rr *rr, size_t n, char *out, size_t size)
{
	size_t k = 0;
	out[0] = '\0';
	for (size_t i = 0; i < n && k < size; i++)
		k += (size_t)snprintf(out + k, size - k, "%s\t%s\t%s\n", rr[i].owner, rr[i].type,
				      rr[i].value);
}
