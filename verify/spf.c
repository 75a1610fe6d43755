/*
 * spf — the check_host() engine of spf.h.
 *
 * The evaluation is a state machine over a stack of frames (one per record
 * being evaluated: the top domain, then one per include; redirect replaces
 * the current frame). A phase handler either adds "wants" (DNS queries it
 * needs) or moves to another phase; run() calls handlers while every want
 * has its answer, so the engine is resumable at any answer.
 *
 * Invariants: frames <= SPF_MAX_FRAMES (every include counts against the
 * 10-term limit, so the bound is never reached by a valid evaluation);
 * wants <= MAX_WANTS at a time; queries <= SPF_MAX_QUERIES in total.
 */
#include "spf.h"

#include "spf_cache.h"
#include "spf_macro.h"
#include "spf_record.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define SPF_MAX_FRAMES 16
#define MAX_WANTS 16
#define NAME_BUF 256
#define MAX_ADDR_NAMES 10 /* §4.6.4: MX and PTR names looked up */
#define EXPAND_BUF 8192
#define MAX_STEPS 100000
#define DEFAULT_EXPLANATION "%{i} is not one of %{d}'s designated mail servers."

enum phase {
	PH_FETCH,
	PH_FETCH_ANSWER,
	PH_TERMS,
	PH_TERM_ANSWER,
	PH_HOSTS_ANSWER,
	PH_PVAL_PTR,
	PH_PVAL_ADDRS,
	PH_EXP,
	PH_EXP_ANSWER,
	PH_EXP_TEXT,
	PH_DONE,
};

struct want {
	unsigned id;
	enum dns_type type;
	bool issued;
	struct dns_answer *ans;
	char name[NAME_BUF];
};

struct frame {
	char domain[NAME_BUF];
	struct spf_record *rec;
	unsigned next;   /* index of the term being evaluated */
	bool included;   /* its result feeds the parent's include */
	bool redirected; /* reached by redirect=: "none" is a permerror */
};

/* The small fields come first: spf_eval_new() zeroes only up to `out`;
 * the big buffers after it are written before they are read. */
struct spf_eval {
	struct spf_config cfg;
	struct spf_ip ip;
	enum phase phase, resume;
	unsigned depth, nwants, next_id, steps;
	bool problem_is_reason;          /* the problem explains the result itself */
	bool pval_done;                  /* the "p" macro's validated names... */
	unsigned nvalid;                 /* ...computed once, on first use */
	struct dns_answer *exp_txt;      /* held across p validation */
	struct spf_outcome out;
	char local[NAME_BUF], sender_dom[NAME_BUF], helo[NAME_BUF];
	char target[NAME_BUF];           /* the current term's domain */
	struct frame frames[SPF_MAX_FRAMES];
	struct want wants[MAX_WANTS];
	char valid[MAX_ADDR_NAMES][NAME_BUF];
};

static void run(struct spf_eval *e);

/* One freed evaluation kept per thread: an evaluation is a large block,
 * and allocating one per check costs more than the check on a warm cache
 * (glibc consolidates its fast bins on every large request). The spare is
 * reclaimed at process exit only: one block per thread, bounded. */
static _Thread_local struct spf_eval *spare_eval;

const char *spf_result_name(enum spf_result r)
{
	static const char *const names[] = {
		[SPF_NONE] = "none",         [SPF_NEUTRAL] = "neutral",
		[SPF_PASS] = "pass",         [SPF_FAIL] = "fail",
		[SPF_SOFTFAIL] = "softfail", [SPF_TEMPERROR] = "temperror",
		[SPF_PERMERROR] = "permerror",
	};
	return (unsigned)r < sizeof names / sizeof names[0] ? names[r] : "?";
}

int spf_ip_parse(const char *s, struct spf_ip *out)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	memset(out, 0, sizeof *out);
	if (inet_pton(AF_INET, s, &out->u.v4) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &out->u.v6) != 1)
		return -EINVAL;
	out->family = AF_INET6;
	if (memcmp(out->u.v6.s6_addr, mapped, sizeof mapped) == 0) {
		struct in_addr v4;
		memcpy(&v4, out->u.v6.s6_addr + 12, 4);
		out->family = AF_INET;
		out->u.v4 = v4;
	}
	return 0;
}

/* ------------------------------------------------------------ selection */

