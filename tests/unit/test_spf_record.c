/*
 * test_spf_record — parsing SPF record terms: every mechanism, qualifiers,
 * dual CIDR lengths, modifiers, and the syntax errors that are permerrors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/spf_record.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct spf_record *parse_ok(const char *text)
{
	struct spf_record *r = NULL;
	char err[128];
	int rc = spf_record_parse(text, strlen(text), &r, err, sizeof err);
	if (rc != 0)
		fail_msg("'%s' rejected: %s", text, err);
	return r;
}

static void parse_bad(const char *text)
{
	struct spf_record *r = NULL;
	char err[128];
	if (spf_record_parse(text, strlen(text), &r, err, sizeof err) != -EINVAL) {
		spf_record_release(r);
		fail_msg("'%s' accepted", text);
	}
	assert_true(err[0] != '\0');
}

static void test_all_and_qualifiers(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" +all -all ~all ?all all");
	assert_int_equal(r->nterms, 5);
	enum spf_result q[] = {SPF_PASS, SPF_FAIL, SPF_SOFTFAIL, SPF_NEUTRAL, SPF_PASS};
	for (unsigned i = 0; i < 5; i++) {
		assert_int_equal(r->terms[i].mech, SPF_MECH_ALL);
		assert_int_equal(r->terms[i].qual, q[i]);
	}
	spf_record_release(r);
	parse_bad(" all:foo.com");
	parse_bad(" all/24");
	parse_bad(" !all");
}

static void test_ip4(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" ip4:192.0.2.0/24 ip4:10.1.2.3");
	assert_int_equal(r->terms[0].mech, SPF_MECH_IP4);
	assert_int_equal(r->terms[0].cidr4, 24);
	assert_int_equal(r->terms[1].cidr4, 32);
	assert_int_equal(ntohl(r->terms[1].addr.v4.s_addr), 0x0a010203);
	spf_record_release(r);
	parse_bad(" ip4:1.2.3.4/33");
	parse_bad(" ip4:1.2.3.4/032");
	parse_bad(" ip4:1.2.3.4//32");
	parse_bad(" ip4:1.2.3");
	parse_bad(" ip4:1.2.3.4.5");
	parse_bad(" ip4:");
	parse_bad(" ip4");
	parse_bad(" ip4:::1");
}

static void test_ip6(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" ip6:2001:db8::/32 ip6:::1 ip6:::ffff:1.2.3.4/128");
	assert_int_equal(r->terms[0].cidr6, 32);
	assert_int_equal(r->terms[1].cidr6, 128);
	spf_record_release(r);
	parse_bad(" ip6:::1/129");
	parse_bad(" ip6:::1.1.1.1//33");
	parse_bad(" ip6:1.2.3.4");
	parse_bad(" ip6:2001:db8:::1");
}

static void test_a_mx_dual_cidr(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" a a/24 a//64 a/24//64 a:foo.example.com/16 "
					"mx:%{d}/8//0 mx");
	assert_int_equal(r->nterms, 7);
	assert_null(r->terms[0].spec.s);
	assert_int_equal(r->terms[1].cidr4, 24);
	assert_int_equal(r->terms[1].cidr6, 128);
	assert_int_equal(r->terms[2].cidr4, 32);
	assert_int_equal(r->terms[2].cidr6, 64);
	assert_int_equal(r->terms[3].cidr4, 24);
	assert_int_equal(r->terms[3].cidr6, 64);
	assert_int_equal(r->terms[4].spec.len, strlen("foo.example.com"));
	assert_int_equal(r->terms[5].mech, SPF_MECH_MX);
	assert_int_equal(r->terms[5].cidr6, 0);
	spf_record_release(r);
	parse_bad(" a/33");
	parse_bad(" a//129");
	parse_bad(" a:");
	parse_bad(" mx:");
	parse_bad(" a:abc.123");
	parse_bad(" a:museum");
	parse_bad(" a:museum.");
	parse_bad(" a:example.-com");
	parse_bad(" a:foo-bar");
	parse_bad(" a:foo.example.com\x01");
	r = parse_ok(" a:foo.example.xn--zckzah a:foo.example.com. a:a..example.com "
		     "a:%{d}.example.com");
	/* literal names are checked once, at parse time */
	assert_true(r->terms[1].spec.flags & SPF_SPEC_PLAIN);
	assert_int_equal(r->terms[1].spec.name_len, strlen("foo.example.com"));
	assert_true(r->terms[2].spec.flags & SPF_SPEC_BAD);
	assert_false(r->terms[3].spec.flags & (SPF_SPEC_PLAIN | SPF_SPEC_BAD));
	spf_record_release(r);
}

