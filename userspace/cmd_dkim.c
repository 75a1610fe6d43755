/*
 * cmd_dkim — `authgate dkim`: verify the DKIM signatures of message files.
 *
 * Files may use LF or CRLF line endings; bare LFs become CRLF on load
 * (the library itself takes CRLF only). Output per file: `file: PATH`
 * (when several), one `sig:` line per signature, then `dkim=RESULT`.
 * Exit status: 0 when every file was verified (whatever the results),
 * 1 when a file could not be read or verification could not run,
 * 2 usage error.
 */
#include "cli.h"
#include "commands.h"

#include "../verify/dkim.h"
#include "../verify/dns.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static const char usage[] =
	"usage: authgate dkim [OPTIONS] MSG...\n\n"
	"Verify every DKIM-Signature of each message file (RFC 6376, RFC 8463,\n"
	"RFC 8301) and print one line per signature and the overall result:\n"
	"  sig: d=D s=S a=A result=R reason=\"...\"\n"
	"  dkim=pass|fail|permerror|temperror|policy|none\n\n"
	"options:\n" CLI_DNS_HELP
	"  --now EPOCH        verify as if the time were EPOCH (x= expiry)\n"
	"  --max-signatures N verify at most N signatures (default 5, at most 64)\n"
	"  --help             this text\n\n"
	"exit status: 0 verified (any result), 1 a file could not be read or\n"
	"verified,\n" CLI_DNS_EXIT_USAGE;

#define OPT_NOW 0x2000
#define OPT_MAXSIG 0x2001

static void print_slice(const char *tag, struct dkim_slice s)
{
	printf(" %s=", tag);
	if (!s.n)
		putchar('-');
	for (size_t i = 0; i < s.n; i++) {
		unsigned char c = (unsigned char)s.p[i];
		if (c > 0x20 && c < 0x7f && c != '"')
			putchar(c);
	}
}

static void on_done(void *arg, const struct dkim_results *res)
{
	int *ran = arg;
	for (unsigned i = 0; i < res->nreported; i++) {
		const struct dkim_sig_result *r = &res->sigs[i];
		fputs("sig:", stdout);
		print_slice("d", r->d);
		print_slice("s", r->s);
		print_slice("a", r->a);
		printf(" result=%s reason=\"%s\"\n", dkim_result_name(r->result), r->reason);
	}
	if (res->nsigs > res->nreported)
		printf("unreported: %u more signatures, not checked\n",
		       res->nsigs - res->nreported);
	printf("dkim=%s\n", dkim_result_name(res->result));
	*ran = 1;
}

static int verify_file(struct dns_resolver *r, const char *path,
		       const struct dkim_config *cfg)
{
	size_t len = 0;
	char *msg = cli_read_message(path, &len);
	if (!msg) {
		fprintf(stderr, "authgate dkim: %s: %s\n", path, strerror(errno));
		return 1;
	}
	int ran = 0;
	if (dkim_verify_async(r, msg, len, cfg, on_done, &ran) == 0 && !ran)
		dns_resolver_run(r, 120000);
	free(msg);
	if (!ran)
		fprintf(stderr, "authgate dkim: %s: verification did not complete\n", path);
	return ran ? 0 : 1;
}

static int parse_opts(int argc, char **argv, struct cli_dns_options *dns,
		      struct dkim_config *cfg)
{
	static const struct option opts[] = {
		CLI_DNS_LONGOPTS,
		{"now", required_argument, NULL, OPT_NOW},
		{"max-signatures", required_argument, NULL, OPT_MAXSIG},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	long val;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(usage, stdout), -1;
		if (c == '?')
			return cli_bad_option("dkim", argv);
		if (c == OPT_NOW || c == OPT_MAXSIG) {
			bool now = c == OPT_NOW;
			if (cli_parse_int(optarg, 1, now ? 253402300799L : DKIM_REPORT_MAX, &val) < 0)
				return cli_usage_error("dkim", "bad --%s value '%s'",
						       now ? "now" : "max-signatures", optarg);
			if (now)
				cfg->now = (uint64_t)val;
			else
				cfg->max_signatures = (unsigned)val;
		} else if (cli_dns_option("dkim", c, optarg, dns)) {
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc)
		return cli_usage_error("dkim", "expects at least one message file");
	return 0;
}

int cmd_dkim(int argc, char **argv)
{
	struct cli_dns_options dns = {0};
	struct dkim_config cfg = {0};
	int rc = parse_opts(argc, argv, &dns, &cfg);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct dns_resolver *r = cli_make_resolver("dkim", &dns);
	if (!r)
		return CLI_EXIT_USAGE;
	cfg.keys = dkim_key_cache_new(256);
	int status = 0;
	for (int i = optind; i < argc; i++) {
		if (argc - optind > 1)
			printf("file: %s\n", argv[i]);
		if (verify_file(r, argv[i], &cfg))
			status = 1;
		fflush(stdout);
	}
	dkim_key_cache_free(cfg.keys);
	dns_resolver_free(r);
	return status;
}
