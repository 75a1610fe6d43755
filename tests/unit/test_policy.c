/* Unit tests: policy — the verdict rule, the knobs, the codes and reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <string.h>

#include "verify/policy.h"

static struct policy_decision decide3(enum auth_result spf, enum auth_result sid,
				      enum auth_result dkim, const struct policy_config *cfg)
{
	struct policy_config def;
	if (!cfg) {
		policy_config_default(&def);
		cfg = &def;
	}
	enum auth_result r[POLICY_CHECKS] = {spf, sid, dkim};
	struct policy_decision d;
	policy_decide(cfg, r, &d);
	return d;
}

#define EXPECT(d, verdict_, code_, status_, reason_)                     \
	do {                                                             \
		assert_int_equal((d).verdict, verdict_);                 \
		assert_int_equal((d).smtp_code, code_);                  \
		assert_string_equal((d).status, status_);                \
		assert_string_equal((d).reason, reason_);                \
	} while (0)

static void one_pass_and_no_fail_accepts(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_NONE, AUTH_NEUTRAL, AUTH_PASS, NULL);
	EXPECT(d, VERDICT_ACCEPT, 250, "2.6.0", "passed: DKIM pass; none failed");
	d = decide3(AUTH_PASS, AUTH_PASS, AUTH_PASS, NULL);
	EXPECT(d, VERDICT_ACCEPT, 250, "2.6.0",
	       "passed: SPF pass, Sender ID pass, DKIM pass; none failed");
}

static void any_fail_drops_even_with_passes(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_PASS, AUTH_FAIL, AUTH_PASS, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.23", "failed: Sender ID fail");
	d = decide3(AUTH_FAIL, AUTH_NONE, AUTH_NONE, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.23", "failed: SPF fail");
	d = decide3(AUTH_PASS, AUTH_PASS, AUTH_FAIL, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.20", "failed: DKIM fail");
}

static void several_failures_use_5_7_26(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_FAIL, AUTH_PASS, AUTH_FAIL, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.26", "failed: SPF fail, DKIM fail");
}

static void nothing_passed_drops(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_NEUTRAL, AUTH_NONE, AUTH_POLICY, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.26",
	       "no check passed (SPF neutral, Sender ID none, DKIM policy)");
}

static void softfail_is_neither_by_default_and_fail_on_request(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_SOFTFAIL, AUTH_NONE, AUTH_PASS, NULL);
	assert_int_equal(d.verdict, VERDICT_ACCEPT);
	struct policy_config cfg = {.softfail = TREAT_FAIL, .permerror = TREAT_FAIL};
	d = decide3(AUTH_SOFTFAIL, AUTH_NONE, AUTH_PASS, &cfg);
	EXPECT(d, VERDICT_DROP, 550, "5.7.23", "failed: SPF softfail");
}

static void permerror_is_fail_by_default_and_neutral_on_request(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_PERMERROR, AUTH_NONE, AUTH_PASS, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.24", "failed: SPF permerror");
	d = decide3(AUTH_PASS, AUTH_NONE, AUTH_PERMERROR, NULL);
	EXPECT(d, VERDICT_DROP, 550, "5.7.21", "failed: DKIM permerror");
	struct policy_config cfg = {.softfail = TREAT_NEUTRAL, .permerror = TREAT_NEUTRAL};
	d = decide3(AUTH_PERMERROR, AUTH_NONE, AUTH_PASS, &cfg);
	assert_int_equal(d.verdict, VERDICT_ACCEPT);
}

static void temperror_without_pass_tempfails(void **state)
{
	(void)state;
	struct policy_decision d = decide3(AUTH_TEMPERROR, AUTH_NONE, AUTH_NONE, NULL);
	EXPECT(d, VERDICT_TEMPFAIL, 451, "4.7.24",
	       "temporary error: SPF temperror; nothing passed, try again later");
	/* Sender ID is of SPF's family (RFC 7372 4.7.24 is "SPF validation
	 * error"); DKIM alone has no code of its own for a DNS error */
	d = decide3(AUTH_NONE, AUTH_TEMPERROR, AUTH_NONE, NULL);
	EXPECT(d, VERDICT_TEMPFAIL, 451, "4.7.24",
	       "temporary error: Sender ID temperror; nothing passed, try again later");
	d = decide3(AUTH_NONE, AUTH_NEUTRAL, AUTH_TEMPERROR, NULL);
	EXPECT(d, VERDICT_TEMPFAIL, 451, "4.7.0",
	       "temporary error: DKIM temperror; nothing passed, try again later");
	/* A pass outweighs a temporary error; a failure outweighs both. */
	d = decide3(AUTH_TEMPERROR, AUTH_NONE, AUTH_PASS, NULL);
	assert_int_equal(d.verdict, VERDICT_ACCEPT);
	d = decide3(AUTH_TEMPERROR, AUTH_FAIL, AUTH_NONE, NULL);
	assert_int_equal(d.verdict, VERDICT_DROP);
}

