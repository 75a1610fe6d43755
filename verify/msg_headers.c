/*
 * msg_headers — see msg_headers.h.
 */
#include "msg_headers.h"

#include <string.h>
#include <strings.h>

void msg_headers_begin(struct msg_header_iter *it, const char *msg, size_t len)
{
	*it = (struct msg_header_iter){.p = msg, .end = msg + len};
}

/* End of the line starting at p (pointing at its CR or LF, or end). */
static const char *line_end(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	if (!nl)
		return end;
	return nl > p && nl[-1] == '\r' ? nl - 1 : nl;
}

static const char *next_line(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	return nl ? nl + 1 : end;
}

static bool is_ftext(unsigned char c)
{
	return c >= 33 && c <= 126 && c != ':';
}

bool msg_headers_next(struct msg_header_iter *it, struct msg_field *f)
{
	while (!it->done && it->p < it->end) {
		const char *le = line_end(it->p, it->end);
		if (le == it->p) { /* the empty line ending the header block */
			it->done = true;
			return false;
		}
		const char *name_end = it->p, *colon;
		while (name_end < le && is_ftext((unsigned char)*name_end))
			name_end++;
		colon = name_end;
		while (colon < le && (*colon == ' ' || *colon == '\t'))
			colon++; /* obs-field: WSP before the colon */
		if (name_end == it->p || colon == le || *colon != ':') {
			it->skipped++; /* not a field (or a stray continuation) */
			it->p = next_line(it->p, it->end);
			continue;
		}
		f->name = it->p;
		f->name_len = (size_t)(name_end - it->p);
		f->value = colon + 1;
		const char *p = next_line(it->p, it->end);
		while (p < it->end && (*p == ' ' || *p == '\t')) {
			le = line_end(p, it->end);
			p = next_line(p, it->end);
		}
		f->value_len = (size_t)(le - f->value);
		it->p = p;
		return true;
	}
	it->done = true;
	return false;
}

bool msg_field_is(const struct msg_field *f, const char *name)
{
	return strlen(name) == f->name_len && strncasecmp(f->name, name, f->name_len) == 0;
}

bool msg_field_nonempty(const struct msg_field *f)
{
	for (size_t i = 0; i < f->value_len; i++)
		if (!strchr(" \t\r\n", f->value[i]))
			return true;
	return false;
}
