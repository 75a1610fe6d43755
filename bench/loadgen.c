/*
 * loadgen — an SMTP load generator on io_uring: N concurrent sessions, M
 * transactions each, optional PIPELINING and STARTTLS, messages from one
 * file or round-robin from a corpus directory. Measures the replies
 * (accepted 2xx, rejected 5xx, tempfailed 4xx), messages per second, and
 * the latency from the end of data (our last byte sent) to the final
 * reply, in a log-bucketed histogram (p50/p90/p99/p99.9). Prints a table
 * and, with --json, one JSON line. Loopback only by design: it refuses any
 * server that is not 127.0.0.0/8 or ::1.
 *
 * Transaction i of the run (counted over all sessions) sends corpus file
 * i mod n, so a run of n x k transactions sends every file k times and its
 * counts are predictable from the corpus MANIFEST. --replies FILE writes
 * the outcome per file ("NAME ACCEPTED REJECTED TEMPFAILED").
 *
 * STARTTLS runs OpenSSL over memory BIOs (userspace/tls.c, client side):
 * ciphertext moves through the same ring sends and receives as plaintext.
 *
 * --pipeline-next (implies --pipelining): the next transaction's MAIL,
 * RCPT and DATA go in the same send as this message's content, as RFC
 * 2920 section 3.1 allows ("the actual transfer of message content is
 * explicitly allowed to be the first command in a group"): one round trip
 * per message instead of two. The server must hold the next envelope's
 * replies behind the message's final reply.
 *
 * --connections K: each of the N session slots opens K connections one
 * after the other (M transactions each, then QUIT); with --messages 0 this
 * measures connections per second (greeting, EHLO, QUIT).
 *
 * usage: loadgen --server 127.0.0.1:PORT (--message FILE | --corpus DIR)
 *                [--sessions N] [--messages M] [--connections K]
 *                [--pipelining] [--pipeline-next] [--starttls]
 *                [--from A] [--to A] [--helo NAME] [--replies FILE] [--json]
 */
#include "bench/loadgen_msgs.h"
#include "userspace/hist.h"
#include "userspace/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum step {
	S_CONNECT, S_GREETING, S_EHLO, S_STARTTLS, S_HANDSHAKE, S_RSET, S_ENVELOPE, S_FINAL,
	S_QUIT, S_DONE
};

#define CIPHER_IN 32768

struct conn {
	int fd;
	enum step step;
	unsigned sent_msgs;
	unsigned replies_wanted; /* in the current step */
	unsigned env_stage;      /* without pipelining: 0 MAIL, 1 RCPT, 2 DATA sent */
	int first_refusal;       /* the first 4xx/5xx among pipelined envelope replies */
	bool need_rset;          /* the last transaction was refused before DATA */
	size_t msg;              /* index of this transaction's message */
	size_t next_msg;         /* --pipeline-next: the message whose envelope went ahead */
	bool next_sent;          /* --pipeline-next: the next envelope went with it */
	struct iovec iov[2];     /* content + next envelope */
	struct msghdr mh;
	char in[8192];           /* plaintext replies */
	size_t inlen;
	const char *wire;        /* bytes in flight on the socket */
	size_t wirelen;
	bool sending, receiving; /* a send (receive) is in the ring */
	uint64_t t_eod;
	struct tls_conn *tls;    /* after STARTTLS */
	char *cin;               /* ciphertext received (CIPHER_IN bytes) */
	char *cout;              /* ciphertext being sent, our copy */
	size_t coutcap;
	unsigned connections;    /* opened so far from this slot */
	bool failed;             /* the slot stops: no further connections */
};

struct outcome {
	unsigned long accepted, rejected, tempfailed;
};

static struct {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned sessions, messages, connections;
	bool pipelining, pipeline_next, starttls, json;
	char ehlo[300];
	struct lg_msgset set;
	SSL_CTX *tls_ctx;
} opt = {.sessions = 10, .messages = 10, .connections = 1};

static struct {
	struct outcome total;
	struct outcome *per_msg;
	unsigned long errors, handshakes, connections;
	size_t next_msg;
	struct hist lat;
} st;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct io_uring_sqe *get_sqe(struct io_uring *ring)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	if (!sqe) {
		io_uring_submit(ring);
		sqe = io_uring_get_sqe(ring);
	}
	return sqe;
}

