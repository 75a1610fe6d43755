/*
 * test_dkim_canon — simple/relaxed canonicalization (RFC 6376 §3.4,
 * including the §3.4.6 example), l=, and the zero-copy debug counter.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/dkim_canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct capture {
	char buf[8192];
	size_t n;
	unsigned pieces;
};

static void cap_fn(void *arg, const void *p, size_t n)
{
	struct capture *c = arg;
	assert_true(c->n + n < sizeof c->buf);
	memcpy(c->buf + c->n, p, n);
	c->n += n;
	c->pieces++;
}

static void body(enum dkim_canon c, const char *msg, uint64_t limit, const char *want)
{
	struct capture cap = {0};
	struct dkim_sink s;
	dkim_sink_init(&s, cap_fn, &cap, msg, strlen(msg));
	s.limit = limit;
	dkim_canon_body(c, msg, strlen(msg), &s);
	cap.buf[cap.n] = 0;
	assert_string_equal(cap.buf, want);
}

static void header(enum dkim_canon c, const char *field, const char *want)
{
	struct capture cap = {0};
	struct dkim_sink s;
	struct dkim_slice seg = {field, strlen(field)};
	dkim_sink_init(&s, cap_fn, &cap, field, strlen(field));
	dkim_canon_header(c, &seg, 1, true, &s);
	cap.buf[cap.n] = 0;
	assert_string_equal(cap.buf, want);
}

/* RFC 6376 §3.4.6. */
static void test_rfc6376_example(void **state)
{
	(void)state;
	header(DKIM_CANON_RELAXED, "A: X\r\n", "a:X\r\n");
	header(DKIM_CANON_RELAXED, "B : Y\t\r\n\tZ  \r\n", "b:Y Z\r\n");
	header(DKIM_CANON_SIMPLE, "B : Y\t\r\n\tZ  \r\n", "B : Y\t\r\n\tZ  \r\n");
	const char *b = " C \r\nD \t E\r\n\r\n\r\n";
	body(DKIM_CANON_RELAXED, b, UINT64_MAX, " C\r\nD E\r\n");
	body(DKIM_CANON_SIMPLE, b, UINT64_MAX, " C \r\nD \t E\r\n");
}

static void test_empty_and_unterminated_bodies(void **state)
{
	(void)state;
	body(DKIM_CANON_SIMPLE, "", UINT64_MAX, "\r\n");
	body(DKIM_CANON_RELAXED, "", UINT64_MAX, "");
	body(DKIM_CANON_SIMPLE, "\r\n\r\n", UINT64_MAX, "\r\n");
	body(DKIM_CANON_RELAXED, "\r\n \r\n\t\r\n", UINT64_MAX, "");
	body(DKIM_CANON_SIMPLE, "abc", UINT64_MAX, "abc\r\n");
	body(DKIM_CANON_RELAXED, "abc  ", UINT64_MAX, "abc\r\n");
	body(DKIM_CANON_RELAXED, "a\r\n\r\n  ", UINT64_MAX, "a\r\n");
}

static void test_blank_lines_inside(void **state)
{
	(void)state;
	/* blank lines with whitespace between text are kept as empty lines */
	body(DKIM_CANON_RELAXED, "a\r\n \r\n\r\n\t\r\nb\r\n", UINT64_MAX, "a\r\n\r\n\r\n\r\nb\r\n");
	body(DKIM_CANON_RELAXED, "a\r\n\r\nb \r\n\r\n", UINT64_MAX, "a\r\n\r\nb\r\n");
	body(DKIM_CANON_SIMPLE, "a \r\n\r\n b\r\n \r\n", UINT64_MAX, "a \r\n\r\n b\r\n \r\n");
	/* leading whitespace compresses to one SP, is not removed */
	body(DKIM_CANON_RELAXED, "\t\t x\r\n", UINT64_MAX, " x\r\n");
}

static void test_bare_cr_lf_are_data(void **state)
{
	(void)state;
	body(DKIM_CANON_SIMPLE, "a\nb\rc\r\n\n\r\n", UINT64_MAX, "a\nb\rc\r\n\n\r\n");
	body(DKIM_CANON_RELAXED, "a \n b\r\n", UINT64_MAX, "a \n b\r\n");
	header(DKIM_CANON_RELAXED, "X:a\nb\r\n", "x:a b\r\n");
}

