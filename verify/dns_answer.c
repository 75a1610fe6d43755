/*
 * dns_answer — see dns_answer.h. While building, every pointer field of a
 * record holds an offset into the builder's byte pool; finishing copies the
 * pool once into the answer block and turns offsets into pointers.
 */
#include "dns_answer.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct dns_builder {
	enum dns_type type;
	char name[DNS_NAME_MAX + 1];
	char canonical[DNS_NAME_MAX + 1];
	struct dns_record *recs;
	unsigned nrecs, caprecs;
	uint8_t *pool;
	size_t poollen, poolcap;
};

static const struct {
	enum dns_type type;
	const char *name;
} type_names[] = {
	{DNS_TYPE_A, "A"},     {DNS_TYPE_NS, "NS"},   {DNS_TYPE_CNAME, "CNAME"},
	{DNS_TYPE_SOA, "SOA"}, {DNS_TYPE_PTR, "PTR"}, {DNS_TYPE_MX, "MX"},
	{DNS_TYPE_TXT, "TXT"}, {DNS_TYPE_AAAA, "AAAA"}, {DNS_TYPE_SPF, "SPF"},
};

const char *dns_type_name(enum dns_type t)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (type_names[i].type == t)
			return type_names[i].name;
	return "?";
}

int dns_type_from_name(const char *s)
{
	for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++)
		if (strcasecmp(type_names[i].name, s) == 0)
			return (int)type_names[i].type;
	return -1;
}

const char *dns_status_name(enum dns_status s)
{
	static const char *const names[] = {"data", "nodata", "nxdomain",
					    "tempfail", "malformed"};
	return (unsigned)s < 5 ? names[s] : "?";
}

const char *dns_why_name(enum dns_why w)
{
	static const char *const names[] = {
		"none",    "timeout", "servfail",   "refused",
		"rcode",   "network", "bad name",   "bad wire data",
		"cname loop", "out of memory", "cancelled"};
	return (unsigned)w < sizeof names / sizeof names[0] ? names[w] : "?";
}

