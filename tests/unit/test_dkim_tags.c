/*
 * test_dkim_tags — the tag-list parser and the shared lexical helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/dkim_tags.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct dkim_slice S(const char *s)
{
	return (struct dkim_slice){s, strlen(s)};
}

static enum dkim_tags_err parse(const char *s, struct dkim_taglist *t)
{
	return dkim_tags_parse(s, strlen(s), t);
}

static void test_values_trimmed_fws_kept_inside(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse(" v = 1 ;a=rsa-sha256;\r\n b=abc \r\n\tdef\r\n ;", &t), DKIM_TAGS_OK);
	assert_int_equal(t.n, 3);
	assert_true(dkim_slice_eq(*dkim_tags_get(&t, "v"), "1"));
	assert_true(dkim_slice_eq(*dkim_tags_get(&t, "b"), "abc \r\n\tdef"));
	assert_null(dkim_tags_get(&t, "x"));
}

static void test_empty_value_and_specs(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse("p=;; ;k=rsa;", &t), DKIM_TAGS_OK);
	assert_int_equal(t.n, 2);
	assert_int_equal(dkim_tags_get(&t, "p")->n, 0);
	assert_int_equal(parse("", &t), DKIM_TAGS_OK);
	assert_int_equal(t.n, 0);
}

static void test_syntax_errors(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse("k=rsa; t; p=x", &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(parse("1a=x", &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(parse("a b=x", &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(parse("a=x\001y", &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(dkim_tags_parse("a=x\0y", 5, &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(parse("a_1=ok", &t), DKIM_TAGS_OK);
}

static void test_duplicate_is_error(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse("d=a.com; s=x; d=b.com", &t), DKIM_TAGS_DUPLICATE);
	/* names are case-sensitive: D and d are different tags */
	assert_int_equal(parse("d=a.com; D=b.com", &t), DKIM_TAGS_OK);
}

static void test_too_many_tags(void **state)
{
	(void)state;
	char buf[2048] = "";
	for (int i = 0; i <= DKIM_TAGS_MAX; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "t%d=%d;", i, i);
	struct dkim_taglist t;
	assert_int_equal(parse(buf, &t), DKIM_TAGS_TOO_MANY);
}

static void test_base64(void **state)
{
	(void)state;
	unsigned char out[16];
	assert_int_equal(dkim_base64_decode(S("aGVs\r\n bG8="), out, sizeof out), 5);
	assert_memory_equal(out, "hello", 5);
	assert_int_equal(dkim_base64_decode(S("aGk="), out, sizeof out), 2);
	assert_int_equal(dkim_base64_decode(S("aA=="), out, sizeof out), 1);
	assert_int_equal(dkim_base64_decode(S("aGk=x"), out, sizeof out), -1);  /* data after pad */
	assert_int_equal(dkim_base64_decode(S("a==="), out, sizeof out), -1);
	assert_int_equal(dkim_base64_decode(S("a!bc"), out, sizeof out), -1);
	assert_int_equal(dkim_base64_decode(S("a"), out, sizeof out), -1);     /* 6 bits */
	assert_int_equal(dkim_base64_decode(S("aGVsbG8gd29ybGQgaGVsbG8="), out, 4), -1); /* cap */
	assert_int_equal(dkim_base64_decode(S(""), out, sizeof out), 0);
}

static void test_domains(void **state)
{
	(void)state;
	assert_true(dkim_domain_valid(S("example.com")));
	assert_true(dkim_domain_valid(S("18457.62be233b.k2206")));
	assert_true(dkim_domain_valid(S("_sel-1.x")));
	assert_false(dkim_domain_valid(S("legitimate.com(.attacker.com")));
	assert_false(dkim_domain_valid(S("a..b")));
	assert_false(dkim_domain_valid(S(".a")));
	assert_false(dkim_domain_valid(S("a.")));
	assert_false(dkim_domain_valid(S("-a.b")));
	assert_false(dkim_domain_valid(S("a-.b")));
	assert_false(dkim_domain_valid(S("")));
	char big[300];
	memset(big, 'a', sizeof big);
	assert_false(dkim_domain_valid((struct dkim_slice){big, 64})); /* label > 63 */
}

static void test_list_items_and_numbers(void **state)
{
	(void)state;
	struct dkim_slice item, list = S(" From : to:\r\n subject ");
	size_t pos = 0;
	assert_true(dkim_slice_next_item(list, ':', &pos, &item));
	assert_true(dkim_slice_eq(item, "From"));
	assert_true(dkim_slice_next_item(list, ':', &pos, &item));
	assert_true(dkim_slice_eq(item, "to"));
	assert_true(dkim_slice_next_item(list, ':', &pos, &item));
	assert_true(dkim_slice_eq(item, "subject"));
	assert_false(dkim_slice_next_item(list, ':', &pos, &item));
	uint64_t v;
	assert_true(dkim_slice_to_u64(S("1528637909"), &v));
	assert_int_equal(v, 1528637909u);
	assert_false(dkim_slice_to_u64(S("12a"), &v));
	assert_false(dkim_slice_to_u64(S("1234567890123456789"), &v));
	assert_true(dkim_slice_caseeq(S("FROM"), "from"));
}

