/*
 * dns_ares — see dns_ares.h. c-ares 1.18: sockets are reported through
 * ARES_OPT_SOCK_STATE_CB and driven with ares_process_fd(); timers through
 * ares_timeout(). ares_query() (not ares_search) so no search domains are
 * ever appended to the names SPF and DKIM ask for.
 */
#include "dns_ares.h"

#include "dns_answer.h"
#include "dns_batch.h"
#include "dns_wire.h"

#include <ares.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_WATCHED 64

struct dns_upstream {
	ares_channel channel;
	dns_watch_fn watch;
	void *watch_arg;
	struct pollfd fds[MAX_WATCHED];
	size_t nfds;
	struct dns_batch *batch; /* the sockets' I/O, in batches */
	unsigned held;
};

struct upstream_query {
	dns_upstream_done_fn done;
	void *arg;
	enum dns_type type;
	char name[DNS_NAME_MAX + 1];
};

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status;

static void lib_init(void)
{
	lib_status = ares_library_init(ARES_LIB_INIT_ALL);
}

static void track_fd(struct dns_upstream *u, int fd, bool rd, bool wr)
{
	size_t i = 0;
	while (i < u->nfds && u->fds[i].fd != fd)
		i++;
	if (!rd && !wr) {
		if (i < u->nfds)
			u->fds[i] = u->fds[--u->nfds];
		return;
	}
	if (i == u->nfds) {
		if (u->nfds == MAX_WATCHED)
			return; /* c-ares bounds its own sockets well below this */
		u->nfds++;
	}
	u->fds[i] = (struct pollfd){.fd = fd,
				    .events = (short)((rd ? POLLIN : 0) | (wr ? POLLOUT : 0))};
}

static void on_sock_state(void *data, ares_socket_t fd, int readable,
			  int writable)
{
	struct dns_upstream *u = data;
	track_fd(u, fd, readable, writable);
	if (u->watch)
		u->watch(u->watch_arg, fd, readable, writable);
}

struct dns_upstream *dns_upstream_new(const struct dns_upstream_config *cfg,
				      char *err, size_t errlen)
{
	pthread_once(&lib_once, lib_init);
	if (lib_status != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s", ares_strerror(lib_status));
		return NULL;
	}
	struct dns_upstream *u = calloc(1, sizeof *u);
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct ares_options o = {
		/* NOCHECKRESP: c-ares 1.18 reports a SERVFAIL/REFUSED answer as
		 * ECONNREFUSED after trying the next server; we want the rcode
		 * itself (it is what the operator must see), at the cost of no
		 * failover on those rcodes. */
		.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_NOCHECKRESP |
			 (cfg->no_edns ? 0 : ARES_FLAG_EDNS),
		.timeout = cfg->timeout_ms > 0 ? cfg->timeout_ms : 2000,
		.tries = cfg->tries > 0 ? cfg->tries : 2,
		.sock_state_cb = on_sock_state,
		.sock_state_cb_data = u,
		.ednspsz = 1232,
		/* Hundreds of queries in flight on one UDP socket: the default
		 * receive buffer (~200 KiB, a few hundred datagrams) overflows
		 * and the dropped answers cost a full timeout each. */
		.socket_receive_buffer_size = 4 << 20,
	};
	int mask = ARES_OPT_FLAGS | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_SOCK_RCVBUF |
		   ARES_OPT_SOCK_STATE_CB | (cfg->no_edns ? 0 : ARES_OPT_EDNSPSZ);
	int rc = (u->batch = dns_batch_new()) ? ares_init_options(&u->channel, &o, mask) : ARES_ENOMEM;
	if (rc == ARES_SUCCESS)
		ares_set_socket_functions(u->channel, dns_batch_functions(), u->batch);
	if (rc == ARES_SUCCESS && cfg->servers && cfg->servers[0])
		rc = ares_set_servers_ports_csv(u->channel, cfg->servers);
	if (rc != ARES_SUCCESS) {
		snprintf(err, errlen, "c-ares: %s%s%s", ares_strerror(rc),
			 cfg->servers ? " in server list " : "",
			 cfg->servers ? cfg->servers : "");
		if (u->channel)
			ares_destroy(u->channel);
		dns_batch_free(u->batch);
		free(u);
		return NULL;
	}
	return u;
}

void dns_upstream_free(struct dns_upstream *u)
{
	if (!u)
		return;
	ares_destroy(u->channel); /* runs pending callbacks with EDESTRUCTION */
	dns_batch_free(u->batch);
	free(u);
}