static void submit_wire(struct io_uring *ring, struct conn *c, const char *buf, size_t len)
{
	c->wire = buf;
	c->wirelen = len;
	struct io_uring_sqe *sqe = get_sqe(ring);
	io_uring_prep_send(sqe, c->fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c << 1);
	c->sending = true;
}

/* Send what c->mh's iovecs hold (c->wire NULL says so to on_send_done). */
static void submit_iov(struct io_uring *ring, struct conn *c)
{
	c->wire = NULL;
	c->wirelen = 0;
	for (size_t i = 0; i < c->mh.msg_iovlen; i++)
		c->wirelen += c->iov[i].iov_len;
	struct io_uring_sqe *sqe = get_sqe(ring);
	io_uring_prep_sendmsg(sqe, c->fd, &c->mh, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c << 1);
	c->sending = true;
}

/* The message content and the next envelope in one send (plaintext
 * only: --pipeline-next is refused with --starttls). A short send goes on
 * with resend_iov_rest from the first byte not sent, in whichever part. */
static void submit_content_and_next(struct io_uring *ring, struct conn *c, const struct lg_msg *m,
				    const struct lg_msg *next)
{
	c->iov[0] = (struct iovec){.iov_base = m->data, .iov_len = m->data_len};
	c->iov[1] = (struct iovec){.iov_base = next->envelope, .iov_len = strlen(next->envelope)};
	c->mh = (struct msghdr){.msg_iov = c->iov, .msg_iovlen = 2};
	submit_iov(ring, c);
}

static void submit_recv(struct io_uring *ring, struct conn *c)
{
	struct io_uring_sqe *sqe = get_sqe(ring);
	if (c->tls)
		io_uring_prep_recv(sqe, c->fd, c->cin, CIPHER_IN, 0);
	else
		io_uring_prep_recv(sqe, c->fd, c->in + c->inlen, sizeof c->in - c->inlen, 0);
	io_uring_sqe_set_data64(sqe, ((uint64_t)(uintptr_t)c << 1) | 1);
	c->receiving = true;
}

/* Send the ciphertext TLS has queued, unless a send is already in flight
 * (its completion calls this again). It is copied out first: the TLS
 * module may grow (move) its buffer while the ring still reads ours. */
static int flush_tls(struct io_uring *ring, struct conn *c)
{
	size_t n;
	const char *p = tls_conn_output(c->tls, &n);
	if (c->sending || n == 0)
		return 0;
	if (n > c->coutcap) {
		char *b = realloc(c->cout, n);
		if (!b)
			return -1;
		c->cout = b;
		c->coutcap = n;
	}
	memcpy(c->cout, p, n);
	tls_conn_output_done(c->tls, n);
	submit_wire(ring, c, c->cout, n);
	return 0;
}

/* Give up on the session. shutdown() ends the receive still in the ring;
 * on_cqe() closes the socket once nothing is in flight. */
static void fail_conn(struct conn *c)
{
	st.errors++;
	c->step = S_DONE;
	c->failed = true;
	shutdown(c->fd, SHUT_RDWR);
}

