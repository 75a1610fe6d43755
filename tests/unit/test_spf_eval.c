/*
 * test_spf_eval — check_host() end to end on in-memory zones: each
 * mechanism, include/redirect/exp, the §4.6.4 limits, identities, hostile
 * input, the sans-I/O contract (answers in any order, unknown ids) and the
 * resolver glue.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/dns.h"
#include "../../verify/dns_zone.h"
#include "../../verify/spf.h"
#include "../../verify/spf_cache.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct run {
	struct spf_outcome out;
	unsigned max_inflight;
};

static struct dns_zone *zone_of(const char *text)
{
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(text, strlen(text), "test", &err);
	if (!z)
		fail_msg("zone: %s", err.msg);
	return z;
}

/* Drive the engine by hand; fifo chooses the answer order. */
static struct run eval_zone(const char *zone, const char *ip, const char *mfrom,
			    const char *helo, enum spf_scope scope, bool fifo)
{
	struct dns_zone *z = zone_of(zone);
	struct spf_request req = {.mail_from = mfrom, .helo = helo, .scope = scope};
	struct spf_config cfg = {.default_explanation = "DEFAULT", .now = 1};
	assert_int_equal(spf_ip_parse(ip, &req.ip), 0);
	struct spf_eval *e = spf_eval_new(&req, &cfg);
	assert_non_null(e);
	struct spf_query q[SPF_MAX_QUERIES];
	unsigned n = 0, head = 0;
	struct run r = {0};
	while (!spf_eval_done(e)) {
		while (spf_eval_next_query(e, &q[n]) == 1)
			n++;
		assert_true(n > head);
		if (n - head > r.max_inflight)
			r.max_inflight = n - head;
		struct spf_query cur = fifo ? q[head++] : q[--n];
		if (!fifo && n < head)
			head = n;
		struct dns_answer *a = dns_zone_answer(z, cur.name, cur.type, false);
		assert_non_null(a);
		assert_int_equal(spf_eval_answer(e, cur.id, a), 0);
		dns_answer_release(a);
	}
	r.out = *spf_eval_result(e);
	spf_eval_free(e);
	dns_zone_free(z);
	return r;
}

static enum spf_result check(const char *zone, const char *ip, const char *mfrom)
{
	struct run a = eval_zone(zone, ip, mfrom, "helo.example.org", SPF_SCOPE_MFROM, false);
	struct run b = eval_zone(zone, ip, mfrom, "helo.example.org", SPF_SCOPE_MFROM, true);
	assert_int_equal(a.out.result, b.out.result); /* answer order is irrelevant */
	return a.out.result;
}

#define Z "$ORIGIN example.com.\n"
#define XS "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static void test_mech_all(void **state)
{
	(void)state;
	assert_int_equal(check(Z "@ TXT \"v=spf1 -all\"\n", "192.0.2.1", "a@example.com"), SPF_FAIL);
	assert_int_equal(check(Z "@ TXT \"v=spf1 ~all\"\n", "192.0.2.1", "a@example.com"), SPF_SOFTFAIL);
	assert_int_equal(check(Z "@ TXT \"v=spf1 ?all\"\n", "192.0.2.1", "a@example.com"), SPF_NEUTRAL);
	assert_int_equal(check(Z "@ TXT \"v=spf1 all\"\n", "192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(Z "@ TXT \"v=spf1\"\n", "192.0.2.1", "a@example.com"), SPF_NEUTRAL);
}

