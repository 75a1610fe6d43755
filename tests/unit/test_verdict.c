/*
 * test_verdict — the three checks run together on an in-memory zone: each
 * check's result mapped onto the shared vocabulary, the policy's decision
 * and the headers that follow from it, and `done` called exactly once
 * whether the checks end later or all of them before verdict_start
 * returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zone_resolver.h"

#include "../../verify/verdict.h"

#include <stdio.h>
#include <string.h>

#define ZONE                                                          \
	"$ORIGIN vd.test.\n"                                          \
	"good     TXT \"v=spf1 ip4:192.0.2.1 -all\"\n"                \
	"bad      TXT \"v=spf1 ip4:198.51.100.0/24 -all\"\n"

struct got {
	struct verdict_result r;
	int calls;
};

static void on_done(void *arg, struct verdict_result *r)
{
	struct got *g = arg;
	g->r = *r;
	g->calls++;
}

static struct verdict_request request(const char *mail_from, const char *msg)
{
	struct verdict_request req = {
		.ip_text = "192.0.2.1",
		.helo = "mx.vd.test",
		.mail_from = mail_from,
		.msg = msg,
		.len = strlen(msg),
		.authserv_id = "mx.example",
	};
	assert_int_equal(spf_ip_parse("192.0.2.1", &req.ip), 0);
	return req;
}

static struct verdict_config config(void)
{
	struct verdict_config cfg = {0};
	cfg.spf.now = 1;
	cfg.dkim.now = 1800000000;
	policy_config_default(&cfg.policy);
	return cfg;
}

static void results_map_onto_the_shared_vocabulary(void **state)
{
	(void)state;
	static const struct { enum spf_result in; enum auth_result out; } spf[] = {
		{SPF_NONE, AUTH_NONE},         {SPF_NEUTRAL, AUTH_NEUTRAL},
		{SPF_PASS, AUTH_PASS},         {SPF_FAIL, AUTH_FAIL},
		{SPF_SOFTFAIL, AUTH_SOFTFAIL}, {SPF_TEMPERROR, AUTH_TEMPERROR},
		{SPF_PERMERROR, AUTH_PERMERROR},
	};
	static const struct { enum dkim_result in; enum auth_result out; } dkim[] = {
		{DKIM_RESULT_NONE, AUTH_NONE},           {DKIM_RESULT_PASS, AUTH_PASS},
		{DKIM_RESULT_FAIL, AUTH_FAIL},           {DKIM_RESULT_POLICY, AUTH_POLICY},
		{DKIM_RESULT_TEMPERROR, AUTH_TEMPERROR}, {DKIM_RESULT_PERMERROR, AUTH_PERMERROR},
	};
	for (size_t i = 0; i < sizeof spf / sizeof spf[0]; i++)
		if (verdict_spf_result(spf[i].in) != spf[i].out)
			fail_msg("SPF %s maps to %s", spf_result_name(spf[i].in),
				 auth_result_name(verdict_spf_result(spf[i].in)));
	for (size_t i = 0; i < sizeof dkim / sizeof dkim[0]; i++)
		if (verdict_dkim_result(dkim[i].in) != dkim[i].out)
			fail_msg("DKIM %s maps to %s", dkim_result_name(dkim[i].in),
				 auth_result_name(verdict_dkim_result(dkim[i].in)));
}

/* "Received-SPF: <result>", then a space or the fold before its comment. */
static void expect_received_spf(const struct got *g, const char *result)
{
	char want[64];
	int n = snprintf(want, sizeof want, "Received-SPF: %s", result);
	const char *h = g->r.received_spf;
	if (strncmp(h, want, (size_t)n) != 0 || (h[n] != ' ' && h[n] != '\r'))
		fail_msg("want %s: %s", want, h);
}

