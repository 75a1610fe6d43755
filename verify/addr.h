/*
 * addr — RFC 5322 address lists (§3.4), as header fields carry them:
 * display names, quoted strings, nested comments, folding, angle
 * addresses, groups, and the common obsolete forms (§4.4: obs-route,
 * obs-local-part, obs-phrase with dots, empty list elements, CFWS around
 * dots).
 *
 * Owns: finding every mailbox of a field value and locating its local-part
 * and domain as slices of the caller's buffer (nothing copied), plus the
 * canonical text of a mailbox (quotes, quoted-pairs and CFWS removed) for
 * the few places that need a string (SPF macros, logs). Bounds: comment
 * nesting (32), mailboxes reported (the caller's array).
 */
#ifndef AUTHGATE_ADDR_H
#define AUTHGATE_ADDR_H

#include <stdbool.h>
#include <stddef.h>

struct addr_mailbox {
	const char *local; /* the local-part as written, from its first to last token */
	size_t local_len;
	const char *domain; /* the domain as written */
	size_t domain_len;
	bool domain_literal; /* [192.0.2.1]: not a domain name */
};

enum addr_error {
	ADDR_OK = 0,
	ADDR_ERR_SYNTAX = -1,    /* not an address list */
	ADDR_ERR_NO_DOMAIN = -2, /* a mailbox without "@domain" */
};

/* Parse value[0..len) as an address list. Returns the number of mailboxes
 * (all of them, even beyond max; the first max are stored) or a negative
 * enum addr_error. */
int addr_parse_list(const char *value, size_t len, struct addr_mailbox *out,
		    int max);

/* Canonical local-part and domain: quoted strings unquoted, quoted-pairs
 * resolved, CFWS dropped. Returns the full length (may exceed size-1). */
size_t addr_local_text(const struct addr_mailbox *m, char *buf, size_t size);
size_t addr_domain_text(const struct addr_mailbox *m, char *buf, size_t size);

#endif
