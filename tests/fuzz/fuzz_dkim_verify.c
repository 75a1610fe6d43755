/*
 * fuzz_dkim_verify — whole-message verification against a fixed in-memory
 * zone (the unit-test ed25519 key, the RFC 8463 keys, a timing-out
 * selector), driven through the sans-I/O query/resume loop with the key
 * cache on, so hits and misses both run. Checks that no canonicalized
 * byte comes from outside the message.
 */
#include "../../verify/dkim.h"
#include "../../verify/dkim_canon.h"
#include "../../verify/dns_zone.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const char zone_text[] =
	"$TTL 300\n"
	"unit._domainkey.example.com. TXT \"v=DKIM1; k=ed25519; p=SqcbFkTkTmr/jTKPm/lmrpIcP14wOqCEcOPH7JEtKkU=\"\n"
	"brisbane._domainkey.football.example.com. TXT \"v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"\n"
	"test._domainkey.football.example.com. TXT \"v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB\"\n"
	"revoked._domainkey.example.com. TXT \"v=DKIM1; p=\"\n"
	"slow._domainkey.example.com. TIMEOUT\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dns_zone *zone;
	static struct dkim_key_cache *cache;
	if (!zone) {
		struct dns_zone_error err;
		zone = dns_zone_parse(zone_text, sizeof zone_text - 1, "fuzz", &err);
		cache = dkim_key_cache_new(64);
		if (!zone || !cache)
			abort();
	}
	struct dkim_config cfg = {.now = 1700000000, .keys = size & 1 ? cache : NULL};
	dkim_canon_foreign_bytes = 0;
	struct dkim_verifier *v = dkim_verifier_new(&cfg, (const char *)data, size);
	if (!v)
		return 0;
	const char *name;
	unsigned tok;
	while ((name = dkim_verifier_next_query(v, &tok))) {
		struct dns_answer *a = dns_zone_answer(zone, name, DNS_TYPE_TXT, false);
		if (!a)
			a = dns_answer_new_empty(name, DNS_TYPE_TXT, DNS_TEMPFAIL, DNS_WHY_NOMEM, 0);
		dkim_verifier_resume(v, tok, a);
		if (a)
			dns_answer_release(a);
	}
	if (!dkim_verifier_done(v) || dkim_canon_foreign_bytes)
		abort();
	const struct dkim_results *r = dkim_verifier_results(v);
	if (r->nreported > DKIM_REPORT_MAX || r->nreported > r->nsigs)
		abort();
	dkim_verifier_free(v);
	return 0;
}
