/* libFuzzer: decoding DNS responses. The first byte picks the query type;
 * the question must name x.test (seeds do), so the fuzzer explores the
 * sections behind it as well as the question checks. */
#include "verify/dns_wire.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum dns_type types[] = {DNS_TYPE_A,   DNS_TYPE_AAAA, DNS_TYPE_MX,
					      DNS_TYPE_TXT, DNS_TYPE_PTR,  DNS_TYPE_CNAME};
	if (size < 1)
		return 0;
	enum dns_type t = types[data[0] % (sizeof types / sizeof types[0])];
	struct dns_answer *a = dns_wire_parse(data + 1, size - 1, "x.test", t);
	if (!a)
		return 0;
	/* Whatever came back must be internally consistent. */
	if (a->status == DNS_DATA && a->count == 0)
		abort();
	for (unsigned i = 0; i < a->count; i++) {
		if (t == DNS_TYPE_TXT) {
			uint32_t sum = 0;
			for (unsigned k = 0; k < a->records[i].u.txt.nstrings; k++)
				sum += a->records[i].u.txt.lens[k];
			if (sum != a->records[i].u.txt.len)
				abort();
		}
	}
	dns_answer_release(a);
	return 0;
}
