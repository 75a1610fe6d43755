/*
 * log — the daemon's log lines: one per transaction (text or JSON) and
 * free-form notices, to stderr, whole lines at a time (several workers
 * write; a line is never split over two writes, so they never interleave).
 * Workers queue their transaction lines in a logq and write them through
 * their ring; notices are rare and written at once.
 */
#ifndef AUTHGATE_LOG_H
#define AUTHGATE_LOG_H

#include "config.h"

#include <stdarg.h>
#include <stddef.h>

#include "../verify/auth_result.h"
#include "../verify/policy.h"

struct log_txn {
	unsigned long session;
	unsigned worker;
	char ip[64], helo[256], mail_from[512], rcpts[1024];
	unsigned nrcpt;
	size_t size;
	enum auth_result results[POLICY_CHECKS];
	char verdict[32], code[16], reason[200];
	double ms; /* end of data to reply */
};

#define LOG_LINE_MAX 4096 /* a whole line fits one atomic pipe write */

/* The transaction's line (ending in a newline) into line; its length. */
size_t log_format_transaction(enum log_format fmt, const struct log_txn *t, char *line,
			      size_t size);
/* Format and write at once (for callers without a ring). */
void log_transaction(enum log_format fmt, const struct log_txn *t);
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A notice line (time, "authgate: ", the text, a newline; cut to fit)
 * into line; its length, 0 if size is too small for any. */
size_t log_format_notice(char *line, size_t size, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#endif
