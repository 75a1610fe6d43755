/*
 * config — authgate.conf: `key = value` lines, `#` comments.
 *
 * Owns: the defaults, parsing and validating every key (one table, one
 * place), and errors that name file and line. Values: integers with
 * optional units (sizes k/M/G/T, durations ms/s/m/h/d), booleans
 * (yes/no/true/false/on/off/1/0), enums, `host:port` (IPv6 as [addr]:port).
 * `listen` may repeat; every other key may appear once. A `#` starts a
 * comment at the beginning of a line or after whitespace.
 * docs/configuration.md documents every key with its default.
 */
#ifndef AUTHGATE_CONFIG_H
#define AUTHGATE_CONFIG_H

#include "../verify/policy.h"

#include <limits.h>
#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#define CONFIG_MAX_LISTEN 16
#define CONFIG_PATH_MAX 512

enum drop_action { DROP_REJECT, DROP_DISCARD, DROP_QUARANTINE };
enum log_format { LOG_TEXT, LOG_JSON };
/* How spooled files are made durable: fsync(2) each file, one syncfs(2)
 * for every file written meanwhile (userspace/spool_sync.h), or a record
 * in the spool's journal first (userspace/spool_journal.h). */
enum spool_sync_mode { SPOOL_SYNC_FSYNC, SPOOL_SYNC_SYNCFS, SPOOL_SYNC_JOURNAL };

struct config_listen {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	char text[80]; /* as written */
};

struct config_timeouts { /* seconds; RFC 5321 §4.5.3.2, then our own two */
	unsigned greeting, command, mail, rcpt, data_init, data_block, data_term;
	unsigned close; /* a closing session's last replies, then the connection is cut */
	unsigned drain; /* SIGTERM: transactions may finish within this */
};

struct config {
	struct config_listen listen[CONFIG_MAX_LISTEN];
	unsigned nlisten;
	char hostname[256];
	unsigned workers; /* 0: one per CPU */
	char spool[CONFIG_PATH_MAX];
	enum spool_sync_mode spool_sync;
	char spool_journal[CONFIG_PATH_MAX]; /* "": <spool>/authgate-journal */
	size_t spool_journal_size;
	char dns_zone[CONFIG_PATH_MAX];
	char dns_servers[512];
	unsigned dns_timeout_ms, dns_tries;
	char tls_cert[CONFIG_PATH_MAX], tls_key[CONFIG_PATH_MAX];
	char xdp_interface[IF_NAMESIZE]; /* "none": no XDP */
	char xdp_mode[16]; /* auto (native, else generic), native, generic */
	char bpf_pin_dir[CONFIG_PATH_MAX];
	char bpf_steer[16]; /* hash, least, off: SK_REUSEPORT worker choice */
	bool bpf_keep_blocklist;
	bool bpf_verdicts; /* pin and count <pin_dir>/verdicts */
	unsigned xdp_block_after, xdp_block_ttl, xdp_block_window; /* count, s, s */
	size_t message_size;
	unsigned recipients, sessions, sessions_per_ip;
	unsigned command_buffers; /* per worker, 2 KB each; 0: every session reads into its own */
	struct config_timeouts timeouts;
	struct policy_config policy;
	enum drop_action drop_action;
	enum log_format log_format;
	unsigned dkim_max_signatures;
};

void config_defaults(struct config *c);
/* 0, or -1 with "file:line: message" in err. */
int config_parse(const char *text, size_t len, const char *filename,
		 struct config *c, char *err, size_t errlen);
int config_load(const char *path, struct config *c, char *err, size_t errlen);

const char *drop_action_name(enum drop_action a);

/* The keys whose values differ between a and b, in the order of
 * docs/configuration.md; their number (at most max are stored). */
size_t config_changed_keys(const struct config *a, const struct config *b, const char **names,
			   size_t max);

#endif
