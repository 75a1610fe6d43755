/*
 * zone_resolver.h — for the unit tests (header only, after cmocka.h): a
 * resolver that answers from an in-memory zone, never from the network.
 */
#ifndef AUTHGATE_TEST_ZONE_RESOLVER_H
#define AUTHGATE_TEST_ZONE_RESOLVER_H

#include "../../verify/dns.h"
#include "../../verify/dns_zone.h"

#include <string.h>

static inline struct dns_resolver *zone_resolver(const char *text)
{
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(text, strlen(text), "test", &err);
	if (!z)
		fail_msg("zone: %s", err.msg);
	struct dns_resolver *r = dns_resolver_new(NULL, z, NULL);
	assert_non_null(r);
	return r;
}

#endif