static bool starts_v1(const uint8_t *p, size_t n)
{
	return n >= 6 && strncasecmp((const char *)p, "v=spf1", 6) == 0 &&
	       (n == 6 || p[6] == ' ');
}

enum spf_select_status spf_select_v1(void *arg, const struct dns_answer *txt,
				     const char **terms, size_t *len)
{
	(void)arg;
	unsigned found = 0;
	for (unsigned i = 0; i < txt->count; i++) {
		const struct dns_txt *t = &txt->records[i].u.txt;
		if (!starts_v1(t->data, t->len))
			continue;
		if (++found > 1)
			return SPF_SELECT_MANY;
		*terms = (const char *)t->data + 6;
		*len = t->len - 6;
	}
	return found ? SPF_SELECT_FOUND : SPF_SELECT_NONE;
}

/* --------------------------------------------------------------- names */

static void copy_str(char *dst, size_t size, const char *src, size_t n)
{
	if (n >= size)
		n = size - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* §4.8/§7.3: drop leading labels until the name fits in 253 octets, then
 * require non-empty labels of at most 63 octets and at least two labels.
 * Works in place on a NUL-terminated name; false when unusable. */
static bool name_prepare(char *name, size_t len)
{
	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	size_t start = 0;
	while (len - start > 253) {
		const char *dot = memchr(name + start, '.', len - start);
		if (!dot)
			return false;
		start = (size_t)(dot - name) + 1;
	}
	if (start)
		memmove(name, name + start, len - start + 1), len -= start;
	size_t label = 0, labels = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++, label = 0;
		} else {
			label++;
		}
	}
	return labels >= 2;
}

/* The domain check_host() starts on (§4.3): at most 253 octets (one
 * trailing dot allowed), labels of 1..63 octets, at least two of them, and
 * a plausible top label: "[1.2.3.4]" or "host" are not domains. */
static bool domain_valid(const char *d)
{
	size_t n = strlen(d);
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return false;
	size_t label = 0, labels = 0, top = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			label++;
			continue;
		}
		if (label == 0 || label > 63)
			return false;
		labels++, label = 0;
		if (i < n)
			top = i + 1;
	}
	bool alpha = false;
	for (size_t i = top; i < n; i++) {
		unsigned char c = (unsigned char)d[i];
		if (!isalnum(c) && c != '-')
			return false;
		alpha |= !isdigit(c);
	}
	return labels >= 2 && alpha;
}

