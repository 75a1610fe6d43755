/*
 * dns_cache — see dns_cache.h. A chained hash table (power-of-two buckets,
 * sized for max_entries at a load factor of 1) plus an intrusive doubly
 * linked LRU list. The key lives in the answer itself (name, type), so an
 * entry is two pointers, a hash and an expiry.
 */
#include "dns_cache.h"

#include "dns_answer.h"

#include <stdlib.h>
#include <string.h>

struct entry {
	struct entry *hnext;      /* bucket chain */
	struct entry *prev, *next; /* LRU: head is most recent */
	struct dns_answer *answer;
	uint64_t expires;
	uint32_t hash;
};

struct dns_cache {
	struct entry **buckets;
	size_t nbuckets; /* power of two */
	struct entry *head, *tail;
	size_t count, max;
	uint32_t max_ttl;
	struct dns_cache_stats st;
};

struct dns_cache *dns_cache_new(size_t max_entries, uint32_t max_ttl)
{
	struct dns_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->max = max_entries ? max_entries : 4096;
	c->max_ttl = max_ttl ? max_ttl : 86400;
	c->nbuckets = 16;
	while (c->nbuckets < c->max)
		c->nbuckets *= 2;
	c->buckets = calloc(c->nbuckets, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	return c;
}

static void lru_unlink(struct dns_cache *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct dns_cache *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static struct entry **bucket_slot(struct dns_cache *c, const struct entry *e)
{
	struct entry **pp = &c->buckets[e->hash & (c->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	return pp;
}

static void entry_remove(struct dns_cache *c, struct entry *e)
{
	struct entry **pp = bucket_slot(c, e);
	*pp = e->hnext;
	lru_unlink(c, e);
	dns_answer_release(e->answer);
	free(e);
	c->count--;
}

void dns_cache_flush(struct dns_cache *c)
{
	while (c->head)
		entry_remove(c, c->head);
}

void dns_cache_free(struct dns_cache *c)
{
	if (!c)
		return;
	dns_cache_flush(c);
	free(c->buckets);
	free(c);
}

static struct entry *find(struct dns_cache *c, const char *name,
			  enum dns_type type, uint32_t h)
{
	for (struct entry *e = c->buckets[h & (c->nbuckets - 1)]; e; e = e->hnext)
		if (e->hash == h && e->answer->type == type &&
		    strcmp(e->answer->name, name) == 0)
			return e;
	return NULL;
}

struct dns_answer *dns_cache_get(struct dns_cache *c, const char *name,
				 enum dns_type type, uint64_t now)
{
	uint32_t h = dns_name_hash(name, type);
	struct entry *e = find(c, name, type, h);
	if (e && now >= e->expires) {
		entry_remove(c, e);
		c->st.expired++;
		e = NULL;
	}
	if (!e) {
		c->st.misses++;
		return NULL;
	}
	c->st.hits++;
	if (c->head != e) {
		lru_unlink(c, e);
		lru_push_front(c, e);
	}
	return dns_answer_ref(e->answer);
}

void dns_cache_put(struct dns_cache *c, struct dns_answer *a, uint64_t now)
{
	bool storable = a->status == DNS_DATA || a->status == DNS_NODATA ||
			a->status == DNS_NXDOMAIN;
	if (!storable || !a->cacheable || a->ttl == 0)
		return;
	uint32_t h = dns_name_hash(a->name, a->type);
	struct entry *e = find(c, a->name, a->type, h);
	if (e)
		entry_remove(c, e);
	if (c->count >= c->max) {
		entry_remove(c, c->tail);
		c->st.evictions++;
	}
	e = calloc(1, sizeof *e);
	if (!e)
		return; /* caching is an optimisation: losing one is harmless */
	e->answer = dns_answer_ref(a);
	e->hash = h;
	e->expires = now + (a->ttl < c->max_ttl ? a->ttl : c->max_ttl);
	struct entry **b = &c->buckets[h & (c->nbuckets - 1)];
	e->hnext = *b;
	*b = e;
	lru_push_front(c, e);
	c->count++;
	c->st.inserts++;
}

void dns_cache_stats(const struct dns_cache *c, struct dns_cache_stats *out)
{
	*out = c->st;
	out->entries = c->count;
}
