/*
 * bench_peer_count — the cost of limits.sessions_per_ip at accept time:
 * one session entering and leaving (peer_count_enter + peer_count_leave,
 * under the table's mutex) while N other client addresses hold sessions,
 * beside the baseline the table replaced: one list of addresses walked
 * under the same kind of mutex (worker.c until 2026-11-28), rebuilt here
 * so that both run in the same process on the same addresses.
 *
 *   build/bench/bench_peer_count [--quick|--smoke]
 *
 * Prints a table for N = 1, 1,000 and 20,000 (the default limits.sessions)
 * and one JSON line for bench/run.sh with the 20,000 case.
 */
#include "../userspace/peer_count.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---------------------------------------------------- the baseline */

struct list_entry {
	struct list_entry *next;
	struct sockaddr_storage addr;
	unsigned n;
};

struct list {
	pthread_mutex_t lock;
	struct list_entry *head;
};

static bool same_ip(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)b)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static bool list_enter(struct list *l, const struct sockaddr_storage *peer, unsigned limit)
{
	bool ok = false;
	pthread_mutex_lock(&l->lock);
	struct list_entry *c = l->head;
	while (c && !same_ip(&c->addr, peer))
		c = c->next;
	if (!c && (c = calloc(1, sizeof *c))) {
		c->addr = *peer;
		c->next = l->head;
		l->head = c;
	}
	if (c && c->n < limit) {
		c->n++;
		ok = true;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

static void list_leave(struct list *l, const struct sockaddr_storage *peer)
{
	pthread_mutex_lock(&l->lock);
	for (struct list_entry **pp = &l->head; *pp; pp = &(*pp)->next) {
		if (!same_ip(&(*pp)->addr, peer))
			continue;
		if (--(*pp)->n == 0) {
			struct list_entry *dead = *pp;
			*pp = dead->next;
			free(dead);
		}
		break;
	}
	pthread_mutex_unlock(&l->lock);
}

static void list_free(struct list *l)
{
	for (struct list_entry *e = l->head, *next; e; e = next) {
		next = e->next;
		free(e);
	}
}

/* ------------------------------------------------------------ runs */

enum { MAX_HELD = 20000, VISITORS = 4096 };
static struct sockaddr_storage held[MAX_HELD], visitors[VISITORS];

/* Client addresses as an edge sees them: IPv4 and IPv6 mixed. */
static void make_address(struct sockaddr_storage *ss, unsigned i, unsigned salt)
{
	memset(ss, 0, sizeof ss[0]);
	if (i % 2) {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;
		a->sin_family = AF_INET;
		a->sin_addr.s_addr = htonl(0x0a000000u + salt * 0x100000u + i);
	} else {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr.s6_addr[0] = 0x20;
		a->sin6_addr.s6_addr[1] = 0x01;
		a->sin6_addr.s6_addr[8] = (unsigned char)salt;
		memcpy(&a->sin6_addr.s6_addr[12], &i, 4);
	}
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static unsigned long refused;

/* Sessions per second through the table with `n` addresses held. */
static double table_rate(unsigned n, double secs)
{
	struct peer_count *t = peer_count_new(MAX_HELD);
	for (unsigned i = 0; i < n; i++)
		peer_count_enter(t, &held[i], 50);
	unsigned long ops = 0;
	double t0 = now_s(), t1;
	do {
		for (unsigned i = 0; i < 1024; i++, ops++) {
			const struct sockaddr_storage *v = &visitors[ops % VISITORS];
			refused += !peer_count_enter(t, v, 50);
			peer_count_leave(t, v);
		}
	} while ((t1 = now_s()) - t0 < secs);
	peer_count_free(t);
	return (double)ops / (t1 - t0);
}

static double list_rate(unsigned n, double secs)
{
	struct list l = {.head = NULL};
	pthread_mutex_init(&l.lock, NULL);
	for (unsigned i = 0; i < n; i++)
		list_enter(&l, &held[i], 50);
	unsigned long ops = 0;
	double t0 = now_s(), t1;
	do {
		for (unsigned i = 0; i < 64; i++, ops++) {
			const struct sockaddr_storage *v = &visitors[ops % VISITORS];
			refused += !list_enter(&l, v, 50);
			list_leave(&l, v);
		}
	} while ((t1 = now_s()) - t0 < secs);
	list_free(&l);
	return (double)ops / (t1 - t0);
}

int main(int argc, char **argv)
{
	double secs = 0.5;
	if (argc > 1 && strcmp(argv[1], "--quick") == 0)
		secs = 0.2;
	else if (argc > 1 && strcmp(argv[1], "--smoke") == 0)
		secs = 0.02;
	for (unsigned i = 0; i < MAX_HELD; i++)
		make_address(&held[i], i, 1);
	for (unsigned i = 0; i < VISITORS; i++)
		make_address(&visitors[i], i, 2); /* new addresses: each walk goes the whole list */
	static const unsigned sizes[] = {1, 1000, MAX_HELD};
	double table[3], list[3];
	printf("%-56s %14s %8s\n", "peer_count (one core; a session enters and leaves)", "sessions/s",
	       "ratio");
	for (int k = 0; k < 3; k++) {
		char what[80];
		table[k] = table_rate(sizes[k], secs);
		list[k] = list_rate(sizes[k], secs);
		snprintf(what, sizeof what, "hash table, %u other addresses held", sizes[k]);
		printf("%-56s %14.0f %8s\n", what, table[k], "1.00");
		snprintf(what, sizeof what, "baseline: list walked under the lock, %u held", sizes[k]);
		printf("%-56s %14.0f %8.4f\n", what, list[k], list[k] / table[k]);
	}
	if (refused) {
		fprintf(stderr, "bench_peer_count: %lu sessions refused under a limit of 50\n", refused);
		return 1;
	}
	printf("{\"bench\":\"peer_count\",\"addresses\":%u,\"table_per_s\":%.0f,\"list_per_s\":%.0f,"
	       "\"table_vs_list\":%.1f,\"table_1_address_per_s\":%.0f}\n",
	       MAX_HELD, table[2], list[2], table[2] / list[2], table[0]);
	return 0;
}
