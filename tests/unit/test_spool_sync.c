/* Unit tests: spool_sync — answers arrive on the asking ring with the
 * asker's user_data, every request is answered exactly once however they
 * are merged into rounds, requests pending at stop are still answered;
 * the spool's check for anonymous files, and its flush files. Real
 * syncfs on a real directory, real rings made like the workers'
 * (SINGLE_ISSUER | DEFER_TASKRUN). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userspace/mono_clock.h"
#include "userspace/spool.h"
#include "userspace/spool_sync.h"

struct fixture {
	char dir[64];
	struct spool spool;
	struct spool_sync *ss;
};

static void make_ring(struct io_uring *ring)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
	assert_int_equal(io_uring_queue_init_params(64, ring, &p), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[300];
	snprintf(f->dir, sizeof f->dir, "/tmp/authgate-spool-sync.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(spool_open(&f->spool, f->dir, "mx.test", err, sizeof err), 0);
	f->ss = spool_sync_start(&f->spool, NULL, err, sizeof err);
	assert_non_null(f->ss);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_sync_stop(f->ss);
	spool_close(&f->spool);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Wait for n answers on ring; count each user_data (an index into seen). */
static void collect(struct io_uring *ring, unsigned n, const int *base, unsigned *seen)
{
	for (unsigned i = 0; i < n; i++) {
		struct io_uring_cqe *cqe;
		assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
		assert_int_equal(cqe->res, 0);
		const int *p = io_uring_cqe_get_data(cqe);
		seen[p - base]++;
		io_uring_cqe_seen(ring, cqe);
	}
}

