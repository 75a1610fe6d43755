/* libFuzzer, differential: smtp_data_input() against the plain statement
 * of the DATA rules (tests/unit/smtp_data_reference.h) on any byte stream,
 * read in pieces the way a worker reads (each read lands where the
 * message ends so far, so unstuffing works in place). Byte 0 picks the
 * read size, byte 1 the size limit; the rest is what the client sends
 * after 354. Where the stream holds a terminator, the engine must have
 * left DATA there, and the bytes consumed, the message kept and the
 * oversize flag (the host answers 552 on it) must all agree; where it holds none, the engine must take every byte,
 * still be in DATA and have kept the same bytes so far. */
#include "tests/unit/smtp_data_reference.h"
#include "userspace/smtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char arena[1 << 17], want[1 << 17];

static struct smtp_session *in_data(const struct smtp_config *cfg)
{
	static const char envelope[] = "EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<d@e.f>\r\nDATA\r\n";
	struct smtp_session *s = smtp_session_new(cfg);
	size_t used = 0;
	while (used < sizeof envelope - 1) {
		used += smtp_input(s, envelope + used, sizeof envelope - 1 - used);
		smtp_event(s);
	}
	if (!smtp_wants_data(s))
		abort();
	return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2 || size - 2 > sizeof arena)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	size_t max = data[1] ? (size_t)data[1] * 16 : sizeof arena;
	const char *in = (const char *)data + 2;
	size_t len = size - 2;
	size_t want_kept, want_unstuffed;
	size_t want_used = smtp_data_reference(in, len, max, want, &want_kept, &want_unstuffed);

	struct smtp_config cfg = {.hostname = "mx.fuzz", .max_message = max};
	struct smtp_session *s = in_data(&cfg);
	size_t used = 0, wpos = 0;
	while (used < len && smtp_wants_data(s)) {
		size_t n = len - used < step ? len - used : step;
		memcpy(arena + wpos, in + used, n);
		used += smtp_data_input(s, arena, &wpos, wpos, n);
	}
	if (want_used == 0) {
		/* no terminator: every byte taken, still in DATA, the same
		 * bytes kept so far (a CR after a line-initial dot counts: it
		 * is data unless LF follows) */
		if (used != len || !smtp_wants_data(s) || wpos != want_kept ||
		    memcmp(arena, want, wpos) != 0)
			abort();
	} else {
		bool oversize = smtp_event(s) == SMTP_EV_MESSAGE && smtp_message_oversize(s);
		if (smtp_wants_data(s) || used != want_used || wpos != want_kept ||
		    memcmp(arena, want, wpos) != 0 || oversize != (want_unstuffed > max))
			abort();
	}
	smtp_session_free(s);
	return 0;
}
