/*
 * log — see log.h.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void stamp(char *buf, size_t size)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, size - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* The length of the UTF-8 sequence at p (RFC 3629: no overlong forms, no
 * surrogates, nothing past U+10FFFF), or 0 where it is not one. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned char c = p[0];
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;
	if (c < 0xc2 || c > 0xf4)
		return 0;
	for (size_t i = 1; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0; /* also stops at the string's NUL */
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
	    (c == 0xf4 && p[1] > 0x8f))
		return 0;
	return n;
}

/* Copy s into out as JSON string contents (or, for text, with quotes and
 * controls, C0 and C1, defused): sender-controlled values never break a
 * line or drive a terminal, and the line stays valid UTF-8. A byte that
 * is not part of a UTF-8 sequence (a HELO in Latin-1, say) becomes U+FFFD
 * in JSON, '?' in text. */
static void clean(const char *s, char *out, size_t size, int json)
{
	size_t n = 0;
	for (; *s && n + 7 < size; s++) {
		unsigned char c = (unsigned char)*s;
		size_t u = c >= 0x80 ? utf8_len((const unsigned char *)s) : 0;
		if (u == 2 && c == 0xc2 && (unsigned char)s[1] < 0xa0) { /* a C1 control, U+0080-009F */
			n += (size_t)snprintf(out + n, size - n, json ? "\\u%04x" : "?", (unsigned char)s[1]);
			s++;
		} else if (c >= 0x80 && u) {
			if (n + u + 7 >= size)
				break; /* a character goes whole or not at all: the value ends here */
			memcpy(out + n, s, u);
			n += u;
			s += u - 1;
		} else if (c >= 0x80) {
			n += (size_t)snprintf(out + n, size - n, "%s", json ? "\\ufffd" : "?");
		} else if (json && (c == '"' || c == '\\')) {
			out[n++] = '\\';
			out[n++] = (char)c;
		} else if (c < 0x20 || c == 0x7f) {
			n += (size_t)snprintf(out + n, size - n, json ? "\\u%04x" : "?", c);
		} else if (!json && c == '"') {
			out[n++] = '\'';
		} else {
			out[n++] = (char)c;
		}
	}
	out[n] = '\0';
}

static void emit(const char *line, size_t len)
{
	ssize_t r = write(STDERR_FILENO, line, len);
	(void)r; /* nowhere left to report a failing log */
}

size_t log_format_transaction(enum log_format fmt, const struct log_txn *t, char *line,
			      size_t size)
{
	char ts[40], helo[300], from[600], rcpts[1200], reason[260];
	stamp(ts, sizeof ts);
	int json = fmt == LOG_JSON;
	clean(t->helo, helo, sizeof helo, json);
	clean(t->mail_from, from, sizeof from, json);
	clean(t->rcpts, rcpts, sizeof rcpts, json);
	clean(t->reason, reason, sizeof reason, json);
	int n;
	if (json)
		n = snprintf(line, size,
			     "{\"time\":\"%s\",\"session\":\"%u-%lu\",\"ip\":\"%s\",\"helo\":\"%s\","
			     "\"mail_from\":\"%s\",\"rcpts\":\"%s\",\"nrcpt\":%u,\"size\":%zu,"
			     "\"spf\":\"%s\",\"sender_id\":\"%s\",\"dkim\":\"%s\",\"verdict\":\"%s\","
			     "\"code\":\"%s\",\"reason\":\"%s\",\"ms\":%.3f}\n",
			     ts, t->worker, t->session, t->ip, helo, from, rcpts, t->nrcpt, t->size,
			     auth_result_name(t->results[POLICY_SPF]),
			     auth_result_name(t->results[POLICY_SENDERID]),
			     auth_result_name(t->results[POLICY_DKIM]), t->verdict, t->code, reason, t->ms);
	else
		n = snprintf(line, size,
			     "%s session=%u-%lu ip=%s helo=%s from=<%s> rcpts=%s size=%zu spf=%s "
			     "sender-id=%s dkim=%s verdict=%s code=\"%s\" reason=\"%s\" ms=%.3f\n",
			     ts, t->worker, t->session, t->ip, helo, from, rcpts, t->size,
			     auth_result_name(t->results[POLICY_SPF]),
			     auth_result_name(t->results[POLICY_SENDERID]),
			     auth_result_name(t->results[POLICY_DKIM]), t->verdict, t->code, reason, t->ms);
	if (n <= 0)
		return 0;
	if ((size_t)n >= size) { /* cut, but still one whole line */
		n = (int)size - 1;
		line[n - 1] = '\n';
	}
	return (size_t)n;
}

void log_transaction(enum log_format fmt, const struct log_txn *t)
{
	char line[LOG_LINE_MAX];
	size_t n = log_format_transaction(fmt, t, line, sizeof line);
	if (n)
		emit(line, n);
}

size_t log_format_notice(char *line, size_t size, const char *fmt, va_list ap)
{
	char ts[40];
	if (size < 2)
		return 0;
	stamp(ts, sizeof ts);
	int n = snprintf(line, size, "%s authgate: ", ts);
	if (n < 0 || (size_t)n >= size - 1)
		return 0;
	int m = vsnprintf(line + n, size - (size_t)n - 1, fmt, ap);
	if (m < 0)
		return 0;
	n += m;
	if ((size_t)n > size - 2)
		n = (int)size - 2;
	line[n++] = '\n';
	return (size_t)n;
}

void log_notice(const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	size_t n = log_format_notice(line, sizeof line, fmt, ap);
	va_end(ap);
	if (n)
		emit(line, n);
}
