/*
 * config — see config.h. Every key is one row of keys[]: its name, how its
 * value is read, where it goes and its bounds.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum vtype { V_STR, V_UINT, V_SIZE, V_SECONDS, V_MILLIS, V_BOOL, V_LISTEN, V_TREAT, V_DROP, V_LOGFMT, V_SYNC };

struct key {
	const char *name;
	enum vtype type;
	size_t off;
	size_t size;             /* V_STR: buffer size */
	unsigned long long min, max;
	const char *(*check)(const char *v); /* V_STR: NULL, or what is wrong with v */
};

static const char *check_hostname(const char *v);
static const char *check_servers(const char *v);
static const char *check_readable(const char *v);
static const char *check_xdp_mode(const char *v);
static const char *check_steer(const char *v);

#define F(field) offsetof(struct config, field)
#define STR(field) F(field), sizeof(((struct config *)0)->field)

static const struct key keys[] = {
	{"listen", V_LISTEN, 0, 0, 0, 0},
	{"hostname", V_STR, STR(hostname), 0, 0, check_hostname},
	{"workers", V_UINT, F(workers), 0, 0, 256},
	{"spool", V_STR, STR(spool), 0, 0},
	{"spool.sync", V_SYNC, F(spool_sync), 0, 0, 0},
	{"spool.journal", V_STR, STR(spool_journal), 0, 0},
	{"spool.journal_size", V_SIZE, F(spool_journal_size), 0, 1ull << 20, 1ull << 40},
	{"dns.zone", V_STR, STR(dns_zone), 0, 0, check_readable},
	{"dns.servers", V_STR, STR(dns_servers), 0, 0, check_servers},
	{"dns.timeout", V_MILLIS, F(dns_timeout_ms), 0, 1, 600000},
	{"dns.tries", V_UINT, F(dns_tries), 0, 1, 10},
	{"tls.cert", V_STR, STR(tls_cert), 0, 0, check_readable},
	{"tls.key", V_STR, STR(tls_key), 0, 0, check_readable},
	{"xdp.interface", V_STR, STR(xdp_interface), 0, 0},
	{"xdp.mode", V_STR, STR(xdp_mode), 0, 0, check_xdp_mode},
	{"bpf.pin_dir", V_STR, STR(bpf_pin_dir), 0, 0},
	{"bpf.keep_blocklist", V_BOOL, F(bpf_keep_blocklist), 0, 0, 1},
	{"bpf.verdicts", V_BOOL, F(bpf_verdicts), 0, 0, 1},
	{"bpf.steer", V_STR, STR(bpf_steer), 0, 0, check_steer},
	{"xdp.block_after", V_UINT, F(xdp_block_after), 0, 0, 1000000},
	{"xdp.block_window", V_SECONDS, F(xdp_block_window), 0, 1, 86400},
	{"xdp.block_ttl", V_SECONDS, F(xdp_block_ttl), 0, 1, 31536000},
	{"limits.message_size", V_SIZE, F(message_size), 0, 1024, 1ull << 30},
	{"limits.recipients", V_UINT, F(recipients), 0, 1, 100000},
	{"limits.sessions", V_UINT, F(sessions), 0, 1, 1000000},
	{"limits.sessions_per_ip", V_UINT, F(sessions_per_ip), 0, 1, 1000000},
	{"limits.command_buffers", V_UINT, F(command_buffers), 0, 0, 32768},
	{"timeouts.greeting", V_SECONDS, F(timeouts.greeting), 0, 1, 3600},
	{"timeouts.command", V_SECONDS, F(timeouts.command), 0, 1, 3600},
	{"timeouts.mail", V_SECONDS, F(timeouts.mail), 0, 1, 3600},
	{"timeouts.rcpt", V_SECONDS, F(timeouts.rcpt), 0, 1, 3600},
	{"timeouts.data_init", V_SECONDS, F(timeouts.data_init), 0, 1, 3600},
	{"timeouts.data_block", V_SECONDS, F(timeouts.data_block), 0, 1, 3600},
	{"timeouts.data_term", V_SECONDS, F(timeouts.data_term), 0, 1, 3600},
	{"timeouts.close", V_SECONDS, F(timeouts.close), 0, 1, 3600},
	{"timeouts.drain", V_SECONDS, F(timeouts.drain), 0, 1, 3600},
	{"policy.softfail", V_TREAT, F(policy.softfail), 0, 0, 0},
	{"policy.permerror", V_TREAT, F(policy.permerror), 0, 0, 0},
	{"policy.drop_action", V_DROP, F(drop_action), 0, 0, 0},
	{"log.format", V_LOGFMT, F(log_format), 0, 0, 0},
	{"dkim.max_signatures", V_UINT, F(dkim_max_signatures), 0, 1, 50},
};

