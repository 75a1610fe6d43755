/* Unit tests: userspace/bpf_loader.c, the daemon's BPF side, run in a
 * network and a mount namespace of this process's own (its lo, its bpffs:
 * nothing on the host is touched, and both go when the process ends).
 * The pin directory: made with its parents on a bpffs, refused elsewhere,
 * and bpffs mounted on /sys/fs/bpf when missing there. XDP on lo: generic
 * mode and the xdp.frags program whatever xdp.mode says, the default SMTP
 * ports and every listen port counted (IPv4 and IPv6), the pins removed
 * at stop (the blocklist kept and swept with bpf.keep_blocklist); a pin
 * that cannot be opened keeps XDP off; a foreign XDP program, even one
 * named xdp_*, is never replaced. The
 * verdict feedback: xdp.block_after drops within xdp.block_window block
 * for xdp.block_ttl with a new generation, the count starts again after a
 * block and after the window, 0 turns it off, and two addresses sharing a
 * slot never block each other. The sweep. SK_REUSEPORT in least-loaded
 * mode over three listen addresses (two on one port): every connection
 * goes to the worker with the fewest sessions (a session count never goes
 * below 0), ties spread. Without root every test reports a skip. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "userspace/bpf_loader.h"
#include "userspace/bpf_maps.h"
#include "userspace/config.h"

static bool isolated;  /* in namespaces of our own, lo up */
static char bpffs[] = "/tmp/authgate-loader.XXXXXX";
static char pins[128];
static struct config cfg;

#define NEED_NS()              \
	do {                   \
		if (!isolated) \
			skip(); \
	} while (0)

/* ------------------------------------------------------------- helpers */

static void listen_on(unsigned i, const char *addr, uint16_t port)
{
	struct config_listen *l = &cfg.listen[i];
	memset(l, 0, sizeof *l);
	snprintf(l->text, sizeof l->text, "%s", addr);
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&l->addr;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		l->addrlen = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&l->addr;
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		l->addrlen = sizeof *s4;
	}
	if (i >= cfg.nlisten)
		cfg.nlisten = i + 1;
}

/* A fresh configuration: XDP on lo, pins in our bpffs, feedback off. */
static int setup(void **state)
{
	(void)state;
	config_defaults(&cfg);
	snprintf(cfg.xdp_interface, sizeof cfg.xdp_interface, "lo");
	snprintf(cfg.xdp_mode, sizeof cfg.xdp_mode, "auto");
	snprintf(cfg.bpf_pin_dir, sizeof cfg.bpf_pin_dir, "%s", pins);
	snprintf(cfg.bpf_steer, sizeof cfg.bpf_steer, "least");
	cfg.bpf_keep_blocklist = false;
	cfg.xdp_block_after = 0;
	cfg.xdp_block_window = 60;
	cfg.xdp_block_ttl = 60;
	cfg.nlisten = 0;
	listen_on(0, "127.0.0.1", 2525);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	bpf_stop();
	static const char *const names[] = {"flows", "stats", "blocklist", "blocklist_gen"};
	for (size_t i = 0; i < 4; i++) {
		char path[192];
		snprintf(path, sizeof path, "%s/%s", pins, names[i]);
		unlink(path);
	}
	return 0;
}

static int pin(const char *name)
{
	int fd = ag_pin_open(pins, name);
	if (fd < 0)
		fail_msg("%s/%s: %s", pins, name, strerror(errno));
	return fd;
}

static bool pinned(const char *name)
{
	char path[192];
	snprintf(path, sizeof path, "%s/%s", pins, name);
	return access(path, F_OK) == 0;
}

static uint64_t gen(void)
{
	int fd = pin("blocklist_gen");
	__u32 zero = 0;
	__u64 v = 0;
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, &v), 0);
	close(fd);
	return v;
}

/* The blocklist entry of prefix: true and *v, or false when there is none. */
static bool block_entry(const char *prefix, struct ag_block *v)
{
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse(prefix, &k), 0);
	int fd = pin("blocklist");
	bool found = bpf_map_lookup_elem(fd, &k, v) == 0;
	close(fd);
	return found;
}

static bool is_blocked(const char *prefix)
{
	struct ag_block v;
	return block_entry(prefix, &v);
}

