/* Unit tests: userspace/bpf_layout.c, the check that a pinned map has this
 * build's layout. The type comparison runs on BTF built here (no kernel
 * needed): the same struct through a typedef matches; swapped member
 * names, a moved offset, a nested struct's swapped members, another
 * array length, another struct name, a bit-field, a signed integer do
 * not. Then real maps (root and a BPF kernel, else a skip): the verdicts
 * map bpf/verdicts.bpf.c makes matches, and so does one of the same
 * sizes without BTF (libbpf makes our maps so when the kernel refuses
 * their BTF); maps of the same sizes made with a reordered struct, or
 * with other flags do not, and verdict_stats_read() refuses them (EPROTO)
 * rather than sum the wrong fields. Last, the daemon's side on a bpffs of
 * the test's own: bpf_reuse_pinned() reuses a genuine pin and removes a
 * reordered one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "userspace/bpf_layout.h"
#include "userspace/bpf_loader.h"
#include "userspace/bpf_maps.h"
#include "userspace/verdict_stats.h"
#include "verdicts.skel.h"

/* How a hand-built struct ag_verdicts differs from the real one. */
enum change {
	SAME,
	VIA_TYPEDEF,   /* every counter through a typedef: still the same */
	SWAP_TOP,      /* "accept" and "drop" trade names */
	SWAP_NESTED,   /* "pass" and "fail" trade names in ag_check_results */
	MOVE_OFFSET,   /* "accept" and "drop" in their order, at each other's offsets */
	RENAME_STRUCT, /* the same members under another struct name */
	SIGNED,        /* the counters are signed */
	BITFIELD,      /* "abandoned" a 63-bit field */
};

static const char *const results[] = {"none",    "pass",      "fail",      "softfail",
				      "neutral", "temperror", "permerror", "policy"};

static int add_results(struct btf *btf, int u64, enum change c)
{
	int id = btf__add_struct(btf, "ag_check_results", sizeof(struct ag_check_results));
	for (int i = 0; i < 8; i++) {
		int n = c == SWAP_NESTED && (i == 1 || i == 2) ? 3 - i : i;
		btf__add_field(btf, results[n], u64, (__u32)i * 64, 0);
	}
	return id;
}

/* struct ag_verdicts in btf, changed so; its type id. */
static int add_verdicts(struct btf *btf, enum change c)
{
	int u64 = btf__add_int(btf, "long long unsigned int", 8, c == SIGNED ? BTF_INT_SIGNED : 0);
	if (c == VIA_TYPEDEF)
		u64 = btf__add_typedef(btf, "__u64", u64);
	int res = add_results(btf, u64, c);
	int id = btf__add_struct(btf, c == RENAME_STRUCT ? "ag_verdicts_v2" : "ag_verdicts",
				 sizeof(struct ag_verdicts));
	btf__add_field(btf, "transactions", u64, 0, 0);
	for (size_t i = 0; i < AG_VERDICT_FIELDS; i++) {
		size_t name = i, at = i; /* which field's name, which field's offset */
		if (c == SWAP_TOP && i < 2)
			name = 1 - i;
		if (c == MOVE_OFFSET && i < 2)
			at = 1 - i;
		btf__add_field(btf, ag_verdict_fields[name].name, u64,
			       (__u32)ag_verdict_fields[at].offset * 8,
			       c == BITFIELD && i == AG_VERDICT_FIELDS - 1 ? 63 : 0);
	}
	for (size_t i = 0; i < AG_VERDICT_CHECKS; i++)
		btf__add_field(btf, ag_verdict_checks[i].name, res, (__u32)ag_verdict_checks[i].offset * 8,
			       0);
	return id;
}

static bool compare(enum change a, enum change b)
{
	struct btf *x = btf__new_empty(), *y = btf__new_empty();
	assert_non_null(x);
	assert_non_null(y);
	int ix = add_verdicts(x, a), iy = add_verdicts(y, b);
	assert_true(ix > 0 && iy > 0);
	bool same = bpf_layout_same_type(x, (unsigned)ix, y, (unsigned)iy);
	btf__free(x);
	btf__free(y);
	return same;
}

static void same_struct_matches(void **state)
{
	(void)state;
	assert_true(compare(SAME, SAME));
	assert_true(compare(SAME, VIA_TYPEDEF)); /* typedefs are looked through */
	assert_true(compare(VIA_TYPEDEF, SAME));
}

static void reordered_or_retyped_struct_does_not(void **state)
{
	(void)state;
	assert_false(compare(SAME, SWAP_TOP));
	assert_false(compare(SAME, SWAP_NESTED));
	assert_false(compare(SAME, MOVE_OFFSET));
	assert_false(compare(SWAP_TOP, MOVE_OFFSET)); /* same names at other offsets */
	assert_false(compare(SAME, RENAME_STRUCT));
	assert_false(compare(SAME, SIGNED));
	assert_false(compare(SAME, BITFIELD));
}

static void arrays_compare_length_and_element(void **state)
{
	(void)state;
	struct btf *b = btf__new_empty();
	int u32 = btf__add_int(b, "unsigned int", 4, 0), u8 = btf__add_int(b, "unsigned char", 1, 0);
	int a4 = btf__add_array(b, u32, u32, 4), a4b = btf__add_array(b, u32, u32, 4);
	int a5 = btf__add_array(b, u32, u32, 5), c16 = btf__add_array(b, u32, u8, 16);
	assert_true(bpf_layout_same_type(b, (unsigned)a4, b, (unsigned)a4b));
	assert_false(bpf_layout_same_type(b, (unsigned)a4, b, (unsigned)a5));
	assert_false(bpf_layout_same_type(b, (unsigned)a4, b, (unsigned)c16)); /* 16 bytes each */
	assert_false(bpf_layout_same_type(b, (unsigned)u32, b, (unsigned)a4));
	assert_false(bpf_layout_same_type(b, 9999, b, (unsigned)u32)); /* no such type */
	btf__free(b);
}

