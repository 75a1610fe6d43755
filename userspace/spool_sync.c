/*
 * spool_sync — see spool_sync.h.
 */
#include "spool_sync.h"

#include "log.h"
#include "mono_clock.h"
#include "quiet_thread.h"
#include "spool_journal.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define ANSWER_BATCH 64 /* answers posted per submission; the answering ring's size */
/* How long a message waits for room in a full journal (the publisher
 * behind) before its sender is told 452 and to try again later. */
#define JOURNAL_ROOM_WAIT_NS (10 * 1000000000ull)

struct waiter {
	int ring_fd;
	void *user_data;
	uint64_t since; /* the requester's writes began then (CLOCK_MONOTONIC ns) */
	struct journal_entry entry; /* journal mode: what to append */
	int res;                    /* the answer */
};

struct spool_sync {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct waiter *pending, *round; /* swapped each round */
	unsigned npending, pending_cap, round_cap;
	bool stopping;
	const struct spool *spool;
	struct io_uring ring; /* only for posting answers to the workers' rings */
	unsigned long rounds, answered;
	/* The last failed round: when it returned, and its error. syncfs
	 * reports a writeback error once per descriptor, to whichever round
	 * comes next, so the file it hit may be waiting in a later round:
	 * every request whose writes began before a failure fails too. */
	uint64_t failed_at;
	int failed_res;
	int (*syncer)(void *arg); /* tests only: replaces the syncfs calls */
	void *syncer_arg;
	struct spool_journal *journal; /* journal mode: rounds append to it */
	struct journal_entry *entries;  /* the round's, for spool_journal_append */
	unsigned entries_cap;
	struct waiter *deferred; /* the round's that wait for room */
	unsigned deferred_cap;
};

/* An answer that cannot be posted would leave a session waiting for ever
 * (and the daemon unable to drain): try again while the target's
 * completion queue is full, and stop the daemon loudly if it never works. */
static void answer_again(struct spool_sync *ss, const struct waiter *w)
{
	int res = w->res;
	for (int tries = 0;; tries++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ss->ring);
		io_uring_prep_msg_ring(sqe, w->ring_fd, (unsigned)res, (uint64_t)(uintptr_t)w->user_data, 0);
		struct io_uring_cqe *cqe;
		int rc = io_uring_submit_and_wait(&ss->ring, 1);
		if (rc >= 0)
			rc = io_uring_wait_cqe(&ss->ring, &cqe);
		if (rc == 0) {
			rc = cqe->res;
			io_uring_cqe_seen(&ss->ring, cqe);
		}
		if (rc >= 0)
			return;
		if ((rc != -EOVERFLOW && rc != -EAGAIN && rc != -EBUSY && rc != -EINTR) || tries == 1000) {
			log_notice("spool sync: cannot answer a worker: %s; stopping", strerror(-rc));
			abort();
		}
		usleep(1000);
	}
}

/* The round's result for one request: a failure since its writes began
 * is its failure too. */
static int result_for(const struct spool_sync *ss, const struct waiter *w, int res)
{
	if (res == 0 && ss->failed_res && w->since < ss->failed_at)
		return ss->failed_res;
	return res;
}

static void *grow_array(void *a, unsigned *cap, unsigned n, size_t size)
{
	if (n <= *cap)
		return a;
	void *b = realloc(a, n * size);
	if (!b) { /* out of memory here is out of memory for the daemon */
		log_notice("spool sync: out of memory");
		abort();
	}
	*cap = n;
	return b;
}

/* syncfs mode: one result for the round, each request's from it. All
 * are answered. */
static unsigned syncfs_round(struct spool_sync *ss, struct waiter *w, unsigned n)
{
	int res = ss->syncer ? ss->syncer(ss->syncer_arg) : spool_syncfs(ss->spool);
	if (res < 0) {
		log_notice("spool sync: syncfs: %s; messages written before now get 451", strerror(-res));
		ss->failed_at = mono_ns();
		ss->failed_res = res;
	}
	for (unsigned i = 0; i < n; i++)
		w[i].res = result_for(ss, &w[i], res);
	return n;
}

