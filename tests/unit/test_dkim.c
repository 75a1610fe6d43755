/*
 * test_dkim — the verifier: signature tags, header selection with
 * over-signing, l=, DNS outcomes, the key cache, signature limits, hostile
 * input, and the zero-copy counter over whole verifications.
 * Fixtures: tests/data/dkim (run from the repository top, as run.sh does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/dkim.h"
#include "../../verify/dkim_canon.h"
#include "../../verify/dkim_msg.h"
#include "../../verify/dkim_sig.h"
#include "../../verify/dns_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DATA "tests/data/dkim/"
#define NOW 1800000000u

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char *b = malloc(1 << 16);
	*len = fread(b, 1, (1 << 16) - 1, f);
	b[*len] = 0;
	fclose(f);
	return b;
}

static char *key_record(void)
{
	size_t n;
	char *k = slurp(DATA "ed.txt", &n);
	while (n && (k[n - 1] == '\n' || k[n - 1] == '\r'))
		k[--n] = 0;
	return k;
}

/* How the fake DNS answers: a TXT value, or a status. */
struct fake_dns {
	const char *txt;  /* NULL: use status */
	enum dns_status status;
	enum dns_why why;
	unsigned queries;
	char last[256];
};

static struct dns_answer *answer_for(struct fake_dns *d, const char *name)
{
	if (!d->txt)
		return dns_answer_new_empty(name, DNS_TYPE_TXT, d->status, d->why, 60);
	struct dns_builder *b = dns_builder_new(name, DNS_TYPE_TXT);
	const uint8_t *strs[16];
	uint8_t lens[16];
	size_t len = strlen(d->txt);
	unsigned n = 0;
	for (size_t off = 0; off < len || n == 0; off += 255, n++) {
		strs[n] = (const uint8_t *)d->txt + off;
		lens[n] = (uint8_t)(len - off > 255 ? 255 : len - off);
	}
	assert_int_equal(dns_builder_add_txt(b, 300, strs, lens, n), 0);
	return dns_builder_finish(b, DNS_DATA, DNS_WHY_NONE, 0, true);
}

static struct dkim_verifier *run(const char *msg, size_t len, struct fake_dns *d,
				 const struct dkim_config *cfg)
{
	struct dkim_verifier *v = dkim_verifier_new(cfg, msg, len);
	assert_non_null(v);
	const char *name;
	unsigned tok;
	while ((name = dkim_verifier_next_query(v, &tok))) {
		d->queries++;
		snprintf(d->last, sizeof d->last, "%s", name);
		struct dns_answer *a = answer_for(d, name);
		dkim_verifier_resume(v, tok, a);
		dns_answer_release(a);
	}
	assert_true(dkim_verifier_done(v));
	return v;
}

static enum dkim_result verify(const char *msg, size_t len, struct fake_dns *d)
{
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(msg, len, d, &cfg);
	enum dkim_result r = dkim_verifier_results(v)->result;
	dkim_verifier_free(v);
	return r;
}

static enum dkim_result verify_str(const char *msg, const char *key)
{
	struct fake_dns d = {.txt = key};
	return verify(msg, strlen(msg), &d);
}

/* msg with `line` (CRLF-terminated) inserted at the top, or just before
 * the blank line that ends the header. */
static char *with_header(const char *msg, const char *line, bool bottom)
{
	size_t n = strlen(msg), l = strlen(line);
	char *out = malloc(n + l + 1);
	size_t at = bottom ? (size_t)(strstr(msg, "\r\n\r\n") + 2 - msg) : 0;
	memcpy(out, msg, at);
	memcpy(out + at, line, l);
	memcpy(out + at + l, msg + at, n - at + 1);
	return out;
}