static void put_block(const char *prefix, uint64_t expires_ns)
{
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse(prefix, &k), 0);
	struct ag_block v = {.expires_ns = expires_ns, .reason = AG_BLOCK_MANUAL};
	int fd = pin("blocklist");
	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
	close(fd);
}

static void unblock(const char *prefix)
{
	struct ag_block_key k;
	assert_int_equal(ag_prefix_parse(prefix, &k), 0);
	int fd = pin("blocklist");
	assert_int_equal(ag_block_del(fd, &k), 0);
	close(fd);
}

static void drop_verdict(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	ss.ss_family = AF_INET;
	inet_pton(AF_INET, ip, &((struct sockaddr_in *)&ss)->sin_addr);
	bpf_verdict_drop(&ss);
}

/* The id and name of the XDP program on lo in this mode (0: none). */
static __u32 xdp_prog(__u32 mode, char *name, size_t len)
{
	__u32 id = 0;
	assert_int_equal(bpf_xdp_query_id((int)if_nametoindex("lo"), (int)mode, &id), 0);
	if (id && name) {
		int fd = bpf_prog_get_fd_by_id(id);
		assert_true(fd >= 0);
		struct bpf_prog_info info = {0};
		__u32 ilen = sizeof info;
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &ilen), 0);
		snprintf(name, len, "%s", info.name);
		close(fd);
	}
	return id;
}

/* A TCP SYN to addr:port over lo (nothing listens: an RST comes back). */
static void syn_to(const char *addr, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	if (strchr(addr, ':')) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		s6->sin6_family = AF_INET6, s6->sin6_port = htons(port);
		inet_pton(AF_INET6, addr, &s6->sin6_addr);
		len = sizeof *s6;
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		s4->sin_family = AF_INET, s4->sin_port = htons(port);
		inet_pton(AF_INET, addr, &s4->sin_addr);
		len = sizeof *s4;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&ss, len), -1);
	assert_int_equal(errno, ECONNREFUSED);
	close(fd);
}

/* Flows in the pinned map to this destination port. */
static unsigned flows_to(uint16_t dport)
{
	int fd = pin("flows");
	struct ag_flow_key k, next;
	void *prev = NULL;
	unsigned n = 0;
	while (bpf_map_get_next_key(fd, prev, &next) == 0) {
		n += next.dport == dport;
		k = next;
		prev = &k;
	}
	close(fd);
	return n;
}

/* ------------------------------------------------------ the pin directory */

/* The pin directory is made with its parents (again: no error) on a
 * bpffs; a directory elsewhere is refused (ENOTSUP). */
static void pin_dir_on_bpffs_only(void **state)
{
	(void)state;
	NEED_NS();
	char dir[192];
	snprintf(dir, sizeof dir, "%s/a/b/c", bpffs);
	assert_int_equal(bpf_pin_dir_ready(dir), 0);
	assert_int_equal(bpf_pin_dir_ready(dir), 0);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	char tmp[] = "/tmp/authgate-notbpf.XXXXXX", sub[64];
	assert_non_null(mkdtemp(tmp));
	snprintf(sub, sizeof sub, "%s/pins", tmp);
	errno = 0;
	int rc = bpf_pin_dir_ready(sub);
	int e = errno;
	rmdir(sub);
	rmdir(tmp);
	assert_int_equal(rc, -1);
	assert_int_equal(e, ENOTSUP);
	for (int i = 0; i < 3; i++) {
		rmdir(dir);
		*strrchr(dir, '/') = '\0';
	}
}

/* /sys/fs/bpf without a bpffs (here a tmpfs over it, in our mount
 * namespace only): a pin directory below it gets one mounted. */
static void sys_fs_bpf_mounted_when_missing(void **state)
{
	(void)state;
	NEED_NS();
	if (mount("tmpfs", "/sys/fs/bpf", "tmpfs", 0, "size=64k") < 0)
		skip();
	int rc = bpf_pin_dir_ready("/sys/fs/bpf/authgate-test");
	struct statfs fs;
	bool bpf = rc == 0 && statfs("/sys/fs/bpf", &fs) == 0 && fs.f_type == 0xcafe4a11;
	rmdir("/sys/fs/bpf/authgate-test");
	umount("/sys/fs/bpf"); /* the bpffs, then the tmpfs */
	umount("/sys/fs/bpf");
	assert_int_equal(rc, 0);
	assert_true(bpf);
}

