/* Unit tests: hist — bucket edges, relative error, percentiles. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "userspace/hist.h"

static void every_value_lies_below_its_bucket_edge_within_12_5_percent(void **state)
{
	(void)state;
	for (uint64_t v = 1; v < (1ull << 40); v = v * 3 / 2 + 1) {
		unsigned b = hist_bucket(v);
		double upper = hist_bucket_upper(b);
		assert_true((double)v < upper);
		assert_true(upper <= (double)v * 1.125 + 1.0); /* 8 buckets per octave */
		if (b > 0)
			assert_true((double)v >= hist_bucket_upper(b - 1));
	}
	assert_int_equal(hist_bucket(0), 0);
	assert_int_equal(hist_bucket(UINT64_MAX), HIST_BUCKETS - 1);
}

static void percentiles_of_a_known_distribution(void **state)
{
	(void)state;
	static struct hist h;
	memset(&h, 0, sizeof h);
	assert_true(hist_percentile(&h, 0.5) == 0);
	/* 1,000 samples: 1 µs .. 1,000 µs, evenly. */
	for (uint64_t i = 1; i <= 1000; i++)
		hist_add(&h, i * 1000);
	assert_int_equal(h.n, 1000);
	double p50 = hist_percentile(&h, 0.5), p99 = hist_percentile(&h, 0.99),
	       p999 = hist_percentile(&h, 0.999), p100 = hist_percentile(&h, 1.0);
	/* The true values are 500, 990, 999 and 1,000 µs; a bucket edge is
	 * never below the true value and at most 12.5 % above it. */
	assert_true(p50 >= 500e3 && p50 <= 500e3 * 1.125);
	assert_true(p99 >= 990e3 && p99 <= 990e3 * 1.125);
	assert_true(p999 >= 999e3 && p999 <= 999e3 * 1.125);
	assert_true(p100 >= 1000e3 && p100 <= 1000e3 * 1.125);
	assert_true(p50 < p99 && p99 <= p999 && p999 <= p100);
}

static void a_single_outlier_shows_only_in_the_tail(void **state)
{
	(void)state;
	static struct hist h;
	memset(&h, 0, sizeof h);
	for (int i = 0; i < 999; i++)
		hist_add(&h, 2000);
	hist_add(&h, 5000000000ull); /* 5 s */
	assert_true(hist_percentile(&h, 0.99) < 2300);
	assert_true(hist_percentile(&h, 0.999) < 2300);
	assert_true(hist_percentile(&h, 1.0) >= 5e9);
}

/* Values past the last octave (1 << HIST_OCTAVES ns and up) all land in
 * the last bucket, never one past the array. */
static void the_top_octave_clamps_to_the_last_bucket(void **state)
{
	(void)state;
	uint64_t top = 1ull << HIST_OCTAVES;
	assert_int_equal(hist_bucket(top - 1), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket(top), HIST_BUCKETS - 1);
	assert_int_equal(hist_bucket(top + top / 8), HIST_BUCKETS - 1);
}

/* Nearest rank: the q-quantile of n samples is the ceil(q * n)-th, so
 * the median of three is the middle one, not the first. */
static void the_median_of_three_is_the_middle_one(void **state)
{
	(void)state;
	static struct hist h;
	memset(&h, 0, sizeof h);
	hist_add(&h, 1000);
	hist_add(&h, 2000);
	hist_add(&h, 4000);
	assert_true(hist_percentile(&h, 0.5) == hist_bucket_upper(hist_bucket(2000)));
	assert_true(hist_percentile(&h, 0.34) == hist_bucket_upper(hist_bucket(2000)));
	assert_true(hist_percentile(&h, 0.33) == hist_bucket_upper(hist_bucket(1000)));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_value_lies_below_its_bucket_edge_within_12_5_percent),
		cmocka_unit_test(percentiles_of_a_known_distribution),
		cmocka_unit_test(a_single_outlier_shows_only_in_the_tail),
		cmocka_unit_test(the_top_octave_clamps_to_the_last_bucket),
		cmocka_unit_test(the_median_of_three_is_the_middle_one),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
