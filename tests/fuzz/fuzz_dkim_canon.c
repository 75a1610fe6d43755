/*
 * fuzz_dkim_canon — canonicalization of arbitrary header and body bytes.
 * Checks the zero-copy property (every piece lies in the input or the
 * literal table) and the relaxed invariants: no HTAB, no two SPs in a
 * row, no SP before CRLF, no trailing empty line; simple bodies end with
 * CRLF; and the relaxed header field and body equal those of plain
 * references written here. The first byte picks the algorithm and an l=
 * limit.
 */
#include "../../verify/dkim_canon.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct out {
	char *buf;
	size_t n, cap;
};

static void collect(void *arg, const void *p, size_t n)
{
	struct out *o = arg;
	if (o->n + n > o->cap)
		abort(); /* canonical output never outgrows 2x input + 2 */
	memcpy(o->buf + o->n, p, n);
	o->n += n;
}

static void check_relaxed_body(const struct out *o)
{
	for (size_t i = 0; i < o->n; i++) {
		if (o->buf[i] == '\t')
			abort();
		if (o->buf[i] == ' ' && i + 1 < o->n &&
		    (o->buf[i + 1] == ' ' || (o->buf[i + 1] == '\r' && i + 2 < o->n && o->buf[i + 2] == '\n')))
			abort();
	}
	if (o->n >= 4 && memcmp(o->buf + o->n - 4, "\r\n\r\n", 4) == 0)
		abort();
}

/* Reference relaxed body (RFC 6376 §3.4.4), the obvious way: per CRLF
 * line, WSP runs to one SP, trailing WSP dropped; then trailing empty
 * lines dropped; a non-empty result ends in CRLF. */
static size_t ref_relaxed_body(const char *m, size_t n, char *out)
{
	size_t o = 0, keep = 0, i = 0;
	while (i < n) {
		size_t e = i;
		while (e < n && !(m[e] == '\r' && e + 1 < n && m[e + 1] == '\n'))
			e++;
		size_t start = o;
		for (size_t k = i; k < e; k++) {
			bool ws = m[k] == ' ' || m[k] == '\t';
			if (ws && o > start && out[o - 1] == ' ')
				continue;
			out[o++] = ws ? ' ' : m[k];
		}
		if (o > start && out[o - 1] == ' ')
			o--;
		out[o++] = '\r';
		out[o++] = '\n';
		if (o - start > 2)
			keep = o;
		i = e + 2;
	}
	return keep;
}

/* Reference relaxed header field (§3.4.2) the obvious way: the name
 * lower-cased without FWS, the value with FWS runs as one SP and none
 * at either end, then CRLF. CR and LF count as FWS (dkim_canon.h). */
static size_t ref_relaxed_header(const char *m, size_t n, char *out)
{
	size_t o = 0, k = 0;
	for (; k < n && m[k] != ':'; k++)
		if (!dkim_is_fws((unsigned char)m[k]))
			out[o++] = m[k] >= 'A' && m[k] <= 'Z' ? (char)(m[k] | 0x20) : m[k];
	if (k < n)
		out[o++] = m[k++];
	bool sp = false, text = false;
	for (; k < n; k++) {
		if (dkim_is_fws((unsigned char)m[k])) {
			sp = text;
			continue;
		}
		if (sp)
			out[o++] = ' ';
		out[o++] = m[k];
		sp = false, text = true;
	}
	out[o++] = '\r';
	out[o++] = '\n';
	return o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	enum dkim_canon c = data[0] & 1 ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	bool limited = data[0] & 2;
	const char *m = (const char *)data + 1;
	size_t n = size - 1;
	struct out o = {malloc(2 * n + 8), 0, 2 * n + 8};
	if (!o.buf)
		return 0;
	struct dkim_sink s;
	dkim_canon_foreign_bytes = 0;
	dkim_sink_init(&s, collect, &o, m, n);
	dkim_canon_header(c, &(struct dkim_slice){m, n}, 1, true, &s);
	if (c == DKIM_CANON_RELAXED) {
		char *ref = malloc(n + 2);
		size_t rn = ref_relaxed_header(m, n, ref);
		if (rn != o.n || memcmp(ref, o.buf, rn) != 0)
			abort();
		free(ref);
	}
	o.n = 0;
	dkim_sink_init(&s, collect, &o, m, n);
	if (limited)
		s.limit = data[0] >> 2;
	dkim_canon_body(c, m, n, &s);
	if (dkim_canon_foreign_bytes)
		abort();
	if (c == DKIM_CANON_RELAXED) {
		/* l= cuts the reference short; nothing else may differ */
		char *ref = malloc(2 * n + 8);
		size_t rn = ref_relaxed_body(m, n, ref);
		if (limited && rn > (size_t)(data[0] >> 2))
			rn = data[0] >> 2;
		if (rn != o.n || memcmp(ref, o.buf, rn) != 0)
			abort();
		free(ref);
	}
	if (!limited) {
		if (c == DKIM_CANON_RELAXED)
			check_relaxed_body(&o);
		else if (o.n < 2 || memcmp(o.buf + o.n - 2, "\r\n", 2) != 0)
			abort();
	} else if (o.n > (uint64_t)(data[0] >> 2)) {
		abort();
	}
	free(o.buf);
	return 0;
}
