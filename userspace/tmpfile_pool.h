/*
 * tmpfile_pool — anonymous files (O_TMPFILE) opened ahead by a thread of
 * their own.
 *
 * Owns: one thread that keeps up to `size` anonymous files open in a
 * directory, and handing them out. Why: making an inode is the costly
 * part of a new file, and on ext4 without a journal much more so after
 * many deletions (inode allocation skips recently deleted inodes one by
 * one). Done ahead, and on another core when there is one, it is off the
 * path of whoever needs the file: the journal's publisher
 * (spool_journal.c), whose rounds otherwise wait for it.
 */
#ifndef AUTHGATE_TMPFILE_POOL_H
#define AUTHGATE_TMPFILE_POOL_H

#include <stddef.h>

struct tmpfile_pool;

/* Start filling a pool of `size` files in the directory dir_fd (which
 * must stay open). NULL with a message in err. */
struct tmpfile_pool *tmpfile_pool_start(int dir_fd, unsigned size, char *err, size_t errlen);

/* A file opened O_WRONLY, or -1 when none is ready (the caller opens one
 * itself). Thread-safe. */
int tmpfile_pool_take(struct tmpfile_pool *p);

/* End the thread and close the files not taken (they vanish). */
void tmpfile_pool_stop(struct tmpfile_pool *p);

#endif
