/*
 * spool — the Maildir the daemon delivers to (tmp/ → new/), and its
 * quarantine twin (<spool>/quarantine).
 *
 * Owns: creating the directories, holding their descriptors (the worker
 * writes, fsyncs and renames through its ring relative to them), unique
 * file names (time, pid, worker, sequence, host: the Maildir convention),
 * and the check that the filesystem can hold anonymous files. The
 * durability rule lives in the session (session.c): the file is durable
 * before it is named in new/, and named there durably before the 250.
 */
#ifndef AUTHGATE_SPOOL_H
#define AUTHGATE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct spool_dir {
	int tmp_fd, new_fd; /* O_DIRECTORY descriptors */
	/* An anonymous, never written file in tmp/: its fdatasync(2) is a
	 * cache flush of the disk under this Maildir that reports failure
	 * (the group commit's second step, see worker.c). */
	int flush_fd;
};

struct spool {
	struct spool_dir main, quarantine;
	bool quarantine_same_mount; /* a file made in main tmp/ may be linked into quarantine new/ */
	/* linkat(fd, "", AT_EMPTY_PATH), plain and on a ring, names an
	 * anonymous file here (see spool.c); else the name goes through
	 * /proc/self/fd, which costs a path walk in procfs per message. */
	bool link_by_fd;
	dev_t main_dev, quarantine_dev; /* the filesystems the spool spans (one or two) */
	char hostname[64];
	int pid; /* the P part of every name */
};

/* mkdir -p path/{tmp,new,cur} and path/quarantine/{tmp,new,cur}; 0 or -1
 * with a message in err. */
int spool_open(struct spool *s, const char *path, const char *hostname,
	       char *err, size_t errlen);
void spool_close(struct spool *s);

/* For spool.sync = syncfs and journal, whose files are made with
 * O_TMPFILE in tmp/ (no name until they are complete and durable) and
 * named in new/ with linkat(2): check both work here, and choose how the
 * link reaches the file (s->link_by_fd). 0 or -1 with a message naming
 * what is missing. */
int spool_check_anonymous(struct spool *s, char *err, size_t errlen);
/* syncfs(2) of every filesystem the spool spans, each asked even after
 * one fails: 0, or the first -errno. */
int spool_syncfs(const struct spool *s);
/* Whether spool_syncfs() covers a file on device `dev`. */
bool spool_covers(const struct spool *s, dev_t dev);

/* fsync(2) the directory that holds `path` (after a create or rename
 * there, to make the name durable). 0, or -1 with errno. */
int spool_fsync_parent(const char *path);

/* How linkat(2) reaches open anonymous file `fd`: its directory
 * descriptor (the return), path (into out) and flags, as chosen by
 * spool_check_anonymous(). */
int spool_link_source(const struct spool *s, int fd, char *out, size_t size, int *flags);
/* Name anonymous file `fd` `name` in directory `dir_fd`: 0 or -errno. */
int spool_link_anonymous(const struct spool *s, int fd, int dir_fd, const char *name);

/* A unique Maildir base name for worker `worker`, sequence `seq`. */
void spool_name(const struct spool *s, unsigned worker, unsigned long seq,
		char *out, size_t size);

#endif
