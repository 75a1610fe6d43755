/* Unit tests: authres — golden output, folding, hostile values, and every
 * rendered Authentication-Results parsed back by a real parser
 * (python3-authres, run as /usr/bin/python3). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "verify/authres.h"

static char buf[8192];

static void golden_three_methods(void **state)
{
	(void)state;
	struct authres_method m[3] = {
		{"spf", AUTH_PASS, NULL, {{"smtp.mailfrom", "user@example.org"}}},
		{"sender-id", AUTH_NEUTRAL, NULL, {{"header.from", "user@example.org"}}},
		{"dkim", AUTH_PASS, NULL,
		 {{"header.d", "example.org"}, {"header.s", "sel1"},
		  {"header.a", "rsa-sha256"}, {"header.b", "AbCdEfGh"}}},
	};
	int n = authres_render(buf, sizeof buf, "mx.example.net", m, 3);
	assert_int_equal(n, (int)strlen(buf));
	assert_string_equal(buf,
			    "Authentication-Results: mx.example.net; spf=pass\r\n"
			    "\tsmtp.mailfrom=user@example.org; sender-id=neutral\r\n"
			    "\theader.from=user@example.org; dkim=pass header.d=example.org header.s=sel1\r\n"
			    "\theader.a=rsa-sha256 header.b=AbCdEfGh");
}

static void no_results_is_none(void **state)
{
	(void)state;
	assert_true(authres_render(buf, sizeof buf, "mx.example.net", NULL, 0) > 0);
	assert_string_equal(buf, "Authentication-Results: mx.example.net; none");
}

static void values_needing_quotes_are_quoted(void **state)
{
	(void)state;
	struct authres_method m[1] = {
		{"dkim", AUTH_FAIL, "body hash did not verify",
		 {{"header.d", "example.org"}, {"header.b", "ab/c+d=="},
		  {"header.i", "\"odd local\"@example.org"}}},
	};
	authres_render(buf, sizeof buf, "mx", m, 1);
	assert_string_equal(buf,
			    "Authentication-Results: mx; dkim=fail reason=\"body hash did not verify\"\r\n"
			    "\theader.d=example.org header.b=\"ab/c+d==\" header.i=\"\\\"odd local\\\"@example.org\"");
}

static void received_spf_golden(void **state)
{
	(void)state;
	struct received_spf r = {
		.result = AUTH_PASS,
		.receiver = "mx.example.net",
		.client_ip = "192.0.2.1",
		.envelope_from = "user@example.org",
		.helo = "mail.example.org",
		.identity = "mailfrom",
		.comment = "mx.example.net: domain of user@example.org designates 192.0.2.1 as permitted sender",
	};
	assert_true(received_spf_render(buf, sizeof buf, &r) > 0);
	assert_string_equal(buf,
			    "Received-SPF: pass\r\n"
			    "\t(mx.example.net: domain of user@example.org designates 192.0.2.1 as permitted sender)\r\n"
			    "\tclient-ip=192.0.2.1; envelope-from=\"user@example.org\"; helo=mail.example.org;\r\n"
			    "\treceiver=mx.example.net; identity=mailfrom;");
	r.client_ip = "2001:db8::1"; /* ':' is not atext: quoted */
	r.comment = "a (nested) comment \\ here";
	r.problem = "include loop";
	assert_true(received_spf_render(buf, sizeof buf, &r) > 0);
	assert_non_null(strstr(buf, "client-ip=\"2001:db8::1\";"));
	assert_non_null(strstr(buf, "(a \\(nested\\) comment \\\\ here)"));
	assert_non_null(strstr(buf, "problem=\"include loop\";"));
}

