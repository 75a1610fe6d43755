/* Unit tests: dns_wire — decoding DNS responses, honest and hostile. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>

#include "dnsmsg.h"
#include "verify/dns_wire.h"

static struct dnsmsg m;

/* The message goes to the parser in a heap block of exactly its size, so
 * that ASan reports any read past its end (m.b has 64 KiB of slack). */
static struct dns_answer *parse(const char *qname, enum dns_type t)
{
	uint8_t *exact = malloc(m.n ? m.n : 1);
	assert_non_null(exact);
	memcpy(exact, m.b, m.n);
	struct dns_answer *a = dns_wire_parse(exact, m.n, qname, t);
	free(exact);
	assert_non_null(a);
	return a;
}

static void a_record_with_compressed_owner(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 2, 0, "host.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	dm_rr_q(&m, DNS_TYPE_A, 60, 4);
	dm_bytes(&m, "\x7f\x00\x00\x02", 4);
	struct dns_answer *a = parse("host.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->count, 2);
	assert_int_equal(a->ttl, 60); /* the smallest record TTL */
	assert_int_equal(ntohl(a->records[1].u.a.s_addr), 0x7f000002);
	assert_true(a->cacheable);
	dns_answer_release(a);
}

static void qname_matches_case_insensitively(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "HoSt.TeSt", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("host.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	dns_answer_release(a);
}

static void txt_strings_kept_apart_and_joinable(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "t.test", DNS_TYPE_TXT);
	dm_rr_q(&m, DNS_TYPE_TXT, 300, 1 + 7 + 1 + 4 + 1);
	dm_u8(&m, 7);
	dm_bytes(&m, "v=spf1 ", 7);
	dm_u8(&m, 4);
	dm_bytes(&m, "-all", 4);
	dm_u8(&m, 0); /* an empty string is still a string */
	struct dns_answer *a = parse("t.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_DATA);
	const struct dns_txt *t = &a->records[0].u.txt;
	assert_int_equal(t->nstrings, 3);
	assert_int_equal(t->lens[0], 7);
	assert_int_equal(t->lens[1], 4);
	assert_int_equal(t->lens[2], 0);
	char buf[64];
	assert_int_equal(dns_txt_join(t, buf, sizeof buf), 11);
	assert_string_equal(buf, "v=spf1 -all");
	dns_answer_release(a);
}

static void txt_string_overrunning_rdata_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "t.test", DNS_TYPE_TXT);
	dm_rr_q(&m, DNS_TYPE_TXT, 300, 3);
	dm_u8(&m, 5); /* claims 5 octets, rdata holds 2 */
	dm_bytes(&m, "ab", 2);
	struct dns_answer *a = parse("t.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_MALFORMED);
	assert_int_equal(a->why, DNS_WHY_BADWIRE);
	dns_answer_release(a);
}

/* Records have no order (RFC 2181 §5.1): a bad record makes the answer
 * malformed whether it comes before or after a good one. Kept, the good
 * "+all" of an answer whose second TXT overruns its rdata would pass SPF
 * where the other order gives temperror. */
static void bad_record_after_a_good_one_is_malformed(void **state)
{
	(void)state;
	for (int bad_first = 0; bad_first < 2; bad_first++) {
		dm_start(&m, 1, 0x8180, 2, 0, "t.test", DNS_TYPE_TXT);
		for (int i = 0; i < 2; i++) {
			if (i == bad_first) {
				dm_rr_q(&m, DNS_TYPE_TXT, 300, 3);
				dm_u8(&m, 5); /* claims 5 octets, rdata holds 2 */
				dm_bytes(&m, "ab", 2);
			} else {
				dm_rr_q(&m, DNS_TYPE_TXT, 300, 12);
				dm_u8(&m, 11);
				dm_bytes(&m, "v=spf1 +all", 11);
			}
		}
		struct dns_answer *a = parse("t.test", DNS_TYPE_TXT);
		assert_int_equal(a->status, DNS_MALFORMED);
		assert_int_equal(a->why, DNS_WHY_BADWIRE);
		assert_int_equal(a->count, 0);
		assert_false(a->cacheable);
		dns_answer_release(a);
	}
	dm_start(&m, 1, 0x8180, 2, 0, "a.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x7f\0\0\1", 4);
	dm_rr_q(&m, DNS_TYPE_A, 300, 5); /* an A record of 5 octets */
	dm_bytes(&m, "\x7f\0\0\2\0", 5);
	struct dns_answer *a = parse("a.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	assert_int_equal(a->count, 0);
	dns_answer_release(a);
}

static void cname_chain_followed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 3, 0, "alias.test", DNS_TYPE_MX);
	dm_rr_q(&m, DNS_TYPE_CNAME, 300, (unsigned)dm_name_len("mid.test"));
	dm_name(&m, "mid.test");
	dm_rr(&m, "mid.test", DNS_TYPE_CNAME, 300, (unsigned)dm_name_len("end.test"));
	dm_name(&m, "end.test");
	dm_rr(&m, "end.test", DNS_TYPE_MX, 120, 2 + (unsigned)dm_name_len("mx.test"));
	dm_u16(&m, 10);
	dm_name(&m, "mx.test");
	struct dns_answer *a = parse("alias.test", DNS_TYPE_MX);
	assert_int_equal(a->status, DNS_DATA);
	assert_string_equal(a->canonical, "end.test");
	assert_int_equal(a->records[0].u.mx.preference, 10);
	assert_string_equal(a->records[0].u.mx.host, "mx.test");
	dns_answer_release(a);
}