static void an_answer_comes_back_to_the_asker(void **state)
{
	struct fixture *f = *state;
	struct io_uring ring;
	make_ring(&ring);
	int fd = openat(f->spool.main.tmp_fd, ".", O_WRONLY | O_TMPFILE, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello\r\n", 7), 7);
	int marker = 0;
	unsigned seen[1] = {0};
	spool_sync_request(f->ss, ring.ring_fd, &marker, mono_ns());
	collect(&ring, 1, &marker, seen);
	assert_int_equal(seen[0], 1);
	unsigned long rounds, answered;
	spool_sync_counts(f->ss, &rounds, &answered);
	assert_true(rounds >= 1);
	assert_int_equal(answered, 1);
	close(fd);
	io_uring_queue_exit(&ring);
}

/* Two rings, 100 requests each, made while rounds are running: each
 * request answered once, on its own ring; rounds never outnumber them. */
static void every_request_answered_once(void **state)
{
	struct fixture *f = *state;
	struct io_uring a, b;
	make_ring(&a);
	make_ring(&b);
	enum { N = 100 };
	static int ids[2 * N];
	unsigned seen[2 * N] = {0};
	for (unsigned i = 0; i < N; i++) {
		spool_sync_request(f->ss, a.ring_fd, &ids[i], mono_ns());
		spool_sync_request(f->ss, b.ring_fd, &ids[N + i], mono_ns());
	}
	collect(&a, N, ids, seen);
	collect(&b, N, ids, seen);
	for (unsigned i = 0; i < 2 * N; i++)
		assert_int_equal(seen[i], 1);
	unsigned long rounds, answered;
	spool_sync_counts(f->ss, &rounds, &answered);
	assert_int_equal(answered, 2 * N);
	assert_true(rounds >= 1 && rounds <= 2 * N);
	struct io_uring_cqe *cqe;
	assert_int_equal(io_uring_peek_cqe(&a, &cqe), -EAGAIN); /* nothing extra */
	io_uring_queue_exit(&a);
	io_uring_queue_exit(&b);
}

static void pending_requests_are_answered_at_stop(void **state)
{
	struct fixture *f = *state;
	struct io_uring ring;
	make_ring(&ring);
	int ids[8];
	unsigned seen[8] = {0};
	for (unsigned i = 0; i < 8; i++)
		spool_sync_request(f->ss, ring.ring_fd, &ids[i], mono_ns());
	spool_sync_stop(f->ss);
	f->ss = NULL;
	collect(&ring, 8, ids, seen);
	for (unsigned i = 0; i < 8; i++)
		assert_int_equal(seen[i], 1);
	io_uring_queue_exit(&ring);
}

/* Atomic: the test reads it after an answer that came through the
 * kernel, which a thread sanitizer cannot see as ordering. */
static int fail_first(void *arg)
{
	_Atomic int *calls = arg;
	return atomic_fetch_add(calls, 1) == 0 ? -EIO : 0;
}

/* One answer on ring: its result. */
static int answer_of(struct io_uring *ring, const void *want)
{
	struct io_uring_cqe *cqe;
	assert_int_equal(io_uring_wait_cqe(ring, &cqe), 0);
	assert_ptr_equal(io_uring_cqe_get_data(cqe), want);
	int res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

/* syncfs reports a writeback error once, to whichever round comes next:
 * a file whose writes began before that failure may be waiting in a later
 * round whose own syncfs succeeds, and must fail all the same. Writes
 * begun after the failure are not affected. */
static void a_failure_fails_writes_begun_before_it(void **state)
{
	struct fixture *f = *state;
	struct io_uring ring;
	make_ring(&ring);
	_Atomic int calls = 0;
	int a, b, c;
	spool_sync_set_syncer(f->ss, fail_first, &calls);
	uint64_t a_began = mono_ns();
	spool_sync_request(f->ss, ring.ring_fd, &b, mono_ns());
	assert_int_equal(answer_of(&ring, &b), -EIO);
	spool_sync_request(f->ss, ring.ring_fd, &a, a_began);
	assert_int_equal(answer_of(&ring, &a), -EIO);
	assert_int_equal(atomic_load(&calls), 2); /* a's own round ran, and succeeded */
	spool_sync_request(f->ss, ring.ring_fd, &c, mono_ns());
	assert_int_equal(answer_of(&ring, &c), 0);
	io_uring_queue_exit(&ring);
}

/* Journal mode: appends from two rings, five times what the 64 KB ring
 * holds, so that most wait for the publisher to free room: every one is
 * answered once with success, and every message is in new/, whole. */
static void journal_appends_answered_and_published(void **state)
{
	struct fixture *f = *state;
	char err[300] = "", path[128];
	spool_sync_stop(f->ss);
	snprintf(path, sizeof path, "%s/authgate-journal", f->dir);
	struct spool_journal *j = spool_journal_open(&f->spool, path, 64 << 10, err, sizeof err);
	assert_non_null(j);
	f->ss = spool_sync_start(&f->spool, j, err, sizeof err);
	assert_non_null(f->ss);
	struct io_uring a, b;
	make_ring(&a);
	make_ring(&b);
	enum { N = 50, LEN = 3000 };
	static int ids[2 * N];
	static char names[2 * N][16], bodies[2 * N][LEN];
	static struct iovec iov[2 * N][2];
	for (unsigned i = 0; i < 2 * N; i++) {
		snprintf(names[i], sizeof names[i], "m.%u", i);
		memset(bodies[i], 'a' + i % 26, LEN);
		iov[i][0] = (struct iovec){"Received-SPF: pass\r\n", 20};
		iov[i][1] = (struct iovec){bodies[i], LEN};
		struct journal_entry e = {.iov = iov[i], .iovcnt = 2, .len = 20 + LEN, .name = names[i]};
		spool_sync_append(f->ss, (i % 2 ? b : a).ring_fd, &ids[i], &e);
	}
	unsigned seen[2 * N] = {0};
	collect(&a, N, ids, seen);
	collect(&b, N, ids, seen);
	for (unsigned i = 0; i < 2 * N; i++)
		assert_int_equal(seen[i], 1);
	spool_sync_stop(f->ss);
	f->ss = NULL;
	spool_journal_close(j);
	for (unsigned i = 0; i < 2 * N; i++) {
		char p[256], want[20 + LEN], got[20 + LEN + 1];
		snprintf(p, sizeof p, "%s/new/%s", f->dir, names[i]);
		FILE *fp = fopen(p, "rb");
		assert_non_null(fp);
		assert_int_equal(fread(got, 1, sizeof got, fp), 20 + LEN);
		fclose(fp);
		memcpy(want, "Received-SPF: pass\r\n", 20);
		memcpy(want + 20, bodies[i], LEN);
		assert_memory_equal(got, want, sizeof want);
	}
	io_uring_queue_exit(&a);
	io_uring_queue_exit(&b);
}

static void anonymous_files_work_here(void **state)
{
	struct fixture *f = *state;
	char err[300] = "";
	assert_int_equal(spool_check_anonymous(&f->spool, err, sizeof err), 0);
	assert_true(f->spool.quarantine_same_mount);
	/* the check leaves nothing behind */
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test -z \"$(find %s/tmp %s/new -mindepth 1)\"", f->dir, f->dir);
	assert_int_equal(system(cmd), 0);
	/* the tests run as root, and root may link by descriptor on any
	 * kernel (CAP_DAC_READ_SEARCH) */
	assert_true(f->spool.link_by_fd);
}

/* A kernel that refuses linkat(2) by descriptor (as one before 6.10 does
 * without CAP_DAC_READ_SEARCH), played by a seccomp filter in a child:
 * the check picks /proc, and files are named that way. */
static void without_link_by_descriptor_files_go_through_proc(void **state)
{
	struct fixture *f = *state;
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct sock_filter code[] = {
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_linkat, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[4])),
			BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, AT_EMPTY_PATH, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOENT),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
		char err[300] = "";
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0)
			_exit(10);
		if (spool_check_anonymous(&f->spool, err, sizeof err) < 0)
			_exit(11);
		if (f->spool.link_by_fd)
			_exit(12);
		int fd = openat(f->spool.main.tmp_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
		_exit(spool_link_anonymous(&f->spool, fd, f->spool.main.new_fd, "by-proc") == 0 ? 0 : 13);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	struct stat st;
	assert_int_equal(fstatat(f->spool.main.new_fd, "by-proc", &st, 0), 0);
}

