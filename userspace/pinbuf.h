/*
 * pinbuf — a growable output buffer that a send in flight may be reading.
 * The ring's send holds a pointer into the buffer until it completes;
 * replies (smtp.c) and TLS records (tls.c) may be added meanwhile. While
 * the buffer is pinned, growing it copies into a new allocation and
 * keeps the old one, unchanged, until it is unpinned: a realloc there
 * would let the kernel read freed memory.
 */
#ifndef AUTHGATE_PINBUF_H
#define AUTHGATE_PINBUF_H

#include <stdbool.h>
#include <stddef.h>

struct pinbuf {
	char *p;      /* the bytes: p[0..used) belong to the owner */
	size_t cap;
	char *pinned; /* the allocation a send in flight reads, while pinned */
	bool is_pinned;
};

/* Room for `want` bytes in all (the first `used` kept), capacity doubling
 * from `first` up to `max`; false when that does not fit or memory is
 * short (the buffer is unchanged then). */
bool pinbuf_reserve(struct pinbuf *b, size_t used, size_t want, size_t first, size_t max);
/* A send now reads the buffer: it must not move until pinbuf_unpin(). */
void pinbuf_pin(struct pinbuf *b);
/* That send completed: an allocation left behind by growth is freed. */
void pinbuf_unpin(struct pinbuf *b);
/* pinbuf_pin() or pinbuf_unpin(), for owners that pass the flag along. */
void pinbuf_set_pinned(struct pinbuf *b, bool pinned);
void pinbuf_free(struct pinbuf *b);

#endif