static void test_mech_ip(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 ip4:192.0.2.0/25 ip6:2001:db8::/33 -all\"\n";
	assert_int_equal(check(z, "192.0.2.127", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "192.0.2.128", "a@example.com"), SPF_FAIL);
	assert_int_equal(check(z, "2001:db8:7fff::1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "2001:db8:8000::1", "a@example.com"), SPF_FAIL);
	/* IPv4-mapped IPv6 clients are IPv4 */
	assert_int_equal(check(z, "::ffff:192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(Z "@ TXT \"v=spf1 ip4:0.0.0.0/0 -all\"\n", "2001:db8::1",
			       "a@example.com"), SPF_FAIL);
}

static void test_mech_a(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 a a:h.example.com/24//64 -all\"\n"
			  "@ A 192.0.2.10\n"
			  "h A 198.51.100.1\n"
			  "h AAAA 2001:db8:1::1\n";
	assert_int_equal(check(z, "192.0.2.10", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "198.51.100.200", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "198.51.101.1", "a@example.com"), SPF_FAIL);
	assert_int_equal(check(z, "2001:db8:1::ffff", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "2001:db8:2::1", "a@example.com"), SPF_FAIL);
}

static void test_mech_mx(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 mx -all\"\n"
			  "@ MX 10 m1\n@ MX 20 m2\n@ MX 30 .\n"
			  "m1 A 192.0.2.1\nm2 A 192.0.2.2\nm2 AAAA 2001:db8::2\n";
	assert_int_equal(check(z, "192.0.2.2", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "2001:db8::2", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "192.0.2.3", "a@example.com"), SPF_FAIL);
	/* MX host lookups run in parallel */
	struct run r = eval_zone(z, "192.0.2.3", "a@example.com", "h.example.org",
				 SPF_SCOPE_MFROM, true);
	assert_int_equal(r.max_inflight, 2);
}

static void test_mech_ptr(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 ptr -all\"\n"
			  "1.2.0.192.in-addr.arpa. PTR mail.example.com.\n"
			  "1.2.0.192.in-addr.arpa. PTR evil.example.net.\n"
			  "2.2.0.192.in-addr.arpa. PTR mail.example.com.\n"
			  "mail A 192.0.2.1\n"
			  "evil.example.net. A 192.0.2.2\n";
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PASS);
	/* PTR name not validated by its A record */
	assert_int_equal(check(z, "192.0.2.2", "a@example.com"), SPF_FAIL);
	assert_int_equal(check(z, "192.0.2.3", "a@example.com"), SPF_FAIL);
	/* a validated name must be in the domain at a label boundary:
	 * mail.notexample.com is not in example.com */
	const char *zb = Z "@ TXT \"v=spf1 ptr -all\"\n"
			   "3.2.0.192.in-addr.arpa. PTR mail.notexample.com.\n"
			   "mail.notexample.com. A 192.0.2.3\n";
	assert_int_equal(check(zb, "192.0.2.3", "a@example.com"), SPF_FAIL);
	/* §5.5: a DNS error looking up the PTR is no match, not a temperror */
	const char *zt = Z "@ TXT \"v=spf1 ptr ?all\"\n"
			   "4.2.0.192.in-addr.arpa. TIMEOUT\n";
	assert_int_equal(check(zt, "192.0.2.4", "a@example.com"), SPF_NEUTRAL);
}

static void test_mech_exists(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 exists:%{ir}.bl.example.com -all\"\n"
			  "1.2.0.192.bl A 127.0.0.2\n";
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "192.0.2.9", "a@example.com"), SPF_FAIL);
	/* exists always asks A, even for IPv6 clients */
	const char *z6 = Z "@ TXT \"v=spf1 exists:x.example.com -all\"\nx A 127.0.0.2\n";
	assert_int_equal(check(z6, "2001:db8::1", "a@example.com"), SPF_PASS);
}

static void test_include(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 include:i1.%{d} include:i2.%{d} include:i3.%{d} -all\"\n"
			  "i1 TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"
			  "i2 TXT \"v=spf1 ?ip4:192.0.2.2\"\n"
			  "i3 TXT \"v=spf1 ip4:192.0.2.3\"\n";
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PASS);
	/* include's non-pass results are "no match" */
	assert_int_equal(check(z, "192.0.2.2", "a@example.com"), SPF_FAIL);
	assert_int_equal(check(z, "192.0.2.3", "a@example.com"), SPF_PASS);
	assert_int_equal(check(Z "@ TXT \"v=spf1 include:none.example.com -all\"\n", "192.0.2.1",
			       "a@example.com"), SPF_PERMERROR);
	assert_int_equal(check(Z "@ TXT \"v=spf1 include:i.example.com -all\"\ni A 192.0.2.1\n",
			       "192.0.2.1", "a@example.com"), SPF_PERMERROR);
	assert_int_equal(check(Z "@ TXT \"v=spf1 include:t.example.com -all\"\nt TIMEOUT\n",
			       "192.0.2.1", "a@example.com"), SPF_TEMPERROR);
	/* an include of an unusable name is an include of "none"; an a: of
	 * one simply does not match */
	assert_int_equal(check(Z "@ TXT \"v=spf1 include:%{l}.example.com ip4:192.0.2.1\"\n",
			       "192.0.2.1", "a..b@example.com"), SPF_PERMERROR);
	assert_int_equal(check(Z "@ TXT \"v=spf1 a:%{l}.example.com ip4:192.0.2.1\"\n",
			       "192.0.2.1", "a..b@example.com"), SPF_PASS);
	/* a syntax error in an included record is the whole check's */
	assert_int_equal(check(Z "@ TXT \"v=spf1 ip4:192.0.2.1 include:b.example.com\"\n"
				 "b TXT \"v=spf1 bogus\"\n", "192.0.2.9", "a@example.com"),
			 SPF_PERMERROR);
}

/* A macro expansion naming a single label is no usable domain (§4.8,
 * §7.3 at least two labels): a: of it does not match, whatever DNS
 * holds under that top-level name. */
static void test_expanded_single_label_target(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 a:%{l} -all\"\njoe. A 192.0.2.1\n"
			  "joe.example.net. A 192.0.2.1\n";
	assert_int_equal(check(z, "192.0.2.1", "joe@example.com"), SPF_FAIL);
	assert_int_equal(check(z, "192.0.2.1", "joe.example.net@example.com"), SPF_PASS);
}

/* A label of 64 octets in an expanded name makes it unusable (§4.8: not
 * looked up, no match, and no void lookup either); 63 is fine. */
