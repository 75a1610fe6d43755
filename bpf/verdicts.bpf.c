// SPDX-License-Identifier: GPL-2.0
/*
 * verdicts — no program, one map: the daemon's transaction counters
 * (struct ag_verdicts, one slot per worker), defined here so that the map
 * carries BTF and `bpftool map dump` prints its fields by name. The
 * daemon loads this object whether XDP runs or not, pins the map under
 * bpf.pin_dir and writes the counters through a mapping (BPF_F_MMAPABLE):
 * no system call per transaction.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "authgate_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, AG_MAX_WORKERS);
	__type(key, __u32);
	__type(value, struct ag_verdicts);
} verdicts SEC(".maps");

char LICENSE[] SEC("license") = "GPL";
