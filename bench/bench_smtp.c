/*
 * bench_smtp — the SMTP engine's DATA path on one core: how fast
 * smtp_data_input() takes a message into the arena (dot-unstuffing in
 * place, end of data found), beside a byte-at-a-time scan of the same
 * rules (how it worked before it skipped through lines with memchr) and
 * the ceiling, a plain memcpy of the same bytes: every message is copied
 * into the arena once anyway (by the kernel, in the daemon), so nothing
 * can take it faster than that copy.
 *
 * Two messages of 8,430 bytes in 80-column lines (the daemon bench's
 * size): one with no line-initial dot, one with a stuffed dot on every
 * tenth line, so that the bytes after each dot must move. Each iteration
 * copies the message into the arena and scans it, for all three. A whole
 * transaction through the engine (MAIL, RCPT, DATA, the message, the 250)
 * is measured too.
 *
 * Time is this thread's CPU time, and the slices of the quantities are
 * interleaved, best of ROUNDS: foreign load on the shared machine hits
 * them alike.
 * usage: bench_smtp [--quick|--smoke]
 */
#include "../userspace/smtp.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ROUNDS 10
#define MSG_BYTES 8430

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "bench_smtp: %s\n", what);
	exit(1);
}

struct input {
	char wire[MSG_BYTES + 256]; /* as the client sends it, ".\r\n" included */
	size_t wire_len, message_len; /* message_len: after unstuffing */
};

/* 80-column lines of digits and words up to MSG_BYTES unstuffed bytes;
 * stuff_every > 0 starts every stuff_every-th line with a dot (sent as
 * two). */
static void make_input(struct input *in, unsigned stuff_every)
{
	size_t n = 0, kept = 0;
	for (unsigned line = 0; kept + 82 <= MSG_BYTES; line++) {
		char text[96];
		int len = snprintf(text, sizeof text, "%s%04u the quick brown fox jumps over the lazy dog, "
				   "a reply of eight kilobytes\r\n",
				   stuff_every && line % stuff_every == 0 ? "." : "", line);
		if (text[0] == '.')
			in->wire[n++] = '.';
		memcpy(in->wire + n, text, (size_t)len);
		n += (size_t)len;
		kept += (size_t)len;
	}
	while (kept < MSG_BYTES - 2) { /* pad the last line to the exact size */
		in->wire[n++] = 'x';
		kept++;
	}
	memcpy(in->wire + n, "\r\n.\r\n", 5);
	in->wire_len = n + 5;
	in->message_len = kept + 2;
}

/* --------------------------------------------------- the three scans */

struct run {
	const struct input *in;
	char *arena;
	struct smtp_session *s;
	size_t sink;
};

static const char ENVELOPE[] = "MAIL FROM:<alice@example.org>\r\nRCPT TO:<bob@example.net>\r\nDATA\r\n";

static void drain(struct smtp_session *s)
{
	size_t n;
	smtp_output(s, &n);
	smtp_output_done(s, n);
}

/* Commands up to DATA's 354; the session is then in DATA. */
static void open_data(struct smtp_session *s)
{
	size_t used = 0;
	while (used < sizeof ENVELOPE - 1) {
		used += smtp_input(s, ENVELOPE + used, sizeof ENVELOPE - 1 - used);
		smtp_event(s);
	}
	drain(s);
	if (!smtp_wants_data(s))
		die("the session did not reach DATA");
}

/* The message into the arena and through smtp_data_input; then the 250. */
static void engine_data(struct run *r)
{
	size_t wpos = 0;
	memcpy(r->arena, r->in->wire, r->in->wire_len);
	size_t used = smtp_data_input(r->s, r->arena, &wpos, 0, r->in->wire_len);
	if (used != r->in->wire_len || wpos != r->in->message_len || smtp_event(r->s) != SMTP_EV_MESSAGE)
		die("smtp_data_input did not take the message whole");
	smtp_message_reply(r->s, 250, "2.0.0", "queued");
	drain(r->s);
	r->sink += wpos;
}

/* A whole transaction: the envelope to 354, the message, the 250. */
static void engine_transaction(void *arg)
{
	struct run *r = arg;
	open_data(r->s);
	engine_data(r);
}

/* The same rules, one byte and one state step at a time. */
static void bytewise(void *arg)
{
	struct run *r = arg;
	enum { LINE_START, IN_LINE, CR, DOT, DOT_CR } ds = LINE_START;
	char *a = r->arena;
	memcpy(a, r->in->wire, r->in->wire_len);
	size_t w = 0, i = 0;
	bool cr_kept = false, done = false;
	while (i < r->in->wire_len && !done) {
		char c = a[i++];
		switch (ds) {
		case LINE_START:
			if (c == '.') {
				ds = DOT;
				break;
			}
			/* fall through */
		case IN_LINE:
			a[w++] = c;
			ds = c == '\r' ? CR : IN_LINE;
			break;
		case CR:
			a[w++] = c;
			ds = c == '\n' ? LINE_START : c == '\r' ? CR : IN_LINE;
			break;
		case DOT:
			a[w++] = c;
			cr_kept = true;
			ds = c == '\r' ? DOT_CR : IN_LINE;
			break;
		case DOT_CR:
			if (c == '\n') {
				w -= cr_kept;
				done = true;
				break;
			}
			a[w++] = c;
			ds = c == '\r' ? CR : IN_LINE;
			break;
		}
	}
	if (w != r->in->message_len)
		die("the byte-at-a-time scan disagrees");
	r->sink += w;
}

