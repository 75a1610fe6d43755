/*
 * dns_ares — the upstream backend: real DNS through c-ares, never blocking.
 *
 * Owns: the c-ares channel, its server list (from /etc/resolv.conf or an
 * "IP[:port],[IPv6]:port" list), per-try timeouts, and the set of sockets
 * c-ares wants watched, which it reports through a watch callback so any
 * event loop (io_uring, poll) can drive it. Answers are decoded by
 * dns_wire; c-ares handles retries, server rotation and the TCP retry of
 * truncated UDP answers.
 */
#ifndef AUTHGATE_DNS_ARES_H
#define AUTHGATE_DNS_ARES_H

#include "dns.h"

#include <poll.h>

struct dns_upstream_config {
	const char *servers; /* NULL or "": /etc/resolv.conf */
	int timeout_ms;      /* per try; 0: 2000 */
	int tries;           /* 0: 2 */
	bool no_edns;        /* plain 512-octet UDP, as very old servers need */
};

/* NULL on error, with a one-line reason in err. */
struct dns_upstream *dns_upstream_new(const struct dns_upstream_config *cfg,
				      char *err, size_t errlen);
void dns_upstream_free(struct dns_upstream *u);

/* Receives ownership of the answer (NULL only on ENOMEM). May run before
 * dns_upstream_query returns (c-ares fails some queries at once). */
typedef void (*dns_upstream_done_fn)(void *arg, struct dns_answer *answer);
void dns_upstream_query(struct dns_upstream *u, const char *name,
			enum dns_type type, dns_upstream_done_fn done, void *arg);

void dns_upstream_set_watch(struct dns_upstream *u, dns_watch_fn fn, void *arg);
void dns_upstream_process_fd(struct dns_upstream *u, int fd, bool readable,
			     bool writable);
int dns_upstream_timeout_ms(struct dns_upstream *u);
void dns_upstream_process_timeouts(struct dns_upstream *u);
/* Between hold and release, queries wait and go out together (one
 * sendmmsg per socket) at the release; holds nest. Outside a hold every
 * query is sent before dns_upstream_query returns. */
void dns_upstream_hold(struct dns_upstream *u);
void dns_upstream_release(struct dns_upstream *u);
/* The sockets currently watched, as pollfds; returns the count (<= max). */
size_t dns_upstream_pollfds(const struct dns_upstream *u, struct pollfd *fds,
			    size_t max);

#endif
