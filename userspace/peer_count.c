/*
 * peer_count — see peer_count.h.
 */
#include "peer_count.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

struct peer {
	struct peer *next;
	sa_family_t family;
	unsigned char addr[16]; /* IPv4: the first 4 */
	unsigned n;
};

struct peer_count {
	pthread_mutex_t lock;
	uint64_t key;
	size_t mask; /* buckets - 1 */
	size_t addresses;
	struct peer **bucket;
};

/* Only the address: the same client reconnecting comes from another port. */
static void address_of(const struct sockaddr_storage *a, unsigned char out[16])
{
	memset(out, 0, 16);
	if (a->ss_family == AF_INET)
		memcpy(out, &((const struct sockaddr_in *)a)->sin_addr, 4);
	else
		memcpy(out, &((const struct sockaddr_in6 *)a)->sin6_addr, 16);
}

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

static size_t bucket_of(const struct peer_count *t, sa_family_t family, const unsigned char addr[16])
{
	uint64_t lo, hi;
	memcpy(&lo, addr, 8);
	memcpy(&hi, addr + 8, 8);
	uint64_t h = mix(t->key ^ lo ^ family);
	h = mix(h ^ hi);
	return (size_t)h & t->mask;
}

struct peer_count *peer_count_new(unsigned expected)
{
	struct peer_count *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	size_t buckets = 64;
	while (buckets < expected / 2 && buckets < (1u << 20))
		buckets *= 2; /* chains of about two at the expected load */
	t->bucket = calloc(buckets, sizeof *t->bucket);
	if (!t->bucket) {
		free(t);
		return NULL;
	}
	t->mask = buckets - 1;
	if (getrandom(&t->key, sizeof t->key, GRND_NONBLOCK) != sizeof t->key)
		t->key = (uint64_t)(uintptr_t)t ^ 0x9e3779b97f4a7c15ull; /* no entropy yet: still varies */
	pthread_mutex_init(&t->lock, NULL);
	return t;
}

void peer_count_free(struct peer_count *t)
{
	if (!t)
		return;
	for (size_t i = 0; i <= t->mask; i++)
		for (struct peer *p = t->bucket[i], *next; p; p = next) {
			next = p->next;
			free(p);
		}
	pthread_mutex_destroy(&t->lock);
	free(t->bucket);
	free(t);
}

/* The link that points at addr's entry, or at the end of its chain. */
static struct peer **find(struct peer_count *t, const struct sockaddr_storage *a)
{
	unsigned char addr[16];
	address_of(a, addr);
	struct peer **pp = &t->bucket[bucket_of(t, a->ss_family, addr)];
	while (*pp && ((*pp)->family != a->ss_family || memcmp((*pp)->addr, addr, 16) != 0))
		pp = &(*pp)->next;
	return pp;
}

bool peer_count_enter(struct peer_count *t, const struct sockaddr_storage *a, unsigned limit)
{
	bool ok = false;
	pthread_mutex_lock(&t->lock);
	struct peer **pp = find(t, a);
	if (!*pp && limit > 0 && (*pp = calloc(1, sizeof **pp))) {
		(*pp)->family = a->ss_family;
		address_of(a, (*pp)->addr);
		t->addresses++;
	}
	if (*pp && (*pp)->n < limit) {
		(*pp)->n++;
		ok = true;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

void peer_count_leave(struct peer_count *t, const struct sockaddr_storage *a)
{
	pthread_mutex_lock(&t->lock);
	struct peer **pp = find(t, a), *p = *pp;
	if (p && --p->n == 0) {
		*pp = p->next;
		free(p);
		t->addresses--;
	}
	pthread_mutex_unlock(&t->lock);
}

unsigned peer_count_of(struct peer_count *t, const struct sockaddr_storage *a)
{
	pthread_mutex_lock(&t->lock);
	struct peer *p = *find(t, a);
	unsigned n = p ? p->n : 0;
	pthread_mutex_unlock(&t->lock);
	return n;
}

size_t peer_count_addresses(struct peer_count *t)
{
	pthread_mutex_lock(&t->lock);
	size_t n = t->addresses;
	pthread_mutex_unlock(&t->lock);
	return n;
}
