/*
 * dkim_sig — one DKIM-Signature header field, parsed and checked
 * (RFC 6376 §3.5, RFC 8301, RFC 8463).
 *
 * Owns: the tag semantics of a signature: required tags (v a b bh d h s),
 * v=1, the algorithm (rsa-sha256, ed25519-sha256; rsa-sha1 recognised
 * only to be refused as policy), c=, d= and s= syntax, h= holding From
 * and at most DKIM_SIG_H_MAX names, i= inside d=, l=, q= offering
 * dns/txt, t= and x= (x= not before t=, and expiry against a clock),
 * and decoding b= and bh=. Unknown tags are ignored; duplicated tags are
 * a syntax error.
 *
 * Invariants: every slice points into the message buffer, except
 * idomain, which points into ibuf: i= is dkim-quoted-printable and is
 * decoded there (at most 256 octets) to compare its domain with d=. b=
 * and bh= are decoded into fixed arrays. None of this feeds a hash.
 * Parsing is linear in the field length.
 */
#ifndef AUTHGATE_DKIM_SIG_H
#define AUTHGATE_DKIM_SIG_H

#include "dkim_canon.h"
#include "dkim_tags.h"

#include <stdint.h>

#define DKIM_SIG_H_MAX 1000      /* h= entries; rspamd's limit is alike */
#define DKIM_SIG_B_MAX 1024      /* decoded b=: an RSA-8192 signature */

enum dkim_alg {
	DKIM_ALG_RSA_SHA256,
	DKIM_ALG_ED25519_SHA256,
	DKIM_ALG_RSA_SHA1, /* parsed to be refused (RFC 8301) */
};

/* How a signature header fared; each has one reason text. */
enum dkim_sig_status {
	DKIM_SIG_OK,
	DKIM_SIG_ERR_SYNTAX,
	DKIM_SIG_ERR_DUPLICATE,
	DKIM_SIG_ERR_MISSING,    /* a required tag is absent */
	DKIM_SIG_ERR_VERSION,
	DKIM_SIG_ERR_ALG,        /* unknown a= */
	DKIM_SIG_ERR_SHA1,       /* rsa-sha1: policy */
	DKIM_SIG_ERR_CANON,
	DKIM_SIG_ERR_DOMAIN,     /* d= or s= not a domain name */
	DKIM_SIG_ERR_H_FROM,     /* h= lacks From */
	DKIM_SIG_ERR_H_LONG,     /* h= over DKIM_SIG_H_MAX */
	DKIM_SIG_ERR_H_SYNTAX,   /* an h= entry is not a field name */
	DKIM_SIG_ERR_I_DOMAIN,   /* i= not within d= */
	DKIM_SIG_ERR_L,
	DKIM_SIG_ERR_Q,
	DKIM_SIG_ERR_TIME,       /* t= or x= not a number */
	DKIM_SIG_ERR_X_BEFORE_T,
	DKIM_SIG_ERR_EXPIRED,
	DKIM_SIG_ERR_B64,        /* b= or bh= not base64, or too long */
};

const char *dkim_sig_status_reason(enum dkim_sig_status st);

struct dkim_sig {
	/* The field: name to end, CRLF included when present. */
	struct dkim_slice field;
	/* The b= value region to leave out of the header hash: from just
	 * after "b=" to the ';' or the end of the value. */
	const char *hole_lo, *hole_hi;
	struct dkim_slice a, b, d, s, h, i; /* raw tag values */
	enum dkim_alg alg;
	enum dkim_canon hcanon, bcanon;
	bool has_l;
	uint64_t l;
	struct dkim_slice idomain; /* domain part of i= (or d=) */
	char ibuf[256];            /* i= after dkim-quoted-printable decoding */
	unsigned char sig[DKIM_SIG_B_MAX];
	size_t siglen;
	unsigned char bh[32];
	size_t bhlen; /* 32 unless bh= has the wrong size */
};

/* Parse field (a DKIM-Signature header field, name included) at wall
 * clock `now` (seconds since the epoch; 0 skips the expiry check).
 * Fills as much of *sig as it can even on error so that d=, s= and a=
 * can be reported. */
enum dkim_sig_status dkim_sig_parse(struct dkim_slice field, uint64_t now,
				    struct dkim_sig *sig);

#endif
