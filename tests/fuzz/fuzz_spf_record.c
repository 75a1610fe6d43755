/* libFuzzer: the SPF record parser, then the invariants of what it built. */
#include "../../verify/spf_record.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct spf_record *r = NULL;
	char err[96];
	int rc = spf_record_parse((const char *)data, size, &r, err, sizeof err);
	if (rc == -EINVAL) {
		if (err[0] == '\0') /* every rejection says why */
			abort();
		return 0;
	}
	if (rc != 0)
		return 0;
	for (unsigned i = 0; i < r->nterms; i++) {
		const struct spf_term *t = &r->terms[i];
		/* terms are non-empty, separated by spaces, and hold no space */
		if (t->text_len == 0 || memchr(t->text, ' ', t->text_len))
			abort();
		if (t->cidr4 > 32 || t->cidr6 > 128)
			abort();
		if (t->spec.s && (t->spec.s < t->text ||
				  t->spec.s + t->spec.len > t->text + t->text_len))
			abort();
	}
	spf_record_release(r);
	return 0;
}
