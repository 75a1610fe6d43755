/* Unit tests: tmpfile_pool — the thread refills what is taken, and every
 * file is anonymous (writable, nothing in the directory) until the taker
 * names it; stopping closes the rest, which leave nothing behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/dir_entries.h"
#include "userspace/tmpfile_pool.h"

/* Take a file, waiting up to 5 s for the thread to have made one. */
static int take(struct tmpfile_pool *p)
{
	for (int i = 0; i < 500; i++) {
		int fd = tmpfile_pool_take(p);
		if (fd >= 0)
			return fd;
		usleep(10000);
	}
	return -1;
}

static void fills_refills_and_stays_anonymous(void **state)
{
	(void)state;
	char dir[] = "/tmp/authgate-tmpfiles.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	char err[200];
	struct tmpfile_pool *p = tmpfile_pool_start(dfd, 4, err, sizeof err);
	assert_non_null(p);
	int fds[10];
	for (int i = 0; i < 10; i++) { /* more than its size: it refills */
		fds[i] = take(p);
		assert_true(fds[i] >= 0);
		assert_int_equal(write(fds[i], "x", 1), 1);
	}
	assert_int_equal(dir_entries(dir), 0);
	char path[64], name[] = "named";
	snprintf(path, sizeof path, "/proc/self/fd/%d", fds[3]);
	assert_int_equal(linkat(AT_FDCWD, path, dfd, name, AT_SYMLINK_FOLLOW), 0);
	assert_int_equal(dir_entries(dir), 1);
	for (int i = 0; i < 10; i++)
		close(fds[i]);
	usleep(100000);
	tmpfile_pool_stop(p);
	assert_int_equal(dir_entries(dir), 1);
	unlinkat(dfd, name, 0);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

/* The file descriptors the process has open (the count includes the one
 * dir_entries opens to read the directory, every time). */
static unsigned open_fds(void)
{
	return dir_entries("/proc/self/fd");
}

/* Stopping closes the files made and never taken: a pool's end leaks no
 * descriptor (they are anonymous, so the directory cannot show it). */
static void stop_closes_the_files_never_taken(void **state)
{
	(void)state;
	char dir[] = "/tmp/authgate-tmpfiles.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	unsigned before = open_fds();
	char err[200];
	struct tmpfile_pool *p = tmpfile_pool_start(dfd, 4, err, sizeof err);
	assert_non_null(p);
	for (int i = 0; i < 500 && open_fds() < before + 4; i++)
		usleep(10000);
	assert_int_equal(open_fds(), before + 4); /* full, and no more */
	tmpfile_pool_stop(p);
	assert_int_equal(open_fds(), before);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

/* The smallest pool still keeps one file ready. */
static void a_pool_of_one_keeps_one_ready(void **state)
{
	(void)state;
	char dir[] = "/tmp/authgate-tmpfiles.XXXXXX";
	assert_non_null(mkdtemp(dir));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	char err[200];
	struct tmpfile_pool *p = tmpfile_pool_start(dfd, 1, err, sizeof err);
	assert_non_null(p);
	int fd = take(p);
	assert_true(fd >= 0);
	close(fd);
	tmpfile_pool_stop(p);
	close(dfd);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fills_refills_and_stays_anonymous),
		cmocka_unit_test(stop_closes_the_files_never_taken),
		cmocka_unit_test(a_pool_of_one_keeps_one_ready),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
