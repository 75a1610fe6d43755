/*
 * hist — a log-bucketed histogram of durations (ns): 8 buckets per octave
 * from 1 ns to ~18 minutes, so any value is kept within 12.5 % and
 * percentiles cost a walk over 320 counters. Used by bench/loadgen; plain
 * counters, no locking, no allocation.
 */
#ifndef AUTHGATE_HIST_H
#define AUTHGATE_HIST_H

#include <stdint.h>

#define HIST_PER_OCTAVE 8
#define HIST_OCTAVES 40
#define HIST_BUCKETS (HIST_PER_OCTAVE * HIST_OCTAVES)

struct hist {
	unsigned long count[HIST_BUCKETS];
	unsigned long n;
};

unsigned hist_bucket(uint64_t ns);
/* The upper edge (ns) of bucket b: every value counted there is below it. */
double hist_bucket_upper(unsigned b);
void hist_add(struct hist *h, uint64_t ns);
/* The upper edge of the bucket holding the q-quantile (0 < q <= 1);
 * 0 for an empty histogram. */
double hist_percentile(const struct hist *h, double q);

#endif
