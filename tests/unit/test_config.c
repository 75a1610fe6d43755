/* Unit tests: config — defaults, every value kind, and errors that name
 * the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "userspace/config.h"

static struct config c;
static char err[256];

static int parse(const char *text)
{
	return config_parse(text, strlen(text), "a.conf", &c, err, sizeof err);
}

static void expect_error(const char *text, const char *want)
{
	if (parse(text) == 0)
		fail_msg("parsed '%s', want error '%s'", text, want);
	if (strcmp(err, want) != 0)
		fail_msg("error '%s', want '%s'", err, want);
}

static void defaults(void **state)
{
	(void)state;
	assert_int_equal(parse(""), 0);
	assert_int_equal(c.nlisten, 1);
	assert_string_equal(c.listen[0].text, "127.0.0.1:2525");
	assert_string_equal(c.spool, "./var/spool");
	assert_int_equal(c.spool_sync, SPOOL_SYNC_FSYNC);
	assert_string_equal(c.spool_journal, "");
	assert_int_equal(c.spool_journal_size, 64u << 20);
	assert_int_equal(c.message_size, 25u << 20);
	assert_int_equal(c.timeouts.data_term, 600);
	assert_int_equal(c.timeouts.close, 10);
	assert_int_equal(c.timeouts.drain, 30);
	assert_int_equal(c.policy.softfail, TREAT_NEUTRAL);
	assert_int_equal(c.policy.permerror, TREAT_FAIL);
	assert_int_equal(c.drop_action, DROP_REJECT);
	assert_int_equal(c.dkim_max_signatures, 5);
	assert_string_equal(c.bpf_pin_dir, "/sys/fs/bpf/authgate");
	assert_true(c.bpf_verdicts);
}

static void every_kind_of_value(void **state)
{
	(void)state;
	assert_int_equal(parse("# a comment\n"
			       "listen = 127.0.0.1:25\n"
			       "listen = [::1]:2525   # trailing comment\n"
			       "hostname = mx.example.net\n"
			       "workers = 2\n"
			       "spool = /var/spool/ag#1\n"
			       "spool.sync = syncfs\n"
			       "dns.timeout = 1s\n"
			       "limits.message_size = 10M\n"
			       "timeouts.command = 2m\n"
			       "bpf.keep_blocklist = yes\n"
			       "bpf.verdicts = no\n"
			       "policy.softfail = fail\n"
			       "policy.permerror = neutral\n"
			       "policy.drop_action = quarantine\n"
			       "log.format = json\n"
			       "dns.servers = 127.0.0.1,127.0.0.2:5353,::1,[::1]:53,[2001:db8::1]\n"
			       "xdp.mode = native\n"
			       "bpf.steer = least\n"
			       "timeouts.close = 20s\n"
			       "timeouts.drain = 1m\n"
			       "  xdp.interface=none  \n"),
			 0);
	assert_int_equal(c.nlisten, 2); /* listen lines replace the default */
	assert_int_equal(c.listen[1].addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in *)&c.listen[0].addr)->sin_port), 25);
	assert_string_equal(c.hostname, "mx.example.net");
	assert_string_equal(c.spool, "/var/spool/ag#1"); /* '#' inside a value stays */
	assert_int_equal(c.spool_sync, SPOOL_SYNC_SYNCFS);
	assert_int_equal(c.dns_timeout_ms, 1000);
	assert_int_equal(c.message_size, 10u << 20);
	assert_int_equal(c.timeouts.command, 120);
	assert_int_equal(c.timeouts.close, 20);
	assert_int_equal(c.timeouts.drain, 60);
	assert_string_equal(c.dns_servers, "127.0.0.1,127.0.0.2:5353,::1,[::1]:53,[2001:db8::1]");
	assert_string_equal(c.xdp_mode, "native");
	assert_string_equal(c.bpf_steer, "least");
	assert_true(c.bpf_keep_blocklist);
	assert_false(c.bpf_verdicts);
	assert_int_equal(c.policy.softfail, TREAT_FAIL);
	assert_int_equal(c.policy.permerror, TREAT_NEUTRAL);
	assert_int_equal(c.drop_action, DROP_QUARANTINE);
	assert_int_equal(c.log_format, LOG_JSON);
	assert_string_equal(c.xdp_interface, "none");
}

