/*
 * loadgen — an SMTP load generator on io_uring: N concurrent sessions, M
 * transactions each, optional PIPELINING, one message file. Measures the
 * replies (accepted 2xx, rejected 5xx, tempfailed 4xx), messages per
 * second, and the latency from the end of data (our last byte sent) to the
 * final reply, in a log-bucketed histogram (p50/p90/p99/p99.9). Prints a
 * table and, with --json, one JSON line. Loopback only by design: it
 * refuses any server that is not 127.0.0.0/8 or ::1.
 *
 * usage: loadgen --server 127.0.0.1:PORT --message FILE [--sessions N]
 *                [--messages M] [--pipelining] [--from A] [--to A]
 *                [--helo NAME] [--json]
 */
#include "userspace/hist.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>


enum step { S_CONNECT, S_GREETING, S_EHLO, S_RSET, S_ENVELOPE, S_FINAL, S_QUIT, S_DONE };

struct conn {
	int fd;
	enum step step;
	unsigned sent_msgs;
	unsigned replies_wanted; /* in the current step */
	bool need_rset;          /* the last transaction was refused before DATA */
	char in[8192];
	size_t inlen;
	const char *out;
	size_t outlen;
	bool sending, receiving;
	uint64_t t_eod;
};

struct stats {
	unsigned long accepted, rejected, tempfailed, errors;
	struct hist lat;
};

static struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned sessions, messages;
	bool pipelining, json;
	char envelope[1200]; /* MAIL + RCPT + DATA, each CRLF */
	char *body;          /* dot-stuffed message + ".\r\n" */
	size_t bodylen;
	char ehlo[300];
} opt = {.sessions = 10, .messages = 10};

static struct stats st;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void submit_send(struct io_uring *ring, struct conn *c, const char *buf, size_t len)
{
	c->out = buf;
	c->outlen = len;
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	io_uring_prep_send(sqe, c->fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c << 1);
	c->sending = true;
}

static void submit_recv(struct io_uring *ring, struct conn *c)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	io_uring_prep_recv(sqe, c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
	io_uring_sqe_set_data64(sqe, ((uint64_t)(uintptr_t)c << 1) | 1);
	c->receiving = true;
}

/* Take one complete reply (possibly multi-line) off the input: its code,
 * or 0 when none is complete yet. */
static int take_reply(struct conn *c)
{
	size_t start = 0;
	for (;;) {
		char *nl = memchr(c->in + start, '\n', c->inlen - start);
		if (!nl)
			return 0;
		size_t linelen = (size_t)(nl - (c->in + start)) + 1;
		bool last = linelen < 5 || c->in[start + 3] != '-';
		int code = atoi(c->in + start);
		start += linelen;
		if (last) {
			memmove(c->in, c->in + start, c->inlen - start);
			c->inlen -= start;
			return code ? code : 999;
		}
	}
}

static void next_transaction(struct io_uring *ring, struct conn *c)
{
	if (c->sent_msgs == opt.messages) {
		c->step = S_QUIT;
		c->replies_wanted = 1;
		submit_send(ring, c, "QUIT\r\n", 6);
		return;
	}
	if (c->need_rset) {
		c->need_rset = false;
		c->step = S_RSET;
		submit_send(ring, c, "RSET\r\n", 6);
		return;
	}
	c->step = S_ENVELOPE;
	c->replies_wanted = opt.pipelining ? 3 : 1; /* MAIL, RCPT, DATA(354) */
	if (opt.pipelining) {
		submit_send(ring, c, opt.envelope, strlen(opt.envelope));
	} else {
		const char *mail = opt.envelope, *rcpt = strchr(mail, '\n') + 1;
		submit_send(ring, c, mail, (size_t)(rcpt - mail));
	}
}

static void count_final(int code)
{
	if (code >= 200 && code < 300)
		st.accepted++;
	else if (code >= 400 && code < 500)
		st.tempfailed++;
	else
		st.rejected++;
}