/* ------------------------------------------------------------ XDP on lo */

/* lo gets generic mode and the xdp.frags program even when xdp.mode says
 * native; TCP to 25, 465, 587 and every listen port (IPv4 and IPv6) is
 * counted, other ports are not. At stop XDP is detached and every pin
 * removed. */
static void xdp_on_lo(void **state)
{
	(void)state;
	NEED_NS();
	snprintf(cfg.xdp_mode, sizeof cfg.xdp_mode, "native");
	listen_on(1, "::1", 2626);
	assert_int_equal(bpf_xdp_start(&cfg), 0);
	assert_true(bpf_xdp_active());
	char name[BPF_OBJ_NAME_LEN];
	assert_int_not_equal(xdp_prog(XDP_FLAGS_SKB_MODE, name, sizeof name), 0);
	assert_string_equal(name, "xdp_smtp_frags");
	static const uint16_t smtp[] = {25, 465, 587, 2525};
	for (size_t i = 0; i < 4; i++)
		syn_to("127.0.0.1", smtp[i]);
	syn_to("::1", 2626);
	syn_to("127.0.0.1", 2626);
	syn_to("127.0.0.1", 80);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(flows_to(smtp[i]), 1);
	assert_int_equal(flows_to(2626), 2);
	assert_int_equal(flows_to(80), 0);
	bpf_stop();
	assert_false(bpf_xdp_active());
	assert_int_equal(xdp_prog(XDP_FLAGS_SKB_MODE, NULL, 0), 0);
	assert_false(pinned("flows") || pinned("stats") || pinned("blocklist_gen") ||
		     pinned("blocklist"));
}

/* A pin that exists but cannot be opened (here a directory named flows)
 * is not passed over: XDP stays off, and the directory stays. */
static void unopenable_pin_stops_xdp(void **state)
{
	(void)state;
	NEED_NS();
	char dir[192];
	snprintf(dir, sizeof dir, "%s/flows", pins);
	assert_int_equal(bpf_pin_dir_ready(dir), 0);
	int rc = bpf_xdp_start(&cfg);
	bool on = bpf_xdp_active();
	bpf_stop();
	struct stat st;
	bool still_dir = stat(dir, &st) == 0 && S_ISDIR(st.st_mode);
	rmdir(dir);
	assert_int_equal(rc, -1);
	assert_false(on);
	assert_true(still_dir);
}

/* A program on lo that is not authgate's, though its name starts with
 * "xdp_", stays: the start fails and says so. */
static void foreign_program_kept(void **state)
{
	(void)state;
	NEED_NS();
	struct bpf_insn pass[] = {
		{.code = 0xb7, .dst_reg = 0, .imm = 2}, /* r0 = XDP_PASS */
		{.code = 0x95},                         /* exit */
	};
	int prog = bpf_prog_load(BPF_PROG_TYPE_XDP, "xdp_pass", "GPL", pass, 2, NULL);
	assert_true(prog >= 0);
	int lo = (int)if_nametoindex("lo");
	assert_int_equal(bpf_xdp_attach(lo, prog, XDP_FLAGS_SKB_MODE, NULL), 0);
	__u32 id = xdp_prog(XDP_FLAGS_SKB_MODE, NULL, 0);
	int rc = bpf_xdp_start(&cfg);
	char name[BPF_OBJ_NAME_LEN] = "";
	__u32 after = xdp_prog(XDP_FLAGS_SKB_MODE, name, sizeof name);
	bpf_xdp_detach(lo, XDP_FLAGS_SKB_MODE, NULL);
	close(prog);
	assert_int_equal(rc, -1);
	assert_false(bpf_xdp_active());
	assert_int_equal(after, id);
	assert_string_equal(name, "xdp_pass");
}

/* bpf.keep_blocklist: at stop the blocklist pin stays, swept of what
 * expired; the other pins go. */
