/* Unit tests: the SMTP state machine. Golden transcripts in
 * tests/data/smtp/NN-name.txt (client input → exact server output), plus
 * byte-level DATA tests: dot-unstuffing in place and the end-of-data line
 * found across every possible buffer split.
 *
 * Transcript lines:
 *   C: text      client line (escapes), CRLF appended, fed on its own
 *   P: text      raw bytes fed in one piece (\r \n \t \\ escapes): pipelining
 *   S: text      one expected server reply line (compared in order, in full)
 *   M: text      the message the host received at the last end-of-data (escapes)
 *   A: text      a transaction RSET or HELO/EHLO abandoned (SMTP_EV_ABANDON):
 *                "COMMAND HELO <FROM> RCPT,RCPT"; compared as a list of their
 *                own at the end (their place among the S: lines is cosmetic)
 *   > verdict CODE STATUS TEXT   how the host answers messages from now on
 *   > reject-tx CODE STATUS TEXT an early verdict on the open transaction
 *   > tls                        the host finished the TLS handshake
 *   > busy                       greet with 421 (server full) instead of 220
 *   > busy-peer                  greet with 421 (the client's address has its sessions)
 *   E: close     the session asked to be closed (after QUIT or 421)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smtp_data_reference.h"
#include "userspace/smtp.h"

struct host {
	struct smtp_session *s;
	char arena[1 << 16];
	size_t wpos;
	char message[1 << 16];
	size_t message_len;
	unsigned code;
	char status[16], text[128];
	bool closed;
	char out[1 << 16];
	size_t outlen;
	bool in_data;
	char abandoned[4096]; /* one "A:" line per SMTP_EV_ABANDON */
	size_t ablen;
};

/* Append to buf (cap bytes, *len used); fails the test rather than
 * truncate. */
static void append(char *buf, size_t cap, size_t *len, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *len, cap - *len, fmt, ap);
	va_end(ap);
	assert_true(n >= 0 && (size_t)n < cap - *len);
	*len += (size_t)n;
}

/* "COMMAND HELO <FROM> RCPT,RCPT" (no list without recipients): what
 * the host would log. */
static void note_abandoned(struct host *h)
{
	const char *command;
	const struct smtp_envelope *env = smtp_abandoned_envelope(h->s, &command);
	assert_non_null(env);
	assert_true(env->have_mail);
	size_t cap = sizeof h->abandoned;
	append(h->abandoned, cap, &h->ablen, "%s %s <%s>", command, env->helo, env->mail_from);
	for (unsigned i = 0; i < env->nrcpt; i++)
		append(h->abandoned, cap, &h->ablen, "%s%s", i ? "," : " ", env->rcpt[i]);
	append(h->abandoned, cap, &h->ablen, "\n");
}

static void take_output(struct host *h)
{
	size_t n;
	const char *o = smtp_output(h->s, &n);
	assert_true(h->outlen + n < sizeof h->out);
	memcpy(h->out + h->outlen, o, n);
	h->outlen += n;
	smtp_output_done(h->s, n);
}

static void handle_events(struct host *h)
{
	for (;;) {
		enum smtp_event ev = smtp_event(h->s);
		if (ev == SMTP_EV_MAIL) { /* a new transaction: nothing before is its message */
			h->wpos = 0;
			return;
		}
		if (ev == SMTP_EV_NONE || ev == SMTP_EV_STARTTLS ||
		    ev == SMTP_EV_BDAT)
			return;
		if (ev == SMTP_EV_DATA) {
			h->in_data = true;
			h->wpos = 0;
			return;
		}
		if (ev == SMTP_EV_CLOSE) {
			h->closed = true;
			return;
		}
		if (ev == SMTP_EV_ABANDON) {
			note_abandoned(h);
			return;
		}
		assert_int_equal(ev, SMTP_EV_MESSAGE);
		size_t len = h->wpos;
		h->wpos = 0;
		if (smtp_message_oversize(h->s)) { /* never verified, never kept */
			smtp_message_reply(h->s, SMTP_REPLY_OVERSIZE_CODE, SMTP_REPLY_OVERSIZE_STATUS,
					   SMTP_REPLY_OVERSIZE_TEXT);
			continue;
		}
		memcpy(h->message, h->arena, len);
		h->message_len = len;
		smtp_message_reply(h->s, h->code, h->status, h->text);
	}
}

