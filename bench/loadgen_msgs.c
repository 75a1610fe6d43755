/*
 * loadgen_msgs — see loadgen_msgs.h.
 */
#include "bench/loadgen_msgs.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t lg_msg_stuff(const char *raw, size_t n, char *out)
{
	size_t k = 0;
	bool bol = true;
	for (size_t i = 0; i < n; i++) {
		if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
			out[k++] = '\r';
		if (bol && raw[i] == '.')
			out[k++] = '.';
		out[k++] = raw[i];
		bol = raw[i] == '\n';
	}
	if (!bol) { /* an unterminated last line (or a lone CR) still needs its end */
		if (out[k - 1] != '\r')
			out[k++] = '\r';
		out[k++] = '\n';
	}
	memcpy(out + k, ".\r\n", 3);
	return k + 3;
}

/* The unfolded value of the first `field` header of the header section,
 * into val (NUL-terminated, truncated to vallen - 1). false without it. */
static bool header_value(const char *raw, size_t n, const char *field, char *val, size_t vallen)
{
	size_t flen = strlen(field), i = 0;
	while (i < n) {
		const char *nl = memchr(raw + i, '\n', n - i);
		size_t end = nl ? (size_t)(nl - raw) : n;
		size_t len = end - i - (end > i && raw[end - 1] == '\r');
		if (len == 0)
			return false; /* the blank line: end of the header section */
		if (len > flen && raw[i + flen] == ':' && strncasecmp(raw + i, field, flen) == 0) {
			size_t k = 0, j = i + flen + 1;
			for (;;) { /* this line, then its continuation lines */
				for (; j < end && k + 1 < vallen; j++)
					if (raw[j] != '\r')
						val[k++] = raw[j];
				if (end + 1 >= n || (raw[end + 1] != ' ' && raw[end + 1] != '\t'))
					break;
				j = end + 1;
				nl = memchr(raw + j, '\n', n - j);
				end = nl ? (size_t)(nl - raw) : n;
			}
			val[k] = '\0';
			return true;
		}
		i = end + 1;
	}
	return false;
}

int lg_msg_header_addr(const char *raw, size_t n, const char *field, char *out, size_t outlen)
{
	char val[1000];
	if (!header_value(raw, n, field, val, sizeof val))
		return -ENOENT;
	char *a = strchr(val, '<'), *z = a ? strchr(a, '>') : NULL;
	if (a && z) {
		a++;
	} else { /* a bare address, possibly followed by a comment */
		for (a = val; isspace((unsigned char)*a); a++)
			;
		for (z = a; *z && !isspace((unsigned char)*z) && *z != '('; z++)
			;
	}
	size_t len = (size_t)(z - a);
	if (len == 0)
		return -ENOENT;
	if (len >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, a, len);
	out[len] = '\0';
	return 0;
}

static int read_file(const char *path, char **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	int rc = 0;
	long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
	*len = size > 0 ? (size_t)size : 0;
	if (size < 0 || fseek(f, 0, SEEK_SET) < 0)
		rc = -EIO;
	else if (!(*buf = malloc(*len + 1)))
		rc = -ENOMEM;
	else if (fread(*buf, 1, *len, f) != *len) {
		free(*buf);
		rc = -EIO;
	}
	fclose(f);
	return rc;
}

static struct lg_msg *set_grow(struct lg_msgset *set)
{
	if (set->n == set->cap) {
		size_t cap = set->cap ? set->cap * 2 : 64;
		struct lg_msg *v = realloc(set->v, cap * sizeof *v);
		if (!v)
			return NULL;
		set->v = v;
		set->cap = cap;
	}
	struct lg_msg *m = &set->v[set->n];
	memset(m, 0, sizeof *m);
	return m;
}

/* MAIL, RCPT and DATA for one message. */
static int build_envelope(struct lg_msg *m, const char *from, const char *to)
{
	size_t cap = strlen(from) + strlen(to) + 48;
	if (!(m->envelope = malloc(cap)))
		return -ENOMEM;
	int a = snprintf(m->envelope, cap, "MAIL FROM:<%s>\r\n", from);
	int b = snprintf(m->envelope + a, cap - (size_t)a, "RCPT TO:<%s>\r\nDATA\r\n", to);
	m->mail_len = (size_t)a;
	m->rcpt_len = (size_t)b - 6;
	return 0;
}

int lg_msgset_add_file(struct lg_msgset *set, const char *path, const char *from,
		       const char *to, const char *fallback_from, const char *fallback_to)
{
	char *raw = NULL;
	size_t n;
	int rc = read_file(path, &raw, &n);
	if (rc < 0)
		return rc;
	char hfrom[MSG_ADDR_MAX], hto[MSG_ADDR_MAX];
	if (!from)
		from = lg_msg_header_addr(raw, n, "From", hfrom, sizeof hfrom) == 0 ? hfrom : fallback_from;
	if (!to)
		to = lg_msg_header_addr(raw, n, "To", hto, sizeof hto) == 0 ? hto : fallback_to;
	struct lg_msg *m = set_grow(set);
	if (!m || !(m->data = malloc(2 * n + 5)) || build_envelope(m, from, to) < 0) {
		if (m)
			free(m->data);
		free(raw);
		return -ENOMEM;
	}
	const char *base = strrchr(path, '/');
	snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
	m->data_len = lg_msg_stuff(raw, n, m->data);
	free(raw);
	set->n++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct names {
	char **v;
	size_t n, cap;
	bool nomem;
};

static void names_push(struct names *l, const char *name)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		char **v = realloc(l->v, cap * sizeof *v);
		if (!v) {
			l->nomem = true;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	if (!(l->v[l->n] = strdup(name)))
		l->nomem = true;
	else
		l->n++;
}

static void names_free(struct names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

/* The corpus files: MANIFEST's first column, else *.eml sorted. */
static int list_dir(const char *dir, struct names *l)
{
	char path[4096], line[1024], name[256];
	snprintf(path, sizeof path, "%s/MANIFEST", dir);
	FILE *f = fopen(path, "r");
	if (f) {
		while (fgets(line, sizeof line, f))
			if (sscanf(line, "%255s", name) == 1)
				names_push(l, name);
		fclose(f);
		return l->nomem ? -ENOMEM : 0;
	}
	DIR *d = opendir(dir);
	if (!d)
		return -errno;
	for (struct dirent *e; (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".eml") == 0)
			names_push(l, e->d_name);
	}
	closedir(d);
	if (l->n)
		qsort(l->v, l->n, sizeof *l->v, cmp_names);
	return l->nomem ? -ENOMEM : 0;
}

int lg_msgset_add_dir(struct lg_msgset *set, const char *dir, const char *from, const char *to,
		      const char *fallback_from, const char *fallback_to)
{
	struct names l = {0};
	int rc = list_dir(dir, &l);
	if (rc == 0 && l.n == 0)
		rc = -ENOENT;
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, l.v[i]);
		rc = lg_msgset_add_file(set, path, from, to, fallback_from, fallback_to);
	}
	names_free(&l);
	return rc;
}

void lg_msgset_free(struct lg_msgset *set)
{
	for (size_t i = 0; i < set->n; i++) {
		free(set->v[i].envelope);
		free(set->v[i].data);
	}
	free(set->v);
	memset(set, 0, sizeof *set);
}
