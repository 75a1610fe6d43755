/* Unit tests: spool_journal — real files in a real directory. Appended
 * messages reach new/ (or quarantine/new) byte for byte; what a crashed
 * run left in the journal is published at the next open, once, and not
 * when it is already in new/ or cur/; a torn record, or one forged
 * without the journal's id, ends the log; a full
 * journal says EAGAIN and loses nothing; the ring wraps; a journal of
 * another size is emptied into the spool and made again; a file that is
 * not a journal is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/dir_entries.h"
#include "userspace/journal.h"
#include "userspace/spool.h"
#include "userspace/spool_journal.h"

#define LAP (64u << 10)

struct fixture {
	char dir[64], path[128];
	struct spool spool;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	char err[300];
	snprintf(f->dir, sizeof f->dir, "/tmp/authgate-journal.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/authgate-journal", f->dir);
	assert_int_equal(spool_open(&f->spool, f->dir, "mx.test", err, sizeof err), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	spool_close(&f->spool);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct spool_journal *open_journal(struct fixture *f, uint64_t lap)
{
	char err[300] = "";
	struct spool_journal *j = spool_journal_open(&f->spool, f->path, lap, err, sizeof err);
	if (!j)
		fail_msg("spool_journal_open: %s", err);
	return j;
}

/* A message body that says which one it is, `len` bytes long. */
static void body_of(char *out, size_t len, unsigned i)
{
	for (size_t k = 0; k < len; k++)
		out[k] = (char)('a' + (i + k) % 26);
	snprintf(out, len, "message %u ", i);
	out[strlen(out)] = '.';
}

static int append_one(struct spool_journal *j, const char *name, const char *head,
		      const char *body, size_t body_len, bool quarantine)
{
	struct iovec iov[2] = {{(void *)head, strlen(head)}, {(void *)body, body_len}};
	struct journal_entry e = {.iov = iov, .iovcnt = 2, .len = strlen(head) + body_len,
				  .name = name, .quarantine = quarantine};
	spool_journal_append(j, &e, 1);
	return e.res;
}

/* The file's content, or NULL; its size in *len. */
static char *slurp(const char *dir, const char *sub, const char *name, size_t *len)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s/%s", dir, sub, name);
	FILE *fp = fopen(p, "rb");
	if (!fp)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, 1 << 20, fp);
	fclose(fp);
	return buf;
}

static void assert_spooled(const char *dir, const char *sub, const char *name, const char *head,
			   const char *body, size_t body_len)
{
	size_t len;
	char *got = slurp(dir, sub, name, &len);
	if (!got)
		fail_msg("%s/%s is missing", sub, name);
	assert_int_equal(len, strlen(head) + body_len);
	assert_memory_equal(got, head, strlen(head));
	assert_memory_equal(got + strlen(head), body, body_len);
	free(got);
}

static unsigned count_dir(const char *dir, const char *sub)
{
	char p[512];
	snprintf(p, sizeof p, "%s/%s", dir, sub);
	return dir_entries(p);
}

static void appended_messages_reach_new(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	char body[3000];
	body_of(body, sizeof body, 1);
	assert_int_equal(append_one(j, "1.M1P1W0Q1.mx", "Received-SPF: pass\r\n", body, sizeof body, false), 0);
	assert_int_equal(append_one(j, "1.M1P1W0Q2.mx", "X: q\r\n", "aside\r\n", 7, true), 0);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "1.M1P1W0Q1.mx", "Received-SPF: pass\r\n", body, sizeof body);
	assert_spooled(f->dir, "quarantine/new", "1.M1P1W0Q2.mx", "X: q\r\n", "aside\r\n", 7);
	assert_int_equal(count_dir(f->dir, "new"), 1);
	assert_int_equal(count_dir(f->dir, "tmp"), 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, JOURNAL_HEAD + LAP);
}

/* What a run that crashed after its 250s and before publishing leaves:
 * records after the checkpoint. Written here with the format functions. */
static uint64_t checkpoint_of(const char *path, uint64_t *id)
{
	int fd = open(path, O_RDONLY);
	unsigned char a[JOURNAL_CHECKPOINT_SIZE], b[JOURNAL_CHECKPOINT_SIZE];
	assert_int_equal(pread(fd, a, sizeof a, 0), sizeof a);
	assert_int_equal(pread(fd, b, sizeof b, JOURNAL_SLOT_SIZE), sizeof b);
	close(fd);
	uint64_t seq, pos;
	assert_true(journal_checkpoint_pick(a, b, id, &seq, &pos));
	return pos;
}

static uint64_t write_crashed_record(const char *path, uint64_t lap, uint64_t id, uint64_t pos,
				     const char *name, const char *payload)
{
	struct iovec iov = {(void *)payload, strlen(payload)};
	unsigned char hdr[JOURNAL_RECORD_HEADER];
	journal_record_encode(hdr, id, pos, 0, name, strlen(name), &iov, 1, strlen(payload));
	int fd = open(path, O_WRONLY);
	off_t off = (off_t)(JOURNAL_HEAD + pos % lap);
	struct iovec v[4] = {{hdr, sizeof hdr}, {(void *)name, strlen(name)}, iov,
			     {(void *)journal_zeros, journal_padding(strlen(name), strlen(payload))}};
	assert_true(pwritev(fd, v, 4, off) > 0);
	close(fd);
	return pos + journal_record_size(strlen(name), strlen(payload));
}

