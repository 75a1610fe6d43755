/*
 * spf_driver — runs the SPF engine (sans-I/O API, no resolver) against a
 * zone file for the conformance and differential tests.
 *
 *   spf_driver [--default-explanation TEXT] [--scope helo|pra|mfrom-sid] ZONEFILE
 *
 * --scope pra / mfrom-sid: Sender ID (RFC 4406) record selection for the
 * pra or mfrom scope (senderid_spf_config); the mail-from column is then
 * the identity of that scope (the PRA for pra).
 *
 * Reads "ip<TAB>mail-from<TAB>helo" lines on stdin and prints one line per
 * query: "result<TAB>explanation<TAB>mechanism<TAB>problem". Answers are
 * given newest query first, so the engine is exercised with answers out of
 * order whenever it has several queries in flight.
 */
#include "../../verify/dns.h"
#include "../../verify/dns_answer.h"
#include "../../verify/dns_zone.h"
#include "../../verify/senderid.h"
#include "../../verify/spf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int evaluate(const struct dns_zone *z, const struct spf_request *req,
		    const struct spf_config *cfg)
{
	struct spf_eval *e = spf_eval_new(req, cfg);
	if (!e)
		return -1;
	struct spf_query pending[SPF_MAX_QUERIES];
	unsigned n = 0;
	while (!spf_eval_done(e)) {
		while (n < SPF_MAX_QUERIES && spf_eval_next_query(e, &pending[n]) == 1)
			n++;
		if (n == 0) {
			fprintf(stderr, "spf_driver: engine stalled\n");
			spf_eval_free(e);
			return -1;
		}
		struct spf_query q = pending[--n];
		char norm[DNS_NAME_MAX + 1];
		struct dns_answer *a = dns_name_normalize(q.name, norm) < 0
					       ? NULL
					       : dns_zone_answer(z, norm, q.type, false);
		if (!a)
			a = dns_answer_new_empty("", q.type, DNS_MALFORMED, DNS_WHY_BADNAME, 0);
		if (!a || spf_eval_answer(e, q.id, a) < 0) {
			fprintf(stderr, "spf_driver: answer rejected\n");
			dns_answer_release(a);
			spf_eval_free(e);
			return -1;
		}
		dns_answer_release(a);
	}
	const struct spf_outcome *o = spf_eval_result(e);
	printf("%s\t%s\t%s\t%s\n", spf_result_name(o->result),
	       o->result == SPF_FAIL ? o->explanation : "", o->mechanism, o->problem);
	spf_eval_free(e);
	return 0;
}

int main(int argc, char **argv)
{
	struct spf_config cfg = {.now = 1000000000};
	enum spf_scope scope = SPF_SCOPE_MFROM;
	int i = 1;
	for (; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--default-explanation") == 0)
			cfg.default_explanation = argv[i + 1];
		else if (strcmp(argv[i], "--scope") == 0 && strcmp(argv[i + 1], "helo") == 0)
			scope = SPF_SCOPE_HELO;
		else if (strcmp(argv[i], "--scope") == 0 && strcmp(argv[i + 1], "pra") == 0)
			senderid_spf_config(SENDERID_PRA, &cfg);
		else if (strcmp(argv[i], "--scope") == 0 && strcmp(argv[i + 1], "mfrom-sid") == 0)
			senderid_spf_config(SENDERID_MFROM, &cfg);
		else
			break;
	}
	if (i != argc - 1)
		return fprintf(stderr, "usage: spf_driver [--default-explanation T] ZONE\n"), 2;
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_load(argv[i], &err);
	if (!z)
		return fprintf(stderr, "spf_driver: %s\n", err.msg), 1;
	char line[4096];
	int rc = 0;
	while (fgets(line, sizeof line, stdin)) {
		line[strcspn(line, "\n")] = '\0';
		char *ip = line, *mf = strchr(ip, '\t'), *helo = mf ? strchr(mf + 1, '\t') : NULL;
		if (!helo)
			return fprintf(stderr, "spf_driver: bad input line\n"), 2;
		*mf++ = '\0';
		*helo++ = '\0';
		struct spf_request req = {.mail_from = mf, .helo = helo, .scope = scope};
		if (spf_ip_parse(ip, &req.ip) < 0) {
			printf("badip\t\t\t\n");
			continue;
		}
		if (evaluate(z, &req, &cfg) < 0)
			rc = 1;
		fflush(stdout);
	}
	dns_zone_free(z);
	return rc;
}