uint32_t dns_name_hash(const char *name, unsigned key)
{
	uint32_t h = 2166136261u ^ key;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

int dns_name_normalize(const char *name, char *out)
{
	size_t n = strlen(name);
	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n > DNS_NAME_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		out[i] = (char)tolower((unsigned char)name[i]);
	out[n] = '\0';
	return (int)n;
}

struct dns_builder *dns_builder_new(const char *name, enum dns_type type)
{
	struct dns_builder *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->type = type;
	if (dns_name_normalize(name, b->name) < 0) {
		free(b);
		errno = ENAMETOOLONG;
		return NULL;
	}
	strcpy(b->canonical, b->name);
	return b;
}

void dns_builder_free(struct dns_builder *b)
{
	if (!b)
		return;
	free(b->recs);
	free(b->pool);
	free(b);
}

unsigned dns_builder_count(const struct dns_builder *b)
{
	return b->nrecs;
}

int dns_builder_set_canonical(struct dns_builder *b, const char *canonical)
{
	return dns_name_normalize(canonical, b->canonical) < 0 ? -ENAMETOOLONG : 0;
}

/* Append bytes to the pool; returns the offset, or -1 on ENOMEM. */
static long pool_put(struct dns_builder *b, const void *p, size_t n)
{
	if (b->poollen + n > b->poolcap) {
		size_t cap = b->poolcap ? b->poolcap : 256;
		while (cap < b->poollen + n)
			cap *= 2;
		uint8_t *np = realloc(b->pool, cap);
		if (!np)
			return -1;
		b->pool = np;
		b->poolcap = cap;
	}
	long off = (long)b->poollen;
	if (n)
		memcpy(b->pool + b->poollen, p, n);
	b->poollen += n;
	return off;
}

static struct dns_record *rec_push(struct dns_builder *b, uint32_t ttl)
{
	if (b->nrecs >= DNS_ANSWER_MAX_RECORDS)
		return NULL;
	if (b->nrecs == b->caprecs) {
		unsigned cap = b->caprecs ? b->caprecs * 2 : 4;
		struct dns_record *nr = realloc(b->recs, cap * sizeof *nr);
		if (!nr)
			return NULL;
		b->recs = nr;
		b->caprecs = cap;
	}
	struct dns_record *r = &b->recs[b->nrecs++];
	memset(r, 0, sizeof *r);
	r->ttl = ttl;
	return r;
}

int dns_builder_add_a(struct dns_builder *b, uint32_t ttl, struct in_addr a)
{
	struct dns_record *r = rec_push(b, ttl);
	if (!r)
		return -ENOMEM;
	r->u.a = a;
	return 0;
}

int dns_builder_add_aaaa(struct dns_builder *b, uint32_t ttl,
			 const struct in6_addr *a)
{
	struct dns_record *r = rec_push(b, ttl);
	if (!r)
		return -ENOMEM;
	r->u.aaaa = *a;
	return 0;
}

static long pool_put_name(struct dns_builder *b, const char *name)
{
	char norm[DNS_NAME_MAX + 1];
	int n = dns_name_normalize(name, norm);
	if (n < 0)
		return -1;
	return pool_put(b, norm, (size_t)n + 1);
}

int dns_builder_add_mx(struct dns_builder *b, uint32_t ttl, uint16_t pref,
		       const char *host)
{
	long off = pool_put_name(b, host);
	struct dns_record *r = off < 0 ? NULL : rec_push(b, ttl);
	if (!r)
		return -ENOMEM;
	r->u.mx.preference = pref;
	r->u.mx.host = (const char *)(uintptr_t)off;
	return 0;
}

int dns_builder_add_name(struct dns_builder *b, uint32_t ttl,
			 const char *target)
{
	long off = pool_put_name(b, target);
	struct dns_record *r = off < 0 ? NULL : rec_push(b, ttl);
	if (!r)
		return -ENOMEM;
	r->u.ptr = (const char *)(uintptr_t)off;
	return 0;
}

int dns_builder_add_txt(struct dns_builder *b, uint32_t ttl,
			const uint8_t *const *strings, const uint8_t *lens,
			unsigned nstrings)
{
	if (nstrings > 65535)
		return -E2BIG;
	long lens_off = pool_put(b, lens, nstrings);
	long data_off = pool_put(b, NULL, 0);
	uint32_t total = 0;
	for (unsigned i = 0; i < nstrings && lens_off >= 0; i++) {
		if (pool_put(b, strings[i], lens[i]) < 0)
			lens_off = -1;
		total += lens[i];
	}
	/* A NUL after the data lets callers treat a one-string TXT as text. */
	struct dns_record *r = NULL;
	if (lens_off >= 0 && pool_put(b, "", 1) >= 0)
		r = rec_push(b, ttl);
	if (!r)
		return -ENOMEM;
	r->u.txt.lens = (const uint8_t *)(uintptr_t)lens_off;
	r->u.txt.data = (const uint8_t *)(uintptr_t)data_off;
	r->u.txt.len = total;
	r->u.txt.nstrings = (uint16_t)nstrings;
	return 0;
}

static void fix_pointers(struct dns_record *r, enum dns_type type,
			 const uint8_t *pool)
{
	switch (type) {
	case DNS_TYPE_MX:
		r->u.mx.host = (const char *)pool + (uintptr_t)r->u.mx.host;
		break;
	case DNS_TYPE_PTR:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_NS:
		r->u.ptr = (const char *)pool + (uintptr_t)r->u.ptr;
		break;
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF:
		r->u.txt.lens = pool + (uintptr_t)r->u.txt.lens;
		r->u.txt.data = pool + (uintptr_t)r->u.txt.data;
		break;
	default:
		break;
	}
}

struct dns_answer *dns_builder_finish(struct dns_builder *b,
				      enum dns_status status, enum dns_why why,
				      uint32_t neg_ttl, bool cacheable)
{
	/* A failed answer keeps none of the records added before the failure
	 * showed (a bad record after good ones): records have no order (RFC
	 * 2181 §5.1), so what a check concludes must not depend on it. */
	unsigned n = status == DNS_DATA ? b->nrecs : 0;
	size_t poollen = n ? b->poollen : 0;
	size_t namelen = strlen(b->name) + 1, canonlen = strlen(b->canonical) + 1;
	size_t hdr = (sizeof(struct dns_answer) + 15) & ~(size_t)15;
	size_t recs = n * sizeof(struct dns_record);
	struct dns_answer *a = malloc(hdr + recs + poollen + namelen + canonlen);
	if (!a) {
		dns_builder_free(b);
		return NULL;
	}
	struct dns_record *rv = (struct dns_record *)((char *)a + hdr);
	uint8_t *pool = (uint8_t *)rv + recs;
	char *name = (char *)pool + poollen;
	char *canon = name + namelen;
	if (poollen)
		memcpy(pool, b->pool, poollen);
	memcpy(name, b->name, namelen);
	memcpy(canon, b->canonical, canonlen);
	uint32_t ttl = neg_ttl;
	for (unsigned i = 0; i < n; i++) {
		rv[i] = b->recs[i];
		fix_pointers(&rv[i], b->type, pool);
		if (i == 0 || rv[i].ttl < ttl)
			ttl = rv[i].ttl;
	}
	*a = (struct dns_answer){
		.refs = 1,
		.type = b->type,
		.status = status,
		.why = n ? DNS_WHY_NONE : why,
		.ttl = ttl,
		.cacheable = n ? true : cacheable,
		.name = name,
		.canonical = canon,
		.count = n,
		.records = rv,
	};
	dns_builder_free(b);
	return a;
}

struct dns_answer *dns_answer_new_empty(const char *name, enum dns_type type,
					enum dns_status status, enum dns_why why,
					uint32_t ttl)
{
	struct dns_builder *b = dns_builder_new(name, type);
	if (!b)
		b = dns_builder_new("", type); /* over-long name: keep the status */
	if (!b)
		return NULL;
	bool cacheable = status == DNS_NODATA || status == DNS_NXDOMAIN;
	return dns_builder_finish(b, status, why, ttl, cacheable && ttl > 0);
}

struct dns_answer *dns_answer_ref(struct dns_answer *a)
{
	a->refs++;
	return a;
}

void dns_answer_release(struct dns_answer *a)
{
	if (a && --a->refs == 0)
		free(a);
}

size_t dns_txt_join(const struct dns_txt *t, char *buf, size_t size)
{
	if (size) {
		size_t n = t->len < size - 1 ? t->len : size - 1;
		memcpy(buf, t->data, n);
		buf[n] = '\0';
	}
	return t->len;
}
