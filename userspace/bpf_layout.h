/*
 * bpf_layout — whether a map someone pinned has the layout this build's
 * object gives the map of that name: map type, key and value sizes,
 * entries and flags, and, when both carry BTF, the key and value types
 * member by member (names, offsets, sizes, bit-fields, nested structs and
 * arrays).
 *
 * Owns that comparison, for the daemon (reuse a pin or replace it) and
 * for the CLI (read a pin or refuse it). Sizes alone are not enough: a
 * build of another version whose struct has the same size with its
 * counters in another order would have each worker add to the wrong
 * field, and `authgate verdicts` print one counter's figure under
 * another's name.
 */
#ifndef AUTHGATE_BPF_LAYOUT_H
#define AUTHGATE_BPF_LAYOUT_H

#include <stdbool.h>

struct bpf_map;
struct btf;

/* Whether the map behind pinned_fd is laid out as `map` (of an opened
 * bpf_object; btf: that object's BTF, bpf_object__btf(), NULL without).
 * When the pin has no BTF (libbpf makes maps without when the kernel
 * refuses an object's BTF), or its BTF cannot be read
 * (BPF_BTF_GET_FD_BY_ID needs CAP_SYS_ADMIN), the sizes and flags
 * decide. */
bool bpf_layout_matches(int pinned_fd, const struct bpf_map *map, const struct btf *btf);

/* The types a_id of a and b_id of b describe the same memory layout:
 * typedefs and qualifiers looked through, struct and member names,
 * offsets and sizes compared, nested types to a fixed depth. */
bool bpf_layout_same_type(const struct btf *a, unsigned a_id, const struct btf *b, unsigned b_id);

#endif
