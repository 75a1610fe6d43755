/*
 * smtp — see smtp.h. Command lines are collected into a bounded line
 * buffer (command bytes only; message bytes never pass through it), parsed
 * verb first, and answered into a growing output buffer. Replies carry
 * RFC 3463 enhanced status codes.
 */
#include "smtp.h"

#include "pinbuf.h"

#include "../verify/senderid.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OUT_HIGH_WATER 32768 /* stop reading commands until the host sends */
#define OUT_MAX (OUT_HIGH_WATER + 8192)

enum state { ST_CMD, ST_DATA, ST_BDAT, ST_WAIT_REPLY, ST_TLS, ST_CLOSED };

/* Where the DATA scanner stands relative to line starts and the
 * <CRLF>.<CRLF> terminator. */
enum data_state { DS_LINE_START, DS_IN_LINE, DS_CR, DS_DOT, DS_DOT_CR };

struct smtp_session {
	struct smtp_config cfg;
	enum state state;
	enum smtp_event event;
	bool tls_active;
	unsigned errors;
	/* command line being collected */
	char *line;
	size_t linelen;
	bool overlong;
	/* output */
	struct pinbuf out; /* a send in flight may be reading it (smtp_output_pin) */
	size_t outlen;
	/* the transaction */
	struct smtp_envelope env;
	unsigned rcpt_cap;
	/* the last transaction RSET or HELO/EHLO abandoned, for the host's log
	 * (SMTP_EV_ABANDON); allocated at the first, its rcpt array swapped
	 * with env's, never copied */
	struct smtp_envelope *gone;
	unsigned gone_rcpt_cap;
	const char *gone_by; /* "RSET", "EHLO", "HELO" */
	bool tx_rejected;
	char tx_reply[300];
	/* message */
	enum data_state ds;
	bool cr_kept; /* the CR after a line-initial dot was stored */
	size_t msg_size;
	bool oversize;
	size_t bdat_left;
	bool bdat_last, bdat_discard, in_bdat;
	char bdat_error[300];
	char last_reply[16]; /* "CODE X.Y.Z" of the last reply, for the log */
};

static void reply(struct smtp_session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The code, and the enhanced status code when the line has one. */
static void note_reply(struct smtp_session *s, const char *line)
{
	size_t n = strspn(line, "0123456789");
	if (n == 3 && line[3] == ' ' && strspn(line + 4, "0123456789.") >= 5)
		n = 4 + strspn(line + 4, "0123456789.");
	if (n >= sizeof s->last_reply)
		n = sizeof s->last_reply - 1;
	memcpy(s->last_reply, line, n);
	s->last_reply[n] = '\0';
}

static void reply(struct smtp_session *s, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof buf - 3)
		n = (int)sizeof buf - 3;
	memcpy(buf + n, "\r\n", 2);
	n += 2;
	if (!pinbuf_reserve(&s->out, s->outlen, s->outlen + (size_t)n, 1024, OUT_MAX))
		return; /* bounded: the host stopped reading our replies */
	memcpy(s->out.p + s->outlen, buf, (size_t)n);
	s->outlen += (size_t)n;
	note_reply(s, buf);
}

struct smtp_session *smtp_session_new(const struct smtp_config *cfg)
{
	struct smtp_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->cfg = *cfg;
	if (!s->cfg.hostname)
		s->cfg.hostname = "localhost";
	if (!s->cfg.max_line)
		s->cfg.max_line = 2048;
	if (!s->cfg.max_message)
		s->cfg.max_message = 25u << 20;
	if (!s->cfg.max_recipients)
		s->cfg.max_recipients = 100;
	if (!s->cfg.max_errors)
		s->cfg.max_errors = 20;
	s->line = malloc(s->cfg.max_line + 1);
	if (!s->line) {
		smtp_session_free(s);
		return NULL;
	}
	return s;
}

void smtp_session_free(struct smtp_session *s)
{
	if (!s)
		return;
	free(s->line);
	pinbuf_free(&s->out);
	free(s->env.rcpt);
	if (s->gone)
		free(s->gone->rcpt);
	free(s->gone);
	free(s);
}

