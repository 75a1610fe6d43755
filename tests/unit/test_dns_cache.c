/* Unit tests: dns_cache — TTL expiry, negative caching, LRU eviction; and
 * the dns_answer rules it relies on (cacheable, names, bounds, TXT join). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>

#include "verify/dns_answer.h"
#include "verify/dns_cache.h"

static struct dns_answer *a_answer(const char *name, uint32_t ttl)
{
	struct dns_builder *b = dns_builder_new(name, DNS_TYPE_A);
	struct in_addr ip = {htonl(0x7f000001)};
	assert_int_equal(dns_builder_add_a(b, ttl, ip), 0);
	return dns_builder_finish(b, DNS_DATA, DNS_WHY_NONE, 0, true);
}

static void hit_until_ttl_then_expired(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(8, 0);
	struct dns_answer *a = a_answer("x.test", 30);
	dns_cache_put(c, a, 1000);
	dns_answer_release(a); /* the cache holds its own reference */
	struct dns_answer *got = dns_cache_get(c, "x.test", DNS_TYPE_A, 1029);
	assert_non_null(got);
	assert_int_equal(got->refs, 2);
	dns_answer_release(got);
	assert_null(dns_cache_get(c, "x.test", DNS_TYPE_A, 1030));
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.misses, 1);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 0);
	dns_cache_free(c);
}

static void key_is_name_and_type(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(8, 0);
	struct dns_answer *a = a_answer("x.test", 30);
	dns_cache_put(c, a, 0);
	dns_answer_release(a);
	assert_null(dns_cache_get(c, "x.test", DNS_TYPE_AAAA, 1));
	assert_null(dns_cache_get(c, "y.test", DNS_TYPE_A, 1));
	dns_cache_free(c);
}

/* RFC 2308 §5: NXDOMAIN and NODATA (the name exists, not the type) alike,
 * for their TTL. */
static void negative_answers_cached_for_their_ttl(void **state)
{
	(void)state;
	static const enum dns_status negative[] = {DNS_NXDOMAIN, DNS_NODATA};
	for (int i = 0; i < 2; i++) {
		struct dns_cache *c = dns_cache_new(8, 0);
		struct dns_answer *nx = dns_answer_new_empty("gone.test", DNS_TYPE_TXT,
							     negative[i], DNS_WHY_NONE, 60);
		dns_cache_put(c, nx, 0);
		dns_answer_release(nx);
		struct dns_answer *got = dns_cache_get(c, "gone.test", DNS_TYPE_TXT, 59);
		assert_non_null(got);
		assert_int_equal(got->status, negative[i]);
		dns_answer_release(got);
		assert_null(dns_cache_get(c, "gone.test", DNS_TYPE_TXT, 60));
		dns_cache_free(c);
	}
}

static void failures_and_uncacheable_never_stored(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(8, 0);
	struct dns_answer *t = dns_answer_new_empty("t.test", DNS_TYPE_A, DNS_TEMPFAIL,
						    DNS_WHY_TIMEOUT, 60);
	struct dns_answer *m = dns_answer_new_empty("m.test", DNS_TYPE_A, DNS_MALFORMED,
						    DNS_WHY_BADWIRE, 60);
	struct dns_answer *n = dns_answer_new_empty("n.test", DNS_TYPE_A, DNS_NODATA,
						    DNS_WHY_NONE, 0); /* no SOA */
	struct dns_answer *z = a_answer("z.test", 0); /* TTL 0: use once */
	dns_cache_put(c, t, 0);
	dns_cache_put(c, m, 0);
	dns_cache_put(c, n, 0);
	dns_cache_put(c, z, 0);
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.entries, 0);
	assert_int_equal(st.inserts, 0);
	dns_answer_release(t);
	dns_answer_release(m);
	dns_answer_release(n);
	dns_answer_release(z);
	dns_cache_free(c);
}