/* journal mode: the round's messages appended and synced, each with its
 * own result. One that found no room waits for the publisher to free
 * some (into ss->deferred), up to JOURNAL_ROOM_WAIT_NS, then gets ENOSPC
 * (452). Returns how many are answered: they are the first ones in w. */
static unsigned journal_round(struct spool_sync *ss, struct waiter *w, unsigned n)
{
	ss->entries = grow_array(ss->entries, &ss->entries_cap, n, sizeof *ss->entries);
	ss->deferred = grow_array(ss->deferred, &ss->deferred_cap, n, sizeof *ss->deferred);
	for (unsigned i = 0; i < n; i++)
		ss->entries[i] = w[i].entry;
	spool_journal_append(ss->journal, ss->entries, n);
	uint64_t now = mono_ns();
	unsigned answered = 0, deferred = 0;
	for (unsigned i = 0; i < n; i++) {
		w[i].res = ss->entries[i].res;
		if (w[i].res == -EAGAIN && now - w[i].since < JOURNAL_ROOM_WAIT_NS) {
			ss->deferred[deferred++] = w[i];
			continue;
		}
		if (w[i].res == -EAGAIN)
			w[i].res = -ENOSPC;
		w[answered++] = w[i];
	}
	if (deferred)
		memcpy(w + answered, ss->deferred, deferred * sizeof *w);
	return answered;
}

static void grow(struct spool_sync *ss);

/* Requests that wait for room go ahead of the ones that came since. */
static void requeue_first(struct spool_sync *ss, const struct waiter *w, unsigned n)
{
	pthread_mutex_lock(&ss->lock);
	while (ss->npending + n > ss->pending_cap)
		grow(ss);
	memmove(ss->pending + n, ss->pending, ss->npending * sizeof *w);
	memcpy(ss->pending, w, n * sizeof *w);
	ss->npending += n;
	pthread_mutex_unlock(&ss->lock);
}

/* A round's answers, ANSWER_BATCH per submission; one the target could
 * not take yet goes again on its own. */
static void answer_all(struct spool_sync *ss, const struct waiter *w, unsigned n)
{
	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < ANSWER_BATCH ? n - done : ANSWER_BATCH;
		for (unsigned i = 0; i < k; i++) {
			const struct waiter *x = &w[done + i];
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ss->ring);
			io_uring_prep_msg_ring(sqe, x->ring_fd, (unsigned)x->res,
					       (uint64_t)(uintptr_t)x->user_data, 0);
			io_uring_sqe_set_data64(sqe, done + i);
		}
		int submitted = io_uring_submit_and_wait(&ss->ring, k);
		if (submitted != (int)k) { /* the ring refused: said loudly, never dropped */
			log_notice("spool sync: io_uring submit: %s; stopping",
				   strerror(submitted < 0 ? -submitted : EIO));
			abort();
		}
		uint64_t again = 0; /* bit i: w[done + i] goes again */
		for (unsigned i = 0; i < k; i++) {
			struct io_uring_cqe *cqe;
			if (io_uring_wait_cqe(&ss->ring, &cqe) < 0) {
				log_notice("spool sync: io_uring wait failed; stopping");
				abort();
			}
			if (cqe->res < 0)
				again |= 1ull << (io_uring_cqe_get_data64(cqe) - done);
			io_uring_cqe_seen(&ss->ring, cqe);
		}
		for (unsigned i = 0; i < k; i++) /* after the batch: its CQEs are all reaped */
			if (again >> i & 1)
				answer_again(ss, &w[done + i]);
		done += k;
	}
}

/* Every request taken in a round was made before its syncfs began, so
 * that syncfs covers what the requester had written. */
