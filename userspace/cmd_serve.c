/*
 * cmd_serve — `authgate serve -c FILE`: the daemon. Reads the
 * configuration (errors name the line, exit 2), opens the spool, starts
 * one worker thread per CPU (or `workers`), and waits for signals:
 * SIGTERM/SIGINT drain (stop accepting, let transactions finish, exit 0),
 * SIGHUP reloads the zone overlay and the policy knobs, SIGUSR1 logs
 * what the daemon holds (sessions, arenas, heap, descriptors).
 */
#include "bpf_loader.h"
#include "cli.h"
#include "commands.h"
#include "config.h"
#include "log.h"
#include "peer_count.h"
#include "spool_sync.h"
#include "tls.h"
#include "verdict_stats.h"
#include "worker.h"

#include "../verify/dns_zone.h"

#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage[] =
	"usage: authgate serve -c FILE\n\n"
	"Run the SMTP edge: accept a message only if it fails none of SPF, Sender ID\n"
	"and DKIM and passes at least one; answer 250 only once it is durably in\n"
	"the spool, 550 5.7.2x with the reason otherwise, 451 4.7.x to retry.\n"
	"Configuration keys and defaults: docs/configuration.md.\n\n"
	"options:\n"
	"  -c, --config FILE  the configuration file (required; make run uses etc/authgate.conf)\n"
	"  --check            read the configuration, report, and exit\n"
	"  --help             this text\n\n"
	"signals: TERM/INT drain and exit 0; HUP rereads the zone file and the\n"
	"policy.* keys (other changed keys are logged, and wait for a restart);\n"
	"USR1 logs one status line (sessions, message arenas, heap, descriptors).\n"
	"exit status: 0 after a clean stop, 1 could not start, 2 usage or\n"
	"configuration error.\n";

static void set_policy(struct daemon_shared *d, const struct config *c)
{
	atomic_store(&d->softfail, c->policy.softfail);
	atomic_store(&d->permerror, c->policy.permerror);
	atomic_store(&d->drop_action, c->drop_action);
}

/* SIGHUP applies the policy keys and rereads the zone file named at the
 * start; every other change waits for a restart, and says so. */
static void log_restart_keys(const struct config *running, const struct config *fresh)
{
	const char *names[64];
	size_t n = config_changed_keys(running, fresh, names, 64);
	for (size_t i = 0; i < n && i < 64; i++)
		if (strncmp(names[i], "policy.", 7) != 0)
			log_notice("reload: %s changed in the file; it takes effect at the next start, "
				   "the running value stays", names[i]);
}

/* Read once here for all workers, which take it on their next turn. */
static void reload_zone(struct daemon_shared *d)
{
	if (!d->cfg->dns_zone[0])
		return;
	struct dns_zone_error ze;
	struct dns_zone *z = dns_zone_load(d->cfg->dns_zone, &ze);
	if (!z) {
		log_notice("reload kept the old zone: %s", ze.msg);
		return;
	}
	log_notice("reload: %s read (%zu names)", d->cfg->dns_zone, dns_zone_owner_count(z));
	daemon_zone_set(d, z);
}

static void reload(struct daemon_shared *d, const char *path)
{
	static struct config fresh;
	char err[600];
	if (config_load(path, &fresh, err, sizeof err) < 0) {
		log_notice("reload: kept the running configuration: %s", err);
		return;
	}
	set_policy(d, &fresh);
	log_notice("reload: policy softfail=%s permerror=%s drop_action=%s; zone overlay %s reloading",
		   fresh.policy.softfail == TREAT_FAIL ? "fail" : "neutral",
		   fresh.policy.permerror == TREAT_FAIL ? "fail" : "neutral",
		   drop_action_name(fresh.drop_action), d->cfg->dns_zone[0] ? d->cfg->dns_zone : "(none)");
	reload_zone(d);
	atomic_fetch_add(&d->reload, 1);
	log_restart_keys(d->cfg, &fresh);
}

