/*
 * dkim_key — DKIM public key records (RFC 6376 §3.6.1, RFC 8463) and the
 * per-worker cache of decoded keys.
 *
 * Owns: parsing a key TXT record (v k h s t p; unknown tags ignored),
 * decoding p= into an EVP_PKEY (RSA as SubjectPublicKeyInfo or as a bare
 * PKCS#1 RSAPublicKey; ed25519 as the raw 32 octets), the key size rules
 * (RSA below 1024 bits is unacceptable per RFC 8301, above 8192 bits is
 * refused), and the cache of decoded keys per (domain, selector) bounded
 * by the record's TTL. Decoding costs several times an RSA verify in
 * OpenSSL 3, so the cache is where the speed is.
 *
 * Invariants: a record longer than DKIM_KEY_RECORD_MAX is refused before
 * any decoding; the cache holds at most its capacity and owns one
 * reference of every EVP_PKEY in it and the verification contexts it
 * made. One cache per thread: no locks (the contexts are not shareable).
 */
#ifndef AUTHGATE_DKIM_KEY_H
#define AUTHGATE_DKIM_KEY_H

#include "dkim_tags.h"

#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>

#define DKIM_KEY_RECORD_MAX 4096 /* octets of the joined TXT strings */
#define DKIM_KEY_DER_MAX 2600    /* p= decoded: fits RSA-16384 SPKI, to reject it by size */
#define DKIM_RSA_MIN_BITS 1024
#define DKIM_RSA_MAX_BITS 8192

enum dkim_key_type {
	DKIM_KEY_RSA,
	DKIM_KEY_ED25519,
};

/* Outcomes of parsing and decoding; each maps to one fixed reason text. */
enum dkim_key_status {
	DKIM_KEY_OK,
	DKIM_KEY_ERR_SYNTAX,      /* not a tag-list */
	DKIM_KEY_ERR_VERSION,     /* v= present but not "DKIM1" first */
	DKIM_KEY_ERR_TYPE,        /* k= unknown */
	DKIM_KEY_ERR_NO_P,        /* p= missing */
	DKIM_KEY_ERR_REVOKED,     /* p= empty */
	DKIM_KEY_ERR_SERVICE,     /* s= excludes email */
	DKIM_KEY_ERR_TOO_LONG,    /* record or p= over the caps */
	DKIM_KEY_ERR_BASE64,      /* p= is not base64 */
	DKIM_KEY_ERR_DECODE,      /* p= is not a key of type k= */
	DKIM_KEY_ERR_TOO_SMALL,   /* RSA < 1024 bits: RFC 8301, a policy result */
	DKIM_KEY_ERR_TOO_LARGE,   /* RSA > 8192 bits */
	DKIM_KEY_ERR_NOMEM,
};

const char *dkim_key_status_reason(enum dkim_key_status st);

/* What a record says, as slices of the record text. */
struct dkim_key_record {
	enum dkim_key_type type;
	bool hash_sha256_ok;  /* h= absent or lists sha256 */
	bool strict;          /* t=s: i= domain must equal d= */
	bool testing;         /* t=y */
	struct dkim_slice p;
};

enum dkim_key_status dkim_key_parse(const char *txt, size_t len,
				    struct dkim_key_record *out);
/* Decode rec->p into *pkey (new reference). *bits gets the key size. */
enum dkim_key_status dkim_key_decode(const struct dkim_key_record *rec,
				     EVP_PKEY **pkey, int *bits);

/* A usable key: the record's flags and the decoded key. A key that
 * comes from the cache also carries a verification context set up once
 * (RSA: PKCS#1 v1.5 with SHA-256; ed25519: one-shot DigestVerify), as
 * openssl speed reuses its own; NULL otherwise. */
struct dkim_key {
	enum dkim_key_type type;
	bool hash_sha256_ok, strict, testing;
	int bits;
	EVP_PKEY *pkey;
	EVP_PKEY_CTX *rsa_ctx;
	EVP_MD_CTX *ed_ctx;
};

/* Parse and decode in one go; on success key->pkey is a new reference. */
enum dkim_key_status dkim_key_load(const char *txt, size_t len,
				   struct dkim_key *key);

/* --- cache ----------------------------------------------------------- */

struct dkim_key_cache;

struct dkim_key_cache *dkim_key_cache_new(unsigned capacity);
void dkim_key_cache_free(struct dkim_key_cache *c);
/* Look up (domain, selector), case-insensitively, at time now (seconds).
 * On a hit, copies the entry to *out and returns true; out->pkey is
 * borrowed from the cache (and so are its contexts) and valid until the
 * next insert. */
bool dkim_key_cache_get(struct dkim_key_cache *c, struct dkim_slice domain,
			struct dkim_slice selector, uint64_t now,
			struct dkim_key *out);
/* Insert (replacing any entry for the same name) until now + ttl; takes
 * its own reference of key->pkey. Returns 0 or -ENOMEM / -E2BIG (names
 * too long to cache). */
int dkim_key_cache_put(struct dkim_key_cache *c, struct dkim_slice domain,
		       struct dkim_slice selector, uint64_t now, uint32_t ttl,
		       const struct dkim_key *key);

struct dkim_key_cache_stats {
	uint64_t hits, misses, inserts, evictions;
};
void dkim_key_cache_stats(const struct dkim_key_cache *c,
			  struct dkim_key_cache_stats *out);

#endif
