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
#include <time.h>
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

/* The same with a name of name_len bytes, which need not be a C string
 * (a name with a NUL inside). */
static uint64_t write_crashed_record_n(const char *path, uint64_t lap, uint64_t id, uint64_t pos,
				       const char *name, size_t name_len, const char *payload)
{
	struct iovec iov = {(void *)payload, strlen(payload)};
	unsigned char hdr[JOURNAL_RECORD_HEADER];
	journal_record_encode(hdr, id, pos, 0, name, name_len, &iov, 1, strlen(payload));
	int fd = open(path, O_WRONLY);
	off_t off = (off_t)(JOURNAL_HEAD + pos % lap);
	struct iovec v[4] = {{hdr, sizeof hdr}, {(void *)name, name_len}, iov,
			     {(void *)journal_zeros, journal_padding(name_len, strlen(payload))}};
	assert_true(pwritev(fd, v, 4, off) > 0);
	close(fd);
	return pos + journal_record_size(name_len, strlen(payload));
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

/* Each checkpoint goes to the slot the last one did not use, with the
 * next sequence number: both slots hold a whole checkpoint, one step
 * apart, so a write of the newer one torn by a crash leaves the older
 * one, which recovery starts from (finding what is already delivered,
 * publishing nothing twice). Checked on a journal just made, and after
 * messages moved the checkpoint on. */
static void slot_of_newest(const char *path, int *newest, uint64_t *seqs)
{
	int fd = open(path, O_RDONLY);
	unsigned char c[2][JOURNAL_CHECKPOINT_SIZE];
	for (int s = 0; s < 2; s++)
		assert_int_equal(pread(fd, c[s], sizeof c[s], s * JOURNAL_SLOT_SIZE), sizeof c[s]);
	close(fd);
	for (int s = 0; s < 2; s++) {
		uint64_t id, pos;
		if (!journal_checkpoint_pick(c[s], c[s], &id, &seqs[s], &pos))
			fail_msg("checkpoint slot %d holds no valid checkpoint", s);
	}
	uint64_t hi = seqs[0] > seqs[1] ? seqs[0] : seqs[1], lo = seqs[0] > seqs[1] ? seqs[1] : seqs[0];
	assert_int_equal(hi - lo, 1);
	*newest = seqs[0] > seqs[1] ? 0 : 1;
}

static void tear_newest_and_reopen(struct fixture *f)
{
	int newest;
	uint64_t seqs[2];
	slot_of_newest(f->path, &newest, seqs);
	int fd = open(f->path, O_WRONLY); /* its position half written */
	assert_int_equal(pwrite(fd, "\xff\xff\xff\xff", 4, newest * JOURNAL_SLOT_SIZE + 24), 4);
	close(fd);
	unsigned before = count_dir(f->dir, "new");
	struct spool_journal *j = open_journal(f, LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), before);
}

static void a_torn_checkpoint_leaves_the_one_before(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP)); /* made, then recovered: two checkpoints */
	tear_newest_and_reopen(f);
	struct spool_journal *j = open_journal(f, LAP);
	assert_int_equal(append_one(j, "t.1", "", "one\r\n", 5, false), 0);
	assert_int_equal(append_one(j, "t.2", "", "two\r\n", 5, false), 0);
	spool_journal_close(j);
	tear_newest_and_reopen(f);
	assert_spooled(f->dir, "new", "t.1", "", "one\r\n", 5);
	assert_spooled(f->dir, "new", "t.2", "", "two\r\n", 5);
}

/* A name is used under new/: one with a '/' or a NUL in it (CRC and id
 * right) ends the log like "..", and the start goes on; nothing after it
 * is published, nothing outside new/ is made. */
static void a_record_named_with_a_slash_or_a_nul_ends_the_log(void **state)
{
	struct fixture *f = *state;
	static const char *const bad[] = {"sub/x", "nul\0x"};
	static const size_t bad_len[] = {5, 5};
	for (int b = 0; b < 2; b++) {
		spool_journal_close(open_journal(f, LAP));
		uint64_t id, pos = checkpoint_of(f->path, &id);
		char ok1[32], ok2[32];
		snprintf(ok1, sizeof ok1, "ok.%d.1", b);
		snprintf(ok2, sizeof ok2, "ok.%d.2", b);
		pos = write_crashed_record(f->path, LAP, id, pos, ok1, "ours\r\n");
		pos = write_crashed_record_n(f->path, LAP, id, pos, bad[b], bad_len[b], "bad name\r\n");
		write_crashed_record(f->path, LAP, id, pos, ok2, "after the bad name\r\n");
		spool_journal_close(open_journal(f, LAP));
		assert_spooled(f->dir, "new", ok1, "", "ours\r\n", 6);
		assert_int_equal(count_dir(f->dir, "new"), (unsigned)b + 1);
		size_t len;
		char *got = slurp(f->dir, "new", "nul", &len); /* the name cut at its NUL */
		assert_null(got);
	}
}

