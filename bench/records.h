/*
 * records — the DNS data of the engine benches (bench_spf,
 * bench_senderid): one table of records, served to authgate through its
 * zone overlay and to a scripting-language peer as peer_child.h's
 * tab-separated zone file, so both answer from the same data.
 *
 * Owns: turning the table into zone-file text and into a resolver, and
 * the resolver's TTL clock (the coarse one the daemon's workers use).
 */
#ifndef AUTHGATE_BENCH_RECORDS_H
#define AUTHGATE_BENCH_RECORDS_H

#include <stddef.h>

struct dns_resolver;

struct bench_rr {
	const char *owner;
	const char *type; /* A AAAA MX TXT */
	const char *value;
};

/* A resolver over the zone overlay holding the n records (TTL 3600).
 * NULL after a message on stderr naming `who`. */
struct dns_resolver *records_resolver(const struct bench_rr *rr, size_t n, const char *who);

/* The records as "owner TAB type TAB value" lines (peer_child.h), cut
 * short at `size`. */
void records_tab_file(const struct bench_rr *rr, size_t n, char *out, size_t size);

#endif