static void records_of_other_owners_ignored(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "a.test", DNS_TYPE_A);
	dm_rr(&m, "b.test", DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x01\x02\x03\x04", 4);
	struct dns_answer *a = parse("a.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_NODATA);
	dns_answer_release(a);
}

static void nxdomain_takes_negative_ttl_from_soa(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8183, 0, 1, "gone.test", DNS_TYPE_TXT);
	dm_soa(&m, "test", 900, 120);
	struct dns_answer *a = parse("gone.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_NXDOMAIN);
	assert_int_equal(a->ttl, 120); /* min(SOA TTL, MINIMUM) */
	assert_true(a->cacheable);
	dns_answer_release(a);

	dm_start(&m, 1, 0x8180, 0, 1, "gone.test", DNS_TYPE_TXT);
	dm_soa(&m, "test", 30, 120);
	a = parse("gone.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_NODATA);
	assert_int_equal(a->ttl, 30);
	dns_answer_release(a);
}

static void negative_without_soa_not_cacheable(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 0, 0, "x.test", DNS_TYPE_A);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_NODATA);
	assert_false(a->cacheable);
	dns_answer_release(a);
}

static void rcodes_map_to_tempfail(void **state)
{
	(void)state;
	static const struct {
		unsigned rcode;
		enum dns_why why;
	} cases[] = {{2, DNS_WHY_SERVFAIL}, {5, DNS_WHY_REFUSED}, {1, DNS_WHY_RCODE},
		     {4, DNS_WHY_RCODE}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		dm_start(&m, 1, 0x8180 | cases[i].rcode, 0, 0, "x.test", DNS_TYPE_A);
		struct dns_answer *a = parse("x.test", DNS_TYPE_A);
		assert_int_equal(a->status, DNS_TEMPFAIL);
		assert_int_equal(a->why, cases[i].why);
		assert_false(a->cacheable);
		dns_answer_release(a);
	}
}

static void truncated_answer_is_tempfail(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8380, 0, 0, "x.test", DNS_TYPE_TXT);
	struct dns_answer *a = parse("x.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_TEMPFAIL);
	dns_answer_release(a);
}

