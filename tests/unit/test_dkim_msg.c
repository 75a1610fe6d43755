/*
 * test_dkim_msg — header-field index and bottom-up selection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/dkim_msg.h"

#include <stdlib.h>
#include <string.h>

static struct dkim_slice S(const char *s)
{
	return (struct dkim_slice){s, strlen(s)};
}

static void test_fields_and_body(void **state)
{
	(void)state;
	static const char m[] = "From: a\r\nSubject : x\r\n\ty\r\n z\r\nNoColon\r\nX:\n bare\r\n\r\nbody\r\n";
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, m, strlen(m)), 0);
	assert_int_equal(msg.n, 4);
	assert_int_equal(msg.f[0].len, 9);
	assert_int_equal(msg.f[1].namelen, 7); /* "Subject", space before ':' dropped */
	assert_memory_equal(msg.f[1].p, "Subject : x\r\n\ty\r\n z\r\n", msg.f[1].len);
	assert_int_equal(msg.f[2].namelen, 0);
	assert_memory_equal(msg.f[3].p, "X:\n bare\r\n", msg.f[3].len); /* bare LF is a field byte */
	assert_true(dkim_field_is(&msg.f[1], "subject"));
	assert_false(dkim_field_is(&msg.f[1], "subjec"));
	assert_int_equal(msg.bodylen, 6);
	assert_memory_equal(msg.body, "body\r\n", 6);
	assert_false(msg.truncated);
	dkim_msg_free(&msg);
}

static void test_no_blank_line(void **state)
{
	(void)state;
	static const char m[] = "From: a\r\nTo: b";
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, m, strlen(m)), 0);
	assert_int_equal(msg.n, 2);
	assert_int_equal(msg.bodylen, 0);
	dkim_msg_free(&msg);
	assert_int_equal(dkim_msg_index(&msg, "", 0), 0);
	assert_int_equal(msg.n, 0);
	dkim_msg_free(&msg);
	assert_int_equal(dkim_msg_index(&msg, "\r\nonly body", 11), 0);
	assert_int_equal(msg.n, 0);
	assert_int_equal(msg.bodylen, 9);
	dkim_msg_free(&msg);
}

static void test_selection_bottom_up_and_oversigning(void **state)
{
	(void)state;
	static const char m[] = "Received: 1\r\nFROM: x\r\nReceived: 2\r\nTo: y\r\n\r\n";
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, m, strlen(m)), 0);
	dkim_msg_select_begin(&msg);
	const struct dkim_field *f = dkim_msg_select(&msg, S("received"));
	assert_non_null(f);
	assert_memory_equal(f->p, "Received: 2", 11);
	f = dkim_msg_select(&msg, S("RECEIVED"));
	assert_memory_equal(f->p, "Received: 1", 11);
	assert_null(dkim_msg_select(&msg, S("received"))); /* over-signed: null */
	assert_non_null(dkim_msg_select(&msg, S("from")));
	assert_null(dkim_msg_select(&msg, S("from")));
	assert_null(dkim_msg_select(&msg, S("cc")));
	dkim_msg_select_begin(&msg); /* next signature: all available again */
	f = dkim_msg_select(&msg, S("received"));
	assert_memory_equal(f->p, "Received: 2", 11);
	dkim_msg_free(&msg);
}

static void test_field_cap(void **state)
{
	(void)state;
	size_t n = (DKIM_MSG_MAX_FIELDS + 10) * 6 + 2;
	char *m = malloc(n);
	for (size_t i = 0; i < DKIM_MSG_MAX_FIELDS + 10; i++)
		memcpy(m + i * 6, "X: y\r\n", 6);
	memcpy(m + n - 2, "\r\n", 2);
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, m, n), 0);
	assert_true(msg.truncated);
	assert_int_equal(msg.n, DKIM_MSG_MAX_FIELDS);
	assert_int_equal(msg.bodylen, 0);
	dkim_msg_free(&msg);
	free(m);
}

/* A bare LF is a field byte: ending a field there lets "X: a\nFrom: evil"
 * pass as a From field. */
static void a_bare_lf_does_not_end_a_field(void **state)
{
	(void)state;
	static const char m[] = "X: a\nFrom: evil\r\nTo: b\r\n\r\n";
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, m, strlen(m)), 0);
	assert_int_equal(msg.n, 2);
	assert_int_equal(msg.f[0].len, 17);
	dkim_msg_select_begin(&msg);
	assert_null(dkim_msg_select(&msg, S("from")));
	dkim_msg_free(&msg);
}

/* A buffer that starts with a bare LF: that LF is a field byte, and
 * nothing before the buffer is read (an exact heap copy for ASan). */
static void leading_bare_lf_is_a_field_byte(void **state)
{
	(void)state;
	static const char m[] = "\nX: a\r\n\r\n";
	char *copy = malloc(sizeof m - 1);
	assert_non_null(copy);
	memcpy(copy, m, sizeof m - 1);
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, copy, sizeof m - 1), 0);
	assert_int_equal(msg.n, 1);
	assert_int_equal(msg.f[0].len, 7);
	dkim_msg_free(&msg);
	free(copy);
}

/* WSP before the colon is not part of the name (RFC 5322 §4.5 obsolete
 * syntax, RFC 6376 §3.4.2): a tab as well as a space. */
static void tab_before_colon_not_in_name(void **state)
{
	(void)state;
	static const char m[] = "Subject\t: x\r\n\r\n";
	struct dkim_msg msg;
	assert_int_equal(dkim_msg_index(&msg, m, strlen(m)), 0);
	assert_int_equal(msg.f[0].namelen, 7);
	dkim_msg_select_begin(&msg);
	assert_non_null(dkim_msg_select(&msg, S("subject")));
	dkim_msg_free(&msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fields_and_body),
		cmocka_unit_test(test_no_blank_line),
		cmocka_unit_test(test_selection_bottom_up_and_oversigning),
		cmocka_unit_test(test_field_cap),
		cmocka_unit_test(a_bare_lf_does_not_end_a_field),
		cmocka_unit_test(leading_bare_lf_is_a_field_byte),
		cmocka_unit_test(tab_before_colon_not_in_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
