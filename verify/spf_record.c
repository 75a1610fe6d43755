/*
 * spf_record — see spf_record.h. The record is parsed in one pass over its
 * own copy of the text; CIDR suffixes are taken from the end of a term
 * because a domain-spec may itself contain '/' (macro-literal).
 */
#include "spf_record.h"

#include "spf_macro.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TERM_MAX 65535u

static const struct {
	const char *name;
	enum spf_mech mech;
} mech_names[] = {
	{"all", SPF_MECH_ALL},     {"include", SPF_MECH_INCLUDE},
	{"a", SPF_MECH_A},         {"mx", SPF_MECH_MX},
	{"ptr", SPF_MECH_PTR},     {"ip4", SPF_MECH_IP4},
	{"ip6", SPF_MECH_IP6},     {"exists", SPF_MECH_EXISTS},
};

const char *spf_mech_name(enum spf_mech m)
{
	for (size_t i = 0; i < sizeof mech_names / sizeof mech_names[0]; i++)
		if (mech_names[i].mech == m)
			return mech_names[i].name;
	return "?";
}

bool spf_mech_queries_dns(enum spf_mech m)
{
	return m == SPF_MECH_INCLUDE || m == SPF_MECH_A || m == SPF_MECH_MX ||
	       m == SPF_MECH_PTR || m == SPF_MECH_EXISTS;
}

struct parse {
	char *err;
	size_t errlen;
};

static int bad(struct parse *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int bad(struct parse *p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (p->err && p->errlen)
		vsnprintf(p->err, p->errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) /
 *            ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel_valid(const char *s, size_t n)
{
	bool alpha = false;
	if (n == 0 || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-')
			return false;
		alpha |= isalpha(c) || c == '-';
	}
	return alpha;
}

/* For a spec with no '%': is it a usable name as it stands (labels of
 * 1..63 octets, at least two, one trailing dot allowed)? Longer than 253
 * octets: neither flag, evaluation truncates it (§4.8). */
static void classify_literal(const char *s, size_t n, struct spf_spec *out)
{
	if (memchr(s, '%', n))
		return;
	size_t len = n > 0 && s[n - 1] == '.' ? n - 1 : n;
	if (len > 253)
		return;
	size_t label = 0, labels = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.') {
			label++;
			continue;
		}
		if (label == 0 || label > 63) {
			out->flags |= SPF_SPEC_BAD;
			return;
		}
		labels++, label = 0;
	}
	out->flags |= labels >= 2 ? SPF_SPEC_PLAIN : SPF_SPEC_BAD;
	out->name_len = (uint16_t)len;
}

/* domain-spec = macro-string domain-end (§7.1). */
static int check_spec(struct parse *p, const char *s, size_t n,
		      struct spf_spec *out, const char *what)
{
	unsigned flags = 0;
	if (n == 0)
		return bad(p, "%s: empty domain-spec", what);
	if (n > TERM_MAX || spf_macro_check(s, n, false, &flags) < 0)
		return bad(p, "%s: bad macro-string '%.*s'", what, (int)(n > 64 ? 64 : n), s);
	if (!(flags & SPF_MACRO_ENDS)) {
		size_t end = s[n - 1] == '.' ? n - 1 : n, dot = end;
		while (dot > 0 && s[dot - 1] != '.')
			dot--;
		if (dot == 0 || !toplabel_valid(s + dot, end - dot))
			return bad(p, "%s: '%.*s' does not end in a valid top label",
				   what, (int)(n > 64 ? 64 : n), s);
	}
	out->s = s;
	out->len = (uint16_t)n;
	out->flags = (uint16_t)flags;
	classify_literal(s, n, out);
	return 0;
}

/* A CIDR length "/N": "0" or no leading zero, at most max. */
static int parse_cidr(const char *s, size_t n, unsigned max, uint8_t *out)
{
	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return -EINVAL;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -EINVAL;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	if (v > max)
		return -EINVAL;
	*out = (uint8_t)v;
	return 0;
}