static void hostile_messages_are_malformed(void **state)
{
	(void)state;
	struct dns_answer *a;
	/* Shorter than a header. */
	m.n = 5;
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* A query, not a response. */
	dm_start(&m, 1, 0x0100, 0, 0, "x.test", DNS_TYPE_A);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* Question for another name or type. */
	dm_start(&m, 1, 0x8180, 0, 0, "y.test", DNS_TYPE_A);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	dm_start(&m, 1, 0x8180, 0, 0, "x.test", DNS_TYPE_MX);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* A compression pointer to itself (a loop) in the answer owner. */
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_ptr(&m, (unsigned)m.n);
	dm_u16(&m, DNS_TYPE_A);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* rdlength past the end of the message. */
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 300, 400);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* An A record with 5 octets. */
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 300, 5);
	dm_bytes(&m, "\x7f\x00\x00\x01\x01", 5);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* Answer count larger than the records present. */
	dm_start(&m, 1, 0x8180, 3, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

static void cname_loop_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 2, 0, "a.test", DNS_TYPE_A);
	dm_rr(&m, "a.test", DNS_TYPE_CNAME, 300, (unsigned)dm_name_len("b.test"));
	dm_name(&m, "b.test");
	dm_rr(&m, "b.test", DNS_TYPE_CNAME, 300, (unsigned)dm_name_len("a.test"));
	dm_name(&m, "a.test");
	struct dns_answer *a = parse("a.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

static void ttl_with_high_bit_is_zero(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 0x80000000u, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->ttl, 0);
	dns_answer_release(a);
}

static void aaaa_ptr_and_null_mx(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_AAAA);
	dm_rr_q(&m, DNS_TYPE_AAAA, 300, 16);
	dm_bytes(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
	struct dns_answer *a = parse("x.test", DNS_TYPE_AAAA);
	char buf[64];
	assert_string_equal(inet_ntop(AF_INET6, &a->records[0].u.aaaa, buf, sizeof buf),
			    "2001:db8::1");
	dns_answer_release(a);

	dm_start(&m, 1, 0x8180, 1, 0, "1.0.0.127.in-addr.arpa", DNS_TYPE_PTR);
	dm_rr_q(&m, DNS_TYPE_PTR, 300, (unsigned)dm_name_len("Host.Test"));
	dm_name(&m, "Host.Test");
	a = parse("1.0.0.127.in-addr.arpa", DNS_TYPE_PTR);
	assert_string_equal(a->records[0].u.ptr, "host.test");
	dns_answer_release(a);

	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_MX);
	dm_rr_q(&m, DNS_TYPE_MX, 300, 3);
	dm_u16(&m, 0);
	dm_u8(&m, 0);
	a = parse("x.test", DNS_TYPE_MX);
	assert_int_equal(a->status, DNS_DATA);
	assert_string_equal(a->records[0].u.mx.host, "");
	dns_answer_release(a);
}

/* RFC 1035 §4.1.4 pointers point to a prior occurrence; one that points
 * forward is refused even when it would not loop. */
static void forward_pointer_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	size_t rr = m.n;
	dm_ptr(&m, (unsigned)(rr + 2 + 10 + 4)); /* forward, to the name after the RR */
	dm_u16(&m, DNS_TYPE_A);
	dm_u16(&m, 1);
	dm_u32(&m, 300);
	dm_u16(&m, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	dm_name(&m, "x.test");
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

static void name_of_255_octets_but_not_256(void **state)
{
	(void)state;
	char name[300];
	for (int extra = 0; extra < 2; extra++) {
		memset(name, 'a', sizeof name);
		name[63] = name[127] = name[191] = '.';
		name[192 + 61 + extra] = '\0'; /* wire 255, then 256 octets */
		dm_start(&m, 1, 0x8180, 1, 0, name, DNS_TYPE_A);
		dm_rr_q(&m, DNS_TYPE_A, 300, 4);
		dm_bytes(&m, "\x7f\x00\x00\x01", 4);
		struct dns_answer *a = parse(name, DNS_TYPE_A);
		assert_int_equal(a->status, extra ? DNS_MALFORMED : DNS_DATA);
		dns_answer_release(a);
	}
}

/* An RR's rdlength beyond the message must not be read (parse() gives an
 * exact-size copy, so ASan sees it if it is). */
static void rdlength_past_the_end_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "t.test", DNS_TYPE_TXT);
	dm_rr_q(&m, DNS_TYPE_TXT, 300, 400);
	dm_bytes(&m, "\x03" "abc", 4);
	struct dns_answer *a = parse("t.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

static void mx_with_trailing_bytes_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_MX);
	dm_rr_q(&m, DNS_TYPE_MX, 300, 2 + (unsigned)dm_name_len("mx.test") + 2);
	dm_u16(&m, 10);
	dm_name(&m, "mx.test");
	dm_u16(&m, 0xabcd);
	struct dns_answer *a = parse("x.test", DNS_TYPE_MX);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

