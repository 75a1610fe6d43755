/*
 * bpf_maps — userspace access to authgate's pinned BPF maps, shared by the
 * loader (daemon), `authgate stats` and `authgate block`: prefix parsing
 * and printing, per-CPU sums, blocklist add/delete/list/sweep. Works on
 * map fds, so it needs no skeleton and no daemon.
 *
 * Pins live in <pin_dir>/flows, /stats, /blocklist, /blocklist_gen and
 * /verdicts (bpf.pin_dir, default /sys/fs/bpf/authgate). Layouts: bpf/authgate_maps.h.
 *
 * blocklist_gen: XDP skips the blocklist for a known flow already checked
 * against the generation value now in that map, so every add must store a
 * fresh value after the entry is in (ag_block_add does). A delete, an
 * expiry or a sweep only unblocks and needs none.
 */
#ifndef AUTHGATE_BPF_MAPS_H_USER
#define AUTHGATE_BPF_MAPS_H_USER

#include <linux/types.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "../bpf/authgate_maps.h"

#define AG_PIN_DIR_DEFAULT "/sys/fs/bpf/authgate"

/* CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns(). */
uint64_t ag_now_ns(void);

/* Open <pin_dir>/<name>; -1 with errno set. */
int ag_pin_open(const char *pin_dir, const char *name);

/* "192.0.2.0/24", "2001:db8::/32", or a bare address (/32, /128) → key.
 * -1 when it is not a prefix (or host bits are set). */
int ag_prefix_parse(const char *s, struct ag_block_key *k);
/* The key back as text ("192.0.2.0/24" for IPv4-mapped keys). */
void ag_prefix_format(const struct ag_block_key *k, char *buf, size_t len);
/* The blocklist key of one address (/128 or mapped /128). */
void ag_block_key_of(const struct sockaddr_storage *ss, struct ag_block_key *k);
/* A flow key's address as text. */
void ag_flow_addr_format(const struct ag_flow_key *k, bool src, char *buf, size_t len);

/* The verdict counters of struct ag_verdicts, in their order: the field's
 * name (bpftool, `authgate verdicts`), the transaction log's word for it
 * (docs/configuration.md), and where it is. */
struct ag_verdict_field {
	const char *name, *log_word;
	size_t offset;
};
#define AG_VERDICT_FIELDS 10
extern const struct ag_verdict_field ag_verdict_fields[AG_VERDICT_FIELDS];
/* The check results' counters, by check: spf, sender_id, dkim. */
#define AG_VERDICT_CHECKS 3
extern const struct ag_verdict_field ag_verdict_checks[AG_VERDICT_CHECKS];

/* Sum the per-CPU stats copies; -1 with errno set. */
int ag_stats_read(int stats_fd, struct ag_stats *out);

/* ttl_s 0 = permanent. Then a new blocklist generation in gen_fd (the
 * blocklist_gen map; -1: none, as for a pin dir without one). */
int ag_block_add(int fd, int gen_fd, const struct ag_block_key *k, uint64_t ttl_s,
		 uint32_t reason);
/* Store a fresh, random blocklist generation: every known flow re-checks
 * the blocklist on its next packet. */
int ag_block_gen_bump(int gen_fd);
int ag_block_del(int fd, const struct ag_block_key *k);
/* Delete entries whose expiry passed; returns how many. */
int ag_block_sweep(int fd, uint64_t now_ns);
const char *ag_block_reason_name(uint32_t reason);

#endif