#define NKEYS (sizeof keys / sizeof keys[0])

void config_defaults(struct config *c)
{
	memset(c, 0, sizeof *c);
	snprintf(c->hostname, sizeof c->hostname, "localhost");
	snprintf(c->spool, sizeof c->spool, "./var/spool");
	c->spool_journal_size = 64u << 20;
	c->dns_timeout_ms = 2000;
	c->dns_tries = 2;
	snprintf(c->xdp_interface, sizeof c->xdp_interface, "lo");
	snprintf(c->bpf_pin_dir, sizeof c->bpf_pin_dir, "/sys/fs/bpf/authgate");
	c->bpf_verdicts = true;
	snprintf(c->xdp_mode, sizeof c->xdp_mode, "auto");
	snprintf(c->bpf_steer, sizeof c->bpf_steer, "hash");
	c->xdp_block_after = 10;
	c->xdp_block_ttl = 3600;
	c->xdp_block_window = 600;
	c->message_size = 25u << 20;
	c->recipients = 100;
	c->sessions = 20000;
	c->sessions_per_ip = 50;
	c->command_buffers = 1024;
	/* RFC 5321 §4.5.3.2 minimums, which a busy edge may shorten. */
	c->timeouts = (struct config_timeouts){.greeting = 300, .command = 300, .mail = 300,
					       .rcpt = 300, .data_init = 120, .data_block = 180,
					       .data_term = 600, .close = 10, .drain = 30};
	policy_config_default(&c->policy);
	c->drop_action = DROP_REJECT;
	c->log_format = LOG_TEXT;
	c->dkim_max_signatures = 5;
}

const char *drop_action_name(enum drop_action a)
{
	static const char *const names[] = {"reject", "discard", "quarantine"};
	return (unsigned)a < 3 ? names[a] : "?";
}

/* Number with an optional unit; the unit table gives the multipliers. */
static int parse_number(const char *v, const char *const *units,
			const unsigned long long *mult, unsigned long long *out)
{
	char *end;
	errno = 0;
	if (!isdigit((unsigned char)*v))
		return -1;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno)
		return -1;
	unsigned long long m = 1;
	if (*end) {
		int i = 0;
		while (units[i] && strcmp(units[i], end) != 0)
			i++;
		if (!units[i])
			return -1;
		m = mult[i];
	}
	if (m && n > ~0ull / m)
		return -1;
	*out = n * m;
	return 0;
}

static int parse_listen(const char *v, struct config_listen *l)
{
	char host[64];
	const char *colon;
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;
	memset(l, 0, sizeof *l);
	if (*v == '[') {
		const char *rb = strchr(v, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - v - 1) >= sizeof host)
			return -1;
		memcpy(host, v + 1, (size_t)(rb - v - 1));
		host[rb - v - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(v, ':');
		if (!colon || (size_t)(colon - v) >= sizeof host)
			return -1;
		memcpy(host, v, (size_t)(colon - v));
		host[colon - v] = '\0';
	}
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535)
		return -1;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		l->addrlen = sizeof *sin;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		l->addrlen = sizeof *sin6;
	} else {
		return -1;
	}
	snprintf(l->text, sizeof l->text, "%s", v);
	return 0;
}

static int parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"}, *const no[] = {"no", "false", "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (!strcasecmp(v, yes[i]))
			return *out = true, 0;
		if (!strcasecmp(v, no[i]))
			return *out = false, 0;
	}
	return -1;
}

static int set_enum(const char *v, const char *const *names, int n, int *out)
{
	for (int i = 0; i < n; i++)
		if (!strcmp(v, names[i]))
			return *out = i, 0;
	return -1;
}

/* A name for our greeting and Received headers: dot-separated labels of
 * letters, digits and hyphens (RFC 5321 §4.1.2 Domain), no hyphen at a
 * label's ends. */
