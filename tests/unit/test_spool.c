/* Unit tests: spool — the Maildir and its quarantine twin made (a path
 * several directories deep, and again over an existing one), a path that
 * cannot be one refused with nothing left open; names safe for Maildir
 * and unique per worker and sequence, a long hostname cut to fit; the
 * spool's parent synced at every start, not only the one that made it; a
 * parent directory the daemon may not read is no error; the parent of
 * "/name" and of a bare name synced; the devices the spool spans; a
 * quarantine bind-mounted from the same filesystem is another mount
 * (linkat(2) gives EXDEV). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <sched.h>

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "userspace/spool.h"

struct fixture {
	char dir[64];
	struct spool spool;
	bool opened;
	char mounted[128]; /* a bind mount to undo, or "" */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/authgate-spool.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	if (f->opened)
		spool_close(&f->spool);
	if (f->mounted[0])
		umount(f->mounted);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void open_spool(struct fixture *f, const char *path, const char *hostname)
{
	char err[300] = "";
	int rc = spool_open(&f->spool, path, hostname, err, sizeof err);
	if (rc < 0)
		fail_msg("spool_open %s: %s", path, err);
	f->opened = true;
}

static bool is_dir(const char *base, const char *sub)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof p, "%s/%s", base, sub);
	return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void makes_both_maildirs_deep_and_again(void **state)
{
	struct fixture *f = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/a/b/spool", f->dir);
	open_spool(f, path, "mx.test");
	static const char *const subs[] = {"tmp", "new", "cur", "quarantine/tmp", "quarantine/new",
					    "quarantine/cur"};
	for (int i = 0; i < 6; i++)
		assert_true(is_dir(path, subs[i]));
	assert_true(f->spool.quarantine_same_mount);
	spool_close(&f->spool);
	assert_int_equal(f->spool.main.tmp_fd, -1);
	assert_int_equal(f->spool.quarantine.flush_fd, -1);
	/* a restart finds them all there */
	open_spool(f, path, "mx.test");
	assert_true(f->spool.main.new_fd >= 0 && f->spool.quarantine.new_fd >= 0);
}

/* A path through a regular file: refused, the message names the path,
 * and no descriptor stays open. */
static void a_path_that_cannot_be_a_maildir_is_refused(void **state)
{
	struct fixture *f = *state;
	char file[128], path[160], err[300] = "";
	snprintf(file, sizeof file, "%s/file", f->dir);
	int fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof path, "%s/spool", file);
	assert_int_equal(spool_open(&f->spool, path, "mx.test", err, sizeof err), -1);
	assert_non_null(strstr(err, path));
	assert_non_null(strstr(err, strerror(ENOTDIR)));
	assert_int_equal(f->spool.main.tmp_fd, -1);
	assert_int_equal(f->spool.main.new_fd, -1);
}

/* A start over an existing spool still syncs the directory that holds it
 * (the run that made it may have crashed before its name was durable):
 * that directory is opened (inotify sees it), which only its fsync
 * needs. */
static void every_start_syncs_the_spools_parent(void **state)
{
	struct fixture *f = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/spool", f->dir);
	open_spool(f, path, "mx.test");
	spool_close(&f->spool);
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	assert_true(in >= 0);
	assert_true(inotify_add_watch(in, f->dir, IN_OPEN) >= 0);
	open_spool(f, path, "mx.test");
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n = read(in, buf, sizeof buf);
	bool parent_opened = false;
	for (char *p = buf; n > 0 && p < buf + n;) {
		const struct inotify_event *e = (const struct inotify_event *)p;
		parent_opened |= e->len == 0 && (e->mask & IN_ISDIR); /* the directory itself */
		p += sizeof *e + e->len;
	}
	close(in);
	assert_true(parent_opened);
}

/* Maildir names hold no '/' nor ':' (hostname characters become '_'),
 * and differ by worker and by sequence: time, pid, worker, sequence,
 * host. */
