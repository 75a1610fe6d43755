/*
 * dns_wire — see dns_wire.h. Hand-written rather than c-ares' per-type
 * ares_parse_*_reply because those drop per-record TTLs for most types,
 * ignore the authority SOA (needed for negative caching) and would give
 * five code paths instead of one bounded, fuzzed one.
 */
#include "dns_wire.h"

#include "dns_answer.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CNAME_HOPS 8
#define MAX_POINTER_JUMPS 64
#define WIRE_NAME_MAX 255

enum { RCODE_NOERROR = 0, RCODE_SERVFAIL = 2, RCODE_NXDOMAIN = 3, RCODE_REFUSED = 5 };

struct rr {
	char owner[WIRE_NAME_MAX + 1]; /* decoded wire names are < 255 octets */
	uint16_t type, class;
	uint32_t ttl;
	size_t rdoff; /* offset of rdata in the message */
	uint16_t rdlen;
};

struct wire {
	const uint8_t *msg;
	size_t len, pos;
};

static int get16(struct wire *w, uint16_t *v)
{
	if (w->len - w->pos < 2)
		return -1;
	*v = (uint16_t)(w->msg[w->pos] << 8 | w->msg[w->pos + 1]);
	w->pos += 2;
	return 0;
}

static int get32(struct wire *w, uint32_t *v)
{
	uint16_t hi, lo;
	if (get16(w, &hi) < 0 || get16(w, &lo) < 0)
		return -1;
	*v = (uint32_t)hi << 16 | lo;
	return 0;
}

/* Decode a possibly compressed name at w->pos into out (lower case, no
 * trailing dot, "" for the root). Advances w->pos past the name as it
 * appears at that position. */
static int get_name(struct wire *w, char *out)
{
	size_t pos = w->pos, outlen = 0, wirelen = 1, end = 0;
	int jumps = 0;
	for (;;) {
		if (pos >= w->len)
			return -1;
		uint8_t l = w->msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= w->len || ++jumps > MAX_POINTER_JUMPS)
				return -1;
			size_t target = (size_t)(l & 0x3f) << 8 | w->msg[pos + 1];
			if (!end)
				end = pos + 2;
			if (target >= pos) /* only backwards: no loops */
				return -1;
			pos = target;
			continue;
		}
		if (l & 0xc0)
			return -1; /* extended label types are not used */
		if (l == 0)
			break;
		wirelen += (size_t)l + 1;
		if (wirelen > WIRE_NAME_MAX || pos + 1 + l > w->len)
			return -1;
		if (outlen)
			out[outlen++] = '.';
		for (size_t i = 0; i < l; i++) {
			unsigned char c = w->msg[pos + 1 + i];
			if (c == '\0' || c == '.')
				return -1; /* not representable as text */
			out[outlen++] = (char)tolower(c);
		}
		pos += (size_t)l + 1;
	}
	out[outlen] = '\0';
	w->pos = end ? end : pos + 1;
	return 0;
}

static int get_rr(struct wire *w, struct rr *rr)
{
	if (get_name(w, rr->owner) < 0 || get16(w, &rr->type) < 0 ||
	    get16(w, &rr->class) < 0 || get32(w, &rr->ttl) < 0 ||
	    get16(w, &rr->rdlen) < 0 || w->len - w->pos < rr->rdlen)
		return -1;
	if (rr->ttl > 0x7fffffffu) /* RFC 2181 §8: treat as zero */
		rr->ttl = 0;
	rr->rdoff = w->pos;
	w->pos += rr->rdlen;
	return 0;
}

/* Decode a name inside rdata; it must end within the rdata. */
static int rdata_name(const struct wire *w, const struct rr *rr, size_t off,
		      char *out, size_t *after)
{
	struct wire sub = {.msg = w->msg, .len = rr->rdoff + rr->rdlen,
			   .pos = rr->rdoff + off};
	if (get_name(&sub, out) < 0)
		return -1;
	if (after)
		*after = sub.pos - rr->rdoff;
	return 0;
}

