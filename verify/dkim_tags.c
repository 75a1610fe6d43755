/*
 * dkim_tags — RFC 6376 §3.2 tag-lists and shared lexical helpers.
 */
#include "dkim_tags.h"

#include <string.h>

static bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

struct dkim_slice dkim_slice_trim(struct dkim_slice s)
{
	while (s.n && dkim_is_fws((unsigned char)s.p[0]))
		s.p++, s.n--;
	while (s.n && dkim_is_fws((unsigned char)s.p[s.n - 1]))
		s.n--;
	return s;
}

bool dkim_slice_eq(struct dkim_slice s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && memcmp(s.p, lit, n) == 0;
}

bool dkim_slices_caseeq(struct dkim_slice a, struct dkim_slice b)
{
	if (a.n != b.n)
		return false;
	for (size_t i = 0; i < a.n; i++)
		if (lower((unsigned char)a.p[i]) != lower((unsigned char)b.p[i]))
			return false;
	return true;
}

bool dkim_slice_caseeq(struct dkim_slice s, const char *lit)
{
	return dkim_slices_caseeq(s, (struct dkim_slice){lit, strlen(lit)});
}

bool dkim_slice_next_item(struct dkim_slice list, char sep, size_t *pos,
			  struct dkim_slice *item)
{
	if (*pos > list.n)
		return false;
	const char *start = list.p + *pos;
	const char *end = list.p + list.n;
	const char *q = memchr(start, sep, (size_t)(end - start));
	if (!q)
		q = end;
	*item = dkim_slice_trim((struct dkim_slice){start, (size_t)(q - start)});
	*pos = (size_t)(q - list.p) + 1;
	return true;
}

static bool is_name_char(unsigned char c)
{
	return is_alpha(c) || is_digit(c) || c == '_';
}

