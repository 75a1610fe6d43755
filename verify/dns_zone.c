/*
 * dns_zone — see dns_zone.h. Parsing happens in two layers: a lexer that
 * turns the text into logical entries (tokens with escapes decoded,
 * parentheses joining lines, comments dropped), and an entry parser that
 * turns one entry into a record at an owner. Owners live in a chained hash
 * table; ancestors of every owner are added as empty non-terminals so that
 * they answer NODATA rather than NXDOMAIN, as real DNS does.
 */
#include "dns_zone.h"

#include "dns_answer.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_CNAME_HOPS 8
#define DEFAULT_TTL 3600
#define MAX_TTL 2147483647u
#define NAME_MAX_OCTETS 253

enum owner_flags { OWNER_TIMEOUT = 1, OWNER_SERVFAIL = 2, OWNER_ENT = 4 };

struct zrec {
	uint16_t type;
	uint32_t ttl;
	union {
		struct in_addr a;
		struct in6_addr aaaa;
		struct {
			uint16_t pref;
			char *host;
		} mx;
		char *target;
		struct {
			uint8_t *data; /* lens[n] then the bytes */
			uint16_t n;
			uint32_t len;
		} txt;
		uint32_t soa_negttl;
	} u;
};

struct owner {
	struct owner *next;
	char *name;
	uint32_t hash;
	unsigned flags;
	struct zrec *recs;
	unsigned nrecs, cap;
};

struct dns_zone {
	struct owner **buckets;
	size_t nbuckets, count;
	uint32_t default_ttl;
	atomic_uint refs; /* holders; the last dns_zone_free frees it */
};

/* ---------------------------------------------------------------- lexer */

struct token {
	size_t off, len; /* into the entry's byte buffer */
	bool quoted;
	bool escaped_dot; /* an escaped '.' was decoded: not a label separator */
};

struct entry {
	struct token *tok;
	size_t ntok, captok;
	char *buf;
	size_t buflen, bufcap;
	bool blank_owner;
	unsigned line;
};

struct lexer {
	const char *p, *end;
	const char *fname;
	unsigned line;
	bool at_line_start;
	struct dns_zone_error *err;
};