static void test_relaxed_header_details(void **state)
{
	(void)state;
	header(DKIM_CANON_RELAXED, "SUBJECT:   lots   of\t space  \r\n", "subject:lots of space\r\n");
	header(DKIM_CANON_RELAXED, "To:\r\n  a@b\r\n", "to:a@b\r\n");
	header(DKIM_CANON_RELAXED, "X-Empty:\r\n", "x-empty:\r\n");
	header(DKIM_CANON_RELAXED, "X-8bit: caf\xc3\xa9  ok\r\n", "x-8bit:caf\xc3\xa9 ok\r\n");
}

/* Own signature: two pieces around the b= value, no CRLF. */
static void test_pieces(void **state)
{
	(void)state;
	const char *f = "DKIM-Signature: a=x; b=AB\r\n CD; bh=Z\r\n";
	const char *lo = strstr(f, "b=") + 2, *hi = strstr(f, "; bh");
	struct dkim_slice seg[2] = {{f, (size_t)(lo - f)}, {hi, strlen(hi) - 2}};
	struct capture cap = {0};
	struct dkim_sink s;
	dkim_sink_init(&s, cap_fn, &cap, f, strlen(f));
	dkim_canon_header(DKIM_CANON_RELAXED, seg, 2, false, &s);
	cap.buf[cap.n] = 0;
	assert_string_equal(cap.buf, "dkim-signature:a=x; b=; bh=Z");
	cap.n = 0;
	dkim_canon_header(DKIM_CANON_SIMPLE, seg, 2, false, &s);
	cap.buf[cap.n] = 0;
	assert_string_equal(cap.buf, "DKIM-Signature: a=x; b=; bh=Z");
}

static void test_length_limit(void **state)
{
	(void)state;
	body(DKIM_CANON_SIMPLE, "hello world\r\n", 5, "hello");
	body(DKIM_CANON_RELAXED, "a  b\r\nc\r\n", 3, "a b");
	body(DKIM_CANON_RELAXED, "a  b\r\nc\r\n", 0, "");
	/* the limit left over shows a body shorter than l= */
	struct capture cap = {0};
	struct dkim_sink s;
	dkim_sink_init(&s, cap_fn, &cap, "ab\r\n", 4);
	s.limit = 10;
	dkim_canon_body(DKIM_CANON_SIMPLE, "ab\r\n", 4, &s);
	assert_int_equal(s.limit, 6);
	assert_int_equal(s.total, 4);
}

/* Untouched text goes out as one slice, not byte by byte. */
static void test_runs_are_slices(void **state)
{
	(void)state;
	const char *m = "line one has single spaces\r\nline two too\r\n\r\nthree\r\n";
	struct capture cap = {0};
	struct dkim_sink s;
	dkim_sink_init(&s, cap_fn, &cap, m, strlen(m));
	dkim_canon_body(DKIM_CANON_RELAXED, m, strlen(m), &s);
	assert_int_equal(cap.pieces, 1);
}

/* Long text bodies, where the SIMD scans run across many lines: lines
 * of every length mod 32 (so line ends fall on every block offset),
 * once clean and once with a change on one line (a doubled space, a
 * tab, trailing WSP, a WSP-only line, a bare CR) whose relaxed form is
 * known. */
static void test_long_text_bodies(void **state)
{
	(void)state;
	static const char *const dirty[] = {"x  y", "x\ty", "xy \t", " \t", "x\ry"};
	static const char *const clean[] = {"x y", "x y", "xy", "", "x\ry"};
	static char in[4096], want[4096];
	for (unsigned d = 0; d < 5; d++) {
		for (unsigned at = 0; at < 70; at += 7) {
			size_t n = 0, w = 0;
			for (unsigned line = 0; line < 70; line++) {
				if (line == at) {
					n += (size_t)sprintf(in + n, "%s\r\n", dirty[d]);
					w += (size_t)sprintf(want + w, "%s\r\n", clean[d]);
					continue;
				}
				for (unsigned k = 0; k < line % 33 + 1; k++)
					in[n++] = want[w++] = k % 6 == 5 ? ' ' : (char)('a' + k % 26);
				n += (size_t)sprintf(in + n, "z\r\n");
				w += (size_t)sprintf(want + w, "z\r\n");
			}
			in[n] = want[w] = 0;
			body(DKIM_CANON_RELAXED, in, UINT64_MAX, want);
		}
	}
}

#ifdef AUTHGATE_DEBUG_COUNTERS
static void null_fn(void *arg, const void *p, size_t n)
{
	(void)arg, (void)p, (void)n;
}