/* Whether the A answer of `name` is in the cache at `now` (a look-up,
 * which counts as a use). */
static void assert_cached(struct dns_cache *c, const char *name, uint64_t now, bool present)
{
	struct dns_answer *got = dns_cache_get(c, name, DNS_TYPE_A, now);
	if ((got != NULL) != present)
		fail_msg("%s: %s", name, present ? "not cached" : "still cached");
	if (got)
		dns_answer_release(got);
}

static void lru_evicts_least_recently_used(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(3, 0);
	char name[32];
	for (int i = 0; i < 3; i++) {
		snprintf(name, sizeof name, "n%d.test", i);
		struct dns_answer *a = a_answer(name, 300);
		dns_cache_put(c, a, 0);
		dns_answer_release(a);
	}
	/* Touch n0 so n1 becomes the least recently used. */
	dns_answer_release(dns_cache_get(c, "n0.test", DNS_TYPE_A, 1));
	struct dns_answer *a = a_answer("n3.test", 300);
	dns_cache_put(c, a, 1);
	dns_answer_release(a);
	assert_cached(c, "n1.test", 2, false);
	assert_cached(c, "n0.test", 2, true);
	assert_cached(c, "n2.test", 2, true);
	assert_cached(c, "n3.test", 2, true);
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.evictions, 1);
	assert_int_equal(st.entries, 3);
	dns_cache_free(c);
}

static void replacing_keeps_one_entry(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(4, 0);
	struct dns_answer *a = a_answer("x.test", 10), *b = a_answer("x.test", 500);
	dns_cache_put(c, a, 0);
	dns_cache_put(c, b, 0);
	dns_answer_release(a);
	dns_answer_release(b);
	struct dns_answer *got = dns_cache_get(c, "x.test", DNS_TYPE_A, 100);
	assert_ptr_equal(got, b);
	dns_answer_release(got);
	struct dns_cache_stats st;
	dns_cache_stats(c, &st);
	assert_int_equal(st.entries, 1);
	dns_cache_free(c);
}

static void max_ttl_caps_lifetime(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(4, 100);
	struct dns_answer *a = a_answer("x.test", 86400);
	dns_cache_put(c, a, 0);
	dns_answer_release(a);
	struct dns_answer *got = dns_cache_get(c, "x.test", DNS_TYPE_A, 99);
	assert_non_null(got);
	dns_answer_release(got);
	assert_null(dns_cache_get(c, "x.test", DNS_TYPE_A, 100));
	dns_cache_free(c);
}

static void flush_empties(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(4, 0);
	struct dns_answer *a = a_answer("x.test", 60);
	dns_cache_put(c, a, 0);
	dns_cache_flush(c);
	assert_int_equal(a->refs, 1);
	assert_null(dns_cache_get(c, "x.test", DNS_TYPE_A, 1));
	dns_answer_release(a);
	dns_cache_free(c);
}

/* With no lookups in between, eviction goes in insertion order: the
 * first entry put is the first to go. */
static void untouched_entries_evicted_oldest_first(void **state)
{
	(void)state;
	struct dns_cache *c = dns_cache_new(2, 0);
	const char *names[] = {"n0.test", "n1.test", "n2.test"};
	for (int i = 0; i < 3; i++) {
		struct dns_answer *a = a_answer(names[i], 300);
		dns_cache_put(c, a, 0);
		dns_answer_release(a);
	}
	assert_cached(c, "n0.test", 1, false);
	assert_cached(c, "n1.test", 1, true);
	assert_cached(c, "n2.test", 1, true);
	dns_cache_free(c);
}

/* dns_answer's own rules, which every backend and this cache rely on. */

/* RFC 2308 §5: NODATA is cached like NXDOMAIN when it has a negative TTL,
 * neither when the TTL is 0 */
