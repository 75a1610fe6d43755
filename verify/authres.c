/*
 * authres — see authres.h. Output is built from "words" that are never
 * split (a method and result, one property, one key=value pair); between
 * words the writer puts a space, or folds (CRLF TAB) when the word would
 * pass column 78.
 */
#include "authres.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#define FOLD_COLUMN 78
#define WORD_MAX 1024

struct out {
	char *buf;
	size_t size, len, col;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || o->len + n + 1 > o->size) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
	o->col += n;
}

static void put_word(struct out *o, const char *w, size_t n)
{
	if (o->col + 1 + n > FOLD_COLUMN && o->col > 1) {
		put(o, "\r\n\t", 3);
		o->col = 1;
	} else {
		put(o, " ", 1);
	}
	put(o, w, n);
}

/* A byte that may appear in a header value as is (UTF-8 allowed, RFC 8616). */
static char safe(unsigned char c)
{
	return c < 0x20 || c == 0x7f ? '?' : (char)c;
}

static bool is_tspecial(char c)
{
	return strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

/* RFC 2045 token: printable ASCII, no space, no tspecials. */
static bool is_token(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7f || is_tspecial(*s))
			return false;
	return true;
}

static bool is_atext(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || strchr("!#$%&'*+-/=?^_`{|}~", c);
}

/* RFC 5322 dot-atom-text (n bytes of s). */
static bool is_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(is_atext(s[i]) || (s[i] == '.' && s[i + 1] != '.')))
			return false;
	return true;
}

static bool is_let_dig(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* RFC 6376 §3.5 domain-name, which RFC 8601 uses after "@": two labels or
 * more, each a RFC 5321 sub-domain (letters, digits, inner hyphens). Any
 * other domain is still written, quoted. */
static bool is_domain_name(const char *s)
{
	size_t labels = 0;
	for (const char *label = s;; label++) {
		const char *end = label;
		while (is_let_dig(*end) || *end == '-')
			end++;
		if (end == label || !is_let_dig(label[0]) || !is_let_dig(end[-1]))
			return false;
		labels++;
		if (*end == '\0')
			return labels >= 2;
		if (*end != '.')
			return false;
		label = end;
	}
}

/* [local-part] "@" domain-name, unquoted (RFC 8601 pvalue). */
static bool is_bare_address(const char *s)
{
	const char *at = strrchr(s, '@');
	if (!at)
		return false;
	return (at == s || is_dot_atom(s, (size_t)(at - s))) && is_domain_name(at + 1);
}

/* Append v as a quoted-string to w (escaping " and \, defusing controls). */
static size_t quote_into(char *w, size_t len, size_t cap, const char *v)
{
	if (len < cap)
		w[len++] = '"';
	for (; *v && len + 3 < cap; v++) {
		char c = safe((unsigned char)*v);
		if (c == '"' || c == '\\')
			w[len++] = '\\';
		w[len++] = c;
	}
	if (len < cap)
		w[len++] = '"';
	return len;
}

/* Append value to w at len: bare when the grammar allows (a token, or with
 * address_ok an unquoted address), otherwise as a quoted-string. */
static size_t value_into(char *w, size_t len, size_t cap, const char *value,
			 bool address_ok)
{
	if (!(is_token(value) || (address_ok && is_bare_address(value))) ||
	    strlen(value) >= cap - len)
		return quote_into(w, len, cap, value);
	memcpy(w + len, value, strlen(value));
	return len + strlen(value);
}

static size_t format_pair(char *w, size_t cap, const char *name, const char *value,
			  bool address_ok)
{
	size_t len = 0;
	for (; *name && len + 2 < cap; name++)
		w[len++] = safe((unsigned char)*name);
	w[len++] = '=';
	return value_into(w, len, cap, value, address_ok);
}

/* One resinfo: "method=result [reason=...] [ptype.prop=value ...]", with
 * the separating ';' after its last word unless it is the last one. */
static void put_method(struct out *o, const struct authres_method *m, bool last)
{
	char w[WORD_MAX + 8];
	struct authres_prop words[AUTHRES_MAX_PROPS + 2];
	int nw = 0;
	words[nw++] = (struct authres_prop){m->method, auth_result_name(m->result)};
	if (m->reason)
		words[nw++] = (struct authres_prop){"reason", m->reason};
	for (int k = 0; k < AUTHRES_MAX_PROPS; k++)
		if (m->props[k].value && m->props[k].value[0])
			words[nw++] = m->props[k];
	int first_prop = m->reason ? 2 : 1;
	for (int k = 0; k < nw; k++) {
		size_t len = format_pair(w, WORD_MAX, words[k].name, words[k].value,
					 k >= first_prop);
		if (k + 1 == nw && !last)
			w[len++] = ';';
		put_word(o, w, len);
	}
}

int authres_render(char *buf, size_t size, const char *authserv_id,
		   const struct authres_method *m, unsigned n)
{
	struct out o = {.buf = buf, .size = size};
	char w[WORD_MAX + 8];
	put(&o, "Authentication-Results:", 23);
	size_t len = value_into(w, 0, WORD_MAX, authserv_id, false);
	w[len++] = ';';
	put_word(&o, w, len);
	if (n == 0)
		put_word(&o, "none", 4);
	for (unsigned i = 0; i < n; i++)
		put_method(&o, &m[i], i + 1 == n);
	return o.overflow ? -ENOSPC : (int)o.len;
}

/* Comment text: ( ) and \ escaped as quoted-pairs, controls defused. */
static size_t comment_into(char *w, size_t cap, const char *text)
{
	size_t len = 0;
	w[len++] = '(';
	for (; *text && len + 4 < cap; text++) {
		char c = safe((unsigned char)*text);
		if (c == '(' || c == ')' || c == '\\')
			w[len++] = '\\';
		w[len++] = c;
	}
	w[len++] = ')';
	return len;
}

/* key=value with value a dot-atom or a quoted-string (RFC 7208 §9.1). */
static void put_kv(struct out *o, const char *key, const char *value)
{
	char w[WORD_MAX + 8];
	if (!value || !value[0])
		return;
	size_t len = strlen(key);
	memcpy(w, key, len);
	w[len++] = '=';
	if (is_dot_atom(value, strlen(value)) && strlen(value) < WORD_MAX - len) {
		memcpy(w + len, value, strlen(value));
		len += strlen(value);
	} else {
		len = quote_into(w, len, WORD_MAX, value);
	}
	w[len++] = ';';
	put_word(o, w, len);
}

int received_spf_render(char *buf, size_t size, const struct received_spf *r)
{
	struct out o = {.buf = buf, .size = size};
	char w[WORD_MAX + 8];
	put(&o, "Received-SPF:", 13);
	const char *result = auth_result_name(r->result);
	put_word(&o, result, strlen(result));
	if (r->comment && r->comment[0]) {
		size_t len = comment_into(w, WORD_MAX, r->comment);
		put_word(&o, w, len);
	}
	put_kv(&o, "client-ip", r->client_ip);
	put_kv(&o, "envelope-from", r->envelope_from);
	put_kv(&o, "helo", r->helo);
	put_kv(&o, "receiver", r->receiver);
	put_kv(&o, "identity", r->identity);
	put_kv(&o, "mechanism", r->mechanism);
	put_kv(&o, "problem", r->problem);
	return o.overflow ? -ENOSPC : (int)o.len;
}