static const char *check_hostname(const char *v)
{
	size_t n = strlen(v), label = 0;
	if (n > 253)
		return "a domain name is at most 253 characters";
	for (size_t i = 0; i <= n; i++) {
		char ch = v[i];
		if (ch == '.' || ch == '\0') {
			if (label == 0 || label > 63 || v[i - 1] == '-' || v[i - label] == '-')
				return "expected a domain name (labels of letters, digits and '-')";
			label = 0;
		} else if (isalnum((unsigned char)ch) || ch == '-') {
			label++;
		} else {
			return "expected a domain name (labels of letters, digits and '-')";
		}
	}
	return NULL;
}

/* One server as c-ares takes it: an address, IPv4:port or [IPv6]:port. */
static bool server_ok(const char *v, size_t n)
{
	char host[64];
	const char *port = NULL;
	if (n && v[0] == '[') {
		const char *rb = memchr(v, ']', n);
		if (!rb || (rb + 1 != v + n && rb[1] != ':'))
			return false;
		port = rb + 1 == v + n ? NULL : rb + 2;
		v++, n = (size_t)(rb - v);
	} else {
		const char *colon = memchr(v, ':', n);
		if (colon && !memchr(colon + 1, ':', n - (size_t)(colon + 1 - v))) { /* IPv4:port */
			port = colon + 1;
			n = (size_t)(colon - v);
		}
	}
	if (n == 0 || n >= sizeof host)
		return false;
	memcpy(host, v, n);
	host[n] = '\0';
	unsigned char a[16];
	if (inet_pton(AF_INET, host, a) != 1 && inet_pton(AF_INET6, host, a) != 1)
		return false;
	if (!port)
		return true;
	char *end;
	long p = strtol(port, &end, 10);
	return isdigit((unsigned char)*port) && (*end == ',' || *end == '\0') && p >= 1 && p <= 65535;
}

static const char *check_servers(const char *v)
{
	for (const char *p = v;;) {
		size_t n = strcspn(p, ",");
		if (!server_ok(p, n))
			return "expected addresses separated by commas: IPv4, IPv4:port, IPv6 or [IPv6]:port";
		if (!p[n])
			return NULL;
		p += n + 1;
	}
}

static const char *check_readable(const char *v)
{
	static __thread char why[160];
	if (access(v, R_OK) == 0)
		return NULL;
	snprintf(why, sizeof why, "cannot read it: %s", strerror(errno));
	return why;
}

static const char *check_xdp_mode(const char *v)
{
	int e;
	return set_enum(v, (const char *const[]){"auto", "native", "generic"}, 3, &e) < 0
		       ? "expected auto, native or generic"
		       : NULL;
}

static const char *check_steer(const char *v)
{
	int e;
	return set_enum(v, (const char *const[]){"hash", "least", "off"}, 3, &e) < 0
		       ? "expected hash, least or off"
		       : NULL;
}

/* The units values are written in, and what each multiplies by; parsing
 * and the range in an error read the same tables. "k" and "K" are one
 * unit (errors print "K"); s_mult[0] pads it to line up with time_units. */
static const char *const size_units[] = {"k", "K", "M", "G", "T", NULL};
static const unsigned long long size_mult[] = {1024, 1024, 1 << 20, 1 << 30, 1ull << 40};
static const char *const time_units[] = {"ms", "s", "m", "h", "d", NULL};
static const unsigned long long ms_mult[] = {1, 1000, 60000, 3600000, 86400000};
static const unsigned long long s_mult[] = {0, 1, 60, 3600, 86400};

/* n in the largest of the `count` units that divides it (mult ascending). */
static int print_in_unit(char *buf, size_t size, unsigned long long n,
			 const char *const *names, const unsigned long long *mult, int count)
{
	for (int i = count - 1; i >= 0; i--)
		if (n && n % mult[i] == 0)
			return snprintf(buf, size, "%llu%s", n / mult[i], names[i]);
	return snprintf(buf, size, "%llu", n);
}

static void print_bound(char *buf, size_t size, const struct key *k, unsigned long long n)
{
	if (k->type == V_SIZE)
		print_in_unit(buf, size, n, size_units + 1, size_mult + 1, 4);
	else if (k->type == V_SECONDS)
		print_in_unit(buf, size, n, time_units + 1, s_mult + 1, 4);
	else if (k->type == V_MILLIS)
		print_in_unit(buf, size, n, time_units, ms_mult, 5);
	else
		snprintf(buf, size, "%llu", n);
}

