/* libFuzzer: the SMTP state machine over a fuzzed client stream (commands,
 * DATA and BDAT bytes, pipelined or split). The first byte picks the size
 * of the reads; the host reacts to every event the way a worker does. */
#include "userspace/smtp.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char arena[1 << 17];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	const char *in = (const char *)data + 1;
	size_t len = size - 1, used = 0, wpos = 0;
	struct smtp_config cfg = {.hostname = "mx.fuzz", .max_message = 4096, .max_recipients = 5,
				  .max_errors = 50, .tls_available = true};
	struct smtp_session *s = smtp_session_new(&cfg);
	smtp_greet(s, SMTP_GREET_READY);
	bool closed = false;
	int guard = 0;
	while (used < len && !closed && ++guard < 1000000) {
		size_t n = len - used < step ? len - used : step, got;
		if (smtp_wants_data(s)) {
			size_t rpos = wpos;
			if (rpos + n > sizeof arena)
				wpos = rpos = 0; /* the arena is bounded by max_message in a worker */
			memcpy(arena + rpos, in + used, n);
			got = smtp_data_input(s, arena, &wpos, rpos, n);
			if (wpos > rpos + got)
				abort(); /* unstuffing never grows */
		} else if (smtp_bdat_remaining(s)) {
			got = smtp_bdat_input(s, n);
		} else {
			got = smtp_input(s, in + used, n);
		}
		used += got;
		switch (smtp_event(s)) {
		case SMTP_EV_MESSAGE:
			wpos = 0;
			if (smtp_message_oversize(s))
				smtp_message_reply(s, SMTP_REPLY_OVERSIZE_CODE, SMTP_REPLY_OVERSIZE_STATUS,
						   SMTP_REPLY_OVERSIZE_TEXT);
			else
				smtp_message_reply(s, 250, "2.0.0", "ok");
			break;
		case SMTP_EV_STARTTLS:
			smtp_tls_started(s);
			break;
		case SMTP_EV_CLOSE:
			closed = true;
			break;
		case SMTP_EV_ABANDON: { /* what a worker logs: every byte of it readable */
			const char *command;
			const struct smtp_envelope *env = smtp_abandoned_envelope(s, &command);
			if (!env || !env->have_mail || !command)
				abort();
			size_t sum = strlen(env->helo) + strlen(env->mail_from);
			for (unsigned i = 0; i < env->nrcpt; i++)
				sum += strlen(env->rcpt[i]);
			if (sum > SMTP_HELO_MAX + SMTP_ADDR_MAX * (1 + env->nrcpt))
				abort();
			break;
		}
		case SMTP_EV_MAIL:
			if (used & 1)
				smtp_reject_transaction(s, 550, "5.7.23", "spf fail");
			break;
		default:
			break;
		}
		size_t olen;
		smtp_output(s, &olen);
		smtp_output_done(s, olen);
		if (got == 0 && !smtp_wants_data(s) && !smtp_bdat_remaining(s) &&
		    smtp_event(s) == SMTP_EV_NONE)
			break; /* waiting on nothing we can give: done */
	}
	smtp_session_free(s);
	return 0;
}
