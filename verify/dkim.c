/*
 * dkim — verifying the DKIM-Signature fields of one message.
 */
#include "dkim.h"

#include "dkim_canon.h"
#include "dkim_msg.h"
#include "dkim_sig.h"
#include "dns_answer.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BODY_MEMO 4

enum vstate { V_DONE, V_NEED_KEY, V_WAIT };

struct vsig {
	enum vstate state;
	struct dkim_sig sig;
	struct dkim_sig_result *out;
	char qname[256];
};

struct body_memo {
	bool used, has_l, short_body;
	enum dkim_canon canon;
	uint64_t l;
	unsigned char hash[32];
};

/* One allocation: the verifier, then its signatures. Of the
 * DKIM_REPORT_MAX report slots in res.sigs only the ones taken are
 * written (take_report), not the whole array. */
struct dkim_verifier {
	struct dkim_config cfg;
	struct dkim_msg m;
	unsigned nv, next_q, waiting;
	EVP_MD_CTX *md;
	struct body_memo memo[BODY_MEMO];
	struct dkim_results res; /* sigs[] last: see above */
	struct vsig v[];
};

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const char *dkim_result_name(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_NONE: return "none";
	case DKIM_RESULT_PASS: return "pass";
	case DKIM_RESULT_FAIL: return "fail";
	case DKIM_RESULT_POLICY: return "policy";
	case DKIM_RESULT_TEMPERROR: return "temperror";
	case DKIM_RESULT_PERMERROR: return "permerror";
	}
	return "?";
}

void dkim_b_prefix(const struct dkim_sig_result *r, char out[9])
{
	size_t n = 0;
	for (size_t i = 0; i < r->b.n && n < 8; i++)
		if (!dkim_is_fws((unsigned char)r->b.p[i]))
			out[n++] = r->b.p[i];
	out[n] = '\0';
}

/* ---------------------------------------------------------- hashing */

static void sink_md(void *arg, const void *p, size_t n)
{
	EVP_DigestUpdate(arg, p, n);
}

static int body_hash(struct dkim_verifier *v, const struct dkim_sig *sig,
		     const unsigned char **hash, bool *short_body)
{
	uint64_t l = sig->has_l ? sig->l : UINT64_MAX;
	struct body_memo *m = &v->memo[BODY_MEMO - 1];
	for (unsigned i = 0; i < BODY_MEMO; i++) {
		struct body_memo *e = &v->memo[i];
		if (e->used && e->canon == sig->bcanon && e->has_l == sig->has_l && e->l == l) {
			*hash = e->hash, *short_body = e->short_body;
			return 0;
		}
		if (!e->used) {
			m = e;
			break;
		}
	}
	struct dkim_sink s;
	dkim_sink_init(&s, sink_md, v->md, v->m.buf, v->m.len);
	s.limit = l;
	if (!EVP_DigestInit_ex(v->md, sha256_md, NULL))
		return -ENOMEM;
	dkim_canon_body(sig->bcanon, v->m.body, v->m.bodylen, &s);
	m->used = true;
	m->canon = sig->bcanon;
	m->has_l = sig->has_l;
	m->l = l;
	m->short_body = sig->has_l && s.limit != 0;
	if (!EVP_DigestFinal_ex(v->md, m->hash, NULL))
		return -ENOMEM;
	*hash = m->hash, *short_body = m->short_body;
	return 0;
}

