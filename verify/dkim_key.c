/*
 * dkim_key — key records, key decoding and the decoded-key cache.
 */
#include "dkim_key.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>

const char *dkim_key_status_reason(enum dkim_key_status st)
{
	switch (st) {
	case DKIM_KEY_OK: return "key ok";
	case DKIM_KEY_ERR_SYNTAX: return "key record syntax error";
	case DKIM_KEY_ERR_VERSION: return "key record v= is not DKIM1";
	case DKIM_KEY_ERR_TYPE: return "key type k= unknown";
	case DKIM_KEY_ERR_NO_P: return "key record has no p=";
	case DKIM_KEY_ERR_REVOKED: return "key revoked (empty p=)";
	case DKIM_KEY_ERR_SERVICE: return "key service s= excludes email";
	case DKIM_KEY_ERR_TOO_LONG: return "key record too long";
	case DKIM_KEY_ERR_BASE64: return "key p= is not base64";
	case DKIM_KEY_ERR_DECODE: return "key p= does not decode as k= key";
	case DKIM_KEY_ERR_TOO_SMALL: return "RSA key under 1024 bits (RFC 8301)";
	case DKIM_KEY_ERR_TOO_LARGE: return "RSA key over 8192 bits";
	case DKIM_KEY_ERR_NOMEM: return "out of memory";
	}
	return "?";
}

static bool list_has(const struct dkim_slice *list, const char *a, const char *b)
{
	struct dkim_slice item;
	size_t pos = 0;
	while (dkim_slice_next_item(*list, ':', &pos, &item))
		if (dkim_slice_eq(item, a) || (b && dkim_slice_eq(item, b)))
			return true;
	return false;
}

static enum dkim_key_status parse_type(const struct dkim_slice *k,
				       enum dkim_key_type *type)
{
	*type = DKIM_KEY_RSA;
	if (!k || dkim_slice_eq(*k, "rsa"))
		return DKIM_KEY_OK;
	if (dkim_slice_eq(*k, "ed25519")) {
		*type = DKIM_KEY_ED25519;
		return DKIM_KEY_OK;
	}
	return DKIM_KEY_ERR_TYPE;
}

enum dkim_key_status dkim_key_parse(const char *txt, size_t len,
				    struct dkim_key_record *out)
{
	struct dkim_taglist t;
	if (len > DKIM_KEY_RECORD_MAX)
		return DKIM_KEY_ERR_TOO_LONG;
	if (dkim_tags_parse(txt, len, &t) != DKIM_TAGS_OK)
		return DKIM_KEY_ERR_SYNTAX;
	const struct dkim_slice *v = dkim_tags_get(&t, "v");
	if (v && (v != &t.tags[0].value || !dkim_slice_eq(*v, "DKIM1")))
		return DKIM_KEY_ERR_VERSION;
	*out = (struct dkim_key_record){0};
	if (parse_type(dkim_tags_get(&t, "k"), &out->type) != DKIM_KEY_OK)
		return DKIM_KEY_ERR_TYPE;
	const struct dkim_slice *h = dkim_tags_get(&t, "h");
	out->hash_sha256_ok = !h || list_has(h, "sha256", NULL);
	const struct dkim_slice *s = dkim_tags_get(&t, "s");
	if (s && !list_has(s, "email", "*"))
		return DKIM_KEY_ERR_SERVICE;
	const struct dkim_slice *fl = dkim_tags_get(&t, "t");
	if (fl) {
		out->testing = list_has(fl, "y", NULL);
		out->strict = list_has(fl, "s", NULL);
	}
	const struct dkim_slice *p = dkim_tags_get(&t, "p");
	if (!p)
		return DKIM_KEY_ERR_NO_P;
	if (p->n == 0)
		return DKIM_KEY_ERR_REVOKED;
	out->p = *p;
	return DKIM_KEY_OK;
}

static EVP_PKEY *decode_rsa(const unsigned char *der, long n)
{
	const unsigned char *q = der;
	EVP_PKEY *k = d2i_PUBKEY(NULL, &q, n);
	if (k && EVP_PKEY_get_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		k = NULL;
	}
	if (!k) { /* a bare PKCS#1 RSAPublicKey, as some signers publish */
		q = der;
		k = d2i_PublicKey(EVP_PKEY_RSA, NULL, &q, n);
	}
	ERR_clear_error();
	return k;
}

