/*
 * worker — one thread, one io_uring ring (SINGLE_ISSUER | DEFER_TASKRUN),
 * its own SO_REUSEPORT listeners, its own resolver and caches.
 *
 * Owns: the ring and its completion loop; multishot accept; the sockets
 * c-ares wants watched (poll SQEs) and the resolver's timers (the wait
 * timeout of each loop turn); session timeouts (a one-second sweep); the
 * session limits (shared counters with the other workers); draining on
 * stop. Everything a session does on the ring goes through struct ring_op
 * (the CQE user_data), so one switch routes every completion.
 */
#ifndef AUTHGATE_WORKER_H
#define AUTHGATE_WORKER_H

#include "config.h"
#include "log.h"
#include "logq.h"
#include "spool.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct bufring;
struct spool_sync;
struct spool_journal;
struct session;
struct worker;
struct dns_zone;

enum op_kind {
	OP_ACCEPT,
	OP_RECV,
	OP_SEND,
	OP_SPOOL, /* one step of a spool write (see session.c) */
	OP_CANCEL,
	OP_DNS_POLL,
	OP_DIRSYNC, /* the fsync of a spool new/ and its disk flush, for a batch */
	OP_TMPFILE, /* one open of an anonymous spool file for the pool */
	OP_LOG,     /* one write of queued transaction log lines */
};

struct ring_op {
	enum op_kind kind;
	void *owner; /* listener index (OP_ACCEPT), session, or dns watch */
};

/* State every worker shares: limits, counters, stop and reload flags. */
struct daemon_shared {
	const struct config *cfg;
	struct spool spool;
	struct spool_sync *spool_sync; /* NULL: spool.sync = fsync */
	struct spool_journal *journal; /* spool.sync = journal */
	struct ssl_ctx_st *tls_ctx; /* NULL: no STARTTLS */
	atomic_int stop;   /* 1: drain and exit */
	atomic_int reload; /* bumped by SIGHUP */
	/* The zone overlay (dns.zone), loaded once and shared: the workers'
	 * resolvers each hold a reference. SIGHUP replaces it; zone_lock
	 * keeps a worker from taking a reference to one being given up. */
	pthread_mutex_t zone_lock;
	struct dns_zone *zone;
	atomic_uint sessions;
	struct peer_count *peers; /* sessions per client address (limits.sessions_per_ip) */
	atomic_ulong message_copy_bytes; /* message bytes copied in userspace: must stay 0 */
	/* policy knobs, replaced on SIGHUP */
	atomic_int softfail, permerror, drop_action;
	atomic_ulong transactions;
};

struct worker_stats {
	/* connections; told 421 for limits.sessions, for limits.sessions_per_ip */
	unsigned long accepted, refused, refused_per_ip;
	unsigned long pooled_reads, pool_dry; /* command reads from the shared pool; times it ran dry */
};

#define WORKER_TMPFILE_POOL 16