static void test_pass_query_and_zero_copy(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	struct fake_dns d = {.txt = k};
#ifdef AUTHGATE_DEBUG_COUNTERS
	dkim_canon_foreign_bytes = 0;
#endif
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(m, n, &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->result, DKIM_RESULT_PASS);
	assert_int_equal(d.queries, 1);
	assert_string_equal(d.last, "unit._domainkey.example.com");
	assert_int_equal(r->nsigs, 1);
	assert_true(dkim_slice_eq(r->sigs[0].d, "example.com"));
	assert_true(dkim_slice_eq(r->sigs[0].s, "unit"));
	assert_true(dkim_slice_eq(r->sigs[0].a, "ed25519-sha256"));
	char b8[9];
	dkim_b_prefix(&r->sigs[0], b8);
	assert_int_equal(strlen(b8), 8);
	assert_memory_equal(b8, strstr(m, " b=") + 3, 8);
	/* the result slices point into the message */
	assert_true(r->sigs[0].d.p > m && r->sigs[0].d.p < m + n);
#ifdef AUTHGATE_DEBUG_COUNTERS
	assert_int_equal(dkim_canon_foreign_bytes, 0);
#endif
	dkim_verifier_free(v);
	free(m);
	free(k);
}

static void test_oversigning_and_bottom_up(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record(), *x;
	/* From is listed twice in h=: a second From anywhere breaks it */
	assert_int_equal(verify_str(x = with_header(m, "From: evil@example.net\r\n", false), k),
			 DKIM_RESULT_FAIL);
	free(x);
	assert_int_equal(verify_str(x = with_header(m, "From: evil@example.net\r\n", true), k),
			 DKIM_RESULT_FAIL);
	free(x);
	/* To is listed once: the bottom-most To is the signed one */
	assert_int_equal(verify_str(x = with_header(m, "To: other@example.net\r\n", false), k),
			 DKIM_RESULT_PASS);
	free(x);
	assert_int_equal(verify_str(x = with_header(m, "To: other@example.net\r\n", true), k),
			 DKIM_RESULT_FAIL);
	free(x);
	/* names in h= match case-insensitively; unsigned headers are free */
	assert_int_equal(verify_str(x = with_header(m, "X-Unsigned: 1\r\n", true), k),
			 DKIM_RESULT_PASS);
	free(x);
	free(m);
	free(k);
}

static void test_body_length(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "length.eml", &n), *k = key_record();
	assert_int_equal(verify_str(m, k), DKIM_RESULT_PASS);
	char *x = malloc(n + 64);
	snprintf(x, n + 64, "%sappended after l=\r\n", m);
	assert_int_equal(verify_str(x, k), DKIM_RESULT_PASS);
	strcpy(x, m);
	strstr(x, "\r\n\r\nHello")[4] = 'J';
	assert_int_equal(verify_str(x, k), DKIM_RESULT_FAIL);
	strcpy(x, m);
	strcpy(strstr(x, "\r\n\r\nHello") + 4, "Hi\r\n"); /* shorter than l= */
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(x, strlen(x), &d, &cfg);
	assert_int_equal(dkim_verifier_results(v)->result, DKIM_RESULT_PERMERROR);
	assert_string_equal(dkim_verifier_results(v)->sigs[0].reason, "l= exceeds the body length");
	dkim_verifier_free(v);
	free(x);
	free(m);
	free(k);
}

/* Two signatures over one body, relaxed and simple body canonicalization
 * (the same l=, none): each gets its own body hash, both pass. */
static void test_body_hash_per_canonicalization(void **state)
{
	(void)state;
	size_t n, sn;
	char *m = slurp(DATA "oversign.eml", &n), *sb = slurp(DATA "simplebody.eml", &sn);
	char *k = key_record();
	size_t sl = (size_t)(strstr(sb, "\r\nFrom:") + 2 - sb);
	char *x = malloc(sl + n + 1);
	memcpy(x, sb, sl);
	memcpy(x + sl, m, n + 1);
	for (int order = 0; order < 2; order++) {
		struct fake_dns d = {.txt = k};
		struct dkim_config cfg = {.now = NOW};
		struct dkim_verifier *v = run(x, sl + n, &d, &cfg);
		const struct dkim_results *r = dkim_verifier_results(v);
		assert_int_equal(r->nreported, 2);
		assert_int_equal(r->sigs[0].result, DKIM_RESULT_PASS);
		assert_int_equal(r->sigs[1].result, DKIM_RESULT_PASS);
		dkim_verifier_free(v);
		/* the other order: the relaxed/relaxed signature first */
		size_t ol = (size_t)(strstr(m, "\r\nFrom:") + 2 - m);
		memcpy(x, m, ol);
		memcpy(x + ol, sb, sl);
		memcpy(x + ol + sl, m + ol, n - ol + 1);
	}
	free(x);
	free(sb);
	free(m);
	free(k);
}

