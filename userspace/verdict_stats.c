/*
 * verdict_stats — see verdict_stats.h.
 */
#include "verdict_stats.h"

#include "bpf_layout.h"
#include "bpf_loader.h"
#include "bpf_maps.h"

#include "verdicts.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

_Static_assert(sizeof(struct ag_check_results) == AUTH_RESULT_COUNT * sizeof(__u64) &&
		       AUTH_POLICY + 1 == AUTH_RESULT_COUNT,
	       "one counter per auth_result, in its order");

static struct {
	struct verdicts *skel;
	struct ag_verdicts *slots; /* the map's memory, AG_MAX_WORKERS of them */
	size_t mapped;
} g;

static size_t page_round(size_t n)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	return (n + page - 1) / page * page;
}

static __u32 map_id(int fd)
{
	struct bpf_map_info info = {0};
	__u32 len = sizeof info;
	return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

/* Pin the map, unless the pin is this very map (reused before load). A
 * pin to another map (a daemon started at the same moment pinned its own)
 * would leave us counting where nobody reads: that is a failure. */
static int pin_or_check(struct bpf_map *map, const char *dir)
{
	char path[CONFIG_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/verdicts", dir);
	if (bpf_map__pin(map, path) == 0)
		return 0;
	if (errno != EEXIST)
		return -1;
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return -1;
	bool same = map_id(fd) == map_id(bpf_map__fd(map));
	close(fd);
	return same ? 0 : (errno = EEXIST, -1);
}

static int load_and_pin(const char *dir, const char **step)
{
	*step = "pin directory";
	if (bpf_pin_dir_ready(dir) < 0)
		return -1;
	*step = "open";
	if (!(g.skel = verdicts__open()))
		return -1;
	*step = "pinned map";
	if (bpf_reuse_pinned(g.skel->maps.verdicts, bpf_object__btf(g.skel->obj), dir) < 0)
		return -1;
	*step = "load";
	if (verdicts__load(g.skel) < 0)
		return -1;
	*step = "pin";
	if (pin_or_check(g.skel->maps.verdicts, dir) < 0)
		return -1;
	*step = "mmap";
	g.mapped = page_round(sizeof(struct ag_verdicts) * AG_MAX_WORKERS);
	void *p = mmap(NULL, g.mapped, PROT_READ | PROT_WRITE, MAP_SHARED,
		       bpf_map__fd(g.skel->maps.verdicts), 0);
	if (p == MAP_FAILED)
		return -1;
	g.slots = p;
	return 0;
}

bool verdict_stats_start(const struct config *cfg)
{
	const char *step;
	if (!cfg->bpf_verdicts) {
		log_notice("verdict counters off (bpf.verdicts = no); counting only in the log");
		return false;
	}
	if (load_and_pin(cfg->bpf_pin_dir, &step) == 0) {
		log_notice("verdict counters in %s/verdicts", cfg->bpf_pin_dir);
		return true;
	}
	int e = errno;
	log_notice("verdict counters: %s failed: %s%s; counting only in the log", step, strerror(e),
		   e == EPERM || e == EACCES ? " (needs root, or CAP_BPF and a bpffs it may write)" : "");
	verdicts__destroy(g.skel);
	g.skel = NULL;
	return false;
}

static void add(__u64 *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED); /* a slot may be shared past AG_MAX_WORKERS */
}

static void count_results(struct ag_check_results *r, enum auth_result result)
{
	__u64 *each = (__u64 *)r; /* AUTH_* order (authgate_maps.h) */
	if ((unsigned)result < sizeof *r / sizeof *each)
		add(&each[result]);
}

void verdict_stats_count(unsigned worker, const struct log_txn *t)
{
	if (!g.slots)
		return;
	struct ag_verdicts *v = &g.slots[worker % AG_MAX_WORKERS];
	add(&v->transactions);
	for (size_t i = 0; i < AG_VERDICT_FIELDS; i++)
		if (strcmp(t->verdict, ag_verdict_fields[i].log_word) == 0) {
			add((__u64 *)((char *)v + ag_verdict_fields[i].offset));
			break;
		}
	count_results(&v->spf, t->results[POLICY_SPF]);
	count_results(&v->sender_id, t->results[POLICY_SENDERID]);
	count_results(&v->dkim, t->results[POLICY_DKIM]);
}

void verdict_stats_stop(void)
{
	if (g.slots)
		munmap(g.slots, g.mapped);
	g.slots = NULL;
	verdicts__destroy(g.skel);
	g.skel = NULL;
}

int verdict_stats_layout_ok(int fd)
{
	struct verdicts *ref = verdicts__open(); /* opened, not loaded: its BTF */
	if (!ref)
		return -1;
	bool ok = bpf_layout_matches(fd, ref->maps.verdicts, bpf_object__btf(ref->obj));
	verdicts__destroy(ref);
	return ok;
}

int verdict_stats_read(int fd, struct ag_verdicts *out)
{
	memset(out, 0, sizeof *out);
	int ok = verdict_stats_layout_ok(fd);
	if (ok < 0)
		return -1;
	if (!ok)
		return errno = EPROTO, -1; /* a lookup would write past *out, or sum wrong fields */
	__u64 *sum = (__u64 *)out;
	for (__u32 slot = 0; slot < AG_MAX_WORKERS; slot++) {
		struct ag_verdicts v;
		if (bpf_map_lookup_elem(fd, &slot, &v) < 0)
			return -1;
		const __u64 *each = (const __u64 *)&v; /* all __u64, field by field */
		for (size_t i = 0; i < sizeof v / sizeof *each; i++)
			sum[i] += each[i];
	}
	return 0;
}