static void stop_keeps_swept_blocklist(void **state)
{
	(void)state;
	NEED_NS();
	cfg.bpf_keep_blocklist = true;
	assert_int_equal(bpf_xdp_start(&cfg), 0);
	put_block("192.0.2.0/24", 1); /* expired long ago */
	put_block("198.51.100.0/24", 0);
	bpf_stop();
	assert_false(pinned("flows") || pinned("stats") || pinned("blocklist_gen"));
	assert_true(pinned("blocklist"));
	assert_false(is_blocked("192.0.2.0/24"));
	assert_true(is_blocked("198.51.100.0/24"));
}

/* The daemon's sweep: expired entries go, permanent ones stay, and a new
 * generation makes known flows check entries added with bpftool. */
static void sweep_and_generation(void **state)
{
	(void)state;
	NEED_NS();
	assert_int_equal(bpf_xdp_start(&cfg), 0);
	put_block("192.0.2.0/24", 1);
	put_block("198.51.100.0/24", 0);
	uint64_t g = gen();
	bpf_sweep();
	assert_false(is_blocked("192.0.2.0/24"));
	assert_true(is_blocked("198.51.100.0/24"));
	assert_true(gen() != g);
}

/* ------------------------------------------------------ verdict feedback */

/* xdp.block_after drop verdicts from one source block it for
 * xdp.block_ttl, as "verdicts", under a new generation (an open session
 * is cut too); the count then starts again from nothing. */
static void feedback_blocks_after_n(void **state)
{
	(void)state;
	NEED_NS();
	cfg.xdp_block_after = 2;
	assert_int_equal(bpf_xdp_start(&cfg), 0);
	uint64_t g = gen();
	drop_verdict("192.0.2.20");
	assert_false(is_blocked("192.0.2.20"));
	uint64_t before = ag_now_ns();
	drop_verdict("192.0.2.20");
	uint64_t after = ag_now_ns();
	struct ag_block v;
	assert_true(block_entry("192.0.2.20", &v));
	assert_int_equal(v.reason, AG_BLOCK_VERDICTS);
	assert_true(v.expires_ns >= before + 60000000000ull && v.expires_ns <= after + 60000000000ull);
	assert_true(gen() != g);
	unblock("192.0.2.20");
	drop_verdict("192.0.2.20");
	assert_false(is_blocked("192.0.2.20"));
	/* two sources counted apart */
	drop_verdict("192.0.2.21");
	drop_verdict("192.0.2.22");
	drop_verdict("192.0.2.21");
	drop_verdict("192.0.2.22");
	assert_true(is_blocked("192.0.2.21"));
	assert_true(is_blocked("192.0.2.22"));
}

/* Drops spread wider than xdp.block_window do not add up. */
static void feedback_window(void **state)
{
	(void)state;
	NEED_NS();
	cfg.xdp_block_after = 2;
	cfg.xdp_block_window = 1;
	assert_int_equal(bpf_xdp_start(&cfg), 0);
	drop_verdict("192.0.2.30");
	usleep(1100000);
	drop_verdict("192.0.2.30");
	assert_false(is_blocked("192.0.2.30"));
	drop_verdict("192.0.2.30");
	assert_true(is_blocked("192.0.2.30"));
}

/* xdp.block_after = 0 turns the feedback off; two addresses that share a
 * slot of the counting table (192.0.2.1 and 198.51.16.6: the same FNV-1a
 * hash mod 4096) take it over from each other, never add up. */
static void feedback_off_and_shared_slot(void **state)
{
	(void)state;
	NEED_NS();
	assert_int_equal(bpf_xdp_start(&cfg), 0);
	for (int i = 0; i < 3; i++)
		drop_verdict("192.0.2.40");
	assert_false(is_blocked("192.0.2.40"));
	cfg.xdp_block_after = 2;
	drop_verdict("192.0.2.1");
	drop_verdict("198.51.16.6");
	drop_verdict("192.0.2.1");
	drop_verdict("198.51.16.6");
	assert_false(is_blocked("192.0.2.1"));
	assert_false(is_blocked("198.51.16.6"));
	drop_verdict("198.51.16.6"); /* two in a row: blocked */
	assert_true(is_blocked("198.51.16.6"));
}