static void test_include_exists_ptr(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" include:_spf.example.com exists:%{i}.bl.example.com "
					"ptr ptr:example.com");
	assert_int_equal(r->terms[0].mech, SPF_MECH_INCLUDE);
	assert_int_equal(r->terms[1].mech, SPF_MECH_EXISTS);
	assert_true(r->terms[1].spec.flags != 0);
	assert_int_equal(r->terms[2].mech, SPF_MECH_PTR);
	assert_null(r->terms[2].spec.s);
	assert_non_null(r->terms[3].spec.s);
	spf_record_release(r);
	parse_bad(" include");
	parse_bad(" include:");
	parse_bad(" include:foo.com/24");
	parse_bad(" exists");
	parse_bad(" exists:foo.com/24");
	parse_bad(" ptr/24");
	parse_bad(" exists:foo%.sbl.example.com");
}

static void test_modifiers(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" -all redirect=_spf.example.com exp=exp.%{d} "
					"moo.cow-far_out=man:dog/cat default=pass");
	assert_int_equal(r->nterms, 1);
	assert_int_equal(r->redirect.len, strlen("_spf.example.com"));
	assert_non_null(r->exp.s);
	spf_record_release(r);
	r = parse_ok(" x=1 x=2 x=3"); /* unknown modifiers, however often (§6) */
	spf_record_release(r);
	parse_bad(" redirect=a.com redirect=b.com");
	parse_bad(" exp=a.com exp=b.com");
	parse_bad(" redirect=");
	parse_bad(" exp=");
	parse_bad(" exp=-all");
	parse_bad(" -redirect=a.com");
	parse_bad(" 1up=foo");
	parse_bad(" =all");
	parse_bad(" foo=%abc");
	parse_bad(" moo.cow/far_out=man:dog/cat");
	parse_bad(" redirect:t2.example.com");
	parse_bad(" exp=%{r}.example.com");
}

static void test_unknown_and_separators(void **state)
{
	(void)state;
	parse_bad(" foo");
	parse_bad(" foo:bar.com");
	parse_bad(" a:ctrl.example.com\rptr");
	struct spf_record *r = parse_ok("   all   ");
	assert_int_equal(r->nterms, 1);
	spf_record_release(r);
	r = parse_ok("");
	assert_int_equal(r->nterms, 0);
	spf_record_release(r);
	parse_bad("\tall");
}

static void test_term_text(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" ip4:1.2.3.4 -include:x.example.com");
	assert_int_equal(r->terms[1].text_len, strlen("-include:x.example.com"));
	assert_memory_equal(r->terms[1].text, "-include:x.example.com", r->terms[1].text_len);
	assert_true(spf_mech_queries_dns(SPF_MECH_INCLUDE));
	assert_false(spf_mech_queries_dns(SPF_MECH_IP4));
	assert_false(spf_mech_queries_dns(SPF_MECH_ALL));
	spf_record_release(r);
}

