/*
 * bpf_layout — see bpf_layout.h.
 */
#include "bpf_layout.h"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <string.h>

#define NEST_MAX 8 /* struct in struct in array ...: ours go two deep */

static bool same_name(const struct btf *a, __u32 a_off, const struct btf *b, __u32 b_off)
{
	const char *x = btf__name_by_offset(a, a_off), *y = btf__name_by_offset(b, b_off);
	return x && y && strcmp(x, y) == 0;
}

static bool same_type_at(const struct btf *a, __u32 ai, const struct btf *b, __u32 bi, int depth);

static bool same_members(const struct btf *a, const struct btf_type *ta, const struct btf *b,
			 const struct btf_type *tb, int depth)
{
	if (ta->size != tb->size || btf_vlen(ta) != btf_vlen(tb) ||
	    !same_name(a, ta->name_off, b, tb->name_off))
		return false;
	const struct btf_member *ma = btf_members(ta), *mb = btf_members(tb);
	for (__u32 i = 0; i < btf_vlen(ta); i++) {
		if (!same_name(a, ma[i].name_off, b, mb[i].name_off) ||
		    btf_member_bit_offset(ta, i) != btf_member_bit_offset(tb, i) ||
		    btf_member_bitfield_size(ta, i) != btf_member_bitfield_size(tb, i) ||
		    !same_type_at(a, ma[i].type, b, mb[i].type, depth + 1))
			return false;
	}
	return true;
}

static bool same_type_at(const struct btf *a, __u32 ai, const struct btf *b, __u32 bi, int depth)
{
	int ra = btf__resolve_type(a, ai), rb = btf__resolve_type(b, bi);
	if (depth > NEST_MAX || ra < 0 || rb < 0)
		return false;
	const struct btf_type *ta = btf__type_by_id(a, (__u32)ra), *tb = btf__type_by_id(b, (__u32)rb);
	if (!ta || !tb || btf_kind(ta) != btf_kind(tb))
		return false;
	switch (btf_kind(ta)) {
	case BTF_KIND_INT:
		return ta->size == tb->size && btf_int_encoding(ta) == btf_int_encoding(tb) &&
		       btf_int_bits(ta) == btf_int_bits(tb) && btf_int_offset(ta) == btf_int_offset(tb);
	case BTF_KIND_ARRAY:
		return btf_array(ta)->nelems == btf_array(tb)->nelems &&
		       same_type_at(a, btf_array(ta)->type, b, btf_array(tb)->type, depth + 1);
	case BTF_KIND_STRUCT:
	case BTF_KIND_UNION:
		return same_members(a, ta, b, tb, depth);
	case BTF_KIND_ENUM:
	case BTF_KIND_ENUM64:
	case BTF_KIND_FLOAT:
		return ta->size == tb->size;
	case BTF_KIND_PTR:
		return true;
	default: /* not a type a map's key or value is made of */
		return false;
	}
}

bool bpf_layout_same_type(const struct btf *a, unsigned a_id, const struct btf *b, unsigned b_id)
{
	return same_type_at(a, a_id, b, b_id, 0);
}

static bool same_sizes(const struct bpf_map_info *info, const struct bpf_map *map)
{
	return info->type == bpf_map__type(map) && info->key_size == bpf_map__key_size(map) &&
	       info->value_size == bpf_map__value_size(map) &&
	       info->max_entries == bpf_map__max_entries(map) &&
	       info->map_flags == bpf_map__map_flags(map);
}

/* Compare a key or value type when this build names one. */
static bool same_btf_id(const struct btf *pinned, __u32 pinned_id, const struct btf *ours,
			__u32 our_id)
{
	if (!our_id)
		return true;
	return pinned_id && bpf_layout_same_type(pinned, pinned_id, ours, our_id);
}

bool bpf_layout_matches(int pinned_fd, const struct bpf_map *map, const struct btf *btf)
{
	struct bpf_map_info info;
	__u32 len = sizeof info;
	memset(&info, 0, sizeof info);
	if (bpf_obj_get_info_by_fd(pinned_fd, &info, &len) < 0 || !same_sizes(&info, map))
		return false;
	__u32 key = bpf_map__btf_key_type_id(map), value = bpf_map__btf_value_type_id(map);
	/* A pin without BTF may be our own: libbpf makes a map without when
	 * the kernel refuses the object's BTF. Then, as when the pin's BTF
	 * may not be read, the sizes decide. */
	if (!btf || (!key && !value) || !info.btf_id)
		return true;
	struct btf *pinned = btf__load_from_kernel_by_id(info.btf_id);
	if (!pinned)
		return true;
	bool same = same_btf_id(pinned, info.btf_key_type_id, btf, key) &&
		    same_btf_id(pinned, info.btf_value_type_id, btf, value);
	btf__free(pinned);
	return same;
}
