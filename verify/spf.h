/*
 * spf — RFC 7208 check_host() as a sans-I/O engine.
 *
 * Owns: the evaluation of one SPF check (record fetch and selection, every
 * mechanism and modifier, include/redirect frames, the processing limits of
 * §4.6.4, the "p" macro's PTR validation, the exp= explanation) and the
 * outcome handed to the caller.
 *
 * Contract:
 *  - The engine never performs I/O. spf_eval_next_query() yields the DNS
 *    queries it needs (several may be outstanding at once, e.g. the address
 *    lookups of MX hosts); spf_eval_answer() resumes it with an answer.
 *    When spf_eval_done() is true, spf_eval_result() is final.
 *  - Work is bounded whatever the input: at most SPF_MAX_QUERIES queries per
 *    evaluation, bounded expansions, bounded include/redirect depth.
 *  - Record selection is a separate, replaceable step (struct spf_config's
 *    select): Sender ID reuses the engine with its own version tags.
 *  - spf_check_async() is the glue onto the dns.h resolver; its callback
 *    runs from dns_resolver_dispatch(), except when the outcome needs no
 *    DNS at all (invalid identity: "none"): then it runs before
 *    spf_check_async() returns NULL with errno 0.
 */
#ifndef AUTHGATE_SPF_H
#define AUTHGATE_SPF_H

#include "dns.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum spf_result {
	SPF_NONE,
	SPF_NEUTRAL,
	SPF_PASS,
	SPF_FAIL,
	SPF_SOFTFAIL,
	SPF_TEMPERROR,
	SPF_PERMERROR,
};

const char *spf_result_name(enum spf_result r);

/* Which identity is checked: MAIL FROM (falling back to postmaster@HELO
 * when MAIL FROM is empty, RFC 7208 §2.4) or HELO alone (§2.3). */
enum spf_scope { SPF_SCOPE_MFROM, SPF_SCOPE_HELO };

struct spf_ip {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} u;
};

/* Parse an IPv4 or IPv6 literal; IPv4-mapped IPv6 becomes IPv4 (§5).
 * Returns 0 or -EINVAL. */
int spf_ip_parse(const char *s, struct spf_ip *out);

struct spf_request {
	struct spf_ip ip;
	const char *mail_from; /* "" or NULL: empty reverse path */
	const char *helo;
	enum spf_scope scope;
};

/* Record selection. Given one TXT answer with data, pick the record to
 * evaluate: set *terms and *len to the text after the version tag and return
 * SPF_SELECT_FOUND; SPF_SELECT_NONE when none applies, SPF_SELECT_MANY when
 * the selection is ambiguous (permerror). */
enum spf_select_status { SPF_SELECT_FOUND, SPF_SELECT_NONE, SPF_SELECT_MANY };
typedef enum spf_select_status (*spf_select_fn)(void *arg,
						const struct dns_answer *txt,
						const char **terms, size_t *len);
/* The RFC 7208 selection: exactly one record starting "v=spf1" + SP/end. */
enum spf_select_status spf_select_v1(void *arg, const struct dns_answer *txt,
				     const char **terms, size_t *len);

/* Parsed-record cache (spf_cache.h): optional, one per thread; speeds up
 * repeated evaluations over a warm resolver cache. */
struct spf_cache;
struct spf_cache *spf_cache_new(size_t entries);
void spf_cache_free(struct spf_cache *c);

struct spf_config {
	const char *default_explanation; /* macro-string; NULL: built-in */
	const char *receiver;            /* %{r}; NULL: "unknown" */
	time_t now;                      /* %{t}; 0: time(NULL) */
	spf_select_fn select;            /* NULL: spf_select_v1 */
	void *select_arg;
	unsigned max_dns_terms;          /* 0: 10 (§4.6.4) */
	unsigned max_void;               /* 0: 2 */
	struct spf_cache *cache;         /* NULL: parse every record */
	bool nxdomain_fails;             /* the checked domain itself (not an
					  * include or redirect target) not
					  * existing is a fail, not none: Sender
					  * ID's PRA scope (RFC 4406 §4.3) */
};

#define SPF_MAX_QUERIES 160
#define SPF_MECH_TEXT 128
#define SPF_PROBLEM_TEXT 160
#define SPF_EXPLANATION_MAX 512

struct spf_outcome {
	enum spf_result result;
	const char *identity_kind; /* "mailfrom" or "helo" (RFC 8601 ptype) */
	unsigned dns_terms;        /* DNS-querying terms evaluated */
	unsigned void_lookups;
	unsigned queries;          /* DNS queries issued */
	char identity[520];        /* the address checked: sender or postmaster@helo */
	char domain[256];          /* the domain check_host() started on */
	char mechanism[SPF_MECH_TEXT]; /* the term that decided, "default" or "" */
	char problem[SPF_PROBLEM_TEXT]; /* why, on permerror/temperror/none */
	char explanation[SPF_EXPLANATION_MAX]; /* on fail only */
};

/* --- the sans-I/O engine ---------------------------------------------- */

struct spf_eval;

struct spf_query {
	unsigned id;
	enum dns_type type;
	const char *name; /* valid until the answer for id is given */
};

/* NULL with errno set (ENOMEM). req and *cfg are copied; the strings and
 * the cache cfg points to are borrowed and must outlive the evaluation
 * (a daemon's configuration does). */
struct spf_eval *spf_eval_new(const struct spf_request *req,
			      const struct spf_config *cfg);
void spf_eval_free(struct spf_eval *e);
/* Each thread keeps one finished evaluation for reuse; a thread that
 * evaluated SPF calls this before it exits. */
void spf_thread_cleanup(void);

/* 1 and *q filled when a query must be issued, 0 when none is wanted now
 * (either done, or waiting for answers already yielded). */
int spf_eval_next_query(struct spf_eval *e, struct spf_query *q);
/* Give the answer to query id. 0, or -ENOENT for an unknown id. The answer
 * is borrowed: the engine takes its own reference when it keeps it. */
int spf_eval_answer(struct spf_eval *e, unsigned id, struct dns_answer *a);
bool spf_eval_done(const struct spf_eval *e);
const struct spf_outcome *spf_eval_result(const struct spf_eval *e);

/* --- glue onto the resolver -------------------------------------------- */

struct spf_check;
typedef void (*spf_done_fn)(void *arg, const struct spf_outcome *out);

/* Start a check driven by dns_resolve() continuations. The outcome is
 * delivered to done exactly once; the check frees itself afterwards.
 * NULL with errno 0: already delivered (no DNS needed). NULL with errno
 * set: could not start, done will not run. */
struct spf_check *spf_check_async(struct dns_resolver *r,
				  const struct spf_request *req,
				  const struct spf_config *cfg,
				  spf_done_fn done, void *arg);
/* Abandon a check before its callback ran (connection closed). */
void spf_check_cancel(struct spf_check *c);

#endif
