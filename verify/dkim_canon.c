/*
 * dkim_canon — simple/relaxed canonicalization as zero-copy pieces.
 */
#include "dkim_canon.h"

#include <string.h>

#ifdef __SSE2__
#include <emmintrin.h>
#endif
/* x86-64 built for plain SSE2 also gets an AVX2 body scan, picked at
 * run time (see skip_lines_avx2); AUTHGATE_NO_AVX2 leaves it out, so
 * that tests can run the SSE2 loop alone. */
#if defined(__SSE2__) && defined(__x86_64__) && defined(__GNUC__) && !defined(AUTHGATE_NO_AVX2)
#define HAVE_AVX2_SCAN 1
#include <immintrin.h>
#endif

#ifdef AUTHGATE_DEBUG_COUNTERS
uint64_t dkim_canon_foreign_bytes;
#endif

/* Every byte this module produces that is not in the message comes from
 * here: the lower-case map, then " " and "\r\n". */
#define L1(x) ((x) >= 'A' && (x) <= 'Z' ? (x) | 0x20 : (x))
#define L4(x) L1(x), L1((x) + 1), L1((x) + 2), L1((x) + 3)
#define L16(x) L4(x), L4((x) + 4), L4((x) + 8), L4((x) + 12)
#define L64(x) L16(x), L16((x) + 16), L16((x) + 32), L16((x) + 48)
static const unsigned char lit[256 + 3] = {
	L64(0), L64(64), L64(128), L64(192), ' ', '\r', '\n',
};
#define LIT_SP ((const char *)lit + 256)
#define LIT_CRLF ((const char *)lit + 257)

void dkim_sink_init(struct dkim_sink *s, dkim_sink_fn fn, void *arg,
		    const char *msg, size_t len)
{
	*s = (struct dkim_sink){.fn = fn, .arg = arg, .limit = UINT64_MAX,
				.lo = msg, .hi = msg + len};
}

static void emit(struct dkim_sink *s, const char *p, size_t n)
{
	if (n == 0 || s->limit == 0)
		return;
	if (n > s->limit)
		n = (size_t)s->limit;
#ifdef AUTHGATE_DEBUG_COUNTERS
	bool in_msg = p >= s->lo && p + n <= s->hi;
	bool in_lit = p >= (const char *)lit && p + n <= (const char *)lit + sizeof lit;
	if (!in_msg && !in_lit)
		dkim_canon_foreign_bytes += n;
#endif
	s->fn(s->arg, p, n);
	s->limit -= n;
	s->total += n;
}

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t';
}

/* ----------------------------------------------------------- scanning */

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Bytes of x below n (n <= 128), flagged in their high bit. */
#define BELOW(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)

/* Where skip_text() may stop: a control byte (CR, LF, HTAB, ...) or a
 * SP followed by one of those or by another SP. */
static bool stops_at(const char *p, const char *end)
{
	unsigned char c = (unsigned char)*p;
	return c < 0x20 || (c == ' ' && (p + 1 == end || (unsigned char)p[1] <= 0x20));
}

#ifdef __SSE2__
/* Sixteen bytes per step; exact. Unsigned x <= n is min(x, n) == x. */
static const char *skip_wide(const char *p, const char *end)
{
	const __m128i c1f = _mm_set1_epi8(0x1f), c20 = _mm_set1_epi8(0x20);
	while (end - p >= 17) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x);
		__m128i sp = _mm_cmpeq_epi8(x, c20);
		__m128i next_ws = _mm_cmpeq_epi8(_mm_min_epu8(y, c20), y);
		int m = _mm_movemask_epi8(_mm_or_si128(ctl, _mm_and_si128(sp, next_ws)));
		if (m)
			return p + __builtin_ctz((unsigned)m);
		p += 16;
	}
	return p;
}
#else
/* Eight bytes per step in a 64-bit word. The lowest flag is exact;
 * higher ones may be false, none is ever missed. */
static const char *skip_wide(const char *p, const char *end)
{
	while (end - p >= 9) {
		uint64_t x, y;
		memcpy(&x, p, 8); /* register loads, not copies */
		memcpy(&y, p + 1, 8);
		uint64_t sp = BELOW(x ^ (ONES * 0x20), 1); /* x == SP */
		uint64_t t = BELOW(x, 0x20) | (sp & BELOW(y, 0x21));
		if (t)
			return p + (__builtin_ctzll(t) >> 3);
		p += 8;
	}
	return p;
}
#endif

