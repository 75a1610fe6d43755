/*
 * verdict — the three checks of one message, run together on one
 * resolver, and what follows from them: the policy decision and the
 * Authentication-Results and Received-SPF headers.
 *
 * Owns: starting SPF (unless the caller ran it at MAIL time and hands in
 * its outcome), Sender ID on the PRA and DKIM concurrently; mapping each
 * check's result onto the shared vocabulary (auth_result.h); calling the
 * policy; rendering the headers. Used by `authgate verify` and by the
 * daemon at end of data. The message must outlive the check (DKIM reports
 * slices of it).
 */
#ifndef AUTHGATE_VERDICT_H
#define AUTHGATE_VERDICT_H

#include "dkim.h"
#include "policy.h"
#include "senderid.h"
#include "spf.h"

struct verdict_request {
	struct spf_ip ip;
	const char *ip_text;   /* as shown in Received-SPF */
	const char *helo;
	const char *mail_from; /* "" for the null reverse-path */
	const char *submitter; /* RFC 4405, NULL or "" when absent */
	const char *msg;       /* CRLF lines */
	size_t len;
	const char *authserv_id; /* our host name */
};

struct verdict_config {
	struct spf_config spf;
	struct dkim_config dkim;
	struct policy_config policy;
};

struct verdict_result {
	struct spf_outcome spf;
	struct senderid_outcome senderid;
	struct dkim_results dkim;
	enum auth_result results[POLICY_CHECKS];
	struct policy_decision decision;
	char authres[8192];     /* "Authentication-Results: ..." without CRLF */
	char received_spf[2048]; /* "Received-SPF: ..." without CRLF */
};

/* The result is valid during the call only. */
typedef void (*verdict_done_fn)(void *arg, struct verdict_result *r);

/* Start the checks. spf_done: an SPF outcome the caller already has (the
 * daemon starts SPF at MAIL FROM), or NULL to run it here. done runs
 * exactly once, possibly before this returns. 0, or -ENOMEM (done not
 * called). */
int verdict_start(struct dns_resolver *r, const struct verdict_request *req,
		  const struct verdict_config *cfg, const struct spf_outcome *spf_done,
		  verdict_done_fn done, void *arg);

enum auth_result verdict_spf_result(enum spf_result r);
enum auth_result verdict_dkim_result(enum dkim_result r);

#endif
