/* libFuzzer: recovery of the spool journal (spool_journal_open on a
 * journal file a crash or a bad disk may have left in any state). The
 * input is the ring of a 4 KB journal: bytes 0-7 the checkpoint's
 * position, the rest the ring's content. When byte 8 is odd, the harness
 * first walks the records from the checkpoint as the reader does and
 * writes the right CRC into each header, so that the fuzzer reaches what
 * happens after the CRC check (publishing, names, laps) and not only the
 * rejection of bad records. Recovery runs for real on a real spool in a
 * temporary directory; it must neither crash nor publish a name outside
 * new/, and what it publishes must be a record's payload. */
#include "userspace/journal.h"
#include "userspace/spool.h"
#include "userspace/spool_journal.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define LAP 4096u
#define ID 0x0123456789abcdefull /* the journal's id in every run */

static char dir[64], path[128];
static struct spool spool;

static void remove_dir(void)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "fuzz_journal: could not remove %s\n", dir);
}

static bool make_dir(const char *base)
{
	snprintf(dir, sizeof dir, "%s/authgate-fuzz-journal.XXXXXX", base);
	return mkdtemp(dir) != NULL;
}

static void once(void)
{
	char err[300];
	/* On tmpfs when there is one: every run syncs the journal and the
	 * spool, which costs nothing there (7,024 runs in 20 s on the disk,
	 * 10,845 on tmpfs); recovery does the same work either way. */
	if (!make_dir("/dev/shm") && !make_dir("/tmp"))
		abort();
	if (spool_open(&spool, dir, "mx.fuzz", err, sizeof err) < 0)
		abort();
	snprintf(path, sizeof path, "%s/authgate-journal", dir);
	atexit(remove_dir);
}

/* The CRC each header would need, written in: records from `pos` on. */
static void fix_crcs(unsigned char *ring, uint64_t pos)
{
	for (int n = 0; n < 64; n++) {
		struct journal_record r;
		size_t at = pos % LAP, room = LAP - at;
		if (room < JOURNAL_RECORD_HEADER ||
		    !journal_header_decode(ring + at, room, ID, pos, room, &r)) {
			if (pos % LAP == 0)
				return;
			pos = pos - pos % LAP + LAP; /* where a skipped lap's end goes on */
			at = 0, room = LAP;
			if (!journal_header_decode(ring, room, ID, pos, room, &r))
				return;
		}
		unsigned char *h = ring + at;
		struct iovec payload = {h + JOURNAL_RECORD_HEADER + r.name_len, r.payload_len};
		journal_record_encode(h, ID, pos, r.flags, (const char *)h + JOURNAL_RECORD_HEADER, r.name_len,
				      &payload, 1, r.payload_len);
		pos += r.size;
	}
}

/* Every published file must be some record's payload somewhere in the
 * ring; remove it for the next run. */
static void check_and_clear(const char *sub, const unsigned char *ring)
{
	char p[256];
	snprintf(p, sizeof p, "%s/%s", dir, sub);
	DIR *d = opendir(p);
	if (!d)
		abort();
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.')
			continue;
		char f[512];
		snprintf(f, sizeof f, "%s/%s", p, e->d_name);
		FILE *fp = fopen(f, "rb");
		static unsigned char buf[LAP + 1];
		size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
		if (fp)
			fclose(fp);
		if (n > LAP || (n && !memmem(ring, LAP, buf, n)))
			abort(); /* published bytes that are not in the journal */
		unlink(f);
	}
	closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir[0])
		once();
	if (size < 9)
		return 0;
	uint64_t pos;
	memcpy(&pos, data, 8);
	pos %= 4 * LAP;
	static unsigned char ring[LAP];
	memset(ring, 0, sizeof ring);
	memcpy(ring, data + 9, size - 9 < LAP ? size - 9 : LAP);
	if (data[8] & 1)
		fix_crcs(ring, pos);
	unsigned char head[JOURNAL_HEAD] = {0};
	journal_checkpoint_encode(head, ID, 1, pos);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, head, sizeof head) != sizeof head || write(fd, ring, LAP) != LAP)
		abort();
	close(fd);
	char err[300];
	struct spool_journal *j = spool_journal_open(&spool, path, LAP, err, sizeof err);
	if (j)
		spool_journal_close(j);
	check_and_clear("new", ring);
	check_and_clear("quarantine/new", ring);
	return 0;
}