/* Feed bytes the way a worker would: commands to smtp_input, message
 * bytes into the arena for smtp_data_input / smtp_bdat_input. */
static void feed(struct host *h, const char *buf, size_t len)
{
	size_t used = 0;
	int guard = 0;
	while (used < len && !h->closed) {
		assert_true(++guard < 100000);
		if (h->in_data) {
			size_t avail = len - used, rpos = h->wpos;
			memcpy(h->arena + rpos, buf + used, avail);
			used += smtp_data_input(h->s, h->arena, &h->wpos, rpos, avail);
			h->in_data = smtp_wants_data(h->s);
			handle_events(h);
			take_output(h);
			continue;
		}
		size_t left = smtp_bdat_remaining(h->s);
		if (left) {
			size_t n = len - used < left ? len - used : left;
			bool keep = !smtp_bdat_discarding(h->s);
			memcpy(h->arena + h->wpos, buf + used, n);
			size_t got = smtp_bdat_input(h->s, n);
			h->wpos += keep ? got : 0;
			used += n;
			handle_events(h);
			continue;
		}
		size_t n = smtp_input(h->s, buf + used, len - used);
		used += n;
		handle_events(h);
		take_output(h);
		if (n == 0 && !h->in_data && !smtp_bdat_remaining(h->s))
			break;
	}
	take_output(h);
}

static size_t unescape(const char *in, char *out)
{
	size_t n = 0;
	for (; *in; in++) {
		if (*in == '\\' && in[1]) {
			in++;
			out[n++] = *in == 'r' ? '\r' : *in == 'n' ? '\n' : *in == 't' ? '\t' : *in;
		} else {
			out[n++] = *in;
		}
	}
	out[n] = '\0';
	return n;
}

static void run_transcript(const char *path)
{
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	struct smtp_config cfg = {.hostname = "mx.test", .max_message = 1000,
				  .max_recipients = 3, .max_errors = 5, .tls_available = true};
	struct host *h = calloc(1, sizeof *h);
	h->s = smtp_session_new(&cfg);
	h->code = 250;
	strcpy(h->status, "2.0.0");
	strcpy(h->text, "queued");
	char want[1 << 16] = "", want_abandoned[4096] = "";
	size_t wantlen = 0, want_ablen = 0;
	bool greeted = false, expect_close = false;
	enum smtp_greeting greeting = SMTP_GREET_READY;
	char line[4096], raw[4096];
	char expect_msg[1 << 16];
	long expect_msg_len = -1;
	while (fgets(line, sizeof line, f)) {
		line[strcspn(line, "\n")] = '\0';
		if (!line[0] || line[0] == '#')
			continue;
		if (!strcmp(line, "> busy")) {
			greeting = SMTP_GREET_BUSY;
			continue;
		}
		if (!strcmp(line, "> busy-peer")) {
			greeting = SMTP_GREET_BUSY_PEER;
			continue;
		}
		if (!greeted) {
			smtp_greet(h->s, greeting);
			take_output(h);
			handle_events(h);
			greeted = true;
		}
		if (!strncmp(line, "C: ", 3)) {
			size_t n = unescape(line + 3, raw);
			memcpy(raw + n, "\r\n", 3);
			feed(h, raw, n + 2);
		} else if (!strncmp(line, "P: ", 3)) {
			feed(h, raw, unescape(line + 3, raw));
		} else if (!strncmp(line, "S: ", 3)) {
			wantlen += (size_t)sprintf(want + wantlen, "%s\r\n", line + 3);
		} else if (!strncmp(line, "M: ", 3)) {
			expect_msg_len = (long)unescape(line + 3, expect_msg);
			if (h->message_len != (size_t)expect_msg_len ||
			    memcmp(h->message, expect_msg, h->message_len) != 0)
				fail_msg("%s: message is '%.*s'", path, (int)h->message_len, h->message);
		} else if (!strncmp(line, "> verdict ", 10)) {
			assert_int_equal(sscanf(line + 10, "%u %15s %127[^\n]", &h->code, h->status, h->text), 3);
		} else if (!strncmp(line, "> reject-tx ", 12)) {
			unsigned code;
			char st[16], text[128];
			assert_int_equal(sscanf(line + 12, "%u %15s %127[^\n]", &code, st, text), 3);
			smtp_reject_transaction(h->s, code, st, text);
		} else if (!strcmp(line, "> tls")) {
			smtp_tls_started(h->s);
		} else if (!strcmp(line, "E: close")) {
			expect_close = true;
		} else if (!strncmp(line, "A: ", 3)) {
			append(want_abandoned, sizeof want_abandoned, &want_ablen, "%s\n", line + 3);
		} else {
			fail_msg("%s: bad transcript line '%s'", path, line);
		}
	}
	fclose(f);
	if (!greeted) {
		smtp_greet(h->s, greeting);
		take_output(h);
		handle_events(h);
	}
	h->out[h->outlen] = '\0';
	if (strcmp(h->out, want) != 0)
		fail_msg("%s:\n--- want\n%s--- got\n%s---", path, want, h->out);
	assert_int_equal(h->closed, expect_close);
	h->abandoned[h->ablen] = '\0';
	if (strcmp(h->abandoned, want_abandoned) != 0)
		fail_msg("%s: abandoned transactions\n--- want\n%s--- got\n%s---", path,
			 want_abandoned, h->abandoned);
	smtp_session_free(h->s);
	free(h);
}

