/*
 * dns_zone — the zone overlay: an in-memory DNS read from a master file.
 *
 * Owns: parsing the RFC 1035 master-file subset ($ORIGIN, $TTL,
 * `owner [ttl] [IN] type rdata`, quoted strings with \" \\ \DDD escapes,
 * `;` comments, parentheses), the pseudo-types TIMEOUT and SERVFAIL, and
 * answering queries from it (CNAMEs followed, empty non-terminals NODATA).
 *
 * Types: A AAAA CNAME MX NS PTR SOA SPF TXT; anything else is an error
 * naming file:line. Negative answers carry the TTL of the closest enclosing
 * SOA (RFC 2308: min of its TTL and MINIMUM), else the zone's default TTL.
 * TIMEOUT/SERVFAIL at an owner: queries for types it has no records of fail
 * that way. Bounds: file size, names (253 octets, labels 63), strings
 * (255 octets), records per answer (dns_answer.h).
 *
 * A loaded zone never changes, so threads may share it: each holder takes
 * a reference (dns_zone_ref) and gives it back with dns_zone_free.
 */
#ifndef AUTHGATE_DNS_ZONE_H
#define AUTHGATE_DNS_ZONE_H

#include "dns.h"

#define DNS_ZONE_MAX_BYTES (64u << 20)

struct dns_zone_error {
	char msg[512]; /* "file:line: what is wrong" */
};

struct dns_zone *dns_zone_parse(const char *text, size_t len,
				const char *filename,
				struct dns_zone_error *err);
struct dns_zone *dns_zone_load(const char *path, struct dns_zone_error *err);
/* One more holder of z (NULL stays NULL); returns z. */
struct dns_zone *dns_zone_ref(struct dns_zone *z);
/* Gives back one reference; the last one frees the zone. */
void dns_zone_free(struct dns_zone *z);

size_t dns_zone_owner_count(const struct dns_zone *z);

/* Answer a query (name normalised). With overlay, names the zone does not
 * hold return NULL so the caller can ask upstream; otherwise absent names
 * are NXDOMAIN. Sets errno=ENOMEM and returns NULL on allocation failure. */
struct dns_answer *dns_zone_answer(const struct dns_zone *z, const char *name,
				   enum dns_type type, bool overlay);

#endif
