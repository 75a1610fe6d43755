/*
 * spool_journal — see spool_journal.h.
 *
 * Positions: `head` is where the next record goes (the appending thread's
 * alone); `durable` is the end of what an fdatasync has covered (the
 * appender stores it, the publisher reads it); `published` is how far the
 * publisher has put records into the spool; `checkpoint` is the durable
 * start of the log, which the appender may not lap.
 */
#include "spool_journal.h"

#include "cond_clock.h"
#include "journal.h"
#include "log.h"
#include "quiet_thread.h"
#include "tmpfile_pool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#define PUBLISH_BATCH 512 /* records per publisher round */
#define APPEND_IOV 1024   /* iovecs per pwritev (IOV_MAX on Linux) */
#define TMPFILES_AHEAD 256 /* anonymous files the publisher finds made */

struct pending_file { /* a record being published */
	int fd;
	bool quarantine;
	char name[JOURNAL_NAME_MAX + 1];
};

struct spool_journal {
	const struct spool *spool;
	/* Two descriptors: the appender's and the publisher's (checkpoints,
	 * reads, its syncs). A writeback error is reported once per open
	 * file, so each side must have its own to see every one. */
	int fd, pub_fd;
	uint64_t lap, id;
	uint64_t head, append_checkpoint; /* the appender's; the checkpoint its last round used */
	bool append_broken;               /* a failed round could not be undone */
	int fail_next;                    /* tests: the next round's fdatasync fails so */
	_Atomic uint64_t durable, checkpoint;
	uint64_t published, checkpoint_seq;
	/* the publisher's pipeline: names linked and a checkpoint written
	 * that the next sync makes durable */
	bool names_pending, checkpoint_pending, journal_apart;
	uint64_t named_end, checkpoint_written;
	unsigned long published_count, recovered_count;
	/* the appender's scratch: one record header and position per entry */
	unsigned char (*hdrs)[JOURNAL_RECORD_HEADER];
	uint64_t *at;
	unsigned hdrs_cap;
	struct iovec iov[APPEND_IOV];
	/* the publisher */
	pthread_t thread;
	bool thread_started, stopping, broken, sync_failed;
	pthread_mutex_t lock;
	pthread_cond_t wake, room; /* room: the checkpoint moved */
	struct pending_file batch[PUBLISH_BATCH];
	struct tmpfile_pool *tmpfiles; /* anonymous files in the spool's tmp/, made ahead */
};

static uint64_t lap_start(const struct spool_journal *j, uint64_t pos)
{
	return pos - pos % j->lap;
}

static off_t file_offset(const struct spool_journal *j, uint64_t pos)
{
	return (off_t)(JOURNAL_HEAD + pos % j->lap);
}

/* ---------------------------------------------------------------- files */

/* All of len at off, or -errno (-EIO for a file that ends early). */
static int pio_all(int fd, char *p, size_t len, off_t off, bool write)
{
	while (len) {
		ssize_t n = write ? pwrite(fd, p, len, off) : pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n, len -= (size_t)n, off += n;
	}
	return 0;
}

static int write_all(int fd, const void *buf, size_t len, off_t off)
{
	return pio_all(fd, (char *)buf, len, off, true);
}

static int read_all(int fd, void *buf, size_t len, off_t off)
{
	return pio_all(fd, buf, len, off, false);
}

/* The checkpoint goes to the slot the last one did not use, so a write
 * torn by a crash leaves the previous one whole. Written is not durable:
 * the appender may use the room only once a sync has covered it
 * (checkpoint_commit). */
static int checkpoint_write(struct spool_journal *j, uint64_t pos)
{
	unsigned char c[JOURNAL_CHECKPOINT_SIZE];
	uint64_t seq = j->checkpoint_seq + 1;
	journal_checkpoint_encode(c, j->id, seq, pos);
	int rc = write_all(j->pub_fd, c, sizeof c, (off_t)(seq % 2) * JOURNAL_SLOT_SIZE);
	if (rc == 0)
		j->checkpoint_seq = seq;
	return rc;
}

