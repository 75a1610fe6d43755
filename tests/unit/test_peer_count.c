/* Unit tests: peer_count — sessions per client address. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "userspace/peer_count.h"

static struct sockaddr_storage v4(const char *ip, unsigned short port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *a = (struct sockaddr_in *)&ss;
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *ip, unsigned short port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
	a->sin6_family = AF_INET6;
	a->sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
	return ss;
}

static void an_address_gets_exactly_its_limit(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(16);
	struct sockaddr_storage a = v4("192.0.2.1", 1000);
	for (int i = 0; i < 3; i++)
		assert_true(peer_count_enter(t, &a, 3));
	assert_false(peer_count_enter(t, &a, 3));
	assert_int_equal(peer_count_of(t, &a), 3);
	peer_count_leave(t, &a);
	assert_true(peer_count_enter(t, &a, 3)); /* a session ended: room for one */
	assert_false(peer_count_enter(t, &a, 3));
	peer_count_free(t);
}

static void the_port_is_not_part_of_the_address(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(16);
	struct sockaddr_storage a1 = v4("192.0.2.1", 1000), a2 = v4("192.0.2.1", 2000);
	assert_true(peer_count_enter(t, &a1, 1));
	assert_false(peer_count_enter(t, &a2, 1));
	peer_count_leave(t, &a2);
	assert_int_equal(peer_count_of(t, &a1), 0);
	assert_int_equal(peer_count_addresses(t), 0);
	peer_count_free(t);
}

static void addresses_are_counted_apart(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(16);
	struct sockaddr_storage a = v4("192.0.2.1", 25), b = v4("192.0.2.2", 25),
				c = v6("2001:db8::1", 25), d = v6("2001:db8::2", 25),
				mapped = v6("::ffff:192.0.2.1", 25), zeros = v6("::", 25),
				any4 = v4("0.0.0.0", 25);
	struct sockaddr_storage *all[] = {&a, &b, &c, &d, &mapped, &zeros, &any4};
	for (size_t i = 0; i < 7; i++)
		assert_true(peer_count_enter(t, all[i], 1));
	assert_int_equal(peer_count_addresses(t), 7);
	for (size_t i = 0; i < 7; i++)
		assert_false(peer_count_enter(t, all[i], 1));
	peer_count_leave(t, &c);
	assert_int_equal(peer_count_of(t, &c), 0);
	assert_int_equal(peer_count_of(t, &d), 1);
	assert_int_equal(peer_count_of(t, &mapped), 1);
	assert_int_equal(peer_count_addresses(t), 6);
	peer_count_free(t); /* frees the entries still there (ASan checks) */
}

static void a_limit_of_zero_admits_nobody_and_keeps_nothing(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(16);
	struct sockaddr_storage a = v4("192.0.2.1", 1);
	assert_false(peer_count_enter(t, &a, 0));
	assert_int_equal(peer_count_addresses(t), 0);
	peer_count_free(t);
}

static void leaving_an_unknown_address_changes_nothing(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(16);
	struct sockaddr_storage a = v4("192.0.2.1", 1), b = v4("192.0.2.9", 1);
	assert_true(peer_count_enter(t, &a, 2));
	peer_count_leave(t, &b);
	assert_int_equal(peer_count_of(t, &a), 1);
	assert_int_equal(peer_count_addresses(t), 1);
	peer_count_free(t);
}

/* Many more addresses than the table was sized for: every one is found
 * again (chains, not probing), and each leaves cleanly. */
static void many_addresses_beyond_the_expected_number(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(64);
	enum { N = 20000 };
	static struct sockaddr_storage addr[N];
	for (unsigned i = 0; i < N; i++) {
		char ip[64];
		if (i % 2)
			snprintf(ip, sizeof ip, "10.%u.%u.%u", i >> 16, (i >> 8) & 255, i & 255);
		else
			snprintf(ip, sizeof ip, "2001:db8::%x:%x", i >> 16, i & 0xffff);
		addr[i] = i % 2 ? v4(ip, (unsigned short)i) : v6(ip, (unsigned short)i);
		assert_true(peer_count_enter(t, &addr[i], 2));
	}
	assert_int_equal(peer_count_addresses(t), N);
	for (unsigned i = 0; i < N; i++) {
		assert_true(peer_count_enter(t, &addr[i], 2));
		assert_false(peer_count_enter(t, &addr[i], 2));
	}
	for (unsigned i = 0; i < N; i++) {
		peer_count_leave(t, &addr[i]);
		assert_int_equal(peer_count_of(t, &addr[i]), 1);
		peer_count_leave(t, &addr[i]);
	}
	assert_int_equal(peer_count_addresses(t), 0);
	peer_count_free(t);
}

/* An IPv4 address and the IPv6 address with the same first four bytes
 * (10.0.x.y and a00:xy::) hold the same 16 bytes here: only the family
 * tells them apart when they share a bucket. Two thousand such pairs in
 * 64 buckets: some pair shares one but with odds of about 1 in 10^14,
 * whatever the table's random key. */
static void an_ipv4_address_and_its_ipv6_twin_are_apart(void **state)
{
	(void)state;
	struct peer_count *t = peer_count_new(16); /* 64 buckets */
	enum { N = 2000 };
	static struct sockaddr_storage a4[N], a6[N];
	for (unsigned i = 0; i < N; i++) {
		char ip[64];
		snprintf(ip, sizeof ip, "10.0.%u.%u", i >> 8, i & 255);
		a4[i] = v4(ip, 25);
		snprintf(ip, sizeof ip, "a00:%x::", i);
		a6[i] = v6(ip, 25);
		assert_memory_equal(&((struct sockaddr_in *)&a4[i])->sin_addr,
				    &((struct sockaddr_in6 *)&a6[i])->sin6_addr, 4);
		assert_true(peer_count_enter(t, &a4[i], 1));
	}
	for (unsigned i = 0; i < N; i++)
		assert_true(peer_count_enter(t, &a6[i], 1));
	assert_int_equal(peer_count_addresses(t), 2 * N);
	for (unsigned i = 0; i < N; i++) {
		peer_count_leave(t, &a6[i]);
		assert_int_equal(peer_count_of(t, &a4[i]), 1);
	}
	peer_count_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(an_address_gets_exactly_its_limit),
		cmocka_unit_test(the_port_is_not_part_of_the_address),
		cmocka_unit_test(addresses_are_counted_apart),
		cmocka_unit_test(a_limit_of_zero_admits_nobody_and_keeps_nothing),
		cmocka_unit_test(leaving_an_unknown_address_changes_nothing),
		cmocka_unit_test(many_addresses_beyond_the_expected_number),
		cmocka_unit_test(an_ipv4_address_and_its_ipv6_twin_are_apart),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
