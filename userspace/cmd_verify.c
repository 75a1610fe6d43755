/*
 * cmd_verify — `authgate verify`: SPF, Sender ID and DKIM for one message,
 * concurrently on one resolver, then the verdict. Prints the
 * Authentication-Results header, then
 *   verdict=accept|drop|tempfail reason="..." code=X.Y.Z
 * Exit 0 accept, 1 drop, 75 tempfail, 2 usage error.
 */
#include "cli.h"
#include "commands.h"

#include "../verify/dns.h"
#include "../verify/verdict.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_DROP 1
#define EXIT_TEMPFAIL 75

static const char usage[] =
	"usage: authgate verify --ip IP --helo NAME --mail-from ADDR [OPTIONS] MSG\n\n"
	"Run SPF (RFC 7208), Sender ID (RFC 4406, on the message's PRA) and DKIM\n"
	"(RFC 6376/8463/8301) for one message and decide as the daemon would: the\n"
	"message is accepted only if no check fails and at least one passes.\n"
	"Prints the Authentication-Results header (folded lines end in LF, the\n"
	"next starting with a tab), then one line\n"
	"  verdict=accept|drop|tempfail reason=\"...\" code=X.Y.Z\n"
	"MSG is a message file (LF line ends are read as CRLF).\n\n"
	"options:\n"
	"  --ip IP            the SMTP client's address (IPv4 or IPv6)\n"
	"  --helo NAME        the HELO/EHLO name\n"
	"  --mail-from ADDR   the MAIL FROM address ('' for the null reverse-path)\n"
	"  --submitter ADDR   the MAIL FROM SUBMITTER= value (RFC 4405), an RFC 5321\n"
	"                     mailbox\n"
	"  --hostname NAME    our name in the headers (default localhost)\n"
	"  --softfail neutral|fail   how a softfail counts (default neutral)\n"
	"  --permerror fail|neutral  how a permerror counts (default fail)\n"
	"  --received-spf     also print the Received-SPF header\n"
	"  --now EPOCH        check DKIM x= expiry as if the time were EPOCH\n"
	CLI_DNS_HELP
	"  --help             this text\n\n"
	"exit status: 0 accept, 1 drop, 75 tempfail,\n" CLI_DNS_EXIT_USAGE;

enum { OPT_IP = 0x100, OPT_HELO, OPT_MAIL_FROM, OPT_SUBMITTER, OPT_HOSTNAME,
       OPT_SOFTFAIL, OPT_PERMERROR, OPT_RSPF, OPT_NOW };

struct args {
	const char *ip, *helo, *mail_from, *submitter, *hostname, *msg;
	bool received_spf;
	struct verdict_config cfg;
	struct cli_dns_options dns;
};

static int set_treat(const char *opt, const char *v, enum policy_treat *t)
{
	int x = policy_treat_from_name(v);
	if (x < 0)
		return cli_usage_error("verify", "%s wants neutral or fail, not '%s'", opt, v);
	*t = (enum policy_treat)x;
	return 0;
}