static void copy_only(void *arg)
{
	struct run *r = arg;
	memcpy(r->arena, r->in->wire, r->in->wire_len);
	r->sink += (unsigned char)r->arena[r->in->wire_len / 2];
}

/* fn for `slice` seconds of CPU; calls per second. */
static double rate(void (*fn)(void *), void *arg, double slice)
{
	unsigned long n = 0;
	double t0 = now_s(), t;
	do {
		for (int i = 0; i < 64; i++)
			fn(arg);
		n += 64;
		t = now_s();
	} while (t - t0 < slice);
	return (double)n / (t - t0);
}

static double max2(double a, double b)
{
	return a > b ? a : b;
}

struct row {
	double engine, bytewise, copy;
};

/* The engine's figure includes the envelope commands and the 250 — what
 * a worker runs per message — so it is a lower bound for the scan alone. */
static struct row measure(const struct input *in, double slice)
{
	struct smtp_config cfg = {.hostname = "mx.bench", .max_message = 1 << 20};
	struct run r = {.in = in, .arena = malloc(sizeof in->wire), .s = smtp_session_new(&cfg)};
	if (!r.arena || !r.s)
		die("out of memory");
	const char *ehlo = "EHLO client.example.org\r\n";
	smtp_greet(r.s, SMTP_GREET_READY);
	smtp_input(r.s, ehlo, strlen(ehlo));
	smtp_event(r.s);
	drain(r.s);
	struct row best = {0};
	for (int i = 0; i < ROUNDS; i++) {
		best.engine = max2(best.engine, rate(engine_transaction, &r, slice));
		best.bytewise = max2(best.bytewise, rate(bytewise, &r, slice));
		best.copy = max2(best.copy, rate(copy_only, &r, slice));
	}
	if (r.sink == 0)
		die("nothing scanned");
	smtp_session_free(r.s);
	free(r.arena);
	return best;
}

int main(int argc, char **argv)
{
	double slice = 0.1;
	if (argc > 1 && strcmp(argv[1], "--quick") == 0)
		slice = 0.03;
	else if (argc > 1 && strcmp(argv[1], "--smoke") == 0)
		slice = 0.002;
	static struct input plain, stuffed;
	make_input(&plain, 0);
	make_input(&stuffed, 10);
	struct row p = measure(&plain, slice), s = measure(&stuffed, slice);

	printf("%-52s %12s %9s %8s\n", "smtp (one core, 8,430-byte message)", "messages/s", "MB/s", "ratio");
	const struct {
		const char *name;
		double v, base;
		const struct input *in;
	} lines[] = {
		{"MAIL RCPT DATA, message, 250 (smtp_data_input)", p.engine, p.engine, &plain},
		{"baseline: byte-at-a-time DATA scan", p.bytewise, p.engine, &plain},
		{"ceiling: memcpy of the message", p.copy, p.engine, &plain},
		{"the same, every tenth line dot-stuffed", s.engine, s.engine, &stuffed},
		{"baseline: byte-at-a-time DATA scan", s.bytewise, s.engine, &stuffed},
		{"ceiling: memcpy of the message", s.copy, s.engine, &stuffed},
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		printf("%-52s %12.0f %9.0f %8.2f\n", lines[i].name, lines[i].v,
		       lines[i].v * (double)lines[i].in->wire_len / 1e6, lines[i].v / lines[i].base);
	printf("authgate: %.1fx the byte-at-a-time scan (%.1fx dot-stuffed), %.0f%% of memcpy's rate\n",
	       p.engine / p.bytewise, s.engine / s.bytewise, 100 * p.engine / p.copy);
	printf("{\"bench\":\"smtp\",\"message_bytes\":%d,\"transaction_per_s\":%.0f,\"bytewise_per_s\":%.0f,"
	       "\"memcpy_per_s\":%.0f,\"stuffed_transaction_per_s\":%.0f,\"stuffed_bytewise_per_s\":%.0f,"
	       "\"stuffed_memcpy_per_s\":%.0f,\"vs_bytewise\":%.2f,\"of_memcpy\":%.3f}\n",
	       MSG_BYTES, p.engine, p.bytewise, p.copy, s.engine, s.bytewise, s.copy,
	       p.engine / p.bytewise, p.engine / p.copy);
	return 0;
}