static void reset_transaction(struct smtp_session *s)
{
	s->env.have_mail = false;
	s->env.mail_from[0] = s->env.submitter[0] = '\0';
	s->env.declared_size = 0;
	s->env.body_8bit = s->env.smtputf8 = false;
	s->env.nrcpt = 0;
	s->tx_rejected = false;
	s->in_bdat = false;
	s->msg_size = 0;
	s->oversize = false;
}

/* RSET or HELO/EHLO with a transaction open: its envelope moves to
 * s->gone for the host to log (SMTP_EV_ABANDON), and env starts empty
 * with the same HELO. Without memory for s->gone the transaction just
 * ends, unlogged: the reply the client gets is the same. */
static void abandon_transaction(struct smtp_session *s, const char *command)
{
	if (!s->env.have_mail || (!s->gone && !(s->gone = calloc(1, sizeof *s->gone))))
		return reset_transaction(s);
	struct smtp_envelope spare = *s->gone;
	unsigned spare_cap = s->gone_rcpt_cap;
	*s->gone = s->env;
	s->gone_rcpt_cap = s->rcpt_cap;
	s->env = spare;
	s->rcpt_cap = spare_cap;
	memcpy(s->env.helo, s->gone->helo, sizeof s->env.helo);
	s->env.esmtp = s->gone->esmtp;
	reset_transaction(s);
	s->gone_by = command;
	s->event = SMTP_EV_ABANDON;
}

void smtp_greet(struct smtp_session *s, enum smtp_greeting how)
{
	if (how != SMTP_GREET_READY) {
		reply(s, "421 4.7.0 %s Too many sessions%s, try again later", s->cfg.hostname,
		      how == SMTP_GREET_BUSY_PEER ? " from your address" : "");
		s->state = ST_CLOSED;
		s->event = SMTP_EV_CLOSE;
		return;
	}
	reply(s, "220 %s ESMTP authgate", s->cfg.hostname);
}

/* A client error: counts toward max_errors, after which we hang up. */
static void error_reply(struct smtp_session *s, const char *text)
{
	reply(s, "%s", text);
	if (++s->errors >= s->cfg.max_errors) {
		reply(s, "421 4.7.0 %s Too many errors, closing connection", s->cfg.hostname);
		s->state = ST_CLOSED;
		s->event = SMTP_EV_CLOSE;
	}
}

/* ----------------------------------------------------------- addresses */

static const char *skip_sp(const char *p)
{
	while (*p == ' ')
		p++;
	return p;
}

/* "<path>" at p (after FROM:/TO:): decode into out, strip an obsolete
 * source route. Returns a pointer after '>', or NULL on bad syntax. */
static const char *parse_path(const char *p, char *out, size_t size)
{
	p = skip_sp(p);
	if (*p != '<')
		return NULL;
	p++;
	if (*p == '@') { /* RFC 5321 §4.1.2 A-d-l: "@a,@b:" is ignored */
		const char *colon = strchr(p, ':');
		if (!colon)
			return NULL;
		p = colon + 1;
	}
	size_t n = 0;
	bool quoted = false;
	for (; *p && (quoted || *p != '>'); p++) {
		if ((unsigned char)*p < 0x20 || n + 2 >= size)
			return NULL;
		if (*p == '"')
			quoted = !quoted;
		else if (*p == '\\' && quoted && p[1])
			out[n++] = *p++; /* keep the quoted-pair as written */
		if ((unsigned char)*p < 0x20)
			return NULL;
		out[n++] = *p;
	}
	if (*p != '>')
		return NULL;
	out[n] = '\0';
	return p + 1;
}

/* local@domain with both parts present (domain: letters, digits, '-',
 * '.', or an address literal; UTF-8 allowed, checked by the caller). */
static bool valid_mailbox(const char *a)
{
	const char *at = strrchr(a, '@');
	if (!at || at == a || !at[1] || strlen(a) > 254)
		return false;
	for (const char *d = at + 1; *d; d++)
		if (!(isalnum((unsigned char)*d) || strchr("-.[]:_", *d) || (unsigned char)*d >= 0x80))
			return false;
	return true;
}

static bool has_8bit(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s >= 0x80)
			return true;
	return false;
}

/* RFC 3461 xtext: literal characters "!" to "~" but "+" and "=", and
 * "+HH" escapes, which may stand for any octet (a space in a quoted local
 * part, say): what it decodes to is the caller's to judge, all but NUL,
 * which would end the string early. */
