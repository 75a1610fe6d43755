/* Unit tests: PRA extraction (RFC 4407 §2) and the RFC 5322 address forms
 * it must read. Table-driven: message headers → expected PRA, written as
 * "Header: local@domain" or "none". */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "verify/msg_headers.h"
#include "verify/pra.h"

struct pra_case {
	const char *name;
	const char *headers; /* LF line ends; converted to CRLF as well */
	const char *want;
};

static const struct pra_case cases[] = {
	/* --- selection rules (RFC 4407 §2 steps 1-6) --- */
	{"from only", "From: a@example.org\n", "From: a@example.org"},
	{"sender beats from", "From: a@example.org\nSender: s@example.net\n", "Sender: s@example.net"},
	{"resent-from beats sender", "Resent-From: r@example.com\nSender: s@example.net\nFrom: a@example.org\n",
	 "Resent-From: r@example.com"},
	{"resent-sender beats resent-from (same block)",
	 "Resent-Sender: rs@example.com\nResent-From: rf@example.com\nFrom: a@example.org\n",
	 "Resent-Sender: rs@example.com"},
	{"resent-from then resent-sender, no trace between",
	 "Resent-From: rf@example.com\nResent-Sender: rs@example.com\nFrom: a@example.org\n",
	 "Resent-Sender: rs@example.com"},
	{"resent-sender of an older block (Received between) is skipped",
	 "Resent-From: new@example.com\nReceived: from x by y\nResent-Sender: old@example.com\n",
	 "Resent-From: new@example.com"},
	{"resent-sender of an older block (Return-Path between) is skipped",
	 "Resent-From: new@example.com\nReturn-Path: <p@example.com>\nResent-Sender: old@example.com\n",
	 "Resent-From: new@example.com"},
	{"trace after an earlier resent-from still marks the block old",
	 "Resent-From: newest@example.com\nReceived: x\nResent-From: mid@example.com\nResent-Sender: old@example.com\n",
	 "Resent-From: newest@example.com"},
	{"trace before any resent-from does not matter",
	 "Received: x\nResent-Sender: rs@example.com\nResent-From: rf@example.com\n",
	 "Resent-Sender: rs@example.com"},
	{"trace above the resent-from (not between it and the resent-sender) does not matter",
	 "Received: x\nResent-From: rf@example.com\nResent-Sender: rs@example.com\n",
	 "Resent-Sender: rs@example.com"},
	{"first non-empty resent-sender is chosen",
	 "Resent-Sender: first@example.com\nResent-Sender: second@example.com\n",
	 "Resent-Sender: first@example.com"},
	{"empty resent-sender is ignored", "Resent-Sender:   \nFrom: a@example.org\n", "From: a@example.org"},
	{"empty resent-from is ignored", "Resent-From:\nSender: s@example.net\n", "Sender: s@example.net"},
	{"first non-empty resent-from is chosen",
	 "Resent-From: one@example.com\nResent-From: two@example.com\n", "Resent-From: one@example.com"},
	{"two senders: no PRA", "Sender: s1@example.net\nSender: s2@example.net\nFrom: a@example.org\n", "none"},
	{"empty sender is ignored", "Sender: \nFrom: a@example.org\n", "From: a@example.org"},
	{"empty from is ignored (step 5: the non-empty From headers)", "From:\nFrom: a@example.org\n",
	 "From: a@example.org"},
	{"two froms: no PRA", "From: a@example.org\nFrom: b@example.org\n", "none"},
	{"no headers at all", "Subject: hi\nTo: x@example.com\n", "none"},
	{"from with two mailboxes: no PRA", "From: a@example.org, b@example.org\n", "none"},
	{"malformed sender does not fall back to from", "Sender: not an address\nFrom: a@example.org\n", "none"},
	{"sender without a domain", "Sender: justlocal\n", "none"},
	{"resent-from with two mailboxes: no PRA", "Resent-From: a@x.org, b@y.org\nFrom: c@z.org\n", "none"},
	{"header names are case-insensitive", "fROM: a@example.org\nsENDER: s@example.net\n",
	 "Sender: s@example.net"},
	{"whitespace before the colon (obs-field)", "Sender : s@example.net\n", "Sender: s@example.net"},
	{"body lines are not headers", "From: a@example.org\n\nSender: s@example.net\n", "From: a@example.org"},
	{"address literal is not a domain name", "From: a@[192.0.2.1]\n", "none"},
	{"empty angle address", "From: <>\n", "none"},
	/* --- address syntax forms --- */
	{"display name", "From: Alice Example <alice@example.org>\n", "From: alice@example.org"},
	{"quoted display name", "From: \"Example, Alice\" <alice@example.org>\n", "From: alice@example.org"},
	{"quoted display name with escapes", "From: \"A \\\"Q\\\" B\" <a@example.org>\n", "From: a@example.org"},
	{"comment after address", "From: a@example.org (Alice)\n", "From: a@example.org"},
	{"nested comments", "From: (x (y) z) a@example.org (c (d))\n", "From: a@example.org"},
	{"comments inside the addr-spec", "From: a(c1)@(c2)example.org\n", "From: a@example.org"},
	{"folded across lines", "From: Alice\n <alice@\n example.org>\n", "From: alice@example.org"},
	{"folded with tabs", "From:\n\tAlice <alice@example.org>\n", "From: alice@example.org"},
	{"quoted local-part", "From: \"john smith\"@example.org\n", "From: john smith@example.org"},
	{"quoted local-part with quoted-pair", "From: \"a\\\"b\"@example.org\n", "From: a\"b@example.org"},
	{"dotted local-part", "From: first.last@example.org\n", "From: first.last@example.org"},
	{"atext specials in local-part", "From: o'neil+tag=x@example.org\n", "From: o'neil+tag=x@example.org"},
	{"obs-local-part with spaces around dots", "From: first . last@example.org\n", "From: first.last@example.org"},
	{"obs-domain with spaces around dots", "From: a@example . org\n", "From: a@example.org"},
	{"obs-phrase with a dot", "From: John Q. Public <jqp@example.org>\n", "From: jqp@example.org"},
	{"obs-route", "From: <@relay1.example,@relay2.example:a@example.org>\n", "From: a@example.org"},
	{"group with one mailbox", "From: Team: a@example.org;\n", "From: a@example.org"},
	{"empty group", "From: undisclosed-recipients:;\n", "none"},
	{"group with two mailboxes", "From: Team: a@example.org, b@example.org;\n", "none"},
	{"obs empty list elements", "From: , a@example.org ,\n", "From: a@example.org"},
	{"UTF-8 display name (RFC 6532)", "From: J\xc3\xb6rg <j@example.org>\n", "From: j@example.org"},
	{"unterminated angle", "From: Alice <a@example.org\n", "none"},
	{"unterminated quoted string", "From: \"Alice <a@example.org>\n", "none"},
	{"unterminated comment", "From: a@example.org (oops\n", "none"},
	{"stray closing paren", "From: a@example.org )\n", "none"},
	{"dot at end of local-part", "From: a.@example.org\n", "none"},
	{"double dot in domain", "From: a@example..org\n", "none"},
	{"missing local-part", "From: @example.org\n", "none"},
	{"group nested in group", "From: g1: g2: a@example.org;;\n", "none"},
};