/* Send a command or the message, encrypted once STARTTLS is done. */
static void send_plain(struct io_uring *ring, struct conn *c, const char *buf, size_t len)
{
	if (!c->tls) {
		submit_wire(ring, c, buf, len);
		return;
	}
	if (tls_conn_write(c->tls, buf, len) != (ssize_t)len || flush_tls(ring, c) < 0)
		fail_conn(c);
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

static void count_final(const struct conn *c, int code)
{
	struct outcome *per = &st.per_msg[c->msg];
	if (code >= 200 && code < 300) {
		st.total.accepted++;
		per->accepted++;
	} else if (code >= 400 && code < 500) {
		st.total.tempfailed++;
		per->tempfailed++;
	} else if (code >= 500 && code < 600) {
		st.total.rejected++;
		per->rejected++;
	} else {
		st.errors++;
	}
}

static void next_transaction(struct io_uring *ring, struct conn *c)
{
	if (c->sent_msgs == opt.messages) {
		c->step = S_QUIT;
		send_plain(ring, c, "QUIT\r\n", 6);
		return;
	}
	if (c->need_rset) {
		c->need_rset = false;
		c->step = S_RSET;
		send_plain(ring, c, "RSET\r\n", 6);
		return;
	}
	c->step = S_ENVELOPE;
	c->first_refusal = 0;
	if (c->next_sent) { /* its envelope is on the wire already */
		c->next_sent = false;
		c->msg = c->next_msg;
		c->replies_wanted = 3;
		return;
	}
	c->msg = st.next_msg++ % opt.set.n;
	const struct lg_msg *m = &opt.set.v[c->msg];
	if (opt.pipelining) {
		c->replies_wanted = 3; /* MAIL, RCPT, DATA (354) */
		send_plain(ring, c, m->envelope, strlen(m->envelope));
	} else {
		c->replies_wanted = 1;
		c->env_stage = 0;
		send_plain(ring, c, m->envelope, m->mail_len);
	}
}

/* The transaction ends without DATA: count the refusal, RSET, go on. */
static void refused(struct io_uring *ring, struct conn *c, int code)
{
	count_final(c, code);
	c->sent_msgs++;
	c->need_rset = true;
	next_transaction(ring, c);
}

static void on_envelope_reply(struct io_uring *ring, struct conn *c, int code)
{
	const struct lg_msg *m = &opt.set.v[c->msg];
	if (opt.pipelining) {
		if (code >= 400 && !c->first_refusal)
			c->first_refusal = code;
		if (--c->replies_wanted > 0)
			return;
	}
	if (code == 354) {
		c->step = S_FINAL;
		c->sent_msgs++;
		c->t_eod = 0;
		if (opt.pipeline_next && c->sent_msgs < opt.messages) {
			c->next_sent = true;
			c->next_msg = st.next_msg++ % opt.set.n;
			submit_content_and_next(ring, c, m, &opt.set.v[c->next_msg]);
		} else {
			send_plain(ring, c, m->data, m->data_len);
		}
		return;
	}
	if (code >= 400) {
		refused(ring, c, c->first_refusal ? c->first_refusal : code);
		return;
	}
	/* without pipelining: after MAIL send RCPT, after RCPT send DATA */
	if (++c->env_stage == 1)
		send_plain(ring, c, m->envelope + m->mail_len, m->rcpt_len);
	else
		send_plain(ring, c, m->envelope + m->mail_len + m->rcpt_len, 6);
}

static void start_tls(struct io_uring *ring, struct conn *c)
{
	if (!c->cin) /* kept across the slot's connections */
		c->cin = malloc(CIPHER_IN);
	c->tls = c->cin ? tls_conn_new_client(opt.tls_ctx) : NULL;
	c->step = S_HANDSHAKE;
	if (!c->tls || tls_conn_handshake(c->tls) < 0 || flush_tls(ring, c) < 0)
		fail_conn(c);
}

/* A reply arrived: advance the session. */
static void on_reply(struct io_uring *ring, struct conn *c, int code)
{
	switch (c->step) {
	case S_GREETING:
		c->step = S_EHLO;
		send_plain(ring, c, opt.ehlo, strlen(opt.ehlo));
		return;
	case S_EHLO:
		if (code != 250) {
			fail_conn(c);
		} else if (opt.starttls && !c->tls) {
			c->step = S_STARTTLS;
			send_plain(ring, c, "STARTTLS\r\n", 10);
		} else {
			next_transaction(ring, c);
		}
		return;
	case S_STARTTLS:
		if (code != 220)
			fail_conn(c);
		else
			start_tls(ring, c);
		return;
	case S_RSET:
		next_transaction(ring, c);
		return;
	case S_ENVELOPE:
		on_envelope_reply(ring, c, code);
		return;
	case S_FINAL: {
		uint64_t t = now_ns();
		hist_add(&st.lat, t - (c->t_eod ? c->t_eod : t));
		count_final(c, code);
		next_transaction(ring, c);
		return;
	}
	case S_QUIT:
		c->step = S_DONE;
		return;
	default:
		return;
	}
}

/* After a short sendmsg of content + envelope: send the rest, part by
 * part (the envelope after the content, from on_send_done). */
static void resend_iov_rest(struct io_uring *ring, struct conn *c, size_t sent)
{
	struct iovec *a = &c->iov[0], *b = &c->iov[1];
	if (sent < a->iov_len) {
		a->iov_base = (char *)a->iov_base + sent;
		a->iov_len -= sent;
	} else {
		sent -= a->iov_len;
		a->iov_base = (char *)b->iov_base + sent;
		a->iov_len = b->iov_len - sent;
		b->iov_len = 0;
	}
	c->mh.msg_iovlen = b->iov_len ? 2 : 1;
	submit_iov(ring, c);
}

static void on_send_done(struct io_uring *ring, struct conn *c, int res)
{
	if (res < 0) {
		fail_conn(c);
		return;
	}
	if ((size_t)res < c->wirelen) {
		if (!c->wire) /* a short sendmsg: the rest of whichever part */
			resend_iov_rest(ring, c, (size_t)res);
		else
			submit_wire(ring, c, c->wire + res, c->wirelen - (size_t)res);
		return;
	}
	if (c->tls && flush_tls(ring, c) < 0) {
		fail_conn(c);
		return;
	}
	if (c->step == S_FINAL && !c->sending)
		c->t_eod = now_ns(); /* our last byte of data is out */
}

/* Ciphertext arrived: finish the handshake, or decrypt into c->in. */
static int on_cipher(struct io_uring *ring, struct conn *c, size_t n)
{
	if (tls_conn_feed(c->tls, c->cin, n) < 0)
		return -1;
	if (c->step == S_HANDSHAKE) {
		int r = tls_conn_handshake(c->tls);
		if (r < 0 || flush_tls(ring, c) < 0)
			return -1;
		if (r == 0)
			return 0;
		st.handshakes++;
		c->step = S_EHLO; /* RFC 3207: the session starts over */
		send_plain(ring, c, opt.ehlo, strlen(opt.ehlo));
	}
	ssize_t got;
	while (c->inlen < sizeof c->in &&
	       (got = tls_conn_read(c->tls, c->in + c->inlen, sizeof c->in - c->inlen)) > 0)
		c->inlen += (size_t)got;
	return flush_tls(ring, c);
}

static void on_recv_done(struct io_uring *ring, struct conn *c, int res)
{
	if (c->step == S_DONE)
		return;
	if (res <= 0) { /* closed: expected only after QUIT */
		if (c->step != S_QUIT)
			st.errors++;
		c->step = S_DONE;
		return;
	}
	if (c->tls) {
		if (on_cipher(ring, c, (size_t)res) < 0) {
			fail_conn(c);
			return;
		}
	} else {
		c->inlen += (size_t)res;
	}
	int code;
	while (c->step != S_DONE && c->step != S_HANDSHAKE && (code = take_reply(c)))
		on_reply(ring, c, code);
	if (c->step != S_DONE && c->inlen == sizeof c->in)
		fail_conn(c); /* a reply longer than our buffer */
	if (c->step != S_DONE)
		submit_recv(ring, c);
}

/* One completion. A session ends (socket closed, no longer live) once it
 * is done and nothing of it is left in the ring. */
/* A fresh connection from slot c (its buffers are kept for the next one);
 * false when no socket could be made (the slot is done). */
static bool start_connection(struct io_uring *ring, struct conn *c)
{
	char *cin = c->cin, *cout = c->cout;
	size_t coutcap = c->coutcap;
	unsigned n = c->connections;
	tls_conn_free(c->tls);
	memset(c, 0, sizeof *c);
	c->cin = cin;
	c->cout = cout;
	c->coutcap = coutcap;
	c->connections = n + 1;
	c->fd = socket(opt.addr.ss_family, SOCK_STREAM, 0);
	if (c->fd < 0) { /* e.g. EMFILE: the slot ends here */
		st.errors++;
		c->step = S_DONE;
		c->failed = true;
		return false;
	}
	st.connections++;
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct io_uring_sqe *sqe = get_sqe(ring);
	io_uring_prep_connect(sqe, c->fd, (struct sockaddr *)&opt.addr, opt.addrlen);
	io_uring_sqe_set_data64(sqe, (uint64_t)(uintptr_t)c << 1);
	return true;
}

static void on_cqe(struct io_uring *ring, struct io_uring_cqe *cqe, unsigned *live)
{
	uint64_t d = io_uring_cqe_get_data64(cqe);
	struct conn *c = (struct conn *)(uintptr_t)(d >> 1);
	if (c->step == S_CONNECT) {
		if (cqe->res < 0) {
			fail_conn(c);
		} else {
			c->step = S_GREETING;
			submit_recv(ring, c);
		}
	} else if (d & 1) {
		c->receiving = false;
		on_recv_done(ring, c, cqe->res);
	} else {
		c->sending = false;
		if (c->step != S_DONE)
			on_send_done(ring, c, cqe->res);
	}
	if (c->step == S_DONE && !c->receiving && !c->sending && c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
		if (!(c->connections < opt.connections && !c->failed && start_connection(ring, c)))
			(*live)--;
	}
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

static void report(double secs, const char *replies_path)
{
	const struct outcome *t = &st.total;
	unsigned long done = t->accepted + t->rejected + t->tempfailed;
	double p50 = hist_percentile(&st.lat, 0.5) / 1e6, p90 = hist_percentile(&st.lat, 0.9) / 1e6,
	       p99 = hist_percentile(&st.lat, 0.99) / 1e6, p999 = hist_percentile(&st.lat, 0.999) / 1e6;
	printf("sessions %u x messages %u%s%s, %zu message file(s): %lu done in %.2f s = %.0f messages/s\n",
	       opt.sessions, opt.messages,
	       opt.pipeline_next ? " (pipelining, next envelope with the content)"
	       : opt.pipelining  ? " (pipelining)"
				 : "",
	       opt.starttls ? " (STARTTLS)" : "", opt.set.n, done, secs, (double)done / secs);
	printf("accepted %lu, rejected %lu, tempfailed %lu, errors %lu; %lu connections = %.0f/s\n",
	       t->accepted, t->rejected, t->tempfailed, st.errors, st.connections,
	       (double)st.connections / secs);
	printf("end of data to reply (ms, bucket upper edges): p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f\n",
	       p50, p90, p99, p999);
	if (opt.json)
		printf("{\"bench\":\"loadgen\",\"sessions\":%u,\"messages\":%u,\"pipelining\":%s,"
		       "\"pipeline_next\":%s,"
		       "\"starttls\":%s,\"message_files\":%zu,\"tls_handshakes\":%lu,"
		       "\"accepted\":%lu,\"rejected\":%lu,\"tempfailed\":%lu,\"errors\":%lu,"
		       "\"seconds\":%.3f,\"messages_per_s\":%.1f,\"p50_ms\":%.3f,\"p90_ms\":%.3f,"
		       "\"p99_ms\":%.3f,\"p999_ms\":%.3f,\"connections\":%lu,"
		       "\"connections_per_s\":%.1f}\n",
		       opt.sessions, opt.messages, opt.pipelining ? "true" : "false",
		       opt.pipeline_next ? "true" : "false", opt.starttls ? "true" : "false", opt.set.n,
		       st.handshakes, t->accepted, t->rejected, t->tempfailed, st.errors, secs, (double)done / secs, p50, p90, p99,
		       p999, st.connections, (double)st.connections / secs);
	FILE *f = replies_path ? fopen(replies_path, "w") : NULL;
	for (size_t i = 0; f && i < opt.set.n; i++)
		fprintf(f, "%s %lu %lu %lu\n", opt.set.v[i].name, st.per_msg[i].accepted,
			st.per_msg[i].rejected, st.per_msg[i].tempfailed);
	if (f)
		fclose(f);
}

static void run(struct io_uring *ring, struct conn *conns)
{
	unsigned live = opt.sessions;
	for (unsigned i = 0; i < opt.sessions; i++)
		if (!start_connection(ring, &conns[i]))
			live--;
	while (live > 0) {
		struct io_uring_cqe *cqe;
		io_uring_submit_and_wait(ring, 1);
		unsigned head, n = 0;
		io_uring_for_each_cqe(ring, head, cqe) {
			on_cqe(ring, cqe, &live);
			n++;
		}
		io_uring_cq_advance(ring, n);
	}
}

static const char usage[] =
	"usage: loadgen --server 127.0.0.1:PORT (--message FILE | --corpus DIR) [--sessions N]\n"
	"               [--messages M] [--connections K] [--pipelining] [--pipeline-next]\n"
	"               [--starttls]\n"
	"               [--from A] [--to A]\n"
	"               [--helo NAME] [--replies FILE] [--json]\n";

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{"server", 1, 0, 's'}, {"message", 1, 0, 'm'}, {"corpus", 1, 0, 'c'},
		{"sessions", 1, 0, 'n'}, {"messages", 1, 0, 'k'}, {"pipelining", 0, 0, 'p'},
		{"starttls", 0, 0, 'T'}, {"from", 1, 0, 'f'}, {"to", 1, 0, 't'},
		{"helo", 1, 0, 'H'}, {"replies", 1, 0, 'r'}, {"json", 0, 0, 'j'},
		{"connections", 1, 0, 'K'}, {"pipeline-next", 0, 0, 'P'}, {0, 0, 0, 0}};
	const char *def_from = "alice@example.org", *def_to = "bob@example.net";
	const char *from = NULL, *to = NULL, *helo = "mail.example.org";
	const char *msg = NULL, *corpus = NULL, *replies = NULL;
	bool server = false;
	int c;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': server = parse_server(optarg) == 0; if (!server) { fprintf(stderr, "loadgen: --server must be a loopback IP:PORT\n"); return 2; } break;
		case 'm': msg = optarg; break;
		case 'c': corpus = optarg; break;
		case 'n': opt.sessions = (unsigned)atoi(optarg); break;
		case 'k': opt.messages = (unsigned)atoi(optarg); break;
		case 'K': opt.connections = (unsigned)atoi(optarg); break;
		case 'p': opt.pipelining = true; break;
		case 'P': opt.pipelining = opt.pipeline_next = true; break;
		case 'T': opt.starttls = true; break;
		case 'f': from = optarg; break;
		case 't': to = optarg; break;
		case 'H': helo = optarg; break;
		case 'r': replies = optarg; break;
		case 'j': opt.json = true; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	if (!server || !opt.sessions || !opt.connections || !msg == !corpus) {
		fputs(usage, stderr);
		return 2;
	}
	if (opt.pipeline_next && opt.starttls) {
		fprintf(stderr, "loadgen: --pipeline-next is not implemented with --starttls\n");
		return 2;
	}
	/* One file keeps the fixed envelope it always had; a corpus file's
	 * envelope comes from its headers unless --from/--to say otherwise. */
	int rc = msg ? lg_msgset_add_file(&opt.set, msg, from ? from : def_from, to ? to : def_to, NULL, NULL)
		     : lg_msgset_add_dir(&opt.set, corpus, from, to, def_from, def_to);
	if (rc < 0) {
		fprintf(stderr, "loadgen: %s: %s\n", msg ? msg : corpus, strerror(-rc));
		return 2;
	}
	char err[256];
	if (opt.starttls && !(opt.tls_ctx = tls_client_ctx(err, sizeof err))) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 1;
	}
	snprintf(opt.ehlo, sizeof opt.ehlo, "EHLO %s\r\n", helo);
	st.per_msg = calloc(opt.set.n, sizeof *st.per_msg);
	struct conn *conns = calloc(opt.sessions, sizeof *conns);
	struct io_uring ring;
	if (!st.per_msg || !conns || io_uring_queue_init(4096, &ring, 0) < 0) {
		fprintf(stderr, "loadgen: io_uring unavailable (or out of memory)\n");
		return 1;
	}
	uint64_t t0 = now_ns();
	run(&ring, conns);
	report((double)(now_ns() - t0) / 1e9, replies);
	io_uring_queue_exit(&ring);
	for (unsigned i = 0; i < opt.sessions; i++) {
		tls_conn_free(conns[i].tls);
		free(conns[i].cin);
		free(conns[i].cout);
	}
	free(conns);
	free(st.per_msg);
	lg_msgset_free(&opt.set);
	SSL_CTX_free(opt.tls_ctx);
	return st.errors ? 1 : 0;
}
