/*
 * authgate_maps.h — the structs the BPF programs (smtp_flow.bpf.c,
 * steer.bpf.c) and userspace (userspace/bpf_loader.c, the stats/block CLI,
 * tests) share. Every name starts with ag_/AG_: vmlinux.h already defines
 * many kernel names (flow_stats, ...).
 *
 * Included by BPF code after vmlinux.h and by userspace after
 * <linux/types.h>; it uses only __u8/__u16/__u32/__u64.
 *
 * Conventions so `bpftool map dump` reads well: ports in host order,
 * addresses as byte arrays in network order (IPv4 in the first 4 bytes of
 * a flow address; IPv4-mapped ::ffff:a.b.c.d in the blocklist), times in
 * CLOCK_MONOTONIC nanoseconds. XDP reads them with bpf_ktime_get_coarse_ns()
 * (the same clock as of the last tick: up to one tick, 4 ms at HZ=250,
 * behind); userspace writes expiries with clock_gettime(CLOCK_MONOTONIC).
 *
 * Maps (key → value, writer):
 *   flows      LRU hash   ag_flow_key → ag_flow_stats    XDP (userspace reads)
 *   stats      per-CPU array, 1 slot: 0 → ag_stats         XDP (userspace sums CPUs)
 *   blocklist  LPM trie   ag_block_key → ag_block          userspace adds/deletes/
 *                                                          sweeps; XDP bumps hits
 *   blocklist_gen array, 1 slot: 0 → __u64                every blocklist writer,
 *              after an add: a fresh random value; the daemon once a second.
 *              XDP skips the trie for a flow checked against the current value
 *   ports      array      port (host order) → __u8 1=SMTP  userspace at start
 *   steer_socks  reuseport sockarray  group*AG_MAX_WORKERS+worker → listener  userspace
 *   steer_groups hash     ag_steer_group_key → group index  userspace
 *   steer_load   array    worker → ag_worker_load           workers (sessions open)
 *   steer_cfg    array    0 → ag_steer_cfg                  userspace at start
 *   verdicts   array, AG_MAX_WORKERS slots: worker → ag_verdicts   workers, through a
 *              mapping (BPF_F_MMAPABLE; no program touches it). One line of
 *              the transaction log adds one to a slot: sum the slots
 */
#ifndef AUTHGATE_BPF_MAPS_H
#define AUTHGATE_BPF_MAPS_H

#define AG_FLOWS_MAX 65536
#define AG_BLOCKLIST_MAX 65536
#define AG_PORTS_MAX 65536
#define AG_MAX_WORKERS 64
#define AG_MAX_GROUPS 16

#define AG_FAMILY_V4 4
#define AG_FAMILY_V6 6

/* flows key: one direction of a TCP connection as XDP saw it (ingress). */
struct ag_flow_key {
	__u8 saddr[16]; /* IPv4: first 4 bytes, rest 0 */
	__u8 daddr[16];
	__u16 sport;    /* host order */
	__u16 dport;    /* host order */
	__u8 family;    /* AG_FAMILY_V4 / AG_FAMILY_V6 */
	__u8 pad[3];    /* always 0 */
};

struct ag_flow_stats {
	__u64 packets;
	__u64 bytes;      /* whole frames, all fragments (GSO on lo) */
	__u64 syns;       /* SYN without ACK */
	__u64 fin_rst;    /* FIN or RST */
	__u64 first_seen_ns;
	__u64 last_seen_ns;
	__u64 block_gen;  /* blocklist_gen when the source was last checked */
};

/* stats: global counters, one copy per CPU. */
struct ag_stats {
	__u64 packets;           /* every frame the program saw */
	__u64 smtp_packets;      /* TCP to an SMTP port (dropped ones too) */
	__u64 smtp_bytes;
	__u64 new_flows;         /* flows entries created */
	__u64 dropped_blocklist; /* XDP_DROP because the source is blocked */
	__u64 parse_errors;      /* truncated or malformed headers (passed) */
};

/* blocklist key: LPM trie data = 16 bytes; IPv4 a.b.c.d/n is stored as
 * ::ffff:a.b.c.d/(96+n). */
struct ag_block_key {
	__u32 prefixlen;
	__u8 addr[16];
};

enum ag_block_reason {
	AG_BLOCK_MANUAL = 1,   /* authgate block add */
	AG_BLOCK_VERDICTS = 2, /* xdp.block_after drop verdicts */
};

struct ag_block {
	__u64 expires_ns; /* CLOCK_MONOTONIC; 0 = permanent */
	__u64 hits;       /* packets dropped by this entry (may undercount when
			   * several CPUs drop for it at once; see smtp_flow.bpf.c) */
	__u32 reason;     /* enum ag_block_reason */
	__u32 pad;
};

enum ag_steer_mode {
	AG_STEER_HASH = 0,  /* flow hash over the workers */
	AG_STEER_LEAST = 1, /* fewest open sessions (steer_load) */
};

/* steer_groups key: one listen address as the listening socket has it
 * (struct bpf_sock): each address has its own reuseport group, so two
 * `listen` lines on one port (IPv4 and IPv6) are two groups. */
struct ag_steer_group_key {
	__u32 family;  /* AF_INET (2) or AF_INET6 (10) */
	__u32 port;    /* host order */
	__u32 addr[4]; /* network order; IPv4 in addr[0], the rest 0 */
};

struct ag_steer_cfg {
	__u32 nworkers;
	__u32 mode; /* enum ag_steer_mode */
};

struct ag_worker_load {
	__u64 sessions; /* open sessions, written by the worker */
	__u64 steered;  /* connections the program picked it for */
};

/* verdicts: what the transaction log says, counted. Each check's result
 * has its own counter (AUTH_* order: none, pass, fail, softfail, neutral,
 * temperror, permerror, policy), so "how many failed DKIM" is one field. */
struct ag_check_results {
	__u64 none, pass, fail, softfail, neutral, temperror, permerror, policy;
};

struct ag_verdicts {
	__u64 transactions; /* log lines: the sum of the verdicts below */
	__u64 accept;
	__u64 drop;             /* rejected after the data: 550 */
	__u64 drop_discarded;   /* policy.drop_action = discard: 250, dropped */
	__u64 drop_quarantined; /* policy.drop_action = quarantine */
	__u64 drop_at_mail;     /* refused after MAIL FROM (SPF or SUBMITTER fail) */
	__u64 refused_size;
	__u64 tempfail;
	__u64 tempfail_timeout; /* timeouts.data_term */
	__u64 tempfail_local;   /* no memory for the verdict */
	__u64 abandoned;        /* ended without a reply to a message */
	struct ag_check_results spf, sender_id, dkim;
};

#endif