static void cname_chain_of_eight_but_not_nine(void **state)
{
	(void)state;
	for (int hops = 8; hops <= 9; hops++) {
		char owner[32], target[32];
		dm_start(&m, 1, 0x8180, (unsigned)hops + 1, 0, "c0.test", DNS_TYPE_A);
		for (int i = 0; i < hops; i++) {
			snprintf(owner, sizeof owner, "c%d.test", i);
			snprintf(target, sizeof target, "c%d.test", i + 1);
			dm_rr(&m, owner, DNS_TYPE_CNAME, 300, (unsigned)dm_name_len(target));
			dm_name(&m, target);
		}
		dm_rr(&m, target, DNS_TYPE_A, 300, 4);
		dm_bytes(&m, "\x7f\x00\x00\x01", 4);
		struct dns_answer *a = parse("c0.test", DNS_TYPE_A);
		assert_int_equal(a->status, hops == 8 ? DNS_DATA : DNS_MALFORMED);
		dns_answer_release(a);
	}
}

/* A compression pointer whose second octet would lie past the message's
 * end is malformed, and that octet is not read (exact-size copy). */
static void pointer_cut_at_the_end_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_u8(&m, 0xc0);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	/* a label cut short at the end: its length octet claims 3 */
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_u8(&m, 3);
	dm_bytes(&m, "ab", 2);
	a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* A pointer may lead to another pointer (RFC 1035 §4.1.4 allows a name to
 * end with a pointer, whatever that points at); the name ends after the
 * first pointer. Chains are cut at 64 jumps: the answer owner points at
 * the last of `chain` pointers held in a NULL record's rdata, each to the
 * one before, the first to the question name. */