static void empty_answers_cacheable_only_when_negative_with_ttl(void **state)
{
	(void)state;
	static const struct { enum dns_status st; uint32_t ttl; bool cacheable; } cases[] = {
		{DNS_NODATA, 60, true},    {DNS_NXDOMAIN, 60, true},
		{DNS_NODATA, 0, false},    {DNS_NXDOMAIN, 0, false},
		{DNS_TEMPFAIL, 60, false}, {DNS_MALFORMED, 60, false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct dns_answer *a = dns_answer_new_empty("e.test", DNS_TYPE_TXT, cases[i].st,
							    DNS_WHY_NONE, cases[i].ttl);
		assert_int_equal(a->status, cases[i].st);
		assert_int_equal(a->count, 0);
		if (a->cacheable != cases[i].cacheable)
			fail_msg("case %zu: cacheable %d", i, a->cacheable);
		dns_answer_release(a);
	}
}

/* one form per name: lower case, without the root's trailing dot */
static void names_normalised(void **state)
{
	(void)state;
	char out[DNS_NAME_MAX + 1];
	assert_int_equal(dns_name_normalize("MX.Example.COM.", out), 14);
	assert_string_equal(out, "mx.example.com");
	assert_int_equal(dns_name_normalize("a..", out), 2); /* one dot only */
	assert_string_equal(out, "a.");
	struct dns_answer *a = a_answer("Host.Test.", 30);
	assert_string_equal(a->name, "host.test");
	dns_answer_release(a);
}

/* a record count bound on hostile answers: 512 and not one more */
static void answer_holds_at_most_512_records(void **state)
{
	(void)state;
	struct dns_builder *b = dns_builder_new("many.test", DNS_TYPE_A);
	struct in_addr ip = {htonl(0x7f000001)};
	for (unsigned i = 0; i < DNS_ANSWER_MAX_RECORDS; i++)
		assert_int_equal(dns_builder_add_a(b, 60, ip), 0);
	assert_int_equal(dns_builder_add_a(b, 60, ip), -ENOMEM);
	assert_int_equal(dns_builder_count(b), 512);
	dns_builder_free(b);
}

/* a TXT joined into a short buffer is cut, NUL-terminated, and the full
 * length is still reported */
static void txt_join_cut_to_the_buffer(void **state)
{
	(void)state;
	struct dns_builder *b = dns_builder_new("t.test", DNS_TYPE_TXT);
	const uint8_t *strs[] = {(const uint8_t *)"v=spf1 ", (const uint8_t *)"-all"};
	const uint8_t lens[] = {7, 4};
	assert_int_equal(dns_builder_add_txt(b, 60, strs, lens, 2), 0);
	struct dns_answer *a = dns_builder_finish(b, DNS_DATA, DNS_WHY_NONE, 0, true);
	char buf[5];
	assert_int_equal(dns_txt_join(&a->records[0].u.txt, buf, sizeof buf), 11);
	assert_string_equal(buf, "v=sp");
	char whole[12];
	assert_int_equal(dns_txt_join(&a->records[0].u.txt, whole, sizeof whole), 11);
	assert_string_equal(whole, "v=spf1 -all");
	dns_answer_release(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hit_until_ttl_then_expired),
		cmocka_unit_test(key_is_name_and_type),
		cmocka_unit_test(negative_answers_cached_for_their_ttl),
		cmocka_unit_test(failures_and_uncacheable_never_stored),
		cmocka_unit_test(lru_evicts_least_recently_used),
		cmocka_unit_test(replacing_keeps_one_entry),
		cmocka_unit_test(max_ttl_caps_lifetime),
		cmocka_unit_test(flush_empties),
		cmocka_unit_test(untouched_entries_evicted_oldest_first),
		cmocka_unit_test(empty_answers_cacheable_only_when_negative_with_ttl),
		cmocka_unit_test(names_normalised),
		cmocka_unit_test(answer_holds_at_most_512_records),
		cmocka_unit_test(txt_join_cut_to_the_buffer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