static void golden_transcripts(void **state)
{
	(void)state;
	DIR *d = opendir("tests/data/smtp");
	assert_non_null(d);
	struct dirent *e;
	int n = 0;
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".txt"))
			continue;
		char path[512];
		snprintf(path, sizeof path, "tests/data/smtp/%s", e->d_name);
		run_transcript(path);
		n++;
	}
	closedir(d);
	assert_true(n >= 10);
	print_message("# %d transcripts\n", n);
}

/* Feed one DATA stream split at every position (and byte by byte): the
 * unstuffed message and the leftover commands must not depend on it. */
static void check_data_splits(const char *stream, size_t len, const char *want_msg,
			      size_t want_len, size_t want_consumed)
{
	struct smtp_config cfg = {.hostname = "mx.test"};
	for (size_t split = 0; split <= len + 1; split++) {
		struct smtp_session *s = smtp_session_new(&cfg);
		const char *setup = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
		size_t used = 0, setup_len = strlen(setup);
		while (used < setup_len) {
			used += smtp_input(s, setup + used, setup_len - used);
			smtp_event(s);
		}
		char *arena = malloc(len + 1);
		size_t wpos = 0, consumed = 0;
		/* split == len + 1: byte by byte */
		size_t step = split == len + 1 ? 1 : split ? split : len;
		while (consumed < len) {
			size_t n = len - consumed < step ? len - consumed : step;
			/* Like a worker: each read lands right where the message
			 * ends so far, so in-place unstuffing must never let the
			 * writer overtake the reader. */
			memcpy(arena + wpos, stream + consumed, n);
			size_t got = smtp_data_input(s, arena, &wpos, wpos, n);
			consumed += got;
			if (got < n || smtp_event(s) == SMTP_EV_MESSAGE)
				break;
		}
		if (wpos != want_len || memcmp(arena, want_msg, want_len) != 0 ||
		    consumed != want_consumed)
			fail_msg("split %zu: got %zu bytes '%.*s', consumed %zu", split, wpos,
				 (int)wpos, arena, consumed);
		free(arena);
		smtp_session_free(s);
	}
}

static void data_unstuffing_and_terminator(void **state)
{
	(void)state;
	/* Stuffed dots removed; ".\rX" is data; bare LF is data; the first
	 * CRLF "." CRLF ends it and what follows is commands again. */
	const char s1[] = "Subject: x\r\n\r\n..leading dot\r\n..\r\n.x\r\nbare\nlf.\r\n"
			  ".\rX\r\n.\r\nQUIT\r\n";
	const char w1[] = "Subject: x\r\n\r\n.leading dot\r\n.\r\nx\r\nbare\nlf.\r\n\rX\r\n";
	check_data_splits(s1, sizeof s1 - 1, w1, sizeof w1 - 1, sizeof s1 - 1 - 6);
	/* An empty message. */
	check_data_splits(".\r\n", 3, "", 0, 3);
	/* A bare "\n.\n" never ends the data (no SMTP smuggling). */
	const char s3[] = "a\n.\nb\r\n.\r\n";
	check_data_splits(s3, sizeof s3 - 1, "a\n.\nb\r\n", 7, sizeof s3 - 1);
	/* Nor does "\r\n.\n". */
	const char s4[] = "a\r\n.\nb\r\n.\r\n";
	check_data_splits(s4, sizeof s4 - 1, "a\r\n\nb\r\n", 7, sizeof s4 - 1);
}

