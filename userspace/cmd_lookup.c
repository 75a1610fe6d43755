/*
 * cmd_lookup — `authgate lookup`: one query through the same resolver the
 * checks use, printed like a small dig. Exit status: 0 data, 1 NXDOMAIN or
 * NODATA, 75 temporary failure, 65 malformed answer, 2 usage.
 */
#include "cli.h"
#include "commands.h"

#include "../verify/dns.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EXIT_NEGATIVE 1
#define EXIT_DATAERR 65
#define EXIT_TEMPFAIL 75

static const char usage[] =
	"usage: authgate lookup [OPTIONS] TYPE NAME\n\n"
	"Resolve NAME and print the answers one per line: A/AAAA addresses,\n"
	"MX as 'PREF HOST', TXT strings quoted (\\\" \\\\ and \\DDD escapes),\n"
	"PTR/CNAME/NS names; or the error class: NXDOMAIN, NODATA,\n"
	"TEMPFAIL (why), MALFORMED (why).\n"
	"TYPE: A AAAA MX TXT PTR CNAME NS SPF.\n\n"
	"options:\n" CLI_DNS_HELP
	"  --verbose          also print the TTL and the canonical name\n"
	"  --help             this text\n\n"
	"exit status: 0 data, 1 NXDOMAIN/NODATA, 75 temporary failure,\n"
	"65 malformed answer,\n" CLI_DNS_EXIT_USAGE;

static void print_txt(const struct dns_txt *t)
{
	const uint8_t *p = t->data;
	for (unsigned i = 0; i < t->nstrings; i++) {
		fputs(i ? " \"" : "\"", stdout);
		for (unsigned k = 0; k < t->lens[i]; k++, p++) {
			if (*p == '"' || *p == '\\')
				printf("\\%c", *p);
			else if (*p < 0x20 || *p > 0x7e)
				printf("\\%03u", *p);
			else
				putchar(*p);
		}
		putchar('"');
	}
	putchar('\n');
}

static void print_record(enum dns_type type, const struct dns_record *rec)
{
	char buf[INET6_ADDRSTRLEN];
	switch (type) {
	case DNS_TYPE_A:
		puts(inet_ntop(AF_INET, &rec->u.a, buf, sizeof buf));
		break;
	case DNS_TYPE_AAAA:
		puts(inet_ntop(AF_INET6, &rec->u.aaaa, buf, sizeof buf));
		break;
	case DNS_TYPE_MX:
		printf("%u %s\n", rec->u.mx.preference,
		       rec->u.mx.host[0] ? rec->u.mx.host : ".");
		break;
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF:
		print_txt(&rec->u.txt);
		break;
	default:
		puts(rec->u.ptr);
		break;
	}
}

static int mx_cmp(const void *x, const void *y)
{
	const struct dns_record *a = *(const struct dns_record *const *)x;
	const struct dns_record *b = *(const struct dns_record *const *)y;
	if (a->u.mx.preference != b->u.mx.preference)
		return a->u.mx.preference < b->u.mx.preference ? -1 : 1;
	return strcmp(a->u.mx.host, b->u.mx.host);
}

struct lookup {
	bool verbose;
	int status;
};

static void on_answer(void *arg, struct dns_answer *a)
{
	struct lookup *l = arg;
	if (l->verbose && strcmp(a->name, a->canonical) != 0)
		printf("; %s is an alias for %s\n", a->name, a->canonical);
	switch (a->status) {
	case DNS_DATA: {
		const struct dns_record *order[a->count];
		for (unsigned i = 0; i < a->count; i++)
			order[i] = &a->records[i];
		if (a->type == DNS_TYPE_MX) /* servers rotate; people read by preference */
			qsort(order, a->count, sizeof order[0], mx_cmp);
		for (unsigned i = 0; i < a->count; i++) {
			if (l->verbose)
				printf("%u\t", order[i]->ttl);
			print_record(a->type, order[i]);
		}
		l->status = 0;
		break;
	}
	case DNS_NODATA:
	case DNS_NXDOMAIN:
		printf("%s\n", a->status == DNS_NODATA ? "NODATA" : "NXDOMAIN");
		l->status = EXIT_NEGATIVE;
		break;
	case DNS_TEMPFAIL:
		printf("TEMPFAIL (%s)\n", dns_why_name(a->why));
		l->status = EXIT_TEMPFAIL;
		break;
	case DNS_MALFORMED:
		printf("MALFORMED (%s)\n", dns_why_name(a->why));
		l->status = EXIT_DATAERR;
		break;
	}
}

int cmd_lookup(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_DNS_LONGOPTS,
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct cli_dns_options dns = {0};
	struct lookup l = {.status = EXIT_TEMPFAIL};
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+vh", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(usage, stdout), 0;
		if (c == 'v')
			l.verbose = true;
		else if (c == '?')
			return cli_bad_option("lookup", argv);
		else if (cli_dns_option("lookup", c, optarg, &dns))
			return CLI_EXIT_USAGE;
	}
	if (argc - optind != 2)
		return cli_usage_error("lookup", "expects TYPE and NAME, got %d argument%s",
				       argc - optind, argc - optind == 1 ? "" : "s");
	int type = dns_type_from_name(argv[optind]);
	if (type < 0 || type == DNS_TYPE_SOA)
		return cli_usage_error("lookup", "unknown or unsupported type '%s'",
				       argv[optind]);
	struct dns_resolver *r = cli_make_resolver("lookup", &dns);
	if (!r)
		return CLI_EXIT_USAGE;
	int rc = dns_resolve(r, argv[optind + 1], (enum dns_type)type, on_answer, &l)
			 ? dns_resolver_run(r, 60000)
			 : -1;
	if (rc < 0)
		fprintf(stderr, "authgate lookup: resolver failed\n");
	dns_resolver_free(r);
	return l.status;
}
