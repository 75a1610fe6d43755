/*
 * dkim_sig — DKIM-Signature tag semantics.
 */
#include "dkim_sig.h"

#include <string.h>

const char *dkim_sig_status_reason(enum dkim_sig_status st)
{
	switch (st) {
	case DKIM_SIG_OK: return "signature ok";
	case DKIM_SIG_ERR_SYNTAX: return "signature tag-list syntax error";
	case DKIM_SIG_ERR_DUPLICATE: return "signature has a duplicated tag";
	case DKIM_SIG_ERR_MISSING: return "signature lacks a required tag";
	case DKIM_SIG_ERR_VERSION: return "signature v= is not 1";
	case DKIM_SIG_ERR_ALG: return "unknown signature algorithm";
	case DKIM_SIG_ERR_SHA1: return "rsa-sha1 not acceptable (RFC 8301)";
	case DKIM_SIG_ERR_CANON: return "unknown canonicalization";
	case DKIM_SIG_ERR_DOMAIN: return "d= or s= is not a domain name";
	case DKIM_SIG_ERR_H_FROM: return "h= does not include From";
	case DKIM_SIG_ERR_H_LONG: return "h= lists too many fields";
	case DKIM_SIG_ERR_H_SYNTAX: return "h= syntax error";
	case DKIM_SIG_ERR_I_DOMAIN: return "i= is not within d=";
	case DKIM_SIG_ERR_L: return "l= is not a number";
	case DKIM_SIG_ERR_Q: return "q= does not offer dns/txt";
	case DKIM_SIG_ERR_TIME: return "t= or x= is not a number";
	case DKIM_SIG_ERR_X_BEFORE_T: return "x= is not after t=";
	case DKIM_SIG_ERR_EXPIRED: return "signature expired (x=)";
	case DKIM_SIG_ERR_B64: return "b= or bh= is not valid base64";
	}
	return "?";
}

static bool parse_canon_one(struct dkim_slice s, enum dkim_canon *c)
{
	if (dkim_slice_eq(s, "simple"))
		*c = DKIM_CANON_SIMPLE;
	else if (dkim_slice_eq(s, "relaxed"))
		*c = DKIM_CANON_RELAXED;
	else
		return false;
	return true;
}

static enum dkim_sig_status parse_canon(const struct dkim_slice *c,
					struct dkim_sig *sig)
{
	sig->hcanon = sig->bcanon = DKIM_CANON_SIMPLE;
	if (!c)
		return DKIM_SIG_OK;
	const char *slash = memchr(c->p, '/', c->n);
	struct dkim_slice h = {c->p, slash ? (size_t)(slash - c->p) : c->n};
	if (!parse_canon_one(h, &sig->hcanon))
		return DKIM_SIG_ERR_CANON;
	if (slash && !parse_canon_one((struct dkim_slice){slash + 1, c->n - h.n - 1},
				      &sig->bcanon))
		return DKIM_SIG_ERR_CANON;
	return DKIM_SIG_OK;
}

static enum dkim_sig_status parse_alg(struct dkim_slice a, struct dkim_sig *sig)
{
	if (dkim_slice_eq(a, "rsa-sha256"))
		sig->alg = DKIM_ALG_RSA_SHA256;
	else if (dkim_slice_eq(a, "ed25519-sha256"))
		sig->alg = DKIM_ALG_ED25519_SHA256;
	else if (dkim_slice_eq(a, "rsa-sha1"))
		sig->alg = DKIM_ALG_RSA_SHA1;
	else
		return DKIM_SIG_ERR_ALG;
	return DKIM_SIG_OK;
}

/* field-name = 1*ftext, ftext = %d33-57 / %d59-126 (RFC 5322). */
static bool field_name_valid(struct dkim_slice s)
{
	if (s.n == 0)
		return false;
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c < 33 || c > 126 || c == ':')
			return false;
	}
	return true;
}

static enum dkim_sig_status parse_h(struct dkim_slice h)
{
	struct dkim_slice item;
	size_t pos = 0, n = 0;
	bool from = false;
	while (dkim_slice_next_item(h, ':', &pos, &item)) {
		if (++n > DKIM_SIG_H_MAX)
			return DKIM_SIG_ERR_H_LONG;
		if (!field_name_valid(item))
			return DKIM_SIG_ERR_H_SYNTAX;
		from = from || dkim_slice_caseeq(item, "from");
	}
	return from ? DKIM_SIG_OK : DKIM_SIG_ERR_H_FROM;
}

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* dkim-quoted-printable (§2.11): =XX is a hex-encoded octet, FWS is not
 * part of the value. Returns the decoded length or -1. */