static void format_pra(const struct pra *p, char *buf, size_t size)
{
	if (p->source == PRA_NONE) {
		snprintf(buf, size, "none");
		return;
	}
	char local[256], domain[256];
	addr_local_text(&p->mailbox, local, sizeof local);
	addr_domain_text(&p->mailbox, domain, sizeof domain);
	snprintf(buf, size, "%s: %s@%s", pra_source_name(p->source), local, domain);
}

static void run_case(const struct pra_case *c, bool crlf)
{
	char msg[1024], got[600];
	size_t n = 0;
	for (const char *p = c->headers; *p; p++) {
		if (*p == '\n' && crlf)
			msg[n++] = '\r';
		msg[n++] = *p;
	}
	memcpy(msg + n, crlf ? "\r\nbody\r\n" : "\nbody\n", crlf ? 8 : 6);
	n += crlf ? 8 : 6;
	struct pra p;
	int rc = pra_extract(msg, n, &p);
	format_pra(&p, got, sizeof got);
	if (strcmp(got, c->want) != 0)
		fail_msg("%s (%s): want '%s', got '%s'%s%s", c->name, crlf ? "CRLF" : "LF",
			 c->want, got, p.why ? " — " : "", p.why ? p.why : "");
	assert_int_equal(rc, strcmp(c->want, "none") == 0 ? -1 : 0);
	if (rc == 0) { /* the slices point into the message itself */
		assert_true(p.mailbox.local >= msg && p.mailbox.local < msg + n);
		assert_true(p.mailbox.domain >= msg && p.mailbox.domain < msg + n);
	} else {
		assert_non_null(p.why);
	}
}