static int header_hash(struct dkim_verifier *v, const struct dkim_sig *sig,
		       unsigned char out[32])
{
	struct dkim_sink s;
	struct dkim_slice item;
	size_t pos = 0;
	dkim_sink_init(&s, sink_md, v->md, v->m.buf, v->m.len);
	if (!EVP_DigestInit_ex(v->md, sha256_md, NULL))
		return -ENOMEM;
	dkim_msg_select_begin(&v->m);
	while (dkim_slice_next_item(sig->h, ':', &pos, &item)) {
		const struct dkim_field *f = dkim_msg_select(&v->m, item);
		if (f) /* absent (over-signed) names contribute nothing */
			dkim_canon_header(sig->hcanon, &(struct dkim_slice){f->p, f->len},
					  1, true, &s);
	}
	const char *fe = sig->field.p + sig->field.n;
	if (sig->field.n >= 2 && fe[-2] == '\r' && fe[-1] == '\n')
		fe -= 2;
	struct dkim_slice own[2] = {
		{sig->field.p, (size_t)(sig->hole_lo - sig->field.p)},
		{sig->hole_hi, (size_t)(fe - sig->hole_hi)},
	};
	dkim_canon_header(sig->hcanon, own, 2, false, &s);
	return EVP_DigestFinal_ex(v->md, out, NULL) ? 0 : -ENOMEM;
}

static bool verify_rsa(const struct dkim_key *key, const struct dkim_sig *sig,
		       const unsigned char *digest)
{
	if (key->rsa_ctx) /* cached: set up once */
		return EVP_PKEY_verify(key->rsa_ctx, sig->sig, sig->siglen, digest, 32) == 1;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new(key->pkey, NULL);
	bool ok = c && EVP_PKEY_verify_init(c) > 0 &&
		  EVP_PKEY_CTX_set_rsa_padding(c, RSA_PKCS1_PADDING) > 0 &&
		  EVP_PKEY_CTX_set_signature_md(c, sha256_md) > 0 &&
		  EVP_PKEY_verify(c, sig->sig, sig->siglen, digest, 32) == 1;
	EVP_PKEY_CTX_free(c);
	return ok;
}

/* RFC 8463: Ed25519 (pure) over the SHA-256 of the header data. */
static bool verify_ed25519(struct dkim_verifier *v, const struct dkim_key *key,
			   const struct dkim_sig *sig, const unsigned char *digest)
{
	if (key->ed_ctx) /* cached: one-shot DigestVerify may be repeated */
		return EVP_DigestVerify(key->ed_ctx, sig->sig, sig->siglen, digest, 32) == 1;
	bool ok = EVP_DigestVerifyInit(v->md, NULL, NULL, NULL, key->pkey) > 0 &&
		  EVP_DigestVerify(v->md, sig->sig, sig->siglen, digest, 32) == 1;
	EVP_MD_CTX_reset(v->md); /* drop the key context before the next digest */
	return ok;
}

static void set_result(struct vsig *s, enum dkim_result r, const char *why)
{
	s->state = V_DONE;
	if (s->out) {
		s->out->result = r;
		s->out->reason = why;
	}
}

static void verify_with_key(struct dkim_verifier *v, struct vsig *s,
			    const struct dkim_key *key)
{
	const struct dkim_sig *sig = &s->sig;
	bool ed = sig->alg == DKIM_ALG_ED25519_SHA256;
	if (ed != (key->type == DKIM_KEY_ED25519))
		return set_result(s, DKIM_RESULT_PERMERROR, "key type does not match a=");
	if (!key->hash_sha256_ok)
		return set_result(s, DKIM_RESULT_PERMERROR, "key h= excludes sha256");
	if (key->strict && !dkim_slices_caseeq(sig->idomain, sig->d))
		return set_result(s, DKIM_RESULT_PERMERROR, "key t=s but i= is a subdomain of d=");
	const unsigned char *bh;
	bool short_body;
	unsigned char digest[32];
	if (body_hash(v, sig, &bh, &short_body) < 0 || header_hash(v, sig, digest) < 0)
		return set_result(s, DKIM_RESULT_TEMPERROR, "out of memory");
	if (short_body)
		return set_result(s, DKIM_RESULT_PERMERROR, "l= exceeds the body length");
	if (sig->bhlen != 32 || memcmp(bh, sig->bh, 32) != 0)
		return set_result(s, DKIM_RESULT_FAIL, "body hash mismatch");
	bool ok = ed ? verify_ed25519(v, key, sig, digest) : verify_rsa(key, sig, digest);
	ERR_clear_error();
	if (!ok)
		return set_result(s, DKIM_RESULT_FAIL, "signature did not verify");
	set_result(s, DKIM_RESULT_PASS, key->testing ? "ok (key in test mode t=y)" : "ok");
}