/* An l= past any body length (it saturates to the largest value) is
 * still an l= the body is shorter than: permerror, even after a signature
 * without l= over the same body (whose body hash ran to the end). */
static void test_huge_l_after_signature_without_l(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	char *x = with_header(m, "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; "
				 "d=example.com; s=unit; h=from; l=99999999999999999999999; "
				 "bh=AAAA; b=AAAA\r\n", true);
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(x, strlen(x), &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->nreported, 2);
	assert_int_equal(r->sigs[0].result, DKIM_RESULT_PASS);
	assert_int_equal(r->sigs[1].result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r->sigs[1].reason, "l= exceeds the body length");
	dkim_verifier_free(v);
	free(x);
	free(m);
	free(k);
}

/* bh= must be exactly the 32 octets of a SHA-256: the right hash with
 * one octet more is a body hash mismatch (RFC 6376 §6.1.3), not a match
 * on its first 32 octets. */
static void test_bh_of_33_octets_is_a_mismatch(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	char *bh = strstr(m, "kly2eg0=;");
	assert_non_null(bh);
	bh[7] = 'A'; /* "...eg0A": the same 32 octets, then a zero octet */
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(m, n, &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->result, DKIM_RESULT_FAIL);
	assert_string_equal(r->sigs[0].reason, "body hash mismatch");
	dkim_verifier_free(v);
	free(m);
	free(k);
}

static void test_dns_outcomes(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n);
	struct fake_dns nx = {.status = DNS_NXDOMAIN}, to = {.status = DNS_TEMPFAIL, .why = DNS_WHY_TIMEOUT},
			sf = {.status = DNS_TEMPFAIL, .why = DNS_WHY_SERVFAIL},
			nodata = {.status = DNS_NODATA};
	assert_int_equal(verify(m, n, &nx), DKIM_RESULT_PERMERROR);
	assert_int_equal(verify(m, n, &nodata), DKIM_RESULT_PERMERROR);
	assert_int_equal(verify(m, n, &to), DKIM_RESULT_TEMPERROR);
	assert_int_equal(verify(m, n, &sf), DKIM_RESULT_TEMPERROR);
	assert_int_equal(verify_str(m, "v=DKIM1; k=ed25519; p="), DKIM_RESULT_PERMERROR);
	assert_int_equal(verify_str(m, "v=DKIM1; k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
			 DKIM_RESULT_PERMERROR);
	/* right type, wrong key: the signature does not verify */
	assert_int_equal(verify_str(m, "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
			 DKIM_RESULT_FAIL);
	assert_int_equal(verify_str(m, "v=DKIM1; k=ed25519; h=sha1; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="),
			 DKIM_RESULT_PERMERROR);
	free(m);
}

/* A key name the resolver refuses to ask (DNS_WHY_BADNAME) is the
 * signature's own fault and will not get better: permerror; any other
 * malformed answer may be transient: temperror. */
static void test_key_name_refused_is_permerror(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n);
	struct fake_dns bad = {.status = DNS_MALFORMED, .why = DNS_WHY_BADNAME},
			wire = {.status = DNS_MALFORMED, .why = DNS_WHY_BADWIRE};
	assert_int_equal(verify(m, n, &bad), DKIM_RESULT_PERMERROR);
	assert_int_equal(verify(m, n, &wire), DKIM_RESULT_TEMPERROR);
	free(m);
}

/* A key with t=s (RFC 6376 §3.6.1) signs only for d= itself: a signature
 * whose i= is in a subdomain is a permerror before any hashing. */
