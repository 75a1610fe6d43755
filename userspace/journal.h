/*
 * journal — the on-disk format of the spool journal (spool.sync =
 * journal), without any I/O.
 *
 * Owns: the layout of a record and of a checkpoint, their encoding, and
 * the bounds-checked decoding recovery relies on. The file itself, the
 * writes and the syncs are spool_journal's (spool_journal.h).
 *
 * The file: JOURNAL_HEAD bytes holding two checkpoint slots, then a ring
 * of `lap` bytes. A record has an absolute position `pos` (bytes since the
 * journal began, growing for ever); it lives at JOURNAL_HEAD + pos % lap
 * and never straddles the ring's end. A record is valid only where its
 * own `pos` matches where the reader expects it, its `id` is the
 * journal's, and its CRC-32C (header, name and payload) checks: so a
 * reader tells the end of the log from stale records of an earlier lap
 * and from a write torn by a crash without ever zeroing the file again.
 *
 * Why the id: message bytes come from the network, and a stale payload
 * may sit where the reader looks for a header (the tail of a lap the
 * appender skipped). A CRC is no defence against a sender who crafts a
 * record inside a message; a random 64-bit id per journal, never sent
 * anywhere, is.
 *
 * Record: magic "AGJR", flags, id, pos, name_len, payload_len, crc, zero;
 * then the name (a Maildir base name), the payload (the message file as
 * it goes into new/), and zeros up to a multiple of 8. Little-endian.
 * Checkpoint: magic "AGJC", zero, id, seq, pos, crc, zero; the slot with
 * the higher seq and a good CRC wins, so a checkpoint torn by a crash
 * leaves the other one.
 */
#ifndef AUTHGATE_JOURNAL_H
#define AUTHGATE_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define JOURNAL_HEAD 8192          /* the two checkpoint slots, */
#define JOURNAL_SLOT_SIZE 4096     /* each in a block of its own */
#define JOURNAL_RECORD_HEADER 40
#define JOURNAL_CHECKPOINT_SIZE 40
#define JOURNAL_NAME_MAX 255
#define JOURNAL_FLAG_QUARANTINE 1u

struct journal_record {
	uint64_t pos;
	uint32_t flags, name_len, payload_len;
	uint32_t crc;
	size_t size; /* the whole record: header, name, payload, padding */
};

/* CRC-32C (Castagnoli), continuing from `crc` (0 to start). */
uint32_t journal_crc32c(uint32_t crc, const void *data, size_t len);

/* The bytes a record of this name and payload takes. */
size_t journal_record_size(size_t name_len, size_t payload_len);

/* Encode the header for a record at `pos` whose payload is the iovecs
 * (payload_len bytes in all). The padding after the payload is
 * journal_padding(name_len, payload_len) zero bytes. */
void journal_record_encode(unsigned char hdr[JOURNAL_RECORD_HEADER], uint64_t id, uint64_t pos,
			   uint32_t flags, const char *name, size_t name_len,
			   const struct iovec *payload, unsigned iovcnt, size_t payload_len);
size_t journal_padding(size_t name_len, size_t payload_len);
extern const unsigned char journal_zeros[8];

/* Decode the header at buf (avail bytes there, at least the header) as a
 * record of journal `id` expected at `pos` whose whole size may not
 * exceed `room`. True only if it is one: magic, id, position, bounds. The
 * CRC is checked apart (journal_record_check) because checking it needs
 * the payload. */
bool journal_header_decode(const unsigned char *buf, size_t avail, uint64_t id, uint64_t pos,
			   size_t room, struct journal_record *out);
/* The CRC of a decoded record over its header, name and payload. */
bool journal_record_check(const struct journal_record *r, const unsigned char *hdr,
			  const char *name, const unsigned char *payload);
/* The same in pieces, for a payload read a chunk at a time: start with
 * the header and name, continue with journal_crc32c() over the payload,
 * compare with r->crc. */
uint32_t journal_record_crc_start(const unsigned char *hdr, const char *name, size_t name_len);

/* Encode a checkpoint; decode the two slots into the journal's id, the
 * position the log starts at and the slot's seq. False when neither slot
 * is valid. */
void journal_checkpoint_encode(unsigned char out[JOURNAL_CHECKPOINT_SIZE], uint64_t id,
			       uint64_t seq, uint64_t pos);
bool journal_checkpoint_pick(const unsigned char a[JOURNAL_CHECKPOINT_SIZE],
			     const unsigned char b[JOURNAL_CHECKPOINT_SIZE], uint64_t *id,
			     uint64_t *seq, uint64_t *pos);

#endif
