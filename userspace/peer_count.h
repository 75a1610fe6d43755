/*
 * peer_count — how many sessions each client address has open, for
 * limits.sessions_per_ip. One table shared by every worker, under its own
 * mutex: a connection from an address enters before its greeting and
 * leaves when its session is freed.
 *
 * Owns: the table (a keyed hash of the address, chained), its entries
 * (one per address with a session open, freed at zero) and its lock. The
 * hash key is random per table, so that a client choosing its source
 * addresses (an IPv6 /64 offers plenty) cannot aim them all at one chain.
 * The port is not part of the address.
 */
#ifndef AUTHGATE_PEER_COUNT_H
#define AUTHGATE_PEER_COUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct peer_count;

/* A table for up to about `expected` addresses at once (it works with
 * more, with longer chains); NULL without memory. */
struct peer_count *peer_count_new(unsigned expected);
void peer_count_free(struct peer_count *t);

/* One more session from addr, unless it has `limit` already: false then,
 * or without memory for a new entry (the caller refuses the session). */
bool peer_count_enter(struct peer_count *t, const struct sockaddr_storage *addr, unsigned limit);
/* That session ended. An address that is not in the table is ignored. */
void peer_count_leave(struct peer_count *t, const struct sockaddr_storage *addr);

/* For tests: sessions open from addr; addresses with a session open. */
unsigned peer_count_of(struct peer_count *t, const struct sockaddr_storage *addr);
size_t peer_count_addresses(struct peer_count *t);

#endif
