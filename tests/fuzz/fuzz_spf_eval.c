/* libFuzzer: a whole check_host() over a fuzzed zone. The input is
 * "ZONE TEXT\n%%\nIP MAILFROM HELO": the zone is parsed under
 * $ORIGIN example.com., the query line picks the client and identities
 * (defaults when absent). Answers are given in an order derived from the
 * input, so out-of-order resumption is fuzzed too. The engine must finish
 * within its query budget and never stall. */
#include "../../verify/dns.h"
#include "../../verify/dns_answer.h"
#include "../../verify/dns_zone.h"
#include "../../verify/spf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_query(const char *q, size_t n, struct spf_request *req,
			char *ip, char *mf, char *helo)
{
	char line[512];
	snprintf(line, sizeof line, "%.*s", (int)(n < 511 ? n : 511), q);
	if (sscanf(line, "%63s %255s %255s", ip, mf, helo) != 3) {
		strcpy(ip, "192.0.2.1");
		strcpy(mf, "user@example.com");
		strcpy(helo, "mail.example.com");
	}
	if (strcmp(mf, "-") == 0)
		mf[0] = '\0';
	req->mail_from = mf;
	req->helo = helo;
	if (spf_ip_parse(ip, &req->ip) < 0)
		spf_ip_parse("192.0.2.1", &req->ip);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *text = (const char *)data;
	const char *sep = memmem(text, size, "\n%%\n", 4);
	size_t zlen = sep ? (size_t)(sep - text) : size;
	char *zt = malloc(zlen + 32);
	if (!zt)
		return 0;
	int pre = sprintf(zt, "$ORIGIN example.com.\n");
	memcpy(zt + pre, text, zlen);
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(zt, (size_t)pre + zlen, "fuzz", &err);
	free(zt);
	if (!z)
		return 0;
	struct spf_request req = {0};
	char ip[64], mf[256], helo[256];
	parse_query(sep ? sep + 4 : "", sep ? size - zlen - 4 : 0, &req, ip, mf, helo);
	req.scope = size & 1 ? SPF_SCOPE_HELO : SPF_SCOPE_MFROM;
	struct spf_config cfg = {.now = 1};
	struct spf_eval *e = spf_eval_new(&req, &cfg);
	struct spf_query q[SPF_MAX_QUERIES + 1];
	unsigned n = 0, issued = 0;
	while (e && !spf_eval_done(e)) {
		while (n <= SPF_MAX_QUERIES && spf_eval_next_query(e, &q[n]) == 1)
			n++, issued++;
		if (n == 0 || issued > SPF_MAX_QUERIES)
			abort(); /* stalled, or over its query budget */
		unsigned k = (unsigned)(data[issued % size] % n);
		struct spf_query cur = q[k];
		q[k] = q[--n];
		char norm[DNS_NAME_MAX + 1];
		struct dns_answer *a = dns_name_normalize(cur.name, norm) < 0
					       ? dns_answer_new_empty("", cur.type, DNS_MALFORMED,
								      DNS_WHY_BADNAME, 0)
					       : dns_zone_answer(z, norm, cur.type, false);
		if (!a)
			break;
		if (spf_eval_answer(e, cur.id, a) != 0)
			abort();
		dns_answer_release(a);
	}
	if (e && spf_eval_done(e) && spf_eval_result(e)->result > SPF_PERMERROR)
		abort();
	spf_eval_free(e);
	dns_zone_free(z);
	return 0;
}
