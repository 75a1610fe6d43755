/*
 * dns — the one asynchronous resolver interface every check uses.
 *
 * Owns: query submission with continuations, the answer objects, the
 * per-resolver TTL cache in front of the backends, coalescing of identical
 * in-flight queries, and dispatch to the backends (zone overlay, c-ares).
 *
 * Contract:
 *  - dns_resolve() never blocks and never runs the continuation before it
 *    returns; completions are delivered only from dns_resolver_dispatch()
 *    (and the fd/timeout entry points, which end by dispatching). A caller
 *    may therefore submit several queries and be resumed later, in any order.
 *  - An answer is immutable and reference counted. A continuation borrows
 *    it; take dns_answer_ref() to keep it past the call.
 *  - One resolver per thread (per worker): nothing here is locked.
 *  - Lookup order: the zone overlay answers names it holds; everything else
 *    goes to the upstream (c-ares) backend; with no upstream, the overlay is
 *    the whole DNS and absent names are NXDOMAIN.
 */
#ifndef AUTHGATE_DNS_H
#define AUTHGATE_DNS_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dns_type {
	DNS_TYPE_A = 1,
	DNS_TYPE_NS = 2,
	DNS_TYPE_CNAME = 5,
	DNS_TYPE_SOA = 6,
	DNS_TYPE_PTR = 12,
	DNS_TYPE_MX = 15,
	DNS_TYPE_TXT = 16,
	DNS_TYPE_AAAA = 28,
	DNS_TYPE_SPF = 99,
};

enum dns_status {
	DNS_DATA,      /* at least one record of the asked type */
	DNS_NODATA,    /* the name exists, no record of that type */
	DNS_NXDOMAIN,  /* the name does not exist */
	DNS_TEMPFAIL,  /* timeout, SERVFAIL, refused, network: retry may help */
	DNS_MALFORMED, /* unusable answer (bad wire data, bad name, CNAME loop) */
};

/* Why a TEMPFAIL or MALFORMED answer failed; DNS_WHY_NONE otherwise. */
enum dns_why {
	DNS_WHY_NONE,
	DNS_WHY_TIMEOUT,
	DNS_WHY_SERVFAIL,
	DNS_WHY_REFUSED,
	DNS_WHY_RCODE,   /* another error rcode (FORMERR, NOTIMP, ...) */
	DNS_WHY_NETWORK,
	DNS_WHY_BADNAME,
	DNS_WHY_BADWIRE,
	DNS_WHY_CNAME_LOOP,
	DNS_WHY_NOMEM,
	DNS_WHY_CANCELLED,
};

/* A TXT record: its character-strings kept apart (lens[]) and, because they
 * are stored back to back in data, joinable for free (data, len). */
struct dns_txt {
	const uint8_t *data;
	uint32_t len;
	uint16_t nstrings;
	const uint8_t *lens; /* nstrings entries, each <= 255 */
};

struct dns_record {
	uint32_t ttl;
	union {
		struct in_addr a;
		struct in6_addr aaaa;
		struct {
			uint16_t preference;
			const char *host; /* "" for the null MX (RFC 7505) */
		} mx;
		const char *ptr; /* PTR, CNAME and NS targets */
		struct dns_txt txt;
	} u;
};

struct dns_answer {
	unsigned refs;
	enum dns_type type;
	enum dns_status status;
	enum dns_why why;
	uint32_t ttl;          /* cache lifetime: min record TTL, or RFC 2308 negative TTL */
	bool cacheable;        /* false when no TTL is known (negative without SOA) */
	const char *name;      /* the name this answer is for, lower case, no
				* trailing dot: the name asked, or the CNAME
				* target when a server left a chain unfinished
				* and the resolver asked again */
	const char *canonical; /* after following CNAMEs (== name when none) */
	unsigned count;
	const struct dns_record *records;
};

struct dns_answer *dns_answer_ref(struct dns_answer *a);
void dns_answer_release(struct dns_answer *a);

