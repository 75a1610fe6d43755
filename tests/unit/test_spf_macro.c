/*
 * test_spf_macro — the RFC 7208 §7 macro language: every letter, the digit
 * and "r" transformers, delimiters, URL escaping, the exp-only letters and
 * the syntax errors; the RFC's own §7.4 examples are the reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/spf_macro.h"

#include <errno.h>
#include <string.h>

static struct spf_ip ip4, ip6;

static struct spf_macro_ctx ctx(const struct spf_ip *ip, bool exp)
{
	return (struct spf_macro_ctx){
		.local = "strong-bad", .sender_dom = "email.example.com",
		.domain = "email.example.com", .helo = "mx.example.org",
		.validated = NULL, .receiver = "mx.example.net", .ip = ip,
		.now = 1234567890, .exp = exp,
	};
}

static void expect_exp(const struct spf_macro_ctx *c, const char *in, const char *want)
{
	char out[1024];
	size_t n = 0;
	int rc = spf_macro_expand(in, strlen(in), c, out, sizeof out, &n);
	assert_int_equal(rc, 0);
	assert_string_equal(out, want);
	assert_int_equal(n, strlen(want));
}

static void expect_v4(const char *in, const char *want)
{
	struct spf_macro_ctx c = ctx(&ip4, false);
	expect_exp(&c, in, want);
}

static void expect_bad(const char *in, bool exp)
{
	char out[256];
	struct spf_macro_ctx c = ctx(&ip4, exp);
	assert_int_equal(spf_macro_expand(in, strlen(in), &c, out, sizeof out, NULL), -EINVAL);
	assert_int_equal(spf_macro_check(in, strlen(in), exp, NULL), -EINVAL);
}

static int setup(void **state)
{
	(void)state;
	assert_int_equal(spf_ip_parse("192.0.2.3", &ip4), 0);
	assert_int_equal(spf_ip_parse("2001:db8::cb01", &ip6), 0);
	return 0;
}

static void test_letters(void **state)
{
	(void)state;
	expect_v4("%{s}", "strong-bad@email.example.com");
	expect_v4("%{l}", "strong-bad");
	expect_v4("%{o}", "email.example.com");
	expect_v4("%{d}", "email.example.com");
	expect_v4("%{i}", "192.0.2.3");
	expect_v4("%{h}", "mx.example.org");
	expect_v4("%{v}", "in-addr");
	expect_v4("%{p}", "unknown");
}

static void test_letter_p_validated(void **state)
{
	(void)state;
	struct spf_macro_ctx c = ctx(&ip4, false);
	c.validated = "mx.example.org";
	expect_exp(&c, "%{p}", "mx.example.org");
}

static void test_ipv6_letters(void **state)
{
	(void)state;
	struct spf_macro_ctx c = ctx(&ip6, false);
	expect_exp(&c, "%{i}", "2.0.0.1.0.D.B.8.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.C.B.0.1");
	expect_exp(&c, "%{ir}.%{v}._spf.%{d2}",
		   "1.0.B.C.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.B.D.0.1.0.0.2.ip6._spf.example.com");
	expect_exp(&c, "%{v}", "ip6");
}

static void test_transformers(void **state)
{
	(void)state;
	expect_v4("%{d4}", "email.example.com");
	expect_v4("%{d3}", "email.example.com");
	expect_v4("%{d2}", "example.com");
	expect_v4("%{d1}", "com");
	expect_v4("%{dr}", "com.example.email");
	expect_v4("%{d2r}", "example.email");
	expect_v4("%{ir}.%{v}._spf.%{d2}", "3.2.0.192.in-addr._spf.example.com");
	expect_v4("%{d99999999999}", "email.example.com");
}

static void test_delimiters(void **state)
{
	(void)state;
	expect_v4("%{l-}", "strong.bad");
	expect_v4("%{lr-}", "bad.strong");
	expect_v4("%{l1r-}", "strong");
	expect_v4("%{l1r-.}", "strong");
	expect_v4("%{s+=}", "strong-bad@email.example.com");
	expect_v4("%{d_/,}", "email.example.com");
}

static void test_escapes(void **state)
{
	(void)state;
	expect_v4("a%%b%_c%-d", "a%b c%20d");
	struct spf_macro_ctx c = ctx(&ip4, true);
	expect_exp(&c, "%{S}", "strong-bad%40email.example.com");
	c.local = "a b/c";
	expect_exp(&c, "%{L}", "a%20b%2Fc");
	expect_exp(&c, "%{l}", "a b/c");
}

static void test_exp_letters(void **state)
{
	(void)state;
	struct spf_macro_ctx c = ctx(&ip4, true);
	expect_exp(&c, "%{c}", "192.0.2.3");
	expect_exp(&c, "%{r}", "mx.example.net");
	expect_exp(&c, "%{t}", "1234567890");
	expect_exp(&c, "from %{i} to %{d}", "from 192.0.2.3 to email.example.com");
	c.receiver = NULL;
	expect_exp(&c, "%{r}", "unknown");
	struct spf_macro_ctx c6 = ctx(&ip6, true);
	expect_exp(&c6, "%{c}", "2001:db8::cb01");
	/* c r t are explanation-only */
	expect_bad("%{c}", false);
	expect_bad("%{r}", false);
	expect_bad("%{t}", false);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	expect_bad("%", false);
	expect_bad("%a", false);
	expect_bad("%{", false);
	expect_bad("%{x}", false);
	expect_bad("%{d", false);
	expect_bad("%{d0}", false);    /* DIGIT must be nonzero */
	expect_bad("%{dr2}", false);   /* digits before r */
	expect_bad("%{d2!}", false);   /* not a delimiter */
	expect_bad("a b", false);      /* space only in explanations */
	expect_bad("a\x01", true);
	expect_bad("caf\xc3\xa9", false);
	unsigned flags = 0;
	assert_int_equal(spf_macro_check("a b %{c}", 8, true, &flags), 0);
}

