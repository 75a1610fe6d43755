/*
 * spool — the Maildir the daemon delivers to (tmp/ → new/), and its
 * quarantine twin (<spool>/quarantine).
 *
 * Owns: creating the directories, holding their descriptors (the worker
 * writes, fsyncs and renames through its ring relative to them), and
 * unique file names (time, pid, worker, sequence, host: the Maildir
 * convention). The durability rule lives in the worker: write + fsync of
 * the file, rename into new/, fsync of new/ — and only then the 250.
 */
#ifndef AUTHGATE_SPOOL_H
#define AUTHGATE_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

struct spool_dir {
	int tmp_fd, new_fd; /* O_DIRECTORY descriptors */
};

struct spool {
	struct spool_dir main, quarantine;
	char hostname[64];
};

/* mkdir -p path/{tmp,new,cur} and path/quarantine/{tmp,new,cur}; 0 or -1
 * with a message in err. */
int spool_open(struct spool *s, const char *path, const char *hostname,
	       char *err, size_t errlen);
void spool_close(struct spool *s);

/* A unique Maildir base name for worker `worker`, sequence `seq`. */
void spool_name(const struct spool *s, unsigned worker, unsigned long seq,
		char *out, size_t size);

#endif
