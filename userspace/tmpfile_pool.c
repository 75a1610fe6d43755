/*
 * tmpfile_pool — see tmpfile_pool.h.
 */
#include "tmpfile_pool.h"

#include "cond_clock.h"
#include "quiet_thread.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct tmpfile_pool {
	int dir_fd;
	int *fds;
	unsigned n, size;
	bool stopping;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t taken; /* a file was taken, or stop */
};

static void *fill_main(void *arg)
{
	struct tmpfile_pool *p = arg;
	pthread_setname_np(pthread_self(), "ag-tmpfiles");
	pthread_mutex_lock(&p->lock);
	while (!p->stopping) {
		if (p->n == p->size) {
			pthread_cond_wait(&p->taken, &p->lock);
			continue;
		}
		pthread_mutex_unlock(&p->lock);
		int fd = openat(p->dir_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
		pthread_mutex_lock(&p->lock);
		if (fd < 0) /* the disk full, say: takers open their own meanwhile and see why */
			monotonic_pause(&p->taken, &p->lock, 1000, &p->stopping);
		else if (p->stopping)
			close(fd);
		else
			p->fds[p->n++] = fd;
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct tmpfile_pool *tmpfile_pool_start(int dir_fd, unsigned size, char *err, size_t errlen)
{
	struct tmpfile_pool *p = calloc(1, sizeof *p);
	int *fds = calloc(size ? size : 1, sizeof *fds);
	if (!p || !fds) {
		free(p);
		free(fds);
		snprintf(err, errlen, "tmpfile pool: out of memory");
		return NULL;
	}
	*p = (struct tmpfile_pool){.dir_fd = dir_fd, .fds = fds, .size = size};
	pthread_mutex_init(&p->lock, NULL);
	monotonic_cond_init(&p->taken);
	int rc = quiet_thread_start(&p->thread, fill_main, p);
	if (rc != 0) {
		snprintf(err, errlen, "tmpfile pool: thread: %s", strerror(rc));
		pthread_mutex_destroy(&p->lock);
		pthread_cond_destroy(&p->taken);
		free(fds);
		free(p);
		return NULL;
	}
	return p;
}

int tmpfile_pool_take(struct tmpfile_pool *p)
{
	pthread_mutex_lock(&p->lock);
	int fd = p->n ? p->fds[--p->n] : -1;
	pthread_cond_signal(&p->taken);
	pthread_mutex_unlock(&p->lock);
	return fd;
}

void tmpfile_pool_stop(struct tmpfile_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_signal(&p->taken);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	while (p->n)
		close(p->fds[--p->n]);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->taken);
	free(p->fds);
	free(p);
}
