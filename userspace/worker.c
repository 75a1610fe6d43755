/*
 * worker — see worker.h.
 */
#include "worker.h"

#include "bpf_loader.h"
#include "bufring.h"
#include "log.h"
#include "mono_clock.h"
#include "peer_count.h"
#include "verdict_stats.h"
#include "session.h"

#include "../verify/dkim_key.h"
#include "../verify/dns.h"
#include "../verify/dns_ares.h"
#include "../verify/dns_zone.h"
#include "../verify/spf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <unistd.h>

#define RING_ENTRIES 1024
#define MAX_DNS_WATCH 64

/* The sockets c-ares asked us to watch, each with its poll SQE. */
struct dns_watch {
	struct ring_op op;
	struct worker *w;
	int fd;
	bool rd, wr, armed;
};

static __thread struct dns_watch dns_watches[MAX_DNS_WATCH];

/* --------------------------------------------------------- listeners */

static int listen_socket(const struct config_listen *l, char *err, size_t errlen)
{
	int fd = socket(l->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
	    (l->addr.ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) < 0) ||
	    bind(fd, (const struct sockaddr *)&l->addr, l->addrlen) < 0 ||
	    listen(fd, 4096) < 0) {
		snprintf(err, errlen, "listen %s: %s", l->text, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static void arm_accept(struct worker *w, unsigned i)
{
	struct io_uring_sqe *sqe = worker_sqe(w);
	io_uring_prep_multishot_accept(sqe, w->listen_fds[i], NULL, NULL, SOCK_CLOEXEC);
	io_uring_sqe_set_data(sqe, &w->accept_ops[i]);
}

struct io_uring_sqe *worker_sqe(struct worker *w)
{
	struct io_uring_sqe *sqe;
	while (!(sqe = io_uring_get_sqe(&w->ring)))
		io_uring_submit(&w->ring);
	return sqe;
}

/* ---------------------------------------------------------- resolver */

static void dns_arm(struct dns_watch *dw)
{
	struct io_uring_sqe *sqe = worker_sqe(dw->w);
	io_uring_prep_poll_add(sqe, dw->fd, (dw->rd ? POLLIN : 0) | (dw->wr ? POLLOUT : 0));
	io_uring_sqe_set_data(sqe, &dw->op);
	dw->armed = true;
}

/* c-ares no longer watches the socket and is about to close it (its last
 * query ended, say by a timeout). A poll in flight holds the socket open
 * and would never complete, and a new socket given the same number would
 * find this slot armed and never be polled: so the poll is removed and
 * the slot lets go of the number. It is free again when the removed
 * poll's completion comes back (on_dns_poll). */
static void dns_disarm(struct dns_watch *dw)
{
	struct io_uring_sqe *sqe = worker_sqe(dw->w);
	io_uring_prep_poll_remove(sqe, (__u64)(uintptr_t)&dw->op);
	io_uring_sqe_set_data(sqe, NULL);
	dw->fd = -1;
}

/* c-ares changed what it wants watched on fd. A poll already in flight is
 * left to complete, and the re-arm after it uses the new wishes; when it
 * wants nothing, the poll is removed (dns_disarm). */
static void on_dns_watch(void *arg, int fd, bool rd, bool wr)
{
	struct worker *w = arg;
	struct dns_watch *dw = NULL, *free_slot = NULL;
	for (int i = 0; i < MAX_DNS_WATCH; i++) {
		if (dns_watches[i].fd == fd && (dns_watches[i].rd || dns_watches[i].wr || dns_watches[i].armed))
			dw = &dns_watches[i];
		else if (!free_slot && !dns_watches[i].rd && !dns_watches[i].wr && !dns_watches[i].armed)
			free_slot = &dns_watches[i];
	}
	if (!dw && !(rd || wr))
		return;
	if (!dw) {
		if (!free_slot) {
			log_notice("worker %u: too many DNS sockets", w->id);
			return;
		}
		dw = free_slot;
		*dw = (struct dns_watch){.op = {OP_DNS_POLL, dw}, .w = w, .fd = fd};
	}
	dw->rd = rd;
	dw->wr = wr;
	if ((rd || wr) && !dw->armed)
		dns_arm(dw);
	else if (!rd && !wr && dw->armed)
		dns_disarm(dw);
}

static void on_dns_poll(struct dns_watch *dw, int res)
{
	struct worker *w = dw->w;
	dw->armed = false;
	int fd = dw->fd;
	if (res > 0 && fd >= 0)
		dns_resolver_process_fd(w->resolver, fd, res & (POLLIN | POLLERR | POLLHUP),
					res & POLLOUT);
	if ((dw->rd || dw->wr) && !dw->armed && dw->fd == fd)
		dns_arm(dw);
}

struct dns_zone *daemon_zone_get(struct daemon_shared *d)
{
	pthread_mutex_lock(&d->zone_lock);
	struct dns_zone *z = dns_zone_ref(d->zone);
	pthread_mutex_unlock(&d->zone_lock);
	return z;
}

void daemon_zone_set(struct daemon_shared *d, struct dns_zone *z)
{
	pthread_mutex_lock(&d->zone_lock);
	struct dns_zone *old = d->zone;
	d->zone = z;
	pthread_mutex_unlock(&d->zone_lock);
	dns_zone_free(old); /* workers still on it keep their references */
}

static struct dns_resolver *make_resolver(struct worker *w)
{
	const struct config *cfg = w->cfg;
	struct dns_upstream_config uc = {.servers = cfg->dns_servers[0] ? cfg->dns_servers : NULL,
					 .timeout_ms = (int)cfg->dns_timeout_ms,
					 .tries = (int)cfg->dns_tries};
	struct dns_upstream *up = dns_upstream_new(&uc, w->error, sizeof w->error);
	if (!up)
		return NULL;
	w->zone = daemon_zone_get(w->shared);
	struct dns_resolver *r = dns_resolver_new(NULL, w->zone, up);
	if (!r) {
		snprintf(w->error, sizeof w->error, "out of memory for the resolver");
		dns_upstream_free(up);
		dns_zone_free(w->zone);
		w->zone = NULL;
	}
	return r;
}

/* -------------------------------------------------------- ip limits */

bool worker_ip_enter(struct worker *w, const struct sockaddr_storage *peer)
{
	if (peer_count_enter(w->shared->peers, peer, w->cfg->sessions_per_ip))
		return true;
	w->stats.refused_per_ip++;
	return false;
}

void worker_ip_leave(struct worker *w, const struct sockaddr_storage *peer)
{
	peer_count_leave(w->shared->peers, peer);
}

/* ------------------------------------------------------------ accept */

#define ACCEPT_BACKOFF_MS 100

static bool out_of_resources(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOMEM || err == ENOBUFS;
}

/* The spare descriptor refuse_one_waiting() gives up, held again. */
static void keep_spare(struct worker *w)
{
	if (w->spare_fd < 0)
		w->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* No descriptor for a new connection: give up the spare for a moment to
 * take one waiting client and tell it so, rather than leave it hanging.
 * Only while no accept is armed on the listener (the worker's own, under
 * SO_REUSEPORT): then a connection poll() sees waiting is still there for
 * accept4(), which therefore does not block (the listener is a blocking
 * socket, as io_uring wants it). */
static void refuse_one_waiting(struct worker *w, unsigned i)
{
	struct pollfd p = {.fd = w->listen_fds[i], .events = POLLIN};
	if (w->spare_fd < 0 || poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
		return;
	close(w->spare_fd);
	w->spare_fd = -1;
	int fd = accept4(w->listen_fds[i], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd >= 0) {
		static const char busy[] = "421 4.3.2 Too busy (out of descriptors), try again later\r\n";
		ssize_t n = send(fd, busy, sizeof busy - 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		(void)n;
		close(fd);
	}
	keep_spare(w);
}

/* Re-arm the listeners paused by a failure, once the backoff is over. */
static void resume_accepting(struct worker *w)
{
	if (!w->accept_resume_ms || w->draining || mono_ms() < w->accept_resume_ms)
		return;
	w->accept_resume_ms = 0;
	keep_spare(w); /* if another thread took the last one meanwhile */
	for (unsigned i = 0; i < w->nlisten; i++)
		if (w->accept_paused[i]) {
			w->accept_paused[i] = false;
			arm_accept(w, i);
		}
}

static void on_accept(struct worker *w, unsigned i, int res, unsigned flags)
{
	bool starved = res < 0 && out_of_resources(-res);
	if (starved)
		w->accept_failures++;
	if (!(flags & IORING_CQE_F_MORE) && !w->draining) {
		if (starved) {
			if (res == -EMFILE || res == -ENFILE)
				refuse_one_waiting(w, i);
			/* failing again at once would spin the worker */
			w->accept_paused[i] = true;
			w->accept_resume_ms = mono_ms() + ACCEPT_BACKOFF_MS;
		} else {
			arm_accept(w, i); /* the multishot ended for another reason */
		}
	}
	if (res < 0)
		return;
	if (w->draining) {
		close(res);
		return;
	}
	struct sockaddr_storage peer;
	socklen_t plen = sizeof peer;
	if (getpeername(res, (struct sockaddr *)&peer, &plen) < 0) {
		close(res);
		return;
	}
	int one = 1;
	setsockopt(res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	unsigned n = atomic_fetch_add(&w->shared->sessions, 1) + 1;
	bool busy = n > w->cfg->sessions;
	w->stats.accepted++;
	bpf_steer_load(w->id, +1);
	if (busy)
		w->stats.refused++;
	session_start(w, res, &peer, busy);
}

/* ------------------------------------------------------------ arenas */

#define ARENA_KEEP_TOUCHED (1u << 20) /* give back pages beyond this on reuse */

size_t worker_arena_size(const struct worker *w)
{
	return w->cfg->message_size + WORKER_ARENA_READ_AHEAD;
}

void *worker_arena_get(struct worker *w)
{
	if (w->narenas) {
		atomic_store_explicit(&w->arenas_pooled, w->narenas - 1, memory_order_relaxed);
		return w->arena_pool[--w->narenas];
	}
	void *a = mmap(NULL, worker_arena_size(w), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (a == MAP_FAILED)
		return NULL;
	atomic_fetch_add_explicit(&w->arenas_mapped, 1, memory_order_relaxed);
	return a;
}

void worker_arena_put(struct worker *w, void *arena, size_t used)
{
	if (w->narenas == sizeof w->arena_pool / sizeof w->arena_pool[0]) {
		munmap(arena, worker_arena_size(w));
		atomic_fetch_sub_explicit(&w->arenas_mapped, 1, memory_order_relaxed);
		return;
	}
	/* A big message leaves many pages behind; return them to the kernel
	 * and keep only the first megabyte warm for the next one. */
	if (used > ARENA_KEEP_TOUCHED)
		madvise((char *)arena + ARENA_KEEP_TOUCHED, worker_arena_size(w) - ARENA_KEEP_TOUCHED,
			MADV_DONTNEED);
	w->arena_pool[w->narenas++] = arena;
	atomic_store_explicit(&w->arenas_pooled, w->narenas, memory_order_relaxed);
}

/* ------------------------------------------------------ group commit */

/* fsync(new/), then — linked, so only once that has returned — an
 * fdatasync of the directory's flush file, which asks the device for a
 * cache flush and reports whether it failed. The second is not
 * redundant: ext4 with its journal answers a directory fsync with
 * success, without writing anything, when the transaction that held the
 * renames has already failed to commit (its journal aborted, say because
 * the disk went away) before the fsync looked. That happens whenever a
 * rename lands in a transaction another fsync is committing while this
 * worker's previous directory fsync is in flight. A failed flush then
 * fails the batch (451), as it must: nothing since the last good flush
 * is known to be on the disk. */
static void dirsync_start(struct worker *w, int which)
{
	const struct spool_dir *dir = which ? &w->shared->spool.quarantine : &w->shared->spool.main;
	w->dirsync_batch[which] = w->dirsync_waiting[which];
	w->dirsync_waiting[which] = NULL;
	w->dirsync_left[which] = 2;
	w->dirsync_res[which] = 0;
	while (io_uring_sq_space_left(&w->ring) < 2)
		io_uring_submit(&w->ring); /* a link must not be split across submissions */
	struct io_uring_sqe *sqe = worker_sqe(w);
	io_uring_prep_fsync(sqe, dir->new_fd, 0);
	io_uring_sqe_set_data(sqe, &w->dirsync_ops[which]);
	sqe->flags |= IOSQE_IO_LINK;
	sqe = worker_sqe(w);
	io_uring_prep_fsync(sqe, dir->flush_fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, &w->dirsync_ops[which]);
}

void worker_dirsync_join(struct worker *w, struct session *s, int which)
{
	*session_dirsync_link(s) = w->dirsync_waiting[which];
	w->dirsync_waiting[which] = s;
	if (!w->dirsync_left[which])
		dirsync_start(w, which);
}

/* Every rename in the batch happened before this sync was submitted, so
 * it made them all durable: each may now answer 250. A failure of the
 * fsync cancels the flush linked to it (-ECANCELED): the fsync's own
 * error is the one to report. */
static void on_dirsync(struct worker *w, int which, int res)
{
	if (res < 0 && (w->dirsync_res[which] == 0 || w->dirsync_res[which] == -ECANCELED))
		w->dirsync_res[which] = res;
	if (--w->dirsync_left[which])
		return;
	res = w->dirsync_res[which];
	struct session *s = w->dirsync_batch[which];
	w->dirsync_batch[which] = NULL;
	if (w->dirsync_waiting[which])
		dirsync_start(w, which);
	while (s) {
		struct session *next = *session_dirsync_link(s);
		session_dirsync_done(s, res);
		s = next;
	}
}

/* ------------------------------------------------- anonymous files */

int worker_tmpfile_take(struct worker *w)
{
	return w->ntmpfiles ? w->tmpfiles[--w->ntmpfiles] : -1;
}

/* Once per loop turn in syncfs mode: keep the pool full. */
static void tmpfile_refill(struct worker *w)
{
	if (w->shared->cfg->spool_sync != SPOOL_SYNC_SYNCFS || w->draining ||
	    mono_coarse_s() < w->tmpfile_retry)
		return;
	while (w->ntmpfiles + w->tmpfiles_opening < WORKER_TMPFILE_POOL) {
		struct io_uring_sqe *sqe = worker_sqe(w);
		io_uring_prep_openat(sqe, w->shared->spool.main.tmp_fd, ".",
				     O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
		io_uring_sqe_set_data(sqe, &w->tmpfile_op);
		w->tmpfiles_opening++;
	}
}

/* A failure (the disk is full, say) is the session's to report when it
 * opens its own file; the pool just waits a second before trying again. */
static void on_tmpfile(struct worker *w, int res)
{
	w->tmpfiles_opening--;
	if (res < 0) {
		w->tmpfile_retry = mono_coarse_s() + 1;
		return;
	}
	if (w->draining || w->ntmpfiles == WORKER_TMPFILE_POOL)
		close(res);
	else
		w->tmpfiles[w->ntmpfiles++] = res;
}

/* --------------------------------------------------------------- log */

void worker_log_transaction(struct worker *w, const struct log_txn *t)
{
	char line[LOG_LINE_MAX];
	verdict_stats_count(w->id, t);
	size_t n = log_format_transaction(w->cfg->log_format, t, line, sizeof line);
	if (logq_line(&w->log, line, n))
		return;
	w->log_direct++; /* the reader is far behind: wait for it this once */
	ssize_t r = write(STDERR_FILENO, line, n);
	(void)r;
}

void worker_log_notice(struct worker *w, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_format_notice(line, sizeof line, fmt, ap);
	va_end(ap);
	/* A client can cause these: they never wait for the reader, and they
	 * leave half the queue to transaction lines. */
	if (n && (logq_half_full(&w->log) || !logq_line(&w->log, line, n)))
		w->notices_dropped++;
}

/* Once per loop turn: hand the next chunk of lines to the ring. */
static void log_flush(struct worker *w)
{
	size_t len;
	const char *p = logq_next(&w->log, &len);
	if (!p)
		return;
	struct io_uring_sqe *sqe = worker_sqe(w);
	io_uring_prep_write(sqe, STDERR_FILENO, p, (unsigned)len, (__u64)-1);
	io_uring_sqe_set_data(sqe, &w->log_op);
}

/* At exit: wait for the write that is out, then write the rest at once. */
static void log_drain(struct worker *w)
{
	struct io_uring_cqe *cqe;
	while (w->log.writing && io_uring_wait_cqe(&w->ring, &cqe) == 0) {
		struct ring_op *op = io_uring_cqe_get_data(cqe);
		if (op == &w->log_op)
			logq_written(&w->log, cqe->res);
		io_uring_cqe_seen(&w->ring, cqe);
	}
	w->log.writing = false;
	size_t len;
	const char *p;
	while ((p = logq_next(&w->log, &len))) {
		ssize_t r = write(STDERR_FILENO, p, len);
		logq_written(&w->log, r < 0 ? -errno : r);
	}
}

/* -------------------------------------------------------------- loop */

static void dispatch(struct worker *w, struct io_uring_cqe *cqe)
{
	struct ring_op *op = io_uring_cqe_get_data(cqe);
	if (!op)
		return;
	switch (op->kind) {
	case OP_ACCEPT:
		on_accept(w, (unsigned)(uintptr_t)op->owner, cqe->res, cqe->flags);
		break;
	case OP_DNS_POLL:
		on_dns_poll(op->owner, cqe->res);
		break;
	case OP_DIRSYNC:
		on_dirsync(w, (int)(uintptr_t)op->owner, cqe->res);
		break;
	case OP_LOG:
		logq_written(&w->log, cqe->res);
		break;
	case OP_TMPFILE:
		on_tmpfile(w, cqe->res);
		break;
	default:
		session_complete(op->owner, op, cqe->res, cqe->flags);
		break;
	}
}

/* SIGHUP: the main thread has read the file once (or kept the old zone
 * if it would not load); take whichever is current now. Without dns.zone
 * both are NULL, so a new zone is never NULL. */
static void reload_zone(struct worker *w)
{
	struct dns_zone *z = daemon_zone_get(w->shared);
	if (z == w->zone) {
		dns_zone_free(z);
		return;
	}
	w->zone = z;
	dns_resolver_set_zone(w->resolver, z);
	log_notice("worker %u: zone overlay reloaded (%zu names)", w->id, dns_zone_owner_count(z));
}

static void stop_accepting(struct worker *w)
{
	w->draining = true;
	for (unsigned i = 0; i < w->nlisten; i++) {
		struct io_uring_sqe *sqe = worker_sqe(w);
		io_uring_prep_cancel(sqe, &w->accept_ops[i], 0);
		io_uring_sqe_set_data(sqe, NULL);
		shutdown(w->listen_fds[i], SHUT_RDWR);
	}
}

static void sweep(struct worker *w, time_t now, time_t drain_deadline)
{
	for (struct session *s = w->sessions, *next; s; s = next) {
		next = session_next(s);
		bool drain_now = w->draining && (!session_busy(s) || now >= drain_deadline);
		session_sweep(s, now, drain_now);
	}
}

/* The ring is made on the thread that uses it: SINGLE_ISSUER rings take
 * submissions from their creator only. */
static int ring_init(struct io_uring *ring, char *err, size_t errlen)
{
	/* SUBMIT_ALL: a submit takes every queued SQE even when one fails
	 * early, so the loop in dirsync_start() always frees its two slots. */
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
					     IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL,
				    .cq_entries = RING_ENTRIES * 4};
	int rc = io_uring_queue_init_params(RING_ENTRIES, ring, &p);
	if (rc < 0)
		snprintf(err, errlen,
			 "io_uring: %s (is it blocked by seccomp, or by sysctl kernel.io_uring_disabled?)",
			 strerror(-rc));
	return rc;
}

int worker_probe_ring(char *err, size_t errlen)
{
	struct io_uring ring;
	if (ring_init(&ring, err, errlen) < 0)
		return -1;
	io_uring_queue_exit(&ring);
	return 0;
}

void *worker_main(void *arg)
{
	struct worker *w = arg;
	time_t last_sweep = 0, drain_deadline = 0;
	char name[16]; /* for top -H and perf: which thread is which */
	snprintf(name, sizeof name, "ag-worker-%u", w->id);
	pthread_setname_np(pthread_self(), name);
	if (ring_init(&w->ring, w->error, sizeof w->error) < 0) {
		log_notice("worker %u: %s", w->id, w->error);
		atomic_store(&w->shared->stop, 1);
		return NULL;
	}
	w->ring_ready = true;
	atomic_store(&w->wake_fd, w->ring.ring_fd);
	if (w->cfg->command_buffers) {
		char why[200];
		unsigned n = 1;
		while (n < w->cfg->command_buffers)
			n *= 2; /* the kernel wants a power of two */
		w->bufring = bufring_new(&w->ring, n, WORKER_BUFRING_SIZE, why, sizeof why);
		if (!w->bufring && w->id == 0)
			log_notice("worker %u: %s; sessions read commands into buffers of their own",
				   w->id, why);
	}
	for (int i = 0; i < MAX_DNS_WATCH; i++)
		dns_watches[i].fd = -1;
	dns_resolver_set_watch(w->resolver, on_dns_watch, w);
	for (unsigned i = 0; i < w->nlisten; i++)
		arm_accept(w, i);
	while (!w->draining || w->sessions || w->tmpfiles_opening) {
		if (!w->draining && atomic_load(&w->shared->stop)) {
			stop_accepting(w);
			drain_deadline = mono_coarse_s() + w->cfg->timeouts.drain + 1; /* whole seconds: never early */
		}
		int reload = atomic_load(&w->shared->reload);
		if (reload != w->reload_seen) {
			w->reload_seen = reload;
			reload_zone(w);
		}
		resume_accepting(w);
		int wait_ms = dns_resolver_timeout_ms(w->resolver);
		if (wait_ms < 0 || wait_ms > 1000)
			wait_ms = 1000;
		if (w->accept_resume_ms) {
			long long left = w->accept_resume_ms - mono_ms();
			if (left < wait_ms)
				wait_ms = left > 0 ? (int)left : 0;
		}
		log_flush(w);
		tmpfile_refill(w);
		struct __kernel_timespec ts = {.tv_sec = wait_ms / 1000,
					       .tv_nsec = (long long)(wait_ms % 1000) * 1000000};
		struct io_uring_cqe *cqe;
		int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
		if (rc < 0 && rc != -ETIME && rc != -EINTR)
			log_notice("worker %u: io_uring: %s", w->id, strerror(-rc));
		unsigned head, n = 0;
		io_uring_for_each_cqe(&w->ring, head, cqe) {
			dispatch(w, cqe);
			n++;
		}
		io_uring_cq_advance(&w->ring, n);
		dns_resolver_process_timeouts(w->resolver);
		time_t now = mono_coarse_s();
		if (now != last_sweep || w->draining) {
			last_sweep = now;
			sweep(w, now, drain_deadline);
		}
	}
	io_uring_submit(&w->ring);
	log_drain(w);
	spf_thread_cleanup();
	return NULL;
}

int worker_init(struct worker *w, unsigned id, struct daemon_shared *shared)
{
	memset(w, 0, sizeof *w);
	atomic_init(&w->wake_fd, -1);
	w->id = id;
	w->shared = shared;
	w->cfg = shared->cfg;
	w->reload_seen = atomic_load(&shared->reload);
	for (int i = 0; i < 2; i++)
		w->dirsync_ops[i] = (struct ring_op){OP_DIRSYNC, (void *)(uintptr_t)i};
	logq_init(&w->log);
	w->log_op = (struct ring_op){OP_LOG, w};
	w->tmpfile_op = (struct ring_op){OP_TMPFILE, w};
	w->spare_fd = -1;
	keep_spare(w);
	for (unsigned i = 0; i < w->cfg->nlisten; i++) {
		w->listen_fds[i] = listen_socket(&w->cfg->listen[i], w->error, sizeof w->error);
		if (w->listen_fds[i] < 0)
			return -1;
		w->accept_ops[i] = (struct ring_op){OP_ACCEPT, (void *)(uintptr_t)i};
		w->nlisten++;
	}
	if (!(w->resolver = make_resolver(w)))
		return -1;
	w->spf_cache = spf_cache_new(4096);
	w->dkim_keys = dkim_key_cache_new(1024);
	return 0;
}

/* A CQE without user_data, which dispatch() ignores: its only effect is
 * to end the wait. The rings stay open until worker_destroy(), after the
 * threads are joined, so a descriptor seen here is still that ring. */
void workers_wake(struct worker *w, unsigned n)
{
	struct io_uring ring;
	if (io_uring_queue_init(4, &ring, 0) < 0)
		return; /* they notice within a second anyway */
	for (unsigned i = 0; i < n; i++) {
		int fd = atomic_load(&w[i].wake_fd);
		struct io_uring_sqe *sqe = fd >= 0 ? io_uring_get_sqe(&ring) : NULL;
		if (!sqe)
			continue;
		io_uring_prep_msg_ring(sqe, fd, 0, 0, 0);
		struct io_uring_cqe *cqe;
		if (io_uring_submit_and_wait(&ring, 1) >= 0 && io_uring_wait_cqe(&ring, &cqe) == 0)
			io_uring_cqe_seen(&ring, cqe);
	}
	io_uring_queue_exit(&ring);
}

void worker_destroy(struct worker *w)
{
	while (w->ntmpfiles)
		close(w->tmpfiles[--w->ntmpfiles]);
	while (w->narenas)
		munmap(w->arena_pool[--w->narenas], worker_arena_size(w));
	for (unsigned i = 0; i < w->nlisten; i++)
		close(w->listen_fds[i]);
	if (w->spare_fd >= 0)
		close(w->spare_fd);
	if (w->ring_ready) {
		io_uring_queue_exit(&w->ring); /* unregisters the buffer group */
		bufring_free(w->bufring);
	}
	dns_resolver_free(w->resolver);
	spf_cache_free(w->spf_cache);
	dkim_key_cache_free(w->dkim_keys);
}