static void test_expanded_label_of_63_but_not_64(void **state)
{
	(void)state;
	char l63[64], l64[65], z[512], mf[128];
	memset(l63, 'x', 63), l63[63] = '\0';
	memset(l64, 'x', 64), l64[64] = '\0';
	snprintf(z, sizeof z, Z "@ TXT \"v=spf1 a:%%{l}.example.com -all\"\n%s A 192.0.2.1\n", l63);
	snprintf(mf, sizeof mf, "%s@example.com", l63);
	assert_int_equal(check(z, "192.0.2.1", mf), SPF_PASS);
	const char *zv = Z "@ TXT \"v=spf1 a:n1.example.com a:%{l}.example.com a:n2.example.com "
			   "ip4:192.0.2.1 -all\"\n";
	snprintf(mf, sizeof mf, "%s@example.com", l64);
	struct run r = eval_zone(zv, "192.0.2.1", mf, "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_PASS);
	assert_int_equal(r.out.queries, 3);
	assert_int_equal(r.out.void_lookups, 2);
}

static void test_include_loop(void **state)
{
	(void)state;
	struct run r = eval_zone(Z "@ TXT \"v=spf1 include:example.com -all\"\n", "192.0.2.1",
				 "a@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_PERMERROR);
	assert_int_equal(r.out.dns_terms, 11);
}

static void test_redirect(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 ip4:192.0.2.1 redirect=r.example.com\"\n"
			  "r TXT \"v=spf1 ip4:192.0.2.2 -all\"\n";
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "192.0.2.2", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z, "192.0.2.3", "a@example.com"), SPF_FAIL);
	assert_int_equal(check(Z "@ TXT \"v=spf1 redirect=nothing.example.com\"\n", "192.0.2.1",
			       "a@example.com"), SPF_PERMERROR);
	/* all wins over redirect */
	assert_int_equal(check(Z "@ TXT \"v=spf1 redirect=r.example.com ?all\"\nr TXT \"v=spf1 -all\"\n",
			       "192.0.2.1", "a@example.com"), SPF_NEUTRAL);
}

/* §6.1: a redirect whose domain-spec expands to a malformed name is a
 * permerror, as a redirect to a domain without a record is. */
static void test_redirect_malformed_target(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 redirect=%{l}.example.com\"\n"
			  "joe TXT \"v=spf1 +all\"\n";
	assert_int_equal(check(z, "192.0.2.1", "joe@example.com"), SPF_PASS);
	assert_int_equal(check(z, "192.0.2.1", "a..b@example.com"), SPF_PERMERROR);
}

