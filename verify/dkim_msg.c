/*
 * dkim_msg — header fields of a CRLF message as slices, and selection.
 */
#include "dkim_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint32_t hash_name(const char *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32u : c)) * 16777619u;
	}
	return h;
}

/* End of the line starting at p: just past its CRLF, or end. */
static const char *line_end(const char *p, const char *end)
{
	while (p < end) {
		const char *lf = memchr(p, '\n', (size_t)(end - p));
		if (!lf)
			return end;
		if (lf > p && lf[-1] == '\r')
			return lf + 1;
		p = lf + 1;
	}
	return end;
}

/* One header field from p: its end (continuation lines included). */
static const char *field_end(const char *p, const char *end)
{
	const char *q = line_end(p, end);
	while (q < end && (*q == ' ' || *q == '\t'))
		q = line_end(q, end);
	return q;
}

static struct dkim_field make_field(const char *p, const char *e)
{
	struct dkim_field f = {p, (size_t)(e - p), 0, 0, 0};
	const char *colon = memchr(p, ':', f.len);
	if (colon) {
		const char *ne = colon;
		while (ne > p && dkim_is_fws((unsigned char)ne[-1]))
			ne--;
		f.namelen = (size_t)(ne - p);
		f.hash = hash_name(p, f.namelen);
	}
	return f;
}

static bool at_blank_line(const char *p, const char *end)
{
	return end - p >= 2 && p[0] == '\r' && p[1] == '\n';
}

/* Room for more fields: 32 at first (most messages have fewer), then
 * twice as many, up to DKIM_MSG_MAX_FIELDS. */
static int grow(struct dkim_msg *m, unsigned *cap)
{
	unsigned n = *cap ? *cap * 2 : 32;
	if (n > DKIM_MSG_MAX_FIELDS)
		n = DKIM_MSG_MAX_FIELDS;
	struct dkim_field *f = realloc(m->f, n * sizeof *f);
	if (!f)
		return -ENOMEM;
	m->f = f;
	*cap = n;
	return 0;
}

/* One pass over the header: each field is found once. */
int dkim_msg_index(struct dkim_msg *m, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	unsigned cap = 0;
	*m = (struct dkim_msg){.buf = buf, .len = len};
	while (p < end && !at_blank_line(p, end)) {
		const char *e = field_end(p, end);
		if (m->n == DKIM_MSG_MAX_FIELDS) {
			m->truncated = true;
		} else {
			if (m->n == cap && grow(m, &cap) < 0) {
				dkim_msg_free(m);
				return -ENOMEM;
			}
			m->f[m->n++] = make_field(p, e);
		}
		p = e;
	}
	m->body = p < end ? p + 2 : end;
	m->bodylen = (size_t)(end - m->body);
	return 0;
}

void dkim_msg_free(struct dkim_msg *m)
{
	free(m->f);
	m->f = NULL;
	m->n = 0;
}

bool dkim_field_is(const struct dkim_field *f, const char *lname)
{
	size_t n = strlen(lname);
	return f->namelen == n && dkim_slice_caseeq((struct dkim_slice){f->p, n}, lname);
}

void dkim_msg_select_begin(struct dkim_msg *m)
{
	m->gen++;
}

const struct dkim_field *dkim_msg_select(struct dkim_msg *m, struct dkim_slice name)
{
	uint32_t h = hash_name(name.p, name.n);
	for (unsigned i = m->n; i-- > 0;) {
		struct dkim_field *f = &m->f[i];
		if (f->hash != h || f->mark == m->gen || f->namelen != name.n ||
		    !dkim_slices_caseeq((struct dkim_slice){f->p, f->namelen}, name))
			continue;
		f->mark = m->gen;
		return f;
	}
	return NULL;
}
