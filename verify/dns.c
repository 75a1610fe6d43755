/*
 * dns — the resolver core (see dns.h). A query is answered, in order, from
 * the cache, the zone overlay, or the upstream; whatever answers, the
 * completion goes onto the ready list and runs from dispatch, so callers
 * never see a continuation re-enter them. Identical in-flight upstream
 * queries share one c-ares query (a table of pending lookups keyed by
 * name and type), which is what lets hundreds of SPF evaluations of the
 * same domain cost one round trip.
 */
#include "dns.h"

#include "dns_answer.h"
#include "dns_ares.h"
#include "dns_cache.h"
#include "dns_zone.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PENDING_BUCKETS 1024

struct dns_query {
	struct dns_query *next; /* in a pending's waiters, or the ready list */
	dns_done_fn done;
	void *arg;
	struct dns_answer *answer;
	bool cancelled;
};

struct pending {
	struct pending *hnext;
	struct dns_resolver *r;
	struct dns_query *waiters;
	uint32_t hash;
	enum dns_type type;
	int restarts;
	char name[DNS_NAME_MAX + 1];
};

/* Restarts allowed when a server returns a CNAME chain without the data at
 * its end (RFC 1034 §5.3.3: ask again for the canonical name). */
#define MAX_CNAME_RESTARTS 8

struct dns_resolver {
	struct dns_cache *cache;
	struct dns_zone *zone;
	struct dns_upstream *upstream;
	dns_clock_fn clock;
	void *clock_arg;
	struct pending *ptab[PENDING_BUCKETS];
	struct dns_query *ready_head, *ready_tail;
	struct dns_query *spare; /* finished queries kept for reuse */
	size_t nspare;
	size_t pending;
};

/* Queries are allocated per lookup on the hot path; keep a bounded pool. */
#define MAX_SPARE_QUERIES 1024

static uint64_t monotonic_seconds(void *arg)
{
	(void)arg;
	struct timespec ts;
	/* TTLs are seconds: the coarse clock is exact enough and far cheaper
	 * on a path taken once per lookup. */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec;
}

struct dns_resolver *dns_resolver_new(const struct dns_resolver_config *cfg,
				      struct dns_zone *zone,
				      struct dns_upstream *upstream)
{
	static const struct dns_resolver_config defaults;
	if (!cfg)
		cfg = &defaults;
	struct dns_resolver *r = calloc(1, sizeof *r);
	if (r)
		r->cache = dns_cache_new(cfg->cache_entries, cfg->cache_max_ttl);
	if (!r || !r->cache) {
		free(r);
		return NULL;
	}
	r->zone = zone;
	r->upstream = upstream;
	r->clock = cfg->clock ? cfg->clock : monotonic_seconds;
	r->clock_arg = cfg->clock_arg;
	return r;
}

static void free_queries(struct dns_query *q)
{
	while (q) {
		struct dns_query *next = q->next;
		dns_answer_release(q->answer);
		free(q);
		q = next;
	}
}

void dns_resolver_free(struct dns_resolver *r)
{
	if (!r)
		return;
	/* Destroying c-ares completes its queries into the pending table. */
	dns_upstream_free(r->upstream);
	for (size_t i = 0; i < PENDING_BUCKETS; i++) {
		for (struct pending *p = r->ptab[i], *next; p; p = next) {
			next = p->hnext;
			free_queries(p->waiters);
			free(p);
		}
	}
	free_queries(r->ready_head);
	free_queries(r->spare);
	dns_zone_free(r->zone);
	dns_cache_free(r->cache);
	free(r);
}

void dns_resolver_set_zone(struct dns_resolver *r, struct dns_zone *zone)
{
	dns_zone_free(r->zone);
	r->zone = zone;
	dns_cache_flush(r->cache);
}

void dns_resolver_flush_cache(struct dns_resolver *r)
{
	dns_cache_flush(r->cache);
}

