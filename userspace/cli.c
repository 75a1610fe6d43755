/*
 * cli — see cli.h.
 */
#include "cli.h"

#include "../verify/dns.h"
#include "../verify/dns_ares.h"
#include "../verify/dns_zone.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "authgate %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (try 'authgate %s --help')\n", cmd);
	return CLI_EXIT_USAGE;
}

int cli_bad_option(const char *cmd, char **argv)
{
	const char *opt = argv[optind - 1];
	if (optopt && strncmp(opt, "--", 2) != 0)
		return cli_usage_error(cmd, "unknown option '-%c' or missing value",
				       optopt);
	return cli_usage_error(cmd, "unknown option or missing value in '%s'", opt);
}

struct dns_resolver *cli_make_resolver(const char *cmd,
				       const struct cli_dns_options *o)
{
	struct dns_zone *zone = NULL;
	struct dns_upstream *up = NULL;
	if (o->zone) {
		struct dns_zone_error err;
		zone = dns_zone_load(o->zone, &err);
		if (!zone) {
			fprintf(stderr, "authgate %s: %s\n", cmd, err.msg);
			return NULL;
		}
	}
	if (o->servers || !o->zone) {
		char err[256];
		struct dns_upstream_config uc = {
			.servers = o->servers, .timeout_ms = o->timeout_ms,
			.tries = o->tries, .no_edns = o->no_edns};
		up = dns_upstream_new(&uc, err, sizeof err);
		if (!up) {
			fprintf(stderr, "authgate %s: %s\n", cmd, err);
			dns_zone_free(zone);
			return NULL;
		}
	}
	struct dns_resolver *r = dns_resolver_new(NULL, zone, up);
	if (!r) {
		fprintf(stderr, "authgate %s: out of memory\n", cmd);
		dns_zone_free(zone);
		dns_upstream_free(up);
	}
	return r;
}

int cli_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_dns_option(const char *cmd, int opt, const char *arg,
		   struct cli_dns_options *o)
{
	long v;
	switch (opt) {
	case CLI_OPT_ZONE:
		o->zone = arg;
		return 0;
	case CLI_OPT_SERVER:
		o->servers = arg;
		return 0;
	case CLI_OPT_TIMEOUT:
		if (cli_parse_int(arg, 1, 600000, &v) < 0)
			return cli_usage_error(cmd, "--timeout wants milliseconds (1-600000), not '%s'", arg);
		o->timeout_ms = (int)v;
		return 0;
	case CLI_OPT_TRIES:
		if (cli_parse_int(arg, 1, 10, &v) < 0)
			return cli_usage_error(cmd, "--tries wants 1-10, not '%s'", arg);
		o->tries = (int)v;
		return 0;
	case CLI_OPT_NO_EDNS:
		o->no_edns = true;
		return 0;
	default:
		return cli_usage_error(cmd, "internal: unexpected option %d", opt);
	}
}

/* Read path whole, turning each bare LF into CRLF. */
char *cli_read_message(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 1 << 16, n = 0, nlf = 0;
	char *raw = malloc(cap);
	size_t got;
	while (raw && (got = fread(raw + n, 1, cap - n, f)) > 0) {
		n += got;
		if (n == cap && cap < CLI_MESSAGE_MAX) {
			char *r2 = realloc(raw, cap *= 2);
			if (!r2)
				free(raw);
			raw = r2;
		} else if (n == cap) {
			break;
		}
	}
	fclose(f);
	if (!raw)
		return NULL;
	for (size_t i = 0; i < n; i++)
		nlf += raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r');
	char *out = malloc(n + nlf + 1);
	if (out) {
		size_t k = 0;
		for (size_t i = 0; i < n; i++) {
			if (raw[i] == '\n' && (i == 0 || raw[i - 1] != '\r'))
				out[k++] = '\r';
			out[k++] = raw[i];
		}
		*len = k;
	}
	free(raw);
	return out;
}

