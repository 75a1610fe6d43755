/*
 * addr — see addr.h. A lexer that skips CFWS and yields atoms, quoted
 * strings, domain literals and specials (each with its span in the
 * buffer), under a recursive-descent parser with one token of lookahead.
 */
#include "addr.h"

#include <stdbool.h>
#include <string.h>

#define MAX_COMMENT_DEPTH 32

enum kind { TK_END, TK_ATOM, TK_QSTRING, TK_DLIT, TK_SPECIAL, TK_ERROR };

struct tok {
	enum kind kind;
	const char *start, *end;
	char ch; /* TK_SPECIAL */
};

struct lex {
	const char *p, *end;
	struct tok cur;
};

static bool is_atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || (c >= 0x80 /* RFC 6532 UTF-8 */) ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool is_wsp(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Skip whitespace, folding and (nested) comments. -1 on a broken comment. */
static int skip_cfws(struct lex *lx)
{
	for (;;) {
		while (lx->p < lx->end && is_wsp(*lx->p))
			lx->p++;
		if (lx->p >= lx->end || *lx->p != '(')
			return 0;
		int depth = 0;
		do {
			if (lx->p >= lx->end)
				return -1;
			char c = *lx->p++;
			if (c == '\\' && lx->p < lx->end)
				lx->p++;
			else if (c == '(' && ++depth > MAX_COMMENT_DEPTH)
				return -1;
			else if (c == ')')
				depth--;
		} while (depth > 0);
	}
}

/* Scan a delimited run ("..." or [...]) with quoted-pairs; false if open. */
static bool scan_delimited(struct lex *lx, char close)
{
	lx->p++;
	while (lx->p < lx->end && *lx->p != close) {
		if (*lx->p == '\\' && lx->p + 1 < lx->end)
			lx->p++;
		lx->p++;
	}
	if (lx->p >= lx->end)
		return false;
	lx->p++;
	return true;
}

static void lex_next(struct lex *lx)
{
	struct tok *t = &lx->cur;
	if (skip_cfws(lx) < 0) {
		t->kind = TK_ERROR;
		return;
	}
	t->start = lx->p;
	if (lx->p >= lx->end) {
		t->kind = TK_END;
	} else if (*lx->p == '"') {
		t->kind = scan_delimited(lx, '"') ? TK_QSTRING : TK_ERROR;
	} else if (*lx->p == '[') {
		t->kind = scan_delimited(lx, ']') ? TK_DLIT : TK_ERROR;
	} else if (is_atext((unsigned char)*lx->p)) {
		while (lx->p < lx->end && is_atext((unsigned char)*lx->p))
			lx->p++;
		t->kind = TK_ATOM;
	} else if (strchr("<>:;@,.", *lx->p)) {
		t->kind = TK_SPECIAL;
		t->ch = *lx->p++;
	} else {
		t->kind = TK_ERROR; /* stray ) ] \ or a control character */
	}
	t->end = lx->p;
}

static bool at(const struct lex *lx, char c)
{
	return lx->cur.kind == TK_SPECIAL && lx->cur.ch == c;
}

struct parser {
	struct lex lx;
	struct addr_mailbox *out;
	int max, count;
};

/* word *("." word): atoms and quoted strings; CFWS between is obs-local-part. */
static int parse_local(struct parser *ps, const char **start, const char **end)
{
	bool want_word = true;
	*start = ps->lx.cur.start;
	while (ps->lx.cur.kind == TK_ATOM || ps->lx.cur.kind == TK_QSTRING || at(&ps->lx, '.')) {
		bool is_word = !at(&ps->lx, '.');
		if (is_word != want_word)
			return ADDR_ERR_SYNTAX;
		want_word = !want_word;
		*end = ps->lx.cur.end;
		lex_next(&ps->lx);
	}
	return want_word ? ADDR_ERR_SYNTAX : 0; /* empty, or ends with a dot */
}

static int parse_domain(struct parser *ps, struct addr_mailbox *m)
{
	m->domain = ps->lx.cur.start;
	if (ps->lx.cur.kind == TK_DLIT) {
		m->domain_literal = true;
		m->domain_len = (size_t)(ps->lx.cur.end - m->domain);
		lex_next(&ps->lx);
		return 0;
	}
	if (ps->lx.cur.kind != TK_ATOM)
		return ADDR_ERR_NO_DOMAIN;
	const char *end = ps->lx.cur.end;
	lex_next(&ps->lx);
	while (at(&ps->lx, '.')) {
		lex_next(&ps->lx);
		if (ps->lx.cur.kind != TK_ATOM)
			return ADDR_ERR_SYNTAX;
		end = ps->lx.cur.end;
		lex_next(&ps->lx);
	}
	m->domain_len = (size_t)(end - m->domain);
	return 0;
}

static void record(struct parser *ps, const struct addr_mailbox *m)
{
	if (ps->count < ps->max)
		ps->out[ps->count] = *m;
	ps->count++;
}

/* addr-spec after the local-part's first token: local "@" domain. */
static int parse_addr_spec(struct parser *ps)
{
	struct addr_mailbox m = {0};
	const char *ls, *le = NULL;
	int rc = parse_local(ps, &ls, &le);
	if (rc)
		return rc;
	if (!at(&ps->lx, '@'))
		return ADDR_ERR_NO_DOMAIN;
	lex_next(&ps->lx);
	m.local = ls;
	m.local_len = (size_t)(le - ls);
	if ((rc = parse_domain(ps, &m)))
		return rc;
	record(ps, &m);
	return 0;
}

/* obs-route: "@" domain *("," ["@" domain]) ":" — parsed and discarded. */
static int skip_obs_route(struct parser *ps)
{
	struct addr_mailbox ignored;
	while (at(&ps->lx, '@') || at(&ps->lx, ',')) {
		bool has_domain = at(&ps->lx, '@');
		lex_next(&ps->lx);
		if (has_domain && parse_domain(ps, &ignored))
			return ADDR_ERR_SYNTAX;
	}
	if (!at(&ps->lx, ':'))
		return ADDR_ERR_SYNTAX;
	lex_next(&ps->lx);
	return 0;
}

static int parse_angle(struct parser *ps)
{
	lex_next(&ps->lx); /* '<' */
	if (at(&ps->lx, '>'))
		return ADDR_ERR_NO_DOMAIN; /* <> is no mailbox */
	int rc = at(&ps->lx, '@') ? skip_obs_route(ps) : 0;
	if (rc || (rc = parse_addr_spec(ps)))
		return rc;
	if (!at(&ps->lx, '>'))
		return ADDR_ERR_SYNTAX;
	lex_next(&ps->lx);
	return 0;
}

static int parse_element(struct parser *ps, bool in_group);

static int parse_group(struct parser *ps)
{
	lex_next(&ps->lx); /* ':' */
	for (;;) {
		int rc = parse_element(ps, true);
		if (rc)
			return rc;
		if (at(&ps->lx, ';')) {
			lex_next(&ps->lx);
			return 0;
		}
		if (!at(&ps->lx, ','))
			return ADDR_ERR_SYNTAX;
		lex_next(&ps->lx);
	}
}

/* mailbox / group / nothing (obs: empty list elements). */
static int parse_element(struct parser *ps, bool in_group)
{
	struct lex save = ps->lx;
	bool words = false;
	while (ps->lx.cur.kind == TK_ATOM || ps->lx.cur.kind == TK_QSTRING || at(&ps->lx, '.')) {
		words = true;
		lex_next(&ps->lx);
	}
	if (ps->lx.cur.kind == TK_ERROR)
		return ADDR_ERR_SYNTAX;
	if (at(&ps->lx, '<'))
		return parse_angle(ps);
	if (at(&ps->lx, ':'))
		return in_group || !words ? ADDR_ERR_SYNTAX : parse_group(ps);
	if (at(&ps->lx, '@')) {
		ps->lx = save; /* the words were the local-part */
		return parse_addr_spec(ps);
	}
	if (words)
		return ADDR_ERR_NO_DOMAIN;
	return 0;
}

int addr_parse_list(const char *value, size_t len, struct addr_mailbox *out,
		    int max)
{
	struct parser ps = {.lx = {.p = value, .end = value + len}, .out = out, .max = max};
	lex_next(&ps.lx);
	for (;;) {
		int rc = parse_element(&ps, false);
		if (rc)
			return rc;
		if (ps.lx.cur.kind == TK_END)
			return ps.count;
		if (!at(&ps.lx, ','))
			return ADDR_ERR_SYNTAX;
		lex_next(&ps.lx);
	}
}

/* Append the semantic text of [p, end): tokens without CFWS, quoted
 * strings unquoted, quoted-pairs resolved, folding removed. */
static size_t canonical(const char *p, const char *end, char *buf, size_t size)
{
	struct lex lx = {.p = p, .end = end};
	size_t len = 0;
	for (lex_next(&lx); lx.cur.kind != TK_END && lx.cur.kind != TK_ERROR; lex_next(&lx)) {
		const char *s = lx.cur.start, *e = lx.cur.end;
		if (lx.cur.kind == TK_QSTRING) {
			s++;
			e--;
		}
		for (; s < e; s++) {
			if (lx.cur.kind == TK_QSTRING && (*s == '\r' || *s == '\n'))
				continue;
			if (lx.cur.kind == TK_QSTRING && *s == '\\' && s + 1 < e)
				s++;
			if (len + 1 < size)
				buf[len] = *s;
			len++;
		}
	}
	if (size)
		buf[len < size ? len : size - 1] = '\0';
	return len;
}

size_t addr_local_text(const struct addr_mailbox *m, char *buf, size_t size)
{
	return canonical(m->local, m->local + m->local_len, buf, size);
}

size_t addr_domain_text(const struct addr_mailbox *m, char *buf, size_t size)
{
	if (m->domain_literal) {
		size_t n = m->domain_len < size ? m->domain_len : size ? size - 1 : 0;
		memcpy(buf, m->domain, n);
		if (size)
			buf[n] = '\0';
		return m->domain_len;
	}
	return canonical(m->domain, m->domain + m->domain_len, buf, size);
}