/* A reply arrived: advance the session. */
static void on_reply(struct io_uring *ring, struct conn *c, int code)
{
	switch (c->step) {
	case S_GREETING:
		c->step = S_EHLO;
		submit_send(ring, c, opt.ehlo, strlen(opt.ehlo));
		return;
	case S_EHLO:
		next_transaction(ring, c);
		return;
	case S_RSET:
		next_transaction(ring, c);
		return;
	case S_ENVELOPE: {
		if (--c->replies_wanted > 0 && opt.pipelining)
			return;
		if (code == 354) {
			c->step = S_FINAL;
			c->sent_msgs++;
			submit_send(ring, c, opt.body, opt.bodylen);
			return;
		}
		if (code >= 400) { /* refused before DATA */
			if (opt.pipelining && c->replies_wanted)
				return;
			count_final(code);
			c->sent_msgs++;
			c->need_rset = true;
			next_transaction(ring, c);
			return;
		}
		/* non-pipelined: after MAIL send RCPT, after RCPT send DATA */
		const char *mail = opt.envelope, *rcpt = strchr(mail, '\n') + 1,
			   *data = strchr(rcpt, '\n') + 1;
		if (c->out == mail)
			submit_send(ring, c, rcpt, (size_t)(data - rcpt));
		else
			submit_send(ring, c, data, strlen(data));
		c->replies_wanted = 1;
		return;
	}
	case S_FINAL: {
		uint64_t dt = now_ns() - c->t_eod;
		hist_add(&st.lat, dt);
		count_final(code);
		next_transaction(ring, c);
		return;
	}
	case S_QUIT:
		c->step = S_DONE;
		close(c->fd);
		return;
	default:
		return;
	}
}

static void on_cqe(struct io_uring *ring, struct io_uring_cqe *cqe, unsigned *live)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	struct conn *c = (struct conn *)(uintptr_t)(d >> 1);
	bool is_recv = d & 1;
	if (c->step == S_CONNECT) {
		if (cqe->res < 0) {
			st.errors++;
			c->step = S_DONE;
			(*live)--;
			return;
		}
		c->step = S_GREETING;
		submit_recv(ring, c);
		return;
	}
	if (!is_recv) {
		c->sending = false;
		if (cqe->res < 0) {
			st.errors++;
			c->step = S_DONE;
			(*live)--;
			return;
		}
		if ((size_t)cqe->res < c->outlen) {
			submit_send(ring, c, c->out + cqe->res, c->outlen - (size_t)cqe->res);
			return;
		}
		if (c->step == S_FINAL)
			c->t_eod = now_ns(); /* our last byte of data is out */
		return;
	}
	c->receiving = false;
	if (cqe->res <= 0) {
		if (c->step != S_DONE)
			st.errors += c->step != S_QUIT;
		c->step = S_DONE;
		close(c->fd);
		(*live)--;
		return;
	}
	c->inlen += (size_t)cqe->res;
	int code;
	while (c->step != S_DONE && (code = take_reply(c)))
		on_reply(ring, c, code);
	if (c->step == S_DONE)
		(*live)--;
	else
		submit_recv(ring, c);
}

