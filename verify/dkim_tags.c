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

static bool name_valid(struct dkim_slice s)
{
	if (s.n == 0 || !is_alpha((unsigned char)s.p[0]))
		return false;
	for (size_t i = 1; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (!is_alpha(c) && !is_digit(c) && c != '_')
			return false;
	}
	return true;
}

/* VALCHAR is %x21-3A / %x3C-7E; FWS may separate runs of them. Bytes
 * above 0x7E are let through: key notes and z= copies carry them in the
 * wild and no decision depends on them. Control characters are not. */
static bool value_valid(struct dkim_slice s)
{
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if ((c < 0x21 && !dkim_is_fws(c)) || c == 0x7f)
			return false;
	}
	return true;
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

static enum dkim_tags_err add_tag(struct dkim_taglist *out,
				  struct dkim_slice spec)
{
	const char *eq = memchr(spec.p, '=', spec.n);
	if (!eq)
		return DKIM_TAGS_SYNTAX;
	struct dkim_slice name = dkim_slice_trim((struct dkim_slice){spec.p, (size_t)(eq - spec.p)});
	struct dkim_slice value = dkim_slice_trim(
		(struct dkim_slice){eq + 1, spec.n - (size_t)(eq - spec.p) - 1});
	if (!name_valid(name) || !value_valid(value))
		return DKIM_TAGS_SYNTAX;
	for (unsigned i = 0; i < out->n; i++)
		if (same_name(out->tags[i].name, name.p, name.n))
			return DKIM_TAGS_DUPLICATE;
	if (out->n == DKIM_TAGS_MAX)
		return DKIM_TAGS_TOO_MANY;
	out->tags[out->n++] = (struct dkim_tag){name, value};
	return DKIM_TAGS_OK;
}

enum dkim_tags_err dkim_tags_parse(const char *s, size_t n,
				   struct dkim_taglist *out)
{
	struct dkim_slice list = {s, n}, spec;
	size_t pos = 0;
	out->n = 0;
	while (dkim_slice_next_item(list, ';', &pos, &spec)) {
		if (spec.n == 0)
			continue;
		enum dkim_tags_err e = add_tag(out, spec);
		if (e != DKIM_TAGS_OK)
			return e;
	}
	return DKIM_TAGS_OK;
}

const struct dkim_slice *dkim_tags_get(const struct dkim_taglist *t,
				       const char *name)
{
	size_t n = strlen(name);
	for (unsigned i = 0; i < t->n; i++)
		if (same_name(t->tags[i].name, name, n))
			return &t->tags[i].value;
	return NULL;
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

long dkim_base64_decode(struct dkim_slice in, unsigned char *out, size_t cap)
{
	uint32_t acc = 0;
	unsigned bits = 0, pad = 0;
	size_t len = 0, i = 0;
	/* Fast path: whole quanta of four plain characters. */
	const unsigned char *u = (const unsigned char *)in.p;
	while (i + 4 <= in.n && len + 3 <= cap) {
		unsigned a = b64_value[u[i]], b = b64_value[u[i + 1]],
			 c = b64_value[u[i + 2]], d = b64_value[u[i + 3]];
		if (a - 1 > 63 || b - 1 > 63 || c - 1 > 63 || d - 1 > 63)
			break; /* FWS, padding or a bad byte: the careful loop */
		uint32_t q = (a - 1) << 18 | (b - 1) << 12 | (c - 1) << 6 | (d - 1);
		out[len++] = (unsigned char)(q >> 16);
		out[len++] = (unsigned char)(q >> 8);
		out[len++] = (unsigned char)q;
		i += 4;
	}
	for (; i < in.n; i++) {
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
