/*
 * spf_macro — the RFC 7208 §7 macro language: syntax checking and
 * expansion of macro-strings (domain-specs, exp= texts).
 *
 * Owns: letters s l o d i p h c r t v (c r t only in explanations),
 * the digit and "r" transformers, delimiters, URL-escaping of upper-case
 * letters, %% %_ %-.
 *
 * Invariants: expansion writes at most outsize-1 bytes plus a NUL and fails
 * with -E2BIG rather than truncating, so a macro bomb costs bounded work;
 * every syntax error is -EINVAL (the caller maps it to permerror, or to
 * "ignore exp=" for explanations).
 */
#ifndef AUTHGATE_SPF_MACRO_H
#define AUTHGATE_SPF_MACRO_H

#include "spf.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum spf_macro_flags {
	SPF_MACRO_ANY = 1,  /* contains at least one %{...} */
	SPF_MACRO_P = 2,    /* uses %{p}: needs PTR validation first */
	SPF_MACRO_ENDS = 4, /* ends with a macro-expand (a valid domain-end) */
};

struct spf_macro_ctx {
	const char *local;       /* l: local-part of the sender */
	const char *sender_dom;  /* o: domain of the sender */
	const char *domain;      /* d: current domain */
	const char *helo;        /* h */
	const char *validated;   /* p: validated name, NULL for "unknown" */
	const char *receiver;    /* r: NULL for "unknown" */
	const struct spf_ip *ip; /* i, c, v */
	time_t now;              /* t */
	bool exp;                /* c r t allowed (explanation text) */
};

/* Check syntax; on success return 0 and set *flags (may be NULL). In
 * explanation mode spaces are literals and c r t are allowed. */
int spf_macro_check(const char *s, size_t len, bool exp, unsigned *flags);

/* Expand s[0..len) into out; *outlen (may be NULL) gets the length.
 * 0, -EINVAL on syntax errors, -E2BIG when the result would not fit. */
int spf_macro_expand(const char *s, size_t len, const struct spf_macro_ctx *c,
		     char *out, size_t outsize, size_t *outlen);

#endif
