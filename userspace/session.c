/*
 * session — see session.h. The flow of one transaction:
 *   MAIL accepted  → SPF starts (async); a fail rejects RCPT/DATA early
 *   DATA / BDAT    → bytes land in the arena
 *   end of data    → the verdict (waits for SPF if it is still running)
 *   verdict        → reject / tempfail reply, or spool then 250
 * Async results carry the transaction's generation number, so a result
 * for a transaction the client has since abandoned is ignored.
 */
#include "session.h"
#include "spool_sync.h"

#include "bpf_loader.h"
#include "bufring.h"
#include "log.h"
#include "mono_clock.h"
#include "smtp.h"
#include "tls.h"

#include "../verify/dkim_key.h"
#include "../verify/dns.h"
#include "../verify/senderid.h"
#include "../verify/spf.h"
#include "../verify/verdict.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define CMD_BUF 4096
#define CMD_STASH_MAX (256 * 1024) /* commands pipelined while we are busy */
#define ARENA_SLACK WORKER_ARENA_READ_AHEAD /* room to read past a message that is too big */

enum rx_mode { RX_CMD, RX_DATA, RX_BDAT };

/* The steps of a spool write; the programs that order them are in the
 * spool section below. */
enum spool_step {
	SP_NONE,
	SP_OPEN,      /* create tmp/NAME */
	SP_OPEN_ANON, /* an O_TMPFILE file in tmp/ */
	SP_WRITE,     /* headers + message, one writev */
	SP_FSYNC,
	SP_CLOSE,
	SP_CLOSE_ASYNC, /* close without waiting: nothing after depends on it */
	SP_RENAME,    /* tmp/NAME → new/NAME */
	SP_LINK,      /* the anonymous file → new/NAME */
	SP_DIRSYNC,   /* wait: the worker's next sync of new/ */
	SP_SYNCFS,    /* wait: the next syncfs round (spool_sync.h) */
	SP_JOURNAL,   /* wait: the record appended and synced (spool_journal.h) */
};

struct session {
	struct session *prev, *next;
	struct worker *w;
	int fd;
	unsigned long id;
	struct sockaddr_storage peer;
	char ip[INET6_ADDRSTRLEN];
	struct spf_ip spf_ip;
	struct smtp_session *smtp;
	struct ring_op recv_op, send_op, spool_op, cancel_op, stop_op;
	bool recv_pending, send_pending, cancel_pending, closing, counted_ip;
	/* closing, and the peer did not take our last replies within
	 * timeouts.close: the connection is reset, what was unsent dropped */
	bool cut;
	bool peer_gone; /* the client closed the connection, or it failed */
	/* the recv in flight is the multishot one on the worker's provided
	 * buffers; stop_pending: asked to end it (the session wants message
	 * bytes in its arena, or is busy); own_buffer_once: the pool ran dry */
	bool multishot, stop_pending, own_buffer_once, in_feed;
	/* STARTTLS: switch once the 220 is out; then all bytes go through tls */
	struct tls_conn *tls;
	char *tls_in;
	bool tls_pending_switch, tls_handshaking, in_pump, sending_cipher;
	unsigned checks; /* async checks that still hold a pointer to us */
	time_t deadline; /* of the phase; once closing, of the last replies */
	enum rx_mode rx;
	char *cmd; /* command bytes not yet acted on; NULL while there are none */
	size_t cmdlen, cmdcap;
	char *arena;
	size_t cap, wpos, bdat_scratch;
	/* the transaction */
	unsigned long gen;
	bool spf_done, message_ready, verdict_running;
	/* timeouts.data_term passed while the verdict ran: the sender has
	 * its 451; the verdict's result, when it comes, is dropped */
	bool answered_early;
	/* this transaction's line is written before its end: refused at MAIL
	 * (an SPF or SUBMITTER fail), or given up by the client (STARTTLS) */
	bool tx_logged;
	struct spf_outcome spf;
	struct timespec t_mail, t_end; /* MAIL accepted; end of data: latency to the reply */
	struct txn_record *rec; /* from the verdict to the reply only */
	/* the reply waiting for the spool, and the spool write */
	enum spool_step step;
	const enum spool_step *program; /* the steps still to come */
	bool to_quarantine, tmp_named; /* tmp_named: tmp/NAME exists */
	int spool_fd;
	char spool_name[160], fd_path[32];
	uint64_t spool_since; /* the spool write began (mono_ns()) */
	struct iovec iov[2];
	struct iovec wiov[2]; /* what SP_WRITE still has to write, from spool_off */
	size_t spool_off;
	struct session *dirsync_next;
	unsigned reply_code;
	char reply_status[8], reply_text[220];
};

/* What a transaction needs between its verdict and its reply: allocated
 * then and freed after, so an idle session stays a few kilobytes. */
struct txn_record {
	struct log_txn log;
	char headers[12288]; /* Return-Path, Received-SPF, Authentication-Results */
	size_t headers_len;
};

struct check_ctx {
	struct session *s;
	unsigned long gen;
};

static void flush_output(struct session *s);
static void process_commands(struct session *s);
static void arm_recv(struct session *s);
static void maybe_free(struct session *s);
static void release_arena(struct session *s);
static void log_abandoned(struct session *s);

/* The phase's timeout (docs/configuration.md): what the session waits
 * for now. */
static unsigned phase_timeout(const struct session *s)
{
	const struct config_timeouts *t = &s->w->cfg->timeouts;
	if (s->rx != RX_CMD)
		return s->wpos ? t->data_block : t->data_init;
	const struct smtp_envelope *env = smtp_envelope(s->smtp);
	if (!env->helo[0])
		return t->greeting;
	if (env->have_mail)
		return env->nrcpt ? t->rcpt : t->mail;
	return t->command;
}

/* The clock counts whole seconds, so "now" may be up to a second late:
 * one more second makes a timeout never fire early (it fires between its
 * length and two seconds after, the sweep running once a second). */
static void set_deadline(struct session *s)
{
	if (s->message_ready)
		return; /* timeouts.data_term runs from the end of data, whatever arrives meanwhile */
	if (s->closing)
		return; /* timeouts.close runs from begin_close() */
	s->deadline = mono_coarse_s() + phase_timeout(s) + 1;
}

/* ------------------------------------------------------------ lifetime */

static void session_link(struct worker *w, struct session *s)
{
	s->next = w->sessions;
	if (w->sessions)
		w->sessions->prev = s;
	w->sessions = s;
}

static void session_unlink(struct session *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->w->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
}

/* Free the session once it is closing and nothing refers to it any more:
 * no ring operation, no check, no spool step, no reply still to send.
 * Called only at the top of an event (a completion, a callback, the
 * sweep), never from inside the session's own call chain. */