/* ---------------------------------------------------------- SK_REUSEPORT */

#define WORKERS 4
#define LISTENS 3
static int lfds[WORKERS * LISTENS];

/* Listen addresses: 127.0.0.1:2525 and [::1]:2525 (one port: one group),
 * 127.0.0.1:2526; a SO_REUSEPORT listener for each per worker. */
static int steer_setup(void **state)
{
	setup(state);
	listen_on(1, "::1", 2525);
	listen_on(2, "127.0.0.1", 2526);
	for (unsigned w = 0; w < WORKERS; w++)
		for (unsigned l = 0; l < LISTENS; l++) {
			const struct config_listen *cl = &cfg.listen[l];
			int fd = socket(cl->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK, 0);
			int one = 1;
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
			if (cl->addr.ss_family == AF_INET6)
				setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
			if (bind(fd, (const struct sockaddr *)&cl->addr, cl->addrlen) < 0 ||
			    listen(fd, 64) < 0)
				fail_msg("listener %u/%u: %s", w, l, strerror(errno));
			lfds[w * LISTENS + l] = fd;
		}
	return 0;
}

static int steer_teardown(void **state)
{
	bpf_stop();
	for (size_t i = 0; i < WORKERS * LISTENS; i++)
		close(lfds[i]);
	return teardown(state);
}

/* Connect to listen address l: the worker whose listener took it. */
static int connect_to(unsigned l)
{
	const struct config_listen *cl = &cfg.listen[l];
	int c = socket(cl->addr.ss_family, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (const struct sockaddr *)&cl->addr, cl->addrlen), 0);
	int who = -1;
	for (unsigned w = 0; w < WORKERS; w++) {
		int a = accept(lfds[w * LISTENS + l], NULL, NULL);
		if (a >= 0) {
			assert_int_equal(who, -1);
			who = (int)w;
			close(a);
		}
	}
	close(c);
	assert_true(who >= 0);
	return who;
}

/* The loader's steer_load map (not pinned): the one named so whose
 * sessions are these (no other process has these four). */
static int steer_load_map(const __u64 sessions[WORKERS])
{
	for (__u32 id = 0; bpf_map_get_next_id(id, &id) == 0;) {
		int fd = bpf_map_get_fd_by_id(id);
		if (fd < 0)
			continue;
		struct bpf_map_info info = {0};
		__u32 len = sizeof info;
		bool match = bpf_obj_get_info_by_fd(fd, &info, &len) == 0 &&
			     strcmp(info.name, "steer_load") == 0;
		for (__u32 w = 0; match && w < WORKERS; w++) {
			struct ag_worker_load v;
			match = bpf_map_lookup_elem(fd, &w, &v) == 0 && v.sessions == sessions[w];
		}
		if (match)
			return fd;
		close(fd);
	}
	fail_msg("no steer_load map with these sessions");
	return -1;
}

/* bpf.steer = least: every connection, on each listen address, goes to
 * the worker with the fewest open sessions, and counts in its steered;
 * a count of 0 taken down by one stays 0. */
static void steer_least_loaded(void **state)
{
	(void)state;
	NEED_NS();
	assert_int_equal(bpf_steer_start(&cfg, lfds, WORKERS, LISTENS), 0);
	bpf_steer_load(0, +3);
	bpf_steer_load(1, +1);
	bpf_steer_load(2, -1); /* stays 0 */
	bpf_steer_load(3, +2);
	for (unsigned l = 0; l < LISTENS; l++)
		for (int i = 0; i < 8; i++) {
			int w = connect_to(l);
			if (w != 2)
				fail_msg("listen address %u, connection %d: worker %d", l, i, w);
		}
	bpf_steer_load(2, +2); /* now worker 1 has the fewest */
	for (int i = 0; i < 8; i++)
		assert_int_equal(connect_to(2), 1);
	static const __u64 sessions[WORKERS] = {3, 1, 2, 2}, steered[WORKERS] = {0, 8, 24, 0};
	int fd = steer_load_map(sessions);
	for (__u32 w = 0; w < WORKERS; w++) {
		struct ag_worker_load v;
		assert_int_equal(bpf_map_lookup_elem(fd, &w, &v), 0);
		assert_int_equal(v.steered, steered[w]);
	}
	close(fd);
}

