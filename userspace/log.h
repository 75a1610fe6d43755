/*
 * log — the daemon's one logging path: one line per transaction (text or
 * JSON) and free-form notices, to stderr, whole lines at a time (several
 * workers write; a line is one write(2) so they never interleave).
 */
#ifndef AUTHGATE_LOG_H
#define AUTHGATE_LOG_H

#include "config.h"

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

void log_transaction(enum log_format fmt, const struct log_txn *t);
void log_notice(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
