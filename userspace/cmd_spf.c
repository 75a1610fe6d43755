/*
 * cmd_spf — `authgate spf`: one RFC 7208 check through the same resolver
 * and engine the daemon uses. Prints the result keyword on the first line
 * and, on fail, "explanation: TEXT" on the second. Exit 0, 2 on usage.
 */
#include "cli.h"
#include "commands.h"

#include "../verify/dns.h"
#include "../verify/spf.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static const char usage[] =
	"usage: authgate spf --ip IP --helo NAME [--mail-from ADDR] [OPTIONS]\n\n"
	"Run the RFC 7208 SPF check for a client and print the result keyword\n"
	"(none neutral pass fail softfail temperror permerror); on fail a second\n"
	"line 'explanation: TEXT'.\n\n"
	"options:\n"
	"  --ip IP            the SMTP client's address (IPv4 or IPv6)\n"
	"  --helo NAME        the HELO/EHLO name\n"
	"  --mail-from ADDR   the MAIL FROM address; '' or absent means the empty\n"
	"                     reverse path, checked as postmaster@HELO\n"
	"  --scope mfrom|helo check MAIL FROM (default) or the HELO identity alone\n"
	"  --default-explanation TEXT\n"
	"                     explanation (macro-string) when the record has no\n"
	"                     usable exp=\n"
	"  --receiver NAME    the receiving host, for %{r} in explanations\n"
	"  --verbose          also print identity, mechanism and problem on stderr\n"
	CLI_DNS_HELP
	"  --help             this text\n\n"
	"exit status: 0 when a result was printed,\n" CLI_DNS_EXIT_USAGE;

enum { OPT_IP = 0x100, OPT_HELO, OPT_MAIL_FROM, OPT_SCOPE, OPT_DEFEXP, OPT_RECEIVER };

struct spf_cli {
	struct spf_outcome out;
	bool have;
};

static void on_done(void *arg, const struct spf_outcome *o)
{
	struct spf_cli *c = arg;
	c->out = *o;
	c->have = true;
}

static void print_outcome(const struct spf_outcome *o, bool verbose)
{
	printf("%s\n", spf_result_name(o->result));
	if (o->result == SPF_FAIL)
		printf("explanation: %s\n", o->explanation);
	if (verbose)
		fprintf(stderr, "identity: %s=%s\ndomain: %s\nmechanism: %s\nproblem: %s\n"
				"dns terms: %u, void lookups: %u, queries: %u\n",
			o->identity_kind, o->identity, o->domain, o->mechanism, o->problem,
			o->dns_terms, o->void_lookups, o->queries);
}

int cmd_spf(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_DNS_LONGOPTS,
		{"ip", required_argument, NULL, OPT_IP},
		{"helo", required_argument, NULL, OPT_HELO},
		{"mail-from", required_argument, NULL, OPT_MAIL_FROM},
		{"scope", required_argument, NULL, OPT_SCOPE},
		{"default-explanation", required_argument, NULL, OPT_DEFEXP},
		{"receiver", required_argument, NULL, OPT_RECEIVER},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_dns_options dns = {0};
	struct spf_request req = {0};
	struct spf_config cfg = {0};
	const char *ip = NULL;
	bool verbose = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'h': return fputs(usage, stdout), 0;
		case 'v': verbose = true; break;
		case OPT_IP: ip = optarg; break;
		case OPT_HELO: req.helo = optarg; break;
		case OPT_MAIL_FROM: req.mail_from = optarg; break;
		case OPT_DEFEXP: cfg.default_explanation = optarg; break;
		case OPT_RECEIVER: cfg.receiver = optarg; break;
		case OPT_SCOPE:
			if (strcmp(optarg, "mfrom") == 0)
				req.scope = SPF_SCOPE_MFROM;
			else if (strcmp(optarg, "helo") == 0)
				req.scope = SPF_SCOPE_HELO;
			else
				return cli_usage_error("spf", "--scope must be mfrom or helo, not '%s'", optarg);
			break;
		case '?': return cli_bad_option("spf", argv);
		default:
			if (cli_dns_option("spf", c, optarg, &dns))
				return CLI_EXIT_USAGE;
		}
	}
	if (optind < argc)
		return cli_usage_error("spf", "unexpected argument '%s'", argv[optind]);
	if (!ip)
		return cli_usage_error("spf", "missing --ip");
	if (!req.helo)
		return cli_usage_error("spf", "missing --helo");
	if (spf_ip_parse(ip, &req.ip) < 0)
		return cli_usage_error("spf", "bad IP address '%s'", ip);
	struct dns_resolver *r = cli_make_resolver("spf", &dns);
	if (!r)
		return CLI_EXIT_USAGE;
	struct spf_cli out = {0};
	if (spf_check_async(r, &req, &cfg, on_done, &out) && dns_resolver_run(r, 120000) < 0)
		fprintf(stderr, "authgate spf: DNS did not finish in time\n");
	dns_resolver_free(r);
	if (!out.have) {
		printf("temperror\n");
		return 0;
	}
	print_outcome(&out.out, verbose);
	return 0;
}