static void make_ready(struct dns_resolver *r, struct dns_query *q,
		       struct dns_answer *a)
{
	q->answer = a;
	q->next = NULL;
	if (r->ready_tail)
		r->ready_tail->next = q;
	else
		r->ready_head = q;
	r->ready_tail = q;
}

static struct pending **pending_slot(struct dns_resolver *r, const char *name,
				     enum dns_type type, uint32_t h)
{
	struct pending **pp = &r->ptab[h % PENDING_BUCKETS];
	while (*pp && !((*pp)->hash == h && (*pp)->type == type &&
			strcmp((*pp)->name, name) == 0))
		pp = &(*pp)->hnext;
	return pp;
}

/* The upstream answered (ans owned by us, NULL on ENOMEM): cache it and
 * hand a reference to every waiter. */
/* A CNAME answer with nothing at the end of the chain and no SOA proving
 * the target empty: the server did not finish the chain for us. */
static bool chain_unfinished(const struct dns_answer *a)
{
	return a && a->status == DNS_NODATA && !a->cacheable &&
	       strcmp(a->name, a->canonical) != 0;
}

static void on_upstream(void *arg, struct dns_answer *ans)
{
	struct pending *p = arg;
	struct dns_resolver *r = p->r;
	if (chain_unfinished(ans) && p->restarts < MAX_CNAME_RESTARTS) {
		char target[DNS_NAME_MAX + 1];
		strcpy(target, ans->canonical);
		dns_answer_release(ans);
		p->restarts++;
		dns_upstream_query(r->upstream, target, p->type, on_upstream, p);
		return;
	}
	*pending_slot(r, p->name, p->type, p->hash) = p->hnext;
	if (!ans)
		ans = dns_answer_new_empty(p->name, p->type, DNS_TEMPFAIL,
					   DNS_WHY_NOMEM, 0);
	if (ans)
		dns_cache_put(r->cache, ans, r->clock(r->clock_arg));
	for (struct dns_query *q = p->waiters, *next; q; q = next) {
		next = q->next;
		make_ready(r, q, ans ? dns_answer_ref(ans) : NULL);
	}
	dns_answer_release(ans);
	free(p);
}

static int ask_upstream(struct dns_resolver *r, struct dns_query *q,
			const char *name, enum dns_type type)
{
	uint32_t h = dns_name_hash(name, type);
	struct pending **slot = pending_slot(r, name, type, h);
	if (*slot) {
		q->next = (*slot)->waiters;
		(*slot)->waiters = q;
		return 0;
	}
	struct pending *p = malloc(sizeof *p);
	if (!p)
		return -ENOMEM;
	p->r = r;
	p->waiters = q;
	q->next = NULL;
	p->hash = h;
	p->type = type;
	p->restarts = 0;
	strcpy(p->name, name);
	p->hnext = NULL;
	*slot = p;
	dns_upstream_query(r->upstream, name, type, on_upstream, p);
	return 0;
}

static struct dns_query *query_get(struct dns_resolver *r)
{
	struct dns_query *q = r->spare;
	if (q) {
		r->spare = q->next;
		r->nspare--;
		return q;
	}
	return malloc(sizeof *q);
}

static void query_put(struct dns_resolver *r, struct dns_query *q)
{
	dns_answer_release(q->answer);
	if (r->nspare >= MAX_SPARE_QUERIES) {
		free(q);
		return;
	}
	q->answer = NULL;
	q->next = r->spare;
	r->spare = q;
	r->nspare++;
}