/* SPF and Sender ID answered from the zone, after verdict_start returned. */
static struct got run(const char *mail_from, const char *msg)
{
	struct dns_resolver *r = zone_resolver(ZONE);
	struct verdict_request req = request(mail_from, msg);
	struct verdict_config cfg = config();
	struct got g = {0};
	assert_int_equal(verdict_start(r, &req, &cfg, NULL, on_done, &g), 0);
	assert_int_equal(g.calls, 0); /* the zone answers through the resolver's loop */
	dns_resolver_run(r, 1000);
	dns_resolver_free(r);
	assert_int_equal(g.calls, 1);
	return g;
}

static void spf_and_sender_id_pass_accepts(void **state)
{
	(void)state;
	struct got g = run("a@good.vd.test", "From: a@good.vd.test\r\nSubject: x\r\n\r\nhi\r\n");
	assert_int_equal(g.r.results[POLICY_SPF], AUTH_PASS);
	assert_int_equal(g.r.results[POLICY_SENDERID], AUTH_PASS);
	assert_int_equal(g.r.results[POLICY_DKIM], AUTH_NONE);
	assert_int_equal(g.r.decision.verdict, VERDICT_ACCEPT);
	assert_int_equal(g.r.decision.smtp_code, 250);
	if (!strstr(g.r.authres, "spf=pass smtp.mailfrom=a@good.vd.test") ||
	    !strstr(g.r.authres, "sender-id=pass header.from=a@good.vd.test") ||
	    !strstr(g.r.authres, "dkim=none"))
		fail_msg("%s", g.r.authres);
	expect_received_spf(&g, "pass");
}

/* One failure drops the message whatever passed. */
static void a_failure_drops_despite_a_pass(void **state)
{
	(void)state;
	struct got g = run("a@bad.vd.test", "From: a@good.vd.test\r\n\r\nhi\r\n");
	assert_int_equal(g.r.results[POLICY_SPF], AUTH_FAIL);
	assert_int_equal(g.r.results[POLICY_SENDERID], AUTH_PASS);
	assert_int_equal(g.r.decision.verdict, VERDICT_DROP);
	assert_int_equal(g.r.decision.smtp_code, 550);
	assert_string_equal(g.r.decision.status, "5.7.23");
	expect_received_spf(&g, "fail");
}

/* With SPF's outcome handed in, a message without a From (Sender ID's
 * permerror) and without a signature ends every check inside
 * verdict_start: done must run there, once, and verdict_start must not
 * touch the freed check after it (ASan would say so). */
static void every_check_ending_while_starting_concludes_once(void **state)
{
	(void)state;
	struct dns_resolver *r = zone_resolver(ZONE);
	struct verdict_request req = request("a@good.vd.test", "Subject: no From\r\n\r\nhi\r\n");
	struct verdict_config cfg = config();
	struct spf_outcome spf = {.result = SPF_PASS, .identity_kind = "mailfrom"};
	snprintf(spf.identity, sizeof spf.identity, "a@good.vd.test");
	struct got g = {0};
	assert_int_equal(verdict_start(r, &req, &cfg, &spf, on_done, &g), 0);
	assert_int_equal(g.calls, 1);
	dns_resolver_run(r, 1000);
	dns_resolver_free(r);
	assert_int_equal(g.calls, 1);
	assert_int_equal(g.r.results[POLICY_SPF], AUTH_PASS);
	assert_int_equal(g.r.results[POLICY_SENDERID], AUTH_PERMERROR);
	assert_int_equal(g.r.results[POLICY_DKIM], AUTH_NONE);
	/* Sender ID's permerror counts as a failure by default */
	assert_int_equal(g.r.decision.verdict, VERDICT_DROP);
	assert_string_equal(g.r.decision.status, "5.7.24");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(results_map_onto_the_shared_vocabulary),
		cmocka_unit_test(spf_and_sender_id_pass_accepts),
		cmocka_unit_test(a_failure_drops_despite_a_pass),
		cmocka_unit_test(every_check_ending_while_starting_concludes_once),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
