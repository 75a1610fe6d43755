/*
 * spool_journal — the spool's write-ahead journal, for `spool.sync =
 * journal`.
 *
 * Owns: the journal file (format in journal.h), appending a round of
 * messages to it with one pwritev and one fdatasync, the publisher thread
 * that turns durable records into Maildir files, and recovery at start.
 *
 * Why: a message in a Maildir is durable only after two ordered flushes,
 * one for its data and one for its name, each carrying inode, bitmap and
 * directory blocks. A record appended to a file whose blocks are already
 * allocated and written needs one flush of data blocks only, and that is
 * all that stands between the end of data and the 250 in this mode. The
 * Maildir rule still holds for what readers see: the publisher writes
 * each message to an anonymous file in tmp/, makes it durable, names it
 * in new/, makes the name durable, and only then moves the checkpoint
 * past it, so a crash anywhere leaves either the record (published again
 * at the next start) or the whole file in new/, never a partial one.
 */
#ifndef AUTHGATE_SPOOL_JOURNAL_H
#define AUTHGATE_SPOOL_JOURNAL_H

#include "spool.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct spool_journal;

/* One message to append: the file content as iovecs, its Maildir name,
 * where it goes. `res` is set by spool_journal_append. */
struct journal_entry {
	const struct iovec *iov;
	unsigned iovcnt;
	size_t len;
	const char *name;
	bool quarantine;
	int res; /* 0: durable; -EAGAIN: no room yet (the publisher is behind); else -errno */
};

/* Open the journal at `path` with a ring of `lap` bytes, creating it if
 * it does not exist. Whatever an earlier run left in it is published into
 * the spool first (logged), so every message that run acknowledged is in
 * new/ before this returns. Then the publisher thread starts. NULL with a
 * message in err. */
struct spool_journal *spool_journal_open(const struct spool *s, const char *path, uint64_t lap,
					 char *err, size_t errlen);

/* Append the entries in order and make them durable; sets each res.
 * One caller thread at a time (the spool_sync thread). */
void spool_journal_append(struct spool_journal *j, struct journal_entry *e, unsigned n);

/* Wait until the publisher frees room (the checkpoint moves), at most
 * `ms` milliseconds. */
void spool_journal_wait_room(struct spool_journal *j, unsigned ms);

/* For tests: the next append round fails with `err` (-errno) where its
 * fdatasync would be (a writeback error cannot be provoked on demand). */
void spool_journal_fail_next_round(struct spool_journal *j, int err);

/* Messages published into the spool by this run, and of those, how many
 * recovery found in the journal at start. */
void spool_journal_counts(struct spool_journal *j, unsigned long *published,
			  unsigned long *recovered);

/* Publish everything appended, record that, end the publisher. */
void spool_journal_close(struct spool_journal *j);

#endif