static void checkpoint_commit(struct spool_journal *j, uint64_t pos)
{
	pthread_mutex_lock(&j->lock);
	atomic_store(&j->checkpoint, pos);
	pthread_cond_broadcast(&j->room);
	pthread_mutex_unlock(&j->lock);
}

static int write_checkpoint(struct spool_journal *j, uint64_t pos)
{
	int rc = checkpoint_write(j, pos);
	if (rc == 0 && fdatasync(j->pub_fd) < 0)
		rc = -errno;
	if (rc == 0)
		checkpoint_commit(j, pos);
	return rc;
}

/* A new journal: every block written once (zeros), so that appending
 * never allocates and an fdatasync flushes data only; then the first
 * checkpoint. Made under another name and renamed, so the path never
 * holds a journal without a checkpoint. */
static int create_file(const char *path, uint64_t lap, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s.new", path);
	int fd = open(tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		snprintf(err, errlen, "spool journal %s: %s", tmp, strerror(errno));
		return -1;
	}
	static const char zeros[1 << 16];
	uint64_t id;
	int rc = getrandom(&id, sizeof id, 0) == sizeof id ? 0 : -EIO;
	for (uint64_t off = 0; rc == 0 && off < JOURNAL_HEAD + lap; off += sizeof zeros) {
		uint64_t left = JOURNAL_HEAD + lap - off;
		rc = write_all(fd, zeros, left < sizeof zeros ? left : sizeof zeros, (off_t)off);
	}
	unsigned char c[JOURNAL_CHECKPOINT_SIZE];
	journal_checkpoint_encode(c, id, 1, 0);
	if (rc == 0)
		rc = write_all(fd, c, sizeof c, JOURNAL_SLOT_SIZE);
	if (rc == 0 && fsync(fd) < 0)
		rc = -errno;
	close(fd);
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0) {
		snprintf(err, errlen, "spool journal %s: %s", path, strerror(-rc));
		unlink(tmp);
		return -1;
	}
	if (spool_fsync_parent(path) < 0) { /* else the journal's name may not survive a power cut */
		snprintf(err, errlen, "spool journal %s: fsync of its directory: %s", path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------- reading */

enum read_result { READ_OK, READ_END, READ_ERROR };

/* Stream the payload of r through its CRC, a chunk at a time (no buffer
 * the size of a message). */
static enum read_result check_payload(struct spool_journal *j, const struct journal_record *r,
				      const unsigned char *hdr, const char *name, int *err)
{
	uint32_t crc = journal_record_crc_start(hdr, name, r->name_len);
	off_t off = file_offset(j, r->pos) + JOURNAL_RECORD_HEADER + r->name_len;
	static __thread unsigned char buf[1 << 16];
	for (size_t left = r->payload_len; left;) {
		size_t k = left < sizeof buf ? left : sizeof buf;
		if ((*err = read_all(j->pub_fd, buf, k, off)) < 0)
			return READ_ERROR;
		crc = journal_crc32c(crc, buf, k);
		off += (off_t)k, left -= k;
	}
	if (crc == r->crc)
		return READ_OK;
	log_notice("spool journal: the record at %llu fails its checksum (a write torn by a "
		   "crash, never acknowledged); the log ends there", (unsigned long long)r->pos);
	return READ_END;
}

/* The record at pos, or — where the appender skipped the rest of a lap
 * because the record did not fit — at the next lap's start. READ_END
 * where there is none; READ_ERROR (with *err) where the file cannot be
 * read, which must not be taken for the end. `verify` (recovery) checks
 * the CRC; the publisher, whose records were just written and synced by
 * this process, reads only the header and name. */
static enum read_result read_record(struct spool_journal *j, uint64_t pos, struct journal_record *r,
				    char name[JOURNAL_NAME_MAX + 1], bool verify, int *err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		if (attempt == 1) {
			if (pos % j->lap == 0)
				return READ_END;
			pos = lap_start(j, pos) + j->lap;
		}
		unsigned char hdr[JOURNAL_RECORD_HEADER];
		size_t room = (size_t)(j->lap - pos % j->lap);
		if (room < JOURNAL_RECORD_HEADER)
			continue;
		if ((*err = read_all(j->pub_fd, hdr, sizeof hdr, file_offset(j, pos))) < 0)
			return READ_ERROR;
		if (!journal_header_decode(hdr, sizeof hdr, j->id, pos, room, r))
			continue;
		off_t off = file_offset(j, pos) + JOURNAL_RECORD_HEADER;
		if ((*err = read_all(j->pub_fd, name, r->name_len, off)) < 0)
			return READ_ERROR;
		name[r->name_len] = '\0';
		if (memchr(name, '/', r->name_len) || memchr(name, '\0', r->name_len) || name[0] == '.')
			return READ_END; /* never a path: the name is used under new/ */
		return verify ? check_payload(j, r, hdr, name, err) : READ_OK;
	}
	return READ_END;
}

/* ----------------------------------------------------------- publishing */

static const struct spool_dir *dir_for(const struct spool_journal *j, bool quarantine)
{
	return quarantine ? &j->spool->quarantine : &j->spool->main;
}

/* The spool's filesystems, and the journal's when it is not one of them
 * (for its checkpoint). */
static int sync_spool(const struct spool_journal *j)
{
	int rc = spool_syncfs(j->spool);
	if (j->journal_apart && fdatasync(j->pub_fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

/* The payload into an anonymous file, inside the kernel. sendfile(2)
 * and not copy_file_range(2): on XFS or Btrfs the latter may share the
 * journal's blocks with the file (a reflink), and the journal's next
 * write there would then need new blocks, which an fdatasync of data
 * alone must not. */
static int copy_payload(struct spool_journal *j, const struct journal_record *r, int to)
{
	off_t in = file_offset(j, r->pos) + JOURNAL_RECORD_HEADER + r->name_len;
	for (size_t left = r->payload_len; left;) {
		ssize_t n = sendfile(to, j->pub_fd, &in, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		left -= (size_t)n;
	}
	return 0;
}

static int stage_file(struct spool_journal *j, const struct journal_record *r, const char *name,
		      struct pending_file *f)
{
	f->quarantine = r->flags & JOURNAL_FLAG_QUARANTINE;
	snprintf(f->name, sizeof f->name, "%s", name);
	/* One made in the main tmp/ serves the quarantine too when linkat can
	 * reach it there (the same mount). */
	f->fd = j->tmpfiles && (!f->quarantine || j->spool->quarantine_same_mount)
			? tmpfile_pool_take(j->tmpfiles) : -1;
	if (f->fd < 0)
		f->fd = openat(dir_for(j, f->quarantine)->tmp_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC,
			       0640);
	if (f->fd < 0)
		return -errno;
	int rc = copy_payload(j, r, f->fd);
	if (rc < 0) {
		close(f->fd);
		f->fd = -1;
	}
	return rc;
}

static void close_files(struct pending_file *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(f[i].fd);
}

/* Anonymous files for the records from j->published on, up to `to` and
 * PUBLISH_BATCH of them; their number, and in *end where they end. What
 * was staged before a failure goes ahead (out of descriptors, say, the
 * batch is just smaller); a failure with nothing staged is returned. */
static int stage_batch(struct spool_journal *j, uint64_t to, unsigned *n, uint64_t *end)
{
	*n = 0;
	*end = j->published;
	while (*end < to && *n < PUBLISH_BATCH) {
		struct journal_record r;
		char name[JOURNAL_NAME_MAX + 1];
		int rc = 0;
		enum read_result got = read_record(j, *end, &r, name, false, &rc);
		if (got != READ_OK)
			rc = got == READ_END ? -EBADMSG : rc;
		else
			rc = stage_file(j, &r, name, &j->batch[*n]);
		if (rc < 0)
			return *n ? 0 : rc;
		++*n;
		*end = r.pos + r.size;
	}
	return 0;
}

static int link_files(struct spool_journal *j, struct pending_file *f, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		int rc = spool_link_anonymous(j->spool, f[i].fd, dir_for(j, f[i].quarantine)->new_fd,
					      f[i].name);
		if (rc < 0 && rc != -EEXIST)
			return rc;
	}
	return 0;
}

/* One round of the publisher's pipeline, with one sync: stage a batch;
 * sync, which makes durable this batch's data, the names the last round
 * linked and the checkpoint it wrote; then each moves on a step: the
 * room behind that checkpoint goes to the appender, a checkpoint past
 * those names is written, this batch is named. The Maildir rule holds
 * (data durable before the name, name durable before the checkpoint
 * passes it), at one sync per batch instead of three. Returns how many
 * were named, or -errno (nothing moved but what the sync made durable;
 * the next round stages those records again, and a name already in new/
 * counts as done). A failed sync is final (j->sync_failed): the kernel
 * reports a writeback error once and may drop the pages it failed to
 * write, so a later sync that succeeds proves nothing about them. */
static int publish_round(struct spool_journal *j, uint64_t to)
{
	unsigned n;
	uint64_t end;
	int rc = stage_batch(j, to, &n, &end);
	if (rc == 0 && (rc = sync_spool(j)) < 0)
		j->sync_failed = true;
	if (rc == 0 && j->checkpoint_pending) {
		checkpoint_commit(j, j->checkpoint_written);
		j->checkpoint_pending = false;
	}
	if (rc == 0 && j->names_pending && (rc = checkpoint_write(j, j->named_end)) == 0) {
		j->checkpoint_written = j->named_end;
		j->checkpoint_pending = true;
		j->names_pending = false;
	}
	if (rc == 0)
		rc = link_files(j, j->batch, n);
	close_files(j->batch, n);
	if (rc < 0)
		return rc;
	if (n) {
		j->named_end = j->published = end;
		j->names_pending = true;
	}
	return (int)n;
}

/* Data durable, then names, then names durable: the Maildir rule, for
 * recovery (one batch at a time, everything durable when it returns). */
static int name_files(struct spool_journal *j, struct pending_file *f, unsigned n)
{
	int rc = n ? sync_spool(j) : 0;
	if (rc == 0)
		rc = link_files(j, f, n);
	close_files(f, n);
	return rc == 0 && n ? sync_spool(j) : rc;
}

/* One line when publishing starts failing (and once a minute while it
 * goes on), one when it works again. */
static void log_failure(int rc, bool sync_failed, unsigned *failures)
{
	if (*failures % 60 == 0)
		log_notice("spool journal: %s the spool: %s; %s",
			   sync_failed ? "syncing" : "publishing into", strerror(-rc),
			   rc == -EBADMSG || sync_failed
				   ? "publishing stops; the journal keeps every message and the next "
				     "start publishes them (see to the disk first)"
				   : "the messages wait in the journal, trying again each second");
	++*failures;
}

/* Anything for the pipeline to do: records to publish, or names or a
 * checkpoint still waiting for a sync. */
static bool publisher_idle(const struct spool_journal *j)
{
	return j->published == atomic_load(&j->durable) && !j->names_pending && !j->checkpoint_pending;
}

static void *publisher_main(void *arg)
{
	struct spool_journal *j = arg;
	unsigned failures = 0;
	pthread_setname_np(pthread_self(), "ag-publish");
	pthread_mutex_lock(&j->lock);
	for (;;) {
		while (publisher_idle(j) && !j->stopping)
			pthread_cond_wait(&j->wake, &j->lock);
		if (publisher_idle(j) || j->broken)
			break; /* stopping, and all is published (or cannot be) */
		uint64_t to = atomic_load(&j->durable);
		pthread_mutex_unlock(&j->lock);
		int rc = publish_round(j, to);
		pthread_mutex_lock(&j->lock);
		if (rc >= 0) {
			if (failures)
				log_notice("spool journal: publishing into the spool again");
			failures = 0;
			j->published_count += (unsigned)rc;
			continue;
		}
		/* Nothing is lost: the records stay in the journal. A record
		 * that does not read back is a bug or a bad disk; publishing
		 * stops, and the next start tries again. */
		log_failure(rc, j->sync_failed, &failures);
		if (rc == -EBADMSG || j->sync_failed || j->stopping)
			j->broken = true;
		else
			monotonic_pause(&j->wake, &j->lock, 1000, &j->stopping);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* ------------------------------------------------------------- recovery */

/* Base names of the messages readers have moved to cur/ ("NAME:2,S"):
 * those are delivered, not to be published again. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct name_set {
	char **v;
	size_t n, cap;
};

/* 0, or -errno: a set that misses names would publish them again. */
static int name_set_add_dir(struct name_set *s, int dirfd)
{
	int fd = openat(dirfd, "../cur", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (!d) {
		if (fd >= 0)
			close(fd);
		return errno == ENOENT ? 0 : -errno;
	}
	int rc = 0;
	for (struct dirent *e; rc == 0 && (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		if (s->n == s->cap) {
			size_t cap = s->cap ? s->cap * 2 : 64;
			char **v = realloc(s->v, cap * sizeof *v);
			if (!v) {
				rc = -ENOMEM;
				break;
			}
			s->v = v, s->cap = cap;
		}
		char *name = strdup(e->d_name);
		if (!name) {
			rc = -ENOMEM;
			break;
		}
		char *colon = strchr(name, ':');
		if (colon)
			*colon = '\0';
		s->v[s->n++] = name;
	}
	closedir(d);
	return rc;
}

/* cur/ is read once, and only when there is something to recover. */
static int load_cur(const struct spool_journal *j, struct name_set *cur, bool *loaded)
{
	if (*loaded)
		return 0;
	*loaded = true;
	int rc = name_set_add_dir(cur, j->spool->main.new_fd);
	if (rc == 0)
		rc = name_set_add_dir(cur, j->spool->quarantine.new_fd);
	if (rc == 0 && cur->n)
		qsort(cur->v, cur->n, sizeof *cur->v, cmp_str);
	return rc;
}

static bool delivered(const struct spool_journal *j, const struct name_set *cur, const char *name,
		      bool quarantine)
{
	if (faccessat(dir_for(j, quarantine)->new_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return true;
	return cur->n && bsearch(&name, cur->v, cur->n, sizeof *cur->v, cmp_str);
}

struct recovery {
	unsigned long found, already, published;
	struct name_set cur;
	bool cur_loaded;
};

/* One batch of recovery, from *pos: stage every record that checks and
 * is not delivered, then name them by the Maildir rule. Sets *done at
 * the end of the log. */
static int recover_batch(struct spool_journal *j, struct recovery *rv, uint64_t *pos, bool *done)
{
	unsigned n = 0;
	int rc = 0;
	*done = true;
	while (n < PUBLISH_BATCH) {
		struct journal_record r;
		char name[JOURNAL_NAME_MAX + 1];
		enum read_result got = read_record(j, *pos, &r, name, true, &rc);
		if (got != READ_OK) {
			if (got == READ_END)
				rc = 0;
			break;
		}
		if ((rc = load_cur(j, &rv->cur, &rv->cur_loaded)) < 0)
			break;
		rv->found++;
		if (delivered(j, &rv->cur, name, r.flags & JOURNAL_FLAG_QUARANTINE))
			rv->already++;
		else if ((rc = stage_file(j, &r, name, &j->batch[n])) == 0)
			n++;
		if (rc < 0)
			break;
		*pos = r.pos + r.size;
		*done = n < PUBLISH_BATCH;
	}
	if (rc == 0)
		rc = name_files(j, j->batch, n);
	else
		close_files(j->batch, n);
	if (rc == 0)
		rv->published += n;
	return rc;
}

/* Publish, from the checkpoint on, every record that checks and is not
 * in new/ or cur/ already; then start the log afresh two laps on, past
 * every position an earlier run could have written. Anything that goes
 * wrong (the spool full, the journal unreadable) fails the start and
 * leaves the journal as it was: only the end of the log ends recovery. */
static int recover(struct spool_journal *j, char *err, size_t errlen)
{
	uint64_t pos = atomic_load(&j->checkpoint);
	struct recovery rv = {0};
	bool done = false;
	int rc = 0;
	while (rc == 0 && !done)
		rc = recover_batch(j, &rv, &pos, &done);
	for (size_t i = 0; i < rv.cur.n; i++)
		free(rv.cur.v[i]);
	free(rv.cur.v);
	if (rc == 0)
		rc = write_checkpoint(j, lap_start(j, atomic_load(&j->checkpoint)) + 2 * j->lap);
	if (rc < 0) {
		snprintf(err, errlen, "spool journal: recovery: %s (nothing was removed; the "
			 "journal is read again at the next start)", strerror(-rc));
		return -1;
	}
	j->recovered_count += rv.published;
	log_notice("spool journal: %lu message%s in the journal, %lu published now, %lu already "
		   "in the spool", rv.found, rv.found == 1 ? "" : "s", rv.published, rv.already);
	j->head = j->published = atomic_load(&j->checkpoint);
	atomic_store(&j->durable, j->head);
	return 0;
}

/* ----------------------------------------------------------------- open */

static int open_file(struct spool_journal *j, const char *path, uint64_t lap, char *err,
		     size_t errlen)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (errno != ENOENT) {
			snprintf(err, errlen, "spool journal %s: %s", path, strerror(errno));
			return -1;
		}
		if (create_file(path, lap, err, errlen) < 0)
			return -1;
	}
	j->fd = open(path, O_RDWR | O_CLOEXEC);
	j->pub_fd = open(path, O_RDWR | O_CLOEXEC);
	if (j->fd < 0 || j->pub_fd < 0 || fstat(j->fd, &st) < 0) {
		snprintf(err, errlen, "spool journal %s: %s", path, strerror(errno));
		return -1;
	}
	unsigned char a[JOURNAL_CHECKPOINT_SIZE], b[JOURNAL_CHECKPOINT_SIZE];
	uint64_t seq, pos;
	if (st.st_size <= JOURNAL_HEAD || read_all(j->fd, a, sizeof a, 0) < 0 ||
	    read_all(j->fd, b, sizeof b, JOURNAL_SLOT_SIZE) < 0 ||
	    !journal_checkpoint_pick(a, b, &j->id, &seq, &pos)) {
		snprintf(err, errlen, "spool journal %s: not an authgate journal (no valid "
			 "checkpoint); move it away if it is not one", path);
		return -1;
	}
	j->lap = (uint64_t)st.st_size - JOURNAL_HEAD; /* the size it was made with */
	j->journal_apart = !spool_covers(j->spool, st.st_dev);
	j->checkpoint_seq = seq;
	atomic_store(&j->checkpoint, pos);
	return 0;
}

static void close_journal_fds(struct spool_journal *j)
{
	if (j->fd >= 0)
		close(j->fd);
	if (j->pub_fd >= 0)
		close(j->pub_fd);
	j->fd = j->pub_fd = -1;
}

/* After recovery a journal of another size is made again: it is empty. */
static int resize(struct spool_journal *j, const char *path, uint64_t lap, char *err, size_t errlen)
{
	if (j->lap == lap)
		return 0;
	close_journal_fds(j);
	if (create_file(path, lap, err, errlen) < 0)
		return -1;
	return open_file(j, path, lap, err, errlen) < 0 ? -1 : recover(j, err, errlen);
}

static void free_journal(struct spool_journal *j)
{
	tmpfile_pool_stop(j->tmpfiles);
	close_journal_fds(j);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->wake);
	pthread_cond_destroy(&j->room);
	free(j->hdrs);
	free(j->at);
	free(j);
}

struct spool_journal *spool_journal_open(const struct spool *s, const char *path, uint64_t lap,
					 char *err, size_t errlen)
{
	struct spool_journal *j = calloc(1, sizeof *j);
	if (!j) {
		snprintf(err, errlen, "spool journal: out of memory");
		return NULL;
	}
	j->spool = s;
	j->fd = j->pub_fd = -1;
	pthread_mutex_init(&j->lock, NULL);
	monotonic_cond_init(&j->wake);
	monotonic_cond_init(&j->room);
	if (open_file(j, path, lap, err, errlen) < 0 || recover(j, err, errlen) < 0 ||
	    resize(j, path, lap, err, errlen) < 0) {
		free_journal(j);
		return NULL;
	}
	j->tmpfiles = tmpfile_pool_start(s->main.tmp_fd, TMPFILES_AHEAD, err, errlen);
	if (!j->tmpfiles) {
		free_journal(j);
		return NULL;
	}
	int rc = quiet_thread_start(&j->thread, publisher_main, j);
	if (rc != 0) {
		snprintf(err, errlen, "spool journal: thread: %s", strerror(rc));
		free_journal(j);
		return NULL;
	}
	j->thread_started = true;
	return j;
}

/* ------------------------------------------------------------ appending */

static int flush_run(struct spool_journal *j, unsigned niov, uint64_t run_pos)
{
	off_t off = file_offset(j, run_pos);
	struct iovec *v = j->iov;
	while (niov) {
		ssize_t n = pwritev(j->fd, v, (int)niov, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		off += n;
		while (niov && (size_t)n >= v->iov_len) /* a short write: go on after it */
			n -= (ssize_t)v->iov_len, v++, niov--;
		if (niov) {
			v->iov_base = (char *)v->iov_base + n;
			v->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static bool grow_headers(struct spool_journal *j, unsigned n)
{
	if (n <= j->hdrs_cap)
		return true;
	void *h = realloc(j->hdrs, (size_t)n * sizeof *j->hdrs);
	if (h)
		j->hdrs = h;
	void *a = h ? realloc(j->at, (size_t)n * sizeof *j->at) : NULL;
	if (!a)
		return false;
	j->at = a;
	j->hdrs_cap = n;
	return true;
}

/* A round that failed may have left whole records in the page cache
 * (and on disk) at positions the next round may not reach: one whose
 * first record goes to the next lap leaves them where the publisher, and
 * recovery, look next. Their senders were told 451, so their headers are
 * wiped. If even that fails, appending stops for good. */
static void fail_written(struct spool_journal *j, struct journal_entry *e, unsigned n, int rc)
{
	static const unsigned char wipe[JOURNAL_RECORD_HEADER];
	for (unsigned i = 0; i < n; i++) {
		if (e[i].res != 0)
			continue;
		e[i].res = rc;
		if (j->at[i] == UINT64_MAX || j->append_broken)
			continue;
		int wrc = write_all(j->fd, wipe, sizeof wipe, file_offset(j, j->at[i]));
		if (wrc < 0) {
			j->append_broken = true;
			log_notice("spool journal: cannot undo a failed append (%s); from now on "
				   "every message gets 451", strerror(-wrc));
		}
	}
}

/* Records go where they fit: on past the end of the lap's room to the
 * next lap's start, never past the checkpoint's lap (that room is not
 * published yet). Contiguous records go in one pwritev; nothing moves
 * `head` unless everything was written and synced, so after a failure
 * the next round writes over the same positions. */
void spool_journal_append(struct spool_journal *j, struct journal_entry *e, unsigned n)
{
	if (j->append_broken || !grow_headers(j, n)) {
		for (unsigned i = 0; i < n; i++)
			e[i].res = j->append_broken ? -EIO : -ENOMEM;
		return;
	}
	j->append_checkpoint = atomic_load(&j->checkpoint);
	uint64_t head = j->head, limit = j->append_checkpoint + j->lap, run_pos = head;
	unsigned niov = 0;
	int rc = 0;
	for (unsigned i = 0; i < n; i++) {
		e[i].res = 0;
		j->at[i] = UINT64_MAX; /* not placed */
	}
	for (unsigned i = 0; i < n && rc == 0; i++) {
		size_t name_len = strlen(e[i].name), size = journal_record_size(name_len, e[i].len);
		uint64_t at = j->lap - head % j->lap < size ? lap_start(j, head) + j->lap : head;
		if (name_len > JOURNAL_NAME_MAX || e[i].iovcnt > 4 || e[i].len > UINT32_MAX) {
			e[i].res = -EINVAL;
			continue;
		}
		if (at + size > limit) {
			e[i].res = -EAGAIN;
			continue;
		}
		if (niov && (at != head || niov + e[i].iovcnt + 3 > APPEND_IOV)) {
			rc = flush_run(j, niov, run_pos);
			niov = 0;
		}
		if (!niov)
			run_pos = at;
		j->at[i] = at;
		journal_record_encode(j->hdrs[i], j->id, at, e[i].quarantine ? JOURNAL_FLAG_QUARANTINE : 0,
				      e[i].name, name_len, e[i].iov, e[i].iovcnt, e[i].len);
		j->iov[niov++] = (struct iovec){j->hdrs[i], JOURNAL_RECORD_HEADER};
		j->iov[niov++] = (struct iovec){(void *)e[i].name, name_len};
		for (unsigned k = 0; k < e[i].iovcnt; k++)
			j->iov[niov++] = e[i].iov[k];
		j->iov[niov++] = (struct iovec){(void *)journal_zeros, journal_padding(name_len, e[i].len)};
		head = at + size;
	}
	if (rc == 0 && niov)
		rc = flush_run(j, niov, run_pos);
	if (rc == 0 && head != j->head)
		rc = j->fail_next ? j->fail_next : fdatasync(j->fd) < 0 ? -errno : 0;
	j->fail_next = 0;
	if (rc < 0) {
		fail_written(j, e, n, rc);
		return;
	}
	j->head = head;
	pthread_mutex_lock(&j->lock);
	atomic_store(&j->durable, head);
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
}

/* Room comes when the checkpoint moves past the one the last round
 * reckoned with (it may have moved since: then there is no wait). */
void spool_journal_wait_room(struct spool_journal *j, unsigned ms)
{
	struct timespec ts = monotonic_deadline(ms);
	pthread_mutex_lock(&j->lock);
	uint64_t was = j->append_checkpoint;
	while (atomic_load(&j->checkpoint) == was &&
	       pthread_cond_timedwait(&j->room, &j->lock, &ts) == 0)
		;
	pthread_mutex_unlock(&j->lock);
}

void spool_journal_fail_next_round(struct spool_journal *j, int err)
{
	j->fail_next = err;
}

void spool_journal_counts(struct spool_journal *j, unsigned long *published,
			  unsigned long *recovered)
{
	pthread_mutex_lock(&j->lock);
	*published = j->published_count;
	*recovered = j->recovered_count;
	pthread_mutex_unlock(&j->lock);
}

void spool_journal_close(struct spool_journal *j)
{
	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	pthread_cond_signal(&j->wake);
	pthread_mutex_unlock(&j->lock);
	if (j->thread_started)
		pthread_join(j->thread, NULL);
	unsigned long n = j->published_count + j->recovered_count;
	log_notice("spool journal: %lu message%s published into the spool, %lu of them recovered "
		   "at start", n, n == 1 ? "" : "s", j->recovered_count);
	if (j->published != atomic_load(&j->durable))
		log_notice("spool journal: stopping with messages not yet in the spool; they are "
			   "published at the next start");
	free_journal(j);
}