/* The first byte at or after p where relaxed canonicalization of a body
 * or a header value may change something (see stops_at); lone SPs
 * between words and 8-bit text are skipped many bytes at a time. May
 * stop early, never late. */
static const char *skip_text(const char *p, const char *end)
{
	p = skip_wide(p, end);
	while (p < end && !stops_at(p, end))
		p++;
	return p;
}

/* ------------------------------------------------------------ headers */

enum hphase { H_NAME, H_LEAD, H_VALUE };

struct hstate {
	enum hphase phase;
	bool pend_sp; /* whitespace seen after value text, not yet emitted */
};

/* Relaxed over one piece. Runs of bytes that survive unchanged are
 * emitted as one slice; only changed bytes break a run. */
static void relaxed_piece(struct hstate *st, const char *p, const char *end,
			  struct dkim_sink *s)
{
	const char *run = p;
	for (const char *q = p; q < end; q++) {
		unsigned char c = (unsigned char)*q;
		if (st->phase == H_NAME) {
			if (c == ':') {
				st->phase = H_LEAD;
			} else if (dkim_is_fws(c)) {
				emit(s, run, (size_t)(q - run));
				run = q + 1;
			} else if (lit[c] != c) {
				emit(s, run, (size_t)(q - run));
				emit(s, (const char *)lit + c, 1);
				run = q + 1;
			}
			continue;
		}
		if (dkim_is_fws(c)) {
			/* A lone SP between two value bytes stays in the run. */
			if (c == ' ' && st->phase == H_VALUE && !st->pend_sp &&
			    q + 1 < end && !dkim_is_fws((unsigned char)q[1]))
				continue;
			emit(s, run, (size_t)(q - run));
			run = q + 1;
			if (st->phase == H_VALUE)
				st->pend_sp = true;
			continue;
		}
		if (st->pend_sp) {
			emit(s, LIT_SP, 1);
			st->pend_sp = false;
		}
		st->phase = H_VALUE;
		/* Value text and lone SPs stay in the run: jump to the next
		 * byte that may change (skip_text stops at every FWS that
		 * matters here, and early at other control bytes, which the
		 * next round takes as value bytes). */
		q = skip_text(q + 1, end) - 1;
	}
	emit(s, run, (size_t)(end - run));
}

void dkim_canon_header(enum dkim_canon c, const struct dkim_slice *seg,
		       unsigned nseg, bool crlf, struct dkim_sink *s)
{
	if (c == DKIM_CANON_SIMPLE) {
		for (unsigned i = 0; i < nseg; i++)
			emit(s, seg[i].p, seg[i].n);
		return;
	}
	struct hstate st = {H_NAME, false};
	for (unsigned i = 0; i < nseg; i++)
		relaxed_piece(&st, seg[i].p, seg[i].p + seg[i].n, s);
	if (crlf)
		emit(s, LIT_CRLF, 2);
}

/* --------------------------------------------------------------- body */

static bool is_crlf_at(const char *p, const char *lo)
{
	return p - 2 >= lo && p[-2] == '\r' && p[-1] == '\n';
}

/* simple: the body minus trailing empty lines; an empty body is one CRLF;
 * a last line without CRLF gets one. */
static void body_simple(const char *p, size_t len, struct dkim_sink *s)
{
	const char *end = p + len;
	while (is_crlf_at(end, p) && (end - 2 == p || is_crlf_at(end - 2, p)))
		end -= 2;
	if (end == p) {
		emit(s, LIT_CRLF, 2);
		return;
	}
	emit(s, p, (size_t)(end - p));
	if (!is_crlf_at(end, p))
		emit(s, LIT_CRLF, 2);
}

struct rbody {
	const char *run;    /* first byte not yet emitted */
	const char *commit; /* end of the last non-blank line, CRLF included */
	const char *line;   /* start of the current line */
	size_t blanks;      /* blank lines since commit */
	bool broken;        /* a blank line held WSP: pending blanks are literals */
	bool content;       /* the current line has non-WSP bytes */
};