static void every_case_lf_and_crlf(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		run_case(&cases[i], false);
		run_case(&cases[i], true);
	}
	print_message("# %zu PRA cases, each with LF and CRLF line ends\n",
		      sizeof cases / sizeof cases[0]);
}

static void header_iterator_slices(void **state)
{
	(void)state;
	const char msg[] = "A: 1\r\nBee:two\r\n  folded\r\nnot a header line\r\nC: \r\n\r\nD: body\r\n";
	struct msg_header_iter it;
	struct msg_field f;
	msg_headers_begin(&it, msg, sizeof msg - 1);
	assert_true(msg_headers_next(&it, &f));
	assert_true(msg_field_is(&f, "a"));
	assert_int_equal(f.value_len, 2);
	assert_true(msg_headers_next(&it, &f));
	assert_true(msg_field_is(&f, "BEE"));
	assert_int_equal(f.value_len, strlen("two\r\n  folded"));
	assert_memory_equal(f.value, "two\r\n  folded", f.value_len);
	assert_true(msg_headers_next(&it, &f));
	assert_true(msg_field_is(&f, "C"));
	assert_false(msg_field_nonempty(&f));
	assert_false(msg_headers_next(&it, &f)); /* stops at the empty line */
	assert_int_equal(it.skipped, 1);
}

static void mailbox_counts(void **state)
{
	(void)state;
	struct addr_mailbox m[4];
	const char *three = "a@x.org, B <b@y.org>, g: c@z.org;";
	assert_int_equal(addr_parse_list(three, strlen(three), m, 4), 3);
	char d[64];
	addr_domain_text(&m[2], d, sizeof d);
	assert_string_equal(d, "z.org");
	/* More mailboxes than room: all are counted, the first stored. */
	assert_int_equal(addr_parse_list(three, strlen(three), m, 1), 3);
	assert_int_equal(addr_parse_list("", 0, m, 1), 0);
	assert_int_equal(addr_parse_list("nodomain", 8, m, 1), ADDR_ERR_NO_DOMAIN);
	assert_int_equal(addr_parse_list("a@b.c >", 7, m, 1), ADDR_ERR_SYNTAX);
	/* Deeply nested comments are bounded. */
	char deep[200];
	memset(deep, '(', 100);
	memset(deep + 100, ')', 100);
	assert_int_equal(addr_parse_list(deep, sizeof deep, m, 1), ADDR_ERR_SYNTAX);
}

/* A line with nothing before its colon is not a field (an empty name),
 * a field name matches only in full, and a value of blanks and tabs is
 * empty. */
static void header_iterator_edges(void **state)
{
	(void)state;
	const char msg[] = ": no name\r\nFro: x\r\nB:\t \t\r\n\r\n";
	struct msg_header_iter it;
	struct msg_field f;
	msg_headers_begin(&it, msg, sizeof msg - 1);
	assert_true(msg_headers_next(&it, &f));
	assert_int_equal(f.name_len, 3);
	assert_true(msg_field_is(&f, "fro"));
	assert_false(msg_field_is(&f, "From")); /* not a prefix match */
	assert_true(msg_headers_next(&it, &f));
	assert_true(msg_field_is(&f, "B"));
	assert_false(msg_field_nonempty(&f)); /* tabs are whitespace */
	assert_false(msg_headers_next(&it, &f));
	assert_int_equal(it.skipped, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_case_lf_and_crlf),
		cmocka_unit_test(header_iterator_slices),
		cmocka_unit_test(mailbox_counts),
		cmocka_unit_test(header_iterator_edges),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