/* A name already in new/ counts as published (the next round stages
 * again what a failed one left, and may find it there): the file there
 * stays as it was, and the pipeline goes on with the next message. */
static void a_name_already_in_new_counts_as_done(void **state)
{
	struct fixture *f = *state;
	char p[256];
	snprintf(p, sizeof p, "%s/new/d.1", f->dir);
	FILE *fp = fopen(p, "w");
	fputs("there before\r\n", fp);
	fclose(fp);
	struct spool_journal *j = open_journal(f, LAP);
	assert_int_equal(append_one(j, "d.1", "", "again\r\n", 7, false), 0);
	assert_int_equal(append_one(j, "d.2", "", "next\r\n", 6, false), 0);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "d.1", "", "there before\r\n", 14);
	assert_spooled(f->dir, "new", "d.2", "", "next\r\n", 6);
}

/* The room behind the last message published comes back to the appender
 * with nothing more appended: the publisher makes its last checkpoint
 * durable and hands the room over, rather than going idle with it
 * written and not yet committed. A message that needs that room waits
 * for it (bounded here: 10 s) and goes in. */
static void the_last_checkpoint_frees_its_room(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	static char body[40000];
	memset(body, 'r', sizeof body);
	assert_int_equal(append_one(j, "r.1", "", body, 40000, false), 0);
	int res = -EAGAIN;
	for (int tries = 0; tries < 100 && res == -EAGAIN; tries++)
		if ((res = append_one(j, "r.2", "", body, 40000, false)) == -EAGAIN)
			spool_journal_wait_room(j, 100);
	assert_int_equal(res, 0);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "r.2", "", body, 40000);
}

/* Recovery works in batches (512 records); a log longer than one is
 * published to its end, not cut after the first batch. */
static void recovery_of_more_than_a_batch(void **state)
{
	struct fixture *f = *state;
	enum { N = 700 };
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, start = checkpoint_of(f->path, &id), pos = start;
	for (unsigned i = 0; i < N; i++) {
		char name[32], body[32];
		snprintf(name, sizeof name, "m.%u", i);
		snprintf(body, sizeof body, "body %u\r\n", i);
		pos = write_crashed_record(f->path, LAP, id, pos, name, body);
	}
	assert_true(pos - start < LAP); /* all in one lap */
	struct spool_journal *j = open_journal(f, LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, N);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), N);
	assert_spooled(f->dir, "new", "m.699", "", "body 699\r\n", 10);
}

/* After recovery the log starts afresh two laps on: the crashed run may
 * have written up to a lap past its checkpoint, here (the checkpoint in
 * the middle of a lap) a record at the next lap's start, the one before
 * it having left too little room. Once the reader has taken both
 * messages out of new/, a later start must not find that record again
 * and deliver it twice. */
static void recovery_starts_past_every_position_written(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	int fd = open(f->path, O_RDWR);
	unsigned char a[JOURNAL_CHECKPOINT_SIZE], b[JOURNAL_CHECKPOINT_SIZE];
	assert_int_equal(pread(fd, a, sizeof a, 0), sizeof a);
	assert_int_equal(pread(fd, b, sizeof b, JOURNAL_SLOT_SIZE), sizeof b);
	uint64_t id, seq, pos;
	assert_true(journal_checkpoint_pick(a, b, &id, &seq, &pos));
	pos += 30000; /* a run that had published 30,000 bytes into this lap */
	journal_checkpoint_encode(a, id, seq + 1, pos);
	assert_int_equal(pwrite(fd, a, sizeof a, (off_t)((seq + 1) % 2) * JOURNAL_SLOT_SIZE), sizeof a);
	close(fd);
	static char big[30001];
	memset(big, 'b', 30000);
	pos = write_crashed_record(f->path, LAP, id, pos, "w.1", big); /* leaves < 5,600 */
	write_crashed_record(f->path, LAP, id, pos - pos % LAP + LAP, "w.2", "next lap\r\n");
	struct spool_journal *j = open_journal(f, LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 2);
	spool_journal_close(j);
	char p[256];
	snprintf(p, sizeof p, "%s/new/w.1", f->dir);
	assert_int_equal(unlink(p), 0);
	snprintf(p, sizeof p, "%s/new/w.2", f->dir);
	assert_int_equal(unlink(p), 0);
	j = open_journal(f, LAP);
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), 0);
}

