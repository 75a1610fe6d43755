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
	expect_error("limits.message_size = 10\n", "a.conf:1: limits.message_size = 10: value out of range (1K to 1G)");
	expect_error("timeouts.rcpt = soon\n", "a.conf:1: timeouts.rcpt = soon: expected a duration (e.g. 30s, 5m)");
	expect_error("policy.softfail = maybe\n", "a.conf:1: policy.softfail = maybe: expected neutral or fail");
	expect_error("policy.drop_action = bounce\n",
		     "a.conf:1: policy.drop_action = bounce: expected reject, discard or quarantine");
	expect_error("log.format = xml\n", "a.conf:1: log.format = xml: expected text or json");
	expect_error("spool.sync = fdatasync\n",
		     "a.conf:1: spool.sync = fdatasync: expected fsync, syncfs or journal");
	expect_error("spool.journal_size = 512K\n", "a.conf:1: spool.journal_size = 512K: value out of range (1M to 1T)");
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

/* An out-of-range error gives the bounds in the key's own units, so that
 * one can be copied into the file as it is. */
static void range_errors_give_the_bounds(void **state)
{
	(void)state;
	expect_error("spool.journal_size = 2T\n", "a.conf:1: spool.journal_size = 2T: value out of range (1M to 1T)");
	expect_error("timeouts.greeting = 2h\n", "a.conf:1: timeouts.greeting = 2h: value out of range (1s to 1h)");
	expect_error("xdp.block_window = 0\n", "a.conf:1: xdp.block_window = 0: value out of range (1s to 1d)");
	expect_error("xdp.block_ttl = 366d\n", "a.conf:1: xdp.block_ttl = 366d: value out of range (1s to 365d)");
	expect_error("dns.timeout = 0\n", "a.conf:1: dns.timeout = 0: value out of range (1ms to 10m)");
	expect_error("dns.timeout = 11m\n", "a.conf:1: dns.timeout = 11m: value out of range (1ms to 10m)");
	expect_error("workers = 257\n", "a.conf:1: workers = 257: value out of range (0 to 256)");
	expect_error("dkim.max_signatures = 0\n", "a.conf:1: dkim.max_signatures = 0: value out of range (1 to 50)");
	/* each bound itself is accepted, T included */
	assert_int_equal(parse("spool.journal_size = 1T\ntimeouts.greeting = 1h\ndns.timeout = 10m\n"), 0);
	assert_int_equal(c.spool_journal_size, 1ull << 40);
	assert_int_equal(c.timeouts.greeting, 3600);
	assert_int_equal(c.dns_timeout_ms, 600000);
}

/* The keys of docs/configuration.md's main table, in its order. */
static size_t documented_keys(char names[][40], size_t max)
{
	FILE *f = fopen("docs/configuration.md", "r");
	assert_non_null(f);
	char line[4096];
	size_t n = 0;
	bool in_table = false;
	while (fgets(line, sizeof line, f)) {
		if (!strncmp(line, "| key | default |", 17))
			in_table = true;
		else if (in_table && line[0] != '|')
			break;
		if (!in_table || strncmp(line, "| `", 3) != 0)
			continue;
		/* the first cell: one key, or several ("`tls.cert`, `tls.key`") */
		char *end = strchr(line + 1, '|'), *p = line;
		while ((p = strchr(p, '`')) && p < end && n < max) {
			char *q = strchr(p + 1, '`');
			snprintf(names[n++], 40, "%.*s", (int)(q - p - 1), p + 1);
			p = q + 1;
		}
	}
	fclose(f);
	return n;
}

/* Every key set away from its default: the reload's list of changed keys
 * then names every key the parser knows, in the parser's order, which
 * must be the documentation's (config.h promises it, and an operator
 * reads the reload's log lines against that page). */
