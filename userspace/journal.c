/*
 * journal — see journal.h.
 *
 * CRC-32C is written here rather than taken from a library: zlib has only
 * the other CRC-32, and the SSE4.2 instruction computes this one at several
 * bytes a cycle, which matters because the journal thread checksums every
 * message on the path to its 250. The table version serves CPUs without
 * SSE4.2, and the unit tests hold the two to the same answers.
 */
#include "journal.h"

#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

const unsigned char journal_zeros[8];

static const unsigned char record_magic[4] = {'A', 'G', 'J', 'R'};
static const unsigned char checkpoint_magic[4] = {'A', 'G', 'J', 'C'};

static uint32_t crc_table[256];

static void crc_table_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
		crc_table[i] = c;
	}
}

static uint32_t crc_by_table(uint32_t crc, const unsigned char *p, size_t len)
{
	if (!crc_table[1])
		crc_table_init();
	while (len--)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) static uint32_t crc_by_sse42(uint32_t crc, const unsigned char *p,
								size_t len)
{
	uint64_t c = crc;
	for (; len >= 8; p += 8, len -= 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		c = _mm_crc32_u64(c, v);
	}
	uint32_t c32 = (uint32_t)c;
	while (len--)
		c32 = _mm_crc32_u8(c32, *p++);
	return c32;
}
#endif

uint32_t journal_crc32c(uint32_t crc, const void *data, size_t len)
{
	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc_by_sse42(crc, data, len);
#endif
	return ~crc_by_table(crc, data, len);
}

/* Only for the unit tests' cross-check of the two ways. */
uint32_t journal_crc32c_portable(uint32_t crc, const void *data, size_t len);
uint32_t journal_crc32c_portable(uint32_t crc, const void *data, size_t len)
{
	return ~crc_by_table(~crc, data, len);
}

static void put32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const unsigned char *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

size_t journal_padding(size_t name_len, size_t payload_len)
{
	return (8 - (name_len + payload_len) % 8) % 8;
}

size_t journal_record_size(size_t name_len, size_t payload_len)
{
	return JOURNAL_RECORD_HEADER + name_len + payload_len + journal_padding(name_len, payload_len);
}

/* Record header offsets. */
enum { R_FLAGS = 4, R_ID = 8, R_POS = 16, R_NAME_LEN = 24, R_PAYLOAD_LEN = 28, R_CRC = 32, R_ZERO = 36 };
/* Checkpoint offsets. */
enum { C_ZERO = 4, C_ID = 8, C_SEQ = 16, C_POS = 24, C_CRC = 32, C_ZERO2 = 36 };

/* The CRC covers the header with its crc field as zero, so that one
 * function serves both the writer and the reader. */
static uint32_t header_crc(const unsigned char *hdr)
{
	unsigned char h[JOURNAL_RECORD_HEADER];
	memcpy(h, hdr, sizeof h);
	put32(h + R_CRC, 0);
	return journal_crc32c(0, h, sizeof h);
}

void journal_record_encode(unsigned char hdr[JOURNAL_RECORD_HEADER], uint64_t id, uint64_t pos,
			   uint32_t flags, const char *name, size_t name_len,
			   const struct iovec *payload, unsigned iovcnt, size_t payload_len)
{
	memcpy(hdr, record_magic, 4);
	put32(hdr + R_FLAGS, flags);
	put64(hdr + R_ID, id);
	put64(hdr + R_POS, pos);
	put32(hdr + R_NAME_LEN, (uint32_t)name_len);
	put32(hdr + R_PAYLOAD_LEN, (uint32_t)payload_len);
	put32(hdr + R_CRC, 0);
	put32(hdr + R_ZERO, 0);
	uint32_t crc = journal_crc32c(header_crc(hdr), name, name_len);
	for (unsigned i = 0; i < iovcnt; i++)
		crc = journal_crc32c(crc, payload[i].iov_base, payload[i].iov_len);
	put32(hdr + R_CRC, crc);
}

bool journal_header_decode(const unsigned char *buf, size_t avail, uint64_t id, uint64_t pos,
			   size_t room, struct journal_record *out)
{
	if (avail < JOURNAL_RECORD_HEADER || memcmp(buf, record_magic, 4) != 0 ||
	    get64(buf + R_ID) != id || get64(buf + R_POS) != pos || get32(buf + R_ZERO) != 0)
		return false;
	uint32_t flags = get32(buf + R_FLAGS), name_len = get32(buf + R_NAME_LEN),
		 payload_len = get32(buf + R_PAYLOAD_LEN);
	if ((flags & ~JOURNAL_FLAG_QUARANTINE) || name_len == 0 || name_len > JOURNAL_NAME_MAX ||
	    payload_len > room)
		return false;
	size_t size = journal_record_size(name_len, payload_len);
	if (size > room)
		return false;
	*out = (struct journal_record){.pos = pos, .flags = flags, .name_len = name_len,
				       .payload_len = payload_len, .crc = get32(buf + R_CRC), .size = size};
	return true;
}

uint32_t journal_record_crc_start(const unsigned char *hdr, const char *name, size_t name_len)
{
	return journal_crc32c(header_crc(hdr), name, name_len);
}

bool journal_record_check(const struct journal_record *r, const unsigned char *hdr,
			  const char *name, const unsigned char *payload)
{
	uint32_t crc = journal_record_crc_start(hdr, name, r->name_len);
	return journal_crc32c(crc, payload, r->payload_len) == r->crc;
}

void journal_checkpoint_encode(unsigned char out[JOURNAL_CHECKPOINT_SIZE], uint64_t id,
			       uint64_t seq, uint64_t pos)
{
	memset(out, 0, JOURNAL_CHECKPOINT_SIZE);
	memcpy(out, checkpoint_magic, 4);
	put64(out + C_ID, id);
	put64(out + C_SEQ, seq);
	put64(out + C_POS, pos);
	put32(out + C_CRC, journal_crc32c(0, out, C_CRC));
}

static bool checkpoint_valid(const unsigned char *c)
{
	return memcmp(c, checkpoint_magic, 4) == 0 && get32(c + C_ZERO) == 0 &&
	       get32(c + C_ZERO2) == 0 && get32(c + C_CRC) == journal_crc32c(0, c, C_CRC);
}

bool journal_checkpoint_pick(const unsigned char a[JOURNAL_CHECKPOINT_SIZE],
			     const unsigned char b[JOURNAL_CHECKPOINT_SIZE], uint64_t *id,
			     uint64_t *seq, uint64_t *pos)
{
	bool va = checkpoint_valid(a), vb = checkpoint_valid(b);
	if (!va && !vb)
		return false;
	const unsigned char *c = !vb || (va && get64(a + C_SEQ) >= get64(b + C_SEQ)) ? a : b;
	*id = get64(c + C_ID);
	*seq = get64(c + C_SEQ);
	*pos = get64(c + C_POS);
	return true;
}
