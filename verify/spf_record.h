/*
 * spf_record — parsing the terms of one SPF record (RFC 7208 §4.6, §5, §6,
 * §12 ABNF) into an immutable, single-allocation struct spf_record.
 *
 * Owns: term splitting (1*SP), mechanism names, qualifiers, dual CIDR
 * lengths, ip4/ip6 literals, domain-spec syntax (macro-string + domain-end),
 * redirect=/exp= (at most once each), unknown modifiers (checked, ignored).
 *
 * Invariants: a parsed record is syntactically valid, so evaluation never
 * meets a syntax error except in expanded names. Any violation is -EINVAL
 * with a one-line reason (the caller's permerror). Term texts point into
 * the record's own copy of the text. A record is immutable once parsed and
 * reference counted (one thread), so a cache and evaluations can share it.
 */
#ifndef AUTHGATE_SPF_RECORD_H
#define AUTHGATE_SPF_RECORD_H

#include "spf.h"

#include <stddef.h>
#include <stdint.h>

enum spf_mech {
	SPF_MECH_ALL,
	SPF_MECH_INCLUDE,
	SPF_MECH_A,
	SPF_MECH_MX,
	SPF_MECH_PTR,
	SPF_MECH_IP4,
	SPF_MECH_IP6,
	SPF_MECH_EXISTS,
};

/* Flags of a domain-spec beyond enum spf_macro_flags: a spec without any
 * '%' is its own expansion, so its name check is done once, here. */
enum spf_spec_flags {
	SPF_SPEC_PLAIN = 0x100, /* a usable name: s[0..name_len) */
	SPF_SPEC_BAD = 0x200,   /* never a usable name (§4.8: matches nothing) */
};

struct spf_spec {
	const char *s; /* NULL when absent */
	uint16_t len;
	uint16_t flags;    /* enum spf_macro_flags | enum spf_spec_flags */
	uint16_t name_len; /* with SPF_SPEC_PLAIN: len minus a trailing dot */
};

struct spf_term {
	enum spf_mech mech;
	enum spf_result qual; /* PASS FAIL SOFTFAIL NEUTRAL */
	struct spf_spec spec;
	uint8_t cidr4, cidr6; /* 32/128 when not given */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	const char *text; /* the whole term, for "mechanism matched" */
	uint16_t text_len;
};

struct spf_record {
	unsigned refs;
	unsigned nterms;
	const struct spf_term *terms;
	struct spf_spec redirect, exp;
};

/* Parse the text after the version tag. 0 and *out (one reference), -EINVAL
 * with err filled, or -ENOMEM. */
int spf_record_parse(const char *text, size_t len, struct spf_record **out,
		     char *err, size_t errlen);
struct spf_record *spf_record_ref(struct spf_record *r);
void spf_record_release(struct spf_record *r); /* NULL is fine */

const char *spf_mech_name(enum spf_mech m);
/* Does the mechanism count against the 10-term DNS limit (§4.6.4)? */
bool spf_mech_queries_dns(enum spf_mech m);

#endif