static void test_exp(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 -all exp=e.%{d}\"\n"
			  "e TXT \"%{i} is not welcome at %{d} (%{l})\"\n";
	struct run r = eval_zone(z, "192.0.2.9", "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_FAIL);
	assert_string_equal(r.out.explanation, "192.0.2.9 is not welcome at example.com (joe)");
	/* a broken explanation falls back to the default */
	r = eval_zone(Z "@ TXT \"v=spf1 -all exp=e.example.com\"\ne TXT \"%{x}\"\n", "192.0.2.9",
		      "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_string_equal(r.out.explanation, "DEFAULT");
	r = eval_zone(Z "@ TXT \"v=spf1 -all exp=e.example.com\"\ne TXT \"a\"\ne TXT \"b\"\n",
		      "192.0.2.9", "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_string_equal(r.out.explanation, "DEFAULT");
	/* the redirect target's exp applies, the original's does not */
	r = eval_zone(Z "@ TXT \"v=spf1 exp=e1.example.com redirect=r.example.com\"\n"
			"r TXT \"v=spf1 -all exp=e2.example.com\"\n"
			"e1 TXT \"one\"\ne2 TXT \"two %{d}\"\n",
		      "192.0.2.9", "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_string_equal(r.out.explanation, "two r.example.com");
	assert_string_equal(r.out.mechanism, "-all");
}

/* §6.2: an exp= that yields no explanation (its domain-spec expands to no
 * usable name, or the name has no TXT) leaves the fail a fail with the
 * default explanation; it is no error. */
static void test_exp_unusable_target(void **state)
{
	(void)state;
	struct run r = eval_zone(Z "@ TXT \"v=spf1 -all exp=%{l}.example.com\"\n", "192.0.2.9",
				 "a..b@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_FAIL);
	assert_string_equal(r.out.explanation, "DEFAULT");
	r = eval_zone(Z "@ TXT \"v=spf1 -all exp=nothing.example.com\"\n", "192.0.2.9",
		      "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_FAIL);
	assert_string_equal(r.out.explanation, "DEFAULT");
}

static void test_p_macro(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 -all exp=e.example.com\"\n"
			  "e TXT \"connect from %{p}\"\n"
			  "1.2.0.192.in-addr.arpa. PTR mx.example.com.\n"
			  "mx A 192.0.2.1\n";
	struct run r = eval_zone(z, "192.0.2.1", "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_string_equal(r.out.explanation, "connect from mx.example.com");
	r = eval_zone(z, "192.0.2.2", "joe@example.com", "h", SPF_SCOPE_MFROM, false);
	assert_string_equal(r.out.explanation, "connect from unknown");
}

/* §7.3: of several validated names, %{p} uses one in the <domain> (or
 * a subdomain of it) before any other. */
static void test_p_macro_prefers_name_in_domain(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 -all exp=e.example.com\"\n"
			  "e TXT \"connect from %{p}\"\n"
			  "1.2.0.192.in-addr.arpa. PTR other.example.net.\n"
			  "1.2.0.192.in-addr.arpa. PTR mx.example.com.\n"
			  "other.example.net. A 192.0.2.1\n"
			  "mx A 192.0.2.1\n";
	for (int fifo = 0; fifo < 2; fifo++) {
		struct run r = eval_zone(z, "192.0.2.1", "joe@example.com", "h", SPF_SCOPE_MFROM,
					 fifo);
		assert_string_equal(r.out.explanation, "connect from mx.example.com");
	}
}

static void test_limit_terms(void **state)
{
	(void)state;
	/* exactly 10 DNS-querying terms is fine, 11 is a permerror */
	char z10[1024], z11[1024];
	snprintf(z10, sizeof z10, Z "@ TXT \"v=spf1 a a a a a a a a a a ip4:192.0.2.1 -all\"\n@ A 192.0.2.200\n");
	snprintf(z11, sizeof z11, Z "@ TXT \"v=spf1 a a a a a a a a a a a ip4:192.0.2.1 -all\"\n@ A 192.0.2.200\n");
	assert_int_equal(check(z10, "192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z11, "192.0.2.1", "a@example.com"), SPF_PERMERROR);
	/* ip4/all do not count, nor do terms never reached */
	assert_int_equal(check(z11, "192.0.2.200", "a@example.com"), SPF_PASS);
}

/* §4.6.4: redirect= counts against the 10 DNS-querying terms like a
 * mechanism does: nine a terms and a redirect are fine, ten are not. */
static void test_limit_terms_redirect_counts(void **state)
{
	(void)state;
	const char *z9 = Z "@ TXT \"v=spf1 a a a a a a a a a redirect=r.example.com\"\n"
			   "@ A 192.0.2.200\nr TXT \"v=spf1 ip4:192.0.2.1 -all\"\n";
	const char *z10 = Z "@ TXT \"v=spf1 a a a a a a a a a a redirect=r.example.com\"\n"
			    "@ A 192.0.2.200\nr TXT \"v=spf1 ip4:192.0.2.1 -all\"\n";
	assert_int_equal(check(z9, "192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z10, "192.0.2.1", "a@example.com"), SPF_PERMERROR);
}

static void test_limit_void(void **state)
{
	(void)state;
	const char *z2 = Z "@ TXT \"v=spf1 a:n1.example.com a:n2.example.com ip4:192.0.2.1 -all\"\n";
	const char *z3 = Z "@ TXT \"v=spf1 a:n1.example.com mx:n2.example.com exists:n3.example.com "
			   "ip4:192.0.2.1 -all\"\n";
	assert_int_equal(check(z2, "192.0.2.1", "a@example.com"), SPF_PASS);
	assert_int_equal(check(z3, "192.0.2.1", "a@example.com"), SPF_PERMERROR);
}

static void test_limit_mx_names(void **state)
{
	(void)state;
	char z[2048];
	size_t n = (size_t)snprintf(z, sizeof z, Z "@ TXT \"v=spf1 mx -all\"\nm A 192.0.2.1\n");
	for (int i = 0; i < 10; i++)
		n += (size_t)snprintf(z + n, sizeof z - n, "@ MX %d m\n", i);
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PASS);
	snprintf(z + n, sizeof z - n, "@ MX 99 m\n");
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PERMERROR);
	/* an MX host whose address lookup fails, and no host before it
	 * matching: temperror (§5: the lookup that fails ends check_host()),
	 * not the fail that would follow from no match; a host that matches
	 * before it is a pass, as a resolver asking one by one would find */
	const char *zt = Z "@ TXT \"v=spf1 mx -all\"\n@ MX 20 mx2\n@ MX 10 mx1\n"
			   "mx1 TIMEOUT\nmx2 A 192.0.2.2\n";
	assert_int_equal(check(zt, "192.0.2.9", "a@example.com"), SPF_TEMPERROR);
	assert_int_equal(check(zt, "192.0.2.2", "a@example.com"), SPF_PASS);
}

static void test_limit_ptr_names(void **state)
{
	(void)state;
	/* only the first 10 PTR names are looked up: the 11th never matches */
	char z[4096];
	size_t n = (size_t)snprintf(z, sizeof z, Z "@ TXT \"v=spf1 ptr -all\"\n");
	for (int i = 0; i < 11; i++)
		n += (size_t)snprintf(z + n, sizeof z - n,
				      "1.2.0.192.in-addr.arpa. PTR p%d.example.com.\n"
				      "p%d A %s\n", i, i, i == 10 ? "192.0.2.1" : "192.0.2.99");
	struct run r = eval_zone(z, "192.0.2.1", "a@example.com", "h", SPF_SCOPE_MFROM, true);
	assert_int_equal(r.out.result, SPF_FAIL);
	assert_true(r.out.queries <= 12);
}

static void test_identity(void **state)
{
	(void)state;
	const char *z = Z "@ TXT \"v=spf1 exists:%{l}.u.example.com -all\"\n"
			  "postmaster.u A 127.0.0.2\n"
			  "helo TXT \"v=spf1 ip4:192.0.2.5 -all\"\n";
	/* empty MAIL FROM: postmaster@HELO */
	struct run r = eval_zone(z, "192.0.2.5", "", "helo.example.com", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_PASS);
	assert_string_equal(r.out.identity, "postmaster@helo.example.com");
	/* no local part: postmaster */
	assert_int_equal(check(z, "192.0.2.1", "@example.com"), SPF_PASS);
	/* HELO scope */
	r = eval_zone(z, "192.0.2.6", "joe@example.com", "helo.example.com", SPF_SCOPE_HELO, false);
	assert_int_equal(r.out.result, SPF_FAIL);
	assert_string_equal(r.out.identity_kind, "helo");
	assert_string_equal(r.out.domain, "helo.example.com");
	/* invalid domains are "none" without any query */
	r = eval_zone(z, "192.0.2.6", "", "[192.0.2.6]", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_NONE);
	assert_int_equal(r.out.queries, 0);
	r = eval_zone(z, "192.0.2.6", "", "localhost", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_NONE);
	r = eval_zone(z, "192.0.2.6", "a@x.a1234567890123456789012345678901234567890123456789012345678901234.com",
		      "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_NONE);
}

/* An address literal without brackets is no domain either (§4.3; a
 * top label is never all-numeric, RFC 3696 §2): none without a query,
 * even where DNS would hold a record under that name. */
static void test_identity_numeric_top_label(void **state)
{
	(void)state;
	const char *z = Z "192.0.2.6. TXT \"v=spf1 +all\"\n";
	struct run r = eval_zone(z, "192.0.2.6", "", "192.0.2.6", SPF_SCOPE_HELO, false);
	assert_int_equal(r.out.result, SPF_NONE);
	assert_int_equal(r.out.queries, 0);
	r = eval_zone(z, "192.0.2.6", "joe@192.0.2.6", "h.example.com", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_NONE);
	assert_int_equal(r.out.queries, 0);
}

/* §4.3: labels of at most 63 octets, names of at most 253: the bounds
 * themselves are checked, one more is "none" without a query. */
static void test_identity_domain_length_bounds(void **state)
{
	(void)state;
	char l63[64], l64[65], mf[320], z[1024];
	memset(l63, 'x', 63), l63[63] = '\0';
	memset(l64, 'x', 64), l64[64] = '\0';
	snprintf(z, sizeof z, Z "%s TXT \"v=spf1 +all\"\n", l63);
	snprintf(mf, sizeof mf, "a@%s.example.com", l63);
	struct run r = eval_zone(z, "192.0.2.1", mf, "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_PASS);
	snprintf(mf, sizeof mf, "a@%s.example.com", l64);
	r = eval_zone(z, "192.0.2.1", mf, "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_NONE);
	assert_int_equal(r.out.queries, 0);
	/* 63 + 1 + 63 + 1 + 63 + 1 + 57 + 4 = 253 octets, then 254 */
	char d[300];
	snprintf(d, sizeof d, "%s.%s.%s.%.57s.com", l63, l63, l63, l63);
	assert_int_equal(strlen(d), 253);
	snprintf(z, sizeof z, "%s. TXT \"v=spf1 +all\"\n", d);
	snprintf(mf, sizeof mf, "a@%s", d);
	r = eval_zone(z, "192.0.2.1", mf, "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_PASS);
	snprintf(d, sizeof d, "%s.%s.%s.%.58s.com", l63, l63, l63, l63);
	snprintf(mf, sizeof mf, "a@%s", d);
	r = eval_zone(z, "192.0.2.1", mf, "h", SPF_SCOPE_MFROM, false);
	assert_int_equal(r.out.result, SPF_NONE);
	assert_int_equal(r.out.queries, 0);
}

static void test_record_selection(void **state)
{
	(void)state;
	assert_int_equal(check(Z "@ TXT \"v=spf1 -all\"\n@ TXT \"v=spf1 +all\"\n", "192.0.2.1",
			       "a@example.com"), SPF_PERMERROR);
	assert_int_equal(check(Z "@ TXT \"v=spf10 -all\"\n@ TXT \"hello\"\n", "192.0.2.1",
			       "a@example.com"), SPF_NONE);
	/* type SPF is never queried */
	assert_int_equal(check(Z "@ SPF \"v=spf1 -all\"\n", "192.0.2.1", "a@example.com"),
			 SPF_NONE);
	/* strings of one record are joined without spaces */
	assert_int_equal(check(Z "@ TXT \"v=spf1 ip4:\" \"192.0.2.1 -all\"\n", "192.0.2.1",
			       "a@example.com"), SPF_PASS);
	assert_int_equal(check(Z "@ TIMEOUT\n", "192.0.2.1", "a@example.com"), SPF_TEMPERROR);
	assert_int_equal(check(Z "x A 1.2.3.4\n", "192.0.2.1", "a@nx.example.com"), SPF_NONE);
}

static void test_hostile(void **state)
{
	(void)state;
	/* control characters, non-ASCII */
	assert_int_equal(check(Z "@ TXT \"v=spf1 a:x\\001.example.com -all\"\n", "192.0.2.1",
			       "a@example.com"), SPF_PERMERROR);
	assert_int_equal(check(Z "@ TXT \"v=spf1 \\195\\169 -all\"\n", "192.0.2.1",
			       "a@example.com"), SPF_PERMERROR);
	/* a macro bomb: bounded expansion, then truncation to 253 octets */
	char z[8192];
	size_t n = (size_t)snprintf(z, sizeof z, Z "@ TXT \"v=spf1 exists:\"");
	for (int i = 0; i < 20; i++)
		n += (size_t)snprintf(z + n, sizeof z - n, " \"%%{s}%%{s}%%{s}.\"");
	snprintf(z + n, sizeof z - n, " \"example.com -all\"\n");
	enum spf_result r = check(z, "192.0.2.1", "a@example.com");
	assert_true(r == SPF_FAIL || r == SPF_PERMERROR);
	/* a huge TXT answer: 200 records, none of them SPF */
	char *big = malloc(200 * 300 + 64);
	assert_non_null(big);
	n = (size_t)sprintf(big, Z);
	for (int i = 0; i < 200; i++)
		n += (size_t)sprintf(big + n, "@ TXT \"%.*s%03d\"\n", 250,
				     "v=spf1x" XS XS XS XS XS, i);
	assert_int_equal(check(big, "192.0.2.1", "a@example.com"), SPF_NONE);
	free(big);
}

/* An expansion past the 8 KiB work bound is a permerror (docs/
 * conformance.md "bounded work", RFC 7208 §11), not a term that merely
 * does not match and lets a later one pass. */
static void test_expansion_over_bound_is_permerror(void **state)
{
	(void)state;
	char z[512], mf[256];
	size_t n = (size_t)snprintf(z, sizeof z, Z "@ TXT \"v=spf1 a:");
	for (int i = 0; i < 50; i++)
		n += (size_t)snprintf(z + n, sizeof z - n, "%%{s}");
	snprintf(z + n, sizeof z - n, ".example.com ip4:192.0.2.1\"\n");
	memset(mf, 'x', 200);
	strcpy(mf + 200, "@example.com"); /* 50 x 212 octets > 8 KiB */
	assert_int_equal(check(z, "192.0.2.1", mf), SPF_PERMERROR);
	assert_int_equal(check(z, "192.0.2.1", "a@example.com"), SPF_PASS);
}

static void test_api_contract(void **state)
{
	(void)state;
	struct dns_zone *z = zone_of(Z "@ TXT \"v=spf1 -all\"\n");
	struct spf_request req = {.mail_from = "a@example.com", .helo = "h"};
	assert_int_equal(spf_ip_parse("192.0.2.1", &req.ip), 0);
	struct spf_eval *e = spf_eval_new(&req, NULL);
	struct spf_query q;
	assert_int_equal(spf_eval_next_query(e, &q), 1);
	assert_int_equal(q.type, DNS_TYPE_TXT);
	assert_string_equal(q.name, "example.com");
	assert_int_equal(spf_eval_next_query(e, &q), 0); /* yielded already */
	struct dns_answer *a = dns_zone_answer(z, q.name, q.type, false);
	assert_int_equal(spf_eval_answer(e, q.id + 100, a), -ENOENT);
	assert_false(spf_eval_done(e));
	assert_int_equal(spf_eval_answer(e, q.id, a), 0);
	assert_int_equal(spf_eval_answer(e, q.id, a), -ENOENT);
	dns_answer_release(a);
	assert_true(spf_eval_done(e));
	assert_int_equal(spf_eval_result(e)->result, SPF_FAIL);
	assert_string_equal(spf_result_name(spf_eval_result(e)->result), "fail");
	spf_eval_free(e);
	dns_zone_free(z);
	struct spf_ip ip;
	assert_int_equal(spf_ip_parse("1.2.3", &ip), -EINVAL);
	assert_int_equal(spf_ip_parse("::ffff:1.2.3.4", &ip), 0);
	assert_int_equal(ip.family, AF_INET);
}

static void on_done(void *arg, const struct spf_outcome *o)
{
	struct spf_outcome *out = arg;
	*out = *o;
}

static void test_async_glue(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone_of(Z
		"@ TXT \"v=spf1 mx include:i.example.com -all\"\n@ MX 1 m1\n@ MX 2 m2\n"
		"m1 A 192.0.2.1\nm2 A 192.0.2.2\ni TXT \"v=spf1 ip4:192.0.2.3\"\n"), NULL);
	struct spf_request req = {.mail_from = "a@example.com", .helo = "h.example.com"};
	const char *ips[] = {"192.0.2.2", "192.0.2.3", "192.0.2.4"};
	enum spf_result want[] = {SPF_PASS, SPF_PASS, SPF_FAIL};
	for (int i = 0; i < 3; i++) {
		struct spf_outcome out = {.result = (enum spf_result)-1};
		assert_int_equal(spf_ip_parse(ips[i], &req.ip), 0);
		assert_non_null(spf_check_async(r, &req, NULL, on_done, &out));
		assert_int_equal((int)out.result, -1); /* never before dispatch */
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, want[i]);
	}
	/* cancelled before dispatch: the callback never runs */
	struct spf_outcome out = {.result = (enum spf_result)-1};
	struct spf_check *c = spf_check_async(r, &req, NULL, on_done, &out);
	assert_non_null(c);
	spf_check_cancel(c);
	assert_int_equal(dns_resolver_run(r, 1000), 0);
	assert_int_equal((int)out.result, -1);
	/* no DNS needed: delivered at once */
	req.mail_from = "";
	req.helo = "[192.0.2.1]";
	errno = EINVAL;
	assert_null(spf_check_async(r, &req, NULL, on_done, &out));
	assert_int_equal(errno, 0);
	assert_int_equal(out.result, SPF_NONE);
	dns_resolver_free(r);
}

/* Ten MX hosts are ten A queries in flight at once (§4.6.4 allows ten):
 * each gets its own slot, none is failed for want of one. */
static void async_check_with_ten_queries_in_flight(void **state)
{
	(void)state;
	char zone[1024] = Z "@ TXT \"v=spf1 mx -all\"\n";
	for (int i = 0; i < 10; i++)
		snprintf(zone + strlen(zone), sizeof zone - strlen(zone),
			 "@ MX %d m%d\nm%d A 192.0.2.%d\n", i, i, i, 10 + i);
	struct dns_resolver *r = dns_resolver_new(NULL, zone_of(zone), NULL);
	struct spf_request req = {.mail_from = "a@example.com", .helo = "h.example.com"};
	struct spf_outcome out = {.result = (enum spf_result)-1};
	assert_int_equal(spf_ip_parse("192.0.2.19", &req.ip), 0);
	assert_non_null(spf_check_async(r, &req, NULL, on_done, &out));
	assert_int_equal(dns_resolver_run(r, 1000), 0);
	assert_int_equal(out.result, SPF_PASS);
	dns_resolver_free(r);
}

/* A Sender ID-style selection (RFC 4406 §3.4): "spf2.0/pra" records win,
 * "v=spf1" is the fallback; the tag to look for is the selector's arg. */
static enum spf_select_status select_tag(void *arg, const struct dns_answer *txt,
					 const char **terms, size_t *len)
{
	const char *tag = arg;
	size_t tl = strlen(tag);
	unsigned found = 0;
	for (unsigned i = 0; i < txt->count; i++) {
		const struct dns_txt *t = &txt->records[i].u.txt;
		if (t->len < tl || memcmp(t->data, tag, tl) != 0 ||
		    (t->len > tl && t->data[tl] != ' '))
			continue;
		found++;
		*terms = (const char *)t->data + tl;
		*len = t->len - tl;
	}
	if (found > 1)
		return SPF_SELECT_MANY;
	if (found == 1)
		return SPF_SELECT_FOUND;
	return strcmp(tag, "v=spf1") ? spf_select_v1(NULL, txt, terms, len) : SPF_SELECT_NONE;
}

static void test_custom_selector(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone_of(Z
		"@ TXT \"v=spf1 -all\"\n@ TXT \"spf2.0/pra ip4:192.0.2.0/24 -all\"\n"
		"old TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"), NULL);
	struct spf_config cfg = {.select = select_tag, .select_arg = "spf2.0/pra",
				 .cache = spf_cache_new(16)};
	struct spf_config v1 = {.cache = cfg.cache};
	struct spf_request req = {.mail_from = "a@example.com", .helo = "h.example.com"};
	struct spf_outcome out;
	assert_int_equal(spf_ip_parse("192.0.2.9", &req.ip), 0);
	/* the same answer, two selections, two cached records */
	for (int i = 0; i < 2; i++) {
		assert_non_null(spf_check_async(r, &req, &cfg, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, SPF_PASS);
		assert_non_null(spf_check_async(r, &req, &v1, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, SPF_FAIL);
	}
	/* fallback to v=spf1 */
	req.mail_from = "a@old.example.com";
	assert_non_null(spf_check_async(r, &req, &cfg, on_done, &out));
	assert_int_equal(dns_resolver_run(r, 1000), 0);
	assert_int_equal(out.result, SPF_FAIL);
	assert_string_equal(out.mechanism, "-all");
	dns_resolver_free(r);
	spf_cache_free(cfg.cache);
}

static void test_record_cache(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone_of(Z
		"@ TXT \"v=spf1 include:i.example.com -all\"\n"
		"i TXT \"v=spf1 ip4:192.0.2.3\"\n"), NULL);
	struct spf_config cfg = {.cache = spf_cache_new(16)};
	struct spf_request req = {.mail_from = "a@example.com", .helo = "h.example.com"};
	struct spf_outcome out;
	struct spf_cache_stats st;
	assert_int_equal(spf_ip_parse("192.0.2.3", &req.ip), 0);
	for (int i = 0; i < 3; i++) {
		assert_non_null(spf_check_async(r, &req, &cfg, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, SPF_PASS);
	}
	spf_cache_stats(cfg.cache, &st);
	assert_int_equal(st.misses, 2); /* two records, parsed once each */
	assert_int_equal(st.hits, 4);
	/* new data (zone reload): new answer objects, so no stale record */
	dns_resolver_set_zone(r, zone_of(Z "@ TXT \"v=spf1 -all\"\n"));
	assert_non_null(spf_check_async(r, &req, &cfg, on_done, &out));
	assert_int_equal(dns_resolver_run(r, 1000), 0);
	assert_int_equal(out.result, SPF_FAIL);
	spf_cache_stats(cfg.cache, &st);
	assert_int_equal(st.misses, 3);
	dns_resolver_free(r);
	spf_cache_free(cfg.cache);
}

/* The v=spf1 selection whatever the argument says. */
static enum spf_select_status select_v1_anyway(void *arg, const struct dns_answer *txt,
					       const char **terms, size_t *len)
{
	(void)arg;
	return spf_select_v1(NULL, txt, terms, len);
}

/* One answer, three selections (another argument, another function with
 * the same argument): three records, none handed out for another. */
static void test_record_cache_keyed_by_selection(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone_of(Z
		"@ TXT \"spf2.0/pra ip4:192.0.2.0/24 -all\"\n@ TXT \"spf2.0/mfrom -all\"\n"
		"@ TXT \"v=spf1 ?all\"\n"), NULL);
	struct spf_cache *cache = spf_cache_new(16);
	struct spf_config pra = {.select = select_tag, .select_arg = "spf2.0/pra", .cache = cache};
	struct spf_config mfrom = {.select = select_tag, .select_arg = "spf2.0/mfrom", .cache = cache};
	struct spf_config v1 = {.select = select_v1_anyway, .select_arg = "spf2.0/pra", .cache = cache};
	struct spf_request req = {.mail_from = "a@example.com", .helo = "h.example.com"};
	struct spf_outcome out;
	struct spf_cache_stats st;
	assert_int_equal(spf_ip_parse("192.0.2.9", &req.ip), 0);
	for (int i = 0; i < 2; i++) {
		assert_non_null(spf_check_async(r, &req, &pra, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, SPF_PASS);
		if (i == 0) { /* the first record went into an empty slot */
			spf_cache_stats(cache, &st);
			assert_int_equal(st.replaced, 0);
		}
		assert_non_null(spf_check_async(r, &req, &mfrom, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, SPF_FAIL);
		assert_non_null(spf_check_async(r, &req, &v1, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		assert_int_equal(out.result, SPF_NEUTRAL);
	}
	/* one slot per answer: each selection pushed the one before out */
	spf_cache_stats(cache, &st);
	assert_int_equal(st.misses, 6);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.replaced, 5);
	dns_resolver_free(r);
	spf_cache_free(cache);
}

/* More answers than slots (a cache of 16 has 64): some share a slot, and
 * a slot holding another answer must miss, not hand out its record. */
static void test_record_cache_slot_shared_by_answers(void **state)
{
	(void)state;
	char zone[8192], *p = zone + sprintf(zone, "%s", Z);
	for (int i = 0; i < 100; i++)
		p += sprintf(p, "d%d TXT \"v=spf1 ip4:192.0.2.%d -all\"\n", i, i);
	struct dns_resolver *r = dns_resolver_new(NULL, zone_of(zone), NULL);
	struct spf_config cfg = {.cache = spf_cache_new(16)};
	struct spf_outcome out;
	char from[64], ip[32];
	for (int i = 0; i < 100; i++) {
		snprintf(from, sizeof from, "a@d%d.example.com", i);
		snprintf(ip, sizeof ip, "192.0.2.%d", i);
		struct spf_request req = {.mail_from = from, .helo = "h.example.com"};
		assert_int_equal(spf_ip_parse(ip, &req.ip), 0);
		assert_non_null(spf_check_async(r, &req, &cfg, on_done, &out));
		assert_int_equal(dns_resolver_run(r, 1000), 0);
		if (out.result != SPF_PASS)
			fail_msg("d%d: result %d", i, (int)out.result);
	}
	struct spf_cache_stats st;
	spf_cache_stats(cfg.cache, &st);
	assert_int_equal(st.misses, 100);
	assert_true(st.replaced > 0);
	dns_resolver_free(r);
	spf_cache_free(cfg.cache);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mech_all),
		cmocka_unit_test(test_mech_ip),
		cmocka_unit_test(test_mech_a),
		cmocka_unit_test(test_mech_mx),
		cmocka_unit_test(test_mech_ptr),
		cmocka_unit_test(test_mech_exists),
		cmocka_unit_test(test_include),
		cmocka_unit_test(test_expanded_single_label_target),
		cmocka_unit_test(test_expanded_label_of_63_but_not_64),
		cmocka_unit_test(test_include_loop),
		cmocka_unit_test(test_redirect),
		cmocka_unit_test(test_redirect_malformed_target),
		cmocka_unit_test(test_exp),
		cmocka_unit_test(test_exp_unusable_target),
		cmocka_unit_test(test_p_macro),
		cmocka_unit_test(test_p_macro_prefers_name_in_domain),
		cmocka_unit_test(test_limit_terms),
		cmocka_unit_test(test_limit_terms_redirect_counts),
		cmocka_unit_test(test_limit_void),
		cmocka_unit_test(test_limit_mx_names),
		cmocka_unit_test(test_limit_ptr_names),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_identity_numeric_top_label),
		cmocka_unit_test(test_identity_domain_length_bounds),
		cmocka_unit_test(test_record_selection),
		cmocka_unit_test(test_hostile),
		cmocka_unit_test(test_expansion_over_bound_is_permerror),
		cmocka_unit_test(test_api_contract),
		cmocka_unit_test(test_async_glue),
		cmocka_unit_test(async_check_with_ten_queries_in_flight),
		cmocka_unit_test(test_record_cache),
		cmocka_unit_test(test_custom_selector),
		cmocka_unit_test(test_record_cache_keyed_by_selection),
		cmocka_unit_test(test_record_cache_slot_shared_by_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
