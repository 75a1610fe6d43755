/*
 * bpf_loader — the daemon's BPF side: loads bpf/smtp_flow.bpf.c and
 * bpf/steer.bpf.c through their skeletons, pins flows/stats/blocklist/
 * blocklist_gen under bpf.pin_dir (stale pins with another layout are
 * replaced, never reused), attaches XDP (native, else generic with a log
 * line), attaches the SK_REUSEPORT program over the workers' listeners,
 * feeds drop verdicts back into the blocklist, and detaches cleanly on
 * shutdown.
 *
 * Everything degrades: no privileges, no bpffs, xdp.interface = none →
 * the daemon runs without XDP and says so once. One instance per process
 * (the daemon's); the verdict hook is thread-safe.
 */
#ifndef AUTHGATE_BPF_LOADER_H
#define AUTHGATE_BPF_LOADER_H

#include "config.h"

#include <stdbool.h>
#include <sys/socket.h>

/* Load, pin and attach XDP per cfg. Returns 0 when XDP is on, -1 when the
 * daemon runs without it (already logged). Never fatal. */
int bpf_xdp_start(const struct config *cfg);

/* Attach the SK_REUSEPORT program: fds[w * nlisten + l] is worker w's
 * listener for listen address l (already listening). 0, or -1 (logged;
 * the kernel's hash keeps spreading connections). */
int bpf_steer_start(const struct config *cfg, const int *fds, unsigned nworkers,
		    unsigned nlisten);

/* Open sessions of worker w changed by delta (steer least-loaded mode). */
void bpf_steer_load(unsigned worker, int delta);

/* A drop verdict from peer (tempfails never come here): counts toward
 * xdp.block_after within xdp.block_window. */
void bpf_verdict_drop(const struct sockaddr_storage *peer);

/* Delete expired blocklist entries and store a new blocklist generation
 * (the daemon calls this once a second). */
void bpf_sweep(void);

/* Detach XDP and the steer program, unpin flows, stats and blocklist_gen
 * (and the blocklist unless bpf.keep_blocklist). */
void bpf_stop(void);

bool bpf_xdp_active(void);

/* For the other pinned maps (verdict_stats.c). mkdir -p dir, with bpffs
 * mounted on /sys/fs/bpf when it is missing there; -1 with errno set (also
 * when dir is not on a bpffs). */
int bpf_pin_dir_ready(const char *dir);
/* Before load: reuse dir/<map name> when its layout is the map's
 * (bpf_layout.h; btf: the map's object's), otherwise remove the stale pin
 * so that the fresh map can be pinned. */
struct bpf_map;
struct btf;
int bpf_reuse_pinned(struct bpf_map *map, const struct btf *btf, const char *dir);

#endif
