/*
 * test_senderid — Sender ID on in-memory zones through the resolver glue:
 * record selection for both scopes, the PRA-scope rules (non-existent
 * domain, no PRA, SUBMITTER), and the SUBMITTER syntax check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "zone_resolver.h"

#include "../../verify/senderid.h"

#include <stdio.h>
#include <string.h>

#define ZONE                                                              \
	"$ORIGIN sid.test.\n"                                             \
	"pra      TXT \"spf2.0/pra ip4:192.0.2.1 -all\"\n"                \
	"pra      TXT \"v=spf1 +all\"\n"                                  \
	"both     TXT \"spf2.0/mfrom,pra ip4:192.0.2.1 -all\"\n"          \
	"v1       TXT \"v=spf1 ip4:192.0.2.1 ~all\"\n"                     \
	"dup      TXT \"spf2.0/pra +all\"\n"                              \
	"dup      TXT \"spf2.0/pra,mfrom +all\"\n"                        \
	"mfrom    TXT \"spf2.0/mfrom -all\"\n"                            \
	"prefix   TXT \"spf2.0/pr,mfr -all\"\n"                           \
	"prefix   TXT \"v=spf1 +all\"\n"                                  \
	"inc      TXT \"spf2.0/pra include:pra.sid.test -all\"\n"         \
	"incnx    TXT \"spf2.0/pra include:gone.sid.test -all\"\n"        \
	"rednx    TXT \"spf2.0/pra redirect=gone.sid.test\"\n"            \
	"a        A 192.0.2.1\n"                                          \
	"slow     TIMEOUT\n"

struct got {
	struct senderid_outcome out;
	int calls;
};

static void on_done(void *arg, const struct senderid_outcome *o)
{
	struct got *g = arg;
	g->out = *o;
	g->calls++;
}

static struct got identity(const char *ip, const char *who, enum senderid_scope scope)
{
	struct dns_resolver *r = zone_resolver(ZONE);
	struct spf_ip a;
	assert_int_equal(spf_ip_parse(ip, &a), 0);
	struct spf_config cfg = {.now = 1};
	struct got g = {0};
	assert_int_equal(senderid_check_identity(r, &a, "h.sid.test", who, scope, &cfg, on_done, &g), 0);
	dns_resolver_run(r, 1000);
	dns_resolver_free(r);
	assert_int_equal(g.calls, 1);
	return g;
}

static struct got message(const char *ip, const char *msg, const char *submitter)
{
	struct dns_resolver *r = zone_resolver(ZONE);
	struct spf_ip a;
	assert_int_equal(spf_ip_parse(ip, &a), 0);
	struct spf_config cfg = {.now = 1};
	struct got g = {0};
	assert_int_equal(senderid_check_message(r, &a, "h.sid.test", msg, strlen(msg), submitter,
						&cfg, on_done, &g), 0);
	dns_resolver_run(r, 1000);
	dns_resolver_free(r);
	assert_int_equal(g.calls, 1);
	return g;
}

static enum spf_result pra(const char *ip, const char *who)
{
	return identity(ip, who, SENDERID_PRA).out.result;
}

static enum spf_result mfrom(const char *ip, const char *who)
{
	return identity(ip, who, SENDERID_MFROM).out.result;
}

static void test_selection(void **state)
{
	(void)state;
	assert_int_equal(pra("192.0.2.1", "x@pra.sid.test"), SPF_PASS);
	assert_int_equal(pra("192.0.2.9", "x@pra.sid.test"), SPF_FAIL);   /* not v=spf1 +all */
	assert_int_equal(mfrom("192.0.2.9", "x@pra.sid.test"), SPF_PASS); /* v=spf1 +all */
	assert_int_equal(pra("192.0.2.9", "x@both.sid.test"), SPF_FAIL);
	assert_int_equal(mfrom("192.0.2.9", "x@both.sid.test"), SPF_FAIL);
	assert_int_equal(pra("192.0.2.9", "x@v1.sid.test"), SPF_SOFTFAIL);
	assert_int_equal(mfrom("192.0.2.1", "x@v1.sid.test"), SPF_PASS);
	assert_int_equal(pra("192.0.2.1", "x@dup.sid.test"), SPF_PERMERROR);
	assert_int_equal(mfrom("192.0.2.1", "x@dup.sid.test"), SPF_PASS);
	assert_int_equal(pra("192.0.2.1", "x@mfrom.sid.test"), SPF_NONE);
	assert_int_equal(mfrom("192.0.2.1", "x@mfrom.sid.test"), SPF_FAIL);
	/* a scope is a whole word: "pr" and "mfr" cover neither pra nor mfrom,
	 * so the v=spf1 record stands in for both */
	assert_int_equal(pra("192.0.2.9", "x@prefix.sid.test"), SPF_PASS);
	assert_int_equal(mfrom("192.0.2.9", "x@prefix.sid.test"), SPF_PASS);
	assert_int_equal(pra("192.0.2.1", "x@inc.sid.test"), SPF_PASS);
	assert_int_equal(pra("192.0.2.1", "x@a.sid.test"), SPF_NONE);
	assert_int_equal(pra("192.0.2.1", "x@slow.sid.test"), SPF_TEMPERROR);
}