static const char *skip_fws(const char *p, const char *end)
{
	while (p < end && dkim_is_fws((unsigned char)*p))
		p++;
	return p;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
/* Non-zero when some byte of x is below n (n <= 128); bytes with the
 * high bit set never count. */
#define ANY_BELOW(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS)

/* Eight bytes that are all VALCHAR (or 8-bit), none of them ';'. */
static bool plain8(const char *p)
{
	uint64_t x;
	memcpy(&x, p, 8); /* a register load */
	return !(ANY_BELOW(x, 0x21) | ANY_BELOW(x ^ (ONES * 0x7f), 1) |
		 ANY_BELOW(x ^ (ONES * ';'), 1));
}

/* A value from p: VALCHAR is %x21-3A / %x3C-7E, and FWS may separate
 * runs of them. Bytes above 0x7E are let through: key notes and z=
 * copies carry them in the wild and no decision depends on them.
 * Control characters are not. Returns where the value stops (at ';' or
 * end) with *last just past its last non-FWS byte, or NULL at a byte no
 * value may hold. b= and p= are long: eight plain bytes go per step. */
static const char *scan_value(const char *p, const char *end, const char **last)
{
	while (p < end) {
		if (end - p >= 8 && plain8(p)) {
			p += 8;
			*last = p;
			continue;
		}
		/* Something in the next eight bytes: look at them one by one. */
		for (const char *e = end - p > 8 ? p + 8 : end; p < e; p++) {
			unsigned char c = (unsigned char)*p;
			if (c == ';')
				return p;
			if (dkim_is_fws(c))
				continue;
			if (c < 0x21 || c == 0x7f)
				return NULL;
			*last = p + 1;
		}
	}
	return p;
}

/* Tag names are one or two letters almost always: an inline compare
 * beats a memcmp call here. */
static bool same_name(struct dkim_slice a, const char *b, size_t n)
{
	if (a.n != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (a.p[i] != b[i])
			return false;
	return true;
}

/* The letter[] slot of a one-letter lower-case name, or -1. */
static int letter_slot(const char *p, size_t n)
{
	return n == 1 && *p >= 'a' && *p <= 'z' ? *p - 'a' : -1;
}

static enum dkim_tags_err add_tag(struct dkim_taglist *out, struct dkim_slice name,
				  struct dkim_slice value)
{
	int slot = letter_slot(name.p, name.n);
	if (slot >= 0 && out->letter[slot])
		return DKIM_TAGS_DUPLICATE;
	for (unsigned i = 0; slot < 0 && i < out->n; i++)
		if (same_name(out->tags[i].name, name.p, name.n))
			return DKIM_TAGS_DUPLICATE;
	if (out->n == DKIM_TAGS_MAX)
		return DKIM_TAGS_TOO_MANY;
	out->tags[out->n++] = (struct dkim_tag){name, value};
	if (slot >= 0)
		out->letter[slot] = (unsigned char)out->n;
	return DKIM_TAGS_OK;
}

/* One pass: FWS, name, FWS, '=', FWS, value up to ';' or the end. */
enum dkim_tags_err dkim_tags_parse(const char *s, size_t n,
				   struct dkim_taglist *out)
{
	const char *p = s, *end = s + n;
	out->n = 0;
	memset(out->letter, 0, sizeof out->letter);
	while ((p = skip_fws(p, end)) < end) {
		if (*p == ';') { /* an empty tag-spec */
			p++;
			continue;
		}
		struct dkim_slice name = {p, 0};
		if (is_alpha((unsigned char)*p))
			while (++p < end && is_name_char((unsigned char)*p))
				;
		name.n = (size_t)(p - name.p);
		p = skip_fws(p, end);
		if (name.n == 0 || p == end || *p != '=')
			return DKIM_TAGS_SYNTAX;
		const char *v = skip_fws(p + 1, end), *last = v;
		if (!(p = scan_value(v, end, &last)))
			return DKIM_TAGS_SYNTAX;
		enum dkim_tags_err e = add_tag(out, name, (struct dkim_slice){v, (size_t)(last - v)});
		if (e != DKIM_TAGS_OK)
			return e;
		p += p < end; /* the ';' */
	}
	return DKIM_TAGS_OK;
}

const struct dkim_tag *dkim_tags_find(const struct dkim_taglist *t, const char *name)
{
	size_t n = name[0] && !name[1] ? 1 : strlen(name);
	int slot = letter_slot(name, n);
	if (slot >= 0)
		return t->letter[slot] ? &t->tags[t->letter[slot] - 1] : NULL;
	for (unsigned i = 0; i < t->n; i++)
		if (same_name(t->tags[i].name, name, n))
			return &t->tags[i];
	return NULL;
}

const struct dkim_slice *dkim_tags_get(const struct dkim_taglist *t,
				       const char *name)
{
	const struct dkim_tag *tag = dkim_tags_find(t, name);
	return tag ? &tag->value : NULL;
}

/* 1 + the value of each base64 character; B64_FWS is skipped, B64_PAD
 * is '=', 0 (the default) is anything else. */
#define B64_FWS 65
#define B64_PAD 66
static const unsigned char b64_value[256] = {
	['A'] = 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
	21, 22, 23, 24, 25, 26,
	['a'] = 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, 41, 42, 43, 44,
	45, 46, 47, 48, 49, 50, 51, 52,
	['0'] = 53, 54, 55, 56, 57, 58, 59, 60, 61, 62,
	['+'] = 63, ['/'] = 64, ['='] = B64_PAD,
	[' '] = B64_FWS, ['\t'] = B64_FWS, ['\r'] = B64_FWS, ['\n'] = B64_FWS,
};

/* Whole quanta of four plain characters from in[*i]; stops before FWS,
 * padding or a bad byte, or when out has no room for three more. */
static void base64_quanta(struct dkim_slice in, size_t *i, unsigned char *out,
			  size_t *len, size_t cap)
{
	const unsigned char *u = (const unsigned char *)in.p;
	while (*i + 4 <= in.n && *len + 3 <= cap) {
		unsigned a = b64_value[u[*i]] - 1u, b = b64_value[u[*i + 1]] - 1u,
			 c = b64_value[u[*i + 2]] - 1u, d = b64_value[u[*i + 3]] - 1u;
		if ((a | b | c | d) > 63) /* 0 (bad) wraps around, FWS and '=' are 64, 65 */
			return;
		uint32_t q = a << 18 | b << 12 | c << 6 | d;
		out[(*len)++] = (unsigned char)(q >> 16);
		out[(*len)++] = (unsigned char)(q >> 8);
		out[(*len)++] = (unsigned char)q;
		*i += 4;
	}
}

long dkim_base64_decode(struct dkim_slice in, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;
	size_t len = 0;
	/* Signatures are folded every few dozen characters: after each fold
	 * (or any byte the fast path leaves alone) this loop takes bytes one
	 * at a time only until a quantum ends, then the fast path resumes. */
	for (size_t i = 0; i < in.n; i++) {
		if (bits == 0 && !pad) {
			base64_quanta(in, &i, out, &len, cap);
			if (i == in.n)
				break;
		}
		unsigned v = b64_value[(unsigned char)in.p[i]];
		if (v == B64_FWS)
			continue;
		if (v == B64_PAD) {
			pad++;
			continue;
		}
		if (v == 0 || pad)
			return -1;
		acc = (acc << 6) | (v - 1);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (len == cap)
				return -1;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be the zero fill of a proper final quantum. */
	if (pad > 2 || bits >= 6 || (pad && (bits / 2) != pad))
		return -1;
	return (long)len;
}

bool dkim_slice_to_u64(struct dkim_slice s, uint64_t *out)
{
	if (s.n == 0 || s.n > 18)
		return false;
	uint64_t v = 0;
	for (size_t i = 0; i < s.n; i++) {
		if (!is_digit((unsigned char)s.p[i]))
			return false;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	return true;
}

bool dkim_domain_valid(struct dkim_slice s)
{
	if (s.n == 0 || s.n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c == '.') {
			if (label == 0 || s.p[i - 1] == '-')
				return false;
			label = 0;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '-' && c != '_')
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return label > 0 && s.p[s.n - 1] != '-';
}