/* ------------------------------------------------------ key answers */

static enum dkim_result key_status_result(enum dkim_key_status st)
{
	if (st == DKIM_KEY_ERR_TOO_SMALL)
		return DKIM_RESULT_POLICY;
	return st == DKIM_KEY_ERR_NOMEM ? DKIM_RESULT_TEMPERROR : DKIM_RESULT_PERMERROR;
}

static void on_key_data(struct dkim_verifier *v, struct vsig *s,
			const struct dns_answer *a)
{
	enum dkim_key_status first = DKIM_KEY_ERR_NO_P;
	for (unsigned i = 0; i < a->count; i++) {
		const struct dns_txt *t = &a->records[i].u.txt;
		struct dkim_key key;
		enum dkim_key_status st = dkim_key_load((const char *)t->data, t->len, &key);
		if (st != DKIM_KEY_OK) {
			if (i == 0)
				first = st;
			continue;
		}
		if (v->cfg.keys)
			dkim_key_cache_put(v->cfg.keys, s->sig.d, s->sig.s, v->cfg.now,
					   a->ttl, &key);
		verify_with_key(v, s, &key);
		EVP_PKEY_free(key.pkey);
		return;
	}
	set_result(s, key_status_result(first), dkim_key_status_reason(first));
}

static void on_key_answer(struct dkim_verifier *v, struct vsig *s,
			  const struct dns_answer *a)
{
	switch (a->status) {
	case DNS_DATA:
		return on_key_data(v, s, a);
	case DNS_NXDOMAIN:
	case DNS_NODATA:
		return set_result(s, DKIM_RESULT_PERMERROR, "no key record");
	case DNS_TEMPFAIL:
		return set_result(s, DKIM_RESULT_TEMPERROR,
				  a->why == DNS_WHY_SERVFAIL ? "key lookup SERVFAIL"
							     : "key lookup timed out or failed");
	case DNS_MALFORMED:
		if (a->why == DNS_WHY_BADNAME)
			return set_result(s, DKIM_RESULT_PERMERROR, "key name invalid");
		return set_result(s, DKIM_RESULT_TEMPERROR, "malformed key answer");
	}
}

/* ------------------------------------------------------ the verifier */

static enum dkim_result overall(const struct dkim_results *r)
{
	static const enum dkim_result order[] = {
		DKIM_RESULT_PASS, DKIM_RESULT_FAIL, DKIM_RESULT_PERMERROR,
		DKIM_RESULT_TEMPERROR, DKIM_RESULT_POLICY,
	};
	for (unsigned k = 0; k < sizeof order / sizeof order[0]; k++)
		for (unsigned i = 0; i < r->nreported; i++)
			if (r->sigs[i].result == order[k])
				return order[k];
	return DKIM_RESULT_NONE;
}

static void start_sig(struct dkim_verifier *v, struct vsig *s, const struct dkim_field *f)
{
	enum dkim_sig_status st = dkim_sig_parse((struct dkim_slice){f->p, f->len},
						 v->cfg.now, &s->sig);
	if (s->out) {
		s->out->d = s->sig.d, s->out->s = s->sig.s;
		s->out->a = s->sig.a, s->out->b = s->sig.b;
	}
	if (st == DKIM_SIG_ERR_SHA1)
		return set_result(s, DKIM_RESULT_POLICY, dkim_sig_status_reason(st));
	if (st != DKIM_SIG_OK)
		return set_result(s, DKIM_RESULT_PERMERROR, dkim_sig_status_reason(st));
	if (v->m.truncated)
		return set_result(s, DKIM_RESULT_PERMERROR, "too many header fields");
	struct dkim_key key;
	if (v->cfg.keys && dkim_key_cache_get(v->cfg.keys, s->sig.d, s->sig.s,
					      v->cfg.now, &key))
		return verify_with_key(v, s, &key);
	snprintf(s->qname, sizeof s->qname, "%.*s._domainkey.%.*s", (int)s->sig.s.n,
		 s->sig.s.p, (int)s->sig.d.n, s->sig.d.p);
	s->state = V_NEED_KEY;
}