static void del_refused_in_short_values(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse("v=1; x=a\x7f" "b", &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(parse("x=abcdefgh\x7f", &t), DKIM_TAGS_SYNTAX);
}

/* A name of several letters appears once at most, like a one-letter one
 * (RFC 6376 §3.2). */
static void duplicate_long_name_is_error(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse("ab=1; c=2; ab=3", &t), DKIM_TAGS_DUPLICATE);
	assert_int_equal(parse("ab=1; abc=2", &t), DKIM_TAGS_OK);
}

/* Values of eight bytes and more go eight at a time: DEL inside such a
 * run is refused there too, and FWS at its end is still trimmed. */
static void long_runs_checked_like_short_ones(void **state)
{
	(void)state;
	struct dkim_taglist t;
	assert_int_equal(parse("x=abc\x7f" "defgh", &t), DKIM_TAGS_SYNTAX);
	assert_int_equal(parse("a=abcdefg ;b=abc defgh", &t), DKIM_TAGS_OK);
	assert_true(dkim_slice_eq(*dkim_tags_get(&t, "a"), "abcdefg"));
	assert_true(dkim_slice_eq(*dkim_tags_get(&t, "b"), "abc defgh"));
}

/* A trailing separator leaves an empty last item, so that a caller can
 * refuse "h=from:" (RFC 6376 §3.5: hdr-name after every ':'). */
static void trailing_separator_gives_an_empty_item(void **state)
{
	(void)state;
	struct dkim_slice item;
	size_t pos = 0;
	assert_true(dkim_slice_next_item(S("from:"), ':', &pos, &item));
	assert_true(dkim_slice_eq(item, "from"));
	assert_true(dkim_slice_next_item(S("from:"), ':', &pos, &item));
	assert_int_equal(item.n, 0);
	assert_false(dkim_slice_next_item(S("from:"), ':', &pos, &item));
}

/* Padding ends the final quantum (RFC 4648 §4): as many '=' as it lacks
 * characters, no more, and none after a whole quantum. */
static void base64_padding_must_fit_the_last_quantum(void **state)
{
	(void)state;
	unsigned char out[16];
	assert_int_equal(dkim_base64_decode(S("aGk=="), out, sizeof out), -1);
	assert_int_equal(dkim_base64_decode(S("aGVs="), out, sizeof out), -1);
	assert_int_equal(dkim_base64_decode(S("aGVsbA=="), out, sizeof out), 4);
}

/* Decoding stops at cap even in the middle of a whole quantum: out is an
 * exact-size heap block, so ASan sees a write past it. */
static void base64_never_writes_past_cap(void **state)
{
	(void)state;
	unsigned char *out = malloc(5);
	assert_non_null(out);
	assert_int_equal(dkim_base64_decode(S("aGVsbG8h"), out, 5), -1); /* "hello!" */
	assert_int_equal(dkim_base64_decode(S("aGVsbG8="), out, 5), 5);
	free(out);
}

/* Numeric tags are 1*DIGIT (RFC 6376 §3.5: t=, x=, l=): "t=" is no time. */
static void empty_number_is_not_zero(void **state)
{
	(void)state;
	uint64_t v = 7;
	assert_false(dkim_slice_to_u64(S(""), &v));
	assert_int_equal(v, 7);
}

/* RFC 6376 §3.5 domain-name: labels end in a letter or digit, and a name
 * has at most 253 octets in text form (255 on the wire). */
static void domain_last_label_and_length(void **state)
{
	(void)state;
	assert_false(dkim_domain_valid(S("a.b-")));
	char big[254];
	memset(big, 'a', sizeof big);
	for (size_t i = 63; i < sizeof big; i += 64)
		big[i] = '.';
	assert_true(dkim_domain_valid((struct dkim_slice){big, 253}));
	assert_false(dkim_domain_valid((struct dkim_slice){big, 254}));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_values_trimmed_fws_kept_inside),
		cmocka_unit_test(test_empty_value_and_specs),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_duplicate_is_error),
		cmocka_unit_test(test_too_many_tags),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_domains),
		cmocka_unit_test(test_list_items_and_numbers),
		cmocka_unit_test(del_refused_in_short_values),
		cmocka_unit_test(duplicate_long_name_is_error),
		cmocka_unit_test(long_runs_checked_like_short_ones),
		cmocka_unit_test(trailing_separator_gives_an_empty_item),
		cmocka_unit_test(base64_padding_must_fit_the_last_quantum),
		cmocka_unit_test(base64_never_writes_past_cap),
		cmocka_unit_test(empty_number_is_not_zero),
		cmocka_unit_test(domain_last_label_and_length),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
