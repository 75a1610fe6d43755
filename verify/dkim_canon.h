/*
 * dkim_canon — RFC 6376 §3.4 canonicalization, streamed into a sink.
 *
 * Owns: the `simple` and `relaxed` algorithms for header fields and for
 * the body, the body length limit (l=), and the zero-copy guarantee.
 *
 * Zero copy: input is (pointer, length) slices of the caller's message
 * buffer. Output is a sequence of (pointer, length) pieces handed to the
 * sink, each of which is either a sub-slice of the input or a constant in
 * this module's static literal table (the lower-case of a letter, " ",
 * "\r\n"). No message byte is ever written anywhere. With
 * AUTHGATE_DEBUG_COUNTERS the sink wrapper checks every piece against the
 * registered message bounds and the literal table and adds any other
 * byte to dkim_canon_foreign_bytes, which tests assert stays zero.
 *
 * Line structure: only CRLF ends a line. A bare CR or LF is an ordinary
 * byte in the body; in relaxed header canonicalization CR and LF count
 * as whitespace (that is what unfolding plus WSP compression yields for
 * CRLF WSP, and gives bare ones a defined meaning).
 */
#ifndef AUTHGATE_DKIM_CANON_H
#define AUTHGATE_DKIM_CANON_H

#include "dkim_tags.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum dkim_canon {
	DKIM_CANON_SIMPLE,
	DKIM_CANON_RELAXED,
};

typedef void (*dkim_sink_fn)(void *arg, const void *p, size_t n);

struct dkim_sink {
	dkim_sink_fn fn;
	void *arg;
	uint64_t limit;  /* bytes still accepted (l=); UINT64_MAX: unlimited */
	uint64_t total;  /* canonical bytes fed to fn */
	const char *lo, *hi; /* the message bounds, for the debug check */
};

void dkim_sink_init(struct dkim_sink *s, dkim_sink_fn fn, void *arg,
		    const char *msg, size_t len);

#ifdef AUTHGATE_DEBUG_COUNTERS
extern uint64_t dkim_canon_foreign_bytes;
#endif

/* One header field given as up to `nseg` pieces (the own DKIM-Signature
 * is passed as two: around the b= value). The pieces are the raw field,
 * name to end; include the final CRLF in simple mode when it is to be
 * hashed. relaxed: `crlf` appends CRLF (false for the own signature). */
void dkim_canon_header(enum dkim_canon c, const struct dkim_slice *seg,
		       unsigned nseg, bool crlf, struct dkim_sink *s);

/* The body: everything after the blank line that ends the header (may be
 * empty). Feeds at most s->limit bytes to the sink and stops early once
 * the limit is reached; afterwards s->limit is non-zero (and below its
 * start value only by s->total) exactly when the canonical body was
 * shorter than the limit, which is how an l= beyond the body shows. */
void dkim_canon_body(enum dkim_canon c, const char *body, size_t len,
		     struct dkim_sink *s);

#endif