/* A file of the two checkpoint slots and no ring at all, checkpoint
 * valid: not a journal (a ring of 0 bytes), refused, never divided by. */
static void a_journal_without_a_ring_is_refused(void **state)
{
	struct fixture *f = *state;
	unsigned char c[JOURNAL_CHECKPOINT_SIZE];
	journal_checkpoint_encode(c, 42, 1, 0);
	int fd = open(f->path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_int_equal(ftruncate(fd, JOURNAL_HEAD), 0);
	assert_int_equal(pwrite(fd, c, sizeof c, JOURNAL_SLOT_SIZE), sizeof c);
	close(fd);
	char err[300] = "";
	assert_null(spool_journal_open(&f->spool, f->path, LAP, err, sizeof err));
	assert_non_null(strstr(err, "not an authgate journal"));
}

/* A journal made again at another size takes messages at once: the
 * positions start afresh with the new file, not where the old one's
 * recovery left them. */
static void after_a_resize_appending_works_at_once(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	write_crashed_record(f->path, LAP, id, pos, "z.1", "before\r\n");
	struct spool_journal *j = open_journal(f, 2 * LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 1);
	assert_int_equal(append_one(j, "z.2", "", "after\r\n", 7, false), 0);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "z.1", "", "before\r\n", 8);
	assert_spooled(f->dir, "new", "z.2", "", "after\r\n", 7);
}

/* Bounds met exactly are within them: a record as large as the whole
 * ring (into an empty journal), a name of JOURNAL_NAME_MAX bytes, a
 * payload in four pieces. */
static void records_at_the_bounds_are_taken(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	static char body[LAP];
	size_t len = LAP - JOURNAL_RECORD_HEADER - 3; /* with "x.1", no padding: LAP bytes */
	assert_int_equal(journal_record_size(3, len), LAP);
	body_of(body, len, 3);
	assert_int_equal(append_one(j, "x.1", "", body, len, false), 0);
	char name[JOURNAL_NAME_MAX + 1];
	memset(name, 'n', JOURNAL_NAME_MAX);
	name[JOURNAL_NAME_MAX] = '\0';
	int res;
	while ((res = append_one(j, name, "", "long name\r\n", 11, false)) == -EAGAIN)
		spool_journal_wait_room(j, 100);
	assert_int_equal(res, 0);
	struct iovec iov[4] = {{"A: 1\r\n", 6}, {"B: 2\r\n", 6}, {"\r\n", 2}, {"four\r\n", 6}};
	struct journal_entry e = {.iov = iov, .iovcnt = 4, .len = 20, .name = "x.4"};
	spool_journal_append(j, &e, 1);
	assert_int_equal(e.res, 0);
	spool_journal_close(j);
	assert_spooled(f->dir, "new", "x.1", "", body, len);
	assert_spooled(f->dir, "new", name, "", "long name\r\n", 11);
	assert_spooled(f->dir, "new", "x.4", "A: 1\r\nB: 2\r\n", "\r\nfour\r\n", 8);
}

/* One round of more records than one pwritev takes (1,024 iovecs: 205
 * records of five each go one past): all written, synced and published. */
static void a_round_larger_than_one_write(void **state)
{
	struct fixture *f = *state;
	enum { N = 205 };
	struct spool_journal *j = open_journal(f, LAP);
	static char names[N][16], bodies[N][24];
	static struct iovec iov[N][2];
	static struct journal_entry e[N];
	for (unsigned i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "v.%u", i);
		snprintf(bodies[i], sizeof bodies[i], "body of %u\r\n", i);
		iov[i][0] = (struct iovec){"H: v\r\n", 6};
		iov[i][1] = (struct iovec){bodies[i], strlen(bodies[i])};
		e[i] = (struct journal_entry){.iov = iov[i], .iovcnt = 2, .len = 6 + strlen(bodies[i]),
					      .name = names[i]};
	}
	spool_journal_append(j, e, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(e[i].res, 0);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), N);
	for (unsigned i = 0; i < N; i++)
		assert_spooled(f->dir, "new", names[i], "H: v\r\n", bodies[i], strlen(bodies[i]));
}