static int fail(struct lexer *lx, unsigned line, const char *fmt, ...)
{
	if (lx->err) {
		int n = snprintf(lx->err->msg, sizeof lx->err->msg, "%s:%u: ",
				 lx->fname, line);
		va_list ap;
		va_start(ap, fmt);
		if (n > 0 && (size_t)n < sizeof lx->err->msg)
			vsnprintf(lx->err->msg + n, sizeof lx->err->msg - (size_t)n,
				  fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int buf_putc(struct entry *e, char c)
{
	if (e->buflen == e->bufcap) {
		size_t cap = e->bufcap ? e->bufcap * 2 : 256;
		char *nb = realloc(e->buf, cap);
		if (!nb)
			return -ENOMEM;
		e->buf = nb;
		e->bufcap = cap;
	}
	e->buf[e->buflen++] = c;
	return 0;
}

static struct token *tok_push(struct entry *e)
{
	if (e->ntok == e->captok) {
		size_t cap = e->captok ? e->captok * 2 : 16;
		struct token *nt = realloc(e->tok, cap * sizeof *nt);
		if (!nt)
			return NULL;
		e->tok = nt;
		e->captok = cap;
	}
	struct token *t = &e->tok[e->ntok++];
	*t = (struct token){.off = e->buflen};
	return t;
}

/* Decode one backslash escape (lx->p points after the backslash). */
static int lex_escape(struct lexer *lx, struct entry *e, struct token *t)
{
	if (lx->p >= lx->end)
		return fail(lx, lx->line, "backslash at end of file");
	if (isdigit((unsigned char)*lx->p)) {
		if (lx->end - lx->p < 3 || !isdigit((unsigned char)lx->p[1]) ||
		    !isdigit((unsigned char)lx->p[2]))
			return fail(lx, lx->line, "\\DDD escape needs three digits");
		int v = (lx->p[0] - '0') * 100 + (lx->p[1] - '0') * 10 +
			(lx->p[2] - '0');
		if (v > 255)
			return fail(lx, lx->line, "\\%.3s escape is over 255", lx->p);
		lx->p += 3;
		if (v == '.')
			t->escaped_dot = true;
		return buf_putc(e, (char)v);
	}
	if (*lx->p == '\n')
		return fail(lx, lx->line, "backslash before end of line");
	if (*lx->p == '.')
		t->escaped_dot = true;
	return buf_putc(e, *lx->p++);
}

static int lex_quoted(struct lexer *lx, struct entry *e)
{
	struct token *t = tok_push(e);
	if (!t)
		return -ENOMEM;
	t->quoted = true;
	unsigned start = lx->line;
	lx->p++; /* opening quote */
	while (lx->p < lx->end && *lx->p != '"') {
		int rc;
		if (*lx->p == '\n')
			return fail(lx, start, "unterminated quoted string");
		if (*lx->p == '\\') {
			lx->p++;
			rc = lex_escape(lx, e, t);
		} else {
			rc = buf_putc(e, *lx->p++);
		}
		if (rc)
			return rc;
	}
	if (lx->p >= lx->end)
		return fail(lx, start, "unterminated quoted string");
	lx->p++;
	t->len = e->buflen - t->off;
	return 0;
}

static bool is_delim(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' ||
	       c == '(' || c == ')' || c == '"';
}

static int lex_word(struct lexer *lx, struct entry *e)
{
	struct token *t = tok_push(e);
	if (!t)
		return -ENOMEM;
	while (lx->p < lx->end && !is_delim(*lx->p)) {
		int rc;
		if (*lx->p == '\\') {
			lx->p++;
			rc = lex_escape(lx, e, t);
		} else {
			rc = buf_putc(e, *lx->p++);
		}
		if (rc)
			return rc;
	}
	t->len = e->buflen - t->off;
	return 0;
}

/* Read the next logical entry. Returns 1 with an entry, 0 at end of file,
 * negative on error. */
static int lex_entry(struct lexer *lx, struct entry *e)
{
	int depth = 0;
	unsigned paren_line = 0;
	e->ntok = 0;
	e->buflen = 0;
	for (;;) {
		if (lx->at_line_start && depth == 0 && e->ntok == 0) {
			e->line = lx->line;
			e->blank_owner = lx->p < lx->end &&
					 (*lx->p == ' ' || *lx->p == '\t');
			lx->at_line_start = false;
		}
		if (lx->p >= lx->end) {
			if (depth > 0)
				return fail(lx, paren_line, "unbalanced '('");
			return e->ntok > 0;
		}
		char c = *lx->p;
		int rc = 0;
		if (c == ' ' || c == '\t' || c == '\r') {
			lx->p++;
		} else if (c == ';') {
			while (lx->p < lx->end && *lx->p != '\n')
				lx->p++;
		} else if (c == '\n') {
			lx->p++;
			lx->line++;
			lx->at_line_start = true;
			if (depth == 0 && e->ntok > 0)
				return 1;
		} else if (c == '(') {
			if (depth++ == 0)
				paren_line = lx->line;
			lx->p++;
		} else if (c == ')') {
			if (--depth < 0)
				return fail(lx, lx->line, "unbalanced ')'");
			lx->p++;
		} else if (c == '"') {
			rc = lex_quoted(lx, e);
		} else {
			rc = lex_word(lx, e);
		}
		if (rc)
			return rc;
	}
}

/* --------------------------------------------------------------- owners */

static struct owner *owner_find(const struct dns_zone *z, const char *name)
{
	uint32_t h = dns_name_hash(name, 0);
	for (struct owner *o = z->buckets[h & (z->nbuckets - 1)]; o; o = o->next)
		if (o->hash == h && strcmp(o->name, name) == 0)
			return o;
	return NULL;
}

static int zone_grow(struct dns_zone *z)
{
	size_t nb = z->nbuckets * 2;
	struct owner **b = calloc(nb, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < z->nbuckets; i++) {
		for (struct owner *o = z->buckets[i], *next; o; o = next) {
			next = o->next;
			o->next = b[o->hash & (nb - 1)];
			b[o->hash & (nb - 1)] = o;
		}
	}
	free(z->buckets);
	z->buckets = b;
	z->nbuckets = nb;
	return 0;
}

static struct owner *owner_add(struct dns_zone *z, const char *name)
{
	if (z->count >= z->nbuckets && zone_grow(z) < 0)
		return NULL;
	struct owner *o = calloc(1, sizeof *o);
	if (!o || !(o->name = strdup(name))) {
		free(o);
		return NULL;
	}
	o->hash = dns_name_hash(name, 0);
	o->next = z->buckets[o->hash & (z->nbuckets - 1)];
	z->buckets[o->hash & (z->nbuckets - 1)] = o;
	z->count++;
	return o;
}

/* Find or create the owner, and mark its missing ancestors as ENTs. */
static struct owner *owner_get(struct dns_zone *z, const char *name)
{
	struct owner *o = owner_find(z, name);
	if (o) {
		o->flags &= ~(unsigned)OWNER_ENT;
		return o;
	}
	o = owner_add(z, name);
	for (const char *dot = strchr(name, '.'); o && dot;
	     dot = strchr(dot + 1, '.')) {
		if (owner_find(z, dot + 1))
			break;
		struct owner *ent = owner_add(z, dot + 1);
		if (!ent)
			return NULL;
		ent->flags |= OWNER_ENT;
	}
	return o;
}

static struct zrec *owner_push(struct owner *o)
{
	if (o->nrecs == o->cap) {
		unsigned cap = o->cap ? o->cap * 2 : 2;
		struct zrec *nr = realloc(o->recs, cap * sizeof *nr);
		if (!nr)
			return NULL;
		o->recs = nr;
		o->cap = cap;
	}
	struct zrec *r = &o->recs[o->nrecs++];
	memset(r, 0, sizeof *r);
	return r;
}

static void zrec_free(struct zrec *r)
{
	switch (r->type) {
	case DNS_TYPE_MX:
		free(r->u.mx.host);
		break;
	case DNS_TYPE_CNAME:
	case DNS_TYPE_NS:
	case DNS_TYPE_PTR:
		free(r->u.target);
		break;
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF:
		free(r->u.txt.data);
		break;
	default:
		break;
	}
}

struct dns_zone *dns_zone_ref(struct dns_zone *z)
{
	if (z)
		atomic_fetch_add_explicit(&z->refs, 1, memory_order_relaxed);
	return z;
}

void dns_zone_free(struct dns_zone *z)
{
	/* acq_rel: every holder's reads happen before the free */
	if (!z || atomic_fetch_sub_explicit(&z->refs, 1, memory_order_acq_rel) != 1)
		return;
	for (size_t i = 0; i < z->nbuckets; i++) {
		for (struct owner *o = z->buckets[i], *next; o; o = next) {
			next = o->next;
			for (unsigned j = 0; j < o->nrecs; j++)
				zrec_free(&o->recs[j]);
			free(o->recs);
			free(o->name);
			free(o);
		}
	}
	free(z->buckets);
	free(z);
}

size_t dns_zone_owner_count(const struct dns_zone *z)
{
	return z->count;
}

/* --------------------------------------------------------- entry parser */

struct parser {
	struct lexer lx;
	struct dns_zone *z;
	struct entry e;
	char origin[NAME_MAX_OCTETS + 1];
	char last_owner[NAME_MAX_OCTETS + 1];
	bool have_owner;
};

static const char *tok_text(struct parser *ps, size_t i)
{
	return ps->e.buf + ps->e.tok[i].off;
}

static bool tok_is(struct parser *ps, size_t i, const char *word)
{
	const struct token *t = &ps->e.tok[i];
	return !t->quoted && t->len == strlen(word) &&
	       strncasecmp(tok_text(ps, i), word, t->len) == 0;
}

/* Copy token i into a NUL-terminated string; fails on embedded NULs. */
static int tok_cstr(struct parser *ps, size_t i, char *out, size_t size)
{
	const struct token *t = &ps->e.tok[i];
	if (t->len >= size || memchr(tok_text(ps, i), '\0', t->len))
		return -1;
	memcpy(out, tok_text(ps, i), t->len);
	out[t->len] = '\0';
	return 0;
}

static bool labels_valid(const char *name)
{
	size_t label = 0;
	for (const char *p = name; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (++label > 63) {
			return false;
		}
	}
	return *name == '\0' || label > 0;
}

/* Resolve token i as a domain name against $ORIGIN into out. */
static int parse_name(struct parser *ps, size_t i, char *out)
{
	unsigned line = ps->e.line;
	char raw[DNS_NAME_MAX + 2];
	const struct token *t = &ps->e.tok[i];
	if (t->quoted)
		return fail(&ps->lx, line, "a name may not be quoted");
	if (t->escaped_dot)
		return fail(&ps->lx, line, "escaped '.' inside a label is not supported");
	if (tok_cstr(ps, i, raw, sizeof raw) < 0)
		return fail(&ps->lx, line, "bad or over-long name");
	char full[2 * DNS_NAME_MAX + 4];
	size_t n = strlen(raw);
	if (strcmp(raw, "@") == 0)
		snprintf(full, sizeof full, "%s", ps->origin);
	else if (n > 0 && raw[n - 1] == '.')
		snprintf(full, sizeof full, "%s", raw);
	else if (ps->origin[0])
		snprintf(full, sizeof full, "%s.%s", raw, ps->origin);
	else
		snprintf(full, sizeof full, "%s", raw);
	char norm[DNS_NAME_MAX + 1];
	int len = strcmp(full, ".") == 0 ? 0 : dns_name_normalize(full, norm);
	if (len == 0)
		norm[0] = '\0';
	if (len < 0 || len > NAME_MAX_OCTETS || !labels_valid(norm))
		return fail(&ps->lx, line,
			    "bad name '%s' (empty label, label over 63 or name over 253 octets)",
			    raw);
	memcpy(out, norm, (size_t)len + 1);
	return 0;
}

static int parse_u32(const char *s, uint64_t max, uint64_t *out)
{
	if (!*s)
		return -1;
	uint64_t v = 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

/* TTL: digits, optionally with BIND units (1h30m, 2d, 1w). */
static int parse_ttl_text(const char *s, uint32_t *out)
{
	uint64_t total = 0, v = 0;
	bool digits = false, unit_seen = false;
	if (!*s)
		return -1;
	for (; *s; s++) {
		if (isdigit((unsigned char)*s)) {
			v = v * 10 + (uint64_t)(*s - '0');
			digits = true;
			if (v > MAX_TTL)
				return -1;
			continue;
		}
		static const char units[] = "smhdw";
		static const uint32_t mult[] = {1, 60, 3600, 86400, 604800};
		const char *u = strchr(units, tolower((unsigned char)*s));
		if (!u || !digits)
			return -1;
		total += v * mult[u - units];
		v = 0;
		digits = false;
		unit_seen = true;
		if (total > MAX_TTL)
			return -1;
	}
	if (digits)
		total += v; /* trailing bare number: seconds */
	if (!unit_seen && !digits)
		return -1;
	if (total > MAX_TTL)
		return -1;
	*out = (uint32_t)total;
	return 0;
}

static bool tok_ttl(struct parser *ps, size_t i, uint32_t *ttl)
{
	char s[32];
	if (ps->e.tok[i].quoted || tok_cstr(ps, i, s, sizeof s) < 0)
		return false;
	return isdigit((unsigned char)s[0]) && parse_ttl_text(s, ttl) == 0;
}

static int rdata_count(struct parser *ps, size_t first, size_t want,
		       const char *type)
{
	size_t have = ps->e.ntok - first;
	if (have < want)
		return fail(&ps->lx, ps->e.line, "%s: missing rdata", type);
	if (have > want)
		return fail(&ps->lx, ps->e.line, "%s: trailing data '%.*s'", type,
			    (int)ps->e.tok[first + want].len, tok_text(ps, first + want));
	return 0;
}

static int rdata_addr(struct parser *ps, size_t i, int af, void *out)
{
	char s[64];
	if (rdata_count(ps, i, 1, af == AF_INET ? "A" : "AAAA") < 0)
		return -EINVAL;
	if (ps->e.tok[i].quoted || tok_cstr(ps, i, s, sizeof s) < 0 ||
	    inet_pton(af, s, out) != 1)
		return fail(&ps->lx, ps->e.line, "bad %s address '%.*s'",
			    af == AF_INET ? "IPv4" : "IPv6",
			    (int)ps->e.tok[i].len, tok_text(ps, i));
	return 0;
}

static int rdata_target(struct parser *ps, size_t i, const char *type,
			char **out)
{
	char name[NAME_MAX_OCTETS + 1];
	if (rdata_count(ps, i, 1, type) < 0 || parse_name(ps, i, name) < 0)
		return -EINVAL;
	return (*out = strdup(name)) ? 0 : -ENOMEM;
}

static int rdata_mx(struct parser *ps, size_t i, struct zrec *r)
{
	char s[16];
	uint64_t pref;
	char name[NAME_MAX_OCTETS + 1];
	if (rdata_count(ps, i, 2, "MX") < 0)
		return -EINVAL;
	if (tok_cstr(ps, i, s, sizeof s) < 0 || parse_u32(s, 65535, &pref) < 0)
		return fail(&ps->lx, ps->e.line, "MX: bad preference '%.*s'",
			    (int)ps->e.tok[i].len, tok_text(ps, i));
	if (parse_name(ps, i + 1, name) < 0)
		return -EINVAL;
	r->u.mx.pref = (uint16_t)pref;
	return (r->u.mx.host = strdup(name)) ? 0 : -ENOMEM;
}

static int rdata_txt(struct parser *ps, size_t i, struct zrec *r)
{
	size_t n = ps->e.ntok - i, total = 0;
	if (n == 0)
		return fail(&ps->lx, ps->e.line, "TXT: missing rdata");
	for (size_t k = i; k < ps->e.ntok; k++) {
		if (ps->e.tok[k].len > 255)
			return fail(&ps->lx, ps->e.line,
				    "TXT: string %zu is %zu octets, over 255",
				    k - i + 1, ps->e.tok[k].len);
		total += ps->e.tok[k].len + 1;
	}
	if (total > 65535)
		return fail(&ps->lx, ps->e.line, "TXT: rdata over 65535 octets");
	uint8_t *d = malloc(n + total);
	if (!d)
		return -ENOMEM;
	uint8_t *bytes = d + n;
	for (size_t k = 0; k < n; k++) {
		const struct token *t = &ps->e.tok[i + k];
		d[k] = (uint8_t)t->len;
		memcpy(bytes, ps->e.buf + t->off, t->len);
		bytes += t->len;
	}
	r->u.txt.data = d;
	r->u.txt.n = (uint16_t)n;
	r->u.txt.len = (uint32_t)(total - n);
	return 0;
}

static int rdata_soa(struct parser *ps, size_t i, struct zrec *r)
{
	char name[NAME_MAX_OCTETS + 1];
	uint32_t v[5];
	if (rdata_count(ps, i, 7, "SOA") < 0 || parse_name(ps, i, name) < 0 ||
	    parse_name(ps, i + 1, name) < 0)
		return -EINVAL;
	for (int k = 0; k < 5; k++)
		if (!tok_ttl(ps, i + 2 + (size_t)k, &v[k]))
			return fail(&ps->lx, ps->e.line, "SOA: bad number '%.*s'",
				    (int)ps->e.tok[i + 2 + (size_t)k].len,
				    tok_text(ps, i + 2 + (size_t)k));
	/* RFC 2308 §5: negative TTL = min(SOA TTL, SOA MINIMUM). */
	r->u.soa_negttl = v[4] < r->ttl ? v[4] : r->ttl;
	return 0;
}

static int parse_rdata(struct parser *ps, struct owner *o, int type,
		       uint32_t ttl, size_t i)
{
	struct zrec *r = owner_push(o);
	if (!r)
		return -ENOMEM;
	r->type = (uint16_t)type;
	r->ttl = ttl;
	int rc;
	switch (type) {
	case DNS_TYPE_A:
		rc = rdata_addr(ps, i, AF_INET, &r->u.a);
		break;
	case DNS_TYPE_AAAA:
		rc = rdata_addr(ps, i, AF_INET6, &r->u.aaaa);
		break;
	case DNS_TYPE_MX:
		rc = rdata_mx(ps, i, r);
		break;
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF:
		rc = rdata_txt(ps, i, r);
		break;
	case DNS_TYPE_SOA:
		rc = rdata_soa(ps, i, r);
		break;
	default:
		rc = rdata_target(ps, i, dns_type_name(type), &r->u.target);
		break;
	}
	if (rc)
		o->nrecs--; /* nothing allocated survives a failed rdata */
	return rc;
}

static int parse_directive(struct parser *ps)
{
	unsigned line = ps->e.line;
	if (tok_is(ps, 0, "$ORIGIN")) {
		if (ps->e.ntok != 2)
			return fail(&ps->lx, line, "$ORIGIN takes one name");
		return parse_name(ps, 1, ps->origin);
	}
	if (tok_is(ps, 0, "$TTL")) {
		if (ps->e.ntok != 2 || !tok_ttl(ps, 1, &ps->z->default_ttl))
			return fail(&ps->lx, line, "$TTL takes one TTL value");
		return 0;
	}
	return fail(&ps->lx, line, "unsupported directive '%.*s'",
		    (int)ps->e.tok[0].len, tok_text(ps, 0));
}

static int check_cname_coexistence(struct parser *ps, struct owner *o, int type)
{
	for (unsigned k = 0; k < o->nrecs; k++) {
		if (o->recs[k].type == DNS_TYPE_CNAME || type == DNS_TYPE_CNAME)
			return fail(&ps->lx, ps->e.line,
				    "CNAME at '%s' cannot share the name with other data",
				    o->name);
	}
	return 0;
}

static int parse_record(struct parser *ps)
{
	size_t i = 0;
	unsigned line = ps->e.line;
	char owner[NAME_MAX_OCTETS + 1];
	if (ps->e.blank_owner) {
		if (!ps->have_owner)
			return fail(&ps->lx, line, "record without an owner name");
		strcpy(owner, ps->last_owner);
	} else {
		if (parse_name(ps, 0, owner) < 0)
			return -EINVAL;
		i = 1;
	}
	uint32_t ttl = ps->z->default_ttl;
	for (bool more = true; more && i < ps->e.ntok;) {
		if (tok_ttl(ps, i, &ttl)) {
			i++;
		} else if (tok_is(ps, i, "IN")) {
			i++;
		} else if (tok_is(ps, i, "CH") || tok_is(ps, i, "HS") ||
			   tok_is(ps, i, "CS")) {
			return fail(&ps->lx, line, "only class IN is supported");
		} else {
			more = false;
		}
	}
	if (i >= ps->e.ntok)
		return fail(&ps->lx, line, "missing record type");
	strcpy(ps->last_owner, owner);
	ps->have_owner = true;
	char tname[16];
	int type = -1;
	if (!ps->e.tok[i].quoted && tok_cstr(ps, i, tname, sizeof tname) == 0)
		type = dns_type_from_name(tname);
	struct owner *o = owner_get(ps->z, owner);
	if (!o)
		return -ENOMEM;
	if (type < 0 && (tok_is(ps, i, "TIMEOUT") || tok_is(ps, i, "SERVFAIL"))) {
		if (ps->e.ntok != i + 1)
			return fail(&ps->lx, line, "%s takes no rdata", tname);
		o->flags |= tok_is(ps, i, "TIMEOUT") ? OWNER_TIMEOUT : OWNER_SERVFAIL;
		return 0;
	}
	if (type < 0)
		return fail(&ps->lx, line, "unknown record type '%.*s'",
			    (int)ps->e.tok[i].len, tok_text(ps, i));
	if (check_cname_coexistence(ps, o, type) < 0)
		return -EINVAL;
	return parse_rdata(ps, o, type, ttl, i + 1);
}

struct dns_zone *dns_zone_parse(const char *text, size_t len,
				const char *filename,
				struct dns_zone_error *err)
{
	struct parser ps = {
		.lx = {.p = text, .end = text + len, .fname = filename ? filename : "zone",
		       .line = 1, .at_line_start = true, .err = err},
	};
	if (err)
		err->msg[0] = '\0';
	if (len > DNS_ZONE_MAX_BYTES) {
		fail(&ps.lx, 1, "zone file over %u bytes", DNS_ZONE_MAX_BYTES);
		return NULL;
	}
	ps.z = calloc(1, sizeof *ps.z);
	if (ps.z) {
		ps.z->nbuckets = 64;
		ps.z->default_ttl = DEFAULT_TTL;
		atomic_init(&ps.z->refs, 1);
		ps.z->buckets = calloc(ps.z->nbuckets, sizeof *ps.z->buckets);
	}
	int rc = ps.z && ps.z->buckets ? 0 : -ENOMEM;
	while (rc == 0 && (rc = lex_entry(&ps.lx, &ps.e)) > 0) {
		bool directive = !ps.e.blank_owner && !ps.e.tok[0].quoted &&
				 tok_text(&ps, 0)[0] == '$';
		rc = directive ? parse_directive(&ps) : parse_record(&ps);
	}
	free(ps.e.tok);
	free(ps.e.buf);
	if (rc < 0) {
		if (rc == -ENOMEM)
			fail(&ps.lx, ps.lx.line, "out of memory");
		dns_zone_free(ps.z);
		return NULL;
	}
	return ps.z;
}

struct dns_zone *dns_zone_load(const char *path, struct dns_zone_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		if (err)
			snprintf(err->msg, sizeof err->msg, "%s: %s", path,
				 strerror(errno));
		return NULL;
	}
	char *text = NULL;
	size_t len = 0, cap = 0, n;
	struct dns_zone *z = NULL;
	do {
		if (len == cap) {
			cap = cap ? cap * 2 : 65536;
			char *nt = cap > DNS_ZONE_MAX_BYTES + 65536u ? NULL : realloc(text, cap);
			if (!nt)
				break;
			text = nt;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
	} while (n > 0);
	if (ferror(f) || len == cap) {
		if (err)
			snprintf(err->msg, sizeof err->msg, "%s: %s", path,
				 ferror(f) ? "read error" : "too large or out of memory");
	} else {
		z = dns_zone_parse(text, len, path, err);
	}
	fclose(f);
	free(text);
	return z;
}

/* ------------------------------------------------------------- answers */

static uint32_t negative_ttl(const struct dns_zone *z, const char *name)
{
	for (const char *s = name; s; s = strchr(s, '.') ? strchr(s, '.') + 1 : NULL) {
		const struct owner *o = owner_find(z, s);
		for (unsigned k = 0; o && k < o->nrecs; k++)
			if (o->recs[k].type == DNS_TYPE_SOA)
				return o->recs[k].u.soa_negttl;
	}
	return z->default_ttl;
}

static int add_zrec(struct dns_builder *b, const struct zrec *r)
{
	switch (r->type) {
	case DNS_TYPE_A:
		return dns_builder_add_a(b, r->ttl, r->u.a);
	case DNS_TYPE_AAAA:
		return dns_builder_add_aaaa(b, r->ttl, &r->u.aaaa);
	case DNS_TYPE_MX:
		return dns_builder_add_mx(b, r->ttl, r->u.mx.pref, r->u.mx.host);
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF: {
		const uint8_t **strs = malloc((r->u.txt.n + 1u) * sizeof *strs);
		if (!strs)
			return -ENOMEM;
		const uint8_t *p = r->u.txt.data + r->u.txt.n;
		for (unsigned k = 0; k < r->u.txt.n; k++) {
			strs[k] = p;
			p += r->u.txt.data[k];
		}
		int rc = dns_builder_add_txt(b, r->ttl, strs, r->u.txt.data, r->u.txt.n);
		free(strs);
		return rc;
	}
	case DNS_TYPE_SOA:
		return 0; /* served for negative TTLs only */
	default:
		return dns_builder_add_name(b, r->ttl, r->u.target);
	}
}

static const struct zrec *cname_of(const struct owner *o)
{
	for (unsigned k = 0; k < o->nrecs; k++)
		if (o->recs[k].type == DNS_TYPE_CNAME)
			return &o->recs[k];
	return NULL;
}

static struct dns_answer *answer_owner(const struct dns_zone *z,
				       struct dns_builder *b,
				       const struct owner *o, enum dns_type type)
{
	for (unsigned k = 0; k < o->nrecs; k++)
		if (o->recs[k].type == type && add_zrec(b, &o->recs[k]) < 0) {
			dns_builder_free(b);
			return NULL;
		}
	if (dns_builder_count(b) > 0)
		return dns_builder_finish(b, DNS_DATA, DNS_WHY_NONE, 0, true);
	if (o->flags & OWNER_TIMEOUT)
		return dns_builder_finish(b, DNS_TEMPFAIL, DNS_WHY_TIMEOUT, 0, false);
	if (o->flags & OWNER_SERVFAIL)
		return dns_builder_finish(b, DNS_TEMPFAIL, DNS_WHY_SERVFAIL, 0, false);
	return dns_builder_finish(b, DNS_NODATA, DNS_WHY_NONE,
				  negative_ttl(z, o->name), true);
}

struct dns_answer *dns_zone_answer(const struct dns_zone *z, const char *name,
				   enum dns_type type, bool overlay)
{
	const struct owner *o = owner_find(z, name);
	if (overlay && (!o || (o->flags & OWNER_ENT)))
		return NULL;
	struct dns_builder *b = dns_builder_new(name, type);
	if (!b)
		return NULL;
	const char *cur = name;
	for (int hops = 0; o; hops++) {
		const struct zrec *cn = type == DNS_TYPE_CNAME ? NULL : cname_of(o);
		if (!cn)
			return answer_owner(z, b, o, type);
		if (hops == MAX_CNAME_HOPS)
			return dns_builder_finish(b, DNS_MALFORMED, DNS_WHY_CNAME_LOOP,
						  0, false);
		cur = cn->u.target;
		dns_builder_set_canonical(b, cur);
		o = owner_find(z, cur);
	}
	return dns_builder_finish(b, DNS_NXDOMAIN, DNS_WHY_NONE,
				  negative_ttl(z, cur), true);
}
