/*
 * verdict_stats — the transaction log, counted: per verdict and per
 * check result (struct ag_verdicts, bpf/authgate_maps.h), in a BPF array
 * map pinned as <bpf.pin_dir>/verdicts, so that `bpftool map dump` and
 * `authgate verdicts` show how many transactions failed which check
 * without reading the log. bpf.verdicts = no turns it off.
 *
 * Owns: loading bpf/verdicts.bpf.c (whether XDP runs or not), pinning its
 * map (a pin with our layout is reused: the counters go on across
 * restarts; delete the pin to start again from zero), and the mapping the
 * workers count through. Each worker adds to its own slot, with no system
 * call. Without bpffs or the privileges for it, counting is off and the
 * daemon says so once; nothing else changes.
 */
#ifndef AUTHGATE_VERDICT_STATS_H
#define AUTHGATE_VERDICT_STATS_H

#include "config.h"
#include "log.h"

#include <stdbool.h>

/* Load, pin and map the counters; false (logged) when they are off. */
bool verdict_stats_start(const struct config *cfg);
/* One transaction line of worker w. Thread-safe; a no-op when off. */
void verdict_stats_count(unsigned worker, const struct log_txn *t);
/* Unmap; the pin and its counters stay. */
void verdict_stats_stop(void);

/* For `authgate verdicts`, with no daemon of its own. Whether fd (a pin)
 * is a verdicts map of this build's layout, BTF member by member
 * (bpf_layout.h): 1 or 0; -1 with errno set when this build's own
 * object cannot be opened (no memory). */
int verdict_stats_layout_ok(int fd);
/* Sum the map's slots (one per worker); -1 with errno set (EPROTO: the
 * map has another layout). */
struct ag_verdicts;
int verdict_stats_read(int fd, struct ag_verdicts *out);

#endif