enum dkim_key_status dkim_key_decode(const struct dkim_key_record *rec,
				     EVP_PKEY **pkey, int *bits)
{
	unsigned char der[DKIM_KEY_DER_MAX];
	if (rec->p.n > DKIM_KEY_RECORD_MAX)
		return DKIM_KEY_ERR_TOO_LONG;
	long n = dkim_base64_decode(rec->p, der, sizeof der);
	if (n < 0)
		return rec->p.n * 3 / 4 > sizeof der ? DKIM_KEY_ERR_TOO_LONG
						     : DKIM_KEY_ERR_BASE64;
	EVP_PKEY *k;
	if (rec->type == DKIM_KEY_ED25519) {
		if (n != 32)
			return DKIM_KEY_ERR_DECODE;
		k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, der, 32);
		if (!k)
			return ERR_clear_error(), DKIM_KEY_ERR_DECODE;
	} else {
		k = decode_rsa(der, n);
		if (!k)
			return DKIM_KEY_ERR_DECODE;
	}
	*bits = EVP_PKEY_get_bits(k);
	if (rec->type == DKIM_KEY_RSA &&
	    (*bits < DKIM_RSA_MIN_BITS || *bits > DKIM_RSA_MAX_BITS)) {
		EVP_PKEY_free(k);
		return *bits < DKIM_RSA_MIN_BITS ? DKIM_KEY_ERR_TOO_SMALL
						 : DKIM_KEY_ERR_TOO_LARGE;
	}
	*pkey = k;
	return DKIM_KEY_OK;
}

enum dkim_key_status dkim_key_load(const char *txt, size_t len,
				   struct dkim_key *key)
{
	struct dkim_key_record rec;
	enum dkim_key_status st = dkim_key_parse(txt, len, &rec);
	if (st != DKIM_KEY_OK)
		return st;
	*key = (struct dkim_key){.type = rec.type,
				 .hash_sha256_ok = rec.hash_sha256_ok,
				 .strict = rec.strict,
				 .testing = rec.testing};
	return dkim_key_decode(&rec, &key->pkey, &key->bits);
}

/* -------------------------------------------------------------- cache */

#define CACHE_PROBE 8
#define CACHE_NAME_MAX 320

struct cache_entry {
	uint64_t expires; /* 0: empty */
	uint32_t hash;
	uint16_t dlen, slen;
	char name[CACHE_NAME_MAX]; /* selector then domain, lower case */
	struct dkim_key key;
};

struct dkim_key_cache {
	unsigned mask;
	struct dkim_key_cache_stats stats;
	struct cache_entry *e;
};

static void entry_clear(struct cache_entry *e);

struct dkim_key_cache *dkim_key_cache_new(unsigned capacity)
{
	unsigned n = 16;
	while (n < capacity && n < (1u << 20))
		n <<= 1;
	struct dkim_key_cache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->e = calloc(n, sizeof *c->e);
	if (!c->e)
		return free(c), NULL;
	c->mask = n - 1;
	return c;
}

void dkim_key_cache_free(struct dkim_key_cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i <= c->mask; i++)
		entry_clear(&c->e[i]);
	free(c->e);
	free(c);
}

static unsigned char lc(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static uint32_t name_hash(struct dkim_slice d, struct dkim_slice s)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < s.n; i++)
		h = (h ^ lc((unsigned char)s.p[i])) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (size_t i = 0; i < d.n; i++)
		h = (h ^ lc((unsigned char)d.p[i])) * 16777619u;
	return h;
}

static bool entry_is(const struct cache_entry *e, uint32_t h,
		     struct dkim_slice d, struct dkim_slice s)
{
	return e->hash == h && e->dlen == d.n && e->slen == s.n &&
	       dkim_slices_caseeq((struct dkim_slice){e->name, s.n}, s) &&
	       dkim_slices_caseeq((struct dkim_slice){e->name + s.n, d.n}, d);
}

static void entry_clear(struct cache_entry *e)
{
	if (e->expires) {
		EVP_PKEY_free(e->key.pkey);
		EVP_PKEY_CTX_free(e->key.rsa_ctx);
		EVP_MD_CTX_free(e->key.ed_ctx);
	}
	e->expires = 0;
}