/* The whole matrix against the rule as DESIGN.md states it. */
static void matrix_follows_the_rule(void **state)
{
	(void)state;
	static const enum auth_result spf_like[] = {AUTH_PASS, AUTH_FAIL, AUTH_SOFTFAIL,
						    AUTH_NEUTRAL, AUTH_NONE, AUTH_TEMPERROR,
						    AUTH_PERMERROR};
	static const enum auth_result dkim[] = {AUTH_PASS, AUTH_FAIL, AUTH_PERMERROR,
						AUTH_TEMPERROR, AUTH_POLICY, AUTH_NONE};
	int checked = 0;
	for (int sf = 0; sf < 2; sf++)
		for (int pe = 0; pe < 2; pe++) {
			struct policy_config cfg = {.softfail = sf ? TREAT_FAIL : TREAT_NEUTRAL,
						    .permerror = pe ? TREAT_FAIL : TREAT_NEUTRAL};
			for (size_t a = 0; a < 7; a++)
				for (size_t b = 0; b < 7; b++)
					for (size_t c = 0; c < 6; c++) {
						enum auth_result r[3] = {spf_like[a], spf_like[b], dkim[c]};
						bool fail = false, pass = false, temp = false;
						for (int k = 0; k < 3; k++) {
							fail |= r[k] == AUTH_FAIL ||
								(sf && r[k] == AUTH_SOFTFAIL) ||
								(pe && r[k] == AUTH_PERMERROR);
							pass |= r[k] == AUTH_PASS;
							temp |= r[k] == AUTH_TEMPERROR;
						}
						enum policy_verdict want = fail ? VERDICT_DROP
									   : pass ? VERDICT_ACCEPT
									   : temp ? VERDICT_TEMPFAIL
										  : VERDICT_DROP;
						struct policy_decision d;
						policy_decide(&cfg, r, &d);
						assert_int_equal(d.verdict, want);
						assert_int_equal(d.smtp_code, want == VERDICT_ACCEPT ? 250
									      : want == VERDICT_DROP ? 550 : 451);
						assert_true(d.status[0] == (want == VERDICT_ACCEPT ? '2'
									    : want == VERDICT_DROP ? '5' : '4'));
						assert_true(strlen(d.reason) > 0);
						checked++;
					}
		}
	assert_int_equal(checked, 4 * 7 * 7 * 6);
}

static void names_and_knob_parsing(void **state)
{
	(void)state;
	assert_string_equal(policy_verdict_name(VERDICT_TEMPFAIL), "tempfail");
	assert_string_equal(policy_check_name(POLICY_SENDERID), "Sender ID");
	assert_int_equal(policy_treat_from_name("fail"), TREAT_FAIL);
	assert_int_equal(policy_treat_from_name("neutral"), TREAT_NEUTRAL);
	assert_int_equal(policy_treat_from_name("maybe"), -1);
	assert_int_equal(auth_result_from_name("softfail"), AUTH_SOFTFAIL);
	assert_int_equal(auth_result_from_name("hardfail"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_pass_and_no_fail_accepts),
		cmocka_unit_test(any_fail_drops_even_with_passes),
		cmocka_unit_test(several_failures_use_5_7_26),
		cmocka_unit_test(nothing_passed_drops),
		cmocka_unit_test(softfail_is_neither_by_default_and_fail_on_request),
		cmocka_unit_test(permerror_is_fail_by_default_and_neutral_on_request),
		cmocka_unit_test(temperror_without_pass_tempfails),
		cmocka_unit_test(matrix_follows_the_rule),
		cmocka_unit_test(names_and_knob_parsing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