static void test_key_strict_t_s(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record(), strict[256];
	snprintf(strict, sizeof strict, "%s; t=s", k);
	/* i=@example.com, the same as d=: the key's t=s allows it */
	assert_int_equal(verify_str(m, strict), DKIM_RESULT_PASS);
	char *sub = strstr(m, "i=@example.com;");
	assert_non_null(sub);
	char *msub = malloc(n + 8);
	size_t at = (size_t)(sub - m) + 3;
	memcpy(msub, m, at);
	memcpy(msub + at, "sub.", 4);
	memcpy(msub + at + 4, m + at, n - at + 1);
	struct fake_dns d = {.txt = strict};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(msub, n + 4, &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r->sigs[0].reason, "key t=s but i= is a subdomain of d=");
	dkim_verifier_free(v);
	/* the same signature under a key without t=s gets as far as the hash
	 * (which i= changed) */
	assert_int_equal(verify_str(msub, k), DKIM_RESULT_FAIL);
	free(msub);
	free(m);
	free(k);
}

/* RFC 6376 §6.1.2: a key not suitable for the a= algorithm is a
 * permerror (inappropriate key algorithm), found before any hashing:
 * an rsa-sha256 signature under an ed25519 key is not a mere "fail". */
static void test_key_type_must_match_a(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	char *a = strstr(m, "a=ed25519-sha256;");
	assert_non_null(a);
	char *x = malloc(n + 1);
	size_t at = (size_t)(a - m);
	memcpy(x, m, at);
	strcpy(x + at, "a=rsa-sha256;");
	strcat(x, a + strlen("a=ed25519-sha256;"));
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(x, strlen(x), &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r->sigs[0].reason, "key type does not match a=");
	dkim_verifier_free(v);
	free(x);
	free(m);
	free(k);
}

static void test_key_cache_skips_lookup(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	struct dkim_config cfg = {.now = NOW, .keys = dkim_key_cache_new(8)};
	struct fake_dns d = {.txt = k};
	struct dkim_verifier *v = run(m, n, &d, &cfg);
	assert_int_equal(dkim_verifier_results(v)->result, DKIM_RESULT_PASS);
	dkim_verifier_free(v);
	v = run(m, n, &d, &cfg);
	assert_int_equal(dkim_verifier_results(v)->result, DKIM_RESULT_PASS);
	assert_int_equal(d.queries, 1);
	dkim_verifier_free(v);
	/* the cached verification context survives a failure */
	char *x = with_header(m, "From: evil@example.net\r\n", false);
	v = run(x, strlen(x), &d, &cfg);
	assert_int_equal(dkim_verifier_results(v)->result, DKIM_RESULT_FAIL);
	dkim_verifier_free(v);
	free(x);
	v = run(m, n, &d, &cfg);
	assert_int_equal(dkim_verifier_results(v)->result, DKIM_RESULT_PASS);
	assert_int_equal(d.queries, 1);
	dkim_verifier_free(v);
	cfg.now += 301; /* past the TTL: asked again */
	v = run(m, n, &d, &cfg);
	assert_int_equal(d.queries, 2);
	dkim_verifier_free(v);
	dkim_key_cache_free(cfg.keys);
	free(m);
	free(k);
}

static void test_max_signatures(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	size_t sl = (size_t)(strstr(m, "\r\nFrom:") + 2 - m);
	char *x = malloc(8 * n);
	size_t off = 0;
	for (int i = 0; i < 7; i++, off += sl)
		memcpy(x + off, m, sl);
	memcpy(x + off, m + sl, n - sl);
	off += n - sl;
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(x, off, &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->nsigs, 7);
	assert_int_equal(r->nreported, 7);
	assert_int_equal(d.queries, 5);
	assert_int_equal(r->sigs[4].result, DKIM_RESULT_PASS);
	assert_int_equal(r->sigs[5].result, DKIM_RESULT_NONE);
	assert_false(r->sigs[6].checked);
	assert_int_equal(r->result, DKIM_RESULT_PASS);
	dkim_verifier_free(v);
	free(x);
	free(m);
	free(k);
}

/* The overall result of several signatures follows the documented order
 * (docs/conformance.md): pass > fail > permerror > temperror > policy. */
static enum dkim_result overall_with(const char *m, const char *extra, struct fake_dns *d)
{
	char *x = with_header(m, extra, false);
	enum dkim_result r = verify(x, strlen(x), d);
	free(x);
	return r;
}

