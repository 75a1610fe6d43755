/*
 * spf_macro — see spf_macro.h. One scanner serves both checking and
 * expansion, so the two can never disagree about what is valid.
 */
#include "spf_macro.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Macro values longer than this are cut: identities are bounded by SMTP
 * (RFC 5321 §4.5.3.1) well below it, and it bounds the split array. */
#define VALUE_MAX 1024

struct out {
	char *p;
	size_t len, size;
	bool overflow;
};

static void out_putc(struct out *o, char c)
{
	if (!o->p)
		return;
	if (o->len + 1 >= o->size) {
		o->overflow = true;
		return;
	}
	o->p[o->len++] = c;
}

static void out_put(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n && !o->overflow; i++)
		out_putc(o, s[i]);
}

static bool is_delim(char c)
{
	return c && strchr(".-+,/_=", c) != NULL;
}

static bool is_unreserved(unsigned char c)
{
	return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static size_t put_str(char *buf, size_t size, const char *s)
{
	size_t n = strlen(s);
	if (n >= size)
		n = size - 1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return n;
}

static size_t put_ip_letter(const struct spf_ip *ip, char *buf, size_t size)
{
	if (ip->family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&ip->u.v4;
		return (size_t)snprintf(buf, size, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	}
	/* Upper-case nibbles, as in the RFC 7208 §7.4 examples. */
	static const char hex[] = "0123456789ABCDEF";
	size_t n = 0;
	for (int k = 0; k < 16; k++) {
		uint8_t byte = ip->u.v6.s6_addr[k];
		buf[n++] = hex[byte >> 4];
		buf[n++] = '.';
		buf[n++] = hex[byte & 15];
		buf[n++] = '.';
	}
	buf[--n] = '\0';
	return n;
}

/* The raw value of a macro letter (lower case), written into buf (at
 * least VALUE_MAX + 1 bytes). */
static size_t letter_value(char letter, const struct spf_macro_ctx *c,
			   char *buf, size_t size)
{
	size_t n;
	switch (letter) {
	case 's':
		n = put_str(buf, size, c->local);
		if (n + 1 < size) {
			buf[n++] = '@';
			n += put_str(buf + n, size - n, c->sender_dom);
		}
		return n;
	case 'l': return put_str(buf, size, c->local);
	case 'o': return put_str(buf, size, c->sender_dom);
	case 'd': return put_str(buf, size, c->domain);
	case 'h': return put_str(buf, size, c->helo);
	case 'p': return put_str(buf, size, c->validated ? c->validated : "unknown");
	case 'r': return put_str(buf, size, c->receiver ? c->receiver : "unknown");
	case 'v': return put_str(buf, size, c->ip->family == AF_INET ? "in-addr" : "ip6");
	case 't':
		return (size_t)snprintf(buf, size, "%lld", (long long)c->now);
	case 'c':
		if (!inet_ntop(c->ip->family, &c->ip->u, buf, (socklen_t)size))
			buf[0] = '\0';
		return strlen(buf);
	default: /* 'i' */
		return put_ip_letter(c->ip, buf, size);
	}
}

struct part {
	uint16_t off, len;
};

/* Apply the transformers to value and write it, escaped when upper. */
static void emit_transformed(struct out *o, const char *v, size_t vlen,
			     unsigned keep, bool reverse, const char *delims,
			     size_t ndelims, bool escape)
{
	struct part parts[VALUE_MAX + 2];
	size_t np = 0, start = 0;
	for (size_t k = 0; k <= vlen; k++) {
		bool split = k == vlen;
		if (!split)
			split = ndelims ? memchr(delims, v[k], ndelims) != NULL : v[k] == '.';
		if (split && np < sizeof parts / sizeof parts[0]) {
			parts[np].off = (uint16_t)start;
			parts[np].len = (uint16_t)(k - start);
			np++;
			start = k + 1;
		}
	}
	if (reverse)
		for (size_t a = 0, b = np - 1; a < b; a++, b--) {
			struct part t = parts[a];
			parts[a] = parts[b];
			parts[b] = t;
		}
	size_t first = keep && keep < np ? np - keep : 0;
	for (size_t k = first; k < np && !o->overflow; k++) {
		if (k > first)
			out_putc(o, '.');
		for (size_t m = 0; m < parts[k].len; m++) {
			unsigned char ch = (unsigned char)v[parts[k].off + m];
			if (escape && !is_unreserved(ch)) {
				char hex[4];
				snprintf(hex, sizeof hex, "%%%02X", ch);
				out_put(o, hex, 3);
			} else {
				out_putc(o, (char)ch);
			}
		}
	}
}

struct scan {
	const char *s;
	size_t len, i;
	bool exp;
	unsigned flags;
};

/* Parse "{letter digits [r] delims}" with sc->i at the '{'; emit the
 * expansion when o has a buffer, and advance past the '}'. */
static int scan_expand(struct scan *sc, const struct spf_macro_ctx *c,
		       struct out *o)
{
	size_t i = sc->i + 1; /* past '{' */
	if (i >= sc->len)
		return -EINVAL;
	char raw = sc->s[i++];
	char letter = (char)tolower((unsigned char)raw);
	if (!strchr("slodiphcrtv", letter) || !letter)
		return -EINVAL;
	if (!sc->exp && strchr("crt", letter))
		return -EINVAL;
	unsigned long keep = 0;
	bool digits = false;
	while (i < sc->len && isdigit((unsigned char)sc->s[i])) {
		digits = true;
		if (keep < 100000)
			keep = keep * 10 + (unsigned long)(sc->s[i] - '0');
		i++;
	}
	if (digits && keep == 0)
		return -EINVAL; /* §7.1: the DIGIT transformer is nonzero */
	bool reverse = false;
	if (i < sc->len && (sc->s[i] == 'r' || sc->s[i] == 'R')) {
		reverse = true;
		i++;
	}
	size_t dstart = i;
	while (i < sc->len && is_delim(sc->s[i]))
		i++;
	if (i >= sc->len || sc->s[i] != '}')
		return -EINVAL;
	sc->flags |= SPF_MACRO_ANY | (letter == 'p' ? SPF_MACRO_P : 0);
	if (o->p) {
		char val[VALUE_MAX + 1];
		size_t vlen = letter_value(letter, c, val, sizeof val);
		emit_transformed(o, val, vlen, (unsigned)keep, reverse,
				 sc->s + dstart, i - dstart, isupper((unsigned char)raw));
	}
	sc->i = i + 1;
	return 0;
}

static int scan_all(struct scan *sc, const struct spf_macro_ctx *c,
		    struct out *o)
{
	bool ends_with_macro = false;
	while (sc->i < sc->len) {
		unsigned char ch = (unsigned char)sc->s[sc->i];
		ends_with_macro = false;
		if (ch != '%') {
			bool ok = (ch >= 0x21 && ch <= 0x7e) || (sc->exp && ch == ' ');
			if (!ok)
				return -EINVAL;
			out_putc(o, (char)ch);
			sc->i++;
			continue;
		}
		if (++sc->i >= sc->len)
			return -EINVAL;
		char nx = sc->s[sc->i];
		ends_with_macro = true;
		if (nx == '%' || nx == '_' || nx == '-') {
			out_put(o, nx == '%' ? "%" : nx == '_' ? " " : "%20",
				nx == '-' ? 3 : 1);
			sc->i++;
		} else if (nx == '{') {
			int rc = scan_expand(sc, c, o);
			if (rc < 0)
				return rc;
		} else {
			return -EINVAL;
		}
	}
	if (ends_with_macro)
		sc->flags |= SPF_MACRO_ENDS;
	return o->overflow ? -E2BIG : 0;
}

int spf_macro_check(const char *s, size_t len, bool exp, unsigned *flags)
{
	struct scan sc = {.s = s, .len = len, .exp = exp};
	struct out o = {0};
	int rc = scan_all(&sc, NULL, &o);
	if (rc == 0 && flags)
		*flags = sc.flags;
	return rc;
}

int spf_macro_expand(const char *s, size_t len, const struct spf_macro_ctx *c,
		     char *out, size_t outsize, size_t *outlen)
{
	if (outsize == 0)
		return -E2BIG;
	struct scan sc = {.s = s, .len = len, .exp = c->exp};
	struct out o = {.p = out, .size = outsize};
	int rc = scan_all(&sc, c, &o);
	out[o.len] = '\0';
	if (outlen)
		*outlen = o.len;
	return rc;
}
