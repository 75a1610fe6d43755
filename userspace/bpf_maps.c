/*
 * bpf_maps — see bpf_maps.h.
 */
#include "bpf_maps.h"
#include "mono_clock.h"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

uint64_t ag_now_ns(void)
{
	return mono_ns();
}

int ag_pin_open(const char *pin_dir, const char *name)
{
	char path[4096];
	if (snprintf(path, sizeof path, "%s/%s", pin_dir, name) >= (int)sizeof path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return bpf_obj_get(path);
}

static const uint8_t v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_mapped(const uint8_t *a)
{
	return memcmp(a, v4_mapped, 12) == 0;
}

int ag_prefix_parse(const char *s, struct ag_block_key *k)
{
	char addr[64];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof addr)
		return -1;
	memcpy(addr, s, alen);
	addr[alen] = '\0';
	memset(k, 0, sizeof *k);
	unsigned max, base;
	if (inet_pton(AF_INET, addr, k->addr + 12) == 1) {
		memcpy(k->addr, v4_mapped, 12);
		max = 32, base = 96;
	} else if (inet_pton(AF_INET6, addr, k->addr) == 1) {
		max = 128, base = 0;
	} else {
		return -1;
	}
	unsigned len = max;
	if (slash) {
		char *end;
		errno = 0;
		unsigned long v = strtoul(slash + 1, &end, 10);
		/* digits only: strtoul would also take a sign or leading spaces */
		if (!isdigit((unsigned char)slash[1]) || *end || errno || v > max)
			return -1;
		len = (unsigned)v;
	}
	k->prefixlen = base + len;
	for (unsigned bit = k->prefixlen; bit < 128; bit++) /* host bits must be 0 */
		if (k->addr[bit / 8] & (0x80 >> (bit % 8)))
			return -1;
	return 0;
}

void ag_prefix_format(const struct ag_block_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	if (is_mapped(k->addr) && k->prefixlen >= 96) {
		inet_ntop(AF_INET, k->addr + 12, a, sizeof a);
		snprintf(buf, len, "%s/%u", a, k->prefixlen - 96);
	} else {
		inet_ntop(AF_INET6, k->addr, a, sizeof a);
		snprintf(buf, len, "%s/%u", a, k->prefixlen);
	}
}

void ag_block_key_of(const struct sockaddr_storage *ss, struct ag_block_key *k)
{
	memset(k, 0, sizeof *k);
	k->prefixlen = 128;
	if (ss->ss_family == AF_INET) {
		memcpy(k->addr, v4_mapped, 12);
		memcpy(k->addr + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
	} else {
		memcpy(k->addr, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
	}
}

void ag_flow_addr_format(const struct ag_flow_key *k, bool src, char *buf, size_t len)
{
	const uint8_t *a = src ? k->saddr : k->daddr;
	if (!inet_ntop(k->family == AG_FAMILY_V4 ? AF_INET : AF_INET6, a, buf, (socklen_t)len))
		snprintf(buf, len, "?");
}

#define VERDICT(field, word) {#field, word, offsetof(struct ag_verdicts, field)}
const struct ag_verdict_field ag_verdict_fields[AG_VERDICT_FIELDS] = {
	VERDICT(accept, "accept"),
	VERDICT(drop, "drop"),
	VERDICT(drop_discarded, "drop(discarded)"),
	VERDICT(drop_quarantined, "drop(quarantined)"),
	VERDICT(drop_at_mail, "drop(at MAIL)"),
	VERDICT(refused_size, "refused(size)"),
	VERDICT(tempfail, "tempfail"),
	VERDICT(tempfail_timeout, "tempfail(timeout)"),
	VERDICT(tempfail_local, "tempfail(local)"),
	VERDICT(abandoned, "abandoned"),
};

const struct ag_verdict_field ag_verdict_checks[AG_VERDICT_CHECKS] = {
	VERDICT(spf, "spf"),
	VERDICT(sender_id, "sender_id"),
	VERDICT(dkim, "dkim"),
};

int ag_stats_read(int fd, struct ag_stats *out)
{
	int ncpu = libbpf_num_possible_cpus();
	if (ncpu <= 0)
		return errno = -ncpu, -1;
	struct ag_stats *per = calloc((size_t)ncpu, sizeof *per);
	if (!per)
		return -1;
	__u32 zero = 0;
	int rc = bpf_map_lookup_elem(fd, &zero, per);
	memset(out, 0, sizeof *out);
	for (int i = 0; rc == 0 && i < ncpu; i++) {
		out->packets += per[i].packets;
		out->smtp_packets += per[i].smtp_packets;
		out->smtp_bytes += per[i].smtp_bytes;
		out->new_flows += per[i].new_flows;
		out->dropped_blocklist += per[i].dropped_blocklist;
		out->parse_errors += per[i].parse_errors;
	}
	free(per);
	return rc < 0 ? -1 : 0;
}

int ag_block_gen_bump(int gen_fd)
{
	/* Random, not an increment: writers in several processes (CLI, daemon)
	 * cannot increment atomically, and a lost or reordered increment could
	 * bring back a value some flow cached before the newest entry. A value
	 * never stored before cannot match any flow's cache. */
	uint64_t v;
	if (getrandom(&v, sizeof v, GRND_NONBLOCK) != (ssize_t)sizeof v)
		v = (ag_now_ns() * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)getpid() << 32);
	__u32 zero = 0;
	return bpf_map_update_elem(gen_fd, &zero, &v, BPF_ANY);
}

int ag_block_add(int fd, int gen_fd, const struct ag_block_key *k, uint64_t ttl_s,
		 uint32_t reason)
{
	struct ag_block v = {.reason = reason};
	if (ttl_s)
		v.expires_ns = ag_now_ns() + ttl_s * 1000000000ull;
	if (bpf_map_update_elem(fd, k, &v, BPF_ANY) < 0)
		return -1;
	return gen_fd < 0 ? 0 : ag_block_gen_bump(gen_fd);
}

int ag_block_del(int fd, const struct ag_block_key *k)
{
	return bpf_map_delete_elem(fd, k);
}

int ag_block_sweep(int fd, uint64_t now_ns)
{
	struct ag_block_key key, next, dead[256];
	struct ag_block v;
	int n = 0, ndead = 0;
	void *prev = NULL;
	while (ndead < 256 && bpf_map_get_next_key(fd, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) == 0 && v.expires_ns && v.expires_ns <= now_ns)
			dead[ndead++] = key;
	}
	for (int i = 0; i < ndead; i++)
		if (bpf_map_delete_elem(fd, &dead[i]) == 0)
			n++;
	return n;
}

const char *ag_block_reason_name(uint32_t reason)
{
	switch (reason) {
	case AG_BLOCK_MANUAL:
		return "manual";
	case AG_BLOCK_VERDICTS:
		return "verdicts";
	default:
		return "unknown";
	}
}