static int add_txt(struct dns_builder *b, const struct wire *w,
		   const struct rr *rr)
{
	const uint8_t *p = w->msg + rr->rdoff, *end = p + rr->rdlen;
	/* Each string costs at least its length octet: rdlen bounds the count. */
	const uint8_t **strs = malloc((rr->rdlen + 1u) * sizeof *strs);
	uint8_t *lens = malloc(rr->rdlen + 1u);
	unsigned n = 0;
	int rc = strs && lens ? 0 : -2;
	while (rc == 0 && p < end) {
		if ((size_t)(end - p) < 1u + *p) {
			rc = -1;
			break;
		}
		lens[n] = *p;
		strs[n++] = p + 1;
		p += 1 + *p;
	}
	if (rc == 0 && dns_builder_add_txt(b, rr->ttl, strs, lens, n) < 0)
		rc = -2;
	free(strs);
	free(lens);
	return rc;
}

/* Add one record of the asked type; -1 malformed, -2 out of memory. */
static int add_record(struct dns_builder *b, const struct wire *w,
		      const struct rr *rr)
{
	char name[DNS_NAME_MAX + 1];
	size_t after;
	int rc;
	const uint8_t *rd = w->msg + rr->rdoff;
	switch (rr->type) {
	case DNS_TYPE_A: {
		struct in_addr a;
		if (rr->rdlen != 4)
			return -1;
		memcpy(&a, rd, 4);
		rc = dns_builder_add_a(b, rr->ttl, a);
		break;
	}
	case DNS_TYPE_AAAA: {
		struct in6_addr a;
		if (rr->rdlen != 16)
			return -1;
		memcpy(&a, rd, 16);
		rc = dns_builder_add_aaaa(b, rr->ttl, &a);
		break;
	}
	case DNS_TYPE_MX:
		if (rr->rdlen < 3 || rdata_name(w, rr, 2, name, &after) < 0 ||
		    after != rr->rdlen)
			return -1;
		rc = dns_builder_add_mx(b, rr->ttl, (uint16_t)(rd[0] << 8 | rd[1]), name);
		break;
	case DNS_TYPE_TXT:
	case DNS_TYPE_SPF:
		return add_txt(b, w, rr);
	case DNS_TYPE_PTR:
	case DNS_TYPE_CNAME:
	case DNS_TYPE_NS:
		if (rdata_name(w, rr, 0, name, &after) < 0 || after != rr->rdlen)
			return -1;
		rc = dns_builder_add_name(b, rr->ttl, name);
		break;
	default:
		return -1;
	}
	return rc < 0 ? -2 : 0;
}

/* RFC 2308 §5: the SOA in the authority section gives min(TTL, MINIMUM). */
static bool soa_negative_ttl(const struct wire *w, const struct rr *rr,
			     uint32_t *ttl)
{
	char name[DNS_NAME_MAX + 1];
	size_t off;
	if (rdata_name(w, rr, 0, name, &off) < 0 ||
	    rdata_name(w, rr, off, name, &off) < 0 || rr->rdlen - off != 20)
		return false;
	const uint8_t *m = w->msg + rr->rdoff + off + 16;
	uint32_t minimum = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
			   (uint32_t)m[2] << 8 | m[3];
	*ttl = minimum < rr->ttl ? minimum : rr->ttl;
	return true;
}

static struct dns_answer *finish_rcode(struct dns_builder *b, unsigned rcode)
{
	enum dns_why why = rcode == RCODE_SERVFAIL  ? DNS_WHY_SERVFAIL
			   : rcode == RCODE_REFUSED ? DNS_WHY_REFUSED
						    : DNS_WHY_RCODE;
	return dns_builder_finish(b, DNS_TEMPFAIL, why, 0, false);
}

static struct dns_answer *malformed(struct dns_builder *b)
{
	return dns_builder_finish(b, DNS_MALFORMED, DNS_WHY_BADWIRE, 0, false);
}

struct section_scan {
	struct rr *rrs;
	unsigned n;
	bool have_soa;
	uint32_t neg_ttl;
};