/* The context a cached key is verified with, set up once. */
static int make_contexts(struct dkim_key *k)
{
	k->rsa_ctx = NULL;
	k->ed_ctx = NULL;
	if (k->type == DKIM_KEY_ED25519) {
		k->ed_ctx = EVP_MD_CTX_new();
		if (k->ed_ctx && EVP_DigestVerifyInit(k->ed_ctx, NULL, NULL, NULL, k->pkey) > 0)
			return 0;
	} else {
		k->rsa_ctx = EVP_PKEY_CTX_new(k->pkey, NULL);
		if (k->rsa_ctx && EVP_PKEY_verify_init(k->rsa_ctx) > 0 &&
		    EVP_PKEY_CTX_set_rsa_padding(k->rsa_ctx, RSA_PKCS1_PADDING) > 0 &&
		    EVP_PKEY_CTX_set_signature_md(k->rsa_ctx, EVP_sha256()) > 0)
			return 0;
	}
	EVP_PKEY_CTX_free(k->rsa_ctx);
	EVP_MD_CTX_free(k->ed_ctx);
	k->rsa_ctx = NULL;
	k->ed_ctx = NULL;
	ERR_clear_error();
	return -ENOMEM;
}

bool dkim_key_cache_get(struct dkim_key_cache *c, struct dkim_slice domain,
			struct dkim_slice selector, uint64_t now,
			struct dkim_key *out)
{
	uint32_t h = name_hash(domain, selector);
	for (unsigned i = 0; i < CACHE_PROBE; i++) {
		struct cache_entry *e = &c->e[(h + i) & c->mask];
		if (!e->expires || !entry_is(e, h, domain, selector))
			continue;
		if (e->expires <= now) {
			entry_clear(e);
			break;
		}
		*out = e->key;
		c->stats.hits++;
		return true;
	}
	c->stats.misses++;
	return false;
}

/* The slot for a new entry: the same name, else an empty or expired
 * slot, else the entry closest to expiry in the probe window. */
static struct cache_entry *pick_slot(struct dkim_key_cache *c, uint32_t h,
				     struct dkim_slice d, struct dkim_slice s,
				     uint64_t now)
{
	struct cache_entry *best = NULL;
	for (unsigned i = 0; i < CACHE_PROBE; i++) {
		struct cache_entry *e = &c->e[(h + i) & c->mask];
		if (e->expires && entry_is(e, h, d, s))
			return e;
		if (!e->expires || e->expires <= now) {
			if (!best || best->expires)
				best = e;
		} else if (!best || (best->expires && e->expires < best->expires)) {
			best = e;
		}
	}
	if (best->expires && best->expires > now)
		c->stats.evictions++;
	return best;
}

int dkim_key_cache_put(struct dkim_key_cache *c, struct dkim_slice domain,
		       struct dkim_slice selector, uint64_t now, uint32_t ttl,
		       const struct dkim_key *key)
{
	if (domain.n + selector.n > CACHE_NAME_MAX)
		return -E2BIG;
	if (ttl == 0)
		return 0;
	uint32_t h = name_hash(domain, selector);
	struct cache_entry *e = pick_slot(c, h, domain, selector, now);
	struct dkim_key k = *key;
	if (make_contexts(&k) < 0)
		return -ENOMEM;
	if (!EVP_PKEY_up_ref(key->pkey)) {
		EVP_PKEY_CTX_free(k.rsa_ctx);
		EVP_MD_CTX_free(k.ed_ctx);
		return -ENOMEM;
	}
	entry_clear(e);
	e->hash = h;
	e->slen = (uint16_t)selector.n;
	e->dlen = (uint16_t)domain.n;
	for (size_t i = 0; i < selector.n; i++)
		e->name[i] = (char)lc((unsigned char)selector.p[i]);
	for (size_t i = 0; i < domain.n; i++)
		e->name[selector.n + i] = (char)lc((unsigned char)domain.p[i]);
	e->key = k;
	e->expires = now + ttl;
	c->stats.inserts++;
	return 0;
}

void dkim_key_cache_stats(const struct dkim_key_cache *c,
			  struct dkim_key_cache_stats *out)
{
	*out = c->stats;
}
