/*
 * session — one SMTP connection on a worker: the glue between the socket
 * (through the worker's ring), the SMTP state machine (smtp.h), the checks
 * (SPF at MAIL FROM, the verdict at end of data) and the spool.
 *
 * Owns: the command buffer and the message arena. Message bytes are
 * received straight into the arena (the kernel writes them there; DATA is
 * unstuffed in place; BDAT chunks land as they are), handed to the checks
 * as one slice, and written to the spool from the arena (writev). The
 * only userspace copy possible is of message bytes a client sent before
 * our 354 or in the same read as its BDAT line; those are counted in
 * daemon_shared.message_copy_bytes so tests can assert there were none.
 *
 * Replies: 250 only after the message is durably in the spool (file
 * fsynced, renamed into new/, directory fsynced); 550 with the RFC 7372
 * code and reason; 451 for a temporary failure; 451/452 4.3.x when the
 * spool cannot take it. A session is freed only when no ring operation
 * and no check still refers to it.
 */
#ifndef AUTHGATE_SESSION_H
#define AUTHGATE_SESSION_H

#include "worker.h"

#include <sys/socket.h>
#include <time.h>

struct session;

/* Take over an accepted socket: greet (421 when busy) and start reading. */
void session_start(struct worker *w, int fd, const struct sockaddr_storage *peer,
		   bool busy);
/* A completion for one of the session's ring operations. */
void session_complete(struct session *s, struct ring_op *op, int res, unsigned cqe_flags);
/* The one-second sweep: timeouts, and the drain deadline when stopping. */
void session_sweep(struct session *s, time_t now, bool drain_now);
struct session *session_next(const struct session *s);
/* Group commit: the chain of sessions one directory fsync covers. */
struct session **session_dirsync_link(struct session *s);
void session_dirsync_done(struct session *s, int res);
/* True while a transaction is in progress (the daemon lets it finish). */
bool session_busy(const struct session *s);

#endif
