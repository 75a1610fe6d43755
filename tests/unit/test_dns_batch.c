/* Unit tests: dns_batch — queries wait for the flush and go out in order;
 * answers come out of one recvmmsg one at a time, with their source;
 * dns_batch_unread tells what is left; TCP goes straight through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "verify/dns_batch.h"

/* A UDP socket on 127.0.0.1 (any port) and its address. */
static int udp_peer(struct sockaddr_in *addr)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	*addr = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof *addr;
	assert_int_equal(bind(fd, (struct sockaddr *)addr, sizeof *addr), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)addr, &len), 0);
	return fd;
}

/* Loopback delivery may be left to ksoftirqd on a busy machine: wait (2 s
 * at most) until fd has something to read. */
static void wait_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&p, 1, 2000), 1);
}

static ares_ssize_t send_str(const struct ares_socket_functions *f, int fd, const char *s, void *b)
{
	struct iovec iov[2] = {{(void *)s, 2}, {(void *)(s + 2), strlen(s) - 2}};
	return f->asendv(fd, iov, 2, b);
}

static void queries_wait_for_the_flush_and_keep_their_order(void **state)
{
	(void)state;
	struct dns_batch *b = dns_batch_new();
	const struct ares_socket_functions *f = dns_batch_functions();
	struct sockaddr_in server;
	int peer = udp_peer(&server);
	int fd = f->asocket(AF_INET, SOCK_DGRAM, 0, b);
	assert_true(fd >= 0);
	/* configured as c-ares would have: it skips sockets it did not make */
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	int rcvbuf = 0;
	socklen_t ol = sizeof rcvbuf;
	getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &ol);
	assert_true(rcvbuf >= 2 * 212992); /* the kernel doubles it: more than the 212992 default */
	assert_int_equal(f->aconnect(fd, (struct sockaddr *)&server, sizeof server, b), 0);
	assert_int_equal(send_str(f, fd, "one", b), 3);
	assert_int_equal(send_str(f, fd, "two", b), 3);
	assert_int_equal(send_str(f, fd, "three", b), 5);
	char buf[64];
	assert_int_equal(recv(peer, buf, sizeof buf, MSG_DONTWAIT), -1); /* nothing sent yet */
	assert_int_equal(errno, EAGAIN);
	dns_batch_flush(b);
	const char *want[] = {"one", "two", "three"};
	for (int i = 0; i < 3; i++) {
		wait_readable(peer);
		ssize_t n = recv(peer, buf, sizeof buf, MSG_DONTWAIT);
		assert_int_equal(n, (ssize_t)strlen(want[i]));
		assert_memory_equal(buf, want[i], (size_t)n);
	}
	/* A burst longer than one batch (hundreds of SPF lookups at once): the
	 * full batch goes out, it is not overrun, and the order holds. */
	enum { N = 40 }; /* more than the 32 one sendmmsg carries */
	for (int i = 0; i < N; i++) {
		char msg[16];
		snprintf(msg, sizeof msg, "q%02d", i);
		assert_int_equal(send_str(f, fd, msg, b), 3);
	}
	dns_batch_flush(b);
	for (int i = 0; i < N; i++) {
		char q[16];
		snprintf(q, sizeof q, "q%02d", i);
		wait_readable(peer);
		assert_int_equal(recv(peer, buf, sizeof buf, MSG_DONTWAIT), 3);
		assert_memory_equal(buf, q, 3);
	}
	f->aclose(fd, b);
	close(peer);
	dns_batch_free(b);
}

static void answers_come_one_per_call_with_their_source(void **state)
{
	(void)state;
	struct dns_batch *b = dns_batch_new();
	const struct ares_socket_functions *f = dns_batch_functions();
	struct sockaddr_in server, mine;
	int peer = udp_peer(&server);
	int fd = f->asocket(AF_INET, SOCK_DGRAM, 0, b);
	mine = (struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t ml = sizeof mine;
	assert_int_equal(bind(fd, (struct sockaddr *)&mine, sizeof mine), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&mine, &ml), 0);
	for (int i = 0; i < 5; i++) {
		char msg[16];
		int n = snprintf(msg, sizeof msg, "a%d", i);
		assert_int_equal(sendto(peer, msg, (size_t)n, 0, (struct sockaddr *)&mine, sizeof mine), n);
	}
	char buf[64];
	wait_readable(fd);
	for (int i = 0; i < 5; i++) {
		struct sockaddr_storage from;
		ares_socklen_t fl = sizeof from;
		ares_ssize_t n = f->arecvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl, b);
		char want[16];
		snprintf(want, sizeof want, "a%d", i);
		assert_int_equal(n, 2);
		assert_memory_equal(buf, want, 2);
		assert_int_equal(fl, sizeof(struct sockaddr_in));
		assert_int_equal(((struct sockaddr_in *)&from)->sin_port, server.sin_port);
		assert_int_equal(dns_batch_unread(b, fd), i < 4); /* all five came in one read */
	}
	assert_int_equal(f->arecvfrom(fd, buf, sizeof buf, 0, NULL, NULL, b), -1);
	assert_int_equal(errno, EAGAIN);
	f->aclose(fd, b);
	close(peer);
	dns_batch_free(b);
}

