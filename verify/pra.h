/*
 * pra — the Purported Responsible Address (RFC 4407 §2): which header
 * names the party responsible for the message, for Sender ID's `pra`
 * scope.
 *
 * Owns: the selection rules, in order — the first non-empty Resent-Sender
 * (unless it belongs to an older resent block: a non-empty Resent-From
 * precedes it with a Received or Return-Path in between); else the first
 * non-empty Resent-From; else exactly one non-empty Sender; else exactly
 * one non-empty From — and the check that the chosen field holds exactly
 * one mailbox with a domain name. Anything else: no PRA (Sender ID then
 * yields permerror). The mailbox is returned as slices of the message.
 */
#ifndef AUTHGATE_PRA_H
#define AUTHGATE_PRA_H

#include "addr.h"

#include <stddef.h>

enum pra_source { PRA_RESENT_SENDER, PRA_RESENT_FROM, PRA_SENDER, PRA_FROM, PRA_NONE };

struct pra {
	enum pra_source source;
	struct addr_mailbox mailbox; /* valid unless source == PRA_NONE */
	const char *why;             /* PRA_NONE: why no PRA could be chosen */
};

/* msg: the message (at least its header block), CRLF or LF lines.
 * Returns 0 with a PRA, or -1 with out->source == PRA_NONE and out->why. */
int pra_extract(const char *msg, size_t len, struct pra *out);

const char *pra_source_name(enum pra_source s); /* "Resent-Sender", ... */

#endif