/* Walk the answer and authority sections once, keeping answer RRs. */
static int scan_sections(struct wire *w, uint16_t an, uint16_t ns,
			 struct section_scan *s)
{
	for (unsigned i = 0; i < (unsigned)an + ns; i++) {
		struct rr rr;
		if (get_rr(w, &rr) < 0)
			return -1;
		if (rr.class != 1)
			continue;
		if (i < an) {
			if (s->n < DNS_ANSWER_MAX_RECORDS)
				s->rrs[s->n++] = rr;
		} else if (rr.type == DNS_TYPE_SOA && !s->have_soa) {
			s->have_soa = soa_negative_ttl(w, &rr, &s->neg_ttl);
		}
	}
	return 0;
}

/* Follow the CNAME chain from qname and add the records of qtype at its
 * end. Returns the number added, -1 malformed, -2 ENOMEM. */
static int collect(struct dns_builder *b, const struct wire *w,
		   const struct section_scan *s, const char *qname,
		   enum dns_type qtype)
{
	char cur[DNS_NAME_MAX + 1];
	strcpy(cur, qname);
	for (int hops = 0; hops <= MAX_CNAME_HOPS; hops++) {
		int added = 0;
		const struct rr *cname = NULL;
		for (unsigned i = 0; i < s->n; i++) {
			if (strcmp(s->rrs[i].owner, cur) != 0)
				continue;
			if (s->rrs[i].type == qtype) {
				int rc = add_record(b, w, &s->rrs[i]);
				if (rc < 0)
					return rc;
				added++;
			} else if (s->rrs[i].type == DNS_TYPE_CNAME) {
				cname = &s->rrs[i];
			}
		}
		if (added || !cname || qtype == DNS_TYPE_CNAME)
			return added;
		size_t after;
		if (rdata_name(w, cname, 0, cur, &after) < 0 || after != cname->rdlen)
			return -1;
		dns_builder_set_canonical(b, cur);
	}
	return -1; /* chain longer than MAX_CNAME_HOPS */
}

struct dns_answer *dns_wire_parse(const uint8_t *msg, size_t len,
				  const char *qname, enum dns_type qtype)
{
	struct dns_builder *b = dns_builder_new(qname, qtype);
	if (!b)
		return NULL;
	struct wire w = {.msg = msg, .len = len};
	uint16_t id, flags, qd, an, ns, ar, qt, qc;
	char qn[DNS_NAME_MAX + 1];
	if (get16(&w, &id) < 0 || get16(&w, &flags) < 0 || get16(&w, &qd) < 0 ||
	    get16(&w, &an) < 0 || get16(&w, &ns) < 0 || get16(&w, &ar) < 0 ||
	    !(flags & 0x8000) || qd != 1 || get_name(&w, qn) < 0 ||
	    get16(&w, &qt) < 0 || get16(&w, &qc) < 0 || qt != qtype ||
	    strcmp(qn, qname) != 0)
		return malformed(b);
	unsigned rcode = flags & 0xf;
	if (rcode != RCODE_NOERROR && rcode != RCODE_NXDOMAIN)
		return finish_rcode(b, rcode);
	if (flags & 0x0200) /* TC: the resolver should have retried over TCP */
		return dns_builder_finish(b, DNS_TEMPFAIL, DNS_WHY_NETWORK, 0, false);
	unsigned keep = an < DNS_ANSWER_MAX_RECORDS ? an : DNS_ANSWER_MAX_RECORDS;
	struct rr *rrs = malloc((keep ? keep : 1) * sizeof *rrs);
	struct section_scan s = {.rrs = rrs};
	int added = -2;
	if (rrs)
		added = scan_sections(&w, an, ns, &s) < 0 ? -1
			: collect(b, &w, &s, qname, qtype);
	free(rrs);
	if (added == -2) {
		dns_builder_free(b);
		return NULL;
	}
	if (added < 0)
		return malformed(b);
	if (added > 0)
		return dns_builder_finish(b, DNS_DATA, DNS_WHY_NONE, 0, true);
	return dns_builder_finish(b, rcode == RCODE_NXDOMAIN ? DNS_NXDOMAIN : DNS_NODATA,
				  DNS_WHY_NONE, s.neg_ttl, s.have_soa);
}