static bool is_signature(const struct dkim_field *f)
{
	return dkim_field_is(f, "dkim-signature");
}

static struct dkim_sig_result *take_report(struct dkim_verifier *v)
{
	struct dkim_sig_result *r = &v->res.sigs[v->res.nreported++];
	*r = (struct dkim_sig_result){0};
	return r;
}

static void report_unchecked(struct dkim_verifier *v, const struct dkim_field *f)
{
	struct dkim_sig_result *r = take_report(v);
	struct dkim_taglist t;
	const char *colon = memchr(f->p, ':', f->len);
	r->result = DKIM_RESULT_NONE;
	r->reason = "not checked: over max_signatures";
	if (dkim_tags_parse(colon + 1, f->len - (size_t)(colon + 1 - f->p), &t) != DKIM_TAGS_OK)
		return;
	const struct dkim_slice *d = dkim_tags_get(&t, "d"), *s = dkim_tags_get(&t, "s"),
				*a = dkim_tags_get(&t, "a");
	const struct dkim_slice *b = dkim_tags_get(&t, "b");
	r->d = d ? *d : r->d, r->s = s ? *s : r->s, r->a = a ? *a : r->a;
	r->b = b ? *b : r->b;
}

static void finish_if_done(struct dkim_verifier *v)
{
	if (dkim_verifier_done(v))
		v->res.result = overall(&v->res);
}

/* Start the first nv signatures (v->v has room for them); report the
 * rest as not checked. */
static void start_all(struct dkim_verifier *v, unsigned nv)
{
	for (unsigned i = 0; i < v->m.n; i++) {
		const struct dkim_field *f = &v->m.f[i];
		if (!is_signature(f))
			continue;
		if (v->nv < nv) {
			struct vsig *s = &v->v[v->nv++];
			s->out = NULL;
			if (v->res.nreported < DKIM_REPORT_MAX) {
				s->out = take_report(v);
				s->out->checked = true;
			}
			start_sig(v, s, f);
		} else if (v->res.nreported < DKIM_REPORT_MAX) {
			report_unchecked(v, f);
		}
	}
	finish_if_done(v);
}

static unsigned count_signatures(const struct dkim_msg *m)
{
	unsigned n = 0;
	for (unsigned i = 0; i < m->n; i++)
		n += is_signature(&m->f[i]);
	return n;
}

static struct dkim_config effective_config(const struct dkim_config *cfg)
{
	struct dkim_config c = *cfg;
	if (!c.max_signatures)
		c.max_signatures = DKIM_DEFAULT_MAX_SIGNATURES;
	if (c.max_signatures > DKIM_REPORT_MAX) /* every checked one is reported */
		c.max_signatures = DKIM_REPORT_MAX;
	if (!c.now)
		c.now = (uint64_t)time(NULL);
	return c;
}

struct dkim_verifier *dkim_verifier_new(const struct dkim_config *cfg,
					const char *msg, size_t len)
{
	pthread_once(&sha256_once, fetch_sha256);
	struct dkim_msg m;
	if (!sha256_md || dkim_msg_index(&m, msg, len) < 0)
		return errno = ENOMEM, NULL;
	struct dkim_config c = effective_config(cfg);
	unsigned nsigs = count_signatures(&m);
	unsigned nv = nsigs < c.max_signatures ? nsigs : c.max_signatures;
	struct dkim_verifier *v = malloc(sizeof *v + nv * sizeof v->v[0]);
	if (v) {
		memset(v, 0, offsetof(struct dkim_verifier, res.sigs));
		v->md = EVP_MD_CTX_new();
	}
	if (!v || !v->md) {
		free(v);
		dkim_msg_free(&m);
		errno = ENOMEM;
		return NULL;
	}
	v->cfg = c;
	v->m = m;
	v->res.nsigs = nsigs;
	start_all(v, nv);
	return v;
}