static void maybe_free(struct session *s)
{
	size_t unsent;
	smtp_output(s->smtp, &unsent);
	if (!s->closing || s->recv_pending || s->send_pending || s->cancel_pending || s->stop_pending ||
	    s->checks || s->step != SP_NONE || (unsent && s->fd >= 0 && !s->cut && !s->tls_handshaking))
		return; /* a peer in its TLS handshake can take no plaintext reply */
	if (s->fd >= 0)
		close(s->fd);
	if (s->counted_ip)
		worker_ip_leave(s->w, &s->peer);
	atomic_fetch_sub(&s->w->shared->sessions, 1);
	bpf_steer_load(s->w->id, -1);
	session_unlink(s);
	smtp_session_free(s->smtp);
	tls_conn_free(s->tls);
	free(s->tls_in);
	free(s->cmd);
	free(s->rec);
	release_arena(s);
	free(s);
}

/* A notice about this session, named as its transaction lines name it. */
static void __attribute__((format(printf, 2, 3))) session_notice(struct session *s, const char *fmt, ...)
{
	char text[800];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	worker_log_notice(s->w, "session %u-%lu from %s: %s", s->w->id, s->id, s->ip, text);
}

/* The peer has not taken our last replies within timeouts.close: a
 * reset (SO_LINGER 0 at the close, so no orphaned socket keeps them
 * queued in the kernel), and the send in flight ends with EPIPE once the
 * socket is shut down. What was not sent is dropped. */
