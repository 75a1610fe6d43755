/* Unit tests: journal — the on-disk format of the spool journal. CRC-32C
 * against its published check value and the table version; records that
 * decode back to what was encoded; every single-bit change to a record
 * caught; bounds on every header field; the checkpoint slot that wins. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "userspace/journal.h"

uint32_t journal_crc32c_portable(uint32_t crc, const void *data, size_t len);

#define ID 0x0123456789abcdefull /* the journal's */

static void crc32c_check_value(void **state)
{
	(void)state;
	/* RFC 3720 B.4 and every CRC catalogue: CRC-32C("123456789"). */
	assert_int_equal(journal_crc32c(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(journal_crc32c_portable(0, "123456789", 9), 0xe3069283u);
	assert_int_equal(journal_crc32c(0, "", 0), 0);
	unsigned char zeros[32] = {0};
	assert_int_equal(journal_crc32c(0, zeros, sizeof zeros), 0x8a9136aau); /* RFC 3720 B.4 */
}

static void crc32c_hardware_matches_table_and_continues(void **state)
{
	(void)state;
	unsigned char buf[4099];
	srand(7);
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (unsigned char)rand();
	for (size_t len = 0; len < sizeof buf; len += 1 + len / 3) {
		uint32_t whole = journal_crc32c(0, buf, len);
		assert_int_equal(whole, journal_crc32c_portable(0, buf, len));
		size_t cut = len / 3;
		assert_int_equal(whole, journal_crc32c(journal_crc32c(0, buf, cut), buf + cut, len - cut));
	}
}

/* A record laid out as the appender writes it. */
struct rec {
	unsigned char bytes[512];
	size_t len;
};

static void make_record(struct rec *r, uint64_t pos, uint32_t flags, const char *name,
			const char *a, const char *b)
{
	struct iovec iov[2] = {{(void *)a, strlen(a)}, {(void *)b, strlen(b)}};
	size_t plen = iov[0].iov_len + iov[1].iov_len, nlen = strlen(name);
	journal_record_encode(r->bytes, ID, pos, flags, name, nlen, iov, 2, plen);
	size_t at = JOURNAL_RECORD_HEADER;
	memcpy(r->bytes + at, name, nlen), at += nlen;
	memcpy(r->bytes + at, a, strlen(a)), at += strlen(a);
	memcpy(r->bytes + at, b, strlen(b)), at += strlen(b);
	size_t pad = journal_padding(nlen, plen);
	memcpy(r->bytes + at, journal_zeros, pad), at += pad;
	r->len = at;
	assert_int_equal(r->len, journal_record_size(nlen, plen));
	assert_int_equal(r->len % 8, 0);
}

static bool record_good(const struct rec *r, uint64_t pos, size_t room)
{
	struct journal_record d;
	if (!journal_header_decode(r->bytes, r->len, ID, pos, room, &d))
		return false;
	const char *name = (const char *)r->bytes + JOURNAL_RECORD_HEADER;
	return journal_record_check(&d, r->bytes, name, r->bytes + JOURNAL_RECORD_HEADER + d.name_len);
}

static void record_round_trip(void **state)
{
	(void)state;
	struct rec r;
	make_record(&r, 123456789012ull, JOURNAL_FLAG_QUARANTINE, "1764.M1P2W0Q1.mx",
		    "Received-SPF: pass\r\n", "Subject: hi\r\n\r\nbody\r\n");
	struct journal_record d;
	assert_true(journal_header_decode(r.bytes, r.len, ID, 123456789012ull, 4096, &d));
	assert_int_equal(d.pos, 123456789012ull);
	assert_int_equal(d.flags, JOURNAL_FLAG_QUARANTINE);
	assert_int_equal(d.name_len, strlen("1764.M1P2W0Q1.mx"));
	assert_int_equal(d.payload_len, strlen("Received-SPF: pass\r\n") + strlen("Subject: hi\r\n\r\nbody\r\n"));
	assert_int_equal(d.size, r.len);
	assert_true(record_good(&r, 123456789012ull, 4096));
}

/* The reader must never take a damaged record for a good one. */
static void every_bit_flip_is_caught(void **state)
{
	(void)state;
	struct rec r;
	make_record(&r, 4096, 0, "n.1", "hdr\r\n", "a body of some length\r\n");
	size_t meaningful = r.len - journal_padding(3, 5 + 23); /* padding is not checked */
	for (size_t i = 0; i < meaningful; i++)
		for (int bit = 0; bit < 8; bit++) {
			struct rec bad = r;
			bad.bytes[i] ^= (unsigned char)(1u << bit);
			if (record_good(&bad, 4096, bad.len))
				fail_msg("byte %zu bit %d flipped and the record still reads as good", i, bit);
		}
}

static void header_bounds(void **state)
{
	(void)state;
	struct rec r;
	struct journal_record d;
	make_record(&r, 0, 0, "name", "x", "y");
	assert_false(journal_header_decode(r.bytes, r.len, ID, 8, 4096, &d)); /* elsewhere: a stale lap */
	/* another journal's, or one a sender crafted inside a message */
	assert_false(journal_header_decode(r.bytes, r.len, ID + 1, 0, 4096, &d));
	assert_false(journal_header_decode(r.bytes, JOURNAL_RECORD_HEADER - 1, ID, 0, 4096, &d));
	assert_false(journal_header_decode(r.bytes, r.len, ID, 0, r.len - 1, &d)); /* past the lap's end */
	assert_true(journal_header_decode(r.bytes, r.len, ID, 0, r.len, &d));
	struct rec bad = r;
	bad.bytes[4] = 2; /* an unknown flag */
	assert_false(journal_header_decode(bad.bytes, bad.len, ID, 0, 4096, &d));
	bad = r;
	memset(bad.bytes + 24, 0, 4); /* no name */
	assert_false(journal_header_decode(bad.bytes, bad.len, ID, 0, 4096, &d));
	bad.bytes[24] = 0, bad.bytes[25] = 1; /* 256 bytes of name */
	assert_false(journal_header_decode(bad.bytes, bad.len, ID, 0, 1 << 20, &d));
	bad = r;
	memset(bad.bytes + 28, 0xff, 4); /* a payload of 4 GB */
	assert_false(journal_header_decode(bad.bytes, bad.len, ID, 0, 1 << 20, &d));
	bad = r;
	bad.bytes[37] = 1; /* the reserved word */
	assert_false(journal_header_decode(bad.bytes, bad.len, ID, 0, 4096, &d));
	unsigned char zeros[64] = {0}; /* a journal never written there */
	assert_false(journal_header_decode(zeros, sizeof zeros, ID, 0, 4096, &d));
}

static void checkpoint_slots(void **state)
{
	(void)state;
	unsigned char a[JOURNAL_CHECKPOINT_SIZE], b[JOURNAL_CHECKPOINT_SIZE];
	uint64_t id, seq, pos;
	journal_checkpoint_encode(a, ID, 7, 1000);
	journal_checkpoint_encode(b, ID, 8, 2000);
	assert_true(journal_checkpoint_pick(a, b, &id, &seq, &pos));
	assert_true(id == ID);
	assert_int_equal(seq, 8);
	assert_int_equal(pos, 2000);
	assert_true(journal_checkpoint_pick(b, a, &id, &seq, &pos));
	assert_int_equal(pos, 2000);
	b[28] ^= 1; /* the newer one torn: the older one stands, in either slot */
	assert_true(journal_checkpoint_pick(a, b, &id, &seq, &pos));
	assert_int_equal(seq, 7);
	assert_int_equal(pos, 1000);
	assert_true(journal_checkpoint_pick(b, a, &id, &seq, &pos));
	assert_int_equal(seq, 7);
	assert_int_equal(pos, 1000);
	memset(a + 24, 0, 16); /* both torn: no journal */
	assert_false(journal_checkpoint_pick(a, b, &id, &seq, &pos));
	unsigned char zero[JOURNAL_CHECKPOINT_SIZE] = {0};
	assert_false(journal_checkpoint_pick(zero, zero, &id, &seq, &pos));
}

/* A checkpoint's two reserved words must be zero: byte 36 lies outside
 * the CRC, so only that check stands between a slot whose tail holds
 * something else and taking it for a checkpoint; the word at 4 is
 * checked too, even with the CRC recomputed over it. */
static void checkpoint_reserved_words(void **state)
{
	(void)state;
	unsigned char c[JOURNAL_CHECKPOINT_SIZE];
	uint64_t id, seq, pos;
	journal_checkpoint_encode(c, ID, 3, 64);
	assert_true(journal_checkpoint_pick(c, c, &id, &seq, &pos));
	c[36] = 1;
	assert_false(journal_checkpoint_pick(c, c, &id, &seq, &pos));
	journal_checkpoint_encode(c, ID, 3, 64);
	c[4] = 1;
	uint32_t crc = journal_crc32c(0, c, 32);
	for (int i = 0; i < 4; i++)
		c[32 + i] = (unsigned char)(crc >> (8 * i));
	assert_false(journal_checkpoint_pick(c, c, &id, &seq, &pos));
}

/* The format's sizes: padding only up to the next multiple of 8, none
 * when name and payload end on one (a journal written by one build is
 * read by the next). */
static void record_sizes(void **state)
{
	(void)state;
	assert_int_equal(journal_padding(3, 5), 0);
	assert_int_equal(journal_record_size(3, 5), JOURNAL_RECORD_HEADER + 8);
	assert_int_equal(journal_padding(3, 6), 7);
	assert_int_equal(journal_record_size(3, 6), JOURNAL_RECORD_HEADER + 16);
	assert_int_equal(journal_padding(1, 0), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(crc32c_check_value),
		cmocka_unit_test(crc32c_hardware_matches_table_and_continues),
		cmocka_unit_test(record_round_trip),
		cmocka_unit_test(record_sizes),
		cmocka_unit_test(every_bit_flip_is_caught),
		cmocka_unit_test(header_bounds),
		cmocka_unit_test(checkpoint_slots),
		cmocka_unit_test(checkpoint_reserved_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
