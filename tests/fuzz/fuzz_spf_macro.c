/* libFuzzer: the macro checker and expander agree, and expansion stays in
 * its buffer. First byte: bit 0 explanation mode, bit 1 IPv6 client. */
#include "../../verify/spf_macro.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool exp = data[0] & 1;
	struct spf_ip ip;
	spf_ip_parse(data[0] & 2 ? "2001:db8::1" : "192.0.2.1", &ip);
	const char *s = (const char *)data + 1;
	size_t len = size - 1;
	struct spf_macro_ctx c = {
		.local = "a.b-c+d", .sender_dom = "Example.COM", .domain = "x.example.com",
		.helo = "helo%.example.org", .validated = NULL, .receiver = NULL,
		.ip = &ip, .now = 1, .exp = exp,
	};
	static char big[1 << 16];
	char small[64];
	unsigned flags = 0;
	int chk = spf_macro_check(s, len, exp, &flags);
	size_t n = 0;
	int rc = spf_macro_expand(s, len, &c, big, sizeof big, &n);
	if (chk == 0 && rc == -EINVAL)
		abort();
	if (chk == -EINVAL && rc != -EINVAL)
		abort();
	if (rc == 0 && (strlen(big) != n || n >= sizeof big))
		abort();
	rc = spf_macro_expand(s, len, &c, small, sizeof small, &n);
	if (strlen(small) >= sizeof small)
		abort();
	if (rc == 0 && n >= sizeof small)
		abort();
	return 0;
}