static void toplabels_with_hyphens_and_64_octet_labels(void **state)
{
	(void)state;
	spf_record_release(parse_ok(" a:foo.1-2 mx:x.0a"));
	char rec[200];
	for (int len = 63; len <= 64; len++) {
		snprintf(rec, sizeof rec, " a:%.*s.example", len,
			 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
		struct spf_record *r = parse_ok(rec);
		assert_int_equal(!!(r->terms[0].spec.flags & SPF_SPEC_BAD), len == 64);
		assert_int_equal(!!(r->terms[0].spec.flags & SPF_SPEC_PLAIN), len == 63);
		spf_record_release(r);
	}
}

/* toplabel (RFC 7208 §7.1) is alphanumerics and hyphens, ending in an
 * alphanumeric: "com-" and "c_m" are not top labels. */
static void toplabel_ending_in_hyphen_or_with_underscore_is_bad(void **state)
{
	(void)state;
	parse_bad(" a:foo.com-");
	parse_bad(" include:foo.1-");
	parse_bad(" a:foo.c_m");
	parse_bad(" exists:_x.example._com");
}

/* §4.8: a name over 253 octets is truncated at evaluation, so a literal of
 * 254 octets is neither usable as it stands nor bad; 253 is usable. */
static void literal_of_254_octets_is_left_to_truncation(void **state)
{
	(void)state;
	char rec[300], xs[64];
	memset(xs, 'x', 63);
	xs[63] = '\0';
	for (int len = 253; len <= 254; len++) {
		/* three 63-octet labels and their dots are 192 octets */
		snprintf(rec, sizeof rec, " a:%s.%s.%s.%.*s", xs, xs, xs, len - 192, xs);
		struct spf_record *r = parse_ok(rec);
		assert_int_equal(r->terms[0].spec.len, len);
		assert_int_equal(!!(r->terms[0].spec.flags & SPF_SPEC_PLAIN), len == 253);
		assert_false(r->terms[0].spec.flags & SPF_SPEC_BAD);
		spf_record_release(r);
	}
}

/* A CIDR length is 1-3 digits: a long one must not wrap around to a small
 * value (4294967320 is 24 modulo 2^32). */
static void cidr_length_does_not_wrap(void **state)
{
	(void)state;
	parse_bad(" ip4:192.0.2.0/4294967320");
	parse_bad(" a/4294967320");
	parse_bad(" mx//4294967360"); /* 64 modulo 2^32 */
}

/* After the name of a, mx, include and exists only ':' (or a CIDR for a
 * and mx) may follow: "a!foo.example.com" is not "a:foo.example.com". */
static void mechanism_argument_needs_a_colon(void **state)
{
	(void)state;
	parse_bad(" a!foo.example.com");
	parse_bad(" mx!foo.example.com");
	parse_bad(" include!foo.example.com");
	parse_bad(" exists!foo.example.com");
}

/* An ip6 address as long as the parser's buffer (47 octets) is refused
 * without writing past the buffer (the sanitizers see it if it does). */
static void ip6_address_as_long_as_the_buffer(void **state)
{
	(void)state;
	char rec[80];
	snprintf(rec, sizeof rec, " ip6:%.*s", 47, "0000:0000:0000:0000:0000:0000:0000:0000:0000:000");
	parse_bad(rec);
}

/* Modifier and mechanism names are case-insensitive (RFC 7208 §4.6.1,
 * RFC 5234 §2.3): "Redirect=" is redirect=, not an unknown modifier. */
static void modifier_and_mechanism_names_ignore_case(void **state)
{
	(void)state;
	struct spf_record *r = parse_ok(" MX A:x.example.com -ALL REDIRECT=_spf.example.com Exp=e.example.com");
	assert_int_equal(r->nterms, 3);
	assert_int_equal(r->terms[0].mech, SPF_MECH_MX);
	assert_int_equal(r->terms[1].mech, SPF_MECH_A);
	assert_int_equal(r->terms[2].mech, SPF_MECH_ALL);
	assert_non_null(r->redirect.s);
	assert_non_null(r->exp.s);
	spf_record_release(r);
	parse_bad(" Redirect=a.example.com redirect=b.example.com");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_and_qualifiers),
		cmocka_unit_test(test_ip4),
		cmocka_unit_test(test_ip6),
		cmocka_unit_test(test_a_mx_dual_cidr),
		cmocka_unit_test(test_include_exists_ptr),
		cmocka_unit_test(test_modifiers),
		cmocka_unit_test(test_unknown_and_separators),
		cmocka_unit_test(test_term_text),
		cmocka_unit_test(toplabels_with_hyphens_and_64_octet_labels),
		cmocka_unit_test(toplabel_ending_in_hyphen_or_with_underscore_is_bad),
		cmocka_unit_test(literal_of_254_octets_is_left_to_truncation),
		cmocka_unit_test(cidr_length_does_not_wrap),
		cmocka_unit_test(mechanism_argument_needs_a_colon),
		cmocka_unit_test(ip6_address_as_long_as_the_buffer),
		cmocka_unit_test(modifier_and_mechanism_names_ignore_case),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