static bool xtext_decode(const char *in, size_t len, char *out, size_t size)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		if (c == '+') {
			if (i + 2 >= len || !isxdigit((unsigned char)in[i + 1]) ||
			    !isxdigit((unsigned char)in[i + 2]))
				return false;
			char hex[3] = {in[i + 1], in[i + 2], 0};
			c = (char)strtol(hex, NULL, 16);
			i += 2;
			if (c == '\0')
				return false;
		} else if ((unsigned char)c < 0x21 || (unsigned char)c > 0x7e || c == '=') {
			return false;
		}
		if (n + 1 >= size)
			return false;
		out[n++] = c;
	}
	out[n] = '\0';
	return true;
}

/* ------------------------------------------------------------ commands */

static void cmd_helo(struct smtp_session *s, const char *arg, bool esmtp)
{
	if (!*arg || strchr(arg, ' ') || strlen(arg) >= SMTP_HELO_MAX) {
		error_reply(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname");
		return;
	}
	abandon_transaction(s, esmtp ? "EHLO" : "HELO");
	snprintf(s->env.helo, sizeof s->env.helo, "%s", arg);
	s->env.esmtp = esmtp;
	if (!esmtp) {
		reply(s, "250 %s", s->cfg.hostname);
		return;
	}
	reply(s, "250-%s", s->cfg.hostname);
	reply(s, "250-PIPELINING");
	reply(s, "250-SIZE %zu", s->cfg.max_message);
	reply(s, "250-8BITMIME");
	reply(s, "250-ENHANCEDSTATUSCODES");
	if (s->cfg.tls_available && !s->tls_active)
		reply(s, "250-STARTTLS");
	reply(s, "250-CHUNKING");
	reply(s, "250-SMTPUTF8");
	reply(s, "250 SUBMITTER");
}

/* MAIL parameters (RFC 1870 SIZE, 6152 BODY, 6531 SMTPUTF8, 4405
 * SUBMITTER). Returns NULL, or the error reply. */
static const char *mail_params(struct smtp_session *s, const char *p)
{
	while (*(p = skip_sp(p))) {
		const char *end = strchr(p, ' ');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		size_t klen = eq ? (size_t)(eq - p) : len;
		const char *v = eq ? eq + 1 : "";
		size_t vlen = eq ? len - klen - 1 : 0;
		if (!s->env.esmtp)
			return "555 5.5.4 Parameters need EHLO";
		if (klen == 4 && strncasecmp(p, "SIZE", 4) == 0) {
			char *e;
			unsigned long long n = strtoull(v, &e, 10);
			if (!vlen || e != v + vlen || vlen > 18)
				return "501 5.5.4 Syntax: SIZE=<octets>";
			if (n > s->cfg.max_message)
				return "552 5.3.4 Message size exceeds fixed maximum message size";
			s->env.declared_size = (size_t)n;
		} else if (klen == 4 && strncasecmp(p, "BODY", 4) == 0) {
			if (vlen == 4 && strncasecmp(v, "7BIT", 4) == 0)
				s->env.body_8bit = false;
			else if (vlen == 8 && strncasecmp(v, "8BITMIME", 8) == 0)
				s->env.body_8bit = true;
			else
				return "555 5.5.4 Unsupported BODY type";
		} else if (klen == 8 && strncasecmp(p, "SMTPUTF8", 8) == 0 && !eq) {
			s->env.smtputf8 = true;
		} else if (klen == 9 && strncasecmp(p, "SUBMITTER", 9) == 0) {
			if (!xtext_decode(v, vlen, s->env.submitter, sizeof s->env.submitter) ||
			    !senderid_mailbox_valid(s->env.submitter)) /* RFC 4405: a mailbox */
				return "501 5.5.4 Syntax: SUBMITTER=<mailbox>";
		} else {
			return "555 5.5.4 Unsupported MAIL parameter";
		}
		p += len;
	}
	return NULL;
}

static void cmd_mail(struct smtp_session *s, const char *arg)
{
	if (!s->env.helo[0])
		return error_reply(s, "503 5.5.1 Send HELO or EHLO first");
	if (s->env.have_mail)
		return error_reply(s, "503 5.5.1 Nested MAIL command");
	if (strncasecmp(arg, "FROM:", 5) != 0)
		return error_reply(s, "501 5.5.4 Syntax: MAIL FROM:<address>");
	char path[SMTP_ADDR_MAX];
	const char *rest = parse_path(arg + 5, path, sizeof path);
	if (!rest || (path[0] && !valid_mailbox(path)))
		return error_reply(s, "501 5.1.7 Bad sender address syntax");
	reset_transaction(s);
	const char *err = mail_params(s, rest);
	if (!err && has_8bit(path) && !s->env.smtputf8)
		err = "553 5.6.7 Non-ASCII address needs SMTPUTF8";
	if (err) {
		reset_transaction(s);
		return error_reply(s, err);
	}
	snprintf(s->env.mail_from, sizeof s->env.mail_from, "%s", path);
	s->env.have_mail = true;
	reply(s, "250 2.1.0 Sender OK");
	s->event = SMTP_EV_MAIL;
}

static void cmd_rcpt(struct smtp_session *s, const char *arg)
{
	if (!s->env.have_mail)
		return error_reply(s, "503 5.5.1 Need MAIL command first");
	if (strncasecmp(arg, "TO:", 3) != 0)
		return error_reply(s, "501 5.5.4 Syntax: RCPT TO:<address>");
	char path[SMTP_ADDR_MAX];
	const char *rest = parse_path(arg + 3, path, sizeof path);
	if (!rest || !(valid_mailbox(path) || strcasecmp(path, "postmaster") == 0))
		return error_reply(s, "501 5.1.3 Bad recipient address syntax");
	if (*skip_sp(rest))
		return error_reply(s, "555 5.5.4 Unsupported RCPT parameter");
	if (has_8bit(path) && !s->env.smtputf8)
		return error_reply(s, "553 5.6.7 Non-ASCII address needs SMTPUTF8");
	if (s->tx_rejected)
		return reply(s, "%s", s->tx_reply);
	if (s->env.nrcpt >= s->cfg.max_recipients)
		return reply(s, "452 4.5.3 Too many recipients");
	if (s->env.nrcpt == s->rcpt_cap) { /* grown on demand: idle sessions stay small */
		unsigned cap = s->rcpt_cap ? s->rcpt_cap * 2 : 4;
		if (cap > s->cfg.max_recipients)
			cap = s->cfg.max_recipients;
		char(*n)[SMTP_ADDR_MAX] = realloc(s->env.rcpt, cap * sizeof *n);
		if (!n)
			return reply(s, "452 4.3.1 Insufficient system resources");
		s->env.rcpt = n;
		s->rcpt_cap = cap;
	}
	snprintf(s->env.rcpt[s->env.nrcpt++], SMTP_ADDR_MAX, "%s", path);
	reply(s, "250 2.1.5 Recipient OK");
}

/* Common checks of DATA and BDAT; NULL when the transaction may go on. */
static const char *transfer_error(struct smtp_session *s)
{
	if (!s->env.have_mail)
		return "503 5.5.1 Need MAIL command first";
	if (s->tx_rejected)
		return s->tx_reply;
	if (s->env.nrcpt == 0)
		return "503 5.5.1 Need RCPT command first";
	return NULL;
}

static void cmd_data(struct smtp_session *s, const char *arg)
{
	if (*arg)
		return error_reply(s, "501 5.5.4 Syntax: DATA");
	if (s->in_bdat)
		return error_reply(s, "503 5.5.1 DATA after BDAT in one transaction");
	const char *err = transfer_error(s);
	if (err)
		return s->tx_rejected ? reply(s, "%s", err) : error_reply(s, err);
	reply(s, "354 2.0.0 End data with <CR><LF>.<CR><LF>");
	s->state = ST_DATA;
	s->ds = DS_LINE_START;
	s->msg_size = 0;
	s->oversize = false;
	s->event = SMTP_EV_DATA;
}

static void cmd_bdat(struct smtp_session *s, const char *arg)
{
	char *end;
	unsigned long long n = strtoull(arg, &end, 10);
	if (!isdigit((unsigned char)*arg) || end - arg > 18 ||
	    (*end && strcasecmp(skip_sp(end), "LAST") != 0) || (*end && *end != ' '))
		return error_reply(s, "501 5.5.4 Syntax: BDAT <octets> [LAST]");
	s->bdat_left = (size_t)n;
	s->bdat_last = *end != '\0';
	const char *err = transfer_error(s);
	s->bdat_discard = err != NULL;
	snprintf(s->bdat_error, sizeof s->bdat_error, "%s", err ? err : "");
	if (!err && !s->in_bdat) {
		s->in_bdat = true;
		s->msg_size = 0;
		s->oversize = false;
	}
	s->state = ST_BDAT;
	if (n == 0)
		smtp_bdat_input(s, 0); /* an empty chunk: answered at once */
	else
		s->event = SMTP_EV_BDAT;
}

static void cmd_starttls(struct smtp_session *s, const char *arg)
{
	if (*arg)
		return error_reply(s, "501 5.5.4 Syntax: STARTTLS");
	if (s->tls_active)
		return error_reply(s, "503 5.5.1 TLS already active");
	if (!s->cfg.tls_available)
		return error_reply(s, "502 5.5.1 STARTTLS not available");
	reply(s, "220 2.0.0 Ready to start TLS");
	s->state = ST_TLS;
	s->event = SMTP_EV_STARTTLS;
}

static bool blank(const char *arg)
{
	return arg[strspn(arg, " \t")] == '\0';
}

/* RFC 5321 §4.1.1.5: "rset = "RSET" CRLF", no parameters. */
static void cmd_rset(struct smtp_session *s, const char *arg)
{
	if (!blank(arg))
		return error_reply(s, "501 5.5.4 Syntax: RSET");
	abandon_transaction(s, "RSET");
	reply(s, "250 2.0.0 OK");
}

/* §4.1.1.10: "quit = "QUIT" CRLF". A QUIT with parameters is still
 * answered 501 and the session goes on: the client may say it again. */
static void cmd_quit(struct smtp_session *s, const char *arg)
{
	if (!blank(arg))
		return error_reply(s, "501 5.5.4 Syntax: QUIT");
	reply(s, "221 2.0.0 %s Bye", s->cfg.hostname);
	s->state = ST_CLOSED;
	s->event = SMTP_EV_CLOSE;
}

/* §4.1.1.6: VRFY names a user or mailbox; §3.5.3: 252 when we will not
 * say whether it exists. */
static void cmd_vrfy(struct smtp_session *s, const char *arg)
{
	if (blank(arg))
		return error_reply(s, "501 5.5.4 Syntax: VRFY <user or mailbox>");
	reply(s, "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery");
}

static void dispatch(struct smtp_session *s, char *line)
{
	char *arg = strchr(line, ' ');
	if (arg)
		*arg++ = '\0';
	else
		arg = line + strlen(line);
	const char *verb = line;
	if (!strcasecmp(verb, "EHLO") || !strcasecmp(verb, "HELO"))
		cmd_helo(s, arg, !strcasecmp(verb, "EHLO"));
	else if (!strcasecmp(verb, "MAIL"))
		cmd_mail(s, arg);
	else if (!strcasecmp(verb, "RCPT"))
		cmd_rcpt(s, arg);
	else if (!strcasecmp(verb, "DATA"))
		cmd_data(s, arg);
	else if (!strcasecmp(verb, "BDAT"))
		cmd_bdat(s, arg);
	else if (!strcasecmp(verb, "RSET"))
		cmd_rset(s, arg);
	else if (!strcasecmp(verb, "NOOP"))
		reply(s, "250 2.0.0 OK");
	else if (!strcasecmp(verb, "QUIT"))
		cmd_quit(s, arg);
	else if (!strcasecmp(verb, "VRFY"))
		cmd_vrfy(s, arg);
	else if (!strcasecmp(verb, "HELP"))
		reply(s, "214 2.0.0 Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS");
	else if (!strcasecmp(verb, "STARTTLS"))
		cmd_starttls(s, arg);
	else if (!strcasecmp(verb, "EXPN") || !strcasecmp(verb, "TURN") ||
		 !strcasecmp(verb, "ETRN") || !strcasecmp(verb, "AUTH"))
		error_reply(s, "502 5.5.1 Command not implemented");
	else
		error_reply(s, "500 5.5.1 Command unrecognized");
}

/* A complete line (without its line end) has been collected. */
static void line_done(struct smtp_session *s)
{
	if (s->overlong) {
		s->overlong = false;
		error_reply(s, "500 5.5.2 Line too long");
		return;
	}
	s->line[s->linelen] = '\0';
	if (memchr(s->line, '\0', s->linelen))
		return error_reply(s, "500 5.5.2 NUL in command");
	dispatch(s, s->line);
}

size_t smtp_input(struct smtp_session *s, const char *buf, size_t len)
{
	size_t used = 0;
	while (used < len && s->state == ST_CMD && s->event == SMTP_EV_NONE &&
	       s->outlen < OUT_HIGH_WATER) {
		const char *nl = memchr(buf + used, '\n', len - used);
		size_t n = nl ? (size_t)(nl - (buf + used)) : len - used;
		if (s->linelen + n > s->cfg.max_line - 1)
			s->overlong = true; /* keep reading to the line end, keep nothing */
		else {
			memcpy(s->line + s->linelen, buf + used, n);
			s->linelen += n;
		}
		used += n + (nl ? 1 : 0);
		if (!nl)
			break;
		if (s->linelen && s->line[s->linelen - 1] == '\r')
			s->linelen--;
		line_done(s);
		s->linelen = 0;
	}
	if (s->state == ST_TLS)
		return len; /* RFC 3207 §4.2: nothing pipelined after STARTTLS is acted on */
	return used;
}

enum smtp_event smtp_event(struct smtp_session *s)
{
	enum smtp_event e = s->event;
	s->event = SMTP_EV_NONE;
	return e;
}

/* ---------------------------------------------------------------- data */

/* The transaction's end: the host answers it (smtp_message_reply), an
 * oversize one too, so that it can log the envelope before it is reset. */
static void message_end(struct smtp_session *s)
{
	s->state = ST_WAIT_REPLY;
	s->event = SMTP_EV_MESSAGE;
}

static bool keep(struct smtp_session *s, char *base, size_t *w, char c)
{
	if (s->msg_size >= s->cfg.max_message) {
		s->oversize = true;
		return false;
	}
	base[(*w)++] = c;
	s->msg_size++;
	return true;
}

/* Inside a line only CR matters: keep everything up to the next one (or
 * the end of the input) in one move, as far as the size limit allows.
 * Returns the bytes consumed. Most of a message goes this way; the state
 * machine below sees only line ends and line-initial dots. */
static size_t keep_line_run(struct smtp_session *s, char *base, size_t *w, const char *from,
			    size_t n)
{
	const char *cr = memchr(from, '\r', n);
	size_t run = cr ? (size_t)(cr - from) : n;
	size_t room = s->msg_size < s->cfg.max_message ? s->cfg.max_message - s->msg_size : 0;
	size_t k = run < room ? run : room;
	if (base + *w != from)
		memmove(base + *w, from, k); /* behind the reader: unstuffed dots */
	*w += k;
	s->msg_size += k;
	if (k < run)
		s->oversize = true;
	return run;
}

size_t smtp_data_input(struct smtp_session *s, char *base, size_t *wpos,
		       size_t rpos, size_t n)
{
	size_t i = 0;
	while (i < n && s->state == ST_DATA) {
		if (s->ds == DS_IN_LINE) {
			i += keep_line_run(s, base, wpos, base + rpos + i, n - i);
			if (i == n)
				break;
		}
		char c = base[rpos + i++];
		switch (s->ds) {
		case DS_LINE_START:
			if (c == '.') {
				s->ds = DS_DOT; /* stuffed dot, or the terminator */
				break;
			}
			/* fall through */
		case DS_IN_LINE:
			keep(s, base, wpos, c);
			s->ds = c == '\r' ? DS_CR : DS_IN_LINE;
			break;
		case DS_CR:
			keep(s, base, wpos, c);
			s->ds = c == '\n' ? DS_LINE_START : c == '\r' ? DS_CR : DS_IN_LINE;
			break;
		case DS_DOT:
			/* The dot is dropped either way (unstuffing, or the
			 * terminator). A CR is written at once, in the room the
			 * dot left, and taken back if LF completes ".\r\n": so
			 * the writer never overtakes the reader, even across
			 * calls. A CR with no room left is not yet too much: it
			 * may be the terminator's. */
			if (c == '\r') {
				s->cr_kept = s->msg_size < s->cfg.max_message && keep(s, base, wpos, c);
				s->ds = DS_DOT_CR;
			} else {
				keep(s, base, wpos, c);
				s->ds = DS_IN_LINE;
			}
			break;
		case DS_DOT_CR:
			if (c == '\n') {
				if (s->cr_kept) {
					(*wpos)--;
					s->msg_size--;
				}
				message_end(s);
				break;
			}
			if (!s->cr_kept)
				s->oversize = true; /* that CR was data, and did not fit */
			keep(s, base, wpos, c);
			s->ds = c == '\r' ? DS_CR : DS_IN_LINE;
			break;
		}
	}
	return i;
}

bool smtp_wants_data(const struct smtp_session *s)
{
	return s->state == ST_DATA;
}

size_t smtp_bdat_remaining(const struct smtp_session *s)
{
	return s->state == ST_BDAT ? s->bdat_left : 0;
}

size_t smtp_bdat_input(struct smtp_session *s, size_t n)
{
	if (s->state != ST_BDAT)
		return 0;
	if (n > s->bdat_left)
		n = s->bdat_left;
	s->bdat_left -= n;
	if (!s->bdat_discard) {
		if (s->msg_size + n > s->cfg.max_message)
			s->oversize = true;
		s->msg_size += n;
	}
	if (s->bdat_left > 0)
		return n;
	s->state = ST_CMD;
	if (s->bdat_discard) {
		if (s->tx_rejected)
			reply(s, "%s", s->bdat_error);
		else
			error_reply(s, s->bdat_error);
	} else if (s->bdat_last || s->oversize) {
		message_end(s); /* oversize: the transaction ends at this chunk */
	} else {
		reply(s, "250 2.0.0 %zu octets received", s->msg_size);
	}
	return n;
}

bool smtp_bdat_discarding(const struct smtp_session *s)
{
	return s->state == ST_BDAT && s->bdat_discard;
}

bool smtp_message_coming(const struct smtp_session *s)
{
	return s->state == ST_DATA || (s->state == ST_BDAT && s->bdat_last && !s->bdat_discard);
}

size_t smtp_message_size(const struct smtp_session *s)
{
	return s->msg_size;
}

bool smtp_message_oversize(const struct smtp_session *s)
{
	return s->oversize;
}

void smtp_message_reply(struct smtp_session *s, unsigned code,
			const char *status, const char *text)
{
	if (s->state != ST_WAIT_REPLY)
		return;
	reply(s, "%u %s %s", code, status, text);
	reset_transaction(s);
	s->state = ST_CMD;
}

void smtp_reject_transaction(struct smtp_session *s, unsigned code,
			     const char *status, const char *text)
{
	if (!s->env.have_mail)
		return;
	s->tx_rejected = true;
	snprintf(s->tx_reply, sizeof s->tx_reply, "%u %s %s", code, status, text);
}

void smtp_abort(struct smtp_session *s, const char *reply_line)
{
	if (s->state == ST_CLOSED)
		return;
	reply(s, "%s", reply_line);
	s->state = ST_CLOSED;
	s->event = SMTP_EV_CLOSE;
}

void smtp_tls_started(struct smtp_session *s)
{
	/* RFC 3207 §4.2: forget everything learnt before TLS. */
	reset_transaction(s);
	s->env.helo[0] = '\0';
	s->env.esmtp = false;
	s->tls_active = true;
	s->linelen = 0;
	s->overlong = false;
	s->state = ST_CMD;
}

bool smtp_tls_active(const struct smtp_session *s)
{
	return s->tls_active;
}

const struct smtp_envelope *smtp_abandoned_envelope(const struct smtp_session *s,
						   const char **command)
{
	*command = s->gone_by;
	return s->gone;
}

const struct smtp_envelope *smtp_envelope(const struct smtp_session *s)
{
	return &s->env;
}

const char *smtp_output(const struct smtp_session *s, size_t *len)
{
	*len = s->outlen;
	return s->out.p;
}

void smtp_output_done(struct smtp_session *s, size_t n)
{
	if (n >= s->outlen) {
		s->outlen = 0;
		return;
	}
	memmove(s->out.p, s->out.p + n, s->outlen - n);
	s->outlen -= n;
}

const char *smtp_last_reply(const struct smtp_session *s)
{
	return s->last_reply;
}

void smtp_output_pin(struct smtp_session *s, bool pinned)
{
	pinbuf_set_pinned(&s->out, pinned);
}