/* Nothing a sender controls may end the header or open another. */
static void hostile_values_cannot_inject(void **state)
{
	(void)state;
	const char *evil = "x@example.org\r\nX-Injected: yes; dkim=pass\"\\(\x01\x7f";
	struct authres_method m[2] = {
		{"spf", AUTH_FAIL, evil, {{"smtp.mailfrom", evil}, {"smtp.helo", evil}}},
		{"dkim", AUTH_NONE, NULL, {{"header.d", evil}}},
	};
	assert_true(authres_render(buf, sizeof buf, evil, m, 2) > 0);
	for (const char *p = buf; *p; p++) {
		if (*p == '\r') {
			assert_int_equal(p[1], '\n');
			assert_int_equal(p[2], '\t'); /* only folding breaks lines */
		} else if (*p == '\n') {
			assert_int_equal(p[-1], '\r');
		} else {
			assert_false((unsigned char)*p < 0x20 && *p != '\t');
			assert_false((unsigned char)*p == 0x7f);
		}
	}
	assert_null(strstr(buf, "\r\nX-Injected"));
	struct received_spf r = {.result = AUTH_FAIL, .receiver = evil, .client_ip = evil,
				 .envelope_from = evil, .helo = evil, .comment = evil};
	assert_true(received_spf_render(buf, sizeof buf, &r) > 0);
	assert_null(strstr(buf, "\r\nX-Injected"));
	for (const char *p = buf; *p; p++)
		if (*p == '\n')
			assert_int_equal(p[1], '\t');
}

static void long_values_fold_and_overflow_is_reported(void **state)
{
	(void)state;
	char longval[300];
	memset(longval, 'a', sizeof longval - 1);
	longval[sizeof longval - 1] = '\0';
	struct authres_method m[1] = {
		{"dkim", AUTH_PASS, NULL, {{"header.d", "example.org"}, {"header.s", longval}}}};
	assert_true(authres_render(buf, sizeof buf, "mx", m, 1) > 0);
	/* Lines stay within 78 columns unless one word alone is longer. */
	for (char *line = buf, *end; line; line = end ? end + 2 : NULL) {
		end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);
		if (len > 78)
			assert_non_null(memchr(line, 'a', len)); /* the one long word */
	}
	char small[40];
	assert_int_equal(authres_render(small, sizeof small, "mx", m, 1), -ENOSPC);
}

/* Parse with python3-authres; print "method result reason|prop=value ...". */
static char *python_parse(const char *header)
{
	char path[] = "/tmp/authgate-ar-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, header, strlen(header)), (ssize_t)strlen(header));
	close(fd);
	char cmd[512];
	snprintf(cmd, sizeof cmd,
		 "/usr/bin/python3 -c 'import authres,re,sys\n"
		 "h=authres.AuthenticationResultsHeader.parse(open(sys.argv[1]).read())\n"
		 "u=lambda v: re.sub(r\"\\\\(.)\", r\"\\1\", v or \"\")\n"
		 "print(h.authserv_id)\n"
		 "for r in h.results: print(r.method, r.result, u(r.reason), *[p.type+\".\"+p.name+\"=\"+u(p.value) for p in r.properties], sep=\"|\")' %s 2>&1",
		 path);
	FILE *p = popen(cmd, "r");
	static char out[4096];
	size_t n = fread(out, 1, sizeof out - 1, p);
	out[n] = '\0';
	pclose(p);
	unlink(path);
	return out;
}

static void real_parser_reads_what_we_write(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	struct authres_method m[3] = {
		{"spf", AUTH_SOFTFAIL, NULL, {{"smtp.mailfrom", "first.last+tag@example.org"}}},
		{"sender-id", AUTH_PERMERROR, "no PRA", {{"header.from", "\"quoted name\"@example.org"}}},
		{"dkim", AUTH_FAIL, "signature did not verify",
		 {{"header.d", "example.org"}, {"header.s", "s1"}, {"header.a", "ed25519-sha256"},
		  {"header.b", "x/y+z"}}},
	};
	authres_render(buf, sizeof buf, "mx.example.net", m, 3);
	assert_string_equal(python_parse(buf),
			    "mx.example.net\n"
			    "spf|softfail||smtp.mailfrom=first.last+tag@example.org\n"
			    "sender-id|permerror|no PRA|header.from=\"quoted name\"@example.org\n"
			    "dkim|fail|signature did not verify|header.d=example.org|header.s=s1|"
			    "header.a=ed25519-sha256|header.b=x/y+z\n");
}

