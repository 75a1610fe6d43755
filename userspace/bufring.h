/*
 * bufring — a worker's provided-buffer ring for command-phase reads.
 *
 * Owns: one page-aligned io_uring_buf_ring and the slab of equal buffers it
 * lends the kernel (registered on the worker's ring as one buffer group);
 * preparing a multishot recv that picks from the group; finding the bytes
 * a completion landed in; lending a buffer again once its bytes are used.
 *
 * Why: an idle SMTP session keeps a multishot recv armed but owns no read
 * buffer; the kernel takes one from this shared pool only when bytes
 * arrive, and the session hands it back before the next completion is
 * looked at. Message bodies never pass through here: after 354 (or behind
 * a BDAT) the session reads straight into its arena (docs/architecture.md).
 */
#ifndef AUTHGATE_BUFRING_H
#define AUTHGATE_BUFRING_H

#include <liburing.h>
#include <stddef.h>

struct bufring;

/* Register `entries` (a power of two) buffers of `size` bytes on ring.
 * NULL with err set when the kernel has no provided-buffer rings. */
struct bufring *bufring_new(struct io_uring *ring, unsigned entries, unsigned size,
			    char *err, size_t errlen);
/* After the ring is gone (its exit drops the registration): io_uring
 * rings made SINGLE_ISSUER refuse registrations from other threads. */
void bufring_free(struct bufring *br);

/* A multishot recv on fd whose every completion carries one buffer. */
void bufring_prep_recv(const struct bufring *br, struct io_uring_sqe *sqe, int fd);

/* The bytes of the buffer a completion names in its flags (NULL if it
 * names none), and lending that buffer to the kernel again. */
const char *bufring_bytes(const struct bufring *br, unsigned cqe_flags);
void bufring_give_back(struct bufring *br, unsigned cqe_flags);

#endif
