/*
 * dns_cache — a bounded LRU of DNS answers keyed by (name, type), honouring
 * each answer's TTL (positive) and RFC 2308 negative TTL.
 *
 * Owns: one reference to every cached answer. Invariants: never more than
 * max_entries entries; an entry is never returned at or after its expiry;
 * TEMPFAIL/MALFORMED and non-cacheable answers are never stored. Time comes
 * from the caller (seconds), so tests drive expiry with a fake clock.
 */
#ifndef AUTHGATE_DNS_CACHE_H
#define AUTHGATE_DNS_CACHE_H

#include "dns.h"

struct dns_cache;

struct dns_cache *dns_cache_new(size_t max_entries, uint32_t max_ttl);
void dns_cache_free(struct dns_cache *c);
void dns_cache_flush(struct dns_cache *c);

/* A new reference to the cached answer, or NULL (miss or expired). name
 * must already be normalised (dns_name_normalize). */
struct dns_answer *dns_cache_get(struct dns_cache *c, const char *name,
				 enum dns_type type, uint64_t now);
/* Store (takes its own reference) unless the answer is not cacheable. */
void dns_cache_put(struct dns_cache *c, struct dns_answer *a, uint64_t now);

void dns_cache_stats(const struct dns_cache *c, struct dns_cache_stats *out);

#endif
