/*
 * test_dkim_key — key records, SPKI vs PKCS#1 decoding, size rules, cache.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../verify/dkim_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static enum dkim_key_status parse(const char *s, struct dkim_key_record *r)
{
	return dkim_key_parse(s, strlen(s), r);
}

static enum dkim_key_status load(const char *s, struct dkim_key *k)
{
	enum dkim_key_status st = dkim_key_load(s, strlen(s), k);
	return st;
}

static void test_record_defaults_and_flags(void **state)
{
	(void)state;
	struct dkim_key_record r;
	assert_int_equal(parse("p=AAAA", &r), DKIM_KEY_OK);
	assert_int_equal(r.type, DKIM_KEY_RSA);
	assert_true(r.hash_sha256_ok);
	assert_false(r.strict);
	assert_int_equal(parse("v=DKIM1; k=ed25519; t=y:s; h=sha1:sha256; s=*; p=AAAA", &r),
			 DKIM_KEY_OK);
	assert_int_equal(r.type, DKIM_KEY_ED25519);
	assert_true(r.strict && r.testing && r.hash_sha256_ok);
	assert_int_equal(parse("h=sha1; p=AAAA", &r), DKIM_KEY_OK);
	assert_false(r.hash_sha256_ok);
	assert_int_equal(parse("s=email:tlsrpt; n=unknown tags ignored; zz=1; p=AAAA", &r),
			 DKIM_KEY_OK);
}

static void test_record_errors(void **state)
{
	(void)state;
	struct dkim_key_record r;
	assert_int_equal(parse("k=rsa; v=DKIM1; p=AAAA", &r), DKIM_KEY_ERR_VERSION); /* not first */
	assert_int_equal(parse("v=DKIM1: g=*; p=AAAA", &r), DKIM_KEY_ERR_VERSION);
	assert_int_equal(parse("v=DKIM3; p=AAAA", &r), DKIM_KEY_ERR_VERSION);
	assert_int_equal(parse("k=ed25519-sha256; p=AAAA", &r), DKIM_KEY_ERR_TYPE);
	assert_int_equal(parse("s=tlsrpt; p=AAAA", &r), DKIM_KEY_ERR_SERVICE);
	assert_int_equal(parse("v=DKIM1; k=rsa;", &r), DKIM_KEY_ERR_NO_P);
	assert_int_equal(parse("v=DKIM1; p=", &r), DKIM_KEY_ERR_REVOKED);
	assert_int_equal(parse("k=rsa; t; p=AAAA", &r), DKIM_KEY_ERR_SYNTAX);
	assert_int_equal(parse("", &r), DKIM_KEY_ERR_NO_P);
	char *big = malloc(DKIM_KEY_RECORD_MAX + 16);
	strcpy(big, "p=");
	memset(big + 2, 'A', DKIM_KEY_RECORD_MAX);
	big[DKIM_KEY_RECORD_MAX + 2] = 0;
	assert_int_equal(parse(big, &r), DKIM_KEY_ERR_TOO_LONG);
	free(big);
}

/* An RSA public key with a modulus of `bits` bits, no primes needed. */
static EVP_PKEY *rsa_of_bits(int bits)
{
	BIGNUM *n = BN_new(), *e = BN_new();
	BN_rand(n, bits, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ODD);
	BN_set_word(e, 65537);
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, n);
	OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, e);
	OSSL_PARAM *p = OSSL_PARAM_BLD_to_param(b);
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *k = NULL;
	EVP_PKEY_fromdata_init(c);
	EVP_PKEY_fromdata(c, &k, EVP_PKEY_PUBLIC_KEY, p);
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(p);
	OSSL_PARAM_BLD_free(b);
	BN_free(n);
	BN_free(e);
	return k;
}

/* "k=rsa; p=<base64 of SPKI or PKCS#1>" into a malloc'd string. */
static char *record_for(EVP_PKEY *k, bool pkcs1)
{
	unsigned char *der = NULL;
	int n = pkcs1 ? i2d_PublicKey(k, &der) : i2d_PUBKEY(k, &der);
	assert_true(n > 0);
	char *rec = malloc(16 + 4 * ((size_t)n / 3 + 1) + 1);
	strcpy(rec, "k=rsa; p=");
	EVP_EncodeBlock((unsigned char *)rec + 9, der, n);
	OPENSSL_free(der);
	return rec;
}