static void tcp_goes_straight_through(void **state)
{
	(void)state;
	struct dns_batch *b = dns_batch_new();
	const struct ares_socket_functions *f = dns_batch_functions();
	int fd = f->asocket(AF_INET, SOCK_STREAM, 0, b);
	assert_true(fd >= 0);
	int nodelay = 0;
	socklen_t ol = sizeof nodelay;
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &ol), 0);
	assert_true(nodelay);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_false(dns_batch_unread(b, fd));
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	/* An fd the batch never saw is not batched either. */
	assert_int_equal(send_str(f, sv[0], "xyz", b), 3);
	char buf[8];
	assert_int_equal(read(sv[1], buf, sizeof buf), 3);
	f->aclose(fd, b);
	close(sv[0]);
	close(sv[1]);
	dns_batch_free(b);
}

/* Queries of up to 512 octets (the UDP limit, RFC 1035 §4.2.1) wait for the
 * flush; a longer one goes at once, after those queued before it. */
static void long_query_goes_at_once_after_the_queued_ones(void **state)
{
	(void)state;
	struct dns_batch *b = dns_batch_new();
	const struct ares_socket_functions *f = dns_batch_functions();
	struct sockaddr_in server;
	int peer = udp_peer(&server);
	int fd = f->asocket(AF_INET, SOCK_DGRAM, 0, b);
	assert_int_equal(f->aconnect(fd, (struct sockaddr *)&server, sizeof server, b), 0);
	static char q512[513], q513[514];
	memset(q512, 'a', 512);
	memset(q513, 'b', 513);
	char buf[1024];
	assert_int_equal(send_str(f, fd, q512, b), 512);
	assert_int_equal(recv(peer, buf, sizeof buf, MSG_DONTWAIT), -1); /* queued */
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(send_str(f, fd, q513, b), 513);
	for (size_t want = 512; want <= 513; want++) { /* both out, in order */
		wait_readable(peer);
		assert_int_equal(recv(peer, buf, sizeof buf, MSG_DONTWAIT), (ssize_t)want);
	}
	f->aclose(fd, b);
	close(peer);
	dns_batch_free(b);
}

/* Like recvfrom() on a datagram socket: an answer longer than the
 * caller's buffer is cut to it (ASan sees a write past a short buffer). */
static void answer_cut_to_the_callers_buffer(void **state)
{
	(void)state;
	struct dns_batch *b = dns_batch_new();
	const struct ares_socket_functions *f = dns_batch_functions();
	struct sockaddr_in server, mine = {.sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int peer = udp_peer(&server);
	int fd = f->asocket(AF_INET, SOCK_DGRAM, 0, b);
	socklen_t ml = sizeof mine;
	assert_int_equal(bind(fd, (struct sockaddr *)&mine, sizeof mine), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&mine, &ml), 0);
	assert_int_equal(sendto(peer, "0123456789", 10, 0, (struct sockaddr *)&mine, sizeof mine), 10);
	wait_readable(fd);
	char *small = malloc(4);
	assert_non_null(small);
	assert_int_equal(f->arecvfrom(fd, small, 4, 0, NULL, NULL, b), 4);
	assert_memory_equal(small, "0123", 4);
	free(small);
	f->aclose(fd, b);
	close(peer);
	dns_batch_free(b);
}

/* Only UDP is batched: a TCP query (a retry after TC) is written at once,
 * with no flush. */
static void tcp_query_written_without_a_flush(void **state)
{
	(void)state;
	struct dns_batch *b = dns_batch_new();
	const struct ares_socket_functions *f = dns_batch_functions();
	int lst = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof addr;
	assert_int_equal(bind(lst, (struct sockaddr *)&addr, sizeof addr), 0);
	assert_int_equal(getsockname(lst, (struct sockaddr *)&addr, &al), 0);
	assert_int_equal(listen(lst, 1), 0);
	int fd = f->asocket(AF_INET, SOCK_STREAM, 0, b);
	int rc = f->aconnect(fd, (struct sockaddr *)&addr, sizeof addr, b);
	assert_true(rc == 0 || errno == EINPROGRESS);
	wait_readable(lst);
	int conn = accept(lst, NULL, NULL);
	assert_true(conn >= 0);
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	assert_int_equal(poll(&p, 1, 2000), 1);
	assert_int_equal(send_str(f, fd, "xyz", b), 3);
	wait_readable(conn);
	char buf[8];
	assert_int_equal(recv(conn, buf, sizeof buf, MSG_DONTWAIT), 3);
	f->aclose(fd, b);
	close(conn);
	close(lst);
	dns_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(queries_wait_for_the_flush_and_keep_their_order),
		cmocka_unit_test(answers_come_one_per_call_with_their_source),
		cmocka_unit_test(tcp_goes_straight_through),
		cmocka_unit_test(long_query_goes_at_once_after_the_queued_ones),
		cmocka_unit_test(answer_cut_to_the_callers_buffer),
		cmocka_unit_test(tcp_query_written_without_a_flush),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