/* Random streams of dots, CRs, LFs and letters, each ended by "\r\n.\r\n"
 * and a command, fed in reads of random sizes with random size limits:
 * the arena, the bytes consumed and the oversize flag must match the plain
 * statement of the rules in smtp_data_reference.h. */
static void data_input_matches_plain_reference(void **state)
{
	(void)state;
	static const char alphabet[] = "..\r\r\n\naaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
	unsigned seed = 20261127;
	char in[700], want[700], arena[720];
	for (int round = 0; round < 4000; round++) {
		size_t body = (size_t)(rand_r(&seed) % 600), len = 0;
		for (size_t i = 0; i < body; i++)
			in[len++] = alphabet[rand_r(&seed) % (sizeof alphabet - 1)];
		memcpy(in + len, "\r\n.\r\nNOOP\r\n", 11);
		len += 11;
		size_t max = round % 3 == 0 ? 1u << 20 : 1 + (size_t)(rand_r(&seed) % 500);
		size_t want_kept, want_unstuffed;
		size_t want_used = smtp_data_reference(in, len, max, want, &want_kept, &want_unstuffed);
		assert_true(want_used > 0);

		struct smtp_config cfg = {.hostname = "mx.test", .max_message = max};
		struct smtp_session *s = smtp_session_new(&cfg);
		const char *setup = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
		for (size_t used = 0; used < strlen(setup); smtp_event(s))
			used += smtp_input(s, setup + used, strlen(setup) - used);
		size_t wpos = 0, used = 0;
		while (used < len && smtp_wants_data(s)) {
			size_t n = 1 + (size_t)(rand_r(&seed) % (round % 2 ? 8 : 300));
			if (n > len - used)
				n = len - used;
			memcpy(arena + wpos, in + used, n); /* a read lands where the message ends */
			used += smtp_data_input(s, arena, &wpos, wpos, n);
		}
		bool oversize = smtp_event(s) == SMTP_EV_MESSAGE && smtp_message_oversize(s);
		if (used != want_used || wpos != want_kept || memcmp(arena, want, wpos) != 0 ||
		    oversize != (want_unstuffed > max))
			fail_msg("round %d: used %zu/%zu kept %zu/%zu oversize %d", round, used, want_used,
				 wpos, want_kept, oversize);
		smtp_session_free(s);
	}
}

static void oversize_message_is_552_and_session_goes_on(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test", .max_message = 10};
	struct smtp_session *s = smtp_session_new(&cfg);
	const char *setup = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
	size_t used = 0;
	while (used < strlen(setup)) {
		used += smtp_input(s, setup + used, strlen(setup) - used);
		smtp_event(s);
	}
	char arena[] = "0123456789abcdefghij\r\n.\r\nNOOP\r\n";
	size_t wpos = 0, n = smtp_data_input(s, arena, &wpos, 0, sizeof arena - 1);
	assert_int_equal(n, sizeof arena - 1 - 6);
	assert_int_equal(wpos, 10); /* nothing beyond the limit was kept */
	/* the host is told, to answer (and log) it without verifying */
	assert_int_equal(smtp_event(s), SMTP_EV_MESSAGE);
	assert_true(smtp_message_oversize(s));
	assert_int_equal(smtp_input(s, arena + n, 6), 0); /* the reply first */
	smtp_message_reply(s, SMTP_REPLY_OVERSIZE_CODE, SMTP_REPLY_OVERSIZE_STATUS,
			   SMTP_REPLY_OVERSIZE_TEXT);
	assert_int_equal(smtp_input(s, arena + n, 6), 6);
	size_t len;
	const char *out = smtp_output(s, &len);
	const char *tail = "552 5.3.4 Message size exceeds fixed maximum message size\r\n250 2.0.0 OK\r\n";
	assert_true(len >= strlen(tail));
	assert_memory_equal(out + len - strlen(tail), tail, strlen(tail));
	smtp_session_free(s);
}

/* RFC 1870: the limit is the largest size accepted. The terminator's
 * "." CRLF is not part of the message, even when the message has already
 * filled the limit. */
