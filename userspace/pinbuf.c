/*
 * pinbuf — see pinbuf.h.
 */
#include "pinbuf.h"

#include <stdlib.h>
#include <string.h>

bool pinbuf_reserve(struct pinbuf *b, size_t used, size_t want, size_t first, size_t max)
{
	if (want <= b->cap)
		return true;
	if (want > max)
		return false;
	size_t cap = b->cap ? b->cap : first;
	while (cap < want)
		cap *= 2;
	if (cap > max)
		cap = max;
	char *n;
	if (b->is_pinned && b->p == b->pinned) {
		n = malloc(cap); /* the old one stays for the send reading it */
		if (n && used)
			memcpy(n, b->p, used);
	} else {
		n = realloc(b->p, cap);
	}
	if (!n)
		return false;
	b->p = n;
	b->cap = cap;
	return true;
}

void pinbuf_pin(struct pinbuf *b)
{
	b->is_pinned = true;
	b->pinned = b->p;
}

void pinbuf_unpin(struct pinbuf *b)
{
	if (b->is_pinned && b->pinned != b->p)
		free(b->pinned);
	b->is_pinned = false;
	b->pinned = NULL;
}

void pinbuf_set_pinned(struct pinbuf *b, bool pinned)
{
	if (pinned)
		pinbuf_pin(b);
	else
		pinbuf_unpin(b);
}

void pinbuf_free(struct pinbuf *b)
{
	pinbuf_unpin(b);
	free(b->p);
	b->p = NULL;
	b->cap = 0;
}
