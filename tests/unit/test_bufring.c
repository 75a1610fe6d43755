/* Unit tests: bufring — ring sizes refused, and which bytes a
 * completion's flags name (none without IORING_CQE_F_BUFFER or past the
 * ring, else buffer bid of the slab). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "userspace/bufring.h"

static unsigned flags_for(unsigned bid)
{
	return IORING_CQE_F_BUFFER | (bid << IORING_CQE_BUFFER_SHIFT);
}

/* The kernel wants a power of two, at most 32768 entries. */
static void bad_ring_sizes_refused(void **state)
{
	(void)state;
	struct io_uring ring;
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	char err[200] = "";
	assert_null(bufring_new(&ring, 0, 64, err, sizeof err));
	assert_non_null(strstr(err, "bad ring size 0"));
	assert_null(bufring_new(&ring, 6, 64, err, sizeof err));
	assert_non_null(strstr(err, "bad ring size 6"));
	assert_null(bufring_new(&ring, 65536, 64, err, sizeof err));
	assert_non_null(strstr(err, "bad ring size 65536")); /* refused before the kernel is asked */
	io_uring_queue_exit(&ring);
}

static void flags_name_a_buffer_of_the_slab(void **state)
{
	(void)state;
	struct io_uring ring;
	assert_int_equal(io_uring_queue_init(8, &ring, 0), 0);
	char err[200] = "";
	struct bufring *br = bufring_new(&ring, 4, 64, err, sizeof err);
	if (!br) { /* a kernel without provided-buffer rings */
		io_uring_queue_exit(&ring);
		skip();
	}
	const char *b0 = bufring_bytes(br, flags_for(0));
	assert_non_null(b0);
	assert_ptr_equal(bufring_bytes(br, flags_for(3)), b0 + 3 * 64);
	assert_null(bufring_bytes(br, flags_for(4))); /* past the ring */
	assert_null(bufring_bytes(br, 3u << IORING_CQE_BUFFER_SHIFT)); /* no F_BUFFER */
	bufring_give_back(br, flags_for(4)); /* ignored, harmlessly */
	bufring_give_back(br, flags_for(1));
	io_uring_queue_exit(&ring);
	bufring_free(br);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(bad_ring_sizes_refused),
		cmocka_unit_test(flags_name_a_buffer_of_the_slab),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