/* "value out of range (MIN to MAX)", the bounds in the key's own units, so
 * that the operator can copy one into the file. */
static const char *out_of_range(const struct key *k)
{
	static __thread char why[96];
	char lo[32], hi[32];
	print_bound(lo, sizeof lo, k, k->min);
	print_bound(hi, sizeof hi, k, k->max);
	snprintf(why, sizeof why, "value out of range (%s to %s)", lo, hi);
	return why;
}

/* Store v into the field described by k. Returns NULL or what is wrong. */
static const char *set_value(struct config *c, const struct key *k, const char *v)
{
	char *field = (char *)c + k->off;
	unsigned long long n;
	const char *why;
	int e;
	switch (k->type) {
	case V_STR:
		if (strlen(v) >= k->size)
			return "value too long";
		if (k->check && (why = k->check(v)))
			return why;
		memcpy(field, v, strlen(v) + 1);
		return NULL;
	case V_LISTEN:
		if (c->nlisten == CONFIG_MAX_LISTEN)
			return "too many listen lines";
		if (parse_listen(v, &c->listen[c->nlisten]) < 0)
			return "expected IPv4:port or [IPv6]:port";
		c->nlisten++;
		return NULL;
	case V_BOOL:
		return parse_bool(v, (bool *)field) < 0 ? "expected yes or no" : NULL;
	case V_TREAT:
		e = policy_treat_from_name(v);
		if (e < 0)
			return "expected neutral or fail";
		*(enum policy_treat *)field = (enum policy_treat)e;
		return NULL;
	case V_DROP:
		if (set_enum(v, (const char *const[]){"reject", "discard", "quarantine"}, 3, &e) < 0)
			return "expected reject, discard or quarantine";
		*(enum drop_action *)field = (enum drop_action)e;
		return NULL;
	case V_SYNC:
		if (set_enum(v, (const char *const[]){"fsync", "syncfs", "journal"}, 3, &e) < 0)
			return "expected fsync, syncfs or journal";
		*(enum spool_sync_mode *)field = (enum spool_sync_mode)e;
		return NULL;
	case V_LOGFMT:
		if (set_enum(v, (const char *const[]){"text", "json"}, 2, &e) < 0)
			return "expected text or json";
		*(enum log_format *)field = (enum log_format)e;
		return NULL;
	case V_UINT:
		e = parse_number(v, (const char *const[]){NULL}, NULL, &n);
		break;
	case V_SIZE:
		e = parse_number(v, size_units, size_mult, &n);
		break;
	case V_SECONDS:
		e = parse_number(v, time_units + 1, s_mult + 1, &n);
		break;
	default: /* V_MILLIS */
		e = parse_number(v, time_units, ms_mult, &n); /* bare: milliseconds */
		break;
	}
	if (e < 0)
		return k->type == V_SIZE      ? "expected a size (e.g. 25M)"
		       : k->type == V_UINT    ? "expected a whole number"
					      : "expected a duration (e.g. 30s, 5m)";
	if (n < k->min || n > k->max)
		return out_of_range(k);
	if (k->type == V_SIZE)
		*(size_t *)field = (size_t)n;
	else
		*(unsigned *)field = (unsigned)n;
	return NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int fail(char *err, size_t errlen, const char *file, unsigned line,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(char *err, size_t errlen, const char *file, unsigned line,
		const char *fmt, ...)
{
	int n = snprintf(err, errlen, "%s:%u: ", file, line);
	va_list ap;
	va_start(ap, fmt);
	if (n > 0 && (size_t)n < errlen)
		vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

static size_t key_index(const char *name)
{
	size_t i = 0;
	while (i < NKEYS && strcmp(keys[i].name, name) != 0)
		i++;
	return i;
}

static int parse_line(struct config *c, char *s, unsigned *seen, const char *file,
		      unsigned line, char *err, size_t errlen)
{
	for (char *h = s; (h = strchr(h, '#')); h++) /* comment: at start or after space */
		if (h == s || isspace((unsigned char)h[-1])) {
			*h = '\0';
			break;
		}
	s = trim(s);
	if (!*s)
		return 0;
	char *eq = strchr(s, '=');
	if (!eq)
		return fail(err, errlen, file, line, "expected 'key = value'");
	*eq = '\0';
	char *key = trim(s), *value = trim(eq + 1);
	size_t i = key_index(key);
	if (i == NKEYS)
		return fail(err, errlen, file, line, "unknown key '%s'", key);
	if (!*value)
		return fail(err, errlen, file, line, "%s: missing value", key);
	if (seen[i] && keys[i].type != V_LISTEN)
		return fail(err, errlen, file, line, "%s given twice (first on line %u)", key, seen[i]);
	if (keys[i].type == V_LISTEN && !seen[i])
		c->nlisten = 0; /* the first listen line replaces the default */
	seen[i] = line;
	const char *why = set_value(c, &keys[i], value);
	if (why)
		return fail(err, errlen, file, line, "%s = %s: %s", key, value, why);
	return 0;
}

/* The last line on which one of these keys was given. */
static unsigned last_of(const unsigned *seen, const char *const *names)
{
	unsigned line = 0;
	for (; *names; names++) {
		size_t i = key_index(*names);
		if (i < NKEYS && seen[i] > line)
			line = seen[i];
	}
	return line;
}

int config_parse(const char *text, size_t len, const char *filename,
		 struct config *c, char *err, size_t errlen)
{
	unsigned seen[NKEYS] = {0}; /* the line each key was given on */
	unsigned line = 0;
	config_defaults(c);
	parse_listen("127.0.0.1:2525", &c->listen[0]);
	c->nlisten = 1;
	for (size_t pos = 0; pos < len;) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		line++;
		if (n > 4096)
			return fail(err, errlen, filename, line, "line too long");
		char buf[4097];
		memcpy(buf, text + pos, n);
		buf[n] = '\0';
		if (memchr(buf, '\0', n))
			return fail(err, errlen, filename, line, "NUL byte");
		if (parse_line(c, buf, seen, filename, line, err, errlen) < 0)
			return -1;
		pos += n + 1;
	}
	if (!strcmp(c->tls_cert, "") != !strcmp(c->tls_key, ""))
		return fail(err, errlen, filename,
			    last_of(seen, (const char *const[]){"tls.cert", "tls.key", NULL}),
			    "tls.cert and tls.key go together");
	/* A record never straddles the journal's end, so the largest message
	 * (with the headers the daemon adds) must fit in half of it. */
	if (c->spool_sync == SPOOL_SYNC_JOURNAL &&
	    c->spool_journal_size / 2 < c->message_size + (64u << 10))
		return fail(err, errlen, filename, last_of(seen, (const char *const[]){"spool.sync",
				    "spool.journal_size", "limits.message_size", NULL}),
			    "spool.journal_size must be at least twice limits.message_size (plus 128K)");
	return 0;
}

int config_load(const char *path, struct config *c, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	size_t cap = 1 << 20;
	char *text = malloc(cap);
	size_t len = text ? fread(text, 1, cap, f) : 0;
	bool bad = !text || len == cap || ferror(f);
	fclose(f);
	int rc = -1;
	if (bad)
		snprintf(err, errlen, "%s: %s", path, text ? "unreadable or over 1 MiB" : "out of memory");
	else
		rc = config_parse(text, len, path, c, err, errlen);
	free(text);
	return rc;
}

static bool key_differs(const struct config *a, const struct config *b, const struct key *k)
{
	const char *fa = (const char *)a + k->off, *fb = (const char *)b + k->off;
	switch (k->type) {
	case V_STR:
		return strcmp(fa, fb) != 0;
	case V_LISTEN:
		if (a->nlisten != b->nlisten)
			return true;
		for (unsigned i = 0; i < a->nlisten; i++)
			if (strcmp(a->listen[i].text, b->listen[i].text) != 0)
				return true;
		return false;
	case V_SIZE:
		return memcmp(fa, fb, sizeof(size_t)) != 0;
	case V_BOOL:
		return memcmp(fa, fb, sizeof(bool)) != 0;
	default: /* unsigned numbers, and the enums (int-sized) */
		return memcmp(fa, fb, sizeof(unsigned)) != 0;
	}
}

size_t config_changed_keys(const struct config *a, const struct config *b, const char **names,
			   size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < NKEYS; i++)
		if (key_differs(a, b, &keys[i])) {
			if (n < max)
				names[n] = keys[i].name;
			n++;
		}
	return n;
}