static void errors_name_the_line(void **state)
{
	(void)state;
	expect_error("hostname = a\nbogus = 1\n", "a.conf:2: unknown key 'bogus'");
	expect_error("workers\n", "a.conf:1: expected 'key = value'");
	expect_error("workers =\n", "a.conf:1: workers: missing value");
	expect_error("workers = two\n", "a.conf:1: workers = two: expected a whole number");
	expect_error("workers = 1\nworkers = 2\n", "a.conf:2: workers given twice (first on line 1)");
	expect_error("listen = 127.0.0.1\n", "a.conf:1: listen = 127.0.0.1: expected IPv4:port or [IPv6]:port");
	expect_error("listen = 127.0.0.1:99999\n", "a.conf:1: listen = 127.0.0.1:99999: expected IPv4:port or [IPv6]:port");
	expect_error("listen = [::1]2525\n", "a.conf:1: listen = [::1]2525: expected IPv4:port or [IPv6]:port");
	expect_error("limits.message_size = 10X\n", "a.conf:1: limits.message_size = 10X: expected a size (e.g. 25M)");
	expect_error("limits.message_size = 10\n", "a.conf:1: limits.message_size = 10: value out of range");
	expect_error("timeouts.rcpt = soon\n", "a.conf:1: timeouts.rcpt = soon: expected a duration (e.g. 30s, 5m)");
	expect_error("policy.softfail = maybe\n", "a.conf:1: policy.softfail = maybe: expected neutral or fail");
	expect_error("policy.drop_action = bounce\n",
		     "a.conf:1: policy.drop_action = bounce: expected reject, discard or quarantine");
	expect_error("log.format = xml\n", "a.conf:1: log.format = xml: expected text or json");
	expect_error("spool.sync = fdatasync\n",
		     "a.conf:1: spool.sync = fdatasync: expected fsync, syncfs or journal");
	expect_error("spool.journal_size = 512K\n", "a.conf:1: spool.journal_size = 512K: value out of range");
	/* the largest message must fit in half the journal */
	expect_error("spool.sync = journal\nspool.journal_size = 32M\n",
		     "a.conf:2: spool.journal_size must be at least twice limits.message_size (plus 128K)");
	expect_error("bpf.keep_blocklist = perhaps\n", "a.conf:1: bpf.keep_blocklist = perhaps: expected yes or no");
	/* the pair's error names the line of the one given, not the last line */
	expect_error("tls.key = /dev/null\nworkers = 1\n", "a.conf:1: tls.cert and tls.key go together");
	expect_error("tls.cert = /nonexistent/x.pem\n",
		     "a.conf:1: tls.cert = /nonexistent/x.pem: cannot read it: No such file or directory");
	expect_error("dns.zone = /nonexistent/z\n",
		     "a.conf:1: dns.zone = /nonexistent/z: cannot read it: No such file or directory");
	expect_error("hostname = mx example\n",
		     "a.conf:1: hostname = mx example: expected a domain name (labels of letters, digits and '-')");
	expect_error("hostname = mx-.example\n",
		     "a.conf:1: hostname = mx-.example: expected a domain name (labels of letters, digits and '-')");
	expect_error("hostname = mx..example\n",
		     "a.conf:1: hostname = mx..example: expected a domain name (labels of letters, digits and '-')");
	static const char servers_why[] =
		"expected addresses separated by commas: IPv4, IPv4:port, IPv6 or [IPv6]:port";
	char want[256];
	static const char *const bad_servers[] = {"resolver.example", "127.0.0.1:0", "127.0.0.1:53x",
						  "[::1]53", "127.0.0.1,", "1.2.3.4.5"};
	for (size_t i = 0; i < sizeof bad_servers / sizeof *bad_servers; i++) {
		char text[128];
		snprintf(text, sizeof text, "dns.servers = %s\n", bad_servers[i]);
		snprintf(want, sizeof want, "a.conf:1: dns.servers = %s: %s", bad_servers[i], servers_why);
		expect_error(text, want);
	}
	expect_error("xdp.mode = fast\n", "a.conf:1: xdp.mode = fast: expected auto, native or generic");
	expect_error("bpf.steer = random\n", "a.conf:1: bpf.steer = random: expected hash, least or off");
	expect_error("workers = 99999999999999999999999\n",
		     "a.conf:1: workers = 99999999999999999999999: expected a whole number");
}

static void journal_keys(void **state)
{
	(void)state;
	assert_int_equal(parse("spool.sync = journal\nspool.journal = /var/lib/ag/journal\n"
			       "spool.journal_size = 8M\nlimits.message_size = 1M\n"), 0);
	assert_int_equal(c.spool_sync, SPOOL_SYNC_JOURNAL);
	assert_string_equal(c.spool_journal, "/var/lib/ag/journal");
	assert_int_equal(c.spool_journal_size, 8u << 20);
}

static void load_missing_file(void **state)
{
	(void)state;
	assert_int_equal(config_load("/nonexistent/a.conf", &c, err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent/a.conf: No such file or directory");
}

static void shipped_config_parses(void **state)
{
	(void)state;
	if (config_load("etc/authgate.conf", &c, err, sizeof err) != 0)
		fail_msg("%s", err);
	assert_string_equal(c.listen[0].text, "127.0.0.1:2525");
	assert_string_equal(c.spool, "./var/spool");
	assert_string_equal(c.dns_zone, "etc/demo.zone");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_kind_of_value),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(journal_keys),
		cmocka_unit_test(load_missing_file),
		cmocka_unit_test(shipped_config_parses),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
