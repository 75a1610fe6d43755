/*
 * spool_sync — see spool_sync.h.
 */
#include "spool_sync.h"

#include "log.h"

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

struct waiter {
	int ring_fd;
	void *user_data;
	uint64_t since; /* the requester's writes began then (CLOCK_MONOTONIC ns) */
};

struct spool_sync {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct waiter *pending, *round; /* swapped each round */
	unsigned npending, pending_cap, round_cap;
	bool stopping;
	int fds[2]; /* one directory per filesystem to sync */
	unsigned nfds;
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
};

uint64_t spool_sync_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every filesystem, even after one fails: each must be asked. */
static int sync_all(const struct spool_sync *ss)
{
	int res = 0;
	for (unsigned i = 0; i < ss->nfds; i++)
		if (syncfs(ss->fds[i]) < 0 && res == 0)
			res = -errno;
	return res;
}

/* An answer that cannot be posted would leave a session waiting for ever
 * (and the daemon unable to drain): try again while the target's
 * completion queue is full, and stop the daemon loudly if it never works. */
static void answer_again(struct spool_sync *ss, const struct waiter *w, int res)
{
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

/* A round's answers, ANSWER_BATCH per submission; one the target could
 * not take yet goes again on its own. */
static void answer_all(struct spool_sync *ss, const struct waiter *w, unsigned n, int res)
{
	for (unsigned done = 0; done < n;) {
		unsigned k = n - done < ANSWER_BATCH ? n - done : ANSWER_BATCH;
		for (unsigned i = 0; i < k; i++) {
			const struct waiter *x = &w[done + i];
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ss->ring);
			io_uring_prep_msg_ring(sqe, x->ring_fd, (unsigned)result_for(ss, x, res),
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
				answer_again(ss, &w[done + i], result_for(ss, &w[done + i], res));
		done += k;
	}
}

/* Every request taken in a round was made before its syncfs began, so
 * that syncfs covers what the requester had written. */
static void *sync_main(void *arg)
{
	struct spool_sync *ss = arg;
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
		int res = ss->syncer ? ss->syncer(ss->syncer_arg) : sync_all(ss);
		if (res < 0) {
			log_notice("spool sync: syncfs: %s; messages written before now get 451", strerror(-res));
			ss->failed_at = spool_sync_now();
			ss->failed_res = res;
		}
		/* Counted before the answers go out: whoever holds an answer
		 * sees it counted. */
		pthread_mutex_lock(&ss->lock);
		ss->rounds++;
		ss->answered += n;
		pthread_mutex_unlock(&ss->lock);
		answer_all(ss, round, n, res);
		pthread_mutex_lock(&ss->lock);
	}
	pthread_mutex_unlock(&ss->lock);
	return NULL;
}

struct spool_sync *spool_sync_start(const struct spool *s, char *err, size_t errlen)
{
	struct spool_sync *ss = calloc(1, sizeof *ss);
	if (!ss) {
		snprintf(err, errlen, "spool sync: out of memory");
		return NULL;
	}
	struct stat a, b;
	ss->fds[ss->nfds++] = s->main.tmp_fd;
	if (fstat(s->main.tmp_fd, &a) == 0 && fstat(s->quarantine.tmp_fd, &b) == 0 && a.st_dev != b.st_dev)
		ss->fds[ss->nfds++] = s->quarantine.tmp_fd;
	int rc = io_uring_queue_init(ANSWER_BATCH, &ss->ring, 0);
	if (rc < 0) {
		snprintf(err, errlen, "spool sync: io_uring: %s", strerror(-rc));
		free(ss);
		return NULL;
	}
	pthread_mutex_init(&ss->lock, NULL);
	pthread_cond_init(&ss->wake, NULL);
	/* The thread takes no signals: the daemon's main thread waits for them
	 * with sigtimedwait, and one delivered here would end the process. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&ss->thread, NULL, sync_main, ss);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
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
	unsigned cap = ss->pending_cap ? ss->pending_cap * 2 : 16;
	struct waiter *a = realloc(ss->pending, cap * sizeof *a);
	if (!a) {
		log_notice("spool sync: out of memory");
		abort();
	}
	ss->pending = a;
	ss->pending_cap = cap;
}

void spool_sync_request(struct spool_sync *ss, int ring_fd, void *user_data, uint64_t since)
{
	pthread_mutex_lock(&ss->lock);
	if (ss->npending == ss->pending_cap)
		grow(ss);
	ss->pending[ss->npending++] = (struct waiter){ring_fd, user_data, since};
	pthread_cond_signal(&ss->wake);
	pthread_mutex_unlock(&ss->lock);
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
	free(ss);
}
