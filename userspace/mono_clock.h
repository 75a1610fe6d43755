/*
 * mono_clock — the daemon's readings of the monotonic clock, in the units
 * its callers count in.
 *
 * Owns nothing but the conversions. Why one place: a session's deadline
 * (session.c) is compared with the worker loop's reading (worker.c), so
 * both must come from the same clock at the same resolution; and times
 * written into the bpf maps must be on bpf_ktime_get_ns()'s clock.
 */
#ifndef AUTHGATE_MONO_CLOCK_H
#define AUTHGATE_MONO_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns: bpf_ktime_get_ns()'s clock. */
static inline uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* CLOCK_MONOTONIC in ms, for short back-offs. */
static inline long long mono_ms(void)
{
	return (long long)(mono_ns() / 1000000u);
}

/* Whole seconds of CLOCK_MONOTONIC_COARSE, the clock of session deadlines:
 * read once per loop turn and per phase, so the cheap clock will do. */
static inline time_t mono_coarse_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return ts.tv_sec;
}

#endif
