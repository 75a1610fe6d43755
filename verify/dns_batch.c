/*
 * dns_batch — see dns_batch.h.
 */
#include "dns_batch.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define MAX_SOCKS 16
#define BATCH 32
#define QUERY_MAX 512  /* a query longer than this is sent at once */
#define ANSWER_MAX 4097 /* c-ares reads UDP into MAXENDSSZ + 1 bytes */
#define UDP_RCVBUF (4 << 20) /* hundreds of answers can arrive at once */

struct udp_sock {
	int fd;
	unsigned nsend;                 /* queued queries */
	unsigned nrecv, next;           /* answers read, answers handed out */
	struct mmsghdr smsg[BATCH], rmsg[BATCH];
	struct iovec siov[BATCH], riov[BATCH];
	struct sockaddr_storage from[BATCH];
	unsigned char sbuf[BATCH][QUERY_MAX];
	unsigned char rbuf[BATCH][ANSWER_MAX];
};

struct dns_batch {
	struct udp_sock *socks[MAX_SOCKS];
};

static struct udp_sock *find(const struct dns_batch *b, int fd)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		if (b->socks[i] && b->socks[i]->fd == fd)
			return b->socks[i];
	return NULL;
}

static void send_queued(struct udp_sock *s)
{
	unsigned done = 0;
	while (done < s->nsend) {
		int n = sendmmsg(s->fd, s->smsg + done, s->nsend - done, 0);
		if (n <= 0)
			break; /* lost like any datagram: c-ares asks again at its timeout */
		done += (unsigned)n;
	}
	s->nsend = 0;
}

/* c-ares leaves sockets it did not make itself unconfigured: set what its
 * own configure_socket() would (non-blocking, no Nagle, a large receive
 * buffer, which ARES_OPT_SOCK_RCVBUF no longer reaches). */
static int make_socket(int domain, int type, int protocol)
{
	int fd = socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol), one = 1, size = UDP_RCVBUF;
	if (fd >= 0 && (type & 0xf) == SOCK_STREAM)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (fd >= 0 && (type & 0xf) == SOCK_DGRAM)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
	return fd;
}

static ares_socket_t on_socket(int domain, int type, int protocol, void *arg)
{
	struct dns_batch *b = arg;
	int fd = make_socket(domain, type, protocol);
	if (fd < 0 || (type & 0xf) != SOCK_DGRAM)
		return fd;
	for (int i = 0; i < MAX_SOCKS; i++) {
		if (b->socks[i])
			continue;
		struct udp_sock *s = calloc(1, sizeof *s);
		if (!s)
			break;
		s->fd = fd;
		for (int k = 0; k < BATCH; k++) {
			s->siov[k].iov_base = s->sbuf[k];
			s->smsg[k].msg_hdr = (struct msghdr){.msg_iov = &s->siov[k], .msg_iovlen = 1};
			s->riov[k] = (struct iovec){s->rbuf[k], ANSWER_MAX};
		}
		b->socks[i] = s;
		return fd;
	}
	return fd; /* no slot: this socket simply goes unbatched */
}

static int on_close(ares_socket_t fd, void *arg)
{
	struct dns_batch *b = arg;
	for (int i = 0; i < MAX_SOCKS; i++)
		if (b->socks[i] && b->socks[i]->fd == fd) {
			free(b->socks[i]);
			b->socks[i] = NULL;
		}
	return close(fd);
}

static int on_connect(ares_socket_t fd, const struct sockaddr *sa, ares_socklen_t len, void *arg)
{
	(void)arg;
	return connect(fd, sa, len);
}

static ares_ssize_t on_recvfrom(ares_socket_t fd, void *buf, size_t len, int flags,
				struct sockaddr *from, ares_socklen_t *fromlen, void *arg)
{
	struct udp_sock *s = find(arg, fd);
	if (!s)
		return recvfrom(fd, buf, len, flags, from, fromlen);
	if (s->next == s->nrecv) {
		for (int k = 0; k < BATCH; k++)
			s->rmsg[k].msg_hdr = (struct msghdr){.msg_iov = &s->riov[k], .msg_iovlen = 1,
							     .msg_name = &s->from[k],
							     .msg_namelen = sizeof s->from[k]};
		int n = recvmmsg(fd, s->rmsg, BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return n; /* errno from recvmmsg: EAGAIN ends c-ares's read loop */
		s->nrecv = (unsigned)n;
		s->next = 0;
	}
	struct mmsghdr *m = &s->rmsg[s->next++];
	size_t n = m->msg_len < len ? m->msg_len : len;
	memcpy(buf, s->rbuf[s->next - 1], n);
	if (from && fromlen) {
		socklen_t fl = m->msg_hdr.msg_namelen < *fromlen ? m->msg_hdr.msg_namelen : *fromlen;
		memcpy(from, &s->from[s->next - 1], fl);
		*fromlen = fl;
	}
	return (ares_ssize_t)n;
}

static ares_ssize_t on_sendv(ares_socket_t fd, const struct iovec *iov, int iovcnt, void *arg)
{
	struct udp_sock *s = find(arg, fd);
	size_t len = 0;
	for (int i = 0; i < iovcnt; i++)
		len += iov[i].iov_len;
	if (!s || len > QUERY_MAX) {
		if (s)
			send_queued(s); /* keep the order */
		return writev(fd, iov, iovcnt);
	}
	if (s->nsend == BATCH)
		send_queued(s);
	unsigned k = s->nsend++;
	size_t off = 0;
	for (int i = 0; i < iovcnt; i++) {
		memcpy(s->sbuf[k] + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	s->siov[k].iov_len = len;
	return (ares_ssize_t)len;
}

static const struct ares_socket_functions functions = {
	.asocket = on_socket,
	.aclose = on_close,
	.aconnect = on_connect,
	.arecvfrom = on_recvfrom,
	.asendv = on_sendv,
};

const struct ares_socket_functions *dns_batch_functions(void)
{
	return &functions;
}

struct dns_batch *dns_batch_new(void)
{
	return calloc(1, sizeof(struct dns_batch));
}

void dns_batch_free(struct dns_batch *b)
{
	if (!b)
		return;
	for (int i = 0; i < MAX_SOCKS; i++)
		free(b->socks[i]);
	free(b);
}

void dns_batch_flush(struct dns_batch *b)
{
	for (int i = 0; i < MAX_SOCKS; i++)
		if (b->socks[i] && b->socks[i]->nsend)
			send_queued(b->socks[i]);
}

bool dns_batch_unread(const struct dns_batch *b, int fd)
{
	const struct udp_sock *s = find(b, fd);
	return s && s->next < s->nrecv;
}
