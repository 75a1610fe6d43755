/*
 * senderid — Sender ID (RFC 4406) on the SPF engine, for the PRA scope
 * (RFC 4407) and the mfrom scope, with the SUBMITTER check of RFC 4405.
 *
 * Owns: RFC 4406 record selection (`spf2.0/<scopes>` records covering the
 * scope; two of them → permerror; with none, a single `v=spf1` record read
 * as `spf2.0/mfrom,pra`), and the message-level check: extract the PRA,
 * compare it with SUBMITTER when the client gave one, evaluate. Everything
 * else — mechanisms, macros, limits, asynchronous DNS — is the SPF
 * engine's (spf.h), so Sender ID has the same bounds and cache.
 *
 * Results are spf_result values. In the PRA scope a PRA domain that does
 * not exist → fail (RFC 4406 §4.3). No PRA → permerror (identity ""). A PRA
 * that differs from the SUBMITTER given at MAIL → fail: RFC 4405 lets the
 * receiver check the SUBMITTER early only on the promise that it is the
 * message's PRA, so a broken promise is treated as a forgery.
 */
#ifndef AUTHGATE_SENDERID_H
#define AUTHGATE_SENDERID_H

#include "pra.h"
#include "spf.h"

enum senderid_scope { SENDERID_MFROM, SENDERID_PRA };

/* spf_select_fn for each scope (arg unused). Two functions rather than one
 * with an argument, so the SPF record cache keys them apart. */
enum spf_select_status senderid_select_pra(void *arg, const struct dns_answer *txt,
					   const char **terms, size_t *len);
enum spf_select_status senderid_select_mfrom(void *arg, const struct dns_answer *txt,
					     const char **terms, size_t *len);

/* Turn an SPF configuration into the Sender ID one for scope: its record
 * selection and, for pra, a non-existent domain failing (RFC 4406 §4.3).
 * Used by the checks below and by test drivers of the bare engine. */
void senderid_spf_config(enum senderid_scope scope, struct spf_config *cfg);

struct senderid_outcome {
	enum spf_result result;
	enum senderid_scope scope;
	enum pra_source pra_source; /* PRA scope; PRA_NONE otherwise or when absent */
	char identity[520];         /* the address checked; "" when there is none */
	char problem[SPF_PROBLEM_TEXT];
	struct spf_outcome spf;     /* the engine's details, when it ran */
};

typedef void (*senderid_done_fn)(void *arg, const struct senderid_outcome *o);

/* Check one identity (the SUBMITTER at MAIL time, or a MAIL FROM in the
 * mfrom scope). done runs exactly once, possibly before this returns.
 * Returns 0, or -ENOMEM (done not called). */
int senderid_check_identity(struct dns_resolver *r, const struct spf_ip *ip,
			    const char *helo, const char *identity,
			    enum senderid_scope scope, const struct spf_config *cfg,
			    senderid_done_fn done, void *arg);

/* Is s an RFC 5321 Mailbox (§4.1.2: Dot-string or Quoted-string, "@",
 * a domain or an address-literal; UTF-8 allowed as in RFC 6531), as a
 * SUBMITTER value must be (RFC 4405 §4)? */
bool senderid_mailbox_valid(const char *s);

/* The PRA-scope check of a message (CRLF or LF lines). submitter: the
 * MAIL FROM SUBMITTER= value, or NULL/"" when the client gave none. */
int senderid_check_message(struct dns_resolver *r, const struct spf_ip *ip,
			   const char *helo, const char *msg, size_t len,
			   const char *submitter, const struct spf_config *cfg,
			   senderid_done_fn done, void *arg);

#endif
