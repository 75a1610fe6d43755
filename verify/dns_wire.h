/*
 * dns_wire — turning a DNS response message (RFC 1035 §4) into an answer.
 *
 * Owns: bounds-checked decoding of the header, question, answer and
 * authority sections, name decompression (pointers must point backwards,
 * so no loops), CNAME chain following inside the answer, rcode mapping and
 * the RFC 2308 negative TTL from the authority SOA. Every byte of the
 * message is untrusted: anything that does not decode is DNS_MALFORMED.
 */
#ifndef AUTHGATE_DNS_WIRE_H
#define AUTHGATE_DNS_WIRE_H

#include "dns.h"

/* qname normalised (dns_name_normalize). Returns NULL only on ENOMEM. */
struct dns_answer *dns_wire_parse(const uint8_t *msg, size_t len,
				  const char *qname, enum dns_type qtype);

#endif