static void pointer_chain(unsigned chain)
{
	dm_start(&m, 1, 0x8180, 2, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, 10 /* NULL */, 300, 2 * chain);
	size_t base = m.n;
	dm_ptr(&m, 12);
	for (unsigned i = 1; i < chain; i++)
		dm_ptr(&m, (unsigned)(base + 2 * (i - 1)));
	dm_ptr(&m, (unsigned)(base + 2 * (chain - 1)));
	dm_u16(&m, DNS_TYPE_A);
	dm_u16(&m, 1);
	dm_u32(&m, 300);
	dm_u16(&m, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
}

static void pointer_chain_of_64_jumps_but_not_65(void **state)
{
	(void)state;
	static const unsigned jumps[] = {2, 64, 65};
	for (size_t i = 0; i < sizeof jumps / sizeof jumps[0]; i++) {
		pointer_chain(jumps[i] - 1); /* plus the owner's own pointer */
		struct dns_answer *a = parse("x.test", DNS_TYPE_A);
		assert_int_equal(a->status, jumps[i] <= 64 ? DNS_DATA : DNS_MALFORMED);
		assert_int_equal(a->count, jumps[i] <= 64 ? 1 : 0);
		dns_answer_release(a);
	}
}

/* Label types 01 and 10 are reserved (RFC 1035 §4.1.4; RFC 6891 §5 retired
 * the one use): 0x40 is not a 64-octet label. */
static void reserved_label_type_is_malformed(void **state)
{
	(void)state;
	char label[64];
	memset(label, 'a', sizeof label);
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_u8(&m, 0x40);
	dm_bytes(&m, label, sizeof label);
	dm_u8(&m, 0);
	dm_u16(&m, DNS_TYPE_A);
	dm_u16(&m, 1);
	dm_u32(&m, 300);
	dm_u16(&m, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* A label holding '.' has no presentation form here: the one label
 * "x.test" must not pass for the two labels x and test. */
static void dot_inside_a_label_is_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "", DNS_TYPE_A);
	m.n -= 5; /* drop the root name, type and class */
	dm_u8(&m, 6);
	dm_bytes(&m, "x.test", 6);
	dm_u8(&m, 0);
	dm_u16(&m, DNS_TYPE_A);
	dm_u16(&m, 1);
	dm_rr_q(&m, DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* RFC 2181 §8: TTLs are 0 .. 2^31-1; only above that are they zero. */
static void ttl_of_2_31_minus_1_is_kept(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_A, 0x7fffffffu, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->records[0].ttl, 0x7fffffffu);
	dns_answer_release(a);
}

/* One record of each fixed shape with a wrong length: an AAAA of 17
 * octets, a PTR, CNAME or NS name followed by stray octets, a TXT whose
 * last string's length octet is the last octet of the rdata. */
static void records_of_the_wrong_length_are_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_AAAA);
	dm_rr_q(&m, DNS_TYPE_AAAA, 300, 17);
	dm_bytes(&m, "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01\x00", 17);
	struct dns_answer *a = parse("x.test", DNS_TYPE_AAAA);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
	static const enum dns_type named[] = {DNS_TYPE_PTR, DNS_TYPE_CNAME, DNS_TYPE_NS};
	for (size_t i = 0; i < sizeof named / sizeof named[0]; i++) {
		dm_start(&m, 1, 0x8180, 1, 0, "x.test", named[i]);
		dm_rr_q(&m, named[i], 300, (unsigned)dm_name_len("h.test") + 1);
		dm_name(&m, "h.test");
		dm_u8(&m, 0);
		a = parse("x.test", named[i]);
		assert_int_equal(a->status, DNS_MALFORMED);
		dns_answer_release(a);
	}
	dm_start(&m, 1, 0x8180, 1, 0, "t.test", DNS_TYPE_TXT);
	dm_rr_q(&m, DNS_TYPE_TXT, 300, 5);
	dm_bytes(&m, "\x03" "abc" "\x01", 5); /* the second string claims 1 octet, has 0 */
	a = parse("t.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* SOA rdata is two names and exactly 20 octets (RFC 1035 §3.3.13): one
 * with more gives no RFC 2308 negative TTL. */
static void soa_with_stray_octets_gives_no_negative_ttl(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8183, 0, 1, "gone.test", DNS_TYPE_TXT);
	dm_rr(&m, "test", 6, 900, (unsigned)(dm_name_len("ns.test") + dm_name_len("h.test") + 21));
	dm_name(&m, "ns.test");
	dm_name(&m, "h.test");
	for (int i = 0; i < 5; i++)
		dm_u32(&m, 120);
	dm_u8(&m, 0);
	struct dns_answer *a = parse("gone.test", DNS_TYPE_TXT);
	assert_int_equal(a->status, DNS_NXDOMAIN);
	assert_false(a->cacheable);
	dns_answer_release(a);
}

/* Only class IN records answer (the question is IN): a CH record of the
 * right name and type is not data. */
static void records_of_another_class_ignored(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_A);
	dm_ptr(&m, 12);
	dm_u16(&m, DNS_TYPE_A);
	dm_u16(&m, 3); /* CH */
	dm_u32(&m, 300);
	dm_u16(&m, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_NODATA);
	dns_answer_release(a);
}

/* A response carries the one question that was asked (RFC 1035 §4.1.2,
 * QDCOUNT 1 in practice): two questions and no answers is not NODATA. */
static void two_questions_are_malformed(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 0, 0, "x.test", DNS_TYPE_A);
	m.b[5] = 2; /* QDCOUNT */
	dm_ptr(&m, 12);
	dm_u16(&m, DNS_TYPE_A);
	dm_u16(&m, 1);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* A name in rdata must end inside the rdata, even when a pointer takes it
 * back before the rdata: here the MX preference 0x0378 is also a label of
 * three octets ("x", then the pointer's two), and the octet after the
 * rdata, a 0, would end the name. */
static void name_in_rdata_may_not_run_past_it(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "x.test", DNS_TYPE_MX);
	dm_rr_q(&m, DNS_TYPE_MX, 300, 4);
	size_t rd = m.n; /* 36: neither 0 nor '.' as a label octet */
	dm_u8(&m, 3);
	dm_u8(&m, 'x');
	dm_ptr(&m, (unsigned)rd);
	dm_u8(&m, 0);
	struct dns_answer *a = parse("x.test", DNS_TYPE_MX);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* A CNAME's rdata is one name (RFC 1035 §3.3.1): stray octets after it make
 * the record malformed when the chain is followed, as they do when the
 * CNAME itself is asked for. */
static void cname_with_stray_octets_is_malformed_in_a_chain(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 2, 0, "x.test", DNS_TYPE_A);
	dm_rr_q(&m, DNS_TYPE_CNAME, 300, (unsigned)dm_name_len("end.test") + 2);
	dm_name(&m, "end.test");
	dm_u16(&m, 0xabcd);
	dm_rr(&m, "end.test", DNS_TYPE_A, 300, 4);
	dm_bytes(&m, "\x7f\x00\x00\x01", 4);
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_MALFORMED);
	dns_answer_release(a);
}

