/*
 * senderid — see senderid.h.
 */
#include "senderid.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* "spf2.0/scope,scope" + SP or end: does it cover want? Sets *rest. */
static bool spf2_covers(const char *s, size_t n, const char *want, size_t *rest)
{
	if (n < 7 || strncasecmp(s, "spf2.0/", 7) != 0)
		return false;
	size_t end = 7;
	while (end < n && s[end] != ' ')
		end++;
	*rest = end;
	bool covered = false;
	for (size_t i = 7; i < end;) {
		size_t j = i;
		while (j < end && s[j] != ',')
			j++;
		if (j - i == strlen(want) && strncasecmp(s + i, want, j - i) == 0)
			covered = true;
		i = j + 1;
	}
	return covered;
}

static bool is_v1(const char *s, size_t n)
{
	return n >= 6 && strncasecmp(s, "v=spf1", 6) == 0 && (n == 6 || s[6] == ' ');
}

/* RFC 4406 §3.4: spf2.0 records for the scope win; two → PermError; with
 * none, exactly one v=spf1 record stands in for spf2.0/mfrom,pra. */
static enum spf_select_status select_scope(const struct dns_answer *txt,
					   const char *scope, const char **terms,
					   size_t *len)
{
	unsigned v2 = 0, v1 = 0;
	const char *t1 = NULL;
	size_t l1 = 0;
	for (unsigned i = 0; i < txt->count; i++) {
		const char *s = (const char *)txt->records[i].u.txt.data;
		size_t n = txt->records[i].u.txt.len, rest;
		if (spf2_covers(s, n, scope, &rest)) {
			if (++v2 > 1)
				return SPF_SELECT_MANY;
			*terms = s + rest;
			*len = n - rest;
		} else if (is_v1(s, n)) {
			v1++;
			t1 = s + 6;
			l1 = n - 6;
		}
	}
	if (v2 == 1)
		return SPF_SELECT_FOUND;
	if (v1 > 1)
		return SPF_SELECT_MANY;
	if (v1 == 0)
		return SPF_SELECT_NONE;
	*terms = t1;
	*len = l1;
	return SPF_SELECT_FOUND;
}

enum spf_select_status senderid_select_pra(void *arg, const struct dns_answer *txt,
					   const char **terms, size_t *len)
{
	(void)arg;
	return select_scope(txt, "pra", terms, len);
}

enum spf_select_status senderid_select_mfrom(void *arg, const struct dns_answer *txt,
					     const char **terms, size_t *len)
{
	(void)arg;
	return select_scope(txt, "mfrom", terms, len);
}

void senderid_spf_config(enum senderid_scope scope, struct spf_config *cfg)
{
	cfg->select = scope == SENDERID_PRA ? senderid_select_pra : senderid_select_mfrom;
	cfg->select_arg = NULL;
	cfg->nxdomain_fails = scope == SENDERID_PRA;
}

struct check {
	senderid_done_fn done;
	void *arg;
	struct senderid_outcome out;
};

static void on_spf(void *arg, const struct spf_outcome *o)
{
	struct check *c = arg;
	c->out.result = o->result;
	c->out.spf = *o;
	snprintf(c->out.problem, sizeof c->out.problem, "%s", o->problem);
	c->done(c->arg, &c->out);
	free(c);
}

static int start(struct dns_resolver *r, const struct spf_ip *ip, const char *helo,
		 struct check *c, const struct spf_config *cfg)
{
	struct spf_config sc = *cfg;
	senderid_spf_config(c->out.scope, &sc);
	struct spf_request req = {.ip = *ip, .mail_from = c->out.identity, .helo = helo,
				  .scope = SPF_SCOPE_MFROM};
	errno = 0;
	if (spf_check_async(r, &req, &sc, on_spf, c) || errno == 0)
		return 0; /* running, or already delivered */
	int e = errno;
	free(c);
	return -e;
}

static struct check *check_new(enum senderid_scope scope, senderid_done_fn done, void *arg)
{
	struct check *c = calloc(1, sizeof *c);
	if (c) {
		c->done = done;
		c->arg = arg;
		c->out.scope = scope;
		c->out.pra_source = PRA_NONE;
	}
	return c;
}

/* Conclude without evaluating (no PRA, SUBMITTER mismatch). */
static int finish(struct check *c, enum spf_result result, const char *problem)
{
	c->out.result = result;
	snprintf(c->out.problem, sizeof c->out.problem, "%s", problem);
	c->done(c->arg, &c->out);
	free(c);
	return 0;
}

