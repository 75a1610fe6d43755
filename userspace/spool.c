/*
 * spool — see spool.h.
 */
#include "spool.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int mkdir_p(const char *path)
{
	char buf[1200];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0750) < 0 && errno != EEXIST ? -1 : 0;
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
	snprintf(p, sizeof p, "%s/tmp", path);
	d->tmp_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(p, sizeof p, "%s/new", path);
	d->new_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (d->tmp_fd < 0 || d->new_fd < 0) {
		snprintf(err, errlen, "spool %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int spool_open(struct spool *s, const char *path, const char *hostname,
	       char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->main.tmp_fd = s->main.new_fd = s->quarantine.tmp_fd = s->quarantine.new_fd = -1;
	/* Maildir names must not contain '/' or ':'. */
	size_t k = 0;
	for (const char *h = hostname; *h && k + 1 < sizeof s->hostname; h++)
		s->hostname[k++] = (*h == '/' || *h == ':') ? '_' : *h;
	s->hostname[k] = '\0';
	char q[1100];
	snprintf(q, sizeof q, "%s/quarantine", path);
	if (open_maildir(&s->main, path, err, errlen) < 0 ||
	    open_maildir(&s->quarantine, q, err, errlen) < 0) {
		spool_close(s);
		return -1;
	}
	return 0;
}

void spool_close(struct spool *s)
{
	int *fds[] = {&s->main.tmp_fd, &s->main.new_fd, &s->quarantine.tmp_fd,
		      &s->quarantine.new_fd};
	for (int i = 0; i < 4; i++) {
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
		 ts.tv_nsec / 1000, (int)getpid(), worker, seq, s->hostname);
}
