/*
 * spool_sync — group commit of spool files with syncfs(2), for
 * `spool.sync = syncfs`, and of journal records, for `spool.sync =
 * journal` (spool_journal.h): the same thread and answers, a round being
 * an append and an fdatasync instead of a syncfs.
 *
 * Owns: one thread that makes everything written to the spool's
 * filesystem durable with one syncfs() per round, however many files and
 * workers are waiting, and the answer to each waiting worker: a CQE posted
 * on the worker's own ring (IORING_OP_MSG_RING) carrying the worker's
 * user_data and syncfs's result.
 *
 * Why a thread: io_uring has no syncfs, and syncfs waits for the device;
 * a worker must never block. Why syncfs at all: on a filesystem without a
 * journal (or with one that does not merge commits) every fsync(2) is its
 * own chain of synchronous writes and a device flush, while one syncfs
 * writes back a whole batch in merged I/O and flushes once. The cost: it
 * also writes back whatever else is dirty on that filesystem, so the
 * spool belongs on a filesystem of its own (docs/configuration.md).
 */
#ifndef AUTHGATE_SPOOL_SYNC_H
#define AUTHGATE_SPOOL_SYNC_H

#include "spool.h"
#include "spool_journal.h"

#include <stddef.h>
#include <stdint.h>

struct spool_sync;

/* Start the thread for spool s (its main and quarantine directories;
 * one syncfs per distinct filesystem), or with a journal, for appending
 * to it (spool_sync_append only). NULL with a message in err. */
struct spool_sync *spool_sync_start(const struct spool *s, struct spool_journal *journal,
				    char *err, size_t errlen);

/* Ask for a syncfs that begins after this call. When it has returned, a
 * CQE with `user_data` and res 0 or -errno is posted on the ring whose
 * descriptor is ring_fd. `since`: when the caller's writes to the files
 * this covers began (mono_ns(), mono_clock.h); a round that failed after that
 * fails this request too, even if its own syncfs succeeds (syncfs reports
 * a writeback error only once). Thread-safe. */
void spool_sync_request(struct spool_sync *ss, int ring_fd, void *user_data, uint64_t since);
/* Journal mode: append the entry (its iovecs must stay valid until the
 * answer) in the next round; the answer's res is the entry's res
 * (spool_journal.h). Thread-safe. */
void spool_sync_append(struct spool_sync *ss, int ring_fd, void *user_data,
		       const struct journal_entry *entry);

/* For tests: each round calls syncer(arg) instead of syncfs(2) and takes
 * its 0 or -errno (a writeback error cannot be provoked on demand). */
void spool_sync_set_syncer(struct spool_sync *ss, int (*syncer)(void *arg), void *arg);

/* Rounds run so far and requests they answered (for the stop log line).
 * Both are counted before a round's answers are posted: a caller that
 * holds an answer sees it counted. */
void spool_sync_counts(struct spool_sync *ss, unsigned long *rounds, unsigned long *answered);

/* Answer what is pending, then end the thread. */
void spool_sync_stop(struct spool_sync *ss);

#endif