static void *sync_main(void *arg)
{
	struct spool_sync *ss = arg;
	pthread_setname_np(pthread_self(), ss->journal ? "ag-journal" : "ag-syncfs");
	pthread_mutex_lock(&ss->lock);
	for (;;) {
		while (!ss->npending && !ss->stopping)
			pthread_cond_wait(&ss->wake, &ss->lock);
		if (!ss->npending)
			break;
		unsigned n = ss->npending, cap = ss->pending_cap;
		struct waiter *round = ss->pending;
		ss->pending = ss->round;
		ss->pending_cap = ss->round_cap;
		ss->round = round;
		ss->round_cap = cap;
		ss->npending = 0;
		pthread_mutex_unlock(&ss->lock);
		unsigned k = ss->journal ? journal_round(ss, round, n) : syncfs_round(ss, round, n);
		/* Counted before the answers go out: whoever holds an answer
		 * sees it counted. */
		pthread_mutex_lock(&ss->lock);
		ss->rounds++;
		ss->answered += k;
		pthread_mutex_unlock(&ss->lock);
		answer_all(ss, round, k);
		if (k < n) {
			requeue_first(ss, round + k, n - k);
			spool_journal_wait_room(ss->journal, 100);
		}
		pthread_mutex_lock(&ss->lock);
	}
	pthread_mutex_unlock(&ss->lock);
	return NULL;
}

struct spool_sync *spool_sync_start(const struct spool *s, struct spool_journal *journal,
				    char *err, size_t errlen)
{
	struct spool_sync *ss = calloc(1, sizeof *ss);
	if (!ss) {
		snprintf(err, errlen, "spool sync: out of memory");
		return NULL;
	}
	ss->journal = journal;
	ss->spool = s;
	int rc = io_uring_queue_init(ANSWER_BATCH, &ss->ring, 0);
	if (rc < 0) {
		snprintf(err, errlen, "spool sync: io_uring: %s", strerror(-rc));
		free(ss);
		return NULL;
	}
	pthread_mutex_init(&ss->lock, NULL);
	pthread_cond_init(&ss->wake, NULL);
	rc = quiet_thread_start(&ss->thread, sync_main, ss);
	if (rc != 0) {
		snprintf(err, errlen, "spool sync: thread: %s", strerror(rc));
		io_uring_queue_exit(&ss->ring);
		free(ss);
		return NULL;
	}
	return ss;
}

/* Only the pending buffer grows here, under the lock; the round buffer
 * is the thread's until it swaps them. Out of memory here is out of
 * memory for the whole daemon: stop rather than lose a waiter. */
static void grow(struct spool_sync *ss)
{
	ss->pending = grow_array(ss->pending, &ss->pending_cap,
				 ss->pending_cap ? ss->pending_cap * 2 : 16, sizeof *ss->pending);
}

static void enqueue(struct spool_sync *ss, const struct waiter *w)
{
	pthread_mutex_lock(&ss->lock);
	if (ss->npending == ss->pending_cap)
		grow(ss);
	ss->pending[ss->npending++] = *w;
	pthread_cond_signal(&ss->wake);
	pthread_mutex_unlock(&ss->lock);
}

void spool_sync_request(struct spool_sync *ss, int ring_fd, void *user_data, uint64_t since)
{
	enqueue(ss, &(struct waiter){.ring_fd = ring_fd, .user_data = user_data, .since = since});
}

void spool_sync_append(struct spool_sync *ss, int ring_fd, void *user_data,
		       const struct journal_entry *entry)
{
	enqueue(ss, &(struct waiter){.ring_fd = ring_fd, .user_data = user_data,
				     .since = mono_ns(), .entry = *entry});
}

void spool_sync_set_syncer(struct spool_sync *ss, int (*syncer)(void *arg), void *arg)
{
	pthread_mutex_lock(&ss->lock);
	ss->syncer = syncer;
	ss->syncer_arg = arg;
	pthread_mutex_unlock(&ss->lock);
}

void spool_sync_counts(struct spool_sync *ss, unsigned long *rounds, unsigned long *answered)
{
	pthread_mutex_lock(&ss->lock);
	*rounds = ss->rounds;
	*answered = ss->answered;
	pthread_mutex_unlock(&ss->lock);
}

void spool_sync_stop(struct spool_sync *ss)
{
	if (!ss)
		return;
	pthread_mutex_lock(&ss->lock);
	ss->stopping = true;
	pthread_cond_signal(&ss->wake);
	pthread_mutex_unlock(&ss->lock);
	pthread_join(ss->thread, NULL);
	io_uring_queue_exit(&ss->ring);
	pthread_mutex_destroy(&ss->lock);
	pthread_cond_destroy(&ss->wake);
	free(ss->pending);
	free(ss->round);
	free(ss->entries);
	free(ss->deferred);
	free(ss);
}