/* One anonymous file in tmp/ holding `text`, linked by plain linkat or
 * by the ring's, the way the spool chose; the name then reads `text`. */
static void link_one(struct spool *s, struct io_uring *ring, const char *name, const char *text)
{
	int fd = openat(s->main.tmp_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	if (!ring) {
		assert_int_equal(spool_link_anonymous(s, fd, s->main.new_fd, name), 0);
	} else {
		char path[32];
		int flags, from = spool_link_source(s, fd, path, sizeof path, &flags);
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
		io_uring_prep_linkat(sqe, from, path, s->main.new_fd, name, flags);
		struct io_uring_cqe *cqe;
		assert_int_equal(io_uring_submit_and_wait(ring, 1), 1);
		assert_int_equal(io_uring_peek_cqe(ring, &cqe), 0);
		assert_int_equal(cqe->res, 0);
		io_uring_cqe_seen(ring, cqe);
	}
	close(fd);
	char got[32] = "";
	int in = openat(s->main.new_fd, name, O_RDONLY | O_CLOEXEC);
	assert_true(in >= 0);
	assert_int_equal(read(in, got, sizeof got - 1), (ssize_t)strlen(text));
	close(in);
	assert_string_equal(got, text);
}

/* Both ways of reaching the file (by descriptor, through /proc), each
 * by linkat(2) and by the ring's IORING_OP_LINKAT, name the right file;
 * the source each gives is the one the kernel needs for it. */
static void both_ways_of_linking_name_the_file(void **state)
{
	struct fixture *f = *state;
	char path[32];
	int flags;
	f->spool.link_by_fd = true;
	assert_int_equal(spool_link_source(&f->spool, 7, path, sizeof path, &flags), 7);
	assert_string_equal(path, "");
	assert_int_equal(flags, AT_EMPTY_PATH);
	f->spool.link_by_fd = false;
	assert_int_equal(spool_link_source(&f->spool, 7, path, sizeof path, &flags), AT_FDCWD);
	assert_string_equal(path, "/proc/self/fd/7");
	assert_int_equal(flags, AT_SYMLINK_FOLLOW);

	struct io_uring ring;
	make_ring(&ring);
	for (int by_fd = 0; by_fd < 2; by_fd++) {
		f->spool.link_by_fd = by_fd;
		char name[32], text[32];
		snprintf(name, sizeof name, "plain-%d", by_fd);
		snprintf(text, sizeof text, "by linkat, by_fd %d", by_fd);
		link_one(&f->spool, NULL, name, text);
		snprintf(name, sizeof name, "ring-%d", by_fd);
		snprintf(text, sizeof text, "by the ring, by_fd %d", by_fd);
		link_one(&f->spool, &ring, name, text);
	}
	io_uring_queue_exit(&ring);
	/* an existing name is refused, not replaced */
	int fd = openat(f->spool.main.tmp_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
	assert_int_equal(spool_link_anonymous(&f->spool, fd, f->spool.main.new_fd, "ring-1"), -EEXIST);
	close(fd);
}

/* The file the fsync mode's group sync flushes the disk with: in each
 * Maildir, a regular file on the same filesystem, empty, with no name
 * (nothing for a crash to leave in tmp/), that fdatasync accepts. */
static void each_maildir_has_a_nameless_flush_file(void **state)
{
	struct fixture *f = *state;
	const struct spool_dir *dirs[] = {&f->spool.main, &f->spool.quarantine};
	for (int i = 0; i < 2; i++) {
		struct stat fl, tmp;
		assert_true(dirs[i]->flush_fd >= 0);
		assert_int_equal(fstat(dirs[i]->flush_fd, &fl), 0);
		assert_int_equal(fstat(dirs[i]->tmp_fd, &tmp), 0);
		assert_true(S_ISREG(fl.st_mode));
		assert_int_equal(fl.st_nlink, 0);
		assert_int_equal(fl.st_size, 0);
		assert_true(fl.st_dev == tmp.st_dev);
		assert_int_equal(fdatasync(dirs[i]->flush_fd), 0);
	}
	assert_true(f->spool.main.flush_fd != f->spool.quarantine.flush_fd);
	char cmd[256];
	snprintf(cmd, sizeof cmd, "test -z \"$(find %s/tmp %s/quarantine/tmp -mindepth 1)\"", f->dir,
		 f->dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(an_answer_comes_back_to_the_asker, setup, teardown),
		cmocka_unit_test_setup_teardown(every_request_answered_once, setup, teardown),
		cmocka_unit_test_setup_teardown(pending_requests_are_answered_at_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(journal_appends_answered_and_published, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failure_fails_writes_begun_before_it, setup, teardown),
		cmocka_unit_test_setup_teardown(anonymous_files_work_here, setup, teardown),
		cmocka_unit_test_setup_teardown(both_ways_of_linking_name_the_file, setup, teardown),
		cmocka_unit_test_setup_teardown(without_link_by_descriptor_files_go_through_proc, setup,
						teardown),
		cmocka_unit_test_setup_teardown(each_maildir_has_a_nameless_flush_file, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