static void test_zero_copy_counter(void **state)
{
	(void)state;
	const char *m = "Subject:  Mixed  CASE\r\n\r\nbody  with \t ws \r\n\r\n \r\nend\r\n";
	size_t hl = strstr(m, "\r\n\r\n") + 2 - m;
	struct dkim_sink s;
	dkim_canon_foreign_bytes = 0;
	for (int c = 0; c < 2; c++) {
		dkim_sink_init(&s, null_fn, NULL, m, strlen(m));
		dkim_canon_header(c, &(struct dkim_slice){m, hl}, 1, true, &s);
		dkim_canon_body(c, m + hl + 2, strlen(m) - hl - 2, &s);
	}
	assert_int_equal(dkim_canon_foreign_bytes, 0);
	/* The counter does see a copy: hash a piece from another buffer. */
	char *copy = strdup(m);
	dkim_sink_init(&s, null_fn, NULL, m, strlen(m));
	dkim_canon_header(DKIM_CANON_SIMPLE, &(struct dkim_slice){copy, hl}, 1, true, &s);
	assert_int_equal(dkim_canon_foreign_bytes, hl);
	free(copy);
	dkim_canon_foreign_bytes = 0;
}
#endif

/* The body as a slice of a longer buffer, as the verifier hands it over. */
static void body_slice(enum dkim_canon c, const char *msg, size_t len, const char *want)
{
	struct capture cap = {0};
	struct dkim_sink s;
	dkim_sink_init(&s, cap_fn, &cap, msg, len);
	dkim_canon_body(c, msg, len, &s);
	cap.buf[cap.n] = 0;
	assert_string_equal(cap.buf, want);
}

/* Bytes after the end of a body or a header field are not part of it:
 * a trailing SP stays trailing though text follows in memory, a CR is
 * bare though an LF follows, and a final CRLF ends the body though text
 * follows. Every length puts those last bytes at every offset of the
 * vector blocks, and across the scalar tail. */
static void test_bytes_past_the_end_do_not_count(void **state)
{
	(void)state;
	static const char *const tail[] = {" ", "\r", "\r\n"};
	static const char *const canon[] = {"\r\n", "\r\r\n", "\r\n"};
	static const char *const beyond[] = {"x", "\n", "x"};
	char in[160], want[160];
	for (unsigned t = 0; t < 3; t++) {
		for (unsigned n = 1; n < 100; n++) {
			memset(in, 'a', n);
			memset(want, 'a', n);
			strcpy(in + n, tail[t]);
			strcpy(want + n, canon[t]);
			size_t len = n + strlen(tail[t]);
			strcpy(in + len, beyond[t]);
			body_slice(DKIM_CANON_RELAXED, in, len, want);
		}
	}
	/* a header field ending in SP, text after it in memory */
	for (unsigned n = 1; n < 40; n++) {
		char f[64] = "X:", w[64] = "x:";
		memset(f + 2, 'v', n);
		memset(w + 2, 'v', n);
		strcpy(f + 2 + n, " Y\r\n");
		strcpy(w + 2 + n, "\r\n");
		struct capture cap = {0};
		struct dkim_sink s;
		struct dkim_slice seg = {f, 3 + n};
		dkim_sink_init(&s, cap_fn, &cap, f, strlen(f));
		dkim_canon_header(DKIM_CANON_RELAXED, &seg, 1, true, &s);
		cap.buf[cap.n] = 0;
		assert_string_equal(cap.buf, w);
	}
}

/* Blank lines that hold only whitespace at the end of the body go, and
 * what came before them goes out once (RFC 6376 §3.4.4). */
static void test_trailing_whitespace_lines_after_text(void **state)
{
	(void)state;
	body(DKIM_CANON_RELAXED, "a\r\n \r\n", UINT64_MAX, "a\r\n");
	body(DKIM_CANON_RELAXED, "a b\r\n\t\r\n\r\n  \r\n", UINT64_MAX, "a b\r\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rfc6376_example),
		cmocka_unit_test(test_empty_and_unterminated_bodies),
		cmocka_unit_test(test_blank_lines_inside),
		cmocka_unit_test(test_bare_cr_lf_are_data),
		cmocka_unit_test(test_relaxed_header_details),
		cmocka_unit_test(test_pieces),
		cmocka_unit_test(test_length_limit),
		cmocka_unit_test(test_runs_are_slices),
		cmocka_unit_test(test_long_text_bodies),
#ifdef AUTHGATE_DEBUG_COUNTERS
		cmocka_unit_test(test_zero_copy_counter),
#endif
		cmocka_unit_test(test_bytes_past_the_end_do_not_count),
		cmocka_unit_test(test_trailing_whitespace_lines_after_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