/* The current line turned out not to be blank. */
static void rbody_content(struct rbody *b, struct dkim_sink *s)
{
	if (b->broken) {
		for (size_t i = 0; i < b->blanks && s->limit; i++)
			emit(s, LIT_CRLF, 2);
		b->broken = false;
		b->run = b->line;
	}
	b->blanks = 0;
	b->content = true;
}

static bool crlf_at(const char *q, const char *end)
{
	return end - q >= 2 && q[0] == '\r' && q[1] == '\n';
}

/* A WSP run at q: returns where scanning resumes. */
static const char *rbody_wsp(struct rbody *b, const char *q, const char *end,
			     struct dkim_sink *s)
{
	const char *w = q;
	while (q < end && is_wsp((unsigned char)*q))
		q++;
	if (q == end || crlf_at(q, end)) { /* trailing: dropped */
		if (b->content) {
			emit(s, b->run, (size_t)(w - b->run));
			b->run = q;
		}
		return q;
	}
	if (!b->content)
		rbody_content(b, s);
	if (q - w != 1 || *w != ' ') {
		emit(s, b->run, (size_t)(w - b->run));
		emit(s, LIT_SP, 1);
		b->run = q;
	}
	return q;
}

static void rbody_eol(struct rbody *b, const char *q, struct dkim_sink *s)
{
	if (b->content) {
		b->commit = q + 2;
	} else {
		b->blanks++;
		if (q != b->line && !b->broken) {
			/* Whitespace on a blank line: what came before is final,
			 * the blank lines wait as literals. */
			emit(s, b->run, (size_t)(b->commit - b->run));
			b->broken = true;
		}
	}
	b->line = q + 2;
	b->content = false;
}

#ifdef __SSE2__
/* The mask step both vector widths share, for one block of `width` bytes
 * at p. m: bytes that stop the scan (a control byte, or an SP with
 * whitespace after it); ends: CRLFs (at their CR) followed by text, which
 * the scan crosses; *carry: the LF of a CRLF begun in the previous block.
 * The stop, or NULL with *carry set for the next block; *eol gets the end
 * of the last line end crossed before the stop. */
static inline const char *block_stop(const char *p, unsigned m, unsigned ends, unsigned width,
				     unsigned *carry, const char **eol)
{
	m &= ~(ends | ends << 1 | *carry);
	if (m)
		ends &= (m & -m) - 1; /* the ones before the stop */
	if (ends)
		*eol = p + (31 - __builtin_clz(ends)) + 2;
	if (m)
		return p + __builtin_ctz(m);
	*carry = ends >> (width - 1);
	return NULL;
}
#endif

#ifdef HAVE_AVX2_SCAN
/* skip_lines' loop below, 32 bytes per step: the body scan is what
 * authgate adds to the SHA-256 of a long text body, and this halves it.
 * Stops at the same byte as the SSE2 loop or with fewer than 34 bytes
 * left, past the LF of a CRLF it crossed. */
__attribute__((target("avx2")))
static const char *skip_lines_avx2(const char *p, const char *end, const char **eol)
{
	const __m256i c1f = _mm256_set1_epi8(0x1f), c20 = _mm256_set1_epi8(0x20),
		      cr = _mm256_set1_epi8('\r'), lf = _mm256_set1_epi8('\n');
	unsigned carry = 0;
	while (end - p >= 34) {
		__m256i x = _mm256_loadu_si256((const __m256i *)(const void *)p);
		__m256i y = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
		__m256i ctl = _mm256_cmpeq_epi8(_mm256_min_epu8(x, c1f), x);
		__m256i sp = _mm256_cmpeq_epi8(x, c20);
		__m256i next_ws = _mm256_cmpeq_epi8(_mm256_min_epu8(y, c20), y);
		unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_or_si256(ctl, _mm256_and_si256(sp, next_ws)));
		if (!m) {
			p += 32;
			continue;
		}
		__m256i z = _mm256_loadu_si256((const __m256i *)(const void *)(p + 2));
		__m256i then_ws = _mm256_cmpeq_epi8(_mm256_min_epu8(z, c20), z);
		__m256i crlf = _mm256_and_si256(_mm256_cmpeq_epi8(x, cr), _mm256_cmpeq_epi8(y, lf));
		unsigned ends = (unsigned)_mm256_movemask_epi8(_mm256_andnot_si256(then_ws, crlf));
		const char *stop = block_stop(p, m, ends, 32, &carry, eol);
		if (stop)
			return stop;
		p += 32;
	}
	return p + carry;
}
#endif