static void message_of_exactly_the_limit_is_accepted(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test", .max_message = 12};
	struct smtp_session *s = smtp_session_new(&cfg);
	const char *setup = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
	for (size_t used = 0; used < strlen(setup); smtp_event(s))
		used += smtp_input(s, setup + used, strlen(setup) - used);
	char arena[] = "0123456789\r\n.\r\n";
	size_t wpos = 0;
	assert_int_equal(smtp_data_input(s, arena, &wpos, 0, sizeof arena - 1), sizeof arena - 1);
	assert_int_equal(wpos, 12);
	assert_int_equal(smtp_event(s), SMTP_EV_MESSAGE);
	smtp_session_free(s);
}

/* A session fed `commands` (events taken and dropped), its output so far
 * taken too; *out gets that output (NUL-terminated, static). */
static struct smtp_session *session_after(const struct smtp_config *cfg, const char *commands,
					  const char **out)
{
	static char buf[1 << 16];
	struct smtp_session *s = smtp_session_new(cfg);
	assert_non_null(s);
	size_t used = 0, len = strlen(commands), n;
	while (used < len) {
		size_t got = smtp_input(s, commands + used, len - used);
		smtp_event(s);
		assert_true(got > 0);
		used += got;
	}
	const char *o = smtp_output(s, &n);
	assert_true(n < sizeof buf);
	memcpy(buf, o, n);
	buf[n] = '\0';
	smtp_output_done(s, n);
	*out = buf;
	return s;
}

/* The transcripts all run with TLS available; without it, STARTTLS is
 * neither offered nor accepted (RFC 3207 §4). */
static void starttls_without_tls_is_not_offered_and_refused_502(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test"};
	const char *out;
	struct smtp_session *s = session_after(&cfg, "EHLO c\r\nSTARTTLS\r\nNOOP\r\n", &out);
	assert_null(strstr(out, "STARTTLS\r\n"));
	assert_non_null(strstr(out, "\r\n502 5.5.1 STARTTLS not available\r\n250 2.0.0 OK\r\n"));
	assert_false(smtp_tls_active(s));
	smtp_session_free(s);
}

/* RFC 6152: BODY=8BITMIME is the host's to see in the envelope, for that
 * transaction only; BODY=7BIT and no BODY at all are 7-bit. */
static void body_8bitmime_reaches_the_envelope_for_one_transaction(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test"};
	const char *out;
	struct smtp_session *s = session_after(
		&cfg, "EHLO c\r\nMAIL FROM:<a@b.c> BODY=8BITMIME SMTPUTF8\r\nRCPT TO:<d@e.f>\r\nDATA\r\n",
		&out);
	assert_true(smtp_envelope(s)->body_8bit);
	assert_true(smtp_envelope(s)->smtputf8);
	char msg[] = "x\r\n.\r\n";
	size_t wpos = 0;
	assert_int_equal(smtp_data_input(s, msg, &wpos, 0, sizeof msg - 1), sizeof msg - 1);
	assert_int_equal(smtp_event(s), SMTP_EV_MESSAGE);
	smtp_message_reply(s, 250, "2.0.0", "queued");
	assert_int_equal(smtp_input(s, "MAIL FROM:<a@b.c>\r\n", 19), 19);
	assert_true(smtp_envelope(s)->have_mail);
	assert_false(smtp_envelope(s)->body_8bit); /* the next transaction starts 7-bit */
	assert_false(smtp_envelope(s)->smtputf8);
	smtp_session_free(s);
	s = session_after(&cfg, "EHLO c\r\nMAIL FROM:<a@b.c> BODY=7BIT\r\n", &out);
	assert_true(smtp_envelope(s)->have_mail);
	assert_false(smtp_envelope(s)->body_8bit);
	smtp_session_free(s);
}

/* A client that pipelines without reading: input stops at the output
 * high-water mark (32 KiB), so no reply is ever dropped at the output
 * cap; once the host sends, the rest is read and answered. */