/* A failed round answers its own messages with its error; one refused
 * for itself (a name too long) keeps its own answer. */
static void a_failed_round_keeps_each_refusal(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	char longname[JOURNAL_NAME_MAX + 2];
	memset(longname, 'l', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	struct iovec iov = {"x\r\n", 3};
	struct journal_entry e[2] = {{.iov = &iov, .iovcnt = 1, .len = 3, .name = "f.1"},
				     {.iov = &iov, .iovcnt = 1, .len = 3, .name = longname}};
	spool_journal_fail_next_round(j, -EIO);
	spool_journal_append(j, e, 2);
	assert_int_equal(e[0].res, -EIO);
	assert_int_equal(e[1].res, -EINVAL);
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "new"), 0);
}

/* Waiting for room waits: with the publisher unable to free any (new/
 * gone), the wait lasts its time instead of returning at once (the
 * journal thread would spin through its rounds). */
static void waiting_for_room_waits(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	char newdir[128];
	snprintf(newdir, sizeof newdir, "%s/new", f->dir);
	assert_int_equal(rmdir(newdir), 0);
	static char body[40000];
	memset(body, 'w', sizeof body);
	assert_int_equal(append_one(j, "w.1", "", body, 40000, false), 0);
	assert_int_equal(append_one(j, "w.2", "", body, 40000, false), -EAGAIN);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	spool_journal_wait_room(j, 300);
	clock_gettime(CLOCK_MONOTONIC, &b);
	long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
	assert_true(ms >= 250);
	spool_journal_close(j);
}

/* Recovery takes a quarantined message as delivered when it is in
 * quarantine/new, or its reader has moved it to quarantine/cur: it is
 * not published again. */
static void recovery_skips_what_quarantine_cur_holds(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	struct iovec iov = {"held\r\n", 6};
	unsigned char hdr[JOURNAL_RECORD_HEADER];
	journal_record_encode(hdr, id, pos, JOURNAL_FLAG_QUARANTINE, "q.1", 3, &iov, 1, 6);
	int fd = open(f->path, O_WRONLY);
	struct iovec v[4] = {{hdr, sizeof hdr}, {"q.1", 3}, iov, {(void *)journal_zeros, journal_padding(3, 6)}};
	assert_true(pwritev(fd, v, 4, (off_t)(JOURNAL_HEAD + pos % LAP)) > 0);
	pos += journal_record_size(3, 6);
	journal_record_encode(hdr, id, pos, JOURNAL_FLAG_QUARANTINE, "q.2", 3, &iov, 1, 6);
	v[1] = (struct iovec){"q.2", 3};
	assert_true(pwritev(fd, v, 4, (off_t)(JOURNAL_HEAD + pos % LAP)) > 0);
	close(fd);
	char p[256];
	snprintf(p, sizeof p, "%s/quarantine/cur/q.1:2,S", f->dir);
	FILE *fp = fopen(p, "w");
	assert_non_null(fp);
	fputs("held\r\n", fp);
	fclose(fp);
	snprintf(p, sizeof p, "%s/quarantine/new/q.2", f->dir);
	assert_non_null(fp = fopen(p, "w"));
	fputs("held\r\n", fp);
	fclose(fp);
	struct spool_journal *j = open_journal(f, LAP);
	unsigned long published, recovered;
	spool_journal_counts(j, &published, &recovered);
	assert_int_equal(recovered, 0); /* neither: one in quarantine/cur, one in quarantine/new */
	spool_journal_close(j);
	assert_int_equal(count_dir(f->dir, "quarantine/new"), 1);
	assert_int_equal(count_dir(f->dir, "new"), 0);
}

/* A journal is made at its full size whatever the size (here one that
 * ends a byte into the last block of zeros written), and reopened at
 * that size, not made again. */
static void a_journal_is_made_whole_at_any_size(void **state)
{
	struct fixture *f = *state;
	uint64_t lap = 2 * 65536 + 1 - JOURNAL_HEAD;
	spool_journal_close(open_journal(f, lap));
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_size, JOURNAL_HEAD + lap);
	uint64_t id0, id1;
	checkpoint_of(f->path, &id0);
	spool_journal_close(open_journal(f, lap));
	checkpoint_of(f->path, &id1);
	assert_true(id0 == id1); /* the same journal */
}