struct worker {
	unsigned id;
	pthread_t thread;
	struct io_uring ring;
	struct daemon_shared *shared;
	const struct config *cfg;
	int listen_fds[CONFIG_MAX_LISTEN];
	struct ring_op accept_ops[CONFIG_MAX_LISTEN];
	unsigned nlisten;
	/* Out of descriptors (EMFILE/ENFILE) or memory, accepting fails at
	 * once: re-armed only after ACCEPT_BACKOFF_MS, not in a loop. A spare
	 * descriptor, given up for a moment, lets one waiting client hear 421
	 * each time instead of nothing. */
	bool accept_paused[CONFIG_MAX_LISTEN];
	long long accept_resume_ms;
	int spare_fd;
	unsigned long accept_failures; /* times accepting failed for want of resources */
	struct dns_resolver *resolver;
	struct dns_zone *zone; /* the resolver's reference; compared on SIGHUP */
	struct spf_cache *spf_cache;
	struct dkim_key_cache *dkim_keys;
	struct session *sessions; /* doubly linked */
	unsigned long next_session, next_spool;
	int reload_seen;
	bool draining, ring_ready;
	atomic_int wake_fd; /* the ring's fd once it is made, for workers_wake(); else -1 */
	struct worker_stats stats;
	/* Group commit: sessions whose rename into new/ waits for a directory
	 * sync; one in flight per directory covers a whole batch. A sync is
	 * two linked operations (the fsync of new/, then the device flush):
	 * dirsync_left counts their completions still to come, dirsync_res
	 * keeps the first failure. */
	struct ring_op dirsync_ops[2];
	struct session *dirsync_waiting[2], *dirsync_batch[2];
	unsigned dirsync_left[2];
	int dirsync_res[2];
	/* spool.sync = syncfs: anonymous files (O_TMPFILE in tmp/) opened
	 * ahead, so a message's spool write starts without waiting for an
	 * inode to be made. */
	int tmpfiles[WORKER_TMPFILE_POOL];
	unsigned ntmpfiles, tmpfiles_opening;
	time_t tmpfile_retry; /* after a failed open, refill from this second */
	struct ring_op tmpfile_op;
	/* Message arenas: address space reserved once and reused, so a
	 * transaction costs no mmap/munmap and no page-table churn. */
	void *arena_pool[64];
	unsigned narenas;
	/* for the status line (SIGUSR1), read by the main thread */
	atomic_uint arenas_mapped, arenas_pooled;
	/* Command-phase reads: provided buffers shared by all sessions
	 * (NULL: the kernel has none, each session reads into its own). */
	struct bufring *bufring;
	/* Transaction log lines, written through the ring one chunk at a time. */
	struct logq log;
	struct ring_op log_op;
	unsigned long log_direct; /* lines written at once: the queue was full */
	unsigned long notices_dropped; /* session notices dropped: the queue was full */
	char error[600];
};

/* The shared zone overlay: a new reference to the current one (NULL
 * without dns.zone), and its replacement (SIGHUP; takes z's reference). */
struct dns_zone *daemon_zone_get(struct daemon_shared *d);
void daemon_zone_set(struct daemon_shared *d, struct dns_zone *z);

/* Create the worker's listeners (SO_REUSEPORT), ring and resolver. 0 or
 * -1 with w->error set. */
int worker_init(struct worker *w, unsigned id, struct daemon_shared *shared);
/* Make and drop a ring once, to report "no io_uring here" clearly before
 * any thread starts. 0 or -1 with a message. */
int worker_probe_ring(char *err, size_t errlen);
/* The thread body: run until stop and every session has ended. */
void *worker_main(void *arg);
void worker_destroy(struct worker *w);
/* Wake the running workers' ring waits now (after stop or reload was
 * set), rather than at their next one-second timeout. From the main
 * thread, before the workers are joined. */
void workers_wake(struct worker *w, unsigned n);

/* For sessions: an SQE (submitting when the SQ is full), never NULL. */
struct io_uring_sqe *worker_sqe(struct worker *w);
/* Queue s for the next sync of its spool directory (0 main, 1 quarantine);
 * session_dirsync_done() runs when one that covers it completes. */
void worker_dirsync_join(struct worker *w, struct session *s, int which);
/* An anonymous spool file opened ahead in the main spool's tmp/, or -1
 * when none is ready (the caller opens one itself). */
int worker_tmpfile_take(struct worker *w);
/* The transaction's log line, queued for the ring (written at once if the
 * queue is full). */
void worker_log_transaction(struct worker *w, const struct log_txn *t);
/* A notice about one session (a connection cut, a TLS failure, a spool
 * error), queued for the ring like transaction lines; dropped and
 * counted, never written at once, when the queue is full. */
void worker_log_notice(struct worker *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define WORKER_ARENA_READ_AHEAD 65536
#define WORKER_BUFRING_SIZE 2048
/* A message arena of worker_arena_size() bytes (limits.message_size plus
 * read-ahead room), and its return; `used` bytes were touched. */
size_t worker_arena_size(const struct worker *w);
void *worker_arena_get(struct worker *w);
void worker_arena_put(struct worker *w, void *arena, size_t used);
/* Per-address session accounting (limits.sessions_per_ip). */
bool worker_ip_enter(struct worker *w, const struct sockaddr_storage *peer);
void worker_ip_leave(struct worker *w, const struct sockaddr_storage *peer);

#endif
