/*
 * authres — rendering the Authentication-Results header (RFC 8601) and the
 * Received-SPF header (RFC 7208 §9.1) that the spool prepends.
 *
 * Owns: the header syntax: which values go bare (RFC 2045 token, or a
 * dot-atom address) and which are quoted, escaping inside quoted strings
 * and comments, and folding at 78 columns between elements. Every value
 * may be sender-controlled (HELO, MAIL FROM, header.d, selectors, reasons):
 * control characters, CR and LF never reach the output (replaced by '?'),
 * so no value can end the header or start another. Output is CRLF-folded
 * text without the final CRLF, NUL-terminated.
 */
#ifndef AUTHGATE_AUTHRES_H
#define AUTHGATE_AUTHRES_H

#include "auth_result.h"

#include <stddef.h>

#define AUTHRES_MAX_PROPS 6

struct authres_prop {
	const char *name;  /* "smtp.mailfrom", "header.d", ... */
	const char *value; /* NULL or "" to leave the property out */
};

struct authres_method {
	const char *method; /* "spf", "sender-id", "dkim" */
	enum auth_result result;
	const char *reason; /* optional; rendered as reason="..." */
	struct authres_prop props[AUTHRES_MAX_PROPS];
};

/* "Authentication-Results: authserv-id; m1=r1 ...; m2=r2 ..." (or "none"
 * when n == 0). Returns the length, or -ENOSPC if size is too small. */
int authres_render(char *buf, size_t size, const char *authserv_id,
		   const struct authres_method *m, unsigned n);

struct received_spf {
	enum auth_result result;
	const char *receiver;      /* our host name */
	const char *client_ip;
	const char *envelope_from; /* MAIL FROM (or postmaster@helo) */
	const char *helo;
	const char *identity;      /* "mailfrom" or "helo" */
	const char *mechanism;     /* optional: the mechanism that matched */
	const char *problem;       /* optional: what went wrong (errors) */
	const char *comment;       /* optional human text, e.g. the RFC 7208
				      §9.1 "domain of X designates Y as ..." */
};

/* "Received-SPF: pass (comment) key=value; ..." Returns the length, or
 * -ENOSPC. */
int received_spf_render(char *buf, size_t size, const struct received_spf *r);

#endif
