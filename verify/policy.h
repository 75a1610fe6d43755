/*
 * policy — the verdict: a message is accepted only if no check fails and
 * at least one passes (../shared/DESIGN.md, "Verdict policy").
 *
 * Owns: how each result counts (pass / fail / neither, with the softfail
 * and permerror knobs), the verdict (accept, drop, tempfail), the SMTP
 * reply code and RFC 7372 enhanced status code, and a reason that names
 * every check that decided it. Pure: no I/O, no allocation.
 *
 * Enhanced codes: DKIM fail 5.7.20; DKIM permerror counted as failure
 * 5.7.21; SPF or Sender ID fail (or softfail counted as failure) 5.7.23,
 * permerror 5.7.24; two or more failing checks 5.7.26; nothing passed and
 * nothing failed 5.7.26 as well (the checks, together, did not
 * authenticate the sender). Tempfail: 4.7.24 when SPF or Sender ID had the
 * temporary error, 4.7.0 when only DKIM had.
 */
#ifndef AUTHGATE_POLICY_H
#define AUTHGATE_POLICY_H

#include "auth_result.h"

#include <stdbool.h>

enum policy_check { POLICY_SPF, POLICY_SENDERID, POLICY_DKIM, POLICY_CHECKS };

enum policy_verdict { VERDICT_ACCEPT, VERDICT_DROP, VERDICT_TEMPFAIL };

/* How a softfail or permerror counts. */
enum policy_treat { TREAT_NEUTRAL, TREAT_FAIL };

struct policy_config {
	enum policy_treat softfail;  /* default TREAT_NEUTRAL */
	enum policy_treat permerror; /* default TREAT_FAIL */
};

/* Defaults as in DESIGN.md. */
void policy_config_default(struct policy_config *cfg);
/* "neutral"/"fail" → treat; -1 when neither. */
int policy_treat_from_name(const char *s);

enum policy_counts { COUNTS_NEITHER, COUNTS_PASS, COUNTS_FAIL, COUNTS_TEMPERROR };

struct policy_decision {
	enum policy_verdict verdict;
	unsigned smtp_code;       /* 250, 550 or 451 */
	char status[8];           /* "2.6.0", "5.7.23", "4.7.24", ... */
	char reason[200];         /* names the check(s) that decided */
	enum policy_counts counts[POLICY_CHECKS];
};

enum policy_counts policy_classify(const struct policy_config *cfg,
				   enum auth_result r);
void policy_decide(const struct policy_config *cfg,
		   const enum auth_result results[POLICY_CHECKS],
		   struct policy_decision *out);

const char *policy_check_name(enum policy_check c);   /* "SPF", "Sender ID", "DKIM" */
const char *policy_verdict_name(enum policy_verdict v); /* "accept", "drop", "tempfail" */

#endif
