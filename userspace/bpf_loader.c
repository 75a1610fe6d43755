/*
 * bpf_loader — see bpf_loader.h.
 */
#include "bpf_loader.h"

#include "bpf_layout.h"
#include "bpf_maps.h"
#include "log.h"

#include "smtp_flow.skel.h"
#include "steer.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#ifndef BPF_FS_MAGIC
#define BPF_FS_MAGIC 0xcafe4a11
#endif
#ifndef SO_ATTACH_REUSEPORT_EBPF
#define SO_ATTACH_REUSEPORT_EBPF 52
#endif
#ifndef SO_DETACH_REUSEPORT_BPF
#define SO_DETACH_REUSEPORT_BPF 68
#endif

#define FEEDBACK_SLOTS 4096

struct feedback {
	struct ag_block_key key; /* prefixlen 0: empty */
	unsigned count;
	uint64_t window_start_ns;
};

static struct {
	const struct config *cfg;
	struct smtp_flow *flow;
	struct steer *steer;
	int ifindex;
	__u32 xdp_flags;
	bool xdp_on;
	atomic_bool steer_least; /* set last: workers read it without the lock */
	int steer_fds[AG_MAX_GROUPS]; /* one listener per group carries the program */
	unsigned ngroups;
	pthread_mutex_t lock;
	struct feedback fb[FEEDBACK_SLOTS];
} g = {.lock = PTHREAD_MUTEX_INITIALIZER};

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	/* the daemon logs one line per failure itself; libbpf's detail
	 * (verifier log included) on request */
	(void)level;
	return getenv("AUTHGATE_BPF_DEBUG") ? vfprintf(stderr, fmt, ap) : 0;
}

