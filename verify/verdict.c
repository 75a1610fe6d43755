/*
 * verdict — see verdict.h. The three checks may finish in any order, and
 * any of them may finish before its start function returns; a counter of
 * checks still running (plus a "still starting" guard) decides when to
 * conclude, exactly once.
 */
#include "verdict.h"

#include "authres.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct verdict_check {
	verdict_done_fn done;
	void *arg;
	struct verdict_request req;
	struct verdict_config cfg;
	char helo[256], mail_from[520], submitter[520], authserv[256], ip_text[64];
	unsigned running;
	bool starting;
	struct verdict_result res;
};

enum auth_result verdict_spf_result(enum spf_result r)
{
	switch (r) {
	case SPF_PASS: return AUTH_PASS;
	case SPF_FAIL: return AUTH_FAIL;
	case SPF_SOFTFAIL: return AUTH_SOFTFAIL;
	case SPF_NEUTRAL: return AUTH_NEUTRAL;
	case SPF_TEMPERROR: return AUTH_TEMPERROR;
	case SPF_PERMERROR: return AUTH_PERMERROR;
	default: return AUTH_NONE;
	}
}

enum auth_result verdict_dkim_result(enum dkim_result r)
{
	switch (r) {
	case DKIM_RESULT_PASS: return AUTH_PASS;
	case DKIM_RESULT_FAIL: return AUTH_FAIL;
	case DKIM_RESULT_POLICY: return AUTH_POLICY;
	case DKIM_RESULT_TEMPERROR: return AUTH_TEMPERROR;
	case DKIM_RESULT_PERMERROR: return AUTH_PERMERROR;
	default: return AUTH_NONE;
	}
}

/* A slice as a NUL-terminated string in a small buffer (header values). */
static const char *slice(struct dkim_slice s, char *buf, size_t size)
{
	size_t n = s.n < size - 1 ? s.n : size - 1;
	memcpy(buf, s.p, n);
	buf[n] = '\0';
	return buf;
}

static const char *lower_header(enum pra_source s)
{
	static const char *const names[] = {"header.resent-sender", "header.resent-from",
					    "header.sender", "header.from"};
	return (unsigned)s < PRA_NONE ? names[s] : "header.from";
}

static void render_authres(struct verdict_check *c)
{
	struct verdict_result *r = &c->res;
	unsigned nsig = r->dkim.nreported;
	struct authres_method *m = calloc(2 + (nsig ? nsig : 1), sizeof *m);
	char (*vals)[4][80] = calloc(nsig ? nsig : 1, sizeof *vals);
	if (!m || !vals) {
		snprintf(r->authres, sizeof r->authres,
			 "Authentication-Results: %s; none", c->authserv);
		free(m);
		free(vals);
		return;
	}
	bool helo_identity = !c->mail_from[0];
	m[0] = (struct authres_method){"spf", r->results[POLICY_SPF],
				       r->results[POLICY_SPF] >= AUTH_TEMPERROR ? r->spf.problem : NULL,
				       {{helo_identity ? "smtp.helo" : "smtp.mailfrom",
					 helo_identity ? c->helo : c->mail_from}}};
	m[1] = (struct authres_method){"sender-id", r->results[POLICY_SENDERID],
				       r->senderid.identity[0] ? NULL : r->senderid.problem,
				       {{lower_header(r->senderid.pra_source), r->senderid.identity}}};
	unsigned n = 2;
	for (unsigned i = 0; i < nsig; i++, n++) {
		const struct dkim_sig_result *s = &r->dkim.sigs[i];
		dkim_b_prefix(s, vals[i][3]);
		m[n] = (struct authres_method){
			"dkim", s->checked ? verdict_dkim_result(s->result) : AUTH_NONE,
			s->checked ? (s->result == DKIM_RESULT_PASS ? NULL : s->reason) : "not checked",
			{{"header.d", slice(s->d, vals[i][0], sizeof vals[i][0])},
			 {"header.s", slice(s->s, vals[i][1], sizeof vals[i][1])},
			 {"header.a", slice(s->a, vals[i][2], sizeof vals[i][2])},
			 {"header.b", vals[i][3]}}};
	}
	if (nsig == 0)
		m[n++] = (struct authres_method){"dkim", AUTH_NONE, NULL, {{0}}};
	if (authres_render(r->authres, sizeof r->authres, c->authserv, m, n) < 0)
		snprintf(r->authres, sizeof r->authres, "Authentication-Results: %s; none",
			 c->authserv);
	free(m);
	free(vals);
}

