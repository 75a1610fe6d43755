/*
 * dkim_msg — the header-field index of a message held as one buffer of
 * CRLF lines, and RFC 6376 §5.4.2 header selection over it.
 *
 * Owns: splitting the header into fields (a field runs through its
 * continuation lines; the header ends at the first empty line, or at the
 * end of the buffer when there is none), each field's name (trailing WSP
 * before the colon removed) and a hash of its lower-cased name, the body
 * slice, and selecting fields bottom-up, each instance at most once per
 * selection, so that a name listed more often than it occurs (over-signing)
 * selects nothing for the extra entries.
 *
 * Invariants: fields are slices of the buffer, never copied; at most
 * DKIM_MSG_MAX_FIELDS are indexed (truncated says more existed); only
 * CRLF ends a line, bare CR or LF are field bytes; selection is O(fields)
 * per name.
 */
#ifndef AUTHGATE_DKIM_MSG_H
#define AUTHGATE_DKIM_MSG_H

#include "dkim_tags.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DKIM_MSG_MAX_FIELDS 2048

struct dkim_field {
	const char *p;   /* field start */
	size_t len;      /* through its CRLF when it has one */
	size_t namelen;  /* 0: the field has no colon */
	uint32_t hash;   /* of the lower-cased name */
	uint32_t mark;   /* == the selection's gen: taken in it */
};

struct dkim_msg {
	const char *buf;
	size_t len;
	struct dkim_field *f;
	unsigned n;
	bool truncated;
	const char *body;
	size_t bodylen;
	uint32_t gen;    /* the current selection */
};

/* Index buf[0..len). Returns 0 or -ENOMEM. */
int dkim_msg_index(struct dkim_msg *m, const char *buf, size_t len);
void dkim_msg_free(struct dkim_msg *m);

/* Whether field f is named `lname` (lower case), case-insensitively. */
bool dkim_field_is(const struct dkim_field *f, const char *lname);

/* Start a new selection (every field available again). */
void dkim_msg_select_begin(struct dkim_msg *m);
/* The lowest field named `name` not yet taken in this selection, now
 * taken; NULL when none is left. */
const struct dkim_field *dkim_msg_select(struct dkim_msg *m, struct dkim_slice name);

#endif
