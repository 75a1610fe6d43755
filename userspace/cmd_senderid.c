/*
 * cmd_senderid — `authgate senderid`: the Sender ID check (RFC 4406) of
 * one message, PRA scope (RFC 4407), or of a MAIL FROM in the mfrom scope.
 * Prints the result keyword, then `pra=ADDRESS` (or `pra=none`).
 */
#include "cli.h"
#include "commands.h"

#include "../verify/dns.h"
#include "../verify/senderid.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage[] =
	"usage: authgate senderid --ip IP --helo NAME [--mail-from ADDR] [OPTIONS] MSG\n\n"
	"Run the Sender ID check (RFC 4406) for the message's Purported Responsible\n"
	"Address (RFC 4407) and print the result keyword (none neutral pass fail\n"
	"softfail temperror permerror), then 'pra=ADDRESS' or 'pra=none'.\n"
	"MSG is a message file (LF line ends are read as CRLF).\n\n"
	"options:\n"
	"  --ip IP            the SMTP client's address (IPv4 or IPv6)\n"
	"  --helo NAME        the HELO/EHLO name\n"
	"  --mail-from ADDR   the MAIL FROM address (the identity of --scope mfrom)\n"
	"  --submitter ADDR   the MAIL FROM SUBMITTER= value (RFC 4405), an RFC 5321\n"
	"                     mailbox: the PRA must match it\n"
	"  --scope pra|mfrom  check the PRA (default) or MAIL FROM with spf2.0/mfrom\n"
	"                     records; mfrom needs no MSG\n"
	"  --verbose          also print the PRA's header and the problem on stderr\n"
	CLI_DNS_HELP
	"  --help             this text\n\n"
	"exit status: 0 when a result was printed, 1 MSG unreadable,\n" CLI_DNS_EXIT_USAGE;

enum { OPT_IP = 0x100, OPT_HELO, OPT_MAIL_FROM, OPT_SUBMITTER, OPT_SCOPE };

struct result {
	struct senderid_outcome out;
	bool have;
};

static void on_done(void *arg, const struct senderid_outcome *o)
{
	struct result *r = arg;
	r->out = *o;
	r->have = true;
}

struct args {
	const char *ip, *helo, *mail_from, *submitter, *msg;
	enum senderid_scope scope;
	bool verbose;
	struct cli_dns_options dns;
};

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		CLI_DNS_LONGOPTS,
		{"ip", required_argument, NULL, OPT_IP},
		{"helo", required_argument, NULL, OPT_HELO},
		{"mail-from", required_argument, NULL, OPT_MAIL_FROM},
		{"submitter", required_argument, NULL, OPT_SUBMITTER},
		{"scope", required_argument, NULL, OPT_SCOPE},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return -1;
		case 'v':
			a->verbose = true;
			break;
		case OPT_IP:
			a->ip = optarg;
			break;
		case OPT_HELO:
			a->helo = optarg;
			break;
		case OPT_MAIL_FROM:
			a->mail_from = optarg;
			break;
		case OPT_SUBMITTER:
			a->submitter = optarg;
			break;
		case OPT_SCOPE:
			if (strcmp(optarg, "pra") && strcmp(optarg, "mfrom"))
				return cli_usage_error("senderid", "--scope wants pra or mfrom, not '%s'", optarg);
			a->scope = strcmp(optarg, "pra") ? SENDERID_MFROM : SENDERID_PRA;
			break;
		case '?':
			return cli_bad_option("senderid", argv);
		default:
			if (cli_dns_option("senderid", c, optarg, &a->dns))
				return CLI_EXIT_USAGE;
		}
	}
	if (!a->ip || !a->helo)
		return cli_usage_error("senderid", "--ip and --helo are required");
	if (a->submitter && !senderid_mailbox_valid(a->submitter))
		return cli_usage_error("senderid", "--submitter '%s' is not a mailbox (local@domain)",
				       a->submitter);
	if (a->scope == SENDERID_PRA && argc - optind != 1)
		return cli_usage_error("senderid", "expects one message file");
	if (a->scope == SENDERID_MFROM && (argc - optind > 1 || !a->mail_from))
		return cli_usage_error("senderid", "--scope mfrom wants --mail-from and no more than one file");
	a->msg = optind < argc ? argv[optind] : NULL;
	return 0;
}

int cmd_senderid(int argc, char **argv)
{
	struct args a = {.scope = SENDERID_PRA};
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct spf_ip ip;
	if (spf_ip_parse(a.ip, &ip) < 0)
		return cli_usage_error("senderid", "--ip '%s' is not an IPv4 or IPv6 address", a.ip);
	size_t len = 0;
	char *msg = NULL;
	if (a.scope == SENDERID_PRA && !(msg = cli_read_message(a.msg, &len))) {
		fprintf(stderr, "authgate senderid: %s: cannot read\n", a.msg);
		return 1;
	}
	struct dns_resolver *r = cli_make_resolver("senderid", &a.dns);
	if (!r) {
		free(msg);
		return CLI_EXIT_USAGE;
	}
	struct spf_config cfg = {.receiver = "authgate"};
	struct result res = {0};
	rc = a.scope == SENDERID_PRA
		     ? senderid_check_message(r, &ip, a.helo, msg, len, a.submitter, &cfg, on_done, &res)
		     : senderid_check_identity(r, &ip, a.helo, a.mail_from, SENDERID_MFROM, &cfg,
					       on_done, &res);
	if (rc == 0)
		dns_resolver_run(r, 120000);
	dns_resolver_free(r);
	free(msg);
	if (!res.have) {
		fprintf(stderr, "authgate senderid: the check did not finish\n");
		return 1;
	}
	printf("%s\n", spf_result_name(res.out.result));
	if (a.scope == SENDERID_PRA)
		printf("pra=%s\n", res.out.identity[0] ? res.out.identity : "none");
	if (a.verbose)
		fprintf(stderr, "header: %s\nproblem: %s\n", pra_source_name(res.out.pra_source),
			res.out.problem);
	return 0;
}
