/*
 * bench_senderid — Sender ID (RFC 4406/4407) checks per second on one
 * core, warm caches: authgate's PRA check of a whole message (find the
 * Purported Responsible Address in the header, then evaluate the
 * spf2.0/pra or v=spf1 record through the resolver and its caches, as the
 * daemon's verdict does) beside Perl's Mail::SPF 2.9 (libmail-spf-perl,
 * the one other implementation of the pra scope packaged for Debian),
 * which is handed the PRA already extracted and answers DNS from the same
 * records through Net::DNS::Resolver::Programmable in a child process.
 *
 *   build/bench/bench_senderid [SECONDS] [--quick|--smoke]
 *
 * Prints each engine's answer per case (they must agree) and one JSON line
 * for bench/run.sh. Mail::SPF gets the easier job (no header parsing), so
 * the ratio understates ours.
 */
#include "peer_child.h"
#include "records.h"

#include "../verify/dns.h"
#include "../verify/dns_zone.h"
#include "../verify/senderid.h"
#include "../verify/spf.h"
#include "../verify/spf_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Senders with Sender ID records, one with only an SPF record (which the
 * pra scope may use, RFC 4406 §3.4), and a provider include. */
static const struct bench_rr data[] = {
	{"example.com", "TXT", "spf2.0/pra ip4:192.0.2.0/24 include:_pra.provider.example -all"},
	{"example.com", "TXT", "v=spf1 ip4:192.0.2.0/24 -all"},
	{"_pra.provider.example", "TXT", "spf2.0/pra ip4:198.51.100.0/24 ip6:2001:db8::/32 ?all"},
	{"lists.example.org", "TXT", "spf2.0/mfrom,pra mx ip4:203.0.113.0/25 -all"},
	{"lists.example.org", "MX", "mx.lists.example.org"},
	{"mx.lists.example.org", "A", "203.0.113.200"},
	{"spf-only.example.net", "TXT", "v=spf1 ip4:100.64.0.0/16 -all"},
};
#define NDATA (sizeof data / sizeof data[0])

/* What a mail host sees: the client, the header, and the PRA RFC 4407
 * finds in it (the answer Mail::SPF is given; ours must find it). */
static const struct query {
	const char *ip, *header, *pra, *what;
	const char *peer_by_design; /* Mail::SPF's known different answer, or NULL */
} queries[] = {
	{"192.0.2.10", "From: Alice <alice@example.com>\r\nTo: bob@example.net\r\nSubject: hi\r\n",
	 "alice@example.com", "From:, ip4 match"},
	{"198.51.100.7", "Received: from x\r\nFrom: alice@example.com\r\nSubject: re\r\n",
	 "alice@example.com", "From:, include"},
	{"203.0.113.200",
	 "From: Carol <carol@example.net>\r\nSender: owner-list@lists.example.org\r\nSubject: [list] x\r\n",
	 "owner-list@lists.example.org", "Sender:, mx"},
	{"203.0.113.9",
	 "Resent-From: fwd@example.com\r\nResent-Sender: bounce@lists.example.org\r\nFrom: d@example.net\r\n",
	 "bounce@lists.example.org", "Resent-Sender:"},
	/* RFC 4406 §3.4 reads v=spf1 as spf2.0/mfrom,pra; Mail::SPF takes only
	 * version 2 records for pra (docs/conformance.md, "v1-as-pra"). */
	{"100.64.3.3", "From: e@spf-only.example.net\r\nSubject: x\r\n", "e@spf-only.example.net",
	 "v=spf1 record", "none"},
	{"198.18.0.1", "From: mallory@example.com\r\nSubject: x\r\n", "mallory@example.com",
	 "no match (fail)"},
};
#define NQ (sizeof queries / sizeof queries[0])

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ----------------------------------------------------------- authgate */

struct ours {
	struct dns_resolver *r;
	struct spf_config cfg;
	struct spf_ip ip[NQ];
	char *msg[NQ];
	size_t len[NQ];
	struct senderid_outcome last;
};

static void on_done(void *arg, const struct senderid_outcome *o)
{
	((struct ours *)arg)->last = *o;
}

static const struct senderid_outcome *ours_eval(struct ours *o, size_t i)
{
	if (senderid_check_message(o->r, &o->ip[i], "mta.example.net", o->msg[i], o->len[i], NULL,
				   &o->cfg, on_done, o) == 0)
		while (dns_resolver_pending(o->r))
			dns_resolver_dispatch(o->r);
	return &o->last;
}

static int ours_init(struct ours *o)
{
	if (!(o->r = records_resolver(data, NDATA, "bench_senderid")))
		return -1;
	o->cfg.cache = spf_cache_new(1024);
	for (size_t i = 0; i < NQ; i++) {
		spf_ip_parse(queries[i].ip, &o->ip[i]);
		size_t h = strlen(queries[i].header);
		const char *body = "\r\nHello.\r\n";
		o->len[i] = h + strlen(body);
		if (!(o->msg[i] = malloc(o->len[i] + 1)))
			return -1;
		memcpy(o->msg[i], queries[i].header, h);
		strcpy(o->msg[i] + h, body);
	}
	return 0;
}