/* Type SPF (99) records have the TXT format (RFC 4408 §3.1.1). */
static void spf_type_parsed_like_txt(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 1, 0, "t.test", DNS_TYPE_SPF);
	dm_rr_q(&m, DNS_TYPE_SPF, 300, 12);
	dm_u8(&m, 11);
	dm_bytes(&m, "v=spf1 -all", 11);
	struct dns_answer *a = parse("t.test", DNS_TYPE_SPF);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->records[0].u.txt.lens[0], 11);
	dns_answer_release(a);
}

/* More answers than an answer keeps: the first DNS_ANSWER_MAX_RECORDS
 * count, and the scan writes no further (ASan). */
static void answers_beyond_the_record_cap(void **state)
{
	(void)state;
	dm_start(&m, 1, 0x8180, 600, 0, "x.test", DNS_TYPE_A);
	for (unsigned i = 0; i < 600; i++) {
		dm_rr_q(&m, DNS_TYPE_A, 300, 4);
		dm_u32(&m, 0x7f000000u + i);
	}
	struct dns_answer *a = parse("x.test", DNS_TYPE_A);
	assert_int_equal(a->status, DNS_DATA);
	assert_int_equal(a->count, 512);
	dns_answer_release(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_record_with_compressed_owner),
		cmocka_unit_test(qname_matches_case_insensitively),
		cmocka_unit_test(txt_strings_kept_apart_and_joinable),
		cmocka_unit_test(txt_string_overrunning_rdata_is_malformed),
		cmocka_unit_test(bad_record_after_a_good_one_is_malformed),
		cmocka_unit_test(cname_chain_followed),
		cmocka_unit_test(records_of_other_owners_ignored),
		cmocka_unit_test(nxdomain_takes_negative_ttl_from_soa),
		cmocka_unit_test(negative_without_soa_not_cacheable),
		cmocka_unit_test(rcodes_map_to_tempfail),
		cmocka_unit_test(truncated_answer_is_tempfail),
		cmocka_unit_test(hostile_messages_are_malformed),
		cmocka_unit_test(cname_loop_is_malformed),
		cmocka_unit_test(ttl_with_high_bit_is_zero),
		cmocka_unit_test(aaaa_ptr_and_null_mx),
		cmocka_unit_test(forward_pointer_is_malformed),
		cmocka_unit_test(name_of_255_octets_but_not_256),
		cmocka_unit_test(rdlength_past_the_end_is_malformed),
		cmocka_unit_test(mx_with_trailing_bytes_is_malformed),
		cmocka_unit_test(cname_chain_of_eight_but_not_nine),
		cmocka_unit_test(pointer_cut_at_the_end_is_malformed),
		cmocka_unit_test(pointer_chain_of_64_jumps_but_not_65),
		cmocka_unit_test(reserved_label_type_is_malformed),
		cmocka_unit_test(dot_inside_a_label_is_malformed),
		cmocka_unit_test(ttl_of_2_31_minus_1_is_kept),
		cmocka_unit_test(records_of_the_wrong_length_are_malformed),
		cmocka_unit_test(soa_with_stray_octets_gives_no_negative_ttl),
		cmocka_unit_test(records_of_another_class_ignored),
		cmocka_unit_test(two_questions_are_malformed),
		cmocka_unit_test(name_in_rdata_may_not_run_past_it),
		cmocka_unit_test(cname_with_stray_octets_is_malformed_in_a_chain),
		cmocka_unit_test(spf_type_parsed_like_txt),
		cmocka_unit_test(answers_beyond_the_record_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
