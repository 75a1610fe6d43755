/*
 * dns_batch — c-ares's socket I/O in batches (ares_set_socket_functions):
 * UDP queries wait in a per-socket queue until dns_batch_flush() sends
 * them all with one sendmmsg(), and answers are read with one recvmmsg()
 * and handed to c-ares one datagram per call. TCP goes straight through.
 *
 * Owns: the sockets c-ares opens (which are UDP), their send queues and
 * receive batches. Why: with hundreds of checks in flight each query and
 * each answer was its own system call, and on this paravirtualized guest a
 * system call costs more than the SPF evaluation around it.
 */
#ifndef AUTHGATE_DNS_BATCH_H
#define AUTHGATE_DNS_BATCH_H

#include <ares.h>
#include <stdbool.h>

struct dns_batch;

struct dns_batch *dns_batch_new(void);
void dns_batch_free(struct dns_batch *b);
/* The socket functions to give c-ares, with b as their user data. */
const struct ares_socket_functions *dns_batch_functions(void);
/* Send every queued query now. */
void dns_batch_flush(struct dns_batch *b);
/* Answers read from fd that c-ares has not taken yet (it stopped reading
 * before the batch was empty, e.g. at an answer from a wrong address). */
bool dns_batch_unread(const struct dns_batch *b, int fd);

#endif
