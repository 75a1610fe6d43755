/*
 * main — authgate's single binary: dispatch to a subcommand.
 */
#include "cli.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

#define AUTHGATE_VERSION "0.1.0"

const struct cli_command cli_commands[] = {
	{"lookup", "resolve one name like a small dig (zone file or DNS server)",
	 cmd_lookup},
	{"spf", "RFC 7208 SPF check of one client, HELO and MAIL FROM", cmd_spf},
	{"dkim", "verify the DKIM signatures of message files", cmd_dkim},
	{"senderid", "Sender ID check (RFC 4406) of a message's PRA", cmd_senderid},
	{"verify", "all three checks and the verdict for one message", cmd_verify},
	{"serve", "the SMTP daemon (io_uring workers, verification, spool)", cmd_serve},
	{"stats", "XDP counters and the busiest SMTP flows (pinned maps)", cmd_stats},
	{"verdicts", "transactions counted by verdict and check result (pinned map)", cmd_verdicts},
	{"block", "add, delete or list XDP blocklist prefixes", cmd_block},
	{NULL, NULL, NULL},
};

static void print_help(FILE *f)
{
	fprintf(f, "usage: authgate COMMAND [OPTIONS] [ARGS]\n\n"
		   "An SMTP edge that accepts a message only if it fails none of\n"
		   "SPF, Sender ID and DKIM and passes at least one.\n\n"
		   "commands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-10s %s\n", c->name, c->summary);
	fprintf(f, "\n'authgate COMMAND --help' describes each command;\n"
		   "'authgate --help' (or -h, or help) prints this, 'authgate --version'\n"
		   "the version. Exit status 2 means a usage error.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fprintf(stderr, "authgate: missing command (try 'authgate --help')\n"),
		       CLI_EXIT_USAGE;
	const char *name = argv[1];
	if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 ||
	    strcmp(name, "help") == 0) {
		print_help(stdout);
		return 0;
	}
	if (strcmp(name, "--version") == 0) {
		printf("authgate %s\n", AUTHGATE_VERSION);
		return 0;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strcmp(c->name, name) == 0)
			return c->run(argc - 1, argv + 1);
	fprintf(stderr, "authgate: unknown command '%s' (try 'authgate --help')\n",
		name);
	return CLI_EXIT_USAGE;
}
