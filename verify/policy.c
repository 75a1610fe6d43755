/*
 * policy — see policy.h.
 */
#include "policy.h"

#include <stdio.h>
#include <string.h>

void policy_config_default(struct policy_config *cfg)
{
	cfg->softfail = TREAT_NEUTRAL;
	cfg->permerror = TREAT_FAIL;
}

int policy_treat_from_name(const char *s)
{
	if (strcmp(s, "neutral") == 0)
		return TREAT_NEUTRAL;
	if (strcmp(s, "fail") == 0)
		return TREAT_FAIL;
	return -1;
}

const char *policy_check_name(enum policy_check c)
{
	static const char *const names[] = {"SPF", "Sender ID", "DKIM"};
	return (unsigned)c < POLICY_CHECKS ? names[c] : "?";
}

const char *policy_verdict_name(enum policy_verdict v)
{
	static const char *const names[] = {"accept", "drop", "tempfail"};
	return (unsigned)v < 3 ? names[v] : "?";
}

enum policy_counts policy_classify(const struct policy_config *cfg,
				   enum auth_result r)
{
	switch (r) {
	case AUTH_PASS:
		return COUNTS_PASS;
	case AUTH_FAIL:
		return COUNTS_FAIL;
	case AUTH_SOFTFAIL:
		return cfg->softfail == TREAT_FAIL ? COUNTS_FAIL : COUNTS_NEITHER;
	case AUTH_PERMERROR:
		return cfg->permerror == TREAT_FAIL ? COUNTS_FAIL : COUNTS_NEITHER;
	case AUTH_TEMPERROR:
		return COUNTS_TEMPERROR;
	default: /* none, neutral, policy */
		return COUNTS_NEITHER;
	}
}

/* Append "SPF fail, DKIM permerror" for the checks whose count matches. */
static size_t list_checks(char *buf, size_t size,
			  const enum auth_result results[POLICY_CHECKS],
			  const struct policy_decision *d, enum policy_counts which,
			  bool all)
{
	size_t len = 0;
	for (int c = 0; c < POLICY_CHECKS; c++) {
		if (!all && d->counts[c] != which)
			continue;
		int n = snprintf(buf + len, size - len, "%s%s %s", len ? ", " : "",
				 policy_check_name((enum policy_check)c),
				 auth_result_name(results[c]));
		if (n < 0 || (size_t)n >= size - len)
			break;
		len += (size_t)n;
	}
	return len;
}

static const char *fail_status(enum policy_check c, enum auth_result r)
{
	if (c == POLICY_DKIM)
		return r == AUTH_FAIL ? "5.7.20" : "5.7.21";
	return r == AUTH_PERMERROR ? "5.7.24" : "5.7.23";
}

static void decide_drop(const enum auth_result results[POLICY_CHECKS],
			struct policy_decision *d, int nfail)
{
	char list[120];
	d->verdict = VERDICT_DROP;
	d->smtp_code = 550;
	if (nfail == 0) {
		list_checks(list, sizeof list, results, d, COUNTS_NEITHER, true);
		snprintf(d->status, sizeof d->status, "5.7.26");
		snprintf(d->reason, sizeof d->reason, "no check passed (%s)", list);
		return;
	}
	list_checks(list, sizeof list, results, d, COUNTS_FAIL, false);
	snprintf(d->reason, sizeof d->reason, "failed: %s", list);
	if (nfail > 1) {
		snprintf(d->status, sizeof d->status, "5.7.26");
		return;
	}
	for (int c = 0; c < POLICY_CHECKS; c++)
		if (d->counts[c] == COUNTS_FAIL)
			snprintf(d->status, sizeof d->status, "%s",
				 fail_status((enum policy_check)c, results[c]));
}

void policy_decide(const struct policy_config *cfg,
		   const enum auth_result results[POLICY_CHECKS],
		   struct policy_decision *d)
{
	int npass = 0, nfail = 0, ntemp = 0;
	memset(d, 0, sizeof *d);
	for (int c = 0; c < POLICY_CHECKS; c++) {
		d->counts[c] = policy_classify(cfg, results[c]);
		npass += d->counts[c] == COUNTS_PASS;
		nfail += d->counts[c] == COUNTS_FAIL;
		ntemp += d->counts[c] == COUNTS_TEMPERROR;
	}
	char list[120];
	if (nfail == 0 && npass > 0) {
		list_checks(list, sizeof list, results, d, COUNTS_PASS, false);
		d->verdict = VERDICT_ACCEPT;
		d->smtp_code = 250;
		snprintf(d->status, sizeof d->status, "2.6.0");
		snprintf(d->reason, sizeof d->reason, "passed: %s; none failed", list);
	} else if (nfail == 0 && ntemp > 0) {
		list_checks(list, sizeof list, results, d, COUNTS_TEMPERROR, false);
		bool spf_family = d->counts[POLICY_SPF] == COUNTS_TEMPERROR ||
				  d->counts[POLICY_SENDERID] == COUNTS_TEMPERROR;
		d->verdict = VERDICT_TEMPFAIL;
		d->smtp_code = 451;
		snprintf(d->status, sizeof d->status, spf_family ? "4.7.24" : "4.7.0");
		snprintf(d->reason, sizeof d->reason,
			 "temporary error: %s; nothing passed, try again later", list);
	} else {
		decide_drop(results, d, nfail);
	}
}