static void recovery_publishes_what_a_crash_left_once(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP)); /* a journal, empty */
	uint64_t id, pos = checkpoint_of(f->path, &id);
	pos = write_crashed_record(f->path, LAP, id, pos, "c.1", "first\r\n");
	pos = write_crashed_record(f->path, LAP, id, pos, "c.2", "second\r\n");
	pos = write_crashed_record(f->path, LAP, id, pos, "c.3", "in new already\r\n");
	pos = write_crashed_record(f->path, LAP, id, pos, "c.4", "read and moved to cur\r\n");
	pos = write_crashed_record(f->path, LAP, id, pos, "c.5", "torn by the crash\r\n");
	int fd = open(f->path, O_WRONLY); /* its last bytes never reached the disk */
	assert_int_equal(pwrite(fd, "XXXX", 4, (off_t)(JOURNAL_HEAD + pos % LAP - 12)), 4);
	close(fd);
	char p[256];
	snprintf(p, sizeof p, "%s/new/c.3", f->dir);
	FILE *fp = fopen(p, "w");
	fputs("in new already\r\n", fp);
	fclose(fp);
	snprintf(p, sizeof p, "%s/cur/c.4:2,S", f->dir);
	fp = fopen(p, "w");
	fputs("read and moved to cur\r\n", fp);
	fclose(fp);

	struct spool_journal *j = open_journal(f, LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 2);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "c.1", "", "first\r\n", 7);
	assert_spooled(f->dir, "new", "c.2", "", "second\r\n", 8);
	assert_int_equal(count_dir(f->dir, "new"), 3); /* c.1, c.2, c.3: not c.4, not c.5 */
	assert_int_equal(count_dir(f->dir, "cur"), 1);

	/* Published means checkpointed: the next start finds nothing. */
	j = open_journal(f, LAP);
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), 3);
}

/* With the publisher unable to work (new/ gone), the journal fills:
 * EAGAIN, never a false success; the next start publishes every message
 * that was accepted. */
static void full_journal_says_eagain_and_loses_nothing(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	char newdir[128];
	snprintf(newdir, sizeof newdir, "%s/new", f->dir);
	assert_int_equal(rmdir(newdir), 0);
	static char body[5000];
	unsigned accepted = 0, i;
	for (i = 0; i < 40; i++) {
		char name[32];
		snprintf(name, sizeof name, "full.%u", i);
		body_of(body, sizeof body, i);
		int res = append_one(j, name, "", body, sizeof body, false);
		if (res == -EAGAIN)
			break;
		assert_int_equal(res, 0);
		accepted++;
	}
	assert_true(i < 40);
	assert_true(accepted >= LAP / 5100 - 1);
	spool_journal_close(j);

	char err[300];
	spool_close(&f->spool);
	assert_int_equal(spool_open(&f->spool, f->dir, "mx.test", err, sizeof err), 0);
	j = open_journal(f, LAP);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), accepted);
	for (i = 0; i < accepted; i++) {
		char name[32];
		snprintf(name, sizeof name, "full.%u", i);
		body_of(body, sizeof body, i);
		assert_spooled(f->dir, "new", name, "", body, sizeof body);
	}
}

/* Many laps of a small ring, the publisher keeping up: every message once,
 * whole, whatever its size and wherever the ring's end fell. */
static void ring_wraps_many_laps(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	static char body[20000];
	enum { N = 120 };
	for (unsigned i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof name, "wrap.%u", i);
		size_t len = 1000 + (i * 7919) % 19000;
		body_of(body, len, i);
		int res;
		while ((res = append_one(j, name, "H: v\r\n", body, len, false)) == -EAGAIN)
			spool_journal_wait_room(j, 100);
		assert_int_equal(res, 0);
	}
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), N);
	for (unsigned i = 0; i < N; i++) {
		char name[32];
		snprintf(name, sizeof name, "wrap.%u", i);
		size_t len = 1000 + (i * 7919) % 19000;
		body_of(body, len, i);
		assert_spooled(f->dir, "new", name, "H: v\r\n", body, len);
	}
}

/* Recovery that cannot publish refuses to start, says why, and keeps the
 * records for the next start. */
static void recovery_that_cannot_publish_keeps_everything(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	write_crashed_record(f->path, LAP, id, pos, "k.1", "kept\r\n");
	char newdir[128], err[300] = "";
	snprintf(newdir, sizeof newdir, "%s/new", f->dir);
	assert_int_equal(rmdir(newdir), 0);
	assert_null(spool_journal_open(&f->spool, f->path, LAP, err, sizeof err));
	assert_non_null(strstr(err, "spool journal: recovery: No such file or directory"));
	spool_close(&f->spool);
	assert_int_equal(spool_open(&f->spool, f->dir, "mx.test", err, sizeof err), 0);
	spool_journal_close(open_journal(f, LAP));
	assert_spooled(f->dir, "new", "k.1", "", "kept\r\n", 6);
}