int bpf_pin_dir_ready(const char *dir)
{
	struct statfs fs;
	if (strncmp(dir, "/sys/fs/bpf", 11) == 0 &&
	    (statfs("/sys/fs/bpf", &fs) < 0 || fs.f_type != BPF_FS_MAGIC) &&
	    mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") < 0)
		return -1;
	char path[CONFIG_PATH_MAX];
	snprintf(path, sizeof path, "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -1;
	if (statfs(path, &fs) < 0)
		return -1;
	if (fs.f_type != BPF_FS_MAGIC)
		return errno = ENOTSUP, -1;
	return 0;
}

int bpf_reuse_pinned(struct bpf_map *map, const struct btf *btf, const char *dir)
{
	char path[CONFIG_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", dir, bpf_map__name(map));
	int fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? 0 : -1;
	if (bpf_layout_matches(fd, map, btf)) {
		int rc = bpf_map__reuse_fd(map, fd);
		close(fd);
		return rc;
	}
	close(fd);
	log_notice("bpf: %s has another layout; replacing the stale pin", path);
	return unlink(path);
}

static int pin_maps(const char *dir)
{
	struct bpf_map *maps[] = {g.flow->maps.flows, g.flow->maps.stats, g.flow->maps.blocklist,
				  g.flow->maps.blocklist_gen};
	for (size_t i = 0; i < sizeof maps / sizeof maps[0]; i++) {
		char path[CONFIG_PATH_MAX + 32];
		snprintf(path, sizeof path, "%s/%s", dir, bpf_map__name(maps[i]));
		if (bpf_map__is_pinned(maps[i]))
			continue;
		if (bpf_map__pin(maps[i], path) < 0 && errno != EEXIST)
			return -1;
	}
	return 0;
}

static void unpin(const char *name)
{
	char path[CONFIG_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/%s", g.cfg->bpf_pin_dir, name);
	unlink(path);
}

static void set_ports(const struct config *cfg)
{
	int fd = bpf_map__fd(g.flow->maps.ports);
	__u8 one = 1;
	__u32 defaults[] = {25, 465, 587};
	for (size_t i = 0; i < 3; i++)
		bpf_map_update_elem(fd, &defaults[i], &one, BPF_ANY);
	for (unsigned i = 0; i < cfg->nlisten; i++) {
		const struct sockaddr_storage *ss = &cfg->listen[i].addr;
		__u32 port = ntohs(ss->ss_family == AF_INET
					   ? ((const struct sockaddr_in *)ss)->sin_port
					   : ((const struct sockaddr_in6 *)ss)->sin6_port);
		bpf_map_update_elem(fd, &port, &one, BPF_ANY);
	}
}

/* Is the program attached in this mode one of ours, left by a daemon that
 * died without detaching (kill -9)? Then it may be replaced. */
static bool stale_own_program(__u32 mode_flag)
{
	__u32 id = 0;
	if (bpf_xdp_query_id(g.ifindex, (int)mode_flag, &id) < 0 || !id)
		return false;
	int fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return false;
	struct bpf_prog_info info = {0};
	__u32 len = sizeof info;
	bool ours = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
		    strncmp(info.name, "xdp_smtp", 8) == 0;
	close(fd);
	return ours;
}

/* Attach in one mode; a stale authgate program there is replaced. */
static int attach_mode(int prog_fd, __u32 mode_flag)
{
	__u32 flags = XDP_FLAGS_UPDATE_IF_NOEXIST | mode_flag;
	if (bpf_xdp_attach(g.ifindex, prog_fd, flags, NULL) == 0) {
		g.xdp_flags = flags;
		return 0;
	}
	if (errno != EEXIST && errno != EBUSY)
		return -1;
	if (!stale_own_program(mode_flag))
		return errno = EEXIST, -1;
	if (bpf_xdp_attach(g.ifindex, prog_fd, mode_flag, NULL) < 0)
		return -1;
	log_notice("XDP on %s: replaced a stale authgate program", g.cfg->xdp_interface);
	g.xdp_flags = flags;
	return 0;
}

static int attach_xdp(const struct config *cfg)
{
	bool lo = strcmp(cfg->xdp_interface, "lo") == 0;
	bool try_native = strcmp(cfg->xdp_mode, "generic") != 0 && !lo;
	if (try_native) {
		if (attach_mode(bpf_program__fd(g.flow->progs.xdp_smtp), XDP_FLAGS_DRV_MODE) == 0)
			return 0;
		if (strcmp(cfg->xdp_mode, "native") == 0)
			return -1;
		log_notice("XDP on %s: native mode failed (%s); using generic mode",
			   cfg->xdp_interface, strerror(errno));
	}
	/* generic: the frags variant, so GSO super-packets on lo count whole */
	return attach_mode(bpf_program__fd(g.flow->progs.xdp_smtp_frags), XDP_FLAGS_SKB_MODE);
}

int bpf_xdp_start(const struct config *cfg)
{
	g.cfg = cfg;
	libbpf_set_print(libbpf_quiet);
	const char *ifname = cfg->xdp_interface;
	if (strcmp(ifname, "none") == 0 || !ifname[0]) {
		log_notice("XDP off (xdp.interface = none); running without it");
		return -1;
	}
	const char *step = "interface";
	if (!(g.ifindex = (int)if_nametoindex(ifname)))
		goto fail;
	step = "pin directory";
	if (bpf_pin_dir_ready(cfg->bpf_pin_dir) < 0)
		goto fail;
	step = "open";
	if (!(g.flow = smtp_flow__open()))
		goto fail;
	step = "pinned maps";
	const struct btf *btf = bpf_object__btf(g.flow->obj);
	if (bpf_reuse_pinned(g.flow->maps.flows, btf, cfg->bpf_pin_dir) < 0 ||
	    bpf_reuse_pinned(g.flow->maps.stats, btf, cfg->bpf_pin_dir) < 0 ||
	    bpf_reuse_pinned(g.flow->maps.blocklist, btf, cfg->bpf_pin_dir) < 0 ||
	    bpf_reuse_pinned(g.flow->maps.blocklist_gen, btf, cfg->bpf_pin_dir) < 0)
		goto fail;
	step = "load";
	if (smtp_flow__load(g.flow) < 0)
		goto fail;
	step = "pin";
	if (pin_maps(cfg->bpf_pin_dir) < 0)
		goto fail;
	set_ports(cfg);
	step = "attach";
	if (attach_xdp(cfg) < 0)
		goto fail;
	g.xdp_on = true;
	log_notice("XDP on %s (%s mode), maps pinned in %s", ifname,
		   (g.xdp_flags & XDP_FLAGS_DRV_MODE) ? "native" : "generic", cfg->bpf_pin_dir);
	return 0;
fail:;
	int e = errno;
	log_notice("XDP on %s: %s failed: %s%s; running without XDP", ifname, step, strerror(e),
		   e == EPERM || e == EACCES ? " (needs root or CAP_BPF + CAP_NET_ADMIN)" : "");
	smtp_flow__destroy(g.flow);
	g.flow = NULL;
	return -1;
}

bool bpf_xdp_active(void)
{
	return g.xdp_on;
}

/* The steer_groups key of a listen address: as its listener's bpf_sock
 * has it. */
static struct ag_steer_group_key group_key(const struct config_listen *l)
{
	struct ag_steer_group_key k = {.family = l->addr.ss_family};
	if (l->addr.ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)&l->addr;
		k.port = ntohs(s4->sin_port);
		memcpy(k.addr, &s4->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)&l->addr;
		k.port = ntohs(s6->sin6_port);
		memcpy(k.addr, &s6->sin6_addr, 16);
	}
	return k;
}

int bpf_steer_start(const struct config *cfg, const int *fds, unsigned nworkers,
		    unsigned nlisten)
{
	g.cfg = cfg;
	if (strcmp(cfg->bpf_steer, "off") == 0 || nworkers < 2)
		return -1;
	/* config.c lets through only hash, least or off */
	__u32 mode = strcmp(cfg->bpf_steer, "least") == 0 ? AG_STEER_LEAST : AG_STEER_HASH;
	if (nworkers > AG_MAX_WORKERS || nlisten > AG_MAX_GROUPS) {
		log_notice("SK_REUSEPORT steering off: more than %d workers or %d listeners",
			   AG_MAX_WORKERS, AG_MAX_GROUPS);
		return -1;
	}
	libbpf_set_print(libbpf_quiet);
	const char *step = "load";
	if (!(g.steer = steer__open_and_load()))
		goto fail;
	struct ag_steer_cfg sc = {.nworkers = nworkers, .mode = mode};
	__u32 zero = 0;
	step = "maps";
	if (bpf_map_update_elem(bpf_map__fd(g.steer->maps.steer_cfg), &zero, &sc, BPF_ANY) < 0)
		goto fail;
	for (unsigned l = 0; l < nlisten; l++) {
		/* the same address twice is one reuseport group: the first index */
		struct ag_steer_group_key gk = group_key(&cfg->listen[l]);
		__u32 group = l;
		if (bpf_map_update_elem(bpf_map__fd(g.steer->maps.steer_groups), &gk, &group,
					BPF_NOEXIST) < 0 && errno != EEXIST)
			goto fail;
		for (unsigned w = 0; w < nworkers; w++) {
			__u32 key = l * AG_MAX_WORKERS + w;
			__u64 fd = (__u64)fds[w * nlisten + l];
			if (bpf_map_update_elem(bpf_map__fd(g.steer->maps.steer_socks), &key, &fd,
						BPF_ANY) < 0)
				goto fail;
		}
	}
	step = "SO_ATTACH_REUSEPORT_EBPF";
	int prog = bpf_program__fd(g.steer->progs.steer);
	for (unsigned l = 0; l < nlisten; l++) {
		int fd = fds[l]; /* worker 0's listener: the program covers its group */
		if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_EBPF, &prog, sizeof prog) < 0)
			goto fail;
		g.steer_fds[g.ngroups++] = fd;
	}
	atomic_store(&g.steer_least, mode == AG_STEER_LEAST);
	log_notice("SK_REUSEPORT steering over %u workers (%s)", nworkers,
		   mode == AG_STEER_LEAST ? "least loaded" : "flow hash");
	return 0;
fail:
	log_notice("SK_REUSEPORT steering: %s failed: %s; the kernel's hash spreads connections",
		   step, strerror(errno));
	for (unsigned i = 0; i < g.ngroups; i++)
		setsockopt(g.steer_fds[i], SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof zero);
	g.ngroups = 0;
	steer__destroy(g.steer);
	g.steer = NULL;
	return -1;
}

void bpf_steer_load(unsigned worker, int delta)
{
	if (!atomic_load(&g.steer_least) || worker >= AG_MAX_WORKERS)
		return;
	__u32 key = worker;
	struct ag_worker_load v;
	int fd = bpf_map__fd(g.steer->maps.steer_load);
	/* Only the worker itself writes .sessions; .steered is the program's
	 * (a lost increment there only skews a statistic). */
	if (bpf_map_lookup_elem(fd, &key, &v) == 0) {
		v.sessions = delta < 0 && v.sessions < (__u64)-delta ? 0 : v.sessions + delta;
		bpf_map_update_elem(fd, &key, &v, BPF_EXIST);
	}
}

void bpf_verdict_drop(const struct sockaddr_storage *peer)
{
	const struct config *cfg = g.cfg;
	if (!g.xdp_on || !cfg || cfg->xdp_block_after == 0)
		return;
	struct ag_block_key k;
	ag_block_key_of(peer, &k);
	uint64_t now = ag_now_ns(), window = (uint64_t)cfg->xdp_block_window * 1000000000ull;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < sizeof k.addr; i++)
		h = (h ^ k.addr[i]) * 16777619u;
	pthread_mutex_lock(&g.lock);
	struct feedback *f = &g.fb[h % FEEDBACK_SLOTS];
	/* one slot per hash bucket: a colliding address takes the slot over
	 * (an undercount, never a wrong block) */
	if (f->key.prefixlen == 0 || memcmp(&f->key, &k, sizeof k) != 0 ||
	    now - f->window_start_ns > window) {
		f->key = k;
		f->count = 0;
		f->window_start_ns = now;
	}
	bool block = ++f->count >= cfg->xdp_block_after;
	if (block)
		memset(f, 0, sizeof *f);
	pthread_mutex_unlock(&g.lock);
	if (!block)
		return;
	char text[64];
	ag_prefix_format(&k, text, sizeof text);
	if (ag_block_add(bpf_map__fd(g.flow->maps.blocklist),
			 bpf_map__fd(g.flow->maps.blocklist_gen), &k, cfg->xdp_block_ttl,
			 AG_BLOCK_VERDICTS) == 0)
		log_notice("xdp: blocked %s for %us after %u drop verdicts within %us", text,
			   cfg->xdp_block_ttl, cfg->xdp_block_after, cfg->xdp_block_window);
	else
		log_notice("xdp: could not block %s: %s", text, strerror(errno));
}