static unsigned worker_count(const struct config *c)
{
	if (c->workers)
		return c->workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (unsigned)n : 1;
}

/* Workers write log chunks through their own rings at "the current file
 * position", which io_uring reads and advances without the lock write(2)
 * takes: two workers could write at the same offset of a log file opened
 * without O_APPEND (`2>file`). Appending makes every write land at the end. */
static void log_file_append(void)
{
	struct stat st;
	int fl = fcntl(STDERR_FILENO, F_GETFL);
	if (fstat(STDERR_FILENO, &st) == 0 && S_ISREG(st.st_mode) && fl >= 0 && !(fl & O_APPEND))
		fcntl(STDERR_FILENO, F_SETFL, fl | O_APPEND);
}

/* Every session, spool file and anonymous file made ahead holds a
 * descriptor, and the usual soft limit (1024) is below what a busy edge
 * needs: take what the hard limit allows, as servers do. */
static void raise_fd_limit(const struct config *cfg)
{
	struct rlimit r;
	if (getrlimit(RLIMIT_NOFILE, &r) < 0)
		return;
	if (r.rlim_cur < r.rlim_max) {
		r.rlim_cur = r.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &r) < 0)
			log_notice("cannot raise the descriptor limit to %llu: %s",
				   (unsigned long long)r.rlim_max, strerror(errno));
		getrlimit(RLIMIT_NOFILE, &r);
	}
	/* Each worker's ring, listeners, DNS sockets and files made ahead, and
	 * the spool's and the journal's own, need some too. */
	rlim_t own = 32 + (rlim_t)worker_count(cfg) * (WORKER_TMPFILE_POOL + cfg->nlisten + 4);
	if (r.rlim_cur != RLIM_INFINITY && r.rlim_cur < (rlim_t)cfg->sessions + own)
		log_notice("the descriptor limit (%llu) is below limits.sessions (%u) plus what the daemon "
			   "needs itself: once the descriptors run out, new clients are told 421 4.3.2 "
			   "(raise it with ulimit -n, or LimitNOFILE= under systemd)",
			   (unsigned long long)r.rlim_cur, cfg->sessions);
}

/* "N file descriptors" into buf, or "file descriptors unknown" when none
 * is left to read /proc with (just when an operator wants the number). */
static void open_descriptors(char *buf, size_t size)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d) {
		snprintf(buf, size, "file descriptors unknown (%s)", strerror(errno));
		return;
	}
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	snprintf(buf, size, "%u file descriptors", n - 1); /* not the one reading the directory */
}

/* SIGUSR1: what the daemon holds now, for an operator (or a soak test)
 * watching it over time. The heap is glibc's count (mallinfo2), which a
 * sanitizer's allocator does not feed. */
static void log_status(struct daemon_shared *d, struct worker *w, unsigned n)
{
	unsigned mapped = 0, pooled = 0;
	for (unsigned i = 0; i < n; i++) {
		mapped += atomic_load_explicit(&w[i].arenas_mapped, memory_order_relaxed);
		pooled += atomic_load_explicit(&w[i].arenas_pooled, memory_order_relaxed);
	}
	struct mallinfo2 mi = mallinfo2();
	char fds[80];
	open_descriptors(fds, sizeof fds);
	log_notice("status: %u sessions, %u message arenas mapped (%u of them pooled), heap in use %zu kB, %s",
		   atomic_load(&d->sessions), mapped, pooled, (mi.uordblks + mi.hblkhd) / 1024, fds);
}

/* syncfs and journal modes: the thread their rounds run on, and the
 * journal (recovered before anything is accepted). */
