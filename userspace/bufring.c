/*
 * bufring — see bufring.h. liburing 2.3 (Debian 12) has no
 * io_uring_setup_buf_ring(), so the ring memory is mapped here and
 * registered with io_uring_register_buf_ring().
 */
#include "bufring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define BUFRING_GROUP 1

struct bufring {
	struct io_uring_buf_ring *ring; /* shared with the kernel */
	char *slab;
	unsigned entries, size, mask;
	size_t ring_bytes, slab_bytes;
};

static void lend(struct bufring *br, unsigned bid)
{
	io_uring_buf_ring_add(br->ring, br->slab + (size_t)bid * br->size, br->size,
			      (unsigned short)bid, br->mask, 0);
	io_uring_buf_ring_advance(br->ring, 1);
}

static void unmap(struct bufring *br)
{
	if (br->ring)
		munmap(br->ring, br->ring_bytes);
	if (br->slab)
		munmap(br->slab, br->slab_bytes);
	free(br);
}

struct bufring *bufring_new(struct io_uring *ring, unsigned entries, unsigned size,
			    char *err, size_t errlen)
{
	struct bufring *br = calloc(1, sizeof *br);
	if (!br || entries == 0 || (entries & (entries - 1)) || entries > 32768) {
		snprintf(err, errlen, "provided buffers: bad ring size %u", entries);
		free(br);
		return NULL;
	}
	br->entries = entries;
	br->size = size;
	br->mask = (unsigned)io_uring_buf_ring_mask(entries);
	br->ring_bytes = entries * sizeof(struct io_uring_buf);
	br->slab_bytes = (size_t)entries * size;
	void *r = mmap(NULL, br->ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *s = mmap(NULL, br->slab_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	br->ring = r == MAP_FAILED ? NULL : r;
	br->slab = s == MAP_FAILED ? NULL : s;
	if (!br->ring || !br->slab) {
		snprintf(err, errlen, "provided buffers: %s", strerror(errno));
		unmap(br);
		return NULL;
	}
	struct io_uring_buf_reg reg = {.ring_addr = (unsigned long)br->ring,
				       .ring_entries = entries, .bgid = BUFRING_GROUP};
	int rc = io_uring_register_buf_ring(ring, &reg, 0);
	if (rc < 0) {
		snprintf(err, errlen, "provided buffers: %s", strerror(-rc));
		unmap(br);
		return NULL;
	}
	io_uring_buf_ring_init(br->ring);
	for (unsigned bid = 0; bid < entries; bid++)
		lend(br, bid);
	return br;
}

void bufring_free(struct bufring *br)
{
	if (br)
		unmap(br);
}

void bufring_prep_recv(const struct bufring *br, struct io_uring_sqe *sqe, int fd)
{
	(void)br;
	io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = BUFRING_GROUP;
}

static int buffer_id(const struct bufring *br, unsigned cqe_flags)
{
	if (!(cqe_flags & IORING_CQE_F_BUFFER))
		return -1;
	unsigned bid = cqe_flags >> IORING_CQE_BUFFER_SHIFT;
	return bid < br->entries ? (int)bid : -1;
}

const char *bufring_bytes(const struct bufring *br, unsigned cqe_flags)
{
	int bid = buffer_id(br, cqe_flags);
	return bid < 0 ? NULL : br->slab + (size_t)bid * br->size;
}

void bufring_give_back(struct bufring *br, unsigned cqe_flags)
{
	int bid = buffer_id(br, cqe_flags);
	if (bid >= 0)
		lend(br, (unsigned)bid);
}
