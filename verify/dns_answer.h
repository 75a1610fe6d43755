/*
 * dns_answer — building the immutable answer objects of dns.h.
 *
 * Owns: the single-allocation layout of a struct dns_answer (header,
 * records, then the bytes of every name and TXT string), its reference
 * count, and the name normalisation every backend and the cache agree on.
 * Backends (zone overlay, wire parser) add records to a builder; finishing
 * it yields one block that is freed when the last reference goes.
 */
#ifndef AUTHGATE_DNS_ANSWER_H
#define AUTHGATE_DNS_ANSWER_H

#include "dns.h"

/* Longest name accepted anywhere (presentation form, no trailing dot). */
#define DNS_NAME_MAX 1024
/* Most records one answer may carry: bounds work on hostile answers. */
#define DNS_ANSWER_MAX_RECORDS 512

struct dns_builder;

struct dns_builder *dns_builder_new(const char *name, enum dns_type type);
void dns_builder_free(struct dns_builder *b);

int dns_builder_add_a(struct dns_builder *b, uint32_t ttl, struct in_addr a);
int dns_builder_add_aaaa(struct dns_builder *b, uint32_t ttl,
			 const struct in6_addr *a);
int dns_builder_add_mx(struct dns_builder *b, uint32_t ttl, uint16_t pref,
		       const char *host);
/* PTR, CNAME and NS: a target name. */
int dns_builder_add_name(struct dns_builder *b, uint32_t ttl,
			 const char *target);
/* TXT/SPF: nstrings strings given as (pointer, length) pairs. */
int dns_builder_add_txt(struct dns_builder *b, uint32_t ttl,
			const uint8_t *const *strings, const uint8_t *lens,
			unsigned nstrings);
int dns_builder_set_canonical(struct dns_builder *b, const char *canonical);
unsigned dns_builder_count(const struct dns_builder *b);

/* Finish: consumes the builder. DNS_DATA keeps the records added, with
 * the smallest record TTL; any other status drops them (a failure found
 * after good records is a failure) and uses the given negative ttl
 * (cacheable says whether it is meaningful). NULL on ENOMEM. */
struct dns_answer *dns_builder_finish(struct dns_builder *b,
				      enum dns_status status, enum dns_why why,
				      uint32_t neg_ttl, bool cacheable);

/* FNV-1a of a normalised name, seeded with key (a record type, or 0): the
 * one hash the cache, the pending-query table and the zone share. */
uint32_t dns_name_hash(const char *name, unsigned key);

/* Lower-case name, strip one trailing dot, into out (DNS_NAME_MAX + 1).
 * Returns length, or -1 when too long. */
int dns_name_normalize(const char *name, char *out);

#endif