static int start_spool_sync(struct daemon_shared *d, const struct config *cfg, char *err,
			    size_t errlen)
{
	if (cfg->spool_sync == SPOOL_SYNC_FSYNC)
		return 0;
	if (spool_check_anonymous(&d->spool, err, errlen) < 0)
		return -1;
	if (cfg->spool_sync == SPOOL_SYNC_JOURNAL) {
		char path[CONFIG_PATH_MAX + 32];
		if (cfg->spool_journal[0])
			snprintf(path, sizeof path, "%s", cfg->spool_journal);
		else
			snprintf(path, sizeof path, "%s/authgate-journal", cfg->spool);
		d->journal = spool_journal_open(&d->spool, path, cfg->spool_journal_size, err, errlen);
		if (!d->journal)
			return -1;
	}
	d->spool_sync = spool_sync_start(&d->spool, d->journal, err, errlen);
	return d->spool_sync ? 0 : -1;
}

/* The files the configuration names are part of it: a zone or a
 * certificate the daemon cannot use is a configuration error (exit 2),
 * found by --check before a restart as well as at start. What is loaded
 * here is what the daemon runs with (zone and tls may be NULL: --check). */
static int check_named_files(const struct config *cfg, struct dns_zone **zone, SSL_CTX **tls,
			     char *err, size_t errlen)
{
	struct dns_zone *z = NULL;
	if (cfg->dns_zone[0]) {
		struct dns_zone_error ze;
		if (!(z = dns_zone_load(cfg->dns_zone, &ze))) {
			snprintf(err, errlen, "dns.zone: %s", ze.msg);
			return -1;
		}
	}
	SSL_CTX *ctx = NULL;
	char why[400];
	if (cfg->tls_cert[0] && !(ctx = tls_server_ctx(cfg->tls_cert, cfg->tls_key, why, sizeof why))) {
		snprintf(err, errlen, "TLS: %s", why);
		dns_zone_free(z);
		return -1;
	}
	if (zone)
		*zone = z;
	else
		dns_zone_free(z);
	if (tls)
		*tls = ctx;
	else
		SSL_CTX_free(ctx);
	return 0;
}