static void test_spki_and_pkcs1_decode_to_same_key(void **state)
{
	(void)state;
	EVP_PKEY *k = rsa_of_bits(2048);
	char *spki = record_for(k, false), *pkcs1 = record_for(k, true);
	struct dkim_key a, b;
	assert_int_equal(load(spki, &a), DKIM_KEY_OK);
	assert_int_equal(load(pkcs1, &b), DKIM_KEY_OK);
	assert_int_equal(a.bits, 2048);
	assert_int_equal(EVP_PKEY_eq(a.pkey, k), 1);
	assert_int_equal(EVP_PKEY_eq(b.pkey, k), 1);
	EVP_PKEY_free(a.pkey);
	EVP_PKEY_free(b.pkey);
	free(spki);
	free(pkcs1);
	EVP_PKEY_free(k);
}

static void test_rsa_size_rules(void **state)
{
	(void)state;
	static const struct { int bits; enum dkim_key_status st; } cases[] = {
		{512, DKIM_KEY_ERR_TOO_SMALL}, {1023, DKIM_KEY_ERR_TOO_SMALL},
		{1024, DKIM_KEY_OK}, {8192, DKIM_KEY_OK}, {8200, DKIM_KEY_ERR_TOO_LARGE},
		{16384, DKIM_KEY_ERR_TOO_LARGE},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		EVP_PKEY *k = rsa_of_bits(cases[i].bits);
		char *rec = record_for(k, i % 2);
		struct dkim_key key;
		assert_int_equal(load(rec, &key), cases[i].st);
		if (cases[i].st == DKIM_KEY_OK)
			EVP_PKEY_free(key.pkey);
		free(rec);
		EVP_PKEY_free(k);
	}
}

