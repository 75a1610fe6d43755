/*
 * spool — see spool.h.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <liburing.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int fsync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	int rc = fsync(fd);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

int spool_fsync_parent(const char *path)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return fsync_dir(".");
	slash[slash == dir] = '\0'; /* "/name" keeps its "/" */
	return fsync_dir(dir);
}

/* One directory of the path, made if missing; when made, its name is
 * made durable in its parent (the new directory itself is synced when
 * its own child is made, or by sync_maildir). */
static int make_dir(const char *path)
{
	if (mkdir(path, 0750) < 0)
		return errno == EEXIST ? 0 : -1;
	return spool_fsync_parent(path);
}

static int mkdir_p(const char *path)
{
	char buf[1200];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		int rc = make_dir(buf);
		*p = '/';
		if (rc < 0)
			return -1;
	}
	return make_dir(buf);
}

/* The Maildir's directories, and their names in their parents, durable
 * before anything is acknowledged into them: a message whose name is
 * durable in new/ is lost all the same if new/ itself is not (a first
 * start, or a run that made them and crashed). A few fsyncs at start. */
static int sync_maildir(const char *path, char *err, size_t errlen)
{
	static const char *const subdirs[] = {"tmp/", "new/", "cur/", "", ".."};
	char p[1100];
	for (int i = 0; i < 5; i++) {
		snprintf(p, sizeof p, "%s/%s", path, subdirs[i]);
		if (fsync_dir(p) < 0 && !(i == 4 && errno == EACCES)) { /* a parent we may not read */
			snprintf(err, errlen, "spool %s: fsync: %s", p, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* A regular file with no data and no name, so a crash leaves nothing
 * behind: O_TMPFILE, or where the filesystem lacks it a file made and
 * unlinked at once (O_EXCL: never one that was there, nor a symlink's
 * target). ext4 and XFS, with barriers on, answer fdatasync of such a
 * file, whose last change is long committed, with a cache flush of the
 * device. */
static int open_flush_file(struct spool_dir *d)
{
	d->flush_fd = openat(d->tmp_fd, ".", O_RDWR | O_TMPFILE | O_CLOEXEC, 0600);
	if (d->flush_fd >= 0)
		return 0;
	for (unsigned n = 0; n < 100; n++) {
		char name[64];
		snprintf(name, sizeof name, ".authgate-flush.%d.%u", (int)getpid(), n);
		d->flush_fd = openat(d->tmp_fd, name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (d->flush_fd < 0 && errno == EEXIST)
			continue;
		if (d->flush_fd < 0)
			return -1;
		if (unlinkat(d->tmp_fd, name, 0) < 0) {
			int e = errno;
			close(d->flush_fd);
			d->flush_fd = -1;
			errno = e;
			return -1;
		}
		return 0;
	}
	return -1; /* errno: EEXIST */
}

static int open_maildir(struct spool_dir *d, const char *path, char *err, size_t errlen)
{
	static const char *const subdirs[] = {"tmp", "new", "cur"};
	char p[1100];
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof p, "%s/%s", path, subdirs[i]);
		if (mkdir_p(p) < 0) {
			snprintf(err, errlen, "spool %s: %s", p, strerror(errno));
			return -1;
		}
	}
	if (sync_maildir(path, err, errlen) < 0)
		return -1;
	snprintf(p, sizeof p, "%s/tmp", path);
	d->tmp_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/new", path);
	d->new_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->tmp_fd < 0 || d->new_fd < 0) {
		snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
		return -1;
	}
	if (open_flush_file(d) < 0) {
		snprintf(err, errlen, "spool %s/tmp: cannot make the file its syncs flush the disk with: %s",
			 path, strerror(errno));
		return -1;
	}
	return 0;
}

/* linkat(2) works within one mount, not just one filesystem (a bind mount
 * of the same filesystem gives EXDEV). */
static bool same_mount(int a, int b)
{
	struct statx x, y;
	if (statx(a, "", AT_EMPTY_PATH, STATX_MNT_ID, &x) < 0 ||
	    statx(b, "", AT_EMPTY_PATH, STATX_MNT_ID, &y) < 0)
		return false;
	if (x.stx_dev_major != y.stx_dev_major || x.stx_dev_minor != y.stx_dev_minor)
		return false;
	return !(x.stx_mask & y.stx_mask & STATX_MNT_ID) || x.stx_mnt_id == y.stx_mnt_id;
}

int spool_open(struct spool *s, const char *path, const char *hostname,
	       char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->main.tmp_fd = s->main.new_fd = s->main.flush_fd = -1;
	s->quarantine.tmp_fd = s->quarantine.new_fd = s->quarantine.flush_fd = -1;
	/* Maildir names must not contain '/' or ':'. */
	size_t k = 0;
	for (const char *h = hostname; *h && k + 1 < sizeof s->hostname; h++)
		s->hostname[k++] = (*h == '/' || *h == ':') ? '_' : *h;
	s->hostname[k] = '\0';
	s->pid = (int)getpid(); /* glibc asks the kernel each time: once, here */
	char q[1100];
	snprintf(q, sizeof q, "%s/quarantine", path);
	if (open_maildir(&s->main, path, err, errlen) < 0 ||
	    open_maildir(&s->quarantine, q, err, errlen) < 0) {
		spool_close(s);
		return -1;
	}
	s->quarantine_same_mount = same_mount(s->main.tmp_fd, s->quarantine.new_fd);
	struct stat a, b;
	if (fstat(s->main.tmp_fd, &a) < 0 || fstat(s->quarantine.tmp_fd, &b) < 0) {
		snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
		spool_close(s);
		return -1;
	}
	s->main_dev = a.st_dev;
	s->quarantine_dev = b.st_dev;
	return 0;
}

int spool_syncfs(const struct spool *s)
{
	int rc = syncfs(s->main.tmp_fd) < 0 ? -errno : 0;
	if (s->quarantine_dev != s->main_dev && syncfs(s->quarantine.tmp_fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

bool spool_covers(const struct spool *s, dev_t dev)
{
	return dev == s->main_dev || dev == s->quarantine_dev;
}

int spool_link_source(const struct spool *s, int fd, char *out, size_t size, int *flags)
{
	if (s->link_by_fd) {
		out[0] = '\0';
		*flags = AT_EMPTY_PATH;
		return fd;
	}
	snprintf(out, size, "/proc/self/fd/%d", fd);
	*flags = AT_SYMLINK_FOLLOW;
	return AT_FDCWD;
}

int spool_link_anonymous(const struct spool *s, int fd, int dir_fd, const char *name)
{
	char path[32];
	int flags;
	int from = spool_link_source(s, fd, path, sizeof path, &flags);
	return linkat(from, path, dir_fd, name, flags) < 0 ? -errno : 0;
}

static int open_anonymous(const struct spool_dir *d)
{
	return openat(d->tmp_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
}

/* linkat(2) of a new anonymous file in tmp/ by its descriptor, plain or
 * on a ring; the name removed again. 0 or -errno. */
static int try_link_by_fd(const struct spool_dir *d, const char *name, bool on_ring)
{
	int fd = open_anonymous(d), rc = 0;
	if (fd < 0)
		return -errno;
	struct io_uring ring;
	if (!on_ring) {
		rc = linkat(fd, "", d->tmp_fd, name, AT_EMPTY_PATH) < 0 ? -errno : 0;
	} else if ((rc = io_uring_queue_init(2, &ring, 0)) == 0) {
		struct io_uring_cqe *cqe;
		io_uring_prep_linkat(io_uring_get_sqe(&ring), fd, "", d->tmp_fd, name, AT_EMPTY_PATH);
		rc = io_uring_submit_and_wait(&ring, 1);
		if (rc >= 0 && (rc = io_uring_peek_cqe(&ring, &cqe)) == 0)
			rc = cqe->res;
		io_uring_queue_exit(&ring);
	}
	close(fd);
	if (rc == 0)
		unlinkat(d->tmp_fd, name, 0);
	return rc;
}

/* Whether both ways the daemon links (linkat(2) in the journal's
 * publisher, the ring's in the workers) take the file's descriptor:
 * since Linux 6.10 the opener may link with AT_EMPTY_PATH (before, only
 * with CAP_DAC_READ_SEARCH), and older rings refuse the empty path even
 * then (they read it with getname(), not getname_uflags()). A file once
 * named and unnamed cannot be named again, hence a new one each try. */
static bool link_by_fd_works(const struct spool *s)
{
	char name[64];
	snprintf(name, sizeof name, ".authgate-probe.%d", s->pid);
	return try_link_by_fd(&s->main, name, false) == 0 && try_link_by_fd(&s->main, name, true) == 0;
}

/* Make an anonymous file in tmp/ and name it there the chosen way (never
 * in new/, where a reader would see it), then remove the name. */
static int check_dir(const struct spool *s, const struct spool_dir *d, const char *which,
		     char *err, size_t errlen)
{
	int fd = open_anonymous(d);
	if (fd < 0) {
		snprintf(err, errlen, "spool.sync = syncfs: %s tmp/ cannot hold O_TMPFILE files (%s); "
			 "use spool.sync = fsync on this filesystem", which, strerror(errno));
		return -1;
	}
	char name[64];
	snprintf(name, sizeof name, ".authgate-check.%d", s->pid);
	int rc = spool_link_anonymous(s, fd, d->tmp_fd, name);
	close(fd);
	if (rc < 0) {
		snprintf(err, errlen, "spool.sync = syncfs: cannot name an O_TMPFILE file in %s tmp/, "
			 "neither by its descriptor nor through /proc/self/fd (%s); is /proc mounted? "
			 "Else use spool.sync = fsync", which, strerror(-rc));
		return -1;
	}
	unlinkat(d->tmp_fd, name, 0);
	return 0;
}

int spool_check_anonymous(struct spool *s, char *err, size_t errlen)
{
	s->link_by_fd = link_by_fd_works(s);
	if (check_dir(s, &s->main, "the spool's", err, errlen) < 0)
		return -1;
	return s->quarantine_same_mount ? 0
					: check_dir(s, &s->quarantine, "the quarantine's", err, errlen);
}

void spool_close(struct spool *s)
{
	int *fds[] = {&s->main.tmp_fd, &s->main.new_fd, &s->main.flush_fd,
		      &s->quarantine.tmp_fd, &s->quarantine.new_fd, &s->quarantine.flush_fd};
	for (int i = 0; i < 6; i++) {
		if (*fds[i] >= 0)
			close(*fds[i]);
		*fds[i] = -1;
	}
}

void spool_name(const struct spool *s, unsigned worker, unsigned long seq,
		char *out, size_t size)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(out, size, "%lld.M%ldP%dW%uQ%lu.%s", (long long)ts.tv_sec,
		 ts.tv_nsec / 1000, s->pid, worker, seq, s->hostname);
}
