/*
 * spf_cache — see spf_cache.h. Direct-mapped: a colliding insert replaces
 * the old entry, which bounds memory and work with no eviction list.
 */
#include "spf_cache.h"

#include <stdint.h>
#include <stdlib.h>

struct entry {
	struct dns_answer *answer; /* NULL: empty slot */
	spf_select_fn select;
	const void *select_arg;
	struct spf_record *rec;
};

struct spf_cache {
	size_t mask;
	struct spf_cache_stats stats;
	struct entry *slots;
};

struct spf_cache *spf_cache_new(size_t entries)
{
	size_t n = 64;
	while (n < entries && n < ((size_t)1 << 24))
		n <<= 1;
	struct spf_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->slots = calloc(n, sizeof *c->slots);
	if (!c->slots) {
		free(c);
		return NULL;
	}
	c->mask = n - 1;
	return c;
}

static void entry_clear(struct entry *e)
{
	if (!e->answer)
		return;
	dns_answer_release(e->answer);
	spf_record_release(e->rec);
	*e = (struct entry){0};
}

void spf_cache_free(struct spf_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		entry_clear(&c->slots[i]);
	free(c->slots);
	free(c);
}

static struct entry *slot_of(const struct spf_cache *c, const struct dns_answer *a)
{
	uintptr_t k = (uintptr_t)a;
	k ^= k >> 17;
	k *= (uintptr_t)0x9e3779b97f4a7c15ull;
	return &c->slots[(k >> 20) & c->mask];
}

struct spf_record *spf_cache_get(struct spf_cache *c, const struct dns_answer *a,
				 spf_select_fn select, const void *select_arg)
{
	struct entry *e = slot_of(c, a);
	if (e->answer == a && e->select == select && e->select_arg == select_arg) {
		c->stats.hits++;
		return spf_record_ref(e->rec);
	}
	c->stats.misses++;
	return NULL;
}

void spf_cache_put(struct spf_cache *c, struct dns_answer *a, spf_select_fn select,
		   const void *select_arg, struct spf_record *rec)
{
	struct entry *e = slot_of(c, a);
	if (e->answer)
		c->stats.replaced++;
	entry_clear(e);
	e->answer = dns_answer_ref(a);
	e->select = select;
	e->select_arg = select_arg;
	e->rec = spf_record_ref(rec);
}

void spf_cache_stats(const struct spf_cache *c, struct spf_cache_stats *out)
{
	*out = c->stats;
}