/* A round that fails leaves no record behind: here the next message does
 * not fit in the rest of the lap and goes to the next one, so the failed
 * round's position is where the publisher looks next. Its sender was
 * told 451; it must not be delivered. */
static void a_failed_round_leaves_nothing_to_publish(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	static char body[40000];
	memset(body, 'a', sizeof body);
	assert_int_equal(append_one(j, "a.1", "", body, 40000, false), 0); /* ends at 40,048 */
	spool_journal_fail_next_round(j, -EIO);
	assert_int_equal(append_one(j, "b.1", "", body, 10000, false), -EIO);
	int res;
	while ((res = append_one(j, "c.1", "", body, 30000, false)) == -EAGAIN) /* to the next lap */
		spool_journal_wait_room(j, 100);
	assert_int_equal(res, 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), 2);
	assert_spooled(f->dir, "new", "a.1", "", body, 40000);
	assert_spooled(f->dir, "new", "c.1", "", body, 30000);
	/* and recovery, reading the same file, finds nothing more */
	j = open_journal(f, LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), 2);
}

/* Recovery checks a payload larger than its read buffer (64 KB) in
 * pieces, and publishes it whole. */
static void recovery_of_a_large_record(void **state)
{
	struct fixture *f = *state;
	enum { BIG_LAP = 512 << 10, LEN = 200000 };
	spool_journal_close(open_journal(f, BIG_LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	static char body[LEN + 1];
	body_of(body, LEN + 1, 7);
	body[LEN] = '\0';
	write_crashed_record(f->path, BIG_LAP, id, pos, "big.1", body);
	spool_journal_close(open_journal(f, BIG_LAP));
	assert_spooled(f->dir, "new", "big.1", "", body, LEN);
}

/* A record a sender crafted inside a message, CRC and all, where the
 * reader looks next: without the journal's id it ends the log. */
static void a_forged_record_is_not_published(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	pos = write_crashed_record(f->path, LAP, id, pos, "ok.1", "ours\r\n");
	pos = write_crashed_record(f->path, LAP, id ^ 0x8000, pos, "forged", "theirs\r\n");
	write_crashed_record(f->path, LAP, id, pos, "ok.2", "after the forged one\r\n");
	spool_journal_close(open_journal(f, LAP));
	assert_spooled(f->dir, "new", "ok.1", "", "ours\r\n", 6);
	assert_int_equal(count_dir(f->dir, "new"), 1);
}

static void another_size_is_emptied_then_made_again(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	write_crashed_record(f->path, LAP, id, pos, "r.1", "kept across the resize\r\n");
	struct spool_journal *j = open_journal(f, 2 * LAP);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "r.1", "", "kept across the resize\r\n", 24);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, JOURNAL_HEAD + 2 * LAP);
	j = open_journal(f, 2 * LAP);
	assert_int_equal(append_one(j, "r.2", "", "after\r\n", 7, false), 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), 2);
}

static void not_a_journal_is_refused(void **state)
{
	struct fixture *f = *state;
	FILE *fp = fopen(f->path, "w");
	for (int i = 0; i < 2000; i++)
		fputs("not a journal\n", fp);
	fclose(fp);
	char err[300] = "";
	assert_null(spool_journal_open(&f->spool, f->path, LAP, err, sizeof err));
	assert_non_null(strstr(err, "not an authgate journal"));
	size_t len;
	char *still = slurp(f->dir, "", "authgate-journal", &len);
	assert_int_equal(len, 2000 * 14); /* left as it was */
	free(still);
}

/* A record name is used under new/: "..", CRC and id right, must end the log, never be linked. */
static void a_record_named_dot_dot_ends_the_log(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	pos = write_crashed_record(f->path, LAP, id, pos, "ok.1", "ours\r\n");
	pos = write_crashed_record(f->path, LAP, id, pos, "..", "up a level\r\n");
	write_crashed_record(f->path, LAP, id, pos, "ok.2", "after the bad name\r\n");
	spool_journal_close(open_journal(f, LAP));
	assert_spooled(f->dir, "new", "ok.1", "", "ours\r\n", 6);
	assert_int_equal(count_dir(f->dir, "new"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(appended_messages_reach_new, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_publishes_what_a_crash_left_once, setup, teardown),
		cmocka_unit_test_setup_teardown(full_journal_says_eagain_and_loses_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(ring_wraps_many_laps, setup, teardown),
		cmocka_unit_test_setup_teardown(a_forged_record_is_not_published, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_round_leaves_nothing_to_publish, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_of_a_large_record, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_that_cannot_publish_keeps_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(another_size_is_emptied_then_made_again, setup, teardown),
		cmocka_unit_test_setup_teardown(not_a_journal_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(a_record_named_dot_dot_ends_the_log, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