static struct dns_answer *answer_from_status(const struct upstream_query *q,
					     int status)
{
	enum dns_status st = DNS_TEMPFAIL;
	enum dns_why why = DNS_WHY_NETWORK;
	switch (status) {
	case ARES_ETIMEOUT:
		why = DNS_WHY_TIMEOUT;
		break;
	case ARES_ESERVFAIL:
		why = DNS_WHY_SERVFAIL;
		break;
	case ARES_EREFUSED:
		why = DNS_WHY_REFUSED;
		break;
	case ARES_ENOTFOUND:
		st = DNS_NXDOMAIN;
		why = DNS_WHY_NONE;
		break;
	case ARES_ENODATA:
		st = DNS_NODATA;
		why = DNS_WHY_NONE;
		break;
	case ARES_EBADNAME:
		st = DNS_MALFORMED;
		why = DNS_WHY_BADNAME;
		break;
	case ARES_EBADRESP:
		st = DNS_MALFORMED;
		why = DNS_WHY_BADWIRE;
		break;
	case ARES_ENOMEM:
		why = DNS_WHY_NOMEM;
		break;
	case ARES_EDESTRUCTION:
	case ARES_ECANCELLED:
		why = DNS_WHY_CANCELLED;
		break;
	default:
		break;
	}
	/* Negative answers without the message have no SOA: not cacheable. */
	return dns_answer_new_empty(q->name, q->type, st, why, 0);
}

static void on_answer(void *arg, int status, int timeouts, unsigned char *abuf,
		      int alen)
{
	(void)timeouts;
	struct upstream_query *q = arg;
	struct dns_answer *a;
	bool have_msg = abuf && alen > 0 &&
			(status == ARES_SUCCESS || status == ARES_ENODATA ||
			 status == ARES_ENOTFOUND || status == ARES_ESERVFAIL ||
			 status == ARES_EREFUSED || status == ARES_EFORMERR ||
			 status == ARES_ENOTIMP);
	if (have_msg)
		a = dns_wire_parse(abuf, (size_t)alen, q->name, q->type);
	else
		a = answer_from_status(q, status);
	q->done(q->arg, a);
	free(q);
}

void dns_upstream_query(struct dns_upstream *u, const char *name,
			enum dns_type type, dns_upstream_done_fn done, void *arg)
{
	struct upstream_query *q = malloc(sizeof *q);
	if (!q || dns_name_normalize(name, q->name) < 0) {
		struct dns_answer *a =
			q ? dns_answer_new_empty(name, type, DNS_MALFORMED,
						 DNS_WHY_BADNAME, 0)
			  : NULL;
		free(q);
		done(arg, a);
		return;
	}
	q->done = done;
	q->arg = arg;
	q->type = type;
	ares_query(u->channel, q->name, 1 /* IN */, (int)type, on_answer, q);
	if (!u->held)
		dns_batch_flush(u->batch);
}

void dns_upstream_hold(struct dns_upstream *u)
{
	u->held++;
}

void dns_upstream_release(struct dns_upstream *u)
{
	if (u->held && --u->held == 0)
		dns_batch_flush(u->batch);
}

void dns_upstream_set_watch(struct dns_upstream *u, dns_watch_fn fn, void *arg)
{
	u->watch = fn;
	u->watch_arg = arg;
	for (size_t i = 0; fn && i < u->nfds; i++)
		fn(arg, u->fds[i].fd, u->fds[i].events & POLLIN,
		   u->fds[i].events & POLLOUT);
}

void dns_upstream_process_fd(struct dns_upstream *u, int fd, bool readable,
			     bool writable)
{
	u->held++;
	ares_process_fd(u->channel, readable ? fd : ARES_SOCKET_BAD,
			writable ? fd : ARES_SOCKET_BAD);
	/* c-ares stops reading at an answer from the wrong address; the rest
	 * of the batch is already out of the socket, so no poll would say so. */
	for (int i = 0; readable && i < 64 && dns_batch_unread(u->batch, fd); i++)
		ares_process_fd(u->channel, fd, ARES_SOCKET_BAD);
	dns_upstream_release(u);
}

int dns_upstream_timeout_ms(struct dns_upstream *u)
{
	struct timeval tv, *t = ares_timeout(u->channel, NULL, &tv);
	if (!t)
		return -1;
	return (int)(t->tv_sec * 1000 + (t->tv_usec + 999) / 1000);
}

void dns_upstream_process_timeouts(struct dns_upstream *u)
{
	u->held++;
	ares_process_fd(u->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	dns_upstream_release(u); /* the retries c-ares just queued */
}

size_t dns_upstream_pollfds(const struct dns_upstream *u, struct pollfd *fds,
			    size_t max)
{
	size_t n = u->nfds < max ? u->nfds : max;
	memcpy(fds, u->fds, n * sizeof *fds);
	return n;
}
