/*
 * cond_clock — condition variables that time out on CLOCK_MONOTONIC.
 *
 * Owns nothing but the two steps every timed wait needs. Why: a
 * pthread_cond_timedwait deadline is on CLOCK_REALTIME by default, and a
 * clock stepped back (NTP, an operator) would stretch a one-second wait
 * to however far it went.
 */
#ifndef AUTHGATE_COND_CLOCK_H
#define AUTHGATE_COND_CLOCK_H

#include <pthread.h>
#include <stdbool.h>
#include <time.h>

static inline void monotonic_cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
}

/* The deadline `ms` from now, for a condition made by monotonic_cond_init. */
static inline struct timespec monotonic_deadline(unsigned ms)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	ts.tv_sec += ms / 1000 + ts.tv_nsec / 1000000000;
	ts.tv_nsec %= 1000000000;
	return ts;
}

/* After a failure: wait `ms` (lock held) unless *stop becomes true;
 * wake-ups for other reasons do not cut the pause short. */
static inline void monotonic_pause(pthread_cond_t *c, pthread_mutex_t *lock, unsigned ms,
				   const bool *stop)
{
	struct timespec ts = monotonic_deadline(ms);
	while (!*stop && pthread_cond_timedwait(c, lock, &ts) == 0)
		;
}

#endif