static void test_flags(void **state)
{
	(void)state;
	unsigned f = 0;
	assert_int_equal(spf_macro_check("x.example.com", 13, false, &f), 0);
	assert_int_equal(f, 0);
	assert_int_equal(spf_macro_check("%{p}.x.com", 10, false, &f), 0);
	assert_true(f & SPF_MACRO_P);
	assert_true(f & SPF_MACRO_ANY);
	assert_false(f & SPF_MACRO_ENDS);
	assert_int_equal(spf_macro_check("x.%{d}", 6, false, &f), 0);
	assert_true(f & SPF_MACRO_ENDS);
}

static void test_bounded_output(void **state)
{
	(void)state;
	char out[16];
	struct spf_macro_ctx c = ctx(&ip4, false);
	const char *bomb = "%{s}%{s}%{s}%{s}";
	assert_int_equal(spf_macro_expand(bomb, strlen(bomb), &c, out, sizeof out, NULL), -E2BIG);
	assert_true(strlen(out) < sizeof out);
}

/* §7.1: given delimiters replace the default '.', they do not add to it */
static void test_delimiters_replace_the_dot(void **state)
{
	(void)state;
	expect_v4("%{d1-}", "email.example.com");
	expect_v4("%{dr-}", "email.example.com");
	expect_v4("%{l1-.}", "bad");
}

/* ABNF strings are case-insensitive (RFC 5234 §2.3): "R" reverses too */
static void test_upper_case_r_transformer(void **state)
{
	(void)state;
	expect_v4("%{dR}", "com.example.email");
	expect_v4("%{d2R}", "example.email");
}

/* §7.3: upper-case letters are URL-escaped in domain-specs as well, not
 * only in explanations */
static void test_upper_case_escapes_outside_exp(void **state)
{
	(void)state;
	expect_v4("%{S}", "strong-bad%40email.example.com");
	expect_v4("%{L}.%{d}", "strong-bad.email.example.com");
}

/* §7.1: macro-literal is %x21-24 / %x26-7E; DEL (0x7F) is not one */
static void test_del_is_not_a_literal(void **state)
{
	(void)state;
	expect_bad("a\x7f", false);
	expect_bad("a\x7f", true);
}

/* outsize-1 bytes of result fit; one more does not */
static void test_output_that_fits_exactly(void **state)
{
	(void)state;
	struct spf_macro_ctx c = ctx(&ip4, false);
	char out[11];
	size_t n = 0;
	assert_int_equal(spf_macro_expand("%{l}", 4, &c, out, sizeof out, &n), 0);
	assert_string_equal(out, "strong-bad");
	assert_int_equal(n, 10);
	assert_int_equal(spf_macro_expand("%{l}", 4, &c, out, 10, NULL), -E2BIG);
}

/* §7.1: domain-end may be any macro-expand, and "%%", "%_" and "%-" are
 * macro-expands too, not only "%{...}" */
static void test_escape_pairs_are_a_domain_end(void **state)
{
	(void)state;
	unsigned f = 0;
	assert_int_equal(spf_macro_check("x.%%", 4, false, &f), 0);
	assert_true(f & SPF_MACRO_ENDS);
	assert_int_equal(spf_macro_check("x.%-", 4, false, &f), 0);
	assert_true(f & SPF_MACRO_ENDS);
	assert_int_equal(spf_macro_check("x.%_", 4, false, &f), 0);
	assert_true(f & SPF_MACRO_ENDS);
	assert_int_equal(spf_macro_check("%%.com", 6, false, &f), 0);
	assert_false(f & SPF_MACRO_ENDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_letters),
		cmocka_unit_test(test_letter_p_validated),
		cmocka_unit_test(test_ipv6_letters),
		cmocka_unit_test(test_transformers),
		cmocka_unit_test(test_delimiters),
		cmocka_unit_test(test_escapes),
		cmocka_unit_test(test_exp_letters),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_flags),
		cmocka_unit_test(test_bounded_output),
		cmocka_unit_test(test_delimiters_replace_the_dot),
		cmocka_unit_test(test_upper_case_r_transformer),
		cmocka_unit_test(test_upper_case_escapes_outside_exp),
		cmocka_unit_test(test_del_is_not_a_literal),
		cmocka_unit_test(test_output_that_fits_exactly),
		cmocka_unit_test(test_escape_pairs_are_a_domain_end),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