static void reverse_name(const struct spf_ip *ip, char *out, size_t size)
{
	if (ip->family == AF_INET) {
		const uint8_t *b = (const uint8_t *)&ip->u.v4;
		snprintf(out, size, "%u.%u.%u.%u.in-addr.arpa", b[3], b[2], b[1], b[0]);
		return;
	}
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;
	for (int k = 15; k >= 0; k--) {
		uint8_t byte = ip->u.v6.s6_addr[k];
		n += (size_t)snprintf(out + n, size - n, "%c.%c.", hex[byte & 15], hex[byte >> 4]);
	}
	snprintf(out + n, size - n, "ip6.arpa");
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

static bool addr_match(const struct spf_eval *e, const void *addr, unsigned cidr4,
		       unsigned cidr6)
{
	return e->ip.family == AF_INET ? prefix_match((const uint8_t *)&e->ip.u.v4, addr, cidr4)
				       : prefix_match(e->ip.u.v6.s6_addr, addr, cidr6);
}

static bool answer_has_ip(const struct spf_eval *e, const struct dns_answer *a,
			  unsigned cidr4, unsigned cidr6)
{
	enum dns_type want = e->ip.family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
	if (a->status != DNS_DATA || a->type != want)
		return false;
	for (unsigned i = 0; i < a->count; i++)
		if (addr_match(e, &a->records[i].u, cidr4, cidr6))
			return true;
	return false;
}

static enum dns_type addr_type(const struct spf_eval *e)
{
	return e->ip.family == AF_INET ? DNS_TYPE_A : DNS_TYPE_AAAA;
}

/* --------------------------------------------------------------- wants */

static bool wants_ready(const struct spf_eval *e)
{
	for (unsigned i = 0; i < e->nwants; i++)
		if (!e->wants[i].ans)
			return false;
	return true;
}

static void wants_clear(struct spf_eval *e)
{
	for (unsigned i = 0; i < e->nwants; i++)
		dns_answer_release(e->wants[i].ans);
	e->nwants = 0;
}

static void set_problem(struct spf_eval *e, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_problem(struct spf_eval *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(e->out.problem, sizeof e->out.problem, fmt, ap);
	va_end(ap);
	/* Record text is hostile: keep the problem one printable line, it
	 * ends up in logs and header comments. */
	for (char *p = e->out.problem; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
			*p = '?';
}

static void finish(struct spf_eval *e, enum spf_result r)
{
	wants_clear(e);
	e->out.result = r;
	e->phase = PH_DONE;
	/* A note left by a term that merely did not match is no problem. */
	if (r != SPF_NONE && r != SPF_TEMPERROR && r != SPF_PERMERROR && !e->problem_is_reason)
		e->out.problem[0] = '\0';
}

/* Queue a query; false (and the evaluation ends in permerror) when the
 * per-evaluation query budget is spent. */
static bool want_add(struct spf_eval *e, const char *name, enum dns_type type)
{
	if (e->nwants == MAX_WANTS || e->out.queries + e->nwants >= SPF_MAX_QUERIES) {
		set_problem(e, "too many DNS queries");
		finish(e, SPF_PERMERROR);
		return false;
	}
	struct want *w = &e->wants[e->nwants++];
	w->id = ++e->next_id;
	w->type = type;
	w->issued = false;
	w->ans = NULL;
	copy_str(w->name, sizeof w->name, name, strlen(name));
	return true;
}

/* ------------------------------------------------------------ macros */

static const char *pick_validated(const struct spf_eval *e, const char *domain)
{
	size_t dl = strlen(domain);
	for (unsigned i = 0; i < e->nvalid; i++) {
		size_t nl = strlen(e->valid[i]);
		if (strcasecmp(e->valid[i], domain) == 0 ||
		    (nl > dl && e->valid[i][nl - dl - 1] == '.' &&
		     strcasecmp(e->valid[i] + nl - dl, domain) == 0))
			return e->valid[i];
	}
	return e->nvalid ? e->valid[0] : NULL;
}

static void macro_ctx(const struct spf_eval *e, const char *domain, bool exp,
		      struct spf_macro_ctx *c)
{
	*c = (struct spf_macro_ctx){
		.local = e->local, .sender_dom = e->sender_dom, .domain = domain,
		.helo = e->helo, .validated = pick_validated(e, domain),
		.receiver = e->cfg.receiver, .ip = &e->ip,
		.now = e->cfg.now ? e->cfg.now : exp ? time(NULL) : 0, .exp = exp,
	};
}

/* Start PTR validation for %{p} if it is needed and not done; true when
 * the caller must return and be re-run after it (phase `back`). */
static bool need_pval(struct spf_eval *e, const struct spf_spec *s, enum phase back)
{
	if (!(s->flags & SPF_MACRO_P) || e->pval_done)
		return false;
	e->resume = back;
	e->phase = PH_PVAL_PTR;
	return true;
}

enum target { TARGET_OK, TARGET_INVALID, TARGET_ERROR };

/* Expand a domain-spec (or take the current domain) into e->target.
 * TARGET_INVALID: the expansion is not a usable domain name (§4.8: it is
 * treated as a name that does not exist). TARGET_ERROR: the expansion
 * itself failed (bounded output exceeded). */
static enum target target_from(struct spf_eval *e, const struct spf_spec *s)
{
	const char *dom = e->frames[e->depth - 1].domain;
	if (!s->s) {
		copy_str(e->target, sizeof e->target, dom, strlen(dom));
		return TARGET_OK;
	}
	if (s->flags & SPF_SPEC_PLAIN) {
		memcpy(e->target, s->s, s->name_len);
		e->target[s->name_len] = '\0';
		return TARGET_OK;
	}
	if (s->flags & SPF_SPEC_BAD) {
		set_problem(e, "'%.*s' is not a valid domain name", s->len > 80 ? 80 : s->len, s->s);
		return TARGET_INVALID;
	}
	struct spf_macro_ctx c;
	char buf[EXPAND_BUF];
	size_t n;
	macro_ctx(e, dom, false, &c);
	if (spf_macro_expand(s->s, s->len, &c, buf, sizeof buf, &n) < 0) {
		set_problem(e, "macro expansion of '%.*s' failed", s->len > 64 ? 64 : s->len, s->s);
		return TARGET_ERROR;
	}
	if (!name_prepare(buf, n)) {
		set_problem(e, "'%.80s' is not a valid domain name", buf);
		return TARGET_INVALID;
	}
	copy_str(e->target, sizeof e->target, buf, strlen(buf));
	return TARGET_OK;
}

/* ------------------------------------------------------------- frames */

static struct frame *top(struct spf_eval *e)
{
	return &e->frames[e->depth - 1];
}

static const struct spf_term *cur_term(struct spf_eval *e)
{
	struct frame *f = top(e);
	return &f->rec->terms[f->next];
}

static void set_mechanism(struct spf_eval *e, const char *s, size_t n)
{
	copy_str(e->out.mechanism, sizeof e->out.mechanism, s, n);
}

static void default_explanation(struct spf_eval *e)
{
	struct spf_macro_ctx c;
	macro_ctx(e, top(e)->domain, true, &c);
	const char *dexp = e->cfg.default_explanation ? e->cfg.default_explanation
						       : DEFAULT_EXPLANATION;
	if (spf_macro_expand(dexp, strlen(dexp), &c, e->out.explanation,
			     sizeof e->out.explanation, NULL) < 0)
		copy_str(e->out.explanation, sizeof e->out.explanation, dexp, strlen(dexp));
}

/* The frame on top reached result r (a match's qualifier, the default
 * "neutral", "none", or an error). */
static void conclude(struct spf_eval *e, enum spf_result r)
{
	struct frame *f = top(e);
	if (r == SPF_NONE && f->redirected) {
		set_problem(e, "redirect target %s has no SPF record", f->domain);
		r = SPF_PERMERROR;
	}
	if (r == SPF_NONE && f->included) {
		set_problem(e, "included domain %s has no SPF record", f->domain);
		r = SPF_PERMERROR;
	}
	if (r == SPF_TEMPERROR || r == SPF_PERMERROR) {
		finish(e, r);
		return;
	}
	if (f->included) {
		spf_record_release(f->rec);
		f->rec = NULL;
		e->depth--;
		const struct spf_term *t = cur_term(e);
		if (r == SPF_PASS) {
			set_mechanism(e, t->text, t->text_len);
			conclude(e, t->qual);
		} else {
			top(e)->next++;
			e->phase = PH_TERMS;
		}
		return;
	}
	e->out.result = r;
	if (r == SPF_FAIL && f->rec && f->rec->exp.s) {
		e->phase = PH_EXP;
		return;
	}
	if (r == SPF_FAIL)
		default_explanation(e);
	finish(e, r);
}

static void match_term(struct spf_eval *e)
{
	const struct spf_term *t = cur_term(e);
	set_mechanism(e, t->text, t->text_len);
	conclude(e, t->qual);
}

static void next_term(struct spf_eval *e)
{
	top(e)->next++;
	e->phase = PH_TERMS;
}

static bool push_frame(struct spf_eval *e, const char *domain, bool included)
{
	if (e->depth == SPF_MAX_FRAMES) {
		set_problem(e, "include nesting too deep");
		finish(e, SPF_PERMERROR);
		return false;
	}
	struct frame *f = &e->frames[e->depth++];
	f->rec = NULL;
	f->next = 0;
	f->included = included;
	f->redirected = false;
	copy_str(f->domain, sizeof f->domain, domain, strlen(domain));
	e->phase = PH_FETCH;
	return true;
}

/* --------------------------------------------------------- record fetch */

static void phase_fetch(struct spf_eval *e)
{
	if (want_add(e, top(e)->domain, DNS_TYPE_TXT))
		e->phase = PH_FETCH_ANSWER;
}

static void phase_fetch_answer(struct spf_eval *e)
{
	struct frame *f = top(e);
	struct dns_answer *a = e->wants[0].ans;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_MALFORMED) {
		set_problem(e, "DNS error looking up TXT %s: %s", f->domain, dns_why_name(a->why));
		finish(e, SPF_TEMPERROR);
		return;
	}
	spf_select_fn sel = e->cfg.select ? e->cfg.select : spf_select_v1;
	if (a->status == DNS_DATA && e->cfg.cache &&
	    (f->rec = spf_cache_get(e->cfg.cache, a, sel, e->cfg.select_arg))) {
		wants_clear(e);
		f->next = 0;
		e->phase = PH_TERMS;
		return;
	}
	if (a->status == DNS_NXDOMAIN && e->cfg.nxdomain_fails && e->depth == 1 &&
	    !f->redirected) {
		set_problem(e, "%s does not exist", f->domain);
		e->problem_is_reason = true;
		wants_clear(e);
		conclude(e, SPF_FAIL);
		return;
	}
	const char *terms = NULL;
	size_t len = 0;
	enum spf_select_status st = SPF_SELECT_NONE;
	if (a->status == DNS_DATA)
		st = sel(e->cfg.select_arg, a, &terms, &len);
	if (st == SPF_SELECT_NONE) {
		set_problem(e, "no SPF record at %s", f->domain);
		wants_clear(e);
		conclude(e, SPF_NONE);
		return;
	}
	if (st == SPF_SELECT_MANY) {
		set_problem(e, "more than one SPF record at %s", f->domain);
		finish(e, SPF_PERMERROR);
		return;
	}
	char err[SPF_PROBLEM_TEXT - 32];
	int rc = spf_record_parse(terms, len, &f->rec, err, sizeof err);
	if (rc == 0 && e->cfg.cache)
		spf_cache_put(e->cfg.cache, a, sel, e->cfg.select_arg, f->rec);
	wants_clear(e);
	if (rc < 0) {
		set_problem(e, "%s: %s", f->domain, rc == -ENOMEM ? "out of memory" : err);
		finish(e, SPF_PERMERROR);
		return;
	}
	f->next = 0;
	e->phase = PH_TERMS;
}

/* -------------------------------------------------------------- terms */

/* One more against a §4.6.4 limit (max, or the RFC's default when the
 * config gives 0); past it the check is a permerror. */
static bool within_limit(struct spf_eval *e, unsigned *count, unsigned max, unsigned dflt,
			 const char *what)
{
	max = max ? max : dflt;
	if (++*count <= max)
		return true;
	set_problem(e, "more than %u %s", max, what);
	finish(e, SPF_PERMERROR);
	return false;
}

static bool count_term(struct spf_eval *e)
{
	return within_limit(e, &e->out.dns_terms, e->cfg.max_dns_terms, 10, "DNS-querying terms");
}

/* A lookup came back empty (§4.6.4 void lookup). */
static bool count_void(struct spf_eval *e)
{
	return within_limit(e, &e->out.void_lookups, e->cfg.max_void, 2, "void DNS lookups");
}

static void do_redirect(struct spf_eval *e)
{
	struct frame *f = top(e);
	const struct spf_spec *s = &f->rec->redirect;
	if (need_pval(e, s, PH_TERMS) || !count_term(e))
		return;
	if (target_from(e, s) != TARGET_OK) {
		/* No valid target: no record there, which redirect makes a
		 * permerror (§6.1). */
		finish(e, SPF_PERMERROR);
		return;
	}
	spf_record_release(f->rec);
	f->rec = NULL;
	copy_str(f->domain, sizeof f->domain, e->target, strlen(e->target));
	f->redirected = true;
	f->next = 0;
	set_mechanism(e, "", 0);
	e->phase = PH_FETCH;
}

static void eval_dns_term(struct spf_eval *e, const struct spf_term *t)
{
	if (need_pval(e, &t->spec, PH_TERMS) || !count_term(e))
		return;
	enum target tg = target_from(e, &t->spec);
	if (tg != TARGET_OK) {
		/* An unusable name is a name that does not exist: no match, but
		 * an include of it is an include of "none", a permerror. */
		if (tg == TARGET_ERROR || t->mech == SPF_MECH_INCLUDE)
			finish(e, SPF_PERMERROR);
		else
			next_term(e);
		return;
	}
	char rev[NAME_BUF];
	bool ok = true;
	switch (t->mech) {
	case SPF_MECH_INCLUDE:
		push_frame(e, e->target, true);
		return;
	case SPF_MECH_A:
		ok = want_add(e, e->target, addr_type(e));
		break;
	case SPF_MECH_MX:
		ok = want_add(e, e->target, DNS_TYPE_MX);
		break;
	case SPF_MECH_EXISTS:
		ok = want_add(e, e->target, DNS_TYPE_A);
		break;
	default: /* ptr */
		reverse_name(&e->ip, rev, sizeof rev);
		ok = want_add(e, rev, DNS_TYPE_PTR);
		break;
	}
	if (ok)
		e->phase = PH_TERM_ANSWER;
}

static void phase_terms(struct spf_eval *e)
{
	struct frame *f = top(e);
	if (f->next >= f->rec->nterms) {
		if (f->rec->redirect.s) {
			do_redirect(e);
			return;
		}
		set_mechanism(e, "default", 7);
		conclude(e, SPF_NEUTRAL);
		return;
	}
	const struct spf_term *t = cur_term(e);
	switch (t->mech) {
	case SPF_MECH_ALL:
		match_term(e);
		return;
	case SPF_MECH_IP4:
	case SPF_MECH_IP6:
		if ((t->mech == SPF_MECH_IP4) == (e->ip.family == AF_INET) &&
		    addr_match(e, &t->addr, t->cidr4, t->cidr6))
			match_term(e);
		else
			next_term(e);
		return;
	default:
		eval_dns_term(e, t);
		return;
	}
}

/* Queue address lookups for up to 10 names of an MX or PTR answer. */
static bool want_names(struct spf_eval *e, const struct dns_answer *a)
{
	unsigned n = 0;
	for (unsigned i = 0; i < a->count && n < MAX_ADDR_NAMES; i++) {
		const char *h = a->type == DNS_TYPE_MX ? a->records[i].u.mx.host
						       : a->records[i].u.ptr;
		if (h[0] == '\0' || strlen(h) >= NAME_BUF)
			continue; /* null MX (RFC 7505), or no usable name */
		if (!want_add(e, h, addr_type(e)))
			return false;
		n++;
	}
	return true;
}

/* The names an MX or PTR answer gave, each to be looked up in turn; the
 * answer is held while the wants it fed are cleared. */
static void host_names_answer(struct spf_eval *e, struct dns_answer *a)
{
	struct dns_answer *held = dns_answer_ref(a);
	wants_clear(e);
	bool ok = want_names(e, held);
	dns_answer_release(held);
	if (!ok)
		return;
	if (e->nwants == 0)
		next_term(e);
	else
		e->phase = PH_HOSTS_ANSWER;
}

static void mx_answer(struct spf_eval *e, struct dns_answer *a)
{
	if (a->count > MAX_ADDR_NAMES) {
		set_problem(e, "mx: %s has more than %d MX records", a->name, MAX_ADDR_NAMES);
		finish(e, SPF_PERMERROR);
		return;
	}
	host_names_answer(e, a);
}

static void phase_term_answer(struct spf_eval *e)
{
	const struct spf_term *t = cur_term(e);
	struct dns_answer *a = e->wants[0].ans;
	if (a->status == DNS_TEMPFAIL || a->status == DNS_MALFORMED) {
		if (t->mech == SPF_MECH_PTR) { /* §5.5: a PTR error is no match */
			wants_clear(e);
			next_term(e);
			return;
		}
		set_problem(e, "DNS error looking up %s %s: %s", dns_type_name(a->type),
			    e->wants[0].name, dns_why_name(a->why));
		finish(e, SPF_TEMPERROR);
		return;
	}
	if (a->status != DNS_DATA) {
		wants_clear(e);
		if (count_void(e))
			next_term(e);
		return;
	}
	switch (t->mech) {
	case SPF_MECH_MX:
		mx_answer(e, a);
		return;
	case SPF_MECH_PTR:
		host_names_answer(e, a);
		return;
	case SPF_MECH_EXISTS:
		wants_clear(e);
		match_term(e);
		return;
	default: { /* a */
		bool hit = answer_has_ip(e, a, t->cidr4, t->cidr6);
		wants_clear(e);
		if (hit)
			match_term(e);
		else
			next_term(e);
		return;
	}
	}
}

static bool name_in_domain(const char *name, const char *domain)
{
	size_t nl = strlen(name), dl = strlen(domain);
	if (nl > 0 && name[nl - 1] == '.')
		nl--;
	if (nl == dl)
		return strncasecmp(name, domain, nl) == 0;
	return nl > dl && name[nl - dl - 1] == '.' &&
	       strncasecmp(name + nl - dl, domain, dl) == 0;
}

static void phase_hosts_answer(struct spf_eval *e)
{
	const struct spf_term *t = cur_term(e);
	bool hit = false, tempfail = false;
	for (unsigned i = 0; i < e->nwants && !hit; i++) {
		const struct dns_answer *a = e->wants[i].ans;
		if (t->mech == SPF_MECH_MX) {
			tempfail |= a->status == DNS_TEMPFAIL;
			hit = !tempfail && answer_has_ip(e, a, t->cidr4, t->cidr6);
		} else { /* ptr: a validated name in the target domain */
			hit = answer_has_ip(e, a, 32, 128) &&
			      name_in_domain(e->wants[i].name, e->target);
		}
	}
	if (tempfail && !hit) {
		set_problem(e, "DNS error looking up the MX hosts of %s", e->target);
		finish(e, SPF_TEMPERROR);
		return;
	}
	wants_clear(e);
	if (hit)
		match_term(e);
	else
		next_term(e);
}

/* -------------------------------------------------- %{p} validation */

static void phase_pval_ptr(struct spf_eval *e)
{
	char rev[NAME_BUF];
	if (e->nwants == 0) {
		reverse_name(&e->ip, rev, sizeof rev);
		want_add(e, rev, DNS_TYPE_PTR);
		return;
	}
	struct dns_answer *a = dns_answer_ref(e->wants[0].ans);
	wants_clear(e);
	bool ok = a->status == DNS_DATA ? want_names(e, a) : true;
	dns_answer_release(a);
	if (!ok)
		return;
	e->phase = PH_PVAL_ADDRS;
}

static void phase_pval_addrs(struct spf_eval *e)
{
	for (unsigned i = 0; i < e->nwants; i++)
		if (answer_has_ip(e, e->wants[i].ans, 32, 128) && e->nvalid < MAX_ADDR_NAMES) {
			char *v = e->valid[e->nvalid++];
			copy_str(v, NAME_BUF, e->wants[i].name, strlen(e->wants[i].name));
		}
	wants_clear(e);
	e->pval_done = true;
	e->phase = e->resume;
}

/* ------------------------------------------------------------- exp= */

static void exp_default(struct spf_eval *e)
{
	default_explanation(e);
	finish(e, SPF_FAIL);
}

static void phase_exp(struct spf_eval *e)
{
	const struct spf_spec *s = &top(e)->rec->exp;
	if (need_pval(e, s, PH_EXP))
		return;
	if (target_from(e, s) != TARGET_OK) {
		e->out.problem[0] = '\0';
		exp_default(e);
		return;
	}
	if (want_add(e, e->target, DNS_TYPE_TXT))
		e->phase = PH_EXP_ANSWER;
}

static void phase_exp_answer(struct spf_eval *e)
{
	struct dns_answer *a = e->wants[0].ans;
	if (a->status != DNS_DATA || a->count != 1) {
		exp_default(e);
		return;
	}
	e->exp_txt = dns_answer_ref(a);
	wants_clear(e);
	e->phase = PH_EXP_TEXT;
}

static void phase_exp_text(struct spf_eval *e)
{
	const struct dns_txt *t = &e->exp_txt->records[0].u.txt;
	unsigned flags = 0;
	if (spf_macro_check((const char *)t->data, t->len, true, &flags) < 0) {
		exp_default(e);
		return;
	}
	struct spf_spec s = {.flags = (uint16_t)flags};
	if (need_pval(e, &s, PH_EXP_TEXT))
		return;
	struct spf_macro_ctx c;
	macro_ctx(e, top(e)->domain, true, &c);
	if (spf_macro_expand((const char *)t->data, t->len, &c, e->out.explanation,
			     sizeof e->out.explanation, NULL) < 0) {
		exp_default(e);
		return;
	}
	finish(e, SPF_FAIL);
}

/* ---------------------------------------------------------------- run */

static void step(struct spf_eval *e)
{
	switch (e->phase) {
	case PH_FETCH: phase_fetch(e); break;
	case PH_FETCH_ANSWER: phase_fetch_answer(e); break;
	case PH_TERMS: phase_terms(e); break;
	case PH_TERM_ANSWER: phase_term_answer(e); break;
	case PH_HOSTS_ANSWER: phase_hosts_answer(e); break;
	case PH_PVAL_PTR: phase_pval_ptr(e); break;
	case PH_PVAL_ADDRS: phase_pval_addrs(e); break;
	case PH_EXP: phase_exp(e); break;
	case PH_EXP_ANSWER: phase_exp_answer(e); break;
	case PH_EXP_TEXT: phase_exp_text(e); break;
	case PH_DONE: break;
	}
}

/* Every handler either queues queries, moves to another phase or advances
 * the term index, so this terminates; the step bound is a backstop that
 * turns an engine bug into a permerror instead of a hang. */
static void run(struct spf_eval *e)
{
	while (e->phase != PH_DONE && wants_ready(e)) {
		if (++e->steps > MAX_STEPS) {
			set_problem(e, "evaluation step bound reached");
			finish(e, SPF_PERMERROR);
			return;
		}
		step(e);
	}
}

/* ---------------------------------------------------------- identity */

static int identity_setup(struct spf_eval *e, const struct spf_request *req)
{
	const char *mf = req->mail_from ? req->mail_from : "";
	const char *helo = req->helo ? req->helo : "";
	copy_str(e->helo, sizeof e->helo, helo, strlen(helo));
	bool use_helo = req->scope == SPF_SCOPE_HELO || mf[0] == '\0';
	e->out.identity_kind = req->scope == SPF_SCOPE_HELO ? "helo" : "mailfrom";
	const char *at = use_helo ? NULL : strrchr(mf, '@');
	const char *dom = use_helo ? helo : at ? at + 1 : mf;
	size_t ll = at ? (size_t)(at - mf) : 0;
	if (ll == 0)
		mf = "postmaster", ll = 10;
	size_t dl = strlen(dom);
	if (ll >= sizeof e->local || dl >= sizeof e->sender_dom)
		return -EINVAL;
	copy_str(e->local, sizeof e->local, mf, ll);
	copy_str(e->sender_dom, sizeof e->sender_dom, dom, dl);
	/* identity = local "@" domain; both fit (256 + 1 + 256 < 520) */
	memcpy(e->out.identity, e->local, ll);
	e->out.identity[ll] = '@';
	memcpy(e->out.identity + ll + 1, e->sender_dom, dl + 1);
	memcpy(e->out.domain, e->sender_dom, dl + 1);
	return 0;
}

struct spf_eval *spf_eval_new(const struct spf_request *req,
			      const struct spf_config *cfg)
{
	struct spf_eval *e = spare_eval;
	spare_eval = NULL;
	if (!e && !(e = malloc(sizeof *e)))
		return NULL;
	memset(e, 0, offsetof(struct spf_eval, out));
	memset(&e->out, 0, offsetof(struct spf_outcome, identity));
	e->out.identity[0] = e->out.domain[0] = e->out.mechanism[0] = '\0';
	e->out.problem[0] = e->out.explanation[0] = '\0';
	if (cfg)
		e->cfg = *cfg;
	e->ip = req->ip;
	if (identity_setup(e, req) < 0 || !domain_valid(e->sender_dom)) {
		set_problem(e, "'%.100s' is not a valid domain to check", e->sender_dom);
		e->out.result = SPF_NONE;
		e->phase = PH_DONE;
		return e;
	}
	push_frame(e, e->sender_dom, false);
	run(e);
	return e;
}

void spf_thread_cleanup(void)
{
	free(spare_eval);
	spare_eval = NULL;
}

void spf_eval_free(struct spf_eval *e)
{
	if (!e)
		return;
	wants_clear(e);
	for (unsigned i = 0; i < e->depth; i++)
		spf_record_release(e->frames[i].rec);
	dns_answer_release(e->exp_txt);
	if (!spare_eval)
		spare_eval = e;
	else
		free(e);
}

int spf_eval_next_query(struct spf_eval *e, struct spf_query *q)
{
	for (unsigned i = 0; i < e->nwants; i++) {
		struct want *w = &e->wants[i];
		if (w->issued)
			continue;
		w->issued = true;
		e->out.queries++;
		*q = (struct spf_query){.id = w->id, .type = w->type, .name = w->name};
		return 1;
	}
	return 0;
}

int spf_eval_answer(struct spf_eval *e, unsigned id, struct dns_answer *a)
{
	for (unsigned i = 0; i < e->nwants; i++) {
		struct want *w = &e->wants[i];
		if (w->id != id || !w->issued || w->ans)
			continue;
		w->ans = dns_answer_ref(a);
		run(e);
		return 0;
	}
	return -ENOENT;
}

bool spf_eval_done(const struct spf_eval *e)
{
	return e->phase == PH_DONE;
}

const struct spf_outcome *spf_eval_result(const struct spf_eval *e)
{
	return &e->out;
}