static void real_parser_survives_hostile_values(void **state)
{
	(void)state;
	if (access("/usr/bin/python3", X_OK) != 0)
		skip();
	const char *evil = "a@b.org\r\nX-Injected: 1; dkim=pass (c) \"q\" \\";
	struct authres_method m[2] = {
		{"spf", AUTH_FAIL, NULL, {{"smtp.mailfrom", evil}}},
		{"dkim", AUTH_NONE, NULL, {{"header.d", "example.org"}}},
	};
	authres_render(buf, sizeof buf, "mx", m, 2);
	/* Still exactly two results, the value intact but for the defused CRLF. */
	assert_string_equal(python_parse(buf),
			    "mx\n"
			    "spf|fail||smtp.mailfrom=a@b.org??X-Injected: 1; dkim=pass (c) \"q\" \\\n"
			    "dkim|none||header.d=example.org\n");
}

static void fold_when_a_line_would_be_79_columns(void **state)
{
	(void)state;
	char id[55];
	memset(id, 'x', 54);
	id[54] = '\0'; /* "Authentication-Results:" + " " + id + ";" = 79 columns */
	assert_true(authres_render(buf, sizeof buf, id, NULL, 0) > 0);
	for (char *line = buf, *end; line; line = end ? end + 2 : NULL) {
		end = strstr(line, "\r\n");
		size_t len = end ? (size_t)(end - line) : strlen(line);
		assert_true(len <= 78);
	}
}

/* The output and its NUL must fit: one byte short is -ENOSPC. */
static void exact_size_buffer_fits_one_less_does_not(void **state)
{
	(void)state;
	int n = authres_render(buf, sizeof buf, "mx.example.net", NULL, 0);
	assert_true(n > 0);
	char *exact = malloc((size_t)n + 1);
	assert_non_null(exact);
	assert_int_equal(authres_render(exact, (size_t)n + 1, "mx.example.net", NULL, 0), n);
	assert_string_equal(exact, buf);
	assert_int_equal(authres_render(exact, (size_t)n, "mx.example.net", NULL, 0), -ENOSPC);
	free(exact);
}

static const char *render_one_prop(const char *name, const char *value)
{
	struct authres_method m[1] = {{"dkim", AUTH_PASS, NULL, {{name, value}}}};
	assert_true(authres_render(buf, sizeof buf, "mx", m, 1) > 0);
	return strstr(buf, "dkim=pass") + strlen("dkim=pass");
}

/* Bare only what RFC 2045 calls a token: no DEL, no tspecial such as '?'. */
static void values_outside_token_syntax_are_quoted(void **state)
{
	(void)state;
	assert_string_equal(render_one_prop("header.s", "sel\x7f"), " header.s=\"sel?\"");
	assert_string_equal(render_one_prop("header.s", "a?b"), " header.s=\"a?b\"");
}

/* An address goes bare only when it is [dot-atom] "@" domain-name
 * (RFC 8601 §2.2 pvalue): no dot at the end of the local part, no two
 * in a row, no hyphen first in the domain; an empty local part is fine. */
