/* Unit tests: log — the transaction line keeps sender-controlled values
 * from breaking it: quotes and controls, and bytes that are not UTF-8
 * (JSON must stay valid, text readable). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "userspace/log.h"

static char line[LOG_LINE_MAX];

static const char *format(enum log_format fmt, const char *helo)
{
	struct log_txn t = {.session = 7, .worker = 1, .ip = "192.0.2.1", .nrcpt = 1,
			    .size = 10, .verdict = "accept", .code = "250 2.0.0"};
	snprintf(t.helo, sizeof t.helo, "%s", helo);
	snprintf(t.mail_from, sizeof t.mail_from, "a@example.org");
	snprintf(t.rcpts, sizeof t.rcpts, "b@example.net");
	size_t n = log_format_transaction(fmt, &t, line, sizeof line);
	assert_true(n > 0 && line[n - 1] == '\n');
	assert_null(memchr(line, '\n', n - 1)); /* one line */
	return line;
}

/* The line for this HELO holds `want` in the helo field: JSON's
 * "helo":"...", or text's helo=... */
static void expect_helo(enum log_format fmt, const char *helo, const char *want)
{
	char expect[600];
	snprintf(expect, sizeof expect, fmt == LOG_JSON ? "\"helo\":\"%s\"," : " helo=%s ", want);
	const char *got = format(fmt, helo);
	if (!strstr(got, expect))
		fail_msg("helo %s: want %s in %s", helo, expect, got);
}

static void expect_json_helo(const char *helo, const char *want)
{
	expect_helo(LOG_JSON, helo, want);
}

static void expect_text_helo(const char *helo, const char *want)
{
	expect_helo(LOG_TEXT, helo, want);
}

static void quotes_and_controls_are_defused(void **state)
{
	(void)state;
	expect_json_helo("a\"b\\c\x01\x7f", "a\\\"b\\\\c\\u0001\\u007f");
	expect_text_helo("a\"b\x01", "a'b?");
	/* C1 controls (U+0085 NEL, U+009B CSI) are valid UTF-8 but controls all the same */
	expect_json_helo("a\xc2\x85" "b\xc2\x9b", "a\\u0085b\\u009b");
	expect_text_helo("a\xc2\x85" "b\xc2\x9b", "a?b?");
	expect_json_helo("\xc2\xa0", "\xc2\xa0"); /* U+00A0 is not one */
}

static void utf8_passes_through(void **state)
{
	(void)state;
	/* é, a CJK character, an emoji (two, three and four bytes) */
	expect_json_helo("caf\xc3\xa9.\xe6\x97\xa5.\xf0\x9f\x93\xa7", "caf\xc3\xa9.\xe6\x97\xa5.\xf0\x9f\x93\xa7");
	expect_text_helo("caf\xc3\xa9", "caf\xc3\xa9");
}

static void bytes_that_are_not_utf8_are_replaced(void **state)
{
	(void)state;
	expect_json_helo("caf\xe9", "caf\\ufffd");                    /* Latin-1 */
	expect_json_helo("a\xc0\x80z", "a\\ufffd\\ufffdz");           /* an overlong NUL */
	expect_json_helo("a\xed\xa0\x80z", "a\\ufffd\\ufffd\\ufffdz"); /* a surrogate */
	expect_json_helo("a\xf4\x90\x80\x80z", "a\\ufffd\\ufffd\\ufffd\\ufffdz"); /* past U+10FFFF */
	expect_json_helo("a\xe6\x97", "a\\ufffd\\ufffd");             /* cut short at the end */
	expect_json_helo("\x80\xbf", "\\ufffd\\ufffd");               /* lone continuation bytes */
	expect_text_helo("caf\xe9", "caf?");
}

/* Overlong forms smuggle ASCII ('/', NUL) past filters; only the two-byte
 * kind was checked. */
static void overlong_three_and_four_byte_forms_are_replaced(void **state)
{
	(void)state;
	expect_json_helo("a\xe0\x80\xafz", "a\\ufffd\\ufffd\\ufffdz");         /* '/' in three bytes */
	expect_json_helo("a\xf0\x80\x80\xafz", "a\\ufffd\\ufffd\\ufffd\\ufffdz"); /* and in four */
	expect_json_helo("\xe0\xa0\x80", "\xe0\xa0\x80");                       /* U+0800 is fine */
	expect_json_helo("\xf0\x90\x80\x80", "\xf0\x90\x80\x80");               /* U+10000 too */
}

/* U+009F (APC) is the top of the C1 range: a terminal still obeys it. */
static void the_last_c1_control_is_defused_too(void **state)
{
	(void)state;
	expect_json_helo("a\xc2\x9f" "b", "a\\u009fb");
	expect_text_helo("a\xc2\x9f" "b", "a?b");
}

/* A cut line without its newline would run into the next one in the log. */
static void a_line_cut_to_fit_still_ends_in_a_newline(void **state)
{
	(void)state;
	struct log_txn t = {.session = 7, .worker = 1, .ip = "192.0.2.1", .nrcpt = 1,
			    .size = 10, .verdict = "accept", .code = "250 2.0.0"};
	snprintf(t.helo, sizeof t.helo, "mail.example.org");
	char small[64];
	for (int fmt = 0; fmt < 2; fmt++) {
		size_t n = log_format_transaction(fmt ? LOG_JSON : LOG_TEXT, &t, small, sizeof small);
		assert_int_equal(n, sizeof small - 1);
		assert_int_equal(small[n - 1], '\n');
		assert_null(memchr(small, '\n', n - 1));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(quotes_and_controls_are_defused),
		cmocka_unit_test(utf8_passes_through),
		cmocka_unit_test(bytes_that_are_not_utf8_are_replaced),
		cmocka_unit_test(overlong_three_and_four_byte_forms_are_replaced),
		cmocka_unit_test(the_last_c1_control_is_defused_too),
		cmocka_unit_test(a_line_cut_to_fit_still_ends_in_a_newline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