/* Length of a trailing "/digits" of s[0..n), 0 when there is none. */
static size_t cidr_suffix(const char *s, size_t n)
{
	size_t i = n;
	while (i > 0 && isdigit((unsigned char)s[i - 1]))
		i--;
	return i < n && i > 0 && s[i - 1] == '/' ? n - i + 1 : 0;
}

/* a / mx: [":" domain-spec] [ "/" ip4-cidr ] [ "//" ip6-cidr ] */
static int parse_dual(struct parse *p, const char *r, size_t n,
		      struct spf_term *t)
{
	size_t k = cidr_suffix(r, n);
	if (k && n - k >= 1 && r[n - k - 1] == '/') {
		if (parse_cidr(r + n - k + 1, k - 1, 128, &t->cidr6) < 0)
			return bad(p, "%s: bad ip6-cidr-length", spf_mech_name(t->mech));
		n -= k + 1;
		k = cidr_suffix(r, n);
	}
	if (k) {
		if (parse_cidr(r + n - k + 1, k - 1, 32, &t->cidr4) < 0)
			return bad(p, "%s: bad ip4-cidr-length", spf_mech_name(t->mech));
		n -= k;
	}
	if (n == 0)
		return 0;
	if (r[0] != ':')
		return bad(p, "%s: unexpected '%.*s'", spf_mech_name(t->mech), (int)(n > 32 ? 32 : n), r);
	return check_spec(p, r + 1, n - 1, &t->spec, spf_mech_name(t->mech));
}

/* ip4:/ip6: address with an optional single CIDR length. */
static int parse_ip(struct parse *p, const char *r, size_t n, struct spf_term *t)
{
	bool v4 = t->mech == SPF_MECH_IP4;
	const char *name = spf_mech_name(t->mech);
	if (n < 2 || r[0] != ':')
		return bad(p, "%s: missing address", name);
	r++, n--;
	const char *slash = memchr(r, '/', n);
	size_t alen = slash ? (size_t)(slash - r) : n;
	char buf[INET6_ADDRSTRLEN + 1];
	if (alen == 0 || alen >= sizeof buf)
		return bad(p, "%s: bad address", name);
	memcpy(buf, r, alen);
	buf[alen] = '\0';
	if (inet_pton(v4 ? AF_INET : AF_INET6, buf, &t->addr) != 1)
		return bad(p, "%s: bad address '%s'", name, buf);
	if (slash && parse_cidr(slash + 1, n - alen - 1, v4 ? 32 : 128,
				v4 ? &t->cidr4 : &t->cidr6) < 0)
		return bad(p, "%s: bad CIDR length", name);
	return 0;
}

static int parse_mech_args(struct parse *p, const char *r, size_t n,
			   struct spf_term *t)
{
	const char *name = spf_mech_name(t->mech);
	switch (t->mech) {
	case SPF_MECH_ALL:
		return n ? bad(p, "all takes no argument") : 0;
	case SPF_MECH_INCLUDE:
	case SPF_MECH_EXISTS:
		if (n < 1 || r[0] != ':')
			return bad(p, "%s: domain-spec required", name);
		return check_spec(p, r + 1, n - 1, &t->spec, name);
	case SPF_MECH_PTR:
		if (n == 0)
			return 0;
		if (r[0] != ':')
			return bad(p, "ptr: unexpected '%.*s'", (int)(n > 32 ? 32 : n), r);
		return check_spec(p, r + 1, n - 1, &t->spec, name);
	case SPF_MECH_A:
	case SPF_MECH_MX:
		return parse_dual(p, r, n, t);
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		return parse_ip(p, r, n, t);
	}
	return -EINVAL;
}

static size_t name_len(const char *s, size_t n)
{
	size_t i = 0;
	if (n == 0 || !isalpha((unsigned char)s[0]))
		return 0;
	while (i < n && (isalnum((unsigned char)s[i]) || s[i] == '-' ||
			 s[i] == '_' || s[i] == '.'))
		i++;
	return i;
}

