/*
 * spf_cache — parsed SPF records, keyed by the DNS answer they came from.
 *
 * Owns: a direct-mapped table of (TXT answer, selector function and its
 * argument) -> parsed record.
 * The resolver's cache hands out the same immutable answer object for as
 * long as the data is fresh, so the answer's identity is a key that
 * expires exactly with its TTL: a re-fetched answer is a new object and
 * misses. Each entry holds a reference on its answer (the address cannot
 * be reused while cached) and on its record (evaluations share it).
 *
 * One cache per thread (per worker), like the resolver: nothing is locked.
 */
#ifndef AUTHGATE_SPF_CACHE_H
#define AUTHGATE_SPF_CACHE_H

#include "spf.h"
#include "spf_record.h"

struct spf_cache_stats {
	unsigned long long hits, misses, replaced;
};

/* Look up; a hit returns a new reference on the record, else NULL. */
struct spf_record *spf_cache_get(struct spf_cache *c, const struct dns_answer *a,
				 spf_select_fn select, const void *select_arg);
/* Remember rec (the cache takes its own references). */
void spf_cache_put(struct spf_cache *c, struct dns_answer *a, spf_select_fn select,
		   const void *select_arg, struct spf_record *rec);
void spf_cache_stats(const struct spf_cache *c, struct spf_cache_stats *out);

#endif