int senderid_check_identity(struct dns_resolver *r, const struct spf_ip *ip,
			    const char *helo, const char *identity,
			    enum senderid_scope scope, const struct spf_config *cfg,
			    senderid_done_fn done, void *arg)
{
	struct check *c = check_new(scope, done, arg);
	if (!c)
		return -ENOMEM;
	snprintf(c->out.identity, sizeof c->out.identity, "%s", identity ? identity : "");
	return start(r, ip, helo, c, cfg);
}

/* local@domain from the PRA's slices (quotes and comments removed). */
static void pra_text(const struct pra *p, char *out, size_t size)
{
	char local[256], domain[256];
	addr_local_text(&p->mailbox, local, sizeof local);
	addr_domain_text(&p->mailbox, domain, sizeof domain);
	snprintf(out, size, "%s@%s", local, domain);
}

/* RFC 5321 §4.1.2 atext (plus UTF-8, RFC 6531). */
static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL || c >= 0x80;
}

/* Local-part = Dot-string / Quoted-string; returns its length, 0 if bad. */
static size_t local_part(const char *s)
{
	size_t i = 0;
	if (s[0] == '"') {
		for (i = 1; s[i] && s[i] != '"'; i++) {
			unsigned char c = (unsigned char)s[i];
			if (c == '\\') {
				if (s[i + 1] < 32 || s[i + 1] > 126)
					return 0;
				i++;
			} else if (c < 32 || c == 127) {
				return 0;
			}
		}
		return s[i] == '"' ? i + 1 : 0;
	}
	for (;;) {
		size_t start = i;
		while (s[i] && atext((unsigned char)s[i]))
			i++;
		if (i == start)
			return 0;
		if (s[i] != '.')
			return i;
		i++;
	}
}

/* Domain (LDH labels, UTF-8 allowed) or an address-literal "[...]". */
static bool domain_part(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 255)
		return false;
	if (s[0] == '[') {
		if (n < 3 || s[n - 1] != ']')
			return false;
		for (size_t i = 1; i < n - 1; i++)
			if (s[i] <= 32 || s[i] > 126 || s[i] == '[' || s[i] == ']' || s[i] == '\\')
				return false;
		return true;
	}
	size_t label = 0;
	for (size_t i = 0; i <= n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '.' || c == '\0') {
			if (label == 0 || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum(c) || c >= 0x80 || (c == '-' && label > 0) || c == '_') {
			label++;
		} else {
			return false;
		}
	}
	return true;
}

bool senderid_mailbox_valid(const char *s)
{
	size_t l = local_part(s);
	return l > 0 && s[l] == '@' && strlen(s) <= 254 && domain_part(s + l + 1);
}

/* A mailbox as the PRA's text is made (pra_text): a quoted local-part
 * unquoted, quoted-pairs resolved. */
static void mailbox_canonical(const char *in, char *out, size_t size)
{
	size_t o = 0, i = 0;
	if (in[0] == '"') {
		for (i = 1; in[i] && in[i] != '"'; i++) {
			if (in[i] == '\\' && in[i + 1])
				i++;
			if (o + 1 < size)
				out[o++] = in[i];
		}
		if (in[i] == '"')
			i++;
	}
	snprintf(out + o, size - o, "%s", in + i);
}

static bool same_address(const char *a, const char *b)
{
	const char *at_a = strrchr(a, '@'), *at_b = strrchr(b, '@');
	if (!at_a || !at_b || at_a - a != at_b - b)
		return false;
	/* local-parts compare exactly (RFC 5321 §2.4), domains without case */
	return strncmp(a, b, (size_t)(at_a - a)) == 0 && strcasecmp(at_a, at_b) == 0;
}

int senderid_check_message(struct dns_resolver *r, const struct spf_ip *ip,
			   const char *helo, const char *msg, size_t len,
			   const char *submitter, const struct spf_config *cfg,
			   senderid_done_fn done, void *arg)
{
	struct check *c = check_new(SENDERID_PRA, done, arg);
	if (!c)
		return -ENOMEM;
	struct pra p;
	if (pra_extract(msg, len, &p) < 0)
		return finish(c, SPF_PERMERROR, p.why);
	c->out.pra_source = p.source;
	pra_text(&p, c->out.identity, sizeof c->out.identity);
	if (submitter && submitter[0]) {
		char sub[sizeof c->out.identity];
		mailbox_canonical(submitter, sub, sizeof sub);
		if (!same_address(sub, c->out.identity))
			return finish(c, SPF_FAIL, "the PRA does not match the SUBMITTER");
	}
	return start(r, ip, helo, c, cfg);
}