static void names_are_maildir_safe_and_unique(void **state)
{
	struct fixture *f = *state;
	open_spool(f, f->dir, "mx:25/a.test");
	assert_string_equal(f->spool.hostname, "mx_25_a.test");
	char a[160], b[160], c[160], want[64];
	spool_name(&f->spool, 1, 7, a, sizeof a);
	spool_name(&f->spool, 2, 7, b, sizeof b);
	spool_name(&f->spool, 1, 8, c, sizeof c);
	snprintf(want, sizeof want, "P%dW1Q7.mx_25_a.test", (int)getpid());
	assert_non_null(strstr(a, want));
	assert_null(strchr(a, '/'));
	assert_null(strchr(a, ':'));
	long long sec;
	long usec;
	int end = 0;
	assert_int_equal(sscanf(a, "%lld.M%ldP%*dW%*uQ%*u.%n", &sec, &usec, &end), 2);
	assert_true(end > 0);
	assert_true(usec >= 0 && usec < 1000000);
	assert_string_equal(a + end, "mx_25_a.test");
	assert_string_not_equal(strchr(a, 'P'), strchr(b, 'P'));
	assert_string_not_equal(strchr(a, 'P'), strchr(c, 'P'));
}

/* A hostname longer than the names have room for: its first 63 octets. */
static void a_long_hostname_is_cut_to_fit(void **state)
{
	struct fixture *f = *state;
	char host[101], want[80], name[200];
	memset(host, 'h', 100);
	host[100] = '\0';
	open_spool(f, f->dir, host);
	assert_int_equal(strlen(f->spool.hostname), 63);
	spool_name(&f->spool, 0, 1, name, sizeof name);
	snprintf(want, sizeof want, "Q1.%.63s", host);
	assert_string_equal(strchr(name, 'Q'), want);
}

/* The spool's parent is one the daemon's user may pass through but not
 * read (mode 0311): its fsync cannot be had, which is no reason to stop.
 * Played by a child as nobody. */
static void a_parent_it_may_not_read_is_no_error(void **state)
{
	struct fixture *f = *state;
	if (geteuid() != 0)
		skip(); /* needs root to become another user */
	char locked[128], path[160];
	snprintf(locked, sizeof locked, "%s/locked", f->dir);
	snprintf(path, sizeof path, "%s/spool", locked);
	assert_int_equal(chmod(f->dir, 0711), 0);
	assert_int_equal(mkdir(locked, 0311), 0);
	assert_int_equal(chmod(locked, 0311), 0); /* whatever the umask */
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(chown(path, 65534, 65534), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		char err[300] = "";
		if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
		    setresuid(65534, 65534, 65534) < 0)
			_exit(10);
		if (open(locked, O_RDONLY | O_DIRECTORY) >= 0 || errno != EACCES)
			_exit(11); /* the premise: nobody may not read it */
		if (spool_open(&f->spool, path, "mx.test", err, sizeof err) < 0) {
			fprintf(stderr, "spool_open as nobody: %s\n", err);
			_exit(12);
		}
		_exit(0);
	}
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_true(is_dir(path, "new") && is_dir(path, "quarantine/new"));
}

static void syncs_the_parent_of_any_path(void **state)
{
	struct fixture *f = *state;
	char p[128];
	snprintf(p, sizeof p, "%s/x", f->dir);
	assert_int_equal(spool_fsync_parent(p), 0);
	assert_int_equal(spool_fsync_parent("/tmp"), 0);   /* its parent is "/" */
	assert_int_equal(spool_fsync_parent("name"), 0);   /* its parent is "." */
	snprintf(p, sizeof p, "%s/missing/x", f->dir);
	errno = 0;
	assert_int_equal(spool_fsync_parent(p), -1);
	assert_int_equal(errno, ENOENT);
}

