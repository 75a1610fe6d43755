/*
 * logq — a worker's queue of transaction log lines, written by the ring.
 *
 * Owns: a fixed set of chunks of whole lines and the order they are
 * written in; which chunk (and how much of it) is due next; what happens
 * after a short or failed write. It does no I/O: the worker submits the
 * write logq_next() hands out and reports it with logq_written().
 *
 * Why: a write(2) per transaction is a blocking syscall on the worker's
 * hot path (a slow log reader stalls every session of the worker). Chunks
 * hold at most PIPE_BUF bytes of whole lines, so a chunk written to a pipe
 * is one atomic write and lines of several workers never interleave.
 */
#ifndef AUTHGATE_LOGQ_H
#define AUTHGATE_LOGQ_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define LOGQ_CHUNK 4096 /* PIPE_BUF on Linux */
#define LOGQ_CHUNKS 16

struct logq {
	char buf[LOGQ_CHUNKS][LOGQ_CHUNK];
	size_t len[LOGQ_CHUNKS];
	unsigned head, count; /* chunks holding lines, oldest first */
	size_t done;          /* bytes of the oldest chunk already written */
	bool writing;         /* the oldest chunk is out with the ring */
	unsigned long lost_bytes;
};

void logq_init(struct logq *q);
/* Queue one whole line; false when the queue is full (or the line too
 * long for a chunk): the caller writes it itself. */
bool logq_line(struct logq *q, const char *line, size_t n);
/* The bytes to write next, or NULL when nothing is due or a write is out. */
const char *logq_next(struct logq *q, size_t *len);
/* The write logq_next() asked for returned res (bytes, or -errno). */
void logq_written(struct logq *q, ssize_t res);
bool logq_empty(const struct logq *q);
/* Half the chunks or more hold lines not yet written. */
bool logq_half_full(const struct logq *q);

#endif
