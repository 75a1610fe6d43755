// SPDX-License-Identifier: GPL-2.0
/*
 * steer — SK_REUSEPORT: pick the worker listener for each new connection.
 *
 * Every worker has its own SO_REUSEPORT listener per `listen` address; the
 * listeners of one address form one reuseport group. Userspace fills
 * steer_groups (listen address → group index) and steer_socks (group *
 * AG_MAX_WORKERS + worker → that worker's listener, set after listen()).
 * Mode AG_STEER_HASH picks worker = flow hash % nworkers; AG_STEER_LEAST
 * picks the worker with the fewest open sessions in steer_load (each
 * worker writes its own slot). When anything is missing (no group, empty
 * slot) the program returns SK_PASS without selecting and the kernel's
 * own hash picks, so a half-set-up map never refuses a connection.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "authgate_maps.h"

#define AF_INET6_ 10 /* vmlinux.h has no #defines */

struct {
	__uint(type, BPF_MAP_TYPE_REUSEPORT_SOCKARRAY);
	__uint(max_entries, AG_MAX_WORKERS * AG_MAX_GROUPS);
	__type(key, __u32);
	__type(value, __u64);
} steer_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, AG_MAX_GROUPS);
	__type(key, struct ag_steer_group_key);
	__type(value, __u32);
} steer_groups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, AG_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct ag_worker_load);
} steer_load SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct ag_steer_cfg);
} steer_cfg SEC(".maps");

static __always_inline __u32 least_loaded(__u32 n, __u32 hash)
{
	__u32 best = hash % n;
	__u64 best_load = ~0ULL;
	for (__u32 i = 0; i < AG_MAX_WORKERS; i++) {
		if (i >= n)
			break;
		__u32 w = (i + hash) % n; /* start at a hash-chosen worker: ties spread */
		struct ag_worker_load *l = bpf_map_lookup_elem(&steer_load, &w);
		if (l && l->sessions < best_load) {
			best_load = l->sessions;
			best = w;
		}
	}
	return best;
}

SEC("sk_reuseport")
int steer(struct sk_reuseport_md *ctx)
{
	__u32 zero = 0;
	struct ag_steer_cfg *cfg = bpf_map_lookup_elem(&steer_cfg, &zero);
	if (!cfg || cfg->nworkers == 0 || cfg->nworkers > AG_MAX_WORKERS)
		return SK_PASS;
	struct bpf_sock *sk = ctx->sk;
	if (!sk)
		return SK_PASS;
	/* the listener's own address: a port alone would mix the groups of
	 * an IPv4 and an IPv6 listen line on it */
	struct ag_steer_group_key gk = {.family = sk->family, .port = sk->src_port};
	if (gk.family == AF_INET6_) {
		gk.addr[0] = sk->src_ip6[0];
		gk.addr[1] = sk->src_ip6[1];
		gk.addr[2] = sk->src_ip6[2];
		gk.addr[3] = sk->src_ip6[3];
	} else {
		gk.addr[0] = sk->src_ip4;
	}
	__u32 *group = bpf_map_lookup_elem(&steer_groups, &gk);
	if (!group || *group >= AG_MAX_GROUPS)
		return SK_PASS;
	__u32 n = cfg->nworkers;
	__u32 w = cfg->mode == AG_STEER_LEAST ? least_loaded(n, ctx->hash) : ctx->hash % n;
	__u32 key = *group * AG_MAX_WORKERS + w;
	if (bpf_sk_select_reuseport(ctx, &steer_socks, &key, 0) == 0) {
		struct ag_worker_load *l = bpf_map_lookup_elem(&steer_load, &w);
		if (l)
			__sync_fetch_and_add(&l->steered, 1);
	}
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
