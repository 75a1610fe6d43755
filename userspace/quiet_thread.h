/*
 * quiet_thread — starting a helper thread that takes no signals.
 *
 * Why: the daemon's main thread waits for SIGTERM, SIGINT and SIGHUP with
 * sigtimedwait (cmd_serve.c); a signal delivered to any other thread
 * would end the process instead. The spool's threads may be started
 * before the main thread blocks them, so each starts with all blocked.
 */
#ifndef AUTHGATE_QUIET_THREAD_H
#define AUTHGATE_QUIET_THREAD_H

#include <pthread.h>
#include <signal.h>

/* pthread_create's result (0 or an error number). */
static inline int quiet_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

#endif
