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

/* The ends of the ranges RFC 3629 allows: U+D7FF just below the
 * surrogates and U+10FFFF, the last code point, are characters; a lead
 * byte past F4 starts nothing. */
static void the_edges_of_the_utf8_ranges_are_kept(void **state)
{
	(void)state;
	expect_json_helo("\xed\x9f\xbf", "\xed\x9f\xbf");
	expect_json_helo("\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf");
	expect_json_helo("a\xf5\x80\x80\x80z", "a\\ufffd\\ufffd\\ufffd\\ufffdz");
}

/* A HELO of controls grows six times as an escape: it is cut inside its
 * own field, at a whole escape, and the rest of the line follows. */
static void a_value_of_escapes_is_cut_within_its_field(void **state)
{
	(void)state;
	char helo[256];
	memset(helo, '\x01', sizeof helo - 1);
	helo[sizeof helo - 1] = '\0';
	const char *got = format(LOG_JSON, helo);
	const char *start = strstr(got, "\"helo\":\"") + 8;
	const char *end = strstr(start, "\",\"mail_from\":\"a@example.org\"");
	assert_non_null(end);
	size_t len = (size_t)(end - start);
	assert_true(len > 0 && len < 300);
	assert_int_equal(len % 6, 0);
	for (size_t i = 0; i < len; i += 6)
		assert_memory_equal(start + i, "\\u0001", 6);
}

/* A HELO whose escapes (JSON) grow it past its field, then valid
 * three-octet characters: it is cut between characters, none replaced
 * and no octet of one left over. */
static void a_value_cut_mid_text_keeps_whole_characters(void **state)
{
	(void)state;
	char helo[256];
	memset(helo, '\x01', 40); /* 240 octets as \u0001 */
	size_t i = 40;
	for (; i + 3 < sizeof helo; i += 3)
		memcpy(helo + i, "\xe2\x82\xac", 3); /* U+20AC, the euro sign */
	helo[i] = '\0';
	const char *start = strstr(format(LOG_JSON, helo), "\"helo\":\"");
	assert_non_null(start);
	start += 8 + 40 * 6;
	size_t len = 0;
	while (start[len] == '\xe2' && start[len + 1] == '\x82' && start[len + 2] == '\xac')
		len += 3;
	assert_true(len > 0 && len < i - 40); /* cut, and after some characters */
	assert_memory_equal(start + len, "\",\"mail_from\":", 14); /* no U+FFFD, no stray octet */
}

static size_t format_into(enum log_format fmt, char *buf, size_t size)
{
	struct log_txn t = {.session = 7, .worker = 1, .ip = "192.0.2.1", .nrcpt = 1,
			    .size = 10, .verdict = "accept", .code = "250 2.0.0"};
	snprintf(t.helo, sizeof t.helo, "mail.example.org");
	return log_format_transaction(fmt, &t, buf, size);
}

/* A buffer one byte short of the line and its NUL: snprintf fills it and
 * says it wanted exactly the buffer's size, which is a cut too. */
static void a_line_one_byte_too_long_is_cut_too(void **state)
{
	(void)state;
	char full[LOG_LINE_MAX], small[LOG_LINE_MAX];
	for (int fmt = 0; fmt < 2; fmt++) {
		size_t want = format_into(fmt ? LOG_JSON : LOG_TEXT, full, sizeof full);
		size_t n = format_into(fmt ? LOG_JSON : LOG_TEXT, small, want);
		assert_int_equal(n, want - 1);
		assert_int_equal(small[n - 1], '\n');
		assert_null(memchr(small, '\n', n - 1));
	}
}

/* The first word (text) or "time" (JSON): ISO 8601, UTC, milliseconds. */
static void the_time_is_utc_to_the_millisecond(void **state)
{
	(void)state;
	char buf[LOG_LINE_MAX];
	for (int fmt = 0; fmt < 2; fmt++) {
		format_into(fmt ? LOG_JSON : LOG_TEXT, buf, sizeof buf);
		const char *ts = fmt ? buf + strlen("{\"time\":\"") : buf;
		const char *shape = "dddd-dd-ddTdd:dd:dd.dddZ";
		for (size_t i = 0; shape[i]; i++)
			if (shape[i] == 'd' ? !(ts[i] >= '0' && ts[i] <= '9') : ts[i] != shape[i])
				fail_msg("time %.30s: not %s at %zu", ts, shape, i);
		assert_int_equal(ts[strlen(shape)], fmt ? '"' : ' ');
	}
}

static size_t notice(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_format_notice(buf, size, fmt, ap);
	va_end(ap);
	return n;
}

#define NOTICE_PREFIX_LEN (sizeof "2026-11-28T12:00:00.000Z authgate: " - 1)

/* A notice too long for the buffer is cut, and still one whole line: a
 * newline last, no NUL inside. Texts from a few bytes short of the room
 * to a few past it, the exact fit among them. */
static void a_notice_cut_to_fit_ends_in_a_newline(void **state)
{
	(void)state;
	const char text[] = "worker 0: a notice longer than the buffer";
	char buf[NOTICE_PREFIX_LEN + 8];
	for (int len = 1; len <= 12; len++) {
		size_t n = notice(buf, sizeof buf, "%.*s", len, text);
		size_t want = NOTICE_PREFIX_LEN + (size_t)len + 1;
		assert_int_equal(n, want < sizeof buf ? want : sizeof buf - 1);
		assert_int_equal(buf[n - 1], '\n');
		assert_null(memchr(buf, '\0', n));
		assert_memory_equal(buf + NOTICE_PREFIX_LEN, "worker", len < 6 ? len : 6);
	}
}

/* Room for the time and "authgate: " but not one byte of text: no line. */
static void a_notice_without_room_for_text_is_not_written(void **state)
{
	(void)state;
	char buf[NOTICE_PREFIX_LEN + 1];
	assert_int_equal(notice(buf, sizeof buf, "%s", "text"), 0);
	assert_int_equal(notice(buf, 1, "%s", "text"), 0);
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
		cmocka_unit_test(the_edges_of_the_utf8_ranges_are_kept),
		cmocka_unit_test(a_value_of_escapes_is_cut_within_its_field),
		cmocka_unit_test(a_value_cut_mid_text_keeps_whole_characters),
		cmocka_unit_test(a_line_one_byte_too_long_is_cut_too),
		cmocka_unit_test(the_time_is_utc_to_the_millisecond),
		cmocka_unit_test(a_notice_cut_to_fit_ends_in_a_newline),
		cmocka_unit_test(a_notice_without_room_for_text_is_not_written),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