static void covers_the_devices_it_spans(void **state)
{
	struct fixture *f = *state;
	open_spool(f, f->dir, "mx.test");
	struct stat st;
	assert_int_equal(stat(f->dir, &st), 0);
	assert_true(spool_covers(&f->spool, st.st_dev));
	assert_int_equal(spool_syncfs(&f->spool), 0);
	/* a quarantine on another filesystem: both are covered, others not */
	f->spool.quarantine_dev = f->spool.main_dev + 1;
	assert_true(spool_covers(&f->spool, f->spool.main_dev));
	assert_true(spool_covers(&f->spool, f->spool.main_dev + 1));
	assert_false(spool_covers(&f->spool, f->spool.main_dev + 2));
}

/* syncfs(2) as the spool calls it, recorded: the test binary's own
 * definition comes before the C library's. */
static int synced_fds[4], nsynced;

int syncfs(int fd)
{
	if (nsynced < 4)
		synced_fds[nsynced] = fd;
	nsynced++;
	return (int)syscall(SYS_syncfs, fd);
}

/* One round syncs each filesystem the spool spans once: the main one,
 * and the quarantine's only when it is another. */
static void a_round_syncs_each_filesystem_once(void **state)
{
	struct fixture *f = *state;
	open_spool(f, f->dir, "mx.test");
	nsynced = 0;
	assert_int_equal(spool_syncfs(&f->spool), 0);
	assert_int_equal(nsynced, 1);
	assert_int_equal(synced_fds[0], f->spool.main.tmp_fd);
	f->spool.quarantine_dev = f->spool.main_dev + 1; /* as if mounted elsewhere */
	nsynced = 0;
	assert_int_equal(spool_syncfs(&f->spool), 0);
	assert_int_equal(nsynced, 2);
	assert_int_equal(synced_fds[0], f->spool.main.tmp_fd);
	assert_int_equal(synced_fds[1], f->spool.quarantine.tmp_fd);
}

/* The quarantine a bind mount of a directory on the same filesystem:
 * same device, another mount, so no linking from the main tmp/ into it. */
static void a_bind_mounted_quarantine_is_another_mount(void **state)
{
	struct fixture *f = *state;
	char elsewhere[128];
	snprintf(elsewhere, sizeof elsewhere, "%s/elsewhere", f->dir);
	snprintf(f->mounted, sizeof f->mounted, "%s/spool/quarantine", f->dir);
	char cmd[300];
	snprintf(cmd, sizeof cmd, "mkdir -p %s %s", elsewhere, f->mounted);
	assert_int_equal(system(cmd), 0);
	/* In a mount namespace of this process's own, private from the
	 * host's: the bind mount goes away with the process, even if a
	 * failed assertion or a crash skips the teardown. */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(elsewhere, f->mounted, NULL, MS_BIND, NULL) < 0) {
		f->mounted[0] = '\0';
		skip(); /* not root, or no mounts here */
	}
	char path[128];
	snprintf(path, sizeof path, "%s/spool", f->dir);
	open_spool(f, path, "mx.test");
	assert_true(f->spool.main_dev == f->spool.quarantine_dev);
	assert_false(f->spool.quarantine_same_mount);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(makes_both_maildirs_deep_and_again, setup, teardown),
		cmocka_unit_test_setup_teardown(a_path_that_cannot_be_a_maildir_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(every_start_syncs_the_spools_parent, setup, teardown),
		cmocka_unit_test_setup_teardown(names_are_maildir_safe_and_unique, setup, teardown),
		cmocka_unit_test_setup_teardown(a_long_hostname_is_cut_to_fit, setup, teardown),
		cmocka_unit_test_setup_teardown(a_parent_it_may_not_read_is_no_error, setup, teardown),
		cmocka_unit_test_setup_teardown(syncs_the_parent_of_any_path, setup, teardown),
		cmocka_unit_test_setup_teardown(covers_the_devices_it_spans, setup, teardown),
		cmocka_unit_test_setup_teardown(a_round_syncs_each_filesystem_once, setup, teardown),
		cmocka_unit_test_setup_teardown(a_bind_mounted_quarantine_is_another_mount, setup,
						teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
