/* Unit tests: pinbuf — growth keeps the bytes; while pinned, the bytes a
 * send reads stay where they were, unchanged, until unpinned; bounds.
 * (Under ASan, a pinned allocation freed early or never freed fails.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "userspace/pinbuf.h"

static void growth_keeps_the_bytes(void **state)
{
	(void)state;
	struct pinbuf b = {0};
	assert_true(pinbuf_reserve(&b, 0, 10, 16, 1024));
	memcpy(b.p, "0123456789", 10);
	assert_true(pinbuf_reserve(&b, 10, 100, 16, 1024));
	assert_true(b.cap >= 100 && b.cap <= 1024);
	assert_memory_equal(b.p, "0123456789", 10);
	pinbuf_free(&b);
}

static void a_pinned_buffer_does_not_move(void **state)
{
	(void)state;
	struct pinbuf b = {0};
	assert_true(pinbuf_reserve(&b, 0, 16, 16, 4096));
	memcpy(b.p, "250 2.0.0 OK\r\n", 14);
	pinbuf_pin(&b);
	const char *sending = b.p; /* what the send in flight reads */
	assert_true(pinbuf_reserve(&b, 14, 1000, 16, 4096));
	assert_ptr_not_equal(b.p, sending);
	memset(b.p + 14, 'x', 986);
	assert_true(pinbuf_reserve(&b, 1000, 3000, 16, 4096)); /* grows again: still one kept */
	assert_memory_equal(sending, "250 2.0.0 OK\r\n", 14);  /* readable, unchanged */
	assert_memory_equal(b.p, "250 2.0.0 OK\r\n", 14);
	assert_int_equal(b.p[999], 'x');
	pinbuf_unpin(&b); /* frees the old allocation */
	pinbuf_free(&b);
}

static void unpinned_growth_reallocates(void **state)
{
	(void)state;
	struct pinbuf b = {0};
	pinbuf_pin(&b);
	pinbuf_unpin(&b);
	assert_true(pinbuf_reserve(&b, 0, 8, 8, 64));
	pinbuf_pin(&b);
	pinbuf_unpin(&b); /* nothing grew: nothing to free but the buffer itself */
	assert_true(pinbuf_reserve(&b, 8, 64, 8, 64));
	assert_false(pinbuf_reserve(&b, 64, 65, 8, 64)); /* past max: refused, unchanged */
	assert_int_equal(b.cap, 64);
	pinbuf_free(&b);
	pinbuf_free(&b); /* twice is harmless */
}

/* Growth doubles from `first` but never past max: the cap is max then,
 * not the next power of two. */
static void growth_stops_at_max(void **state)
{
	(void)state;
	struct pinbuf b = {0};
	assert_true(pinbuf_reserve(&b, 0, 4500, 1024, 5000));
	assert_int_equal(b.cap, 5000);
	pinbuf_free(&b);
}

/* Room already there is no growth: a pinned buffer stays where it is
 * (and nothing is copied) when `want` is exactly its capacity. */
static void exactly_the_capacity_needs_no_growth(void **state)
{
	(void)state;
	struct pinbuf b = {0};
	assert_true(pinbuf_reserve(&b, 0, 64, 64, 1024));
	pinbuf_pin(&b);
	const char *p = b.p;
	assert_true(pinbuf_reserve(&b, 10, 64, 64, 1024));
	assert_ptr_equal(b.p, p);
	assert_int_equal(b.cap, 64);
	pinbuf_unpin(&b);
	pinbuf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(growth_keeps_the_bytes),
		cmocka_unit_test(a_pinned_buffer_does_not_move),
		cmocka_unit_test(unpinned_growth_reallocates),
		cmocka_unit_test(growth_stops_at_max),
		cmocka_unit_test(exactly_the_capacity_needs_no_growth),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