/* ------------------------------------------------ maps in the kernel */

static struct verdicts *loaded; /* the real map; NULL without BPF */
static char why[200];

static int group_setup(void **state)
{
	(void)state;
	libbpf_set_print(NULL);
	loaded = verdicts__open_and_load();
	if (!loaded) {
		snprintf(why, sizeof why, "cannot load BPF (%s): needs root and a BPF kernel",
			 strerror(errno));
		fprintf(stdout, "# %s\n", why);
	}
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	verdicts__destroy(loaded);
	return 0;
}

/* A verdicts-sized array made with the struct changed so (or with no BTF:
 * with_btf false), with these flags; its fd. */
static int make_map(enum change c, bool with_btf, __u32 flags)
{
	struct btf *btf = btf__new_empty();
	assert_non_null(btf);
	int key = btf__add_int(btf, "unsigned int", 4, 0), value = add_verdicts(btf, c);
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = flags);
	if (with_btf) {
		assert_int_equal(btf__load_into_kernel(btf), 0);
		o.btf_fd = (__u32)btf__fd(btf);
		o.btf_key_type_id = (__u32)key;
		o.btf_value_type_id = (__u32)value;
	}
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "verdicts", 4, sizeof(struct ag_verdicts),
				AG_MAX_WORKERS, &o);
	btf__free(btf); /* the map keeps its own reference */
	assert_true(fd >= 0);
	return fd;
}

static void real_maps(void **state)
{
	(void)state;
	if (!loaded)
		skip();
	struct verdicts *ref = verdicts__open();
	assert_non_null(ref);
	const struct bpf_map *map = ref->maps.verdicts;
	const struct btf *btf = bpf_object__btf(ref->obj);
	assert_true(bpf_layout_matches(bpf_map__fd(loaded->maps.verdicts), map, btf));
	assert_int_equal(verdict_stats_layout_ok(bpf_map__fd(loaded->maps.verdicts)), 1);

	struct {
		enum change c;
		bool btf, match;
		__u32 flags;
	} cases[] = {
		{SAME, true, true, BPF_F_MMAPABLE},
		{VIA_TYPEDEF, true, true, BPF_F_MMAPABLE},
		{SWAP_TOP, true, false, BPF_F_MMAPABLE},
		{SWAP_NESTED, true, false, BPF_F_MMAPABLE},
		{SAME, false, true, BPF_F_MMAPABLE},  /* no BTF: the sizes decide */
		{SAME, false, false, 0},
		{SAME, true, false, 0},               /* not mmapable */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int fd = make_map(cases[i].c, cases[i].btf, cases[i].flags);
		if (bpf_layout_matches(fd, map, btf) != cases[i].match)
			fail_msg("case %zu: change %d, btf %d, flags %u: want %s", i, cases[i].c,
				 cases[i].btf, cases[i].flags, cases[i].match ? "a match" : "none");
		struct ag_verdicts v;
		int rc = verdict_stats_read(fd, &v);
		assert_int_equal(rc, cases[i].match ? 0 : -1);
		if (!cases[i].match)
			assert_int_equal(errno, EPROTO);
		close(fd);
	}
	verdicts__destroy(ref);
}

/* A bpffs of this test's own, so that nothing lands in the host's. */
static char bpffs[] = "/tmp/authgate-bpffs.XXXXXX";
static bool mounted;

static int mount_bpffs(void **state)
{
	(void)state;
	mounted = loaded && mkdtemp(bpffs) && mount("bpf", bpffs, "bpf", 0, NULL) == 0;
	return 0;
}

static int unmount_bpffs(void **state)
{
	(void)state;
	if (mounted)
		umount(bpffs);
	rmdir(bpffs);
	return 0;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info;
	__u32 len = sizeof info;
	memset(&info, 0, sizeof info);
	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

/* Pin fd as bpffs/verdicts, run bpf_reuse_pinned for a freshly opened
 * verdicts object, load it; whether the loaded map is the pinned one
 * (reused), and in *kept whether the pin is still there. */
static bool reused(int fd, bool *kept)
{
	char path[64];
	snprintf(path, sizeof path, "%s/verdicts", bpffs);
	unlink(path);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	struct verdicts *fresh = verdicts__open();
	assert_non_null(fresh);
	assert_int_equal(bpf_reuse_pinned(fresh->maps.verdicts, bpf_object__btf(fresh->obj), bpffs), 0);
	*kept = access(path, F_OK) == 0;
	assert_int_equal(verdicts__load(fresh), 0);
	bool same = map_id(bpf_map__fd(fresh->maps.verdicts)) == map_id(fd);
	verdicts__destroy(fresh);
	unlink(path);
	return same;
}

static void daemon_reuses_or_replaces(void **state)
{
	(void)state;
	if (!mounted)
		skip();
	bool kept;
	assert_true(reused(bpf_map__fd(loaded->maps.verdicts), &kept));
	assert_true(kept);
	int fd = make_map(SWAP_TOP, true, BPF_F_MMAPABLE);
	assert_false(reused(fd, &kept)); /* a fresh map, not the stale one */
	assert_false(kept);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_struct_matches),
		cmocka_unit_test(reordered_or_retyped_struct_does_not),
		cmocka_unit_test(arrays_compare_length_and_element),
		cmocka_unit_test(real_maps),
		cmocka_unit_test_setup_teardown(daemon_reuses_or_replaces, mount_bpffs, unmount_bpffs),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
