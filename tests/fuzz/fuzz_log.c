/* libFuzzer: the transaction log line (userspace/log.c) over the values a
 * client chooses: HELO, MAIL FROM, recipients and a reason (which may quote
 * a DNS record). The input is split on NUL bytes into up to four pieces;
 * missing pieces are empty.
 *
 * For text and JSON: 0 < length < LOG_LINE_MAX; one '\n', the last byte;
 * valid UTF-8 (RFC 3629, strict). Text: no C0 or C1 control, no DEL. JSON:
 * one object {"k":v,...} of strings and numbers, strings well escaped,
 * nothing after "}\n". */
#include "userspace/log.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond, what)                                                                  \
	do {                                                                               \
		if (!(cond)) {                                                             \
			fprintf(stderr, "fuzz_log: %s failed: %s (fmt=%s len=%zu)\n", #cond, what, \
				json ? "json" : "text", len);                              \
			fprintf(stderr, "line: %.*s\n", (int)len, line);                    \
			abort();                                                           \
		}                                                                          \
	} while (0)

/* Strict UTF-8 (RFC 3629). Returns the offset of the first bad byte, or
 * (size_t)-1 when all n bytes are valid. */
static size_t utf8_bad(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		size_t len;
		unsigned cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2, cp = c & 0x1f, min = 0x80;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3, cp = c & 0x0f, min = 0x800;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return i; /* continuation byte as a lead, or 0xf8..0xff */
		}
		if (i + len > n)
			return i;
		for (size_t k = 1; k < len; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (p[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += len;
	}
	return (size_t)-1;
}

static int hexd(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A JSON string at *p (which is '"'); advances past the closing quote. */
static int json_string(const char **p, const char *end)
{
	const char *s = *p;
	if (s >= end || *s != '"')
		return -1;
	s++;
	while (s < end) {
		unsigned char c = (unsigned char)*s;
		if (c == '"') {
			*p = s + 1;
			return 0;
		}
		if (c < 0x20)
			return -1; /* raw control inside a string */
		if (c == '\\') {
			if (s + 1 >= end)
				return -1;
			char e = s[1];
			if (e == 'u') {
				if (s + 6 > end || !hexd((unsigned char)s[2]) || !hexd((unsigned char)s[3]) ||
				    !hexd((unsigned char)s[4]) || !hexd((unsigned char)s[5]))
					return -1;
				s += 6;
				continue;
			}
			if (!strchr("\"\\/bfnrt", e) || e == '\0')
				return -1;
			s += 2;
			continue;
		}
		s++;
	}
	return -1; /* unterminated */
}

static int json_number(const char **p, const char *end)
{
	const char *s = *p;
	if (s < end && *s == '-')
		s++;
	const char *d = s;
	while (s < end && *s >= '0' && *s <= '9')
		s++;
	if (s == d)
		return -1;
	if (s < end && *s == '.') {
		s++;
		d = s;
		while (s < end && *s >= '0' && *s <= '9')
			s++;
		if (s == d)
			return -1;
	}
	*p = s;
	return 0;
}

/* {"k":v(,"k":v)*} exactly spanning [s, end). */
static int json_object(const char *s, const char *end)
{
	if (s >= end || *s != '{')
		return -1;
	s++;
	for (;;) {
		if (json_string(&s, end) < 0)
			return -2;
		if (s >= end || *s != ':')
			return -3;
		s++;
		if (s < end && *s == '"') {
			if (json_string(&s, end) < 0)
				return -4;
		} else if (json_number(&s, end) < 0) {
			return -5;
		}
		if (s < end && *s == ',') {
			s++;
			continue;
		}
		if (s < end && *s == '}' && s + 1 == end)
			return 0;
		return -6;
	}
}

static void piece(char *dst, size_t dstsize, const uint8_t *src, size_t n)
{
	if (n > dstsize - 1)
		n = dstsize - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct log_txn t;
	memset(&t, 0, sizeof t);
	t.session = 123456789ul;
	t.worker = 3;
	snprintf(t.ip, sizeof t.ip, "2001:db8::1");
	t.nrcpt = 2;
	t.size = 4242;
	snprintf(t.verdict, sizeof t.verdict, "accept");
	snprintf(t.code, sizeof t.code, "250 2.0.0");
	t.ms = 1.5;

	char *fields[4] = {t.helo, t.mail_from, t.rcpts, t.reason};
	size_t sizes[4] = {sizeof t.helo, sizeof t.mail_from, sizeof t.rcpts, sizeof t.reason};
	size_t pos = 0;
	for (int f = 0; f < 4; f++) {
		const uint8_t *nul = pos < size ? memchr(data + pos, '\0', size - pos) : NULL;
		size_t n = pos < size ? (nul ? (size_t)(nul - (data + pos)) : size - pos) : 0;
		piece(fields[f], sizes[f], data + pos, n);
		pos += n + 1;
	}

	for (int json = 0; json < 2; json++) {
		char line[LOG_LINE_MAX + 1];
		memset(line, 0x55, sizeof line);
		size_t len = log_format_transaction(json ? LOG_JSON : LOG_TEXT, &t, line, LOG_LINE_MAX);
		CHECK(len > 0, "empty line");
		CHECK(len < LOG_LINE_MAX, "length");
		CHECK(line[len] == '\0', "not NUL-terminated at len");
		CHECK(line[len - 1] == '\n', "does not end in a newline");
		CHECK(memchr(line, '\n', len - 1) == NULL, "newline inside the line");
		size_t bad = utf8_bad((const unsigned char *)line, len);
		if (bad != (size_t)-1)
			fprintf(stderr, "bad UTF-8 at offset %zu: %02x\n", bad, (unsigned char)line[bad]);
		CHECK(bad == (size_t)-1, "invalid UTF-8");
		if (!json) {
			for (size_t i = 0; i + 1 < len; i++) {
				unsigned char c = (unsigned char)line[i];
				CHECK(c >= 0x20 && c != 0x7f, "control byte in text line");
				CHECK(!(c == 0xc2 && (unsigned char)line[i + 1] < 0xa0),
				      "C1 control (U+0080-009F) in text line");
			}
		} else {
			CHECK(line[0] == '{' && len >= 2 && line[len - 2] == '}', "not {...}\\n");
			int r = json_object(line, line + len - 1);
			if (r)
				fprintf(stderr, "json_object: %d\n", r);
			CHECK(r == 0, "not a well-formed JSON object");
		}
	}
	return 0;
}