static void cut_connection(struct session *s)
{
	if (s->cut)
		return;
	s->cut = true;
	session_notice(s, "connection cut, the client took no reply for %u s (timeouts.close)",
		       s->w->cfg->timeouts.close);
	size_t unsent;
	smtp_output(s->smtp, &unsent);
	smtp_output_done(s->smtp, unsent);
	if (s->fd < 0)
		return;
	struct linger l = {.l_onoff = 1, .l_linger = 0};
	setsockopt(s->fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
	shutdown(s->fd, SHUT_RDWR);
}

/* Stop reading; close once the output is out and nothing refers to us,
 * or cut the connection after timeouts.close (session_sweep). */
static void begin_close(struct session *s)
{
	if (!s->closing) {
		s->deadline = mono_coarse_s() + s->w->cfg->timeouts.close + 1;
		log_abandoned(s);
	}
	s->closing = true;
	if (s->recv_pending && !s->cancel_pending) {
		struct io_uring_sqe *sqe = worker_sqe(s->w);
		io_uring_prep_cancel(sqe, &s->recv_op, 0);
		io_uring_sqe_set_data(sqe, &s->cancel_op);
		s->cancel_pending = true;
	}
}

/* The client closed the connection, or it failed (a reset, a TLS error or
 * close_notify): there is nobody to answer. */
static void close_peer_gone(struct session *s)
{
	s->peer_gone = true;
	begin_close(s);
}

/* ------------------------------------------------------------- network */

#define TLS_IN_BUF 16384

/* Room for `more` command bytes behind those held; false past the cap. */
static bool cmd_reserve(struct session *s, size_t more)
{
	if (s->cmd && s->cmdcap - s->cmdlen >= more)
		return true;
	size_t want = s->cmdlen + more, cap = s->cmdcap ? s->cmdcap : CMD_BUF;
	while (cap < want)
		cap *= 2;
	char *p = cap <= CMD_STASH_MAX ? realloc(s->cmd, cap) : NULL;
	if (!p)
		return false;
	s->cmd = p;
	s->cmdcap = cap;
	return true;
}

static bool cmd_append(struct session *s, const char *p, size_t n)
{
	if (!cmd_reserve(s, n))
		return false;
	memcpy(s->cmd + s->cmdlen, p, n);
	s->cmdlen += n;
	return true;
}

/* A session waiting for its next command owns no buffer for it. */
static void cmd_release(struct session *s)
{
	if (s->cmdlen)
		return;
	free(s->cmd);
	s->cmd = NULL;
	s->cmdcap = 0;
}

static void refuse_input(struct session *s)
{
	smtp_abort(s->smtp, "421 4.7.0 Too much pipelined input, closing connection");
	smtp_event(s->smtp);
	begin_close(s);
}

/* Where the next plaintext bytes go: the command buffer, or the arena
 * (DATA, or a BDAT chunk; a chunk we will not keep goes to scratch room). */
static void plain_target(struct session *s, void **buf, size_t *len)
{
	if (s->rx == RX_CMD) {
		bool ok = cmd_reserve(s, 1);
		*buf = ok ? s->cmd + s->cmdlen : NULL;
		*len = ok ? s->cmdcap - s->cmdlen : 0;
	} else if (s->rx == RX_DATA) {
		*buf = s->arena + s->wpos;
		*len = s->cap - s->wpos;
	} else {
		size_t left = smtp_bdat_remaining(s->smtp);
		bool keep = !smtp_bdat_discarding(s->smtp) && s->wpos + left <= s->cap - ARENA_SLACK;
		s->bdat_scratch = !keep;
		*buf = keep ? s->arena + s->wpos : s->arena + (s->cap - ARENA_SLACK);
		*len = keep ? left : left < ARENA_SLACK ? left : ARENA_SLACK;
	}
}

static void tls_pump(struct session *s);

/* Waiting for commands with nothing held back: the shared pool serves. */
static bool reads_commands(const struct session *s)
{
	return s->rx == RX_CMD && s->cmdlen == 0 && !s->tls && !s->tls_pending_switch &&
	       !s->closing && !s->message_ready && !s->verdict_running;
}

/* End the multishot recv. Its cancel goes into the SQ before the reply
 * that ends the command phase (354, a BDAT's 250, STARTTLS's 220), so the
 * client's next bytes cannot land in a pool buffer. */
static void stop_multishot(struct session *s)
{
	if (s->stop_pending || s->cancel_pending)
		return;
	struct io_uring_sqe *sqe = worker_sqe(s->w);
	io_uring_prep_cancel(sqe, &s->recv_op, 0);
	io_uring_sqe_set_data(sqe, &s->stop_op);
	s->stop_pending = true;
}

static void arm_multishot(struct session *s)
{
	cmd_release(s);
	struct io_uring_sqe *sqe = worker_sqe(s->w);
	bufring_prep_recv(s->w->bufring, sqe, s->fd);
	io_uring_sqe_set_data(sqe, &s->recv_op);
	s->recv_pending = s->multishot = true;
	set_deadline(s);
}

static void arm_recv(struct session *s)
{
	if (s->recv_pending) {
		if (s->multishot && !reads_commands(s))
			stop_multishot(s);
		return;
	}
	if (s->closing || s->verdict_running || s->message_ready || s->tls_pending_switch)
		return;
	if (s->rx == RX_CMD && s->cmdlen)
		return; /* held-back commands first: our replies must drain (on_send) */
	if (reads_commands(s) && s->w->bufring && !s->own_buffer_once) {
		arm_multishot(s);
		return;
	}
	s->own_buffer_once = false;
	if (s->tls && !s->tls_handshaking && tls_conn_readable(s->tls)) {
		tls_pump(s); /* plaintext already here: use it before reading more */
		return;
	}
	void *buf;
	size_t len;
	if (s->tls) {
		buf = s->tls_in;
		len = TLS_IN_BUF;
	} else {
		plain_target(s, &buf, &len);
	}
	if (len == 0) {
		refuse_input(s); /* no memory for the command buffer */
		return;
	}
	struct io_uring_sqe *sqe = worker_sqe(s->w);
	io_uring_prep_recv(sqe, s->fd, buf, len, 0);
	io_uring_sqe_set_data(sqe, &s->recv_op);
	s->recv_pending = true;
	set_deadline(s);
}

static void pin_output(struct session *s, bool pinned)
{
	if (s->sending_cipher)
		tls_conn_output_pin(s->tls, pinned);
	else
		smtp_output_pin(s->smtp, pinned);
}

static void flush_output(struct session *s)
{
	size_t len;
	const char *out = smtp_output(s->smtp, &len);
	if (s->send_pending || s->fd < 0 || s->cut)
		return;
	if (s->tls && !s->tls_handshaking && len) {
		ssize_t n = tls_conn_write(s->tls, out, len);
		smtp_output_done(s->smtp, n > 0 ? (size_t)n : len);
	}
	if (s->tls)
		out = tls_conn_output(s->tls, &len);
	if (len == 0)
		return;
	struct io_uring_sqe *sqe = worker_sqe(s->w);
	io_uring_prep_send(sqe, s->fd, out, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data(sqe, &s->send_op);
	s->send_pending = true;
	s->sending_cipher = s->tls != NULL;
	pin_output(s, true); /* replies added meanwhile must not move these bytes */
}

/* The 220 for STARTTLS is out: from now on the socket speaks TLS. */
static void switch_to_tls(struct session *s)
{
	s->tls_pending_switch = false;
	s->tls = tls_conn_new(s->w->shared->tls_ctx);
	s->tls_in = malloc(TLS_IN_BUF);
	if (!s->tls || !s->tls_in) {
		begin_close(s);
		return;
	}
	s->tls_handshaking = true;
	arm_recv(s);
}

static bool ensure_arena(struct session *s)
{
	if (s->arena)
		return true;
	s->cap = worker_arena_size(s->w);
	s->arena = worker_arena_get(s->w);
	return s->arena != NULL;
}

static void release_arena(struct session *s)
{
	if (s->arena)
		worker_arena_put(s->w, s->arena, s->wpos);
	s->arena = NULL;
	s->cap = s->wpos = 0;
}

/* ------------------------------------------------------------- checks */

static struct check_ctx *check_ctx(struct session *s)
{
	struct check_ctx *c = malloc(sizeof *c);
	if (c) {
		c->s = s;
		c->gen = s->gen;
		s->checks++;
	}
	return c;
}

/* A check finished: false when its session or transaction is gone. */
static bool check_still_wanted(struct check_ctx *c)
{
	struct session *s = c->s;
	bool wanted = !s->closing && c->gen == s->gen;
	s->checks--;
	free(c);
	if (!wanted)
		maybe_free(s);
	return wanted;
}

static void start_verdict(struct session *s);
static void fill_envelope(struct session *s, const struct smtp_envelope *env, struct log_txn *l);

static double ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/* The log line of a transaction that ends without a verdict, from its
 * envelope (so before the reply, which resets it): refused at MAIL (an
 * SPF or SUBMITTER fail: `failed`, timed from `since` = MAIL), or after
 * the data (oversize, timeouts.data_term: failed = POLICY_CHECKS, none).
 * The checks that never ran show as none. */
static void log_envelope_without_verdict(struct session *s, const struct smtp_envelope *env,
					 const struct timespec *since, enum policy_check failed,
					 const char *verdict, const char *code, const char *text)
{
	struct log_txn *l = calloc(1, sizeof *l);
	if (!l)
		return;
	fill_envelope(s, env, l);
	if (failed < POLICY_CHECKS)
		l->results[failed] = AUTH_FAIL;
	snprintf(l->verdict, sizeof l->verdict, "%s", verdict);
	snprintf(l->code, sizeof l->code, "%s", code);
	snprintf(l->reason, sizeof l->reason, "%s", text);
	l->ms = ms_since(since);
	worker_log_transaction(s->w, l);
	free(l);
}

static void log_without_verdict(struct session *s, const struct timespec *since,
				enum policy_check failed, const char *verdict, const char *code,
				const char *text)
{
	log_envelope_without_verdict(s, smtp_envelope(s->smtp), since, failed, verdict, code, text);
}

/* Whether the open transaction's line is still to be written: not when
 * it was refused at MAIL or told 451 by timeouts.data_term (logged
 * then), nor while it is spooling (its reply logs it). */
static bool transaction_unlogged(const struct session *s)
{
	return !s->tx_logged && !s->answered_early && !s->rec && s->step == SP_NONE;
}

/* The line of a transaction that ended without a reply to its message
 * (verdict abandoned), unless it has one: nothing is spooled. */
static void log_abandoned_once(struct session *s, const struct smtp_envelope *env,
			       const char *code, const char *text)
{
	if (!transaction_unlogged(s))
		return;
	log_envelope_without_verdict(s, env, &s->t_mail, POLICY_CHECKS, "abandoned", code, text);
	atomic_fetch_add(&s->w->shared->transactions, 1);
	s->tx_logged = true;
}

/* A transaction (MAIL given) still open when its session closes: a
 * verdict still running is dropped. Its line names the reply that ended
 * the session, or "-" when the client left without one. */
static void log_abandoned(struct session *s)
{
	if (!smtp_envelope(s->smtp)->have_mail)
		return;
	log_abandoned_once(s, smtp_envelope(s->smtp), s->peer_gone ? "-" : smtp_last_reply(s->smtp),
			   s->peer_gone ? "the client closed the connection during the transaction"
					: "the session ended during the transaction");
}

/* The client ended an open transaction itself, with `how` (RSET, EHLO,
 * HELO, STARTTLS; smtp.c has moved the envelope aside, or it is still
 * current for STARTTLS): SPF still running for it is dropped (gen), and
 * the line names the command. */
static void log_client_abandoned(struct session *s, const struct smtp_envelope *env,
				 const char *how)
{
	s->gen++;
	if (!env)
		return;
	char text[64];
	snprintf(text, sizeof text, "the client abandoned the transaction with %s", how);
	log_abandoned_once(s, env, "-", text);
}

/* A fail of `check` known before the message: with policy.drop_action =
 * reject the rest of the transaction is refused at once (RFC 7208 §8.4:
 * a fail is final); with discard or quarantine the sender must not learn
 * of it, so the transaction goes on and the verdict after DATA, which
 * sees the same fail, drops it. */
static void refuse_early(struct session *s, enum policy_check check, const char *text)
{
	if (atomic_load(&s->w->shared->drop_action) != DROP_REJECT)
		return;
	if (s->tx_logged || !smtp_envelope(s->smtp)->have_mail)
		return; /* refused already (SPF and SUBMITTER both failed), or abandoned (RSET) */
	smtp_reject_transaction(s->smtp, 550, "5.7.23", text);
	if (s->message_ready || smtp_message_coming(s->smtp))
		return; /* the message is here or coming: its verdict logs and counts it */
	s->tx_logged = true;
	bpf_verdict_drop(&s->peer);
	log_without_verdict(s, &s->t_mail, check, "drop(at MAIL)", "550 5.7.23", text);
	atomic_fetch_add(&s->w->shared->transactions, 1);
}

static void on_spf(void *arg, const struct spf_outcome *o)
{
	struct check_ctx *c = arg;
	struct session *s = c->s;
	if (!check_still_wanted(c))
		return;
	s->spf = *o;
	s->spf_done = true;
	if (o->result == SPF_FAIL) {
		char text[600];
		snprintf(text, sizeof text, "SPF fail: %s", o->explanation[0] ? o->explanation : "not permitted");
		refuse_early(s, POLICY_SPF, text);
	}
	if (s->message_ready && !s->answered_early)
		start_verdict(s);
	flush_output(s);
	maybe_free(s);
}

static void start_spf(struct session *s)
{
	const struct smtp_envelope *env = smtp_envelope(s->smtp);
	struct spf_request req = {.ip = s->spf_ip, .mail_from = env->mail_from,
				  .helo = env->helo, .scope = SPF_SCOPE_MFROM};
	struct spf_config cfg = {.receiver = s->w->cfg->hostname, .cache = s->w->spf_cache};
	struct check_ctx *c = check_ctx(s);
	s->spf_done = false;
	errno = 0;
	if (c && (spf_check_async(s->w->resolver, &req, &cfg, on_spf, c) || errno == 0))
		return;
	if (c) { /* could not start: count it as a temporary error */
		s->checks--;
		free(c);
	}
	memset(&s->spf, 0, sizeof s->spf);
	s->spf.result = SPF_TEMPERROR;
	snprintf(s->spf.problem, sizeof s->spf.problem, "out of memory");
	s->spf_done = true;
}

/* RFC 4405: with SUBMITTER= the receiver may check Sender ID before the
 * message arrives; a fail refuses the transaction at once (after DATA the
 * verdict checks that the PRA matches the SUBMITTER). */
static void on_submitter(void *arg, const struct senderid_outcome *o)
{
	struct check_ctx *c = arg;
	struct session *s = c->s;
	if (!check_still_wanted(c))
		return;
	if (o->result == SPF_FAIL) {
		char text[700];
		snprintf(text, sizeof text, "Sender ID fail: %s may not send for SUBMITTER %s",
			 s->ip, o->identity);
		refuse_early(s, POLICY_SENDERID, text);
	}
	flush_output(s);
	maybe_free(s);
}

static void start_submitter_check(struct session *s)
{
	const struct smtp_envelope *env = smtp_envelope(s->smtp);
	struct spf_config cfg = {.receiver = s->w->cfg->hostname, .cache = s->w->spf_cache};
	struct check_ctx *c = check_ctx(s);
	if (c && senderid_check_identity(s->w->resolver, &s->spf_ip, env->helo, env->submitter,
					 SENDERID_PRA, &cfg, on_submitter, c) < 0) {
		s->checks--; /* not started: the check after DATA still runs */
		free(c);
	}
}

static void spool_begin(struct session *s, bool quarantine);

/* The transaction is answered: the session is back to commands, with
 * the next phase's deadline even while a multishot recv stays armed; a
 * result still to come for it is dropped (gen). */
static void end_transaction(struct session *s)
{
	s->message_ready = s->verdict_running = s->answered_early = false;
	s->gen++;
	release_arena(s);
	s->rx = RX_CMD;
	set_deadline(s);
	process_commands(s);
}

static void finish_transaction(struct session *s, unsigned code, const char *status,
			       const char *text)
{
	if (s->rec) {
		s->rec->log.ms = ms_since(&s->t_end);
		snprintf(s->rec->log.code, sizeof s->rec->log.code, "%u %s", code, status);
		worker_log_transaction(s->w, &s->rec->log);
		free(s->rec);
		s->rec = NULL;
	}
	if (!s->tx_logged)
		atomic_fetch_add(&s->w->shared->transactions, 1);
	smtp_message_reply(s->smtp, code, status, text);
	end_transaction(s);
}

#define LOCAL_PROBLEM_TEXT "temporary local problem, try again later"

/* No memory for the verdict or its record: 451, and a line that says so
 * (there is no verdict to log). */
static void fail_locally(struct session *s)
{
	log_without_verdict(s, &s->t_end, POLICY_CHECKS, "tempfail(local)", "451 4.3.0",
			    LOCAL_PROBLEM_TEXT);
	finish_transaction(s, 451, "4.3.0", LOCAL_PROBLEM_TEXT);
}

/* Also the end of a BDAT chunk (not LAST) that passed the limit after the
 * transaction was refused at MAIL: that refusal was its line. */
static void refuse_oversize(struct session *s)
{
	char code[16];
	snprintf(code, sizeof code, "%u %s", SMTP_REPLY_OVERSIZE_CODE, SMTP_REPLY_OVERSIZE_STATUS);
	if (!s->tx_logged)
		log_without_verdict(s, &s->t_end, POLICY_CHECKS, "refused(size)", code,
				    "message larger than limits.message_size");
	finish_transaction(s, SMTP_REPLY_OVERSIZE_CODE, SMTP_REPLY_OVERSIZE_STATUS,
			   SMTP_REPLY_OVERSIZE_TEXT);
}

#define DATA_TERM_TEXT "verification did not finish in time, try again later"

/* timeouts.data_term, no spool write begun: the sender gets 451 now.
 * Waiting for SPF, nothing else holds the message: the transaction ends.
 * With the verdict running (it reads the message in the arena), the
 * reply goes out and the rest waits for the verdict, whose result is then
 * dropped (on_verdict). */
static void answer_data_term(struct session *s)
{
	log_without_verdict(s, &s->t_end, POLICY_CHECKS, "tempfail(timeout)", "451 4.4.3",
			    DATA_TERM_TEXT);
	if (!s->verdict_running) {
		finish_transaction(s, 451, "4.4.3", DATA_TERM_TEXT);
		return;
	}
	atomic_fetch_add(&s->w->shared->transactions, 1);
	smtp_message_reply(s->smtp, 451, "4.4.3", DATA_TERM_TEXT);
	s->answered_early = true;
	flush_output(s);
}

static bool ensure_rec(struct session *s)
{
	if (!s->rec)
		s->rec = calloc(1, sizeof *s->rec);
	return s->rec != NULL;
}

static void fill_envelope(struct session *s, const struct smtp_envelope *env, struct log_txn *l)
{
	memset(l, 0, sizeof *l);
	l->session = s->id;
	l->worker = s->w->id;
	snprintf(l->ip, sizeof l->ip, "%s", s->ip);
	snprintf(l->helo, sizeof l->helo, "%s", env->helo);
	snprintf(l->mail_from, sizeof l->mail_from, "%s", env->mail_from);
	/* whole addresses only; "..." where the rest did not fit (JSON has nrcpt) */
	size_t n = 0, room = sizeof l->rcpts - 4;
	unsigned i = 0;
	for (; i < env->nrcpt; i++) {
		int k = snprintf(l->rcpts + n, room - n, "%s%s", i ? "," : "", env->rcpt[i]);
		if (k < 0 || (size_t)k >= room - n)
			break;
		n += (size_t)k;
	}
	if (i < env->nrcpt)
		memcpy(l->rcpts + n, "...", 4);
	l->nrcpt = env->nrcpt;
	l->size = s->message_ready ? smtp_message_size(s->smtp) : 0;
}

static void fill_log(struct session *s, const struct verdict_result *r)
{
	struct log_txn *l = &s->rec->log;
	fill_envelope(s, smtp_envelope(s->smtp), l);
	l->size = s->wpos;
	for (int c = 0; c < POLICY_CHECKS; c++)
		l->results[c] = r->results[c];
	snprintf(l->verdict, sizeof l->verdict, "%s", policy_verdict_name(r->decision.verdict));
	snprintf(l->reason, sizeof l->reason, "%s", r->decision.reason);
}

static void act_on_verdict(struct session *s, struct verdict_result *r)
{
	if (!ensure_rec(s))
		return fail_locally(s);
	fill_log(s, r);
	const struct policy_decision *d = &r->decision;
	enum drop_action drop = (enum drop_action)atomic_load(&s->w->shared->drop_action);
	s->rec->headers_len = (size_t)snprintf(s->rec->headers, sizeof s->rec->headers, "Return-Path: <%s>\r\n%s\r\n%s\r\n",
					  smtp_envelope(s->smtp)->mail_from, r->received_spf, r->authres);
	if (s->rec->headers_len >= sizeof s->rec->headers)
		s->rec->headers_len = sizeof s->rec->headers - 1;
	if (d->verdict == VERDICT_TEMPFAIL) /* never counts toward xdp.block_after */
		return finish_transaction(s, 451, d->status, d->reason);
	if (d->verdict == VERDICT_DROP)
		bpf_verdict_drop(&s->peer);
	if (d->verdict == VERDICT_DROP && drop == DROP_REJECT)
		return finish_transaction(s, 550, d->status, d->reason);
	if (d->verdict == VERDICT_DROP && drop == DROP_DISCARD) {
		snprintf(s->rec->log.verdict, sizeof s->rec->log.verdict, "drop(discarded)");
		return finish_transaction(s, 250, "2.0.0", "accepted");
	}
	if (d->verdict == VERDICT_DROP)
		snprintf(s->rec->log.verdict, sizeof s->rec->log.verdict, "drop(quarantined)");
	spool_begin(s, d->verdict == VERDICT_DROP);
}

static void on_verdict(void *arg, struct verdict_result *r)
{
	struct check_ctx *c = arg;
	struct session *s = c->s;
	if (!check_still_wanted(c))
		return;
	if (s->answered_early) /* timeouts.data_term: told 451 already */
		end_transaction(s);
	else
		act_on_verdict(s, r);
	flush_output(s);
	maybe_free(s);
}

static void start_verdict(struct session *s)
{
	if (s->verdict_running || !s->spf_done)
		return; /* SPF still running: on_spf starts us */
	const struct smtp_envelope *env = smtp_envelope(s->smtp);
	struct verdict_request req = {.ip = s->spf_ip, .ip_text = s->ip, .helo = env->helo,
				      .mail_from = env->mail_from, .submitter = env->submitter,
				      .msg = s->arena, .len = s->wpos,
				      .authserv_id = s->w->cfg->hostname};
	struct verdict_config vc = {.spf = {.receiver = s->w->cfg->hostname, .cache = s->w->spf_cache},
				    .dkim = {.max_signatures = s->w->cfg->dkim_max_signatures,
					     .keys = s->w->dkim_keys},
				    .policy = {.softfail = atomic_load(&s->w->shared->softfail),
					       .permerror = atomic_load(&s->w->shared->permerror)}};
	struct check_ctx *c = check_ctx(s);
	s->verdict_running = true;
	if (!c || verdict_start(s->w->resolver, &req, &vc, &s->spf, on_verdict, c) < 0) {
		if (c) {
			s->checks--;
			free(c);
		}
		s->verdict_running = false;
		fail_locally(s);
	}
}

/* ------------------------------------------------------------- spool */

/* The Maildir rule, twice over: a file is complete and durable before it
 * has a name in new/, and that name is durable before the 250.
 * spool.sync = fsync: per-file fsync, and the worker's group sync of new/
 * (its fsync and a device flush, worker.c says why). */
static const enum spool_step fsync_program[] = {
	SP_OPEN, SP_WRITE, SP_FSYNC, SP_CLOSE, SP_RENAME, SP_DIRSYNC, SP_NONE,
};
/* spool.sync = syncfs: an anonymous file (opened ahead by the worker when
 * it can), made durable by one syncfs round, named in new/, and the name
 * made durable by a later round; each round serves every file written
 * meanwhile. The file never has a name in tmp/, so a crash leaves nothing
 * there to clean up. */
static const enum spool_step syncfs_program[] = {
	SP_OPEN_ANON, SP_WRITE, SP_SYNCFS, SP_LINK, SP_CLOSE_ASYNC, SP_SYNCFS, SP_NONE,
};

/* spool.sync = journal: the message is durable once its record in the
 * journal is; the journal's publisher puts it into new/ by the rule above. */
static const enum spool_step journal_program[] = {SP_JOURNAL, SP_NONE};

static const struct spool_dir *spool_dir_of(const struct session *s)
{
	return s->to_quarantine ? &s->w->shared->spool.quarantine : &s->w->shared->spool.main;
}

/* The part of iov[0..cnt) from byte `skip` on, into out; its iovec count. */
static unsigned rest_of_iov(const struct iovec *iov, unsigned cnt, size_t skip, struct iovec *out)
{
	unsigned n = 0;
	for (unsigned i = 0; i < cnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		out[n++] = (struct iovec){(char *)iov[i].iov_base + skip, iov[i].iov_len - skip};
		skip = 0;
	}
	return n;
}

static void submit_spool_op(struct session *s)
{
	const struct spool_dir *dir = spool_dir_of(s);
	struct io_uring_sqe *sqe = worker_sqe(s->w);
	switch (s->step) {
	case SP_OPEN:
		io_uring_prep_openat(sqe, dir->tmp_fd, s->spool_name,
				     O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
		break;
	case SP_OPEN_ANON:
		io_uring_prep_openat(sqe, dir->tmp_fd, ".", O_WRONLY | O_TMPFILE | O_CLOEXEC, 0640);
		break;
	case SP_WRITE: {
		unsigned n = rest_of_iov(s->iov, 2, s->spool_off, s->wiov);
		io_uring_prep_writev(sqe, s->spool_fd, s->wiov, n, s->spool_off);
		break;
	}
	case SP_FSYNC:
		io_uring_prep_fsync(sqe, s->spool_fd, 0);
		break;
	case SP_CLOSE:
		io_uring_prep_close(sqe, s->spool_fd);
		s->spool_fd = -1; /* gone whatever the close reports */
		break;
	case SP_RENAME:
		io_uring_prep_renameat(sqe, dir->tmp_fd, s->spool_name, dir->new_fd, s->spool_name, 0);
		break;
	default: { /* SP_LINK */
		int flags, from = spool_link_source(&s->w->shared->spool, s->spool_fd, s->fd_path,
						    sizeof s->fd_path, &flags);
		io_uring_prep_linkat(sqe, from, s->fd_path, dir->new_fd, s->spool_name, flags);
		break;
	}
	}
	io_uring_sqe_set_data(sqe, &s->spool_op);
}

/* Start the next step of the program: a ring operation, a wait for a
 * sync that covers what is done so far, or — at the end — the 250. */
static void spool_next(struct session *s)
{
	s->step = *s->program++;
	switch (s->step) {
	case SP_NONE: {
		char text[240];
		snprintf(text, sizeof text, "%s as %.160s", s->to_quarantine ? "accepted" : "queued",
			 s->spool_name);
		finish_transaction(s, 250, "2.0.0", text);
		return;
	}
	case SP_DIRSYNC:
		worker_dirsync_join(s->w, s, s->to_quarantine);
		return;
	case SP_SYNCFS:
		spool_sync_request(s->w->shared->spool_sync, s->w->ring.ring_fd, &s->spool_op,
				   s->spool_since);
		return;
	case SP_JOURNAL: {
		struct journal_entry e = {.iov = s->iov, .iovcnt = 2,
					  .len = s->rec->headers_len + s->wpos,
					  .name = s->spool_name, .quarantine = s->to_quarantine};
		spool_sync_append(s->w->shared->spool_sync, s->w->ring.ring_fd, &s->spool_op, &e);
		return;
	}
	case SP_CLOSE_ASYNC: {
		struct io_uring_sqe *sqe = worker_sqe(s->w);
		io_uring_prep_close(sqe, s->spool_fd);
		io_uring_sqe_set_data(sqe, NULL); /* a failure has nobody to tell */
		sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
		s->spool_fd = -1;
		spool_next(s);
		return;
	}
	default:
		submit_spool_op(s);
		return;
	}
}

static void spool_begin(struct session *s, bool quarantine)
{
	const struct spool *sp = &s->w->shared->spool;
	s->to_quarantine = quarantine;
	s->tmp_named = false;
	s->spool_fd = -1;
	s->spool_off = 0;
	s->spool_since = mono_ns();
	spool_name(sp, s->w->id, ++s->w->next_spool, s->spool_name, sizeof s->spool_name);
	s->iov[0] = (struct iovec){s->rec->headers, s->rec->headers_len};
	s->iov[1] = (struct iovec){s->arena, s->wpos}; /* written from the arena itself */
	switch (s->w->shared->cfg->spool_sync) {
	case SPOOL_SYNC_FSYNC:
		s->program = fsync_program;
		break;
	case SPOOL_SYNC_JOURNAL:
		s->program = journal_program;
		break;
	case SPOOL_SYNC_SYNCFS:
		s->program = syncfs_program;
		if (!quarantine || sp->quarantine_same_mount)
			s->spool_fd = worker_tmpfile_take(s->w);
		if (s->spool_fd >= 0)
			s->program++; /* opened ahead: start with the write */
		break;
	}
	spool_next(s);
}

/* Nothing partial stays behind: an unnamed file vanishes with its
 * descriptor, a named one in tmp/ is removed. A failure after the name is
 * in new/ (only the last sync can fail there) leaves the message in new/:
 * the sender is told 451 and may send it again, a duplicate rather than
 * a loss. */
static void spool_failed(struct session *s, int err)
{
	if (s->spool_fd >= 0)
		close(s->spool_fd);
	s->spool_fd = -1;
	if (s->tmp_named)
		unlinkat(spool_dir_of(s)->tmp_fd, s->spool_name, 0);
	s->tmp_named = false;
	s->step = SP_NONE;
	session_notice(s, "spool %s: %s", s->spool_name, strerror(err));
	if (err == ENOSPC || err == EDQUOT)
		finish_transaction(s, 452, "4.3.1", "insufficient system storage, try again later");
	else
		finish_transaction(s, 451, "4.3.0", "could not store the message, try again later");
}

static void spool_step_done(struct session *s, int res)
{
	if (res < 0)
		return spool_failed(s, -res);
	switch (s->step) {
	case SP_OPEN:
		s->tmp_named = true;
		/* fall through */
	case SP_OPEN_ANON:
		s->spool_fd = res;
		break;
	case SP_WRITE:
		/* A short write to a file (the disk filled as it went): write
		 * the rest, whose failure tells why (ENOSPC: 452, not 451). */
		if (res == 0)
			return spool_failed(s, EIO);
		s->spool_off += (size_t)res;
		if (s->spool_off < s->rec->headers_len + s->wpos)
			return submit_spool_op(s);
		break;
	case SP_RENAME:
		s->tmp_named = false;
		break;
	default:
		break;
	}
	spool_next(s);
}

/* ------------------------------------------------------------ commands */

static void message_complete(struct session *s)
{
	clock_gettime(CLOCK_MONOTONIC, &s->t_end);
	s->message_ready = true;
	s->rx = RX_CMD;
	s->deadline = mono_coarse_s() + s->w->cfg->timeouts.data_term + 1;
	if (smtp_message_oversize(s->smtp))
		return refuse_oversize(s);
	start_verdict(s);
}

static void handle_event(struct session *s, enum smtp_event ev)
{
	switch (ev) {
	case SMTP_EV_MAIL:
		/* A new transaction: what an abandoned one (BDAT chunks, then
		 * RSET) left in the arena is not part of this message. */
		clock_gettime(CLOCK_MONOTONIC, &s->t_mail);
		s->tx_logged = false;
		release_arena(s);
		s->gen++;
		start_spf(s);
		if (smtp_envelope(s->smtp)->submitter[0])
			start_submitter_check(s);
		break;
	case SMTP_EV_DATA:
	case SMTP_EV_BDAT:
		if (!ensure_arena(s)) {
			smtp_abort(s->smtp, "421 4.3.0 out of memory, closing");
			begin_close(s);
			break;
		}
		if (ev == SMTP_EV_DATA)
			s->wpos = 0;
		s->rx = ev == SMTP_EV_DATA ? RX_DATA : RX_BDAT;
		break;
	case SMTP_EV_MESSAGE:
		message_complete(s);
		break;
	case SMTP_EV_CLOSE:
		begin_close(s);
		break;
	case SMTP_EV_STARTTLS:
		s->tls_pending_switch = true; /* after the 220 has gone out */
		/* The handshake resets the session, or it fails and the session
		 * closes: a transaction open now cannot go on either way. */
		if (smtp_envelope(s->smtp)->have_mail)
			log_client_abandoned(s, smtp_envelope(s->smtp), "STARTTLS");
		break;
	case SMTP_EV_ABANDON: {
		const char *command;
		const struct smtp_envelope *env = smtp_abandoned_envelope(s->smtp, &command);
		log_client_abandoned(s, env, command);
		release_arena(s); /* what BDAT chunks left there */
		break;
	}
	default:
		break;
	}
}

static void received_bdat(struct session *s, size_t n);

/* Message bytes that came with the commands (a BDAT chunk right behind its
 * command, a client that did not wait for 354) move to the arena: the one
 * userspace copy of message bytes, counted. Returns the bytes taken. */
static size_t early_message_bytes(struct session *s, const char *in, size_t n)
{
	atomic_ulong *copied = &s->w->shared->message_copy_bytes;
	void *buf;
	size_t len;
	plain_target(s, &buf, &len);
	if (n > len)
		n = len;
	memcpy(buf, in, n);
	if (s->rx == RX_DATA) {
		n = smtp_data_input(s->smtp, s->arena, &s->wpos, s->wpos, n);
		atomic_fetch_add(copied, n);
		if (!smtp_wants_data(s->smtp))
			s->rx = RX_CMD;
		return n;
	}
	if (!s->bdat_scratch)
		atomic_fetch_add(copied, n);
	received_bdat(s, n);
	return n;
}

/* Act on command-phase bytes; returns how many were used. The rest wait:
 * the session is busy with a message, switching to TLS, closing, or its
 * replies pile up unread. */
static size_t feed(struct session *s, const char *in, size_t n)
{
	size_t off = 0;
	s->in_feed = true;
	while (off < n && !s->closing && !s->message_ready && !s->tls_pending_switch) {
		if (s->rx != RX_CMD) {
			size_t k = early_message_bytes(s, in + off, n - off);
			if (k == 0)
				break;
			off += k;
			if (s->rx == RX_CMD && smtp_event(s->smtp) == SMTP_EV_MESSAGE)
				message_complete(s);
			continue;
		}
		size_t used = smtp_input(s->smtp, in + off, n - off);
		off += used;
		enum smtp_event ev = smtp_event(s->smtp);
		if (ev != SMTP_EV_NONE)
			handle_event(s, ev);
		else if (used == 0)
			break;
	}
	s->in_feed = false;
	return off;
}

static void process_commands(struct session *s)
{
	if (s->in_feed)
		return; /* a transaction ended inside feed(): it goes on by itself */
	if (s->cmdlen) {
		size_t used = feed(s, s->cmd, s->cmdlen);
		memmove(s->cmd, s->cmd + used, s->cmdlen - used);
		s->cmdlen -= used;
	}
	arm_recv(s); /* before the replies: see stop_multishot() */
	flush_output(s);
}

/* ------------------------------------------------------------ receive */

static void received_data(struct session *s, size_t n)
{
	size_t rpos = s->wpos;
	size_t used = smtp_data_input(s->smtp, s->arena, &s->wpos, rpos, n);
	if (smtp_wants_data(s->smtp))
		return;
	/* End of data: what followed in the same read is commands again. */
	if (!cmd_append(s, s->arena + rpos + used, n - used))
		refuse_input(s);
	s->rx = RX_CMD;
	if (smtp_event(s->smtp) == SMTP_EV_MESSAGE)
		message_complete(s);
}

static void received_bdat(struct session *s, size_t n)
{
	bool kept = !s->bdat_scratch;
	smtp_bdat_input(s->smtp, n);
	if (kept)
		s->wpos += n;
	if (smtp_bdat_remaining(s->smtp))
		return;
	s->rx = RX_CMD;
	/* the message, or (a refused chunk being one error too many) a 421 */
	enum smtp_event ev = smtp_event(s->smtp);
	if (ev != SMTP_EV_NONE)
		handle_event(s, ev);
}

/* n plaintext bytes landed where plain_target() said. */
static void deliver_plain(struct session *s, size_t n)
{
	if (s->rx == RX_CMD)
		s->cmdlen += n;
	else if (s->rx == RX_DATA)
		received_data(s, n);
	else
		received_bdat(s, n);
}

/* Why a TLS connection ended, unless the client closed it cleanly. */
static void log_tls_failure(struct session *s, const char *what)
{
	const char *why = tls_conn_failure(s->tls);
	if (why)
		session_notice(s, "%s failed: %s", what, why);
}

/* Decrypt what we have into the plaintext targets, acting on each piece. */
static void tls_pump(struct session *s)
{
	if (s->in_pump)
		return;
	s->in_pump = true;
	while (!s->closing && !s->message_ready && !s->verdict_running) {
		void *buf;
		size_t len;
		plain_target(s, &buf, &len);
		ssize_t n = len ? tls_conn_read(s->tls, buf, len) : 0;
		if (n < 0) { /* close_notify, or a TLS error: the client ended it */
			log_tls_failure(s, "TLS");
			close_peer_gone(s);
		}
		if (n <= 0)
			break;
		deliver_plain(s, (size_t)n);
		process_commands(s);
	}
	s->in_pump = false;
	flush_output(s);
	arm_recv(s);
}

static void on_recv_tls(struct session *s, int res)
{
	if (tls_conn_feed(s->tls, s->tls_in, (size_t)res) < 0) {
		close_peer_gone(s);
		return;
	}
	if (s->tls_handshaking) {
		int h = tls_conn_handshake(s->tls);
		if (h < 0) { /* the client's handshake failed: it gets an alert, no reply */
			log_tls_failure(s, "TLS handshake");
			close_peer_gone(s);
			return;
		}
		if (h == 0) {
			flush_output(s);
			arm_recv(s);
			return;
		}
		s->tls_handshaking = false;
		smtp_tls_started(s->smtp); /* RFC 3207: forget the plaintext session */
	}
	tls_pump(s);
}

/* Command bytes in a pool buffer: act on them there, keep what must wait. */
static void take_command_bytes(struct session *s, const char *p, size_t n)
{
	if (s->cmdlen == 0) {
		size_t used = feed(s, p, n);
		p += used;
		n -= used;
	}
	if (n && !cmd_append(s, p, n))
		refuse_input(s);
	set_deadline(s);
}

/* A completion of the multishot recv; its buffer goes back to the pool
 * before the next completion is looked at. */
static void on_recv_pooled(struct session *s, int res, unsigned flags)
{
	struct bufring *br = s->w->bufring;
	const char *bytes = bufring_bytes(br, flags);
	if (!(flags & IORING_CQE_F_MORE))
		s->recv_pending = s->multishot = false;
	if (res > 0 && bytes && !s->closing) {
		s->w->stats.pooled_reads++;
		take_command_bytes(s, bytes, (size_t)res);
	}
	if (bytes)
		bufring_give_back(br, flags);
	if (s->closing) {
		flush_output(s); /* the 221, or the reason we are closing */
		return;
	}
	if (res == -ENOBUFS) {
		s->own_buffer_once = true; /* the pool is dry: one read of our own */
		s->w->stats.pool_dry++;
	}
	else if (res == 0 || (res > 0 && !bytes) || (res < 0 && res != -ECANCELED)) {
		close_peer_gone(s);
		return;
	}
	process_commands(s);
}

static void on_recv(struct session *s, int res, unsigned flags)
{
	if (s->multishot) {
		on_recv_pooled(s, res, flags);
		return;
	}
	s->recv_pending = false;
	if (s->closing)
		return;
	if (res <= 0) { /* peer closed, or an error: nothing to answer */
		close_peer_gone(s);
		return;
	}
	if (s->tls) {
		on_recv_tls(s, res);
		return;
	}
	deliver_plain(s, (size_t)res);
	process_commands(s);
}

static void on_send(struct session *s, int res)
{
	s->send_pending = false;
	pin_output(s, false);
	if (res < 0) { /* the peer is gone: drop what we could not send */
		smtp_output_done(s->smtp, (size_t)-1);
		close_peer_gone(s);
		return;
	}
	if (s->sending_cipher)
		tls_conn_output_done(s->tls, (size_t)res);
	else
		smtp_output_done(s->smtp, (size_t)res);
	size_t unsent;
	smtp_output(s->smtp, &unsent);
	if (s->tls_pending_switch && !unsent)
		switch_to_tls(s);
	if (s->cmdlen && !s->tls_pending_switch)
		process_commands(s); /* commands held back while replies piled up */
	else
		flush_output(s);
}

void session_complete(struct session *s, struct ring_op *op, int res, unsigned cqe_flags)
{
	switch (op->kind) {
	case OP_RECV:
		on_recv(s, res, cqe_flags);
		break;
	case OP_SEND:
		on_send(s, res);
		break;
	case OP_SPOOL:
		spool_step_done(s, res);
		break;
	default: /* OP_CANCEL: of the recv at close, or of the multishot recv */
		if (op == &s->stop_op)
			s->stop_pending = false;
		else
			s->cancel_pending = false;
		break;
	}
	maybe_free(s);
}

/* ------------------------------------------------------------- start */

static void peer_text(struct session *s)
{
	if (s->peer.ss_family == AF_INET6) {
		const struct in6_addr *a = &((struct sockaddr_in6 *)&s->peer)->sin6_addr;
		inet_ntop(AF_INET6, a, s->ip, sizeof s->ip);
	} else {
		inet_ntop(AF_INET, &((struct sockaddr_in *)&s->peer)->sin_addr, s->ip, sizeof s->ip);
	}
	if (spf_ip_parse(s->ip, &s->spf_ip) < 0) /* IPv4-mapped IPv6 becomes IPv4 */
		memset(&s->spf_ip, 0, sizeof s->spf_ip);
}

void session_start(struct worker *w, int fd, const struct sockaddr_storage *peer, bool busy)
{
	struct session *s = calloc(1, sizeof *s);
	struct smtp_config sc = {.hostname = w->cfg->hostname, .max_message = w->cfg->message_size,
				 .max_recipients = w->cfg->recipients,
				 .tls_available = w->shared->tls_ctx != NULL};
	if (s)
		s->smtp = smtp_session_new(&sc);
	if (!s || !s->smtp) {
		free(s);
		close(fd);
		atomic_fetch_sub(&w->shared->sessions, 1);
		bpf_steer_load(w->id, -1);
		return;
	}
	s->w = w;
	s->fd = fd;
	s->id = ++w->next_session;
	s->peer = *peer;
	s->spool_fd = -1;
	s->recv_op = (struct ring_op){OP_RECV, s};
	s->send_op = (struct ring_op){OP_SEND, s};
	s->spool_op = (struct ring_op){OP_SPOOL, s};
	s->cancel_op = (struct ring_op){OP_CANCEL, s};
	s->stop_op = (struct ring_op){OP_CANCEL, s};
	peer_text(s);
	session_link(w, s);
	if (!busy)
		s->counted_ip = worker_ip_enter(w, peer);
	smtp_greet(s->smtp, busy ? SMTP_GREET_BUSY : !s->counted_ip ? SMTP_GREET_BUSY_PEER : SMTP_GREET_READY);
	if (smtp_event(s->smtp) == SMTP_EV_CLOSE)
		begin_close(s); /* the 421 for a busy server, then close */
	flush_output(s);
	arm_recv(s);
	maybe_free(s);
}

struct session *session_next(const struct session *s)
{
	return s->next;
}

struct session **session_dirsync_link(struct session *s)
{
	return &s->dirsync_next;
}

void session_dirsync_done(struct session *s, int res)
{
	spool_step_done(s, res);
	flush_output(s);
	maybe_free(s);
}

/* In a transaction: from MAIL to its reply. A drain lets it finish. */
bool session_busy(const struct session *s)
{
	if (s->answered_early)
		return false; /* told 451 already: the verdict's result will be dropped */
	return s->message_ready || s->verdict_running || s->step != SP_NONE ||
	       s->rx != RX_CMD || smtp_envelope(s->smtp)->have_mail;
}

/* Replies the client has not taken: queued, or in a send in flight. */
static bool output_waiting(struct session *s)
{
	size_t plain, cipher = 0;
	smtp_output(s->smtp, &plain);
	if (s->tls)
		tls_conn_output(s->tls, &cipher);
	return s->send_pending || (plain && !s->tls_handshaking) || cipher;
}

void session_sweep(struct session *s, time_t now, bool drain_now)
{
	if (s->closing) { /* without replies to cut, it waits for its checks or spool step */
		if (now >= s->deadline && output_waiting(s))
			cut_connection(s);
		maybe_free(s);
		return;
	}
	/* A spool write under way is waited for, past timeouts.drain too: its
	 * message may already be durable, so only its own reply (and log
	 * line) may say what became of it. It ends by itself (a journal full
	 * for want of room to publish waits 10 s at most, then 452). */
	if (drain_now && s->step != SP_NONE)
		return;
	if (!drain_now && now >= s->deadline && s->message_ready && s->step == SP_NONE &&
	    !s->answered_early) {
		answer_data_term(s);
		maybe_free(s);
		return;
	}
	if (drain_now || (now >= s->deadline && !s->verdict_running && !s->message_ready &&
			  s->step == SP_NONE)) {
		char line[300];
		snprintf(line, sizeof line, drain_now ? "421 4.3.2 %s Service shutting down"
						      : "421 4.4.2 %s Timeout, closing connection",
			 s->w->cfg->hostname);
		smtp_abort(s->smtp, line);
		smtp_event(s->smtp);
		begin_close(s);
		flush_output(s);
		maybe_free(s);
	}
}