/* What the journal logs (standard error) while fn runs, in a buffer of
 * `size`; log lines are written straight to descriptor 2. */
static void capture_log(char *out, size_t size, void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/authgate-journal-log.XXXXXX";
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	assert_true(fd >= 0 && saved >= 0);
	unlink(path);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	fn(arg);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	ssize_t n = pread(fd, out, size - 1, 0);
	close(fd);
	out[n > 0 ? n : 0] = '\0';
	fputs(out, stderr); /* still shown with the test's output */
}

static void close_journal(void *j)
{
	spool_journal_close(j);
}

struct opening {
	struct fixture *f;
	struct spool_journal *j;
};

static void open_it(void *arg)
{
	struct opening *o = arg;
	o->j = open_journal(o->f, LAP);
}

/* The counts the operator reads: recovery says how many it found,
 * published and found delivered; the closing line counts every message
 * published, the recovered ones among them; no line about messages left
 * behind when none is. */
static void the_log_lines_count_what_was_done(void **state)
{
	struct fixture *f = *state;
	spool_journal_close(open_journal(f, LAP));
	uint64_t id, pos = checkpoint_of(f->path, &id);
	pos = write_crashed_record(f->path, LAP, id, pos, "l.1", "one\r\n");
	pos = write_crashed_record(f->path, LAP, id, pos, "l.2", "two\r\n");
	write_crashed_record(f->path, LAP, id, pos, "l.3", "three, delivered\r\n");
	char p[256];
	snprintf(p, sizeof p, "%s/new/l.3", f->dir);
	FILE *fp = fopen(p, "w");
	fputs("three, delivered\r\n", fp);
	fclose(fp);
	static char log[8192];
	struct opening o = {f, NULL};
	capture_log(log, sizeof log, open_it, &o);
	assert_non_null(strstr(log, "spool journal: 3 messages in the journal, 2 published now, 1 already in the spool"));
	assert_int_equal(append_one(o.j, "l.4", "", "four\r\n", 6, false), 0);
	capture_log(log, sizeof log, close_journal, o.j);
	assert_non_null(strstr(log, "spool journal: 3 messages published into the spool, 2 of them recovered at start"));
	assert_null(strstr(log, "not yet in the spool"));
}

/* Closing with messages the publisher could not put into the spool (new/
 * gone) says they wait in the journal for the next start. */
static void closing_with_messages_left_says_so(void **state)
{
	struct fixture *f = *state;
	struct spool_journal *j = open_journal(f, LAP);
	char newdir[128];
	snprintf(newdir, sizeof newdir, "%s/new", f->dir);
	assert_int_equal(rmdir(newdir), 0);
	assert_int_equal(append_one(j, "s.1", "", "stays\r\n", 7, false), 0);
	static char log[8192];
	capture_log(log, sizeof log, close_journal, j);
	assert_non_null(strstr(log, "spool journal: 0 messages published into the spool, 0 of them recovered at start"));
	assert_non_null(strstr(log, "stopping with messages not yet in the spool; they are published at the next start"));
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
		cmocka_unit_test_setup_teardown(a_torn_checkpoint_leaves_the_one_before, setup, teardown),
		cmocka_unit_test_setup_teardown(a_record_named_with_a_slash_or_a_nul_ends_the_log, setup, teardown),
		cmocka_unit_test_setup_teardown(a_name_already_in_new_counts_as_done, setup, teardown),
		cmocka_unit_test_setup_teardown(the_last_checkpoint_frees_its_room, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_of_more_than_a_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_starts_past_every_position_written, setup, teardown),
		cmocka_unit_test_setup_teardown(a_journal_without_a_ring_is_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(after_a_resize_appending_works_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(records_at_the_bounds_are_taken, setup, teardown),
		cmocka_unit_test_setup_teardown(a_round_larger_than_one_write, setup, teardown),
		cmocka_unit_test_setup_teardown(a_failed_round_keeps_each_refusal, setup, teardown),
		cmocka_unit_test_setup_teardown(waiting_for_room_waits, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_skips_what_quarantine_cur_holds, setup, teardown),
		cmocka_unit_test_setup_teardown(a_journal_is_made_whole_at_any_size, setup, teardown),
		cmocka_unit_test_setup_teardown(the_log_lines_count_what_was_done, setup, teardown),
		cmocka_unit_test_setup_teardown(closing_with_messages_left_says_so, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
