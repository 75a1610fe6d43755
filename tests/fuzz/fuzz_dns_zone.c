/* libFuzzer: the zone-file parser, then answering from what it built. */
#include "verify/dns_zone.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse((const char *)data, size, "fuzz", &err);
	if (!z) {
		/* Every rejection must say where. */
		if (strncmp(err.msg, "fuzz:", 5) != 0)
			abort();
		return 0;
	}
	static const char *const names[] = {"a", "a.test", "test", "x.example.com",
					    "example.com", ""};
	static const enum dns_type types[] = {DNS_TYPE_A, DNS_TYPE_AAAA, DNS_TYPE_MX,
					      DNS_TYPE_TXT, DNS_TYPE_PTR, DNS_TYPE_CNAME};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		for (size_t k = 0; k < sizeof types / sizeof types[0]; k++)
			dns_answer_release(dns_zone_answer(z, names[i], types[k], k & 1));
	dns_zone_free(z);
	return 0;
}