static void unread_replies_stop_input_and_none_is_lost(void **state)
{
	(void)state;
	enum { N = 4000 };
	struct smtp_config cfg = {.hostname = "mx.test", .max_errors = 100};
	struct smtp_session *s = smtp_session_new(&cfg);
	static char in[N * 6];
	for (int i = 0; i < N; i++)
		memcpy(in + i * 6, "NOOP\r\n", 6);
	size_t used = smtp_input(s, in, sizeof in), n;
	assert_true(used > 0 && used < sizeof in); /* it stopped: nobody read the replies */
	smtp_output(s, &n);
	assert_int_equal(n, used / 6 * 14); /* each command read was answered */
	unsigned replies = 0;
	for (int guard = 0; guard < 100; guard++) {
		const char *o = smtp_output(s, &n);
		for (size_t i = 0; i < n; i += 14, replies++)
			assert_memory_equal(o + i, "250 2.0.0 OK\r\n", 14);
		smtp_output_done(s, n);
		if (used == sizeof in)
			break;
		used += smtp_input(s, in + used, sizeof in - used);
	}
	assert_int_equal(replies, N);
	smtp_session_free(s);
}

/* A NUL inside a command line is refused as a whole (not taken for
 * the end of the command): "NOOP\0..." is not NOOP. */
static void nul_in_a_command_is_500(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test"};
	struct smtp_session *s = smtp_session_new(&cfg);
	static const char in[] = "NOOP\0RSET\r\n";
	assert_int_equal(smtp_input(s, in, sizeof in - 1), sizeof in - 1);
	size_t n;
	const char *out = smtp_output(s, &n);
	assert_int_equal(n, strlen("500 5.5.2 NUL in command\r\n"));
	assert_memory_equal(out, "500 5.5.2 NUL in command\r\n", n);
	smtp_session_free(s);
}

/* The log's reply field: the code plus the enhanced status code when the
 * reply has one ("250 2.1.0"), the bare code when it has not (EHLO). */
static void last_reply_has_the_enhanced_status_code(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test"};
	const char *out;
	struct smtp_session *s = session_after(&cfg, "EHLO c\r\n", &out);
	assert_string_equal(smtp_last_reply(s), "250");
	assert_int_equal(smtp_input(s, "MAIL FROM:<a@b.c>\r\n", 19), 19);
	assert_string_equal(smtp_last_reply(s), "250 2.1.0");
	assert_int_equal(smtp_event(s), SMTP_EV_MAIL);
	assert_int_equal(smtp_input(s, "BOGUS\r\n", 7), 7);
	assert_string_equal(smtp_last_reply(s), "500 5.5.1");
	smtp_session_free(s);
}

/* The host's verdict means something only while a message waits for it:
 * at any other time it is ignored (no reply, the transaction kept). */
static void message_reply_without_a_message_is_ignored(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test"};
	const char *out;
	struct smtp_session *s = session_after(&cfg, "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\n", &out);
	smtp_message_reply(s, 250, "2.0.0", "queued");
	size_t n;
	smtp_output(s, &n);
	assert_int_equal(n, 0);
	assert_true(smtp_envelope(s)->have_mail);
	assert_int_equal(smtp_envelope(s)->nrcpt, 1);
	smtp_session_free(s);
}

/* RFC 3207 §4.2: after the handshake nothing from before is known, the
 * EHLO included: the envelope the host sees has no HELO name and is not
 * ESMTP until the client says EHLO again. */
static void tls_start_forgets_the_ehlo(void **state)
{
	(void)state;
	struct smtp_config cfg = {.hostname = "mx.test", .tls_available = true};
	const char *out;
	struct smtp_session *s = session_after(&cfg, "EHLO c\r\nSTARTTLS\r\n", &out);
	assert_true(smtp_envelope(s)->esmtp);
	smtp_tls_started(s);
	assert_true(smtp_tls_active(s));
	assert_string_equal(smtp_envelope(s)->helo, "");
	assert_false(smtp_envelope(s)->esmtp);
	smtp_session_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_transcripts),
		cmocka_unit_test(data_unstuffing_and_terminator),
		cmocka_unit_test(data_input_matches_plain_reference),
		cmocka_unit_test(oversize_message_is_552_and_session_goes_on),
		cmocka_unit_test(message_of_exactly_the_limit_is_accepted),
		cmocka_unit_test(starttls_without_tls_is_not_offered_and_refused_502),
		cmocka_unit_test(body_8bitmime_reaches_the_envelope_for_one_transaction),
		cmocka_unit_test(unread_replies_stop_input_and_none_is_lost),
		cmocka_unit_test(nul_in_a_command_is_500),
		cmocka_unit_test(last_reply_has_the_enhanced_status_code),
		cmocka_unit_test(message_reply_without_a_message_is_ignored),
		cmocka_unit_test(tls_start_forgets_the_ehlo),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