/* RFC 4406 §4.3: in the PRA scope a non-existent domain is a fail; only the
 * PRA's own domain, not include or redirect targets; not in mfrom. */
static void test_nxdomain(void **state)
{
	(void)state;
	struct got g = identity("192.0.2.1", "x@gone.sid.test", SENDERID_PRA);
	assert_int_equal(g.out.result, SPF_FAIL);
	assert_non_null(strstr(g.out.problem, "does not exist"));
	assert_int_equal(mfrom("192.0.2.1", "x@gone.sid.test"), SPF_NONE);
	assert_int_equal(pra("192.0.2.1", "x@incnx.sid.test"), SPF_PERMERROR);
	assert_int_equal(pra("192.0.2.1", "x@rednx.sid.test"), SPF_PERMERROR);
}

static void test_message(void **state)
{
	(void)state;
	const char *m = "From: A <a@pra.sid.test>\r\nSender: s@both.sid.test\r\n\r\nbody\r\n";
	struct got g = message("192.0.2.1", m, NULL);
	assert_int_equal(g.out.result, SPF_PASS);
	assert_string_equal(g.out.identity, "s@both.sid.test");
	assert_int_equal(g.out.pra_source, PRA_SENDER);
	g = message("192.0.2.1", m, "s@BOTH.sid.test");
	assert_int_equal(g.out.result, SPF_PASS);
	g = message("192.0.2.1", m, "a@pra.sid.test");
	assert_int_equal(g.out.result, SPF_FAIL);
	assert_non_null(strstr(g.out.problem, "SUBMITTER"));
	g = message("192.0.2.1", "From: \"s\"@both.sid.test\r\n\r\n", "\"s\"@both.sid.test");
	assert_int_equal(g.out.result, SPF_PASS);
	g = message("192.0.2.1", "From: \"a b\"@both.sid.test\r\n\r\n", "\"a\\ b\"@both.sid.test");
	assert_int_equal(g.out.result, SPF_PASS);
	g = message("192.0.2.1", "From: a@x.test, b@x.test\r\n\r\n", "a@x.test");
	assert_int_equal(g.out.result, SPF_PERMERROR);
	assert_string_equal(g.out.identity, "");
	g = message("192.0.2.1", "From: a@gone.sid.test\r\n\r\n", NULL);
	assert_int_equal(g.out.result, SPF_FAIL);
}

static void test_mailbox_valid(void **state)
{
	(void)state;
	static const char *const good[] = {
		"a@b.test", "a.b+c@b.test", "\"a b\"@b.test", "\"a\\\"b\"@b.test", "a@[192.0.2.1]",
		"a@[IPv6:2001:db8::1]", "\xc3\xbc@b.test", "a@b_c.test", "a@b", "!#$%&'*+-/=?^_`{|}~@b.test",
	};
	static const char *const bad[] = {
		"", "a", "a@", "@b.test", "a@@b.test", "a b@b.test", "<a@b.test>", "a@b..test",
		"a@-b.test", "a@b-.test", "a.@b.test", ".a@b.test", "a..b@b.test", "a@b.test,c@d.test",
		"\"a@b.test", "a@[1.2.3.4", "a@b.test.", "a@b.test ", "(c)a@b.test",
	};
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		if (!senderid_mailbox_valid(good[i]))
			fail_msg("'%s' should be valid", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (senderid_mailbox_valid(bad[i]))
			fail_msg("'%s' should be invalid", bad[i]);
	char big[300];
	memset(big, 'a', sizeof big);
	memcpy(big + 240, "@b.test", 8); /* 247 octets: a path fits */
	assert_true(senderid_mailbox_valid(big));
	memset(big, 'a', sizeof big);
	memcpy(big + 250, "@b.test", 8); /* 257: more than RFC 5321 §4.5.3.1.3 allows */
	assert_false(senderid_mailbox_valid(big));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_selection),
		cmocka_unit_test(test_nxdomain),
		cmocka_unit_test(test_message),
		cmocka_unit_test(test_mailbox_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
