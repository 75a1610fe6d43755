/* Unit tests: loadgen_msgs — the DATA payload, envelope addresses from the
 * headers, and the order a corpus directory is read in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/loadgen_msgs.h"

static void stuff(const char *raw, const char *want)
{
	size_t n = strlen(raw);
	char *out = malloc(2 * n + 5);
	size_t len = lg_msg_stuff(raw, n, out);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(out, want, len);
	free(out);
}

static void payload_gets_crlf_dot_stuffing_and_the_end_marker(void **state)
{
	(void)state;
	stuff("a\n.b\r\n..c\r\n", "a\r\n..b\r\n...c\r\n.\r\n");
	stuff("no end", "no end\r\n.\r\n");
	stuff("", ".\r\n");
	stuff(".", "..\r\n.\r\n");
	stuff("x\r\n.\r\n", "x\r\n..\r\n.\r\n"); /* a lone dot is not the end */
	stuff("a\r", "a\r\n.\r\n");
	stuff("\n\n", "\r\n\r\n.\r\n");
}

static void addr(const char *msg, const char *field, int rc, const char *want)
{
	char out[64] = "";
	assert_int_equal(lg_msg_header_addr(msg, strlen(msg), field, out, sizeof out), rc);
	if (rc == 0)
		assert_string_equal(out, want);
}

static void envelope_addresses_come_from_the_header_section(void **state)
{
	(void)state;
	const char *m = "DKIM-Signature: v=1;\r\n d=x; from=<not@this>\r\n"
			"from: Alice Example <alice@corpus.example>\r\n"
			"Fromage: cheese@x\r\n"
			"To:\r\n\tbob@mx.test (Bob)\r\n"
			"Subject: hi\r\n\r\n"
			"Cc: carol@body.example\r\n";
	addr(m, "From", 0, "alice@corpus.example");
	addr(m, "To", 0, "bob@mx.test");
	addr(m, "Cc", -ENOENT, NULL); /* that one is in the body */
	addr(m, "Reply-To", -ENOENT, NULL);
	addr("From: <>\n\nx", "From", -ENOENT, NULL);
	addr("From: a@b\n", "From", 0, "a@b"); /* LF only, no body */
	addr("From: x <aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa@b>\r\n\r\n",
	     "From", -ENAMETOOLONG, NULL);
}

static char dir[] = "/tmp/test_loadgen_msgs.XXXXXX";

static void put(const char *name, const char *text)
{
	char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void a_corpus_is_read_in_manifest_order_with_its_own_envelopes(void **state)
{
	(void)state;
	assert_non_null(mkdtemp(dir));
	put("b.eml", "From: <b@one.example>\r\nTo: r@mx.test\r\n\r\nbody b\r\n");
	put("a.eml", "Subject: no From\r\n\r\nbody a\r\n");
	put("c.eml", "From: c@two.example\r\n\r\n.c\r\n");
	struct lg_msgset s = {0};
	/* Without a MANIFEST: *.eml sorted by name. */
	assert_int_equal(lg_msgset_add_dir(&s, dir, NULL, NULL, "fb@x", "fr@y"), 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.v[0].name, "a.eml");
	assert_string_equal(s.v[0].envelope, "MAIL FROM:<fb@x>\r\nRCPT TO:<fr@y>\r\nDATA\r\n");
	assert_string_equal(s.v[1].envelope, "MAIL FROM:<b@one.example>\r\nRCPT TO:<r@mx.test>\r\nDATA\r\n");
	assert_int_equal(s.v[1].mail_len, strlen("MAIL FROM:<b@one.example>\r\n"));
	assert_int_equal(s.v[1].rcpt_len, strlen("RCPT TO:<r@mx.test>\r\n"));
	assert_memory_equal(s.v[2].data, "From: c@two.example\r\n\r\n..c\r\n.\r\n", s.v[2].data_len);
	lg_msgset_free(&s);

	/* With one: its order, and only what it lists; --from/--to win. */
	put("MANIFEST", "c.eml 00 pass\nb.eml 11 fail\n");
	assert_int_equal(lg_msgset_add_dir(&s, dir, "f@fixed", NULL, "fb@x", "fr@y"), 0);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.v[0].name, "c.eml");
	assert_string_equal(s.v[0].envelope, "MAIL FROM:<f@fixed>\r\nRCPT TO:<fr@y>\r\nDATA\r\n");
	assert_string_equal(s.v[1].name, "b.eml");
	lg_msgset_free(&s);

	put("MANIFEST", "missing.eml 00 pass\n");
	assert_int_equal(lg_msgset_add_dir(&s, dir, NULL, NULL, "a@b", "c@d"), -ENOENT);
	lg_msgset_free(&s);
	put("MANIFEST", "");
	assert_int_equal(lg_msgset_add_dir(&s, dir, NULL, NULL, "a@b", "c@d"), -ENOENT);
	lg_msgset_free(&s);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(payload_gets_crlf_dot_stuffing_and_the_end_marker),
		cmocka_unit_test(envelope_addresses_come_from_the_header_section),
		cmocka_unit_test(a_corpus_is_read_in_manifest_order_with_its_own_envelopes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
