/*
 * pra — see pra.h. One pass over the header block records what each rule
 * needs; the rules are then applied in the RFC's order.
 */
#include "pra.h"

#include "msg_headers.h"

#include <stdbool.h>

struct scan {
	struct msg_field resent_sender, resent_from, sender, from;
	bool have_rs, rs_in_older_block, have_rf;
	unsigned senders, froms;
	bool rf_seen, trace_after_rf; /* before the first Resent-Sender */
};

static void scan_field(struct scan *s, const struct msg_field *f)
{
	bool nonempty = msg_field_nonempty(f);
	if (msg_field_is(f, "Resent-Sender") && nonempty && !s->have_rs) {
		s->have_rs = true;
		s->resent_sender = *f;
		s->rs_in_older_block = s->rf_seen && s->trace_after_rf;
	} else if (msg_field_is(f, "Resent-From") && nonempty) {
		if (!s->have_rf) {
			s->have_rf = true;
			s->resent_from = *f;
		}
		if (!s->have_rs) /* a later Resent-From does not undo a trace seen after an earlier one */
			s->rf_seen = true;
	} else if ((msg_field_is(f, "Received") || msg_field_is(f, "Return-Path")) &&
		   s->rf_seen && !s->have_rs) {
		s->trace_after_rf = true;
	} else if (msg_field_is(f, "Sender") && nonempty) {
		if (s->senders++ == 0)
			s->sender = *f;
	} else if (msg_field_is(f, "From") && nonempty) {
		if (s->froms++ == 0)
			s->from = *f;
	}
}

static int none(struct pra *out, const char *why)
{
	out->source = PRA_NONE;
	out->why = why;
	return -1;
}

/* Step 5: the chosen field must hold exactly one mailbox with a domain. */
static int take(struct pra *out, enum pra_source src, const struct msg_field *f)
{
	struct addr_mailbox m;
	int n = addr_parse_list(f->value, f->value_len, &m, 1);
	out->source = PRA_NONE;
	if (n == ADDR_ERR_NO_DOMAIN)
		return none(out, "the selected header has a mailbox without a domain");
	if (n < 0)
		return none(out, "the selected header is not a valid address");
	if (n != 1)
		return none(out, n == 0 ? "the selected header holds no mailbox"
					: "the selected header holds several mailboxes");
	if (m.domain_literal)
		return none(out, "the selected mailbox has an address literal, not a domain");
	out->source = src;
	out->mailbox = m;
	out->why = NULL;
	return 0;
}

int pra_extract(const char *msg, size_t len, struct pra *out)
{
	struct scan s = {0};
	struct msg_header_iter it;
	struct msg_field f;
	msg_headers_begin(&it, msg, len);
	while (msg_headers_next(&it, &f))
		scan_field(&s, &f);
	if (s.have_rs && !s.rs_in_older_block)
		return take(out, PRA_RESENT_SENDER, &s.resent_sender);
	if (s.have_rf)
		return take(out, PRA_RESENT_FROM, &s.resent_from);
	if (s.senders > 1)
		return none(out, "several Sender headers");
	if (s.senders == 1)
		return take(out, PRA_SENDER, &s.sender);
	if (s.froms > 1)
		return none(out, "several From headers");
	if (s.froms == 1)
		return take(out, PRA_FROM, &s.from);
	return none(out, "no Resent-Sender, Resent-From, Sender or From header");
}

const char *pra_source_name(enum pra_source s)
{
	static const char *const names[] = {"Resent-Sender", "Resent-From", "Sender",
					    "From", "none"};
	return (unsigned)s <= PRA_NONE ? names[s] : "?";
}