static void test_overall_result_order(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n);
	static const char expired[] = "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; "
				      "s=sel; h=from; bh=AAAA; b=AAAA; x=1700000000\r\n";
	static const char sha1[] = "DKIM-Signature: v=1; a=rsa-sha1; d=example.com; "
				   "s=sel; h=from; bh=AAAA; b=AAAA\r\n";
	struct fake_dns to = {.status = DNS_TEMPFAIL, .why = DNS_WHY_TIMEOUT};
	struct fake_dns wrong = {.txt = "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="};
	/* permerror (expired) and temperror (key lookup timed out) */
	assert_int_equal(overall_with(m, expired, &to), DKIM_RESULT_PERMERROR);
	/* policy (rsa-sha1) and temperror */
	to.queries = 0;
	assert_int_equal(overall_with(m, sha1, &to), DKIM_RESULT_TEMPERROR);
	/* permerror and fail (wrong key) */
	assert_int_equal(overall_with(m, expired, &wrong), DKIM_RESULT_FAIL);
	free(m);
}

/* max_signatures above DKIM_REPORT_MAX is capped to it: every checked
 * signature is reported, none is checked (and its key looked up) without
 * a report slot. */
static void test_max_signatures_capped_at_report_max(void **state)
{
	(void)state;
	size_t n;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	size_t sl = (size_t)(strstr(m, "\r\nFrom:") + 2 - m);
	char *x = malloc((DKIM_REPORT_MAX + 2) * n);
	size_t off = 0;
	for (int i = 0; i < DKIM_REPORT_MAX + 1; i++, off += sl)
		memcpy(x + off, m, sl);
	memcpy(x + off, m + sl, n - sl);
	off += n - sl;
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW, .max_signatures = 1000};
	struct dkim_verifier *v = run(x, off, &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->nsigs, DKIM_REPORT_MAX + 1);
	assert_int_equal(r->nreported, DKIM_REPORT_MAX);
	assert_int_equal(d.queries, DKIM_REPORT_MAX);
	assert_true(r->sigs[DKIM_REPORT_MAX - 1].checked);
	assert_int_equal(r->result, DKIM_RESULT_PASS);
	dkim_verifier_free(v);
	free(x);
	free(m);
	free(k);
}

static enum dkim_sig_status sig(const char *value)
{
	static struct dkim_sig s;
	char f[2048];
	snprintf(f, sizeof f, "DKIM-Signature: %s\r\n", value);
	return dkim_sig_parse((struct dkim_slice){f, strlen(f)}, NOW, &s);
}

#define GOOD "v=1; a=ed25519-sha256; d=example.com; s=sel; h=from:to; bh=AAAA; b=AAAA"