static void render_received_spf(struct verdict_check *c)
{
	struct verdict_result *r = &c->res;
	char comment[1024];
	const char *verb = r->spf.result == SPF_PASS    ? "designates"
			   : r->spf.result == SPF_FAIL   ? "does not designate"
			   : r->spf.result == SPF_SOFTFAIL ? "does not designate"
							   : "neither permits nor denies";
	snprintf(comment, sizeof comment, "%s: %s of %s %s %s as permitted sender",
		 c->authserv, c->mail_from[0] ? "domain" : "HELO", r->spf.identity, verb, c->ip_text);
	struct received_spf rs = {
		.result = r->results[POLICY_SPF],
		.receiver = c->authserv,
		.client_ip = c->ip_text,
		.envelope_from = r->spf.identity,
		.helo = c->helo,
		.identity = r->spf.identity_kind,
		.mechanism = r->spf.mechanism,
		.problem = r->spf.problem,
		.comment = comment,
	};
	if (received_spf_render(r->received_spf, sizeof r->received_spf, &rs) < 0)
		snprintf(r->received_spf, sizeof r->received_spf, "Received-SPF: %s",
			 auth_result_name(rs.result));
}

static void conclude(struct verdict_check *c)
{
	struct verdict_result *r = &c->res;
	r->results[POLICY_SPF] = verdict_spf_result(r->spf.result);
	r->results[POLICY_SENDERID] = verdict_spf_result(r->senderid.result);
	r->results[POLICY_DKIM] = verdict_dkim_result(r->dkim.result);
	policy_decide(&c->cfg.policy, r->results, &r->decision);
	render_authres(c);
	render_received_spf(c);
	c->done(c->arg, r);
	free(c);
}

static void one_done(struct verdict_check *c)
{
	if (--c->running == 0 && !c->starting)
		conclude(c);
}

static void on_spf(void *arg, const struct spf_outcome *o)
{
	struct verdict_check *c = arg;
	c->res.spf = *o;
	one_done(c);
}

static void on_senderid(void *arg, const struct senderid_outcome *o)
{
	struct verdict_check *c = arg;
	c->res.senderid = *o;
	one_done(c);
}

static void on_dkim(void *arg, const struct dkim_results *res)
{
	struct verdict_check *c = arg;
	c->res.dkim = *res;
	one_done(c);
}

static void copy_request(struct verdict_check *c, const struct verdict_request *req)
{
	snprintf(c->helo, sizeof c->helo, "%s", req->helo ? req->helo : "");
	snprintf(c->mail_from, sizeof c->mail_from, "%s", req->mail_from ? req->mail_from : "");
	snprintf(c->submitter, sizeof c->submitter, "%s", req->submitter ? req->submitter : "");
	snprintf(c->authserv, sizeof c->authserv, "%s", req->authserv_id ? req->authserv_id : "localhost");
	snprintf(c->ip_text, sizeof c->ip_text, "%s", req->ip_text ? req->ip_text : "");
	c->req = *req;
}

static void start_spf(struct dns_resolver *r, struct verdict_check *c)
{
	struct spf_request sr = {.ip = c->req.ip, .mail_from = c->mail_from, .helo = c->helo,
				 .scope = SPF_SCOPE_MFROM};
	errno = 0;
	if (!spf_check_async(r, &sr, &c->cfg.spf, on_spf, c) && errno != 0) {
		c->res.spf.result = SPF_TEMPERROR;
		snprintf(c->res.spf.problem, sizeof c->res.spf.problem, "out of memory");
		one_done(c);
	}
}

int verdict_start(struct dns_resolver *r, const struct verdict_request *req,
		  const struct verdict_config *cfg, const struct spf_outcome *spf_done,
		  verdict_done_fn done, void *arg)
{
	struct verdict_check *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	c->done = done;
	c->arg = arg;
	c->cfg = *cfg;
	copy_request(c, req);
	c->starting = true;
	c->running = 3;
	if (spf_done) {
		c->res.spf = *spf_done;
		c->running--;
	} else {
		start_spf(r, c);
	}
	if (senderid_check_message(r, &req->ip, c->helo, req->msg, req->len, c->submitter,
				   &c->cfg.spf, on_senderid, c) < 0) {
		c->res.senderid.result = SPF_TEMPERROR;
		snprintf(c->res.senderid.problem, sizeof c->res.senderid.problem, "out of memory");
		one_done(c);
	}
	if (dkim_verify_async(r, req->msg, req->len, &c->cfg.dkim, on_dkim, c) < 0) {
		c->res.dkim.result = DKIM_RESULT_TEMPERROR;
		one_done(c);
	}
	c->starting = false;
	if (c->running == 0)
		conclude(c);
	return 0;
}