static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option opts[] = {
		CLI_DNS_LONGOPTS,
		{"ip", required_argument, NULL, OPT_IP},
		{"helo", required_argument, NULL, OPT_HELO},
		{"mail-from", required_argument, NULL, OPT_MAIL_FROM},
		{"submitter", required_argument, NULL, OPT_SUBMITTER},
		{"hostname", required_argument, NULL, OPT_HOSTNAME},
		{"softfail", required_argument, NULL, OPT_SOFTFAIL},
		{"permerror", required_argument, NULL, OPT_PERMERROR},
		{"received-spf", no_argument, NULL, OPT_RSPF},
		{"now", required_argument, NULL, OPT_NOW},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c, rc = 0;
	long v;
	opterr = 0;
	while (rc == 0 && (c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return -1;
		case OPT_IP: a->ip = optarg; break;
		case OPT_HELO: a->helo = optarg; break;
		case OPT_MAIL_FROM: a->mail_from = optarg; break;
		case OPT_SUBMITTER: a->submitter = optarg; break;
		case OPT_HOSTNAME: a->hostname = optarg; break;
		case OPT_RSPF: a->received_spf = true; break;
		case OPT_SOFTFAIL: rc = set_treat("--softfail", optarg, &a->cfg.policy.softfail); break;
		case OPT_PERMERROR: rc = set_treat("--permerror", optarg, &a->cfg.policy.permerror); break;
		case OPT_NOW:
			if (cli_parse_int(optarg, 1, 0x7fffffffffffL, &v) < 0)
				return cli_usage_error("verify", "--now wants seconds since 1970, not '%s'", optarg);
			a->cfg.dkim.now = (uint64_t)v;
			break;
		case '?':
			return cli_bad_option("verify", argv);
		default:
			rc = cli_dns_option("verify", c, optarg, &a->dns);
		}
	}
	if (rc)
		return rc;
	if (!a->ip || !a->helo || !a->mail_from)
		return cli_usage_error("verify", "--ip, --helo and --mail-from are required");
	if (a->submitter && !senderid_mailbox_valid(a->submitter))
		return cli_usage_error("verify", "--submitter '%s' is not a mailbox (local@domain)",
				       a->submitter);
	if (argc - optind != 1)
		return cli_usage_error("verify", "expects one message file");
	a->msg = argv[optind];
	return 0;
}

struct outcome {
	bool have;
	bool received_spf;
	int status;
};

/* A header field as the spool writes it folds with CRLF; on a terminal or
 * in a pipe every line of the output ends the same way, with LF. */
static void print_field(const char *field)
{
	for (const char *p = field; *p; p++)
		if (!(p[0] == '\r' && p[1] == '\n'))
			putchar(*p);
	putchar('\n');
}

static void on_verdict(void *arg, struct verdict_result *r)
{
	struct outcome *o = arg;
	o->have = true;
	print_field(r->authres);
	if (o->received_spf)
		print_field(r->received_spf);
	printf("verdict=%s reason=\"%s\" code=%s\n", policy_verdict_name(r->decision.verdict),
	       r->decision.reason, r->decision.status);
	o->status = r->decision.verdict == VERDICT_ACCEPT ? 0
		    : r->decision.verdict == VERDICT_DROP ? EXIT_DROP
							  : EXIT_TEMPFAIL;
}

int cmd_verify(int argc, char **argv)
{
	struct args a = {.hostname = "localhost"};
	policy_config_default(&a.cfg.policy);
	int rc = parse_args(argc, argv, &a);
	if (rc)
		return rc < 0 ? 0 : rc;
	struct verdict_request req = {.ip_text = a.ip, .helo = a.helo, .mail_from = a.mail_from,
				      .submitter = a.submitter, .authserv_id = a.hostname};
	if (spf_ip_parse(a.ip, &req.ip) < 0)
		return cli_usage_error("verify", "--ip '%s' is not an IPv4 or IPv6 address", a.ip);
	char *msg = cli_read_message(a.msg, &req.len);
	if (!msg) {
		fprintf(stderr, "authgate verify: %s: cannot read\n", a.msg);
		return CLI_EXIT_USAGE;
	}
	req.msg = msg;
	struct dns_resolver *r = cli_make_resolver("verify", &a.dns);
	if (!r) {
		free(msg);
		return CLI_EXIT_USAGE;
	}
	a.cfg.spf.receiver = a.hostname;
	struct outcome o = {.received_spf = a.received_spf, .status = EXIT_TEMPFAIL};
	if (verdict_start(r, &req, &a.cfg, NULL, on_verdict, &o) == 0)
		dns_resolver_run(r, 120000);
	dns_resolver_free(r);
	free(msg);
	if (!o.have) {
		fprintf(stderr, "authgate verify: the checks did not finish\n");
		return EXIT_TEMPFAIL;
	}
	return o.status;
}