#ifdef __SSE2__
/* skip_text, and also across every CRLF that has text (a byte above SP)
 * right after it. Inside a line with content, such a line end changes
 * nothing but the line start and the commit point (rbody_eol, then
 * rbody_content for the next line): *eol gets the end of the last one
 * crossed, so a text body is one scan instead of one per line. Exact. */
static const char *skip_lines(const char *p, const char *end, const char **eol)
{
	const __m128i c1f = _mm_set1_epi8(0x1f), c20 = _mm_set1_epi8(0x20),
		      cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	unsigned carry = 0; /* the LF of a CRLF begun in the previous block */
#ifdef HAVE_AVX2_SCAN
	if (__builtin_cpu_supports("avx2"))
		p = skip_lines_avx2(p, end, eol);
#endif
	while (end - p >= 18) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		__m128i y = _mm_loadu_si128((const __m128i *)(const void *)(p + 1));
		__m128i ctl = _mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x);
		__m128i sp = _mm_cmpeq_epi8(x, c20);
		__m128i next_ws = _mm_cmpeq_epi8(_mm_min_epu8(y, c20), y);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(ctl, _mm_and_si128(sp, next_ws)));
		if (!m) { /* the common block; carry is 0 too: its LF is a ctl */
			p += 16;
			continue;
		}
		__m128i z = _mm_loadu_si128((const __m128i *)(const void *)(p + 2));
		__m128i then_ws = _mm_cmpeq_epi8(_mm_min_epu8(z, c20), z);
		__m128i crlf = _mm_and_si128(_mm_cmpeq_epi8(x, cr), _mm_cmpeq_epi8(y, lf));
		unsigned ends = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(then_ws, crlf));
		const char *stop = block_stop(p, m, ends, 16, &carry, eol);
		if (stop)
			return stop;
		p += 16;
	}
	return skip_text(p + carry, end);
}
#else
static const char *skip_lines(const char *p, const char *end, const char **eol)
{
	(void)eol;
	return skip_text(p, end);
}
#endif

/* relaxed: WSP runs become one SP, trailing WSP and trailing blank lines
 * go, an empty body stays empty. Untouched stretches, including empty
 * lines between text and the CRLFs themselves, go out as single slices
 * of the message; only changed spots break a slice. */
static void body_relaxed(const char *p, size_t len, struct dkim_sink *s)
{
	const char *end = p + len;
	struct rbody b = {.run = p, .commit = p, .line = p};
	while (s->limit) {
		if (!b.content && p < end && (unsigned char)*p > ' ')
			rbody_content(&b, s); /* a line that starts with text */
		const char *eol = NULL;
		const char *q = b.content ? skip_lines(p, end, &eol) : skip_text(p, end);
		if (eol)
			b.commit = b.line = eol;
		if (q > p && !b.content)
			rbody_content(&b, s);
		if (q == end)
			break;
		unsigned char c = (unsigned char)*q;
		if (c == ' ' && q + 1 < end && (unsigned char)q[1] > 0x20 && b.content) {
			p = q + 1; /* a lone SP inside text: unchanged */
		} else if (is_wsp(c)) {
			p = rbody_wsp(&b, q, end, s);
		} else if (crlf_at(q, end)) {
			rbody_eol(&b, q, s);
			p = q + 2;
		} else { /* other control bytes, bare CR or LF: text */
			if (!b.content)
				rbody_content(&b, s);
			p = q + 1;
		}
	}
	if (b.content && s->limit) { /* last line lacks its CRLF */
		emit(s, b.run, (size_t)(end - b.run));
		emit(s, LIT_CRLF, 2);
		b.run = b.commit = end;
	}
	if (!b.broken && b.commit > b.run)
		emit(s, b.run, (size_t)(b.commit - b.run));
}

void dkim_canon_body(enum dkim_canon c, const char *body, size_t len,
		     struct dkim_sink *s)
{
	if (c == DKIM_CANON_SIMPLE)
		body_simple(body, len, s);
	else
		body_relaxed(body, len, s);
}