static int parse_modifier(struct parse *p, struct spf_record *rec,
			  const char *s, size_t nl, size_t n)
{
	const char *v = s + nl + 1;
	size_t vl = n - nl - 1;
	struct spf_spec *slot = NULL;
	if (nl == 8 && strncasecmp(s, "redirect", 8) == 0)
		slot = &rec->redirect;
	else if (nl == 3 && strncasecmp(s, "exp", 3) == 0)
		slot = &rec->exp;
	if (!slot) /* unknown-modifier = name "=" macro-string, then ignored */
		return spf_macro_check(v, vl, false, NULL) < 0
			       ? bad(p, "modifier %.*s: bad macro-string", (int)nl, s)
			       : 0;
	if (slot->s)
		return bad(p, "%.*s= given twice", (int)nl, s);
	return check_spec(p, v, vl, slot, nl == 3 ? "exp" : "redirect");
}

static enum spf_result qualifier_of(char c)
{
	return c == '-' ? SPF_FAIL : c == '~' ? SPF_SOFTFAIL : c == '?' ? SPF_NEUTRAL : SPF_PASS;
}

static int parse_term(struct parse *p, struct spf_record *rec,
		      struct spf_term *terms, const char *s, size_t n)
{
	bool has_q = strchr("+-~?", s[0]) != NULL;
	const char *b = s + has_q;
	size_t bn = n - has_q, nl = name_len(b, bn);
	if (nl == 0)
		return bad(p, "bad term '%.*s'", (int)(n > 32 ? 32 : n), s);
	if (nl < bn && b[nl] == '=') {
		if (has_q)
			return bad(p, "a modifier takes no qualifier");
		return parse_modifier(p, rec, b, nl, bn);
	}
	struct spf_term *t = &terms[rec->nterms];
	*t = (struct spf_term){.qual = qualifier_of(has_q ? s[0] : '+'),
			       .cidr4 = 32, .cidr6 = 128, .text = s,
			       .text_len = (uint16_t)n};
	size_t i;
	for (i = 0; i < sizeof mech_names / sizeof mech_names[0]; i++)
		if (strlen(mech_names[i].name) == nl &&
		    strncasecmp(b, mech_names[i].name, nl) == 0)
			break;
	if (i == sizeof mech_names / sizeof mech_names[0])
		return bad(p, "unknown mechanism '%.*s'", (int)(nl > 32 ? 32 : nl), b);
	t->mech = mech_names[i].mech;
	int rc = parse_mech_args(p, b + nl, bn - nl, t);
	if (rc == 0)
		rec->nterms++;
	return rc;
}

int spf_record_parse(const char *text, size_t len, struct spf_record **out,
		     char *err, size_t errlen)
{
	struct parse p = {.err = err, .errlen = errlen};
	if (err && errlen)
		err[0] = '\0';
	size_t maxterms = 1; /* one per run of non-spaces, sized exactly */
	for (size_t i = 1; i < len; i++)
		maxterms += text[i] != ' ' && text[i - 1] == ' ';
	struct spf_record *rec = calloc(1, sizeof *rec +
					       maxterms * sizeof(struct spf_term) + len + 1);
	if (!rec)
		return -ENOMEM;
	struct spf_term *terms = (struct spf_term *)(rec + 1);
	char *copy = (char *)(terms + maxterms);
	memcpy(copy, text, len);
	rec->refs = 1;
	rec->terms = terms;
	for (size_t i = 0; i < len;) {
		if (copy[i] == ' ') {
			i++;
			continue;
		}
		size_t j = i;
		while (j < len && copy[j] != ' ')
			j++;
		int rc = j - i > TERM_MAX ? bad(&p, "term too long")
					  : parse_term(&p, rec, terms, copy + i, j - i);
		if (rc < 0) {
			free(rec);
			return rc;
		}
		i = j;
	}
	*out = rec;
	return 0;
}

struct spf_record *spf_record_ref(struct spf_record *r)
{
	r->refs++;
	return r;
}

void spf_record_release(struct spf_record *r)
{
	if (r && --r->refs == 0)
		free(r);
}
