/*
 * hist — see hist.h. Bucket b = octave * 8 + the three bits after the
 * leading one: [2^o * (1 + s/8), 2^o * (1 + (s+1)/8)).
 */
#include "hist.h"

#include <math.h>

unsigned hist_bucket(uint64_t ns)
{
	if (ns < 1)
		return 0;
	unsigned oct = 63u - (unsigned)__builtin_clzll(ns);
	unsigned sub = oct >= 3 ? (unsigned)((ns >> (oct - 3)) & 7) : (unsigned)((ns << (3 - oct)) & 7);
	unsigned b = oct * HIST_PER_OCTAVE + sub;
	return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

double hist_bucket_upper(unsigned b)
{
	unsigned oct = b / HIST_PER_OCTAVE, sub = b % HIST_PER_OCTAVE;
	return ldexp(1.0 + (sub + 1) / 8.0, (int)oct);
}

void hist_add(struct hist *h, uint64_t ns)
{
	h->count[hist_bucket(ns)]++;
	h->n++;
}

double hist_percentile(const struct hist *h, double q)
{
	if (h->n == 0)
		return 0;
	unsigned long want = (unsigned long)ceil(q * (double)h->n), seen = 0;
	if (want == 0)
		want = 1;
	for (unsigned b = 0; b < HIST_BUCKETS; b++) {
		seen += h->count[b];
		if (seen >= want)
			return hist_bucket_upper(b);
	}
	return hist_bucket_upper(HIST_BUCKETS - 1);
}