static void every_key_is_documented_in_order(void **state)
{
	(void)state;
	struct config defaults;
	assert_int_equal(parse(""), 0);
	defaults = c;
	assert_int_equal(parse("listen = 127.0.0.1:2600\nhostname = mx.example\nworkers = 3\n"
			       "spool = /tmp/x\nspool.sync = journal\nspool.journal = /tmp/j\n"
			       "spool.journal_size = 128M\ndns.zone = /dev/null\ndns.servers = 127.0.0.1\n"
			       "dns.timeout = 3000\ndns.tries = 3\ntls.cert = /dev/null\ntls.key = /dev/null\n"
			       "xdp.interface = none\nxdp.mode = generic\nbpf.pin_dir = /sys/fs/bpf/x\n"
			       "bpf.keep_blocklist = yes\nbpf.verdicts = no\nbpf.steer = least\n"
			       "xdp.block_after = 5\nxdp.block_window = 60\nxdp.block_ttl = 60\n"
			       "limits.message_size = 10M\nlimits.recipients = 5\nlimits.sessions = 10\n"
			       "limits.sessions_per_ip = 5\nlimits.command_buffers = 0\n"
			       "timeouts.greeting = 1m\ntimeouts.command = 1m\ntimeouts.mail = 1m\n"
			       "timeouts.rcpt = 1m\ntimeouts.data_init = 1m\ntimeouts.data_block = 1m\n"
			       "timeouts.data_term = 1m\ntimeouts.close = 1m\ntimeouts.drain = 1m\n"
			       "policy.softfail = fail\npolicy.permerror = neutral\n"
			       "policy.drop_action = quarantine\nlog.format = json\ndkim.max_signatures = 3\n"),
			 0);
	const char *changed[64];
	size_t n = config_changed_keys(&defaults, &c, changed, 64);
	char doc[64][40];
	size_t ndoc = documented_keys(doc, 64);
	assert_true(ndoc > 30);
	for (size_t i = 0; i < n && i < ndoc; i++)
		if (strcmp(changed[i], doc[i]) != 0)
			fail_msg("key %zu: the parser has '%s', docs/configuration.md '%s'", i, changed[i], doc[i]);
	assert_int_equal(n, ndoc);
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

static void size_overflow_and_hostname_labels_refused(void **state)
{
	(void)state;
	expect_error("spool.journal_size = 16777217T\n",
		     "a.conf:1: spool.journal_size = 16777217T: expected a size (e.g. 25M)");
	assert_int_not_equal(parse("hostname = a.-b.example\n"), 0);
	assert_int_equal(parse("hostname = a.b-c.example\n"), 0);
}

/* A number is digits and a unit: no sign, which strtoull would take. */
static void signed_numbers_are_refused(void **state)
{
	(void)state;
	expect_error("workers = +5\n", "a.conf:1: workers = +5: expected a whole number");
	expect_error("workers = -1\n", "a.conf:1: workers = -1: expected a whole number");
}

/* Ports are 1 to 65535, in listen as in dns.servers. */
static void ports_out_of_range_are_refused(void **state)
{
	(void)state;
	expect_error("listen = 127.0.0.1:0\n",
		     "a.conf:1: listen = 127.0.0.1:0: expected IPv4:port or [IPv6]:port");
	expect_error("dns.servers = 127.0.0.1:65536\n",
		     "a.conf:1: dns.servers = 127.0.0.1:65536: expected addresses separated by "
		     "commas: IPv4, IPv4:port, IPv6 or [IPv6]:port");
	assert_int_equal(parse("listen = 127.0.0.1:65535\ndns.servers = 127.0.0.1:65535\n"), 0);
}

/* Labels of 63 octets (RFC 1035 §2.3.4), names of 253 characters (the
 * 255 octets of the wire form). */
static void hostname_length_limits(void **state)
{
	(void)state;
	char text[400], want[400], name[300];
	snprintf(name, sizeof name, "%063d.%063d.%063d.%061d", 1, 2, 3, 4);
	snprintf(text, sizeof text, "hostname = %s\n", name);
	assert_int_equal(parse(text), 0);
	snprintf(text, sizeof text, "hostname = %s5\n", name);
	assert_int_equal(parse(text), -1); /* the message, value and all, overflows err */
	assert_non_null(strstr(err, "a.conf:1: hostname = 00"));
	snprintf(name, sizeof name, "%064d.example", 0);
	snprintf(text, sizeof text, "hostname = %s\n", name);
	snprintf(want, sizeof want,
		 "a.conf:1: hostname = %s: expected a domain name (labels of letters, digits and '-')", name);
	expect_error(text, want);
}

/* Lines are at most 4096 bytes; one more is refused, not cut. */
static void line_over_4096_bytes_is_refused(void **state)
{
	(void)state;
	static char text[4200];
	memset(text, ' ', 4096);
	text[0] = '#';
	strcpy(text + 4096, "\n");
	assert_int_equal(parse(text), 0);
	strcpy(text + 4096, " \n");
	expect_error(text, "a.conf:1: line too long");
}

static void nul_byte_is_refused(void **state)
{
	(void)state;
	static const char text[] = "hostname = a\0b\n";
	assert_int_equal(config_parse(text, sizeof text - 1, "a.conf", &c, err, sizeof err), -1);
	assert_string_equal(err, "a.conf:1: NUL byte");
}

/* The journal holds twice the largest message plus 128K, exactly. */
static void journal_size_bound_includes_the_128k(void **state)
{
	(void)state;
	expect_error("spool.sync = journal\nspool.journal_size = 8M\nlimits.message_size = 4M\n",
		     "a.conf:3: spool.journal_size must be at least twice limits.message_size (plus 128K)");
	assert_int_equal(parse("spool.sync = journal\nspool.journal_size = 8320K\n"
			       "limits.message_size = 4M\n"), 0);
}

/* docs/configuration.md: listen is repeatable up to 16 times. */
static void seventeenth_listen_line_is_refused(void **state)
{
	(void)state;
	char text[1024] = "";
	for (int i = 0; i < 17; i++)
		snprintf(text + strlen(text), sizeof text - strlen(text), "listen = 127.0.0.1:%d\n", 2500 + i);
	expect_error(text, "a.conf:17: listen = 127.0.0.1:2516: too many listen lines");
	*strrchr(text, 'l') = '\0'; /* the first 16 lines */
	assert_int_equal(parse(text), 0);
	assert_int_equal(c.nlisten, 16);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults),
		cmocka_unit_test(every_kind_of_value),
		cmocka_unit_test(errors_name_the_line),
		cmocka_unit_test(journal_keys),
		cmocka_unit_test(range_errors_give_the_bounds),
		cmocka_unit_test(every_key_is_documented_in_order),
		cmocka_unit_test(load_missing_file),
		cmocka_unit_test(shipped_config_parses),
		cmocka_unit_test(size_overflow_and_hostname_labels_refused),
		cmocka_unit_test(signed_numbers_are_refused),
		cmocka_unit_test(ports_out_of_range_are_refused),
		cmocka_unit_test(hostname_length_limits),
		cmocka_unit_test(line_over_4096_bytes_is_refused),
		cmocka_unit_test(nul_byte_is_refused),
		cmocka_unit_test(journal_size_bound_includes_the_128k),
		cmocka_unit_test(seventeenth_listen_line_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