static void test_signature_tags(void **state)
{
	(void)state;
	assert_int_equal(sig(GOOD), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; zz=unknown; n=1"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; d=example.org"), DKIM_SIG_ERR_DUPLICATE);
	assert_int_equal(sig(GOOD "; i=joe@sub.example.com"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; i=joe@example.org"), DKIM_SIG_ERR_I_DOMAIN);
	assert_int_equal(sig(GOOD "; i=joe@badexample.com"), DKIM_SIG_ERR_I_DOMAIN);
	assert_int_equal(sig(GOOD "; i=joe=40example.com"), DKIM_SIG_OK); /* QP '@' */
	assert_int_equal(sig("v=1; a=ed25519-sha256; d=example.com; s=sel; h=to:subject; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_H_FROM);
	assert_int_equal(sig("v=1; a=ed25519-sha256; d=example.com; s=sel; h=From:to::x; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_H_SYNTAX);
	assert_int_equal(sig(GOOD "; t=100; x=99"), DKIM_SIG_ERR_X_BEFORE_T);
	assert_int_equal(sig(GOOD "; t=1799999999; x=1799999999"), DKIM_SIG_ERR_X_BEFORE_T);
	assert_int_equal(sig(GOOD "; t=1799999999; x=1800000000"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; x=1700000000"), DKIM_SIG_ERR_EXPIRED);
	/* expired once now is past x=, not at x= itself */
	assert_int_equal(sig(GOOD "; x=1799999999"), DKIM_SIG_ERR_EXPIRED);
	assert_int_equal(sig(GOOD "; x=1800000000"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; x=1900000000"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; l=12x"), DKIM_SIG_ERR_L);
	assert_int_equal(sig(GOOD "; l=99999999999999999999999999"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; q=http"), DKIM_SIG_ERR_Q);
	assert_int_equal(sig(GOOD "; q=foo:dns/txt"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; c=relaxed"), DKIM_SIG_OK);
	assert_int_equal(sig(GOOD "; c=relaxed/fancy"), DKIM_SIG_ERR_CANON);
	assert_int_equal(sig("v=1; a=rsa-sha1; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_SHA1);
	assert_int_equal(sig("v=1; a=rsa-md5; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_ALG);
	assert_int_equal(sig("a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_MISSING);
	assert_int_equal(sig("v=0.5; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_VERSION);
	assert_int_equal(sig("v=1; a=rsa-sha256; d=ex(ample.com; s=sel; h=from; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_DOMAIN);
	assert_int_equal(sig("v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=A!AA"),
			 DKIM_SIG_ERR_B64);
	assert_int_equal(sig("v=1; a=rsa-sha256; d=example.com; s=sel; h=from; bh=AAAA; b="),
			 DKIM_SIG_ERR_MISSING);
}

/* The parsed signature itself, for the tests that look at its fields. */
static enum dkim_sig_status sig_into(const char *value, struct dkim_sig *s)
{
	static char f[2048];
	snprintf(f, sizeof f, "DKIM-Signature: %s\r\n", value);
	return dkim_sig_parse((struct dkim_slice){f, strlen(f)}, NOW, s);
}

/* RFC 6376 §6.1.1: v a b bh d h s are all required */
static void test_each_required_tag(void **state)
{
	(void)state;
	static const char *const lacking[] = {
		"a=ed25519-sha256; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA",
		"v=1; d=example.com; s=sel; h=from; bh=AAAA; b=AAAA",
		"v=1; a=ed25519-sha256; d=example.com; s=sel; h=from; bh=AAAA",
		"v=1; a=ed25519-sha256; d=example.com; s=sel; h=from; b=AAAA",
		"v=1; a=ed25519-sha256; s=sel; h=from; bh=AAAA; b=AAAA",
		"v=1; a=ed25519-sha256; d=example.com; s=sel; bh=AAAA; b=AAAA",
		"v=1; a=ed25519-sha256; d=example.com; h=from; bh=AAAA; b=AAAA",
	};
	for (size_t i = 0; i < sizeof lacking / sizeof lacking[0]; i++)
		assert_int_equal(sig(lacking[i]), DKIM_SIG_ERR_MISSING);
}

/* header field names compare case-insensitively (RFC 5322 §1.2.2) */
static void test_h_from_in_any_case(void **state)
{
	(void)state;
	assert_int_equal(sig("v=1; a=ed25519-sha256; d=example.com; s=sel; h=To:FROM; bh=AAAA; b=AAAA"),
			 DKIM_SIG_OK);
	assert_int_equal(sig("v=1; a=ed25519-sha256; d=example.com; s=sel; h=from:x y; bh=AAAA; b=AAAA"),
			 DKIM_SIG_ERR_H_SYNTAX); /* no space inside a field name */
}

/* §3.5: l= is 1*76DIGIT; leading zeros do not make a number large */
static void test_l_digits(void **state)
{
	(void)state;
	static char v[256];
	struct dkim_sig s;
	snprintf(v, sizeof v, GOOD "; l=%076d", 7);
	assert_int_equal(sig_into(v, &s), DKIM_SIG_OK);
	assert_true(s.has_l);
	assert_int_equal(s.l, 7);
	snprintf(v, sizeof v, GOOD "; l=%077d", 7);
	assert_int_equal(sig(v), DKIM_SIG_ERR_L);
}

/* s + "._domainkey." + d is a name of at most 253 octets */
static void test_key_name_of_253_octets_but_not_254(void **state)
{
	(void)state;
	char d[200], s[64], v[512];
	memset(d, 'a', 60);
	d[60] = '.';
	memset(d + 61, 'b', 60);
	d[121] = '.';
	memset(d + 122, 'c', 60);
	strcpy(d + 182, ".com"); /* 186 octets */
	memset(s, 'x', 55);
	s[55] = 0; /* 55 + 12 + 186 = 253 */
	snprintf(v, sizeof v, "v=1; a=ed25519-sha256; d=%s; s=%s; h=from; bh=AAAA; b=AAAA", d, s);
	assert_int_equal(sig(v), DKIM_SIG_OK);
	s[55] = 'x';
	s[56] = 0;
	snprintf(v, sizeof v, "v=1; a=ed25519-sha256; d=%s; s=%s; h=from; bh=AAAA; b=AAAA", d, s);
	assert_int_equal(sig(v), DKIM_SIG_ERR_DOMAIN);
}

/* §3.5 c=: one name is the header algorithm, the body one stays simple */
static void test_c_with_one_name(void **state)
{
	(void)state;
	struct dkim_sig s;
	assert_int_equal(sig_into(GOOD "; c=relaxed", &s), DKIM_SIG_OK);
	assert_int_equal(s.hcanon, DKIM_CANON_RELAXED);
	assert_int_equal(s.bcanon, DKIM_CANON_SIMPLE);
	assert_int_equal(sig_into(GOOD "; c=simple/relaxed", &s), DKIM_SIG_OK);
	assert_int_equal(s.hcanon, DKIM_CANON_SIMPLE);
	assert_int_equal(s.bcanon, DKIM_CANON_RELAXED);
}

/* i=: the domain follows the last '@' (a quoted local-part may hold one) */
static void test_i_quoted_local_part_with_at(void **state)
{
	(void)state;
	struct dkim_sig s;
	assert_int_equal(sig_into(GOOD "; i=\"a@b\"@sub.example.com", &s), DKIM_SIG_OK);
	assert_int_equal(s.idomain.n, strlen("sub.example.com"));
	assert_memory_equal(s.idomain.p, "sub.example.com", s.idomain.n);
}

/* Hostile shapes: each must finish with a defined result. */
static enum dkim_result hostile(const char *msg, size_t len)
{
	struct fake_dns d = {.status = DNS_NXDOMAIN};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(msg, len, &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_true(r->nreported <= DKIM_REPORT_MAX);
	assert_true(d.queries <= DKIM_DEFAULT_MAX_SIGNATURES);
	enum dkim_result res = r->result;
	dkim_verifier_free(v);
	return res;
}

static char *repeat(const char *head, const char *unit, size_t times, const char *tail, size_t *len)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
	char *b = malloc(hl + ul * times + tl + 1);
	memcpy(b, head, hl);
	for (size_t i = 0; i < times; i++)
		memcpy(b + hl + i * ul, unit, ul);
	memcpy(b + hl + ul * times, tail, tl + 1);
	*len = hl + ul * times + tl;
	return b;
}

/* More header fields than are indexed: the fields past the index (a
 * second From among them, say) could not be selected, so no signature is
 * checked against a partial header: permerror before any key lookup. */
static void test_too_many_header_fields(void **state)
{
	(void)state;
	size_t n, fl;
	char *m = slurp(DATA "oversign.eml", &n), *k = key_record();
	char *fields = repeat("", "X: y\r\n", DKIM_MSG_MAX_FIELDS, "", &fl);
	char *x = with_header(m, fields, true);
	struct fake_dns d = {.txt = k};
	struct dkim_config cfg = {.now = NOW};
	struct dkim_verifier *v = run(x, strlen(x), &d, &cfg);
	const struct dkim_results *r = dkim_verifier_results(v);
	assert_int_equal(r->result, DKIM_RESULT_PERMERROR);
	assert_string_equal(r->sigs[0].reason, "too many header fields");
	assert_int_equal(d.queries, 0);
	dkim_verifier_free(v);
	free(x);
	free(fields);
	free(m);
	free(k);
}

static void test_hostile_input(void **state)
{
	(void)state;
	size_t n;
	char *m;
	m = repeat("", "DKIM-Signature: v=1; a=rsa-sha256; d=x.com; s=s; h=from; bh=AA==; b=AA==\r\n",
		   5000, "From: a@x.com\r\n\r\nbody\r\n", &n);
	assert_int_equal(hostile(m, n), DKIM_RESULT_PERMERROR);
	free(m);
	m = repeat("DKIM-Signature: v=1; a=rsa-sha256; d=x.com; s=s; bh=AA==; b=AA==; h=from", ":to",
		   1500, "\r\nFrom: a@x.com\r\n\r\n", &n);
	assert_int_equal(hostile(m, n), DKIM_RESULT_PERMERROR);
	free(m);
	m = repeat("DKIM-Signature: v=1; a=rsa-sha256; d=x.com; s=s; h=from; bh=AA==; b=", "QUFB\r\n ",
		   50000, "\r\nFrom: a@x.com\r\n\r\n", &n);
	assert_int_equal(hostile(m, n), DKIM_RESULT_PERMERROR);
	free(m);
	m = repeat("DKIM-Signature: v=1; a=ed25519-sha256; d=x.com; s=s; h=from; bh=AA==; b=AA==\r\n",
		   "X: y\r\n", 5000, "\r\nbody\r\n", &n);
	assert_int_equal(hostile(m, n), DKIM_RESULT_PERMERROR);
	free(m);
	static const char unterminated[] = "DKIM-Signature: v=1; a=ed25519-sha256; d=x.com; s=s; h=from; bh=AA==; b=AA==";
	assert_int_equal(hostile(unterminated, sizeof unterminated - 1), DKIM_RESULT_PERMERROR);
	static const char nuls[] = "From: a\0b\r\nDKIM-Signature: v=1;\0 a=x\r\n\r\nbo\0dy\r\n";
	assert_int_equal(hostile(nuls, sizeof nuls - 1), DKIM_RESULT_PERMERROR);
	static const char mixed[] = "From: a\rb\nDKIM-Signature: v=1; a=ed25519-sha256; d=x.com;\n s=s; h=from; bh=AA==; b=AA==\r\r\n\n\r\nx\r";
	hostile(mixed, sizeof mixed - 1);
	assert_int_equal(hostile("", 0), DKIM_RESULT_NONE);
	assert_int_equal(hostile("\r\n", 2), DKIM_RESULT_NONE);
	/* no colon: not a header field, so no signature */
	assert_int_equal(hostile("DKIM-Signature", 14), DKIM_RESULT_NONE);
	assert_int_equal(hostile("DKIM-Signature:", 15), DKIM_RESULT_PERMERROR);
	assert_int_equal(hostile("dkim-signature :\r\n", 18), DKIM_RESULT_PERMERROR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pass_query_and_zero_copy),
		cmocka_unit_test(test_oversigning_and_bottom_up),
		cmocka_unit_test(test_body_length),
		cmocka_unit_test(test_body_hash_per_canonicalization),
		cmocka_unit_test(test_huge_l_after_signature_without_l),
		cmocka_unit_test(test_bh_of_33_octets_is_a_mismatch),
		cmocka_unit_test(test_dns_outcomes),
		cmocka_unit_test(test_key_name_refused_is_permerror),
		cmocka_unit_test(test_key_type_must_match_a),
		cmocka_unit_test(test_key_cache_skips_lookup),
		cmocka_unit_test(test_max_signatures),
		cmocka_unit_test(test_max_signatures_capped_at_report_max),
		cmocka_unit_test(test_overall_result_order),
		cmocka_unit_test(test_signature_tags),
		cmocka_unit_test(test_each_required_tag),
		cmocka_unit_test(test_h_from_in_any_case),
		cmocka_unit_test(test_l_digits),
		cmocka_unit_test(test_key_name_of_253_octets_but_not_254),
		cmocka_unit_test(test_c_with_one_name),
		cmocka_unit_test(test_i_quoted_local_part_with_at),
		cmocka_unit_test(test_key_strict_t_s),
		cmocka_unit_test(test_too_many_header_fields),
		cmocka_unit_test(test_hostile_input),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
