/*
 * spf_async — spf_check_async() of spf.h: drives a struct spf_eval with
 * dns_resolve() continuations.
 *
 * Owns: one slot per query in flight (the continuation's argument), the
 * eval, and the delivery of the outcome. Invariant: the check is freed
 * exactly once, right after its callback ran or when it is cancelled.
 */
#include "spf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#define MAX_INFLIGHT 24

struct slot {
	struct spf_check *check;
	struct dns_query *q; /* NULL when free */
	unsigned id;
};

struct spf_check {
	struct dns_resolver *r;
	struct spf_eval *e;
	spf_done_fn done;
	void *arg;
	unsigned inflight;
	struct slot slots[MAX_INFLIGHT];
};

static void check_free(struct spf_check *c)
{
	spf_eval_free(c->e);
	free(c);
}

static void on_answer(void *arg, struct dns_answer *a);

static void deliver(struct spf_check *c, bool stuck)
{
	if (stuck && !spf_eval_done(c->e)) {
		struct spf_outcome o = *spf_eval_result(c->e);
		o.result = SPF_TEMPERROR;
		snprintf(o.problem, sizeof o.problem, "out of memory submitting DNS queries");
		c->done(c->arg, &o);
	} else {
		c->done(c->arg, spf_eval_result(c->e));
	}
	check_free(c);
}

static struct slot *slot_get(struct spf_check *c)
{
	for (unsigned i = 0; i < MAX_INFLIGHT; i++)
		if (!c->slots[i].q)
			return &c->slots[i];
	return NULL;
}

/* Give the engine a TEMPFAIL for a query we could not submit. */
static void answer_failed(struct spf_check *c, const struct spf_query *q)
{
	struct dns_answer *a = dns_answer_new_empty(q->name, q->type, DNS_TEMPFAIL,
						    DNS_WHY_NOMEM, 0);
	if (a) {
		spf_eval_answer(c->e, q->id, a);
		dns_answer_release(a);
	}
}

/* Submit everything the engine wants now. -ENOMEM when it is stuck. */
static int pump(struct spf_check *c)
{
	struct spf_query q;
	while (spf_eval_next_query(c->e, &q) == 1) {
		struct slot *s = slot_get(c);
		struct dns_query *dq = NULL;
		if (s) {
			s->check = c;
			s->id = q.id;
			s->q = (struct dns_query *)1; /* reserved until dns_resolve returns */
			dq = dns_resolve(c->r, q.name, q.type, on_answer, s);
			s->q = dq;
		}
		if (!dq) {
			answer_failed(c, &q);
			if (!spf_eval_done(c->e) && c->inflight == 0)
				return -ENOMEM;
			continue;
		}
		c->inflight++;
	}
	return 0;
}

static void on_answer(void *arg, struct dns_answer *a)
{
	struct slot *s = arg;
	struct spf_check *c = s->check;
	s->q = NULL;
	c->inflight--;
	spf_eval_answer(c->e, s->id, a);
	pump(c);
	/* Nothing in flight: either done, or stuck on a query that could
	 * not be submitted (out of memory), which delivers a temperror. */
	if (c->inflight == 0)
		deliver(c, true);
}

struct spf_check *spf_check_async(struct dns_resolver *r,
				  const struct spf_request *req,
				  const struct spf_config *cfg,
				  spf_done_fn done, void *arg)
{
	struct spf_check *c = malloc(sizeof *c);
	if (!c)
		return NULL;
	c->r = r, c->done = done, c->arg = arg, c->inflight = 0;
	for (unsigned i = 0; i < MAX_INFLIGHT; i++)
		c->slots[i].q = NULL;
	c->e = spf_eval_new(req, cfg);
	if (!c->e) {
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	int rc = pump(c);
	if (rc < 0 || c->inflight == 0) {
		/* Decided without DNS (invalid identity) or stuck: deliver now. */
		deliver(c, rc < 0);
		errno = 0;
		return NULL;
	}
	return c;
}

void spf_check_cancel(struct spf_check *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < MAX_INFLIGHT; i++)
		if (c->slots[i].q)
			dns_query_cancel(c->r, c->slots[i].q);
	check_free(c);
}