/* ---------------------------------------------------------- Mail::SPF */

static const char perl_script[] =
	"use strict; use warnings; use Time::HiRes qw(time);\n"
	"use Mail::SPF; use Net::DNS; use Net::DNS::Resolver::Programmable;\n"
	"my %rr;\n"
	"open(my $z, '<', $ARGV[0]) or die; while (<$z>) { chomp; my ($o, $t, $v) = split /\\t/;\n"
	"  my $text = $t eq 'TXT' ? \"$o. 3600 IN TXT \\\"$v\\\"\" : $t eq 'MX' ? \"$o. 3600 IN MX 10 $v.\"\n"
	"           : \"$o. 3600 IN $t $v\";\n"
	"  push @{$rr{$o}}, Net::DNS::RR->new($text); }\n"
	"my $res = Net::DNS::Resolver::Programmable->new(resolver_code => sub {\n"
	"  my ($domain) = @_; return exists $rr{lc $domain} ? ('NOERROR', undef) : ('NXDOMAIN', undef); },\n"
	"  records => \\%rr);\n"
	"my $server = Mail::SPF::Server->new(dns_resolver => $res);\n"
	"open(my $q, '<', $ARGV[1]) or die; my @qs = map { chomp; [split /\\t/] } <$q>;\n"
	"sub check { my ($ip, $pra) = @_; $server->process(Mail::SPF::Request->new(\n"
	"  versions => [1, 2], scope => 'pra', identity => $pra, ip_address => $ip))->code }\n"
	"print 'answer ', check(@$_), \"\\n\" for @qs;\n"
	"my ($n, $t0) = (0, time); while (time - $t0 < $ARGV[2]) { check(@$_) for @qs; $n += @qs }\n"
	"printf \"rate %f\\n\", $n / (time - $t0);\n";

static double run_mail_spf(double secs, char answers[NQ][16])
{
	char zone[4096], qs[2048];
	records_tab_file(data, NDATA, zone, sizeof zone);
	size_t n = 0;
	for (size_t i = 0; i < NQ && n < sizeof qs; i++)
		n += (size_t)snprintf(qs + n, sizeof qs - n, "%s\t%s\n", queries[i].ip, queries[i].pra);
	return peer_child_run("perl", perl_script, zone, qs, secs, answers, NQ);
}

/* --------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	double secs = 3.0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			secs = 0.5;
		else if (strcmp(argv[i], "--smoke") == 0)
			secs = 0.1;
		else if (atof(argv[i]) > 0)
			secs = atof(argv[i]);
		else
			return fprintf(stderr, "usage: bench_senderid [SECONDS] [--quick|--smoke]\n"), 2;
	}
	struct ours o = {0};
	if (ours_init(&o) < 0)
		return fprintf(stderr, "bench_senderid: setup failed\n"), 1;
	char theirs[NQ][16] = {{0}};
	double peer = run_mail_spf(secs, theirs);
	int disagree = 0;
	printf("(v=spf1 record: Mail::SPF answers none by design, RFC 4406 §3.4 says pass; "
	       "docs/conformance.md)\n");
	printf("%-22s %-16s %-30s %-10s %s\n", "case", "client", "PRA (authgate)", "authgate", "Mail::SPF");
	for (size_t i = 0; i < NQ; i++) {
		const struct senderid_outcome *r = ours_eval(&o, i);
		const char *ours = spf_result_name(r->result);
		printf("%-22s %-16s %-30s %-10s %s\n", queries[i].what, queries[i].ip, r->identity, ours,
		       theirs[i][0] ? theirs[i] : "-");
		const char *want = queries[i].peer_by_design ? queries[i].peer_by_design : ours;
		disagree += strcmp(r->identity, queries[i].pra) != 0 ||
			    (theirs[i][0] && strcmp(want, theirs[i]) != 0);
	}
	unsigned long n = 0;
	double t0 = now_s(), t;
	while ((t = now_s() - t0) < secs) {
		for (size_t i = 0; i < NQ; i++)
			ours_eval(&o, i);
		n += NQ;
	}
	double rate = n / t;
	printf("\nSender ID (PRA) checks/s, one core, warm caches, %zu-case mix:\n", NQ);
	printf("  authgate   %10.0f   (finds the PRA in the header itself)\n", rate);
	if (peer > 0)
		printf("  Mail::SPF  %10.0f   (given the PRA)   authgate/Mail::SPF = %.1fx\n", peer, rate / peer);
	else
		printf("  Mail::SPF  did not run (libmail-spf-perl, libnet-dns-resolver-programmable-perl)\n");
	if (disagree)
		printf("%d case(s) where the engines or the expected PRA disagree\n", disagree);
	printf("{\"bench\":\"senderid\",\"authgate_per_s\":%.0f", rate);
	if (peer > 0)
		printf(",\"mail_spf_per_s\":%.0f,\"authgate_vs_mail_spf\":%.2f", peer, rate / peer);
	printf(",\"disagreements\":%d}\n", disagree);
	for (size_t i = 0; i < NQ; i++)
		free(o.msg[i]);
	spf_cache_free(o.cfg.cache);
	dns_resolver_free(o.r);
	return disagree ? 1 : 0;
}
