/* Unit tests: dns_zone — the master-file parser (every escape, every error
 * path) and answering from the overlay. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify/dns_zone.h"

static struct dns_zone *parse_ok(const char *text)
{
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(text, strlen(text), "t.zone", &err);
	if (!z)
		fail_msg("unexpected parse error: %s", err.msg);
	return z;
}

/* Parse must fail with exactly this message (file:line: what). */
static void parse_err(const char *text, const char *want)
{
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(text, strlen(text), "t.zone", &err);
	if (z) {
		dns_zone_free(z);
		fail_msg("parsed, but expected error '%s'", want);
	}
	if (strstr(err.msg, want) == NULL)
		fail_msg("error '%s' does not contain '%s'", err.msg, want);
}

static struct dns_answer *ask(struct dns_zone *z, const char *name,
			      enum dns_type t)
{
	struct dns_answer *a = dns_zone_answer(z, name, t, false);
	assert_non_null(a);
	return a;
}

static void records_of_every_type(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok(
		"$ORIGIN example.com.\n"
		"$TTL 600\n"
		"@      IN A     192.0.2.1\n"
		"@         AAAA  2001:db8::1\n"
		"@         MX    10 mx1\n"
		"@         MX    20 mx2.other.net.\n"
		"@         TXT   \"v=spf1 -all\"\n"
		"1.2.0.192.in-addr.arpa. PTR host.example.com.\n"
		"www       CNAME @\n"
		"@         NS    ns1\n"
		"@         SPF   \"v=spf1 ?all\"\n");
	struct dns_answer *a = ask(z, "example.com", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->ttl, 600);
	assert_int_equal(ntohl(a->records[0].u.a.s_addr), 0xc0000201);
	dns_answer_release(a);

	a = ask(z, "example.com", DNS_TYPE_MX);
	assert_int_equal(a->count, 2);
	assert_string_equal(a->records[0].u.mx.host, "mx1.example.com");
	assert_string_equal(a->records[1].u.mx.host, "mx2.other.net");
	assert_int_equal(a->records[1].u.mx.preference, 20);
	dns_answer_release(a);

	a = ask(z, "1.2.0.192.in-addr.arpa", DNS_TYPE_PTR);
	assert_string_equal(a->records[0].u.ptr, "host.example.com");
	dns_answer_release(a);

	a = ask(z, "www.example.com", DNS_TYPE_AAAA);
	assert_int_equal(a->status, DNS_DATA);
	assert_string_equal(a->canonical, "example.com");
	dns_answer_release(a);

	a = ask(z, "example.com", DNS_TYPE_NS);
	assert_string_equal(a->records[0].u.ptr, "ns1.example.com");
	dns_answer_release(a);

	a = ask(z, "example.com", DNS_TYPE_SPF);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void txt_escapes_and_multiple_strings(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok(
		"t.test. TXT \"a \\\"quoted\\\" word\" \"back\\\\slash\" "
		"\"\\000nul\\255\" unquoted \"\\x\" \"\"\n");
	struct dns_answer *a = ask(z, "t.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_DATA);
	const struct dns_txt *t = &a->records[0].u.txt;
	assert_int_equal(t->nstrings, 6);
	const uint8_t *p = t->data;
	assert_int_equal(t->lens[0], 15);
	assert_memory_equal(p, "a \"quoted\" word", 15);
	p += t->lens[0];
	assert_int_equal(t->lens[1], 10);
	assert_memory_equal(p, "back\\slash", 10);
	p += t->lens[1];
	assert_int_equal(t->lens[2], 5);
	assert_memory_equal(p, "\0nul\xff", 5);
	p += t->lens[2];
	assert_int_equal(t->lens[3], 8);
	assert_memory_equal(p, "unquoted", 8);
	p += t->lens[3];
	assert_int_equal(t->lens[4], 1); /* \x is a plain x */
	assert_int_equal(p[0], 'x');
	assert_int_equal(t->lens[5], 0);
	assert_int_equal(t->len, 15 + 10 + 5 + 8 + 1);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void parentheses_comments_and_blank_owner(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok(
		"; leading comment\n"
		"\n"
		"k.test. 120 IN TXT ( \"part one \" ; a comment inside\n"
		"                   \"part two\" )\n"
		"        IN TXT \"second record\"\r\n"
		"   A 127.0.0.1 ; owner carried over\n");
	struct dns_answer *a = ask(z, "k.test", DNS_TYPE_TXT);
	assert_int_equal(a->count, 2);
	char buf[64];
	dns_txt_join(&a->records[0].u.txt, buf, sizeof buf);
	assert_string_equal(buf, "part one part two");
	assert_int_equal(a->records[0].u.txt.nstrings, 2);
	assert_int_equal(a->records[0].ttl, 120);
	assert_int_equal(a->records[1].ttl, 3600); /* default without $TTL */
	dns_answer_release(a);
	a = ask(z, "k.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void ttl_units_and_class_order(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("$TTL 1h30m\n"
				      "a.test. A 127.0.0.1\n"
				      "b.test. IN 2d A 127.0.0.2\n"
				      "c.test. 1w IN A 127.0.0.3\n");
	struct dns_answer *a = ask(z, "a.test", DNS_TYPE_A);
	assert_int_equal(a->ttl, 5400);
	dns_answer_release(a);
	a = ask(z, "b.test", DNS_TYPE_A);
	assert_int_equal(a->ttl, 172800);
	dns_answer_release(a);
	a = ask(z, "c.test", DNS_TYPE_A);
	assert_int_equal(a->ttl, 604800);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void names_are_case_insensitive_and_escaped(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("$ORIGIN Example.COM.\n"
				      "Mixed A 127.0.0.1\n"
				      "with\\032space TXT x\n");
	struct dns_answer *a = ask(z, "mixed.example.com", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	a = ask(z, "with space.example.com", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void negative_answers(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("$TTL 300\n"
				      "example.com. SOA ns h 1 2 3 4 60\n"
				      "deep.sub.example.com. A 127.0.0.1\n");
	struct dns_answer *a = ask(z, "nothere.example.com", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_NXDOMAIN);
	assert_int_equal(a->ttl, 60); /* min(SOA TTL 300, MINIMUM 60) */
	assert_true(a->cacheable);
	dns_answer_release(a);
	/* An empty non-terminal exists: NODATA, as real DNS answers. */
	a = ask(z, "sub.example.com", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_NODATA);
	dns_answer_release(a);
	a = ask(z, "deep.sub.example.com", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_NODATA);
	dns_answer_release(a);
	/* Outside any SOA: the zone's default TTL. */
	a = ask(z, "other.net", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_NXDOMAIN);
	assert_int_equal(a->ttl, 300);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void overlay_falls_through_for_names_it_lacks(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("deep.sub.example.com. A 127.0.0.1\n");
	assert_null(dns_zone_answer(z, "absent.example.com", DNS_TYPE_A, true));
	assert_null(dns_zone_answer(z, "sub.example.com", DNS_TYPE_A, true));
	struct dns_answer *a = dns_zone_answer(z, "deep.sub.example.com", DNS_TYPE_MX, true);
	assert_non_null(a);
	assert_int_equal(a->status, DNS_NODATA);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void timeout_and_servfail_pseudo_types(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("slow.test. TIMEOUT\n"
				      "slow.test. TXT \"answered\"\n"
				      "broken.test. SERVFAIL\n");
	struct dns_answer *a = ask(z, "slow.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	a = ask(z, "slow.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_TEMPFAIL);
	assert_int_equal(a->why, DNS_WHY_TIMEOUT);
	assert_false(a->cacheable);
	dns_answer_release(a);
	a = ask(z, "broken.test", DNS_TYPE_MX);
	assert_int_equal(a->status, DNS_TEMPFAIL);
	assert_int_equal(a->why, DNS_WHY_SERVFAIL);
	dns_answer_release(a);
	dns_zone_free(z);
}

static void cname_to_absent_and_loops(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("a.test. CNAME b.test.\n"
				      "b.test. CNAME a.test.\n"
				      "dangling.test. CNAME nowhere.test.\n");
	struct dns_answer *a = ask(z, "a.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	assert_int_equal(a->why, DNS_WHY_CNAME_LOOP);
	dns_answer_release(a);
	a = ask(z, "dangling.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_NXDOMAIN);
	assert_string_equal(a->canonical, "nowhere.test");
	dns_answer_release(a);
	a = ask(z, "dangling.test", DNS_TYPE_CNAME);
	assert_int_equal(a->status, DNS_DATA);
	assert_string_equal(a->records[0].u.ptr, "nowhere.test");
	dns_answer_release(a);
	dns_zone_free(z);
}

static void null_mx(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("n.test. MX 0 .\n");
	struct dns_answer *a = ask(z, "n.test", DNS_TYPE_MX);
	assert_int_equal(a->status, DNS_DATA);
	assert_string_equal(a->records[0].u.mx.host, "");
	dns_answer_release(a);
	dns_zone_free(z);
}

static void every_error_names_file_and_line(void **state)
{
	(void)state;
	parse_err("a.test. A 1.2.3.4\nb.test. WKS x\n", "t.zone:2: unknown record type 'WKS'");
	parse_err("a.test. A 1.2.3.999\n", "t.zone:1: bad IPv4 address '1.2.3.999'");
	parse_err("a.test. AAAA 1.2.3.4\n", "t.zone:1: bad IPv6 address");
	parse_err("a.test. MX 70000 mx.test.\n", "t.zone:1: MX: bad preference '70000'");
	parse_err("a.test. MX 10\n", "t.zone:1: MX: missing rdata");
	parse_err("a.test. A 1.2.3.4 5.6.7.8\n", "t.zone:1: A: trailing data '5.6.7.8'");
	parse_err("\n\na.test. TXT \"open\n", "t.zone:3: unterminated quoted string");
	parse_err("a.test. TXT ( \"x\"\n\n", "t.zone:1: unbalanced '('");
	parse_err("a.test. TXT \"x\" )\n", "t.zone:1: unbalanced ')'");
	parse_err("a.test. TXT \"\\256\"\n", "t.zone:1: \\256 escape is over 255");
	parse_err("a.test. TXT \"\\12\"\n", "t.zone:1: \\DDD escape needs three digits");
	parse_err("a.test. TXT x\\", "t.zone:1: backslash at end of file");
	parse_err("a.test. TXT\n", "t.zone:1: TXT: missing rdata");
	parse_err("  A 127.0.0.1\n", "t.zone:1: record without an owner name");
	parse_err("$INCLUDE other.zone\n", "t.zone:1: unsupported directive '$INCLUDE'");
	parse_err("$TTL forever\n", "t.zone:1: $TTL takes one TTL value");
	parse_err("$ORIGIN\n", "t.zone:1: $ORIGIN takes one name");
	parse_err("a.test. CH A 127.0.0.1\n", "t.zone:1: only class IN is supported");
	parse_err("a.test. 300\n", "t.zone:1: missing record type");
	parse_err("a.test. CNAME b.test.\na.test. A 127.0.0.1\n",
		  "t.zone:2: CNAME at 'a.test' cannot share the name");
	parse_err("\"quoted.test.\" A 127.0.0.1\n", "t.zone:1: a name may not be quoted");
	parse_err("a\\.b.test. A 127.0.0.1\n", "t.zone:1: escaped '.' inside a label");
	parse_err("a\\000b.test. A 127.0.0.1\n", "t.zone:1: bad or over-long name");
	parse_err("a..test. A 127.0.0.1\n", "t.zone:1: bad name 'a..test.'");
	parse_err("x.test. TIMEOUT 5\n", "t.zone:1: TIMEOUT takes no rdata");
	parse_err("x.test. SOA ns h 1 2 3 4\n", "t.zone:1: SOA: missing rdata");
	parse_err("x.test. SOA ns h 1 2 3 4 x\n", "t.zone:1: SOA: bad number 'x'");

	char label[200];
	snprintf(label, sizeof label, "%064d.test. A 127.0.0.1\n", 0);
	parse_err(label, "t.zone:1: bad name");
	char name[400] = "";
	for (int i = 0; i < 26; i++)
		strcat(name, "abcdefghi.");
	strcat(name, " A 127.0.0.1\n");
	parse_err(name, "t.zone:1: bad name"); /* 260 octets */

	char txt[400] = "x.test. TXT \"";
	memset(txt + strlen(txt), 'a', 256);
	strcat(txt, "\"\n");
	parse_err(txt, "t.zone:1: TXT: string 1 is 256 octets, over 255");
}

static void load_reports_missing_file(void **state)
{
	(void)state;
	struct dns_zone_error err;
	assert_null(dns_zone_load("/nonexistent/authgate.zone", &err));
	assert_non_null(strstr(err.msg, "/nonexistent/authgate.zone: No such file"));
}

static void load_reads_a_file(void **state)
{
	(void)state;
	char path[] = "/tmp/authgate-zone-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("f.test. A 127.0.0.9\nbad line here\n", f);
	fclose(f);
	struct dns_zone_error err;
	assert_null(dns_zone_load(path, &err));
	char want[128];
	snprintf(want, sizeof want, "%s:2: unknown record type 'line'", path);
	assert_string_equal(err.msg, want);
	unlink(path);
}

/* \046 decodes to '.', so it is as much an escaped dot as "\." is. */
static void escaped_dot_as_ddd_is_rejected_in_names(void **state)
{
	(void)state;
	parse_err("a\\046b.test. A 127.0.0.1\n", "t.zone:1: escaped '.' inside a label");
}

/* A backslash cannot escape a line end, and a quoted string cannot run
 * on into the next line: both are errors, not data swallowing the next
 * record. */
static void line_end_is_never_escaped_or_quoted(void **state)
{
	(void)state;
	parse_err("a.test. TXT x\\\nb.test. A 127.0.0.1\n",
		  "t.zone:1: backslash before end of line");
	parse_err("a.test. TXT \"open\nb.test. A 127.0.0.1 \"\n",
		  "t.zone:1: unterminated quoted string");
}

static void tab_also_starts_a_blank_owner(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("k.test. A 127.0.0.1\n"
				      "\tTXT \"carried over\"\n");
	struct dns_answer *a = ask(z, "k.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	dns_zone_free(z);
}

/* A name first added as an empty non-terminal and later given records of
 * its own is an owner like any other: the overlay answers it. */
static void ancestor_given_records_later_is_answered_by_overlay(void **state)
{
	(void)state;
	struct dns_zone *z = parse_ok("deep.sub.example.com. A 127.0.0.1\n"
				      "sub.example.com. A 127.0.0.2\n");
	struct dns_answer *a = dns_zone_answer(z, "sub.example.com", DNS_TYPE_A, true);
	assert_non_null(a);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
	dns_zone_free(z);
}

/* The bounds themselves are allowed: a name of 253 octets, and a TTL of
 * 2^31 - 1 (RFC 2181 §8), one more is not a TTL. */
static void largest_name_and_ttl_are_accepted(void **state)
{
	(void)state;
	char name[300], text[400];
	snprintf(name, sizeof name, "%063d.%063d.%063d.%061d", 1, 2, 3, 4);
	assert_int_equal(strlen(name), 253);
	snprintf(text, sizeof text, "%s. 2147483647 A 127.0.0.1\n", name);
	struct dns_zone *z = parse_ok(text);
	struct dns_answer *a = ask(z, name, DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->records[0].ttl, 2147483647u);
	dns_answer_release(a);
	dns_zone_free(z);
	parse_err("$TTL 2147483648\n", "t.zone:1: $TTL takes one TTL value");
}

/* Every unit needs its number: "1hm" is not 1h plus nothing. */
static void ttl_unit_without_a_number_is_refused(void **state)
{
	(void)state;
	parse_err("$TTL 1hm\n", "t.zone:1: $TTL takes one TTL value");
}

/* RDATA is at most 65535 octets (RFC 1035 §3.2.1 RDLENGTH): 257 strings
 * of 255 octets, each with its length octet, are 65792. */
static void txt_rdata_over_65535_octets_is_refused(void **state)
{
	(void)state;
	size_t size = 16 + 257 * 258 + 2;
	char *text = malloc(size), *p = text;
	assert_non_null(text);
	p += sprintf(p, "x.test. TXT");
	for (int i = 0; i < 257; i++) {
		*p++ = ' ';
		memset(p, 'a', 255);
		p += 255;
	}
	strcpy(p, "\n");
	parse_err(text, "t.zone:1: TXT: rdata over 65535 octets");
	free(text);
}

/* The CNAME rule holds in both orders: a CNAME after other data is as
 * wrong as data after a CNAME (RFC 1034 §3.6.2). */
static void cname_after_other_data_is_refused(void **state)
{
	(void)state;
	parse_err("a.test. A 127.0.0.1\na.test. CNAME b.test.\n",
		  "t.zone:2: CNAME at 'a.test' cannot share the name");
}

/* docs/architecture.md: CNAME chains are followed for at most 8 hops. */
static void cname_chain_of_eight_hops_is_followed_not_nine(void **state)
{
	(void)state;
	char text[512] = "";
	for (int i = 0; i < 9; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text),
			 "c%d.test. CNAME c%d.test.\n", i, i + 1);
	strcat(text, "c9.test. A 127.0.0.1\n");
	struct dns_zone *z = parse_ok(text);
	struct dns_answer *a = ask(z, "c1.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_string_equal(a->canonical, "c9.test");
	dns_answer_release(a);
	a = ask(z, "c0.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	assert_int_equal(a->why, DNS_WHY_CNAME_LOOP);
	dns_answer_release(a);
	dns_zone_free(z);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(records_of_every_type),
		cmocka_unit_test(txt_escapes_and_multiple_strings),
		cmocka_unit_test(parentheses_comments_and_blank_owner),
		cmocka_unit_test(ttl_units_and_class_order),
		cmocka_unit_test(names_are_case_insensitive_and_escaped),
		cmocka_unit_test(negative_answers),
		cmocka_unit_test(overlay_falls_through_for_names_it_lacks),
		cmocka_unit_test(timeout_and_servfail_pseudo_types),
		cmocka_unit_test(cname_to_absent_and_loops),
		cmocka_unit_test(null_mx),
		cmocka_unit_test(every_error_names_file_and_line),
		cmocka_unit_test(load_reports_missing_file),
		cmocka_unit_test(load_reads_a_file),
		cmocka_unit_test(escaped_dot_as_ddd_is_rejected_in_names),
		cmocka_unit_test(line_end_is_never_escaped_or_quoted),
		cmocka_unit_test(tab_also_starts_a_blank_owner),
		cmocka_unit_test(ancestor_given_records_later_is_answered_by_overlay),
		cmocka_unit_test(largest_name_and_ttl_are_accepted),
		cmocka_unit_test(ttl_unit_without_a_number_is_refused),
		cmocka_unit_test(txt_rdata_over_65535_octets_is_refused),
		cmocka_unit_test(cname_after_other_data_is_refused),
		cmocka_unit_test(cname_chain_of_eight_hops_is_followed_not_nine),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
