/*
 * smtp — the server side of SMTP (RFC 5321) as a pure state machine: bytes
 * in, replies and events out, no I/O, no clock.
 *
 * Owns: command parsing and sequencing (greeting, EHLO/HELO, MAIL, RCPT,
 * DATA, BDAT, RSET, NOOP, QUIT, VRFY, HELP, STARTTLS), the extensions
 * advertised (PIPELINING, SIZE, 8BITMIME, ENHANCEDSTATUSCODES, STARTTLS,
 * CHUNKING, SMTPUTF8, SUBMITTER), the envelope, the limits (line length,
 * message size, recipients, errors) and the replies they give.
 *
 * The host (a worker, a test) drives it:
 *  - smtp_input() with command bytes; it consumes whole lines and stops at
 *    an event the host must act on (smtp_event()). Replies accumulate in
 *    the output buffer (smtp_output()/smtp_output_done()); pipelined
 *    commands simply queue several.
 *  - In DATA, message bytes go through smtp_data_input() *in place* in the
 *    host's message arena: dot-unstuffing compacts them where they lie and
 *    the end-of-data line is found across any buffer boundary. BDAT chunks
 *    are counted by smtp_bdat_input() and never changed.
 *  - At SMTP_EV_MESSAGE the host verifies the message and answers with
 *    smtp_message_reply(); input is not consumed until it does. A message
 *    over max_message is the host's to answer too (SMTP_REPLY_OVERSIZE_*),
 *    so that it can log the envelope first.
 *  - After STARTTLS the host runs the handshake and calls
 *    smtp_tls_started(); plaintext that followed the command is discarded
 *    (never executed inside TLS).
 */
#ifndef AUTHGATE_SMTP_H
#define AUTHGATE_SMTP_H

#include <stdbool.h>
#include <stddef.h>

#define SMTP_ADDR_MAX 512 /* a reverse- or forward-path, decoded */
#define SMTP_HELO_MAX 256

/* RFC 1870 §6.2 / RFC 3463: the reply to a message over max_message. */
#define SMTP_REPLY_OVERSIZE_CODE 552
#define SMTP_REPLY_OVERSIZE_STATUS "5.3.4"
#define SMTP_REPLY_OVERSIZE_TEXT "Message size exceeds fixed maximum message size"

struct smtp_config {
	const char *hostname;
	size_t max_line;        /* command line incl. CRLF; 0: 2048 */
	size_t max_message;     /* octets; 0: 25 MiB */
	unsigned max_recipients; /* 0: 100 */
	unsigned max_errors;    /* bad commands before 421; 0: 20 */
	bool tls_available;     /* offer STARTTLS */
};

enum smtp_event {
	SMTP_EV_NONE,       /* nothing to do: send the output, read more */
	SMTP_EV_MAIL,       /* a transaction began (MAIL accepted): start SPF */
	SMTP_EV_DATA,       /* 354 queued: message bytes follow, use smtp_data_input */
	SMTP_EV_BDAT,       /* a BDAT chunk follows: smtp_bdat_remaining() octets */
	SMTP_EV_MESSAGE,    /* the message is complete: verify, then smtp_message_reply;
			     * or it passed max_message (smtp_message_oversize):
			     * answer with SMTP_REPLY_OVERSIZE_* unverified */
	SMTP_EV_STARTTLS,   /* 220 queued: send it, handshake, then smtp_tls_started */
	SMTP_EV_CLOSE,      /* 221 or 421 queued: send it, then close */
	SMTP_EV_ABANDON,    /* RSET or HELO/EHLO ended an open transaction (MAIL
			     * given, no reply to a message): its envelope is
			     * smtp_abandoned_envelope(), for the log */
};

struct smtp_envelope {
	char helo[SMTP_HELO_MAX];
	bool esmtp;
	bool have_mail;
	char mail_from[SMTP_ADDR_MAX]; /* "" for the null reverse-path */
	char submitter[SMTP_ADDR_MAX]; /* RFC 4405 SUBMITTER=, "" when absent */
	size_t declared_size;          /* SIZE=, 0 when absent */
	bool body_8bit, smtputf8;
	char (*rcpt)[SMTP_ADDR_MAX];
	unsigned nrcpt;
};

struct smtp_session;

