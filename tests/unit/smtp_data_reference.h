/*
 * smtp_data_reference.h — the DATA rules of RFC 5321 §4.5.2 written as
 * plainly as possible (header only), to check smtp_data_input() against:
 * in tests/unit/test_smtp.c on random streams, in
 * tests/fuzz/fuzz_smtp_data.c on whatever the fuzzer finds.
 *
 * The data ends at the first "." CRLF that starts a line (the data starts
 * at a line start; a line starts after CRLF, never after a bare LF or CR),
 * a dot starting any other line is removed, and only the first `max`
 * bytes of what remains are kept.
 */
#ifndef AUTHGATE_TEST_SMTP_DATA_REFERENCE_H
#define AUTHGATE_TEST_SMTP_DATA_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

/* Returns the bytes consumed through the terminator, or 0 when `in` has
 * none. *kept_len: bytes written to kept (at most max); *unstuffed_len:
 * the message's whole size after unstuffing (more than max: too big). */
static inline size_t smtp_data_reference(const char *in, size_t len, size_t max, char *kept,
					 size_t *kept_len, size_t *unstuffed_len)
{
	size_t out = 0;
	for (size_t i = 0; i < len;) {
		bool line_start = i == 0 || (i >= 2 && in[i - 2] == '\r' && in[i - 1] == '\n');
		if (line_start && in[i] == '.') {
			if (len - i >= 3 && in[i + 1] == '\r' && in[i + 2] == '\n') {
				*kept_len = out < max ? out : max;
				*unstuffed_len = out;
				return i + 3;
			}
			i++; /* the dot is dropped */
			continue;
		}
		if (out < max)
			kept[out] = in[i];
		out++;
		i++;
	}
	*kept_len = out < max ? out : max;
	*unstuffed_len = out;
	return 0;
}

#endif
