/*
 * fuzz_dkim_key — key record parsing and p= decoding (OpenSSL included),
 * and the decoded-key cache with fuzzer-chosen names.
 */
#include "../../verify/dkim_key.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_key_cache *cache;
	if (!cache)
		cache = dkim_key_cache_new(32);
	struct dkim_key key;
	if (dkim_key_load((const char *)data, size, &key) != DKIM_KEY_OK)
		return 0;
	if (key.type == DKIM_KEY_RSA && (key.bits < DKIM_RSA_MIN_BITS || key.bits > DKIM_RSA_MAX_BITS))
		abort();
	struct dkim_slice d = {(const char *)data, size < 40 ? size : 40};
	struct dkim_slice s = {(const char *)data, size < 8 ? size : 8};
	dkim_key_cache_put(cache, d, s, 1000, 60, &key);
	struct dkim_key got;
	if (!dkim_key_cache_get(cache, d, s, 1001, &got) || got.pkey != key.pkey)
		abort();
	EVP_PKEY_free(key.pkey);
	return 0;
}