/* Equal loads: the tie goes to a worker chosen by the flow hash, so 16
 * connections do not all land on one (the chance: 4 in 4^16). */
static void steer_ties_spread(void **state)
{
	(void)state;
	NEED_NS();
	assert_int_equal(bpf_steer_start(&cfg, lfds, WORKERS, LISTENS), 0);
	unsigned seen = 0;
	for (int i = 0; i < 16; i++)
		seen |= 1u << connect_to(0);
	assert_true(__builtin_popcount(seen) >= 2);
}

/* The most workers steering takes (AG_MAX_WORKERS, 64) are all steered
 * to: the last one, least loaded, gets every connection. One worker has
 * nothing to steer: no program. */
static void steer_bounds(void **state)
{
	(void)state;
	NEED_NS();
	int fds[AG_MAX_WORKERS];
	for (int w = 0; w < AG_MAX_WORKERS; w++) {
		int one = 1;
		fds[w] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		setsockopt(fds[w], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
		assert_int_equal(bind(fds[w], (const struct sockaddr *)&cfg.listen[0].addr,
				      cfg.listen[0].addrlen), 0);
		assert_int_equal(listen(fds[w], 8), 0);
	}
	assert_int_equal(bpf_steer_start(&cfg, fds, 1, 1), -1);
	assert_int_equal(bpf_steer_start(&cfg, fds, AG_MAX_WORKERS, 1), 0);
	for (unsigned w = 0; w + 1 < AG_MAX_WORKERS; w++)
		bpf_steer_load(w, +1);
	int last = 0;
	for (int i = 0; i < 4; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(c, (const struct sockaddr *)&cfg.listen[0].addr,
					 cfg.listen[0].addrlen), 0);
		int a = accept(fds[AG_MAX_WORKERS - 1], NULL, NULL);
		last += a >= 0;
		if (a >= 0)
			close(a);
		close(c);
	}
	bpf_stop();
	for (int w = 0; w < AG_MAX_WORKERS; w++)
		close(fds[w]);
	assert_int_equal(last, 4);
}

/* ------------------------------------------------------------------ main */

static void lo_up(void)
{
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	struct ifreq ifr = {0};
	snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) == 0) {
		ifr.ifr_flags |= IFF_UP;
		isolated = ioctl(s, SIOCSIFFLAGS, &ifr) == 0;
	}
	close(s);
}

/* Our own network namespace (its lo) and mount namespace (the bpffs and
 * the tmpfs over /sys/fs/bpf), or every test skips. */
static int group_setup(void **state)
{
	(void)state;
	libbpf_set_print(NULL);
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stdout, "# no namespaces of our own (%s): needs root\n", strerror(errno));
		return 0;
	}
	lo_up();
	if (!mkdtemp(bpffs) || mount("bpf", bpffs, "bpf", 0, NULL) < 0) {
		isolated = false;
		return 0;
	}
	snprintf(pins, sizeof pins, "%s/authgate", bpffs);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	rmdir(pins);
	umount(bpffs);
	rmdir(bpffs);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(pin_dir_on_bpffs_only, setup, teardown),
		cmocka_unit_test_setup_teardown(sys_fs_bpf_mounted_when_missing, setup, teardown),
		cmocka_unit_test_setup_teardown(xdp_on_lo, setup, teardown),
		cmocka_unit_test_setup_teardown(foreign_program_kept, setup, teardown),
		cmocka_unit_test_setup_teardown(unopenable_pin_stops_xdp, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_keeps_swept_blocklist, setup, teardown),
		cmocka_unit_test_setup_teardown(sweep_and_generation, setup, teardown),
		cmocka_unit_test_setup_teardown(feedback_blocks_after_n, setup, teardown),
		cmocka_unit_test_setup_teardown(feedback_window, setup, teardown),
		cmocka_unit_test_setup_teardown(feedback_off_and_shared_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(steer_least_loaded, steer_setup, steer_teardown),
		cmocka_unit_test_setup_teardown(steer_ties_spread, steer_setup, steer_teardown),
		cmocka_unit_test_setup_teardown(steer_bounds, setup, teardown),
	};
	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
