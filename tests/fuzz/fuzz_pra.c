/* libFuzzer: PRA extraction over a fuzzed header block, and the RFC 5322
 * address-list parser over the raw input. Slices must stay inside the
 * input; canonical text must be producible from them. */
#include "verify/addr.h"
#include "verify/pra.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mailbox(const struct addr_mailbox *m, const char *s, size_t size)
{
	if (m->local < s || m->local + m->local_len > s + size ||
	    m->domain < s || m->domain + m->domain_len > s + size)
		abort();
	char buf[64];
	addr_local_text(m, buf, sizeof buf);
	addr_domain_text(m, buf, sizeof buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct pra p;
	if (pra_extract(s, size, &p) == 0)
		check_mailbox(&p.mailbox, s, size);
	else if (!p.why)
		abort();
	struct addr_mailbox m[8];
	int n = addr_parse_list(s, size, m, 8);
	for (int i = 0; i < n && i < 8; i++)
		check_mailbox(&m[i], s, size);
	return 0;
}