static void only_well_formed_addresses_go_bare(void **state)
{
	(void)state;
	/* RFC 6376 §3.5 domain-name: two labels or more, letters, digits and
	 * inner hyphens; anything else after "@" goes out quoted. */
	static const char *const quoted[] = {"user.@example.org", "a..b@example.org",
					     "user@-example.org", "user@example-.org",
					     "user@example.org.", "user@localhost",
					     "user@under_score.example", "user@example..org",
					     "user@.example.org", "user@"};
	char want[128];
	for (size_t i = 0; i < sizeof quoted / sizeof *quoted; i++) {
		snprintf(want, sizeof want, " smtp.mailfrom=\"%s\"", quoted[i]);
		assert_string_equal(render_one_prop("smtp.mailfrom", quoted[i]), want);
	}
	assert_string_equal(render_one_prop("smtp.mailfrom", "@example.org"),
			    " smtp.mailfrom=@example.org");
	assert_string_equal(render_one_prop("smtp.mailfrom", "u@a-1.b2.EXAMPLE"),
			    " smtp.mailfrom=u@a-1.b2.EXAMPLE");
	assert_string_equal(render_one_prop("smtp.mailfrom", "u@1.2"), " smtp.mailfrom=u@1.2");
}

/* A reason is a value (token or quoted-string), never a bare address. */
static void reason_that_looks_like_an_address_is_quoted(void **state)
{
	(void)state;
	struct authres_method m[1] = {{"spf", AUTH_FAIL, "x@example.org", {{NULL, NULL}}}};
	assert_true(authres_render(buf, sizeof buf, "mx", m, 1) > 0);
	assert_string_equal(buf, "Authentication-Results: mx; spf=fail reason=\"x@example.org\"");
}

/* A token too long for one word goes out quoted and cut, never past the
 * end of the word buffer. */
static void overlong_token_value_is_cut(void **state)
{
	(void)state;
	static char longval[2000];
	memset(longval, 'a', sizeof longval - 1);
	render_one_prop("header.s", longval);
	const char *v = strstr(buf, "header.s=\"aaa");
	assert_non_null(v);
	assert_true(strlen(v) < 1100);
	assert_int_equal(v[strlen(v) - 1], '"');
}

/* An empty value leaves its property (or Received-SPF key) out. */
static void empty_values_are_left_out(void **state)
{
	(void)state;
	struct authres_method m[1] = {
		{"dkim", AUTH_PASS, NULL, {{"header.d", "example.org"}, {"header.s", ""}}}};
	assert_true(authres_render(buf, sizeof buf, "mx", m, 1) > 0);
	assert_string_equal(buf, "Authentication-Results: mx; dkim=pass header.d=example.org");
	struct received_spf r = {.result = AUTH_NONE, .client_ip = "192.0.2.1", .mechanism = ""};
	assert_true(received_spf_render(buf, sizeof buf, &r) > 0);
	assert_string_equal(buf, "Received-SPF: none client-ip=192.0.2.1;");
}

static void result_names_round_trip(void **state)
{
	(void)state;
	for (int r = 0; r < AUTH_RESULT_COUNT; r++)
		assert_int_equal(auth_result_from_name(auth_result_name((enum auth_result)r)), r);
	assert_string_equal(auth_result_name(AUTH_POLICY), "policy");
	assert_string_equal(auth_result_name((enum auth_result)AUTH_RESULT_COUNT), "?");
	assert_int_equal(auth_result_from_name("?"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(golden_three_methods),
		cmocka_unit_test(no_results_is_none),
		cmocka_unit_test(values_needing_quotes_are_quoted),
		cmocka_unit_test(received_spf_golden),
		cmocka_unit_test(hostile_values_cannot_inject),
		cmocka_unit_test(long_values_fold_and_overflow_is_reported),
		cmocka_unit_test(real_parser_reads_what_we_write),
		cmocka_unit_test(real_parser_survives_hostile_values),
		cmocka_unit_test(fold_when_a_line_would_be_79_columns),
		cmocka_unit_test(exact_size_buffer_fits_one_less_does_not),
		cmocka_unit_test(values_outside_token_syntax_are_quoted),
		cmocka_unit_test(only_well_formed_addresses_go_bare),
		cmocka_unit_test(reason_that_looks_like_an_address_is_quoted),
		cmocka_unit_test(overlong_token_value_is_cut),
		cmocka_unit_test(empty_values_are_left_out),
		cmocka_unit_test(result_names_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