static int run(struct config *cfg, const char *path)
{
	static struct daemon_shared d;
	char err[600];
	d.cfg = cfg;
	pthread_mutex_init(&d.zone_lock, NULL);
	/* Blocked before anything else: a signal during a long journal
	 * recovery waits for the loop below instead of killing the process
	 * (SIGHUP's default action), and threads inherit the mask. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	log_file_append();
	set_policy(&d, cfg);
	if (check_named_files(cfg, &d.zone, &d.tls_ctx, err, sizeof err) < 0) {
		fprintf(stderr, "authgate serve: %s: %s\n", path, err);
		return CLI_EXIT_USAGE;
	}
	if (!(d.peers = peer_count_new(cfg->sessions))) {
		fprintf(stderr, "authgate serve: out of memory\n");
		SSL_CTX_free(d.tls_ctx);
		return 1;
	}
	if (worker_probe_ring(err, sizeof err) < 0 ||
	    spool_open(&d.spool, cfg->spool, cfg->hostname, err, sizeof err) < 0 ||
	    start_spool_sync(&d, cfg, err, sizeof err) < 0) {
		fprintf(stderr, "authgate serve: %s\n", err);
		return 1;
	}
	bpf_xdp_start(cfg); /* logs once whether XDP is on; never fatal */
	verdict_stats_start(cfg); /* the same */
	raise_fd_limit(cfg); /* once the configuration is known to be good */
	signal(SIGPIPE, SIG_IGN);
	unsigned n = worker_count(cfg);
	struct worker *w = calloc(n, sizeof *w);
	unsigned started = 0;
	for (; w && started < n; started++) {
		if (worker_init(&w[started], started, &d) < 0) {
			fprintf(stderr, "authgate serve: %s\n", w[started].error);
			worker_destroy(&w[started]);
			break;
		}
		pthread_create(&w[started].thread, NULL, worker_main, &w[started]);
	}
	if (started == n) {
		int *fds = calloc((size_t)n * cfg->nlisten, sizeof *fds);
		for (unsigned i = 0; fds && i < n; i++)
			for (unsigned l = 0; l < cfg->nlisten; l++)
				fds[i * cfg->nlisten + l] = w[i].listen_fds[l];
		if (fds)
			bpf_steer_start(cfg, fds, n, cfg->nlisten);
		free(fds);
		log_notice("serving on %s%s with %u worker%s, spool %s", cfg->listen[0].text,
			   cfg->nlisten > 1 ? " (and more)" : "", n, n == 1 ? "" : "s", cfg->spool);
		for (;;) {
			int sig;
			struct timespec ts = {.tv_sec = 1};
			sig = sigtimedwait(&set, NULL, &ts);
			bpf_sweep();
			if (sig == SIGHUP) {
				reload(&d, path);
				workers_wake(w, started);
			} else if (sig == SIGUSR1) {
				log_status(&d, w, started);
			} else if (sig == SIGTERM || sig == SIGINT || atomic_load(&d.stop))
				break;
		}
		log_notice("stopping: draining sessions");
	}
	atomic_store(&d.stop, 1);
	workers_wake(w, started);
	bool failed = started != n;
	for (unsigned i = 0; i < started; i++) {
		pthread_join(w[i].thread, NULL);
		failed = failed || !w[i].ring_ready; /* its ring could not be made: logged, and the rest stopped */
		log_notice("worker %u: %lu connections accepted (%lu of them told 421 for limits.sessions, "
			   "%lu for limits.sessions_per_ip), "
			   "%lu command reads from the shared pool, pool dry %lu times, %lu log lines "
			   "written at once, %lu log bytes lost, %lu notices dropped, accepting failed %lu "
			   "times for want of descriptors or memory",
			   i, w[i].stats.accepted, w[i].stats.refused, w[i].stats.refused_per_ip,
			   w[i].stats.pooled_reads, w[i].stats.pool_dry,
			   w[i].log_direct, w[i].log.lost_bytes, w[i].notices_dropped, w[i].accept_failures);
		worker_destroy(&w[i]);
	}
	log_notice("stopped: %lu transactions, %lu message bytes copied in userspace",
		   (unsigned long)atomic_load(&d.transactions),
		   (unsigned long)atomic_load(&d.message_copy_bytes));
	if (d.spool_sync) {
		unsigned long rounds, answered;
		spool_sync_counts(d.spool_sync, &rounds, &answered);
		log_notice("spool sync: %lu %s rounds for %lu requests", rounds,
			   d.journal ? "journal" : "syncfs", answered);
		spool_sync_stop(d.spool_sync);
	}
	spool_journal_close(d.journal); /* publishes what is left first */
	d.journal = NULL;
	free(w);
	verdict_stats_stop(); /* after the workers: they count into it */
	bpf_stop();
	spool_close(&d.spool);
	peer_count_free(d.peers);
	SSL_CTX_free(d.tls_ctx);
	dns_zone_free(d.zone); /* the workers gave theirs back with their resolvers */
	return failed ? 1 : 0;
}

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL;
	bool check = false;
	int c;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		if (c == 'h')
			return fputs(usage, stdout), 0;
		if (c == 'c')
			path = optarg;
		else if (c == 'k')
			check = true;
		else
			return cli_bad_option("serve", argv);
	}
	if (!path)
		return cli_usage_error("serve", "-c FILE is required");
	if (optind != argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	static struct config cfg;
	char err[600];
	if (config_load(path, &cfg, err, sizeof err) < 0) {
		fprintf(stderr, "authgate serve: %s\n", err);
		return CLI_EXIT_USAGE;
	}

	if (check) {
		if (check_named_files(&cfg, NULL, NULL, err, sizeof err) < 0) {
			fprintf(stderr, "authgate serve: %s: %s\n", path, err);
			return CLI_EXIT_USAGE;
		}
		printf("%s: ok\n", path);
		return 0;
	}
	return run(&cfg, path);
}
