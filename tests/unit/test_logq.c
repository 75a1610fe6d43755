/* Unit tests: logq — whole lines per chunk, order, short and failed
 * writes, a full queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "userspace/logq.h"

static struct logq *fresh(void)
{
	static struct logq q;
	logq_init(&q);
	return &q;
}

/* Write everything due, `step` bytes per write at most, into out. */
static size_t drain(struct logq *q, char *out, size_t step)
{
	size_t total = 0, len;
	const char *p;
	while ((p = logq_next(q, &len))) {
		size_t n = len < step ? len : step;
		memcpy(out + total, p, n);
		total += n;
		logq_written(q, (ssize_t)n);
	}
	return total;
}

static void lines_come_out_in_order_and_whole(void **state)
{
	(void)state;
	struct logq *q = fresh();
	static char want[LOGQ_CHUNK * LOGQ_CHUNKS], got[sizeof want];
	size_t wn = 0;
	char line[200], pad[151];
	memset(pad, 'x', sizeof pad - 1);
	pad[sizeof pad - 1] = '\0';
	for (int i = 0; i < 300; i++) {
		int n = snprintf(line, sizeof line, "line %d %.*s\n", i, i % 150, pad);
		assert_true(logq_line(q, line, (size_t)n));
		memcpy(want + wn, line, (size_t)n);
		wn += (size_t)n;
	}
	/* Each write hands out whole lines, never more than one pipe write. */
	size_t len, total = 0;
	const char *p;
	while ((p = logq_next(q, &len))) {
		assert_true(len <= LOGQ_CHUNK);
		assert_int_equal(p[len - 1], '\n');
		assert_null(logq_next(q, &len) ? "second write while one is out" : NULL);
		memcpy(got + total, p, len);
		total += len;
		logq_written(q, (ssize_t)len);
	}
	assert_int_equal(total, wn);
	assert_memory_equal(got, want, wn);
	assert_true(logq_empty(q));
}

static void a_short_write_resumes_where_it_stopped(void **state)
{
	(void)state;
	struct logq *q = fresh();
	const char *a = "first line\n", *b = "second line\n";
	assert_true(logq_line(q, a, strlen(a)));
	assert_true(logq_line(q, b, strlen(b)));
	char out[64];
	size_t n = drain(q, out, 5); /* the writer takes 5 bytes at a time */
	assert_int_equal(n, strlen(a) + strlen(b));
	assert_memory_equal(out, "first line\nsecond line\n", n);
}

static void lines_queued_during_a_write_are_not_lost(void **state)
{
	(void)state;
	struct logq *q = fresh();
	size_t len;
	assert_true(logq_line(q, "one\n", 4));
	const char *p = logq_next(q, &len); /* out with the ring */
	assert_int_equal(len, 4);
	assert_true(logq_line(q, "two\n", 4)); /* must not touch the chunk being written */
	assert_memory_equal(p, "one\n", 4);
	logq_written(q, 4);
	p = logq_next(q, &len);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "two\n", 4);
	logq_written(q, 4);
	assert_true(logq_empty(q));
}

static void eagain_retries_and_errors_count_lost_bytes(void **state)
{
	(void)state;
	struct logq *q = fresh();
	size_t len;
	assert_true(logq_line(q, "keep\n", 5));
	logq_next(q, &len);
	logq_written(q, -EAGAIN);
	const char *p = logq_next(q, &len);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "keep\n", 5);
	logq_written(q, -EPIPE);
	assert_true(logq_empty(q));
	assert_int_equal(q->lost_bytes, 5);
}

static void a_full_queue_refuses_instead_of_overwriting(void **state)
{
	(void)state;
	struct logq *q = fresh();
	static char big[LOGQ_CHUNK];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\n';
	for (int i = 0; i < LOGQ_CHUNKS; i++)
		assert_true(logq_line(q, big, sizeof big));
	assert_false(logq_line(q, "more\n", 5));
	assert_false(logq_line(q, big, sizeof big + 1)); /* longer than a chunk */
	static char out[LOGQ_CHUNK * LOGQ_CHUNKS];
	assert_int_equal(drain(q, out, SIZE_MAX), sizeof out);
	assert_true(logq_line(q, "more\n", 5));
}

/* A failed write must cost only the bytes it carried, not lines queued
 * while it was out. */
static void a_failed_write_loses_only_the_chunk_out_not_lines_queued_since(void **state)
{
	(void)state;
	struct logq *q = fresh();
	size_t len;
	assert_true(logq_line(q, "one\n", 4));
	assert_non_null(logq_next(q, &len));
	assert_true(logq_line(q, "two\n", 4));
	logq_written(q, -EPIPE);
	assert_int_equal(q->lost_bytes, 4);
	const char *p = logq_next(q, &len);
	assert_non_null(p);
	assert_int_equal(len, 4);
	assert_memory_equal(p, "two\n", 4);
}

/* Lines that fill a chunk exactly must share it, or the queue holds half
 * what it should. */
static void lines_that_exactly_fill_a_chunk_share_it(void **state)
{
	(void)state;
	struct logq *q = fresh();
	static char half[LOGQ_CHUNK / 2];
	memset(half, 'h', sizeof half - 1);
	half[sizeof half - 1] = '\n';
	for (int i = 0; i < 2 * LOGQ_CHUNKS; i++)
		assert_true(logq_line(q, half, sizeof half));
	assert_false(logq_line(q, "more\n", 5));
	size_t len;
	const char *p = logq_next(q, &len);
	assert_non_null(p);
	assert_int_equal(len, LOGQ_CHUNK);
}

/* EINTR is a signal, not a broken stderr: the same bytes go again and
 * nothing is lost. */
static void an_interrupted_write_is_retried_not_counted_lost(void **state)
{
	(void)state;
	struct logq *q = fresh();
	size_t len;
	assert_true(logq_line(q, "keep\n", 5));
	assert_non_null(logq_next(q, &len));
	logq_written(q, -EINTR);
	const char *p = logq_next(q, &len);
	assert_non_null(p);
	assert_int_equal(len, 5);
	assert_memory_equal(p, "keep\n", 5);
	assert_int_equal(q->lost_bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lines_come_out_in_order_and_whole),
		cmocka_unit_test(a_short_write_resumes_where_it_stopped),
		cmocka_unit_test(lines_queued_during_a_write_are_not_lost),
		cmocka_unit_test(eagain_retries_and_errors_count_lost_bytes),
		cmocka_unit_test(a_full_queue_refuses_instead_of_overwriting),
		cmocka_unit_test(a_failed_write_loses_only_the_chunk_out_not_lines_queued_since),
		cmocka_unit_test(lines_that_exactly_fill_a_chunk_share_it),
		cmocka_unit_test(an_interrupted_write_is_retried_not_counted_lost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
