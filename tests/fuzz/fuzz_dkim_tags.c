/*
 * fuzz_dkim_tags — the tag-list parser, base64, domain syntax and the
 * DKIM-Signature tag semantics on arbitrary bytes. Checks that every
 * slice stays inside the input.
 */
#include "../../verify/dkim_sig.h"
#include "../../verify/dkim_tags.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void check_inside(struct dkim_slice s, const char *lo, size_t n)
{
	if (s.n && (s.p < lo || s.p + s.n > lo + n))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct dkim_taglist t;
	unsigned char buf[512];
	if (dkim_tags_parse(p, size, &t) == DKIM_TAGS_OK) {
		for (unsigned i = 0; i < t.n; i++) {
			check_inside(t.tags[i].name, p, size);
			check_inside(t.tags[i].value, p, size);
			dkim_base64_decode(t.tags[i].value, buf, sizeof buf);
			dkim_domain_valid(t.tags[i].value);
		}
	}
	/* The same bytes as the value of a DKIM-Signature field. */
	static const char name[] = "DKIM-Signature:";
	char *f = malloc(sizeof name + size);
	if (!f)
		return 0;
	memcpy(f, name, sizeof name - 1);
	memcpy(f + sizeof name - 1, data, size);
	static struct dkim_sig sig;
	size_t n = sizeof name - 1 + size;
	if (dkim_sig_parse((struct dkim_slice){f, n}, 1700000000, &sig) == DKIM_SIG_OK) {
		check_inside(sig.d, f, n);
		check_inside(sig.h, f, n);
		if (sig.hole_lo < f || sig.hole_hi > f + n || sig.hole_lo > sig.hole_hi)
			abort();
	}
	free(f);
	return 0;
}
