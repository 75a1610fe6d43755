/*
 * cli — what every subcommand shares: the subcommand table, usage errors
 * (one line, exit 2), and building a resolver from --zone/--server options.
 */
#ifndef AUTHGATE_CLI_H
#define AUTHGATE_CLI_H

#include <stdbool.h>
#include <stddef.h>

struct dns_resolver;

#define CLI_EXIT_USAGE 2

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

extern const struct cli_command cli_commands[];

/* Print "authgate CMD: <message> (try 'authgate CMD --help')" on stderr
 * and return CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Report the option getopt_long() rejected (optopt / argv[optind-1]). */
int cli_bad_option(const char *cmd, char **argv);

struct cli_dns_options {
	const char *zone;    /* --zone FILE: the whole DNS, or an overlay */
	const char *servers; /* --server IP[:PORT][,...]: c-ares upstream */
	int timeout_ms;      /* --timeout MS per try */
	int tries;           /* --tries N */
	bool no_edns;        /* --no-edns */
};

/* Long options every DNS-using subcommand accepts; pass the option value
 * to cli_dns_option(), which returns 0, or CLI_EXIT_USAGE after printing. */
#define CLI_OPT_ZONE 0x1000
#define CLI_OPT_SERVER 0x1001
#define CLI_OPT_TIMEOUT 0x1002
#define CLI_OPT_TRIES 0x1003
#define CLI_OPT_NO_EDNS 0x1004
#define CLI_DNS_LONGOPTS                                                    \
	{"zone", required_argument, NULL, CLI_OPT_ZONE},                    \
	{"server", required_argument, NULL, CLI_OPT_SERVER},                \
	{"timeout", required_argument, NULL, CLI_OPT_TIMEOUT},              \
	{"tries", required_argument, NULL, CLI_OPT_TRIES},                  \
	{"no-edns", no_argument, NULL, CLI_OPT_NO_EDNS}
#define CLI_DNS_HELP                                                        \
	"  --zone FILE        answer from this zone file (the whole DNS, or an\n" \
	"                     overlay in front of --server)\n"                   \
	"  --server IP[:PORT] ask these DNS servers (comma-separated; IPv6 as\n" \
	"                     [addr]:port); default /etc/resolv.conf\n"          \
	"  --timeout MS       per-try DNS timeout (default 2000)\n"              \
	"  --tries N          DNS tries per server (default 2)\n"                \
	"  --no-edns          plain 512-octet UDP queries\n"
/* The last line of the exit statuses of every command with the options
 * above: a zone file or server list that does not load is the caller's
 * error, like a bad option. */
#define CLI_DNS_EXIT_USAGE                                                  \
	"2 usage error (a bad option, or a --zone file or --server list that\n" \
	"does not load).\n"
int cli_dns_option(const char *cmd, int opt, const char *arg,
		   struct cli_dns_options *o);

/* Parse a decimal integer in [min, max]; -1 when it is not one. */
int cli_parse_int(const char *s, long min, long max, long *out);

/* Read a message file whole (at most CLI_MESSAGE_MAX octets), turning
 * each bare LF into CRLF as the verifiers expect. NULL (errno set) when it
 * cannot be read. The caller frees. */
#define CLI_MESSAGE_MAX (64u << 20)
char *cli_read_message(const char *path, size_t *len);

/* NULL with a one-line message on stderr when the zone file or the server
 * list is bad. */
struct dns_resolver *cli_make_resolver(const char *cmd,
				       const struct cli_dns_options *o);

#endif
