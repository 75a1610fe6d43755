/*
 * dkim — DKIM verification (RFC 6376, RFC 8463 ed25519, RFC 8301) of a
 * whole message held as one buffer of CRLF lines.
 *
 * Owns: verifying every DKIM-Signature (up to max_signatures of them, top
 * down): the header hash over the fields h= selects (dkim_msg.h), the body
 * hash with l= (computed once per distinct c=/l=), key lookups as yielded
 * queries, the checks between signature and key, the signature check, and
 * the per-signature and overall results.
 *
 * Shape (sans-I/O): dkim_verifier_new() parses the message; then, while
 * dkim_verifier_next_query() returns a name (`<s>._domainkey.<d>`, TXT),
 * the caller resolves it and hands the answer to dkim_verifier_resume();
 * dkim_verifier_done() says when every signature has its result.
 * dkim_verify_async() is that loop driven by dns_resolve().
 *
 * Zero copy: header fields are (pointer, length) slices of the message;
 * canonicalization streams sub-slices of it (or constant literals) into
 * the SHA-256 contexts (see dkim_canon.h, which also holds the debug
 * counter that proves it). The body goes to SHA-256 straight from the
 * message, and so do the pieces of the signed header fields (a few dozen;
 * gathering them into one buffer first measured no faster, and
 * ../shared/DESIGN.md makes any copy of message bytes a bug). The only
 * message bytes copied are tag values: d= and s= into the DNS query name
 * and the key cache's name (a resolver needs a string), and i= decoded
 * from quoted-printable to compare its domain (dkim_sig.h). Results
 * report d=, s=, a= and b= as slices, so the message must outlive the
 * verifier.
 *
 * Bounds: max_signatures verified (default 5, counting unparseable ones,
 * as rspamd does); further DKIM-Signature fields are reported, up to
 * DKIM_REPORT_MAX, as not checked, and beyond that only counted. At most
 * DKIM_MSG_MAX_FIELDS header fields are indexed (dkim_msg.h; a message
 * with more gets permerror for every signature). h= at most DKIM_SIG_H_MAX names; key
 * sizes per dkim_key.h.
 */
#ifndef AUTHGATE_DKIM_H
#define AUTHGATE_DKIM_H

#include "dkim_key.h"
#include "dkim_tags.h"
#include "dns.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DKIM_REPORT_MAX 64
#define DKIM_DEFAULT_MAX_SIGNATURES 5

enum dkim_result {
	DKIM_RESULT_NONE,      /* no signature, or not checked */
	DKIM_RESULT_PASS,
	DKIM_RESULT_FAIL,      /* body hash or signature does not verify */
	DKIM_RESULT_POLICY,    /* unacceptable algorithm or key size */
	DKIM_RESULT_TEMPERROR, /* key lookup timed out or SERVFAIL */
	DKIM_RESULT_PERMERROR, /* syntax, no key, revoked key, mismatch, expired */
};

const char *dkim_result_name(enum dkim_result r);

struct dkim_config {
	unsigned max_signatures;       /* 0: DKIM_DEFAULT_MAX_SIGNATURES; at most DKIM_REPORT_MAX */
	uint64_t now;                  /* wall clock, s since epoch; 0: time(NULL) */
	struct dkim_key_cache *keys;   /* NULL: no caching */
};

struct dkim_sig_result {
	enum dkim_result result;
	const char *reason;       /* static text */
	struct dkim_slice d, s, a; /* as written in the signature (may be empty) */
	struct dkim_slice b;      /* the b= value, FWS included; see dkim_b_prefix */
	bool checked;             /* false: over max_signatures */
};

struct dkim_results {
	enum dkim_result result;  /* overall */
	unsigned nsigs;           /* DKIM-Signature fields found */
	unsigned nreported;       /* entries in sigs[] (<= DKIM_REPORT_MAX) */
	struct dkim_sig_result sigs[DKIM_REPORT_MAX];
};

/* First up to 8 base64 characters of b=, skipping FWS, as the pieces of
 * a slice: writes at most 8 chars plus NUL into out (for rendering). */
void dkim_b_prefix(const struct dkim_sig_result *r, char out[9]);

struct dkim_verifier;

/* msg: the message, CRLF lines, header then blank line then body. NULL
 * with errno = ENOMEM. */
struct dkim_verifier *dkim_verifier_new(const struct dkim_config *cfg,
					const char *msg, size_t len);
void dkim_verifier_free(struct dkim_verifier *v);

/* The next key query needed (TXT), or NULL when none is outstanding to
 * be issued. The string lives as long as the verifier. *token names the
 * query in dkim_verifier_resume(). */
const char *dkim_verifier_next_query(struct dkim_verifier *v, unsigned *token);
/* The answer (borrowed) to the query `token`. */
void dkim_verifier_resume(struct dkim_verifier *v, unsigned token,
			  const struct dns_answer *a);
bool dkim_verifier_done(const struct dkim_verifier *v);
/* Valid once done. */
const struct dkim_results *dkim_verifier_results(const struct dkim_verifier *v);

/* Glue: resolve the key queries through r and call done(arg, results)
 * once everything is decided. When no lookup is needed (no signatures, or
 * every key cached) done runs before this returns. The results are valid
 * during the callback only. Returns 0 or -ENOMEM (done not called). */
typedef void (*dkim_done_fn)(void *arg, const struct dkim_results *res);
int dkim_verify_async(struct dns_resolver *r, const char *msg, size_t len,
		      const struct dkim_config *cfg, dkim_done_fn done, void *arg);

#endif