static int load_message(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -1;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	rewind(f);
	char *raw = malloc((size_t)n + 1);
	if (!raw || fread(raw, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		return -1;
	}
	fclose(f);
	opt.body = malloc((size_t)n * 2 + 8);
	size_t k = 0;
	bool bol = true;
	for (long i = 0; i < n; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			opt.body[k++] = '\r';
		if (bol && raw[i] == '.')
			opt.body[k++] = '.'; /* dot-stuffing */
		opt.body[k++] = raw[i];
		bol = raw[i] == '\n';
	}
	if (k < 2 || opt.body[k - 1] != '\n')
		k += (size_t)sprintf(opt.body + k, "\r\n");
	k += (size_t)sprintf(opt.body + k, ".\r\n");
	opt.bodylen = k;
	free(raw);
	return 0;
}

static int parse_server(const char *s)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	int port = atoi(colon + 1);
	struct sockaddr_in *in = (struct sockaddr_in *)&opt.addr;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&opt.addr;
	if (inet_pton(AF_INET, host, &in->sin_addr) == 1) {
		if ((ntohl(in->sin_addr.s_addr) >> 24) != 127)
			return -1; /* loopback only */
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		opt.addrlen = sizeof *in;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1 && IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		opt.addrlen = sizeof *in6;
		return 0;
	}
	return -1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", 1, 0, 's'}, {"message", 1, 0, 'm'}, {"sessions", 1, 0, 'n'},
		{"messages", 1, 0, 'k'}, {"pipelining", 0, 0, 'p'}, {"from", 1, 0, 'f'},
		{"to", 1, 0, 't'}, {"helo", 1, 0, 'H'}, {"json", 0, 0, 'j'}, {0, 0, 0, 0}};
	const char *from = "alice@example.org", *to = "bob@example.net", *helo = "mail.example.org";
	const char *msg = NULL;
	bool server = false;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': server = parse_server(optarg) == 0; if (!server) { fprintf(stderr, "loadgen: --server must be a loopback IP:PORT\n"); return 2; } break;
		case 'm': msg = optarg; break;
		case 'n': opt.sessions = (unsigned)atoi(optarg); break;
		case 'k': opt.messages = (unsigned)atoi(optarg); break;
		case 'p': opt.pipelining = true; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'H': helo = optarg; break;
		case 'j': opt.json = true; break;
		default: fprintf(stderr, "usage: loadgen --server 127.0.0.1:PORT --message FILE [--sessions N] [--messages M] [--pipelining] [--json]\n"); return 2;
		}
	}
	if (!server || !msg || !opt.sessions || load_message(msg) < 0) {
		fprintf(stderr, "loadgen: need --server (loopback) and a readable --message\n");
		return 2;
	}
	snprintf(opt.envelope, sizeof opt.envelope, "MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n", from, to);
	snprintf(opt.ehlo, sizeof opt.ehlo, "EHLO %s\r\n", helo);
	struct io_uring ring;
	if (io_uring_queue_init(4096, &ring, 0) < 0) {
		fprintf(stderr, "loadgen: io_uring unavailable\n");
		return 1;
	}
	struct conn *conns = calloc(opt.sessions, sizeof *conns);
	unsigned live = opt.sessions;
	uint64_t t0 = now_ns();
	for (unsigned i = 0; i < opt.sessions; i++) {
		conns[i].fd = socket(opt.addr.ss_family, SOCK_STREAM, 0);
		int one = 1;
		setsockopt(conns[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		if (!sqe) {
			io_uring_submit(&ring);
			sqe = io_uring_get_sqe(&ring);
		}
		io_uring_prep_connect(sqe, conns[i].fd, (struct sockaddr *)&opt.addr, opt.addrlen);
		io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)&conns[i] << 1);
	}
	while (live > 0) {
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait(&ring, 1);
		unsigned head, n = 0;
		io_uring_for_each_cqe(&ring, head, cqe) {
			on_cqe(&ring, cqe, &live);
			n++;
		}
		io_uring_cq_advance(&ring, n);
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	unsigned long done = st.accepted + st.rejected + st.tempfailed;
	double p50 = hist_percentile(&st.lat, 0.5) / 1e6, p90 = hist_percentile(&st.lat, 0.9) / 1e6,
	       p99 = hist_percentile(&st.lat, 0.99) / 1e6, p999 = hist_percentile(&st.lat, 0.999) / 1e6;
	printf("sessions %u x messages %u%s: %lu done in %.2f s = %.0f messages/s\n", opt.sessions,
	       opt.messages, opt.pipelining ? " (pipelining)" : "", done, secs, (double)done / secs);
	printf("accepted %lu, rejected %lu, tempfailed %lu, errors %lu\n", st.accepted, st.rejected,
	       st.tempfailed, st.errors);
	printf("end of data to reply (ms, bucket upper edges): p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f\n",
	       p50, p90, p99, p999);
	if (opt.json)
		printf("{\"bench\":\"loadgen\",\"sessions\":%u,\"messages\":%u,\"pipelining\":%s,"
		       "\"accepted\":%lu,\"rejected\":%lu,\"tempfailed\":%lu,\"errors\":%lu,"
		       "\"seconds\":%.3f,\"messages_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"p999_ms\":%.3f}\n",
		       opt.sessions, opt.messages, opt.pipelining ? "true" : "false", st.accepted,
		       st.rejected, st.tempfailed, st.errors, secs, (double)done / secs, p50, p90, p99, p999);
	io_uring_queue_exit(&ring);
	return st.errors ? 1 : 0;
}