void bpf_sweep(void)
{
	if (!g.xdp_on)
		return;
	ag_block_sweep(bpf_map__fd(g.flow->maps.blocklist), ag_now_ns());
	/* entries added with bpftool directly reach known flows within a second */
	ag_block_gen_bump(bpf_map__fd(g.flow->maps.blocklist_gen));
}

void bpf_stop(void)
{
	int zero = 0;
	atomic_store(&g.steer_least, false);
	for (unsigned i = 0; i < g.ngroups; i++)
		setsockopt(g.steer_fds[i], SOL_SOCKET, SO_DETACH_REUSEPORT_BPF, &zero, sizeof zero);
	g.ngroups = 0;
	steer__destroy(g.steer);
	g.steer = NULL;
	if (g.flow) {
		if (g.xdp_on) {
			LIBBPF_OPTS(bpf_xdp_attach_opts, o,
				    .old_prog_fd = bpf_program__fd((g.xdp_flags & XDP_FLAGS_DRV_MODE)
									   ? g.flow->progs.xdp_smtp
									   : g.flow->progs.xdp_smtp_frags));
			bpf_xdp_detach(g.ifindex, (g.xdp_flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST) |
							  XDP_FLAGS_REPLACE, &o);
			unpin("flows");
			unpin("stats");
			unpin("blocklist_gen");
			if (!g.cfg->bpf_keep_blocklist)
				unpin("blocklist");
			else
				ag_block_sweep(bpf_map__fd(g.flow->maps.blocklist), ag_now_ns());
			log_notice("XDP detached from %s%s", g.cfg->xdp_interface,
				   g.cfg->bpf_keep_blocklist ? "; blocklist pin kept" : "");
		}
		smtp_flow__destroy(g.flow);
		g.flow = NULL;
	}
	g.xdp_on = false;
}