static long qp_decode(struct dkim_slice in, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t k = 0; k < in.n; k++) {
		unsigned char c = (unsigned char)in.p[k];
		if (dkim_is_fws(c))
			continue;
		if (c == '=') {
			int hi = k + 2 < in.n ? hex_value((unsigned char)in.p[k + 1]) : -1;
			int lo = hi >= 0 ? hex_value((unsigned char)in.p[k + 2]) : -1;
			if (lo < 0)
				return -1;
			c = (unsigned char)(hi * 16 + lo);
			k += 2;
		}
		if (n == cap)
			return -1;
		out[n++] = (char)c;
	}
	return (long)n;
}

/* i= (decoded) must have a domain equal to d= or a subdomain of it. */
static enum dkim_sig_status parse_i(const struct dkim_slice *i, struct dkim_sig *sig)
{
	sig->idomain = sig->d;
	if (!i)
		return DKIM_SIG_OK;
	long n = qp_decode(*i, sig->ibuf, sizeof sig->ibuf);
	const char *at = n > 0 ? memrchr(sig->ibuf, '@', (size_t)n) : NULL;
	if (!at)
		return DKIM_SIG_ERR_I_DOMAIN;
	struct dkim_slice dom = {at + 1, (size_t)(sig->ibuf + n - (at + 1))};
	sig->idomain = dom;
	if (dkim_slices_caseeq(dom, sig->d))
		return DKIM_SIG_OK;
	if (dom.n > sig->d.n && dom.p[dom.n - sig->d.n - 1] == '.' &&
	    dkim_slices_caseeq((struct dkim_slice){dom.p + dom.n - sig->d.n, sig->d.n},
			       sig->d))
		return DKIM_SIG_OK;
	return DKIM_SIG_ERR_I_DOMAIN;
}

/* l= is up to 76 digits; values past 2^63 cannot fit any body anyway. */
static enum dkim_sig_status parse_l(const struct dkim_slice *l, struct dkim_sig *sig)
{
	sig->has_l = l != NULL;
	if (!l)
		return DKIM_SIG_OK;
	struct dkim_slice s = *l;
	if (s.n == 0 || s.n > 76)
		return DKIM_SIG_ERR_L;
	for (size_t k = 0; k < s.n; k++)
		if (s.p[k] < '0' || s.p[k] > '9')
			return DKIM_SIG_ERR_L;
	while (s.n > 1 && s.p[0] == '0')
		s.p++, s.n--;
	if (!dkim_slice_to_u64(s, &sig->l))
		sig->l = UINT64_MAX;
	return DKIM_SIG_OK;
}

static enum dkim_sig_status parse_times(const struct dkim_taglist *t, uint64_t now)
{
	const struct dkim_slice *ts = dkim_tags_get(t, "t"), *xs = dkim_tags_get(t, "x");
	uint64_t tv = 0, xv = 0;
	if ((ts && !dkim_slice_to_u64(*ts, &tv)) || (xs && !dkim_slice_to_u64(*xs, &xv)))
		return DKIM_SIG_ERR_TIME;
	/* §3.5: x= MUST be greater than t= (equal is as malformed as before) */
	if (ts && xs && xv <= tv)
		return DKIM_SIG_ERR_X_BEFORE_T;
	if (xs && now && now > xv)
		return DKIM_SIG_ERR_EXPIRED;
	return DKIM_SIG_OK;
}

static bool q_has_dns_txt(const struct dkim_slice *q)
{
	struct dkim_slice item;
	size_t pos = 0;
	if (!q)
		return true;
	while (dkim_slice_next_item(*q, ':', &pos, &item))
		if (dkim_slice_eq(item, "dns/txt"))
			return true;
	return false;
}