struct smtp_session *smtp_session_new(const struct smtp_config *cfg);
void smtp_session_free(struct smtp_session *s);

enum smtp_greeting {
	SMTP_GREET_READY,     /* 220 */
	SMTP_GREET_BUSY,      /* 421 4.7.0: limits.sessions */
	SMTP_GREET_BUSY_PEER, /* 421 4.7.0: limits.sessions_per_ip */
};

/* Queue the greeting: the 220, or a 421 4.7.0 that says which limit was
 * reached and closes the session. */
void smtp_greet(struct smtp_session *s, enum smtp_greeting how);

/* Consume command bytes; returns how many were used. Stops early at an
 * event (see smtp_event) and while a message awaits its reply. */
size_t smtp_input(struct smtp_session *s, const char *buf, size_t len);
enum smtp_event smtp_event(struct smtp_session *s); /* and clears it */

/* DATA phase. The new bytes are base[rpos .. rpos+n); unstuffed message
 * bytes are written at base[*wpos ..] (wpos <= rpos), advancing *wpos.
 * Returns the bytes consumed: n, or fewer when the end of data was found
 * (the rest are commands again, for smtp_input). */
size_t smtp_data_input(struct smtp_session *s, char *base, size_t *wpos,
		       size_t rpos, size_t n);
/* True while DATA message bytes are expected (until the end-of-data line). */
bool smtp_wants_data(const struct smtp_session *s);
/* BDAT: octets of the current chunk still to come, and accounting for n
 * of them having landed in the arena. Returns the octets used (<= n). */
size_t smtp_bdat_remaining(const struct smtp_session *s);
size_t smtp_bdat_input(struct smtp_session *s, size_t n);
/* True when the current chunk is read only to be thrown away (its BDAT
 * was refused): the host must not keep its octets. */
bool smtp_bdat_discarding(const struct smtp_session *s);
/* True while the bytes being read end in SMTP_EV_MESSAGE: DATA, or a
 * BDAT LAST chunk being kept. (A fail known now is then the verdict's to
 * act on; between BDAT chunks it is not.) */
bool smtp_message_coming(const struct smtp_session *s);

/* The message's size so far, and whether it passed max_message (the
 * excess is not kept: the reply must be SMTP_REPLY_OVERSIZE whatever the
 * verdict; a BDAT chunk that passes it ends the transaction). */
size_t smtp_message_size(const struct smtp_session *s);
bool smtp_message_oversize(const struct smtp_session *s);

/* Answer the message: e.g. 250 "2.0.0" "queued as X", 550 "5.7.23" "...".
 * Ends the transaction (the envelope is reset; HELO is kept). */
void smtp_message_reply(struct smtp_session *s, unsigned code,
			const char *status, const char *text);

/* An early verdict on the transaction (an SPF fail): every later RCPT
 * and the DATA/BDAT of this transaction get this reply instead. */
void smtp_reject_transaction(struct smtp_session *s, unsigned code,
			     const char *status, const char *text);

/* The host ends the session itself (timeout, shutdown): queue this reply
 * line (e.g. "421 4.4.2 mx Timeout") and raise SMTP_EV_CLOSE. */
void smtp_abort(struct smtp_session *s, const char *reply_line);

void smtp_tls_started(struct smtp_session *s);
bool smtp_tls_active(const struct smtp_session *s);

const struct smtp_envelope *smtp_envelope(const struct smtp_session *s);
/* The envelope of the transaction the last SMTP_EV_ABANDON ended, and
 * the command that ended it ("RSET", "EHLO", "HELO"); valid until the
 * next one. */
const struct smtp_envelope *smtp_abandoned_envelope(const struct smtp_session *s,
						   const char **command);

/* Replies queued and not yet taken. */
const char *smtp_output(const struct smtp_session *s, size_t *len);
void smtp_output_done(struct smtp_session *s, size_t n);
/* A send reads smtp_output()'s bytes until it completes: while pinned,
 * replies added meanwhile never move them. */
void smtp_output_pin(struct smtp_session *s, bool pinned);
/* "421 4.4.2": the code and enhanced status of the last reply queued
 * ("" before the greeting); for the log. */
const char *smtp_last_reply(const struct smtp_session *s);

#endif
