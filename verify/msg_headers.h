/*
 * msg_headers — walking the header block of a message held in one buffer.
 *
 * Owns: splitting the header block (up to the first empty line) into
 * fields, each a (name, value) pair of slices into the caller's buffer:
 * nothing is copied, the value keeps its folding (CRLF + WSP) as sent.
 * Lines may end in CRLF (the daemon's arena) or a bare LF (files); a line
 * that is neither a field nor a continuation is skipped, and counted.
 */
#ifndef AUTHGATE_MSG_HEADERS_H
#define AUTHGATE_MSG_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

struct msg_field {
	const char *name;
	size_t name_len;
	const char *value; /* after the colon, up to (not including) the final line end */
	size_t value_len;
};

struct msg_header_iter {
	const char *p, *end;
	bool done;
	unsigned skipped; /* lines that were neither a field nor a continuation */
};

void msg_headers_begin(struct msg_header_iter *it, const char *msg, size_t len);
/* Next field; false at the end of the header block. */
bool msg_headers_next(struct msg_header_iter *it, struct msg_field *f);

bool msg_field_is(const struct msg_field *f, const char *name); /* case-insensitive */
/* True when the value has something besides whitespace and line ends. */
bool msg_field_nonempty(const struct msg_field *f);

#endif