static enum dkim_sig_status decode_hashes(const struct dkim_slice *bh,
					  struct dkim_sig *sig)
{
	unsigned char tmp[64];
	long n = dkim_base64_decode(sig->b, sig->sig, sizeof sig->sig);
	if (n <= 0)
		return DKIM_SIG_ERR_B64;
	sig->siglen = (size_t)n;
	n = dkim_base64_decode(*bh, tmp, sizeof tmp);
	if (n < 0)
		return DKIM_SIG_ERR_B64;
	sig->bhlen = (size_t)n;
	memcpy(sig->bh, tmp, n < 32 ? (size_t)n : 32);
	return DKIM_SIG_OK;
}

/* The region of b='s value, surrounding whitespace included. */
static void find_hole(const struct dkim_taglist *t, struct dkim_slice value,
		      struct dkim_sig *sig)
{
	const char *end = value.p + value.n;
	const struct dkim_tag *b = dkim_tags_find(t, "b");
	if (!b)
		return;
	const char *eq = memchr(b->name.p, '=', (size_t)(end - b->name.p));
	const char *v_end = b->value.p + b->value.n;
	const char *semi = memchr(v_end, ';', (size_t)(end - v_end));
	sig->hole_lo = eq + 1;
	sig->hole_hi = semi ? semi : end;
}

static enum dkim_sig_status check_tags(const struct dkim_taglist *t,
				       uint64_t now, struct dkim_sig *sig)
{
	const struct dkim_slice *v = dkim_tags_get(t, "v"), *bh = dkim_tags_get(t, "bh");
	if (!v || !bh || !sig->a.p || !sig->b.p || !sig->d.p || !sig->h.p || !sig->s.p ||
	    sig->b.n == 0)
		return DKIM_SIG_ERR_MISSING;
	enum dkim_sig_status st;
	if (!dkim_slice_eq(*v, "1"))
		return DKIM_SIG_ERR_VERSION;
	if ((st = parse_alg(sig->a, sig)) || (st = parse_canon(dkim_tags_get(t, "c"), sig)))
		return st;
	if (!dkim_domain_valid(sig->d) || !dkim_domain_valid(sig->s) ||
	    sig->d.n + sig->s.n + 12 > 253)
		return DKIM_SIG_ERR_DOMAIN;
	if ((st = parse_h(sig->h)) || (st = parse_i(dkim_tags_get(t, "i"), sig)) ||
	    (st = parse_l(dkim_tags_get(t, "l"), sig)))
		return st;
	if (!q_has_dns_txt(dkim_tags_get(t, "q")))
		return DKIM_SIG_ERR_Q;
	if ((st = parse_times(t, now)) || (st = decode_hashes(bh, sig)))
		return st;
	return sig->alg == DKIM_ALG_RSA_SHA1 ? DKIM_SIG_ERR_SHA1 : DKIM_SIG_OK;
}

static struct dkim_slice tag_or_empty(const struct dkim_taglist *t, const char *n)
{
	const struct dkim_slice *s = dkim_tags_get(t, n);
	return s ? *s : (struct dkim_slice){NULL, 0};
}

enum dkim_sig_status dkim_sig_parse(struct dkim_slice field, uint64_t now,
				    struct dkim_sig *sig)
{
	memset(sig, 0, offsetof(struct dkim_sig, sig));
	sig->field = field;
	const char *colon = memchr(field.p, ':', field.n);
	if (!colon)
		return DKIM_SIG_ERR_SYNTAX;
	struct dkim_slice value = {colon + 1, field.n - (size_t)(colon + 1 - field.p)};
	if (value.n >= 2 && value.p[value.n - 2] == '\r' && value.p[value.n - 1] == '\n')
		value.n -= 2;
	struct dkim_taglist t;
	enum dkim_tags_err e = dkim_tags_parse(value.p, value.n, &t);
	if (e != DKIM_TAGS_OK)
		return e == DKIM_TAGS_DUPLICATE ? DKIM_SIG_ERR_DUPLICATE : DKIM_SIG_ERR_SYNTAX;
	sig->a = tag_or_empty(&t, "a");
	sig->b = tag_or_empty(&t, "b");
	sig->d = tag_or_empty(&t, "d");
	sig->s = tag_or_empty(&t, "s");
	sig->h = tag_or_empty(&t, "h");
	sig->i = tag_or_empty(&t, "i");
	find_hole(&t, value, sig);
	return check_tags(&t, now, sig);
}