const char *dns_type_name(enum dns_type t);
int dns_type_from_name(const char *s); /* -1 when unknown */
const char *dns_status_name(enum dns_status s);
const char *dns_why_name(enum dns_why w);

/* Write the TXT record's strings joined, NUL-terminated, into buf (at most
 * size-1 bytes). Returns the joined length (which may exceed size-1). */
size_t dns_txt_join(const struct dns_txt *t, char *buf, size_t size);

/* Build an answer that carries no records: NODATA, NXDOMAIN, TEMPFAIL or
 * MALFORMED. Used by backends, tests and fuzzers alike. NULL on ENOMEM. */
struct dns_answer *dns_answer_new_empty(const char *name, enum dns_type type,
					enum dns_status status, enum dns_why why,
					uint32_t ttl);

/* --- the resolver ------------------------------------------------------ */

struct dns_resolver;
struct dns_query;
struct dns_zone;
struct dns_upstream;

typedef void (*dns_done_fn)(void *arg, struct dns_answer *answer);
/* Injectable clock, seconds; defaults to CLOCK_MONOTONIC. */
typedef uint64_t (*dns_clock_fn)(void *arg);

struct dns_resolver_config {
	size_t cache_entries;       /* 0: default 4096; bound of the LRU */
	uint32_t cache_max_ttl;     /* 0: default 86400 s */
	dns_clock_fn clock;         /* NULL: monotonic seconds */
	void *clock_arg;
};

/* The resolver takes ownership of upstream and of one reference to zone
 * (either may be NULL; with both NULL every query is NXDOMAIN). On failure
 * (NULL, out of memory) they stay the caller's. */
struct dns_resolver *dns_resolver_new(const struct dns_resolver_config *cfg,
				      struct dns_zone *zone,
				      struct dns_upstream *upstream);
void dns_resolver_free(struct dns_resolver *r);

/* Replace the zone overlay (SIGHUP reload), taking one reference to zone
 * and giving back the old one; flushes the cache. */
void dns_resolver_set_zone(struct dns_resolver *r, struct dns_zone *zone);
void dns_resolver_flush_cache(struct dns_resolver *r);

/* Submit a query. Returns a handle usable with dns_query_cancel() until the
 * continuation runs, or NULL with errno set (ENOMEM). */
struct dns_query *dns_resolve(struct dns_resolver *r, const char *name,
			      enum dns_type type, dns_done_fn done, void *arg);
/* The continuation will not run. Safe to call only before it has run. */
void dns_query_cancel(struct dns_resolver *r, struct dns_query *q);

/* Queries submitted whose continuations have not run yet. */
size_t dns_resolver_pending(const struct dns_resolver *r);
/* Deliver every completion that is ready. Returns how many ran. */
size_t dns_resolver_dispatch(struct dns_resolver *r);

/* Event-loop integration (io_uring workers, poll loops). The resolver
 * reports which sockets it wants watched through the watch callback. */
typedef void (*dns_watch_fn)(void *arg, int fd, bool readable, bool writable);
void dns_resolver_set_watch(struct dns_resolver *r, dns_watch_fn fn, void *arg);
/* An fd became readable and/or writable. Dispatches completions. */
void dns_resolver_process_fd(struct dns_resolver *r, int fd, bool readable,
			     bool writable);
/* Milliseconds until the upstream needs dns_resolver_process_timeouts();
 * -1 when nothing is waiting on a timer. 0 when completions are ready. */
int dns_resolver_timeout_ms(struct dns_resolver *r);
void dns_resolver_process_timeouts(struct dns_resolver *r);

/* A simple blocking driver for the CLI and tests: poll() until nothing is
 * pending or max_ms elapses. Returns 0, or -ETIMEDOUT. */
int dns_resolver_run(struct dns_resolver *r, int max_ms);

struct dns_cache_stats {
	uint64_t hits, misses, inserts, evictions, expired;
	size_t entries;
};
void dns_resolver_cache_stats(const struct dns_resolver *r,
			      struct dns_cache_stats *out);

#endif
