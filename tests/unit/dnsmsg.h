/*
 * dnsmsg.h — tiny DNS message writer for the unit tests (header only):
 * enough of RFC 1035 to build the answers, oddities and attacks the wire
 * parser and the c-ares backend must handle.
 */
#ifndef AUTHGATE_TEST_DNSMSG_H
#define AUTHGATE_TEST_DNSMSG_H

#include <stdint.h>
#include <string.h>

struct dnsmsg {
	uint8_t b[65536];
	size_t n;
};

static inline void dm_u8(struct dnsmsg *m, unsigned v) { m->b[m->n++] = (uint8_t)v; }
static inline void dm_u16(struct dnsmsg *m, unsigned v)
{
	dm_u8(m, v >> 8);
	dm_u8(m, v & 0xff);
}
static inline void dm_u32(struct dnsmsg *m, uint32_t v)
{
	dm_u16(m, v >> 16);
	dm_u16(m, v & 0xffff);
}
static inline void dm_bytes(struct dnsmsg *m, const void *p, size_t len)
{
	memcpy(m->b + m->n, p, len);
	m->n += len;
}
/* Uncompressed name in presentation form ("" is the root). */
static inline void dm_name(struct dnsmsg *m, const char *name)
{
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t l = dot ? (size_t)(dot - name) : strlen(name);
		dm_u8(m, (unsigned)l);
		dm_bytes(m, name, l);
		name += l + (dot ? 1 : 0);
	}
	dm_u8(m, 0);
}
static inline void dm_ptr(struct dnsmsg *m, unsigned off) { dm_u16(m, 0xc000 | off); }

/* Header + one question. flags: e.g. 0x8180 (response, RD, RA) | rcode. */
static inline void dm_start(struct dnsmsg *m, unsigned id, unsigned flags,
			    unsigned an, unsigned ns, const char *qname,
			    unsigned qtype)
{
	m->n = 0;
	dm_u16(m, id);
	dm_u16(m, flags);
	dm_u16(m, 1);
	dm_u16(m, an);
	dm_u16(m, ns);
	dm_u16(m, 0);
	dm_name(m, qname);
	dm_u16(m, qtype);
	dm_u16(m, 1);
}
/* RR header with owner as a pointer to the question name (offset 12). */
static inline void dm_rr_q(struct dnsmsg *m, unsigned type, uint32_t ttl,
			   unsigned rdlen)
{
	dm_ptr(m, 12);
	dm_u16(m, type);
	dm_u16(m, 1);
	dm_u32(m, ttl);
	dm_u16(m, rdlen);
}
static inline void dm_rr(struct dnsmsg *m, const char *owner, unsigned type,
			 uint32_t ttl, unsigned rdlen)
{
	dm_name(m, owner);
	dm_u16(m, type);
	dm_u16(m, 1);
	dm_u32(m, ttl);
	dm_u16(m, rdlen);
}
static inline size_t dm_name_len(const char *name)
{
	return *name ? strlen(name) + 2 : 1;
}
/* SOA in the authority section with the given TTL and MINIMUM. */
static inline void dm_soa(struct dnsmsg *m, const char *owner, uint32_t ttl,
			  uint32_t minimum)
{
	dm_rr(m, owner, 6, ttl, (unsigned)(dm_name_len("ns.test") + dm_name_len("h.test") + 20));
	dm_name(m, "ns.test");
	dm_name(m, "h.test");
	dm_u32(m, 1);
	dm_u32(m, 3600);
	dm_u32(m, 600);
	dm_u32(m, 86400);
	dm_u32(m, minimum);
}

#endif