void dkim_verifier_free(struct dkim_verifier *v)
{
	if (!v)
		return;
	EVP_MD_CTX_free(v->md);
	dkim_msg_free(&v->m);
	free(v);
}

const char *dkim_verifier_next_query(struct dkim_verifier *v, unsigned *token)
{
	for (; v->next_q < v->nv; v->next_q++) {
		struct vsig *s = &v->v[v->next_q];
		if (s->state != V_NEED_KEY)
			continue;
		s->state = V_WAIT;
		v->waiting++;
		*token = v->next_q++;
		return s->qname;
	}
	return NULL;
}

void dkim_verifier_resume(struct dkim_verifier *v, unsigned token,
			  const struct dns_answer *a)
{
	if (token >= v->nv || v->v[token].state != V_WAIT)
		return;
	v->waiting--;
	on_key_answer(v, &v->v[token], a);
	finish_if_done(v);
}

bool dkim_verifier_done(const struct dkim_verifier *v)
{
	if (v->waiting)
		return false;
	for (unsigned i = v->next_q; i < v->nv; i++)
		if (v->v[i].state != V_DONE)
			return false;
	return true;
}

const struct dkim_results *dkim_verifier_results(const struct dkim_verifier *v)
{
	return &v->res;
}

/* ------------------------------------------------------------- async */

struct dkim_async;

struct dkim_async_q {
	struct dkim_async *job;
	unsigned token;
};

struct dkim_async {
	struct dns_resolver *r;
	struct dkim_verifier *v;
	dkim_done_fn done;
	void *arg;
	struct dkim_async_q *q;
};

static void async_finish(struct dkim_async *j)
{
	j->done(j->arg, dkim_verifier_results(j->v));
	dkim_verifier_free(j->v);
	free(j->q);
	free(j);
}

static void async_on_answer(void *arg, struct dns_answer *a)
{
	struct dkim_async_q *q = arg;
	struct dkim_async *j = q->job;
	dkim_verifier_resume(j->v, q->token, a);
	if (dkim_verifier_done(j->v))
		async_finish(j);
}

static void async_issue(struct dkim_async *j)
{
	unsigned token;
	const char *name;
	while ((name = dkim_verifier_next_query(j->v, &token))) {
		j->q[token] = (struct dkim_async_q){j, token};
		if (dns_resolve(j->r, name, DNS_TYPE_TXT, async_on_answer, &j->q[token]))
			continue;
		struct dns_answer *a = dns_answer_new_empty(name, DNS_TYPE_TXT, DNS_TEMPFAIL,
							    DNS_WHY_NOMEM, 0);
		dkim_verifier_resume(j->v, token, a);
		if (a)
			dns_answer_release(a);
	}
}

int dkim_verify_async(struct dns_resolver *r, const char *msg, size_t len,
		      const struct dkim_config *cfg, dkim_done_fn done, void *arg)
{
	struct dkim_async *j = calloc(1, sizeof *j);
	if (!j)
		return -ENOMEM;
	*j = (struct dkim_async){r, dkim_verifier_new(cfg, msg, len), done, arg, NULL};
	if (j->v)
		j->q = calloc(j->v->nv ? j->v->nv : 1, sizeof *j->q);
	if (!j->v || !j->q) {
		dkim_verifier_free(j->v);
		free(j);
		return -ENOMEM;
	}
	async_issue(j);
	if (dkim_verifier_done(j->v))
		async_finish(j);
	return 0;
}
