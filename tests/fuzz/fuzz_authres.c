/* libFuzzer: Authentication-Results and Received-SPF rendering with
 * hostile values. The input is split at NUL bytes into the fields; the
 * output must never contain a line break other than CRLF TAB folding, nor
 * any other control character. */
#include "verify/authres.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const char *out, int n)
{
	if (n < 0)
		return;
	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)out[i];
		if (c == '\r') {
			if (i + 2 >= n || out[i + 1] != '\n' || out[i + 2] != '\t')
				abort();
			i += 2;
		} else if ((c < 0x20 && c != '\t') || c == 0x7f) {
			abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	copy[size] = '\0';
	const char *f[10];
	size_t nf = 0, off = 0;
	while (nf < 10) {
		f[nf++] = copy + off;
		size_t l = strlen(copy + off);
		off += l + (off + l < size ? 1 : 0);
		if (off >= size)
			off = size;
	}
	static char out[16384];
	struct authres_method m[2] = {
		{"spf", (enum auth_result)(size % AUTH_RESULT_COUNT), f[1],
		 {{"smtp.mailfrom", f[2]}, {"smtp.helo", f[3]}}},
		{"dkim", AUTH_FAIL, NULL, {{"header.d", f[4]}, {"header.s", f[5]}, {"header.b", f[6]}}},
	};
	check(out, authres_render(out, sizeof out, f[0], m, 2));
	check(out, authres_render(out, 64, f[0], m, 2));
	struct received_spf r = {.result = AUTH_PASS, .receiver = f[0], .client_ip = f[7],
				 .envelope_from = f[2], .helo = f[3], .identity = "mailfrom",
				 .mechanism = f[8], .problem = f[9], .comment = f[1]};
	check(out, received_spf_render(out, sizeof out, &r));
	free(copy);
	return 0;
}