static void test_ed25519_and_bad_p(void **state)
{
	(void)state;
	struct dkim_key k;
	assert_int_equal(load("v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &k),
			 DKIM_KEY_OK);
	assert_int_equal(k.type, DKIM_KEY_ED25519);
	EVP_PKEY_free(k.pkey);
	/* SPKI-wrapped ed25519 (44 octets) is not the RFC 8463 form */
	assert_int_equal(load("k=ed25519; p=MCowBQYDK2VwAyEA3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE=", &k),
			 DKIM_KEY_ERR_DECODE);
	assert_int_equal(load("k=rsa; p=BARF", &k), DKIM_KEY_ERR_DECODE);
	assert_int_equal(load("k=rsa; p=!!!!", &k), DKIM_KEY_ERR_BASE64);
	/* an ed25519 key published as k=rsa */
	assert_int_equal(load("k=rsa; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &k),
			 DKIM_KEY_ERR_DECODE);
}

static void test_cache(void **state)
{
	(void)state;
	struct dkim_key_cache *c = dkim_key_cache_new(16);
	struct dkim_key k, got;
	assert_int_equal(load("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &k), DKIM_KEY_OK);
	struct dkim_slice d = {"Example.COM", 11}, s = {"sel", 3};
	struct dkim_slice d2 = {"example.com", 11}, s2 = {"SEL", 3};
	assert_false(dkim_key_cache_get(c, d, s, 100, &got));
	assert_int_equal(dkim_key_cache_put(c, d, s, 100, 60, &k), 0);
	EVP_PKEY_free(k.pkey); /* the cache holds its own reference */
	assert_true(dkim_key_cache_get(c, d2, s2, 159, &got));
	assert_int_equal(got.type, DKIM_KEY_ED25519);
	assert_false(dkim_key_cache_get(c, d2, s2, 160, &got)); /* expired */
	assert_false(dkim_key_cache_get(c, d2, (struct dkim_slice){"se", 2}, 120, &got));
	/* many names: bounded, evictions counted, no leak */
	char name[32];
	assert_int_equal(load("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &k), DKIM_KEY_OK);
	for (int i = 0; i < 200; i++) {
		int n = snprintf(name, sizeof name, "s%d", i);
		assert_int_equal(dkim_key_cache_put(c, d, (struct dkim_slice){name, (size_t)n},
						    1000, 300, &k), 0);
	}
	EVP_PKEY_free(k.pkey);
	struct dkim_key_cache_stats st;
	dkim_key_cache_stats(c, &st);
	assert_true(st.evictions >= 200 - 16);
	assert_int_equal(st.hits, 1);
	dkim_key_cache_free(c);
}

/* t=y and t=s are separate flags (RFC 6376 §3.6.1) */
static void test_t_flags_are_independent(void **state)
{
	(void)state;
	struct dkim_key_record r;
	assert_int_equal(parse("t=y; p=AAAA", &r), DKIM_KEY_OK);
	assert_true(r.testing);
	assert_false(r.strict);
	assert_int_equal(parse("t=s; p=AAAA", &r), DKIM_KEY_OK);
	assert_false(r.testing);
	assert_true(r.strict);
	assert_int_equal(parse("p=AAAA", &r), DKIM_KEY_OK);
	assert_false(r.testing);
}

/* RFC 8463 §4.2: p= is exactly the 32-octet public key, shorter is no key */
static void test_ed25519_key_of_31_octets_is_not_a_key(void **state)
{
	(void)state;
	struct dkim_key k;
	assert_int_equal(load("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHUQ==", &k),
			 DKIM_KEY_ERR_DECODE);
	assert_int_equal(load("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURoA", &k),
			 DKIM_KEY_ERR_DECODE);
}

/* an SPKI of another algorithm under k=rsa does not decode as RSA (it
 * would otherwise be judged by its size, as if it were an RSA key) */
static void test_non_rsa_spki_under_k_rsa(void **state)
{
	(void)state;
	struct dkim_key k;
	assert_int_equal(load("k=rsa; p=MCowBQYDK2VwAyEA3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE=", &k),
			 DKIM_KEY_ERR_DECODE);
}

/* TTL 0: use once, never stored (and never evicts a live entry) */
static void test_cache_ttl_zero_not_stored(void **state)
{
	(void)state;
	struct dkim_key_cache *c = dkim_key_cache_new(16);
	struct dkim_key k, got;
	assert_int_equal(load("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &k), DKIM_KEY_OK);
	struct dkim_slice d = {"example.com", 11}, s = {"sel", 3};
	assert_int_equal(dkim_key_cache_put(c, d, s, 100, 0, &k), 0);
	assert_int_equal(dkim_key_cache_put(c, d, s, 0, 0, &k), 0);
	assert_false(dkim_key_cache_get(c, d, s, 100, &got));
	struct dkim_key_cache_stats st;
	dkim_key_cache_stats(c, &st);
	assert_int_equal(st.inserts, 0);
	EVP_PKEY_free(k.pkey);
	dkim_key_cache_free(c);
}

/* a re-fetched key (say, rotated) replaces the cached one for that name */
static void test_cache_put_replaces_same_name(void **state)
{
	(void)state;
	struct dkim_key_cache *c = dkim_key_cache_new(16);
	struct dkim_key a, b, got;
	assert_int_equal(load("k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=", &a), DKIM_KEY_OK);
	assert_int_equal(load("k=ed25519; p=3SUqa9UbfciWkk7tlcJ9P1VD5pXAasg0JUn/OgjVbKE=", &b), DKIM_KEY_OK);
	struct dkim_slice d = {"example.com", 11}, s = {"sel", 3};
	assert_int_equal(dkim_key_cache_put(c, d, s, 100, 60, &a), 0);
	assert_int_equal(dkim_key_cache_put(c, d, s, 110, 60, &b), 0);
	assert_true(dkim_key_cache_get(c, d, s, 120, &got));
	assert_int_equal(EVP_PKEY_eq(got.pkey, b.pkey), 1);
	/* and lives for the new TTL */
	assert_true(dkim_key_cache_get(c, d, s, 169, &got));
	struct dkim_key_cache_stats st;
	dkim_key_cache_stats(c, &st);
	assert_int_equal(st.evictions, 0);
	EVP_PKEY_free(a.pkey);
	EVP_PKEY_free(b.pkey);
	dkim_key_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record_defaults_and_flags),
		cmocka_unit_test(test_record_errors),
		cmocka_unit_test(test_spki_and_pkcs1_decode_to_same_key),
		cmocka_unit_test(test_rsa_size_rules),
		cmocka_unit_test(test_ed25519_and_bad_p),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_t_flags_are_independent),
		cmocka_unit_test(test_ed25519_key_of_31_octets_is_not_a_key),
		cmocka_unit_test(test_non_rsa_spki_under_k_rsa),
		cmocka_unit_test(test_cache_ttl_zero_not_stored),
		cmocka_unit_test(test_cache_put_replaces_same_name),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