struct dns_query *dns_resolve(struct dns_resolver *r, const char *name,
			      enum dns_type type, dns_done_fn done, void *arg)
{
	struct dns_query *q = query_get(r);
	if (!q) {
		errno = ENOMEM;
		return NULL;
	}
	*q = (struct dns_query){.done = done, .arg = arg};
	r->pending++;
	char norm[DNS_NAME_MAX + 1];
	struct dns_answer *a = NULL;
	if (dns_name_normalize(name, norm) < 0) {
		a = dns_answer_new_empty("", type, DNS_MALFORMED, DNS_WHY_BADNAME, 0);
	} else if ((a = dns_cache_get(r->cache, norm, type, r->clock(r->clock_arg)))) {
		/* hit */
	} else if (r->zone && (a = dns_zone_answer(r->zone, norm, type,
						   r->upstream != NULL))) {
		dns_cache_put(r->cache, a, r->clock(r->clock_arg));
	} else if (!r->upstream) {
		a = dns_answer_new_empty(norm, type, DNS_NXDOMAIN, DNS_WHY_NONE, 0);
	} else if (ask_upstream(r, q, norm, type) == 0) {
		return q;
	}
	if (!a)
		a = dns_answer_new_empty(norm, type, DNS_TEMPFAIL, DNS_WHY_NOMEM, 0);
	if (!a) {
		r->pending--;
		query_put(r, q);
		errno = ENOMEM;
		return NULL;
	}
	make_ready(r, q, a);
	return q;
}

void dns_query_cancel(struct dns_resolver *r, struct dns_query *q)
{
	if (q && !q->cancelled) {
		q->cancelled = true;
		r->pending--;
	}
}

size_t dns_resolver_pending(const struct dns_resolver *r)
{
	return r->pending;
}

size_t dns_resolver_dispatch(struct dns_resolver *r)
{
	size_t ran = 0;
	if (r->upstream) /* the queries the continuations ask for go out together */
		dns_upstream_hold(r->upstream);
	while (r->ready_head) {
		struct dns_query *q = r->ready_head;
		r->ready_head = q->next;
		if (!r->ready_head)
			r->ready_tail = NULL;
		if (!q->cancelled) {
			r->pending--;
			ran++;
			if (q->answer)
				q->done(q->arg, q->answer);
			else /* ENOMEM while fanning out: tell the waiter anyway */
				q->done(q->arg, &(struct dns_answer){
					.refs = 1, .status = DNS_TEMPFAIL,
					.why = DNS_WHY_NOMEM, .name = "", .canonical = ""});
		}
		query_put(r, q);
	}
	if (r->upstream)
		dns_upstream_release(r->upstream);
	return ran;
}

void dns_resolver_set_watch(struct dns_resolver *r, dns_watch_fn fn, void *arg)
{
	if (r->upstream)
		dns_upstream_set_watch(r->upstream, fn, arg);
}

void dns_resolver_process_fd(struct dns_resolver *r, int fd, bool readable,
			     bool writable)
{
	if (r->upstream)
		dns_upstream_process_fd(r->upstream, fd, readable, writable);
	dns_resolver_dispatch(r);
}

int dns_resolver_timeout_ms(struct dns_resolver *r)
{
	if (r->ready_head)
		return 0;
	return r->upstream ? dns_upstream_timeout_ms(r->upstream) : -1;
}

void dns_resolver_process_timeouts(struct dns_resolver *r)
{
	if (r->upstream)
		dns_upstream_process_timeouts(r->upstream);
	dns_resolver_dispatch(r);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int dns_resolver_run(struct dns_resolver *r, int max_ms)
{
	int64_t deadline = now_ms() + max_ms;
	for (;;) {
		dns_resolver_dispatch(r);
		if (r->pending == 0)
			return 0;
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int wait = dns_resolver_timeout_ms(r);
		if (wait < 0 || wait > left)
			wait = (int)left;
		struct pollfd fds[64];
		size_t n = r->upstream ? dns_upstream_pollfds(r->upstream, fds, 64) : 0;
		int rc = poll(fds, n, wait);
		if (rc < 0 && errno != EINTR)
			return -errno;
		for (size_t i = 0; rc > 0 && i < n; i++)
			if (fds[i].revents)
				dns_upstream_process_fd(
					r->upstream, fds[i].fd,
					fds[i].revents & (POLLIN | POLLERR | POLLHUP),
					fds[i].revents & POLLOUT);
		if (rc == 0 && r->upstream)
			dns_upstream_process_timeouts(r->upstream);
	}
}

void dns_resolver_cache_stats(const struct dns_resolver *r,
			      struct dns_cache_stats *out)
{
	dns_cache_stats(r->cache, out);
}
