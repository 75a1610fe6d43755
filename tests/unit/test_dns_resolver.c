/* Unit tests: the resolver state machine — continuations, cache, clock,
 * cancellation, overlay layering, and (through a tiny UDP server thread on
 * 127.0.0.1) the c-ares backend: coalescing, timeouts, SERVFAIL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dnsmsg.h"
#include "verify/dns.h"
#include "verify/dns_ares.h"
#include "verify/dns_zone.h"

/* ------------------------------------------------------------ helpers */

struct result {
	int calls;
	enum dns_status status;
	enum dns_why why;
	unsigned count;
};

static void record(void *arg, struct dns_answer *a)
{
	struct result *r = arg;
	r->calls++;
	r->status = a->status;
	r->why = a->why;
	r->count = a->count;
}

static struct dns_zone *zone(const char *text)
{
	struct dns_zone_error err;
	struct dns_zone *z = dns_zone_parse(text, strlen(text), "t", &err);
	if (!z)
		fail_msg("%s", err.msg);
	return z;
}

static uint64_t fake_now;
static uint64_t fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

/* ------------------------------------------------- zone-backed resolver */

static void continuation_runs_only_from_dispatch(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone("a.test. A 127.0.0.1\n"), NULL);
	struct result res = {0};
	assert_non_null(dns_resolve(r, "a.test", DNS_TYPE_A, record, &res));
	assert_int_equal(res.calls, 0);
	assert_int_equal(dns_resolver_pending(r), 1);
	assert_int_equal(dns_resolver_timeout_ms(r), 0);
	assert_int_equal(dns_resolver_dispatch(r), 1);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, DNS_DATA);
	assert_int_equal(dns_resolver_pending(r), 0);
	dns_resolver_free(r);
}

static void second_lookup_is_a_cache_hit_until_expiry(void **state)
{
	(void)state;
	struct dns_resolver_config cfg = {.clock = fake_clock};
	fake_now = 100;
	struct dns_resolver *r = dns_resolver_new(&cfg, zone("a.test. 60 A 127.0.0.1\n"), NULL);
	struct result res = {0};
	struct dns_cache_stats st;
	dns_resolve(r, "A.TEST.", DNS_TYPE_A, record, &res);
	dns_resolve(r, "a.test", DNS_TYPE_A, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.calls, 2);
	dns_resolver_cache_stats(r, &st);
	assert_int_equal(st.hits, 1);
	assert_int_equal(st.inserts, 1);
	fake_now = 160; /* TTL over: asked again */
	dns_resolve(r, "a.test", DNS_TYPE_A, record, &res);
	dns_resolver_dispatch(r);
	dns_resolver_cache_stats(r, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.inserts, 2);
	dns_resolver_free(r);
}

static void cancelled_continuation_never_runs(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone("a.test. A 127.0.0.1\n"), NULL);
	struct result res = {0}, other = {0};
	struct dns_query *q = dns_resolve(r, "a.test", DNS_TYPE_A, record, &res);
	dns_resolve(r, "b.test", DNS_TYPE_A, record, &other);
	dns_query_cancel(r, q);
	dns_query_cancel(r, q); /* twice (a session torn down twice) counts once */
	assert_int_equal(dns_resolver_pending(r), 1);
	assert_int_equal(dns_resolver_dispatch(r), 1);
	assert_int_equal(res.calls, 0);
	assert_int_equal(other.calls, 1);
	assert_int_equal(other.status, DNS_NXDOMAIN);
	dns_resolver_free(r);
}

struct chain {
	struct dns_resolver *r;
	struct result final;
};

static void chain_step(void *arg, struct dns_answer *a)
{
	struct chain *c = arg;
	/* Resolve the MX host from inside the continuation. */
	dns_resolve(c->r, a->records[0].u.mx.host, DNS_TYPE_A, record, &c->final);
}

static void continuation_may_submit_more(void **state)
{
	(void)state;
	struct chain c = {0};
	c.r = dns_resolver_new(NULL, zone("d.test. MX 10 mx.d.test.\nmx.d.test. A 127.0.0.2\n"),
			       NULL);
	dns_resolve(c.r, "d.test", DNS_TYPE_MX, chain_step, &c);
	assert_int_equal(dns_resolver_run(c.r, 1000), 0);
	assert_int_equal(c.final.calls, 1);
	assert_int_equal(c.final.status, DNS_DATA);
	dns_resolver_free(c.r);
}

static void without_backends_everything_is_nxdomain(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, NULL, NULL);
	struct result res = {0};
	dns_resolve(r, "a.test", DNS_TYPE_TXT, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.status, DNS_NXDOMAIN);
	dns_resolver_free(r);
}

static void over_long_name_is_malformed(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, NULL, NULL);
	char name[1100];
	memset(name, 'a', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	struct result res = {0};
	dns_resolve(r, name, DNS_TYPE_A, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.status, DNS_MALFORMED);
	assert_int_equal(res.why, DNS_WHY_BADNAME);
	dns_resolver_free(r);
}

static void set_zone_replaces_and_flushes(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone("a.test. A 127.0.0.1\n"), NULL);
	struct result res = {0};
	dns_resolve(r, "a.test", DNS_TYPE_A, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.status, DNS_DATA);
	dns_resolver_set_zone(r, zone("b.test. A 127.0.0.1\n"));
	dns_resolve(r, "a.test", DNS_TYPE_A, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.status, DNS_NXDOMAIN);
	dns_resolver_free(r);
}

static unsigned ask_a(struct dns_resolver *r, const char *name)
{
	struct result res = {0};
	dns_resolve(r, name, DNS_TYPE_A, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.calls, 1);
	return res.status;
}

/* The daemon's workers share one zone, each resolver holding a reference:
 * a resolver freed or given another zone must leave the zone whole for
 * the others, and the last holder frees it (ASan sees a use after free,
 * a double free or a leak). */
static void a_shared_zone_lives_until_its_last_holder_lets_go(void **state)
{
	(void)state;
	struct dns_zone *z = zone("a.test. A 127.0.0.1\n");
	struct dns_resolver *r1 = dns_resolver_new(NULL, dns_zone_ref(z), NULL);
	struct dns_resolver *r2 = dns_resolver_new(NULL, dns_zone_ref(z), NULL);
	dns_zone_free(z); /* the loader's own reference */
	dns_resolver_free(r1);
	assert_int_equal(ask_a(r2, "a.test"), DNS_DATA);
	struct dns_resolver *r3 = dns_resolver_new(NULL, dns_zone_ref(z), NULL);
	dns_resolver_set_zone(r2, zone("b.test. A 127.0.0.1\n"));
	assert_int_equal(ask_a(r2, "a.test"), DNS_NXDOMAIN);
	assert_int_equal(ask_a(r3, "a.test"), DNS_DATA);
	dns_resolver_free(r3);
	dns_resolver_free(r2);
	assert_null(dns_zone_ref(NULL));
}

static void zone_timeout_is_tempfail_and_not_cached(void **state)
{
	(void)state;
	struct dns_resolver *r = dns_resolver_new(NULL, zone("s.test. TIMEOUT\n"), NULL);
	struct result res = {0};
	dns_resolve(r, "s.test", DNS_TYPE_TXT, record, &res);
	dns_resolve(r, "s.test", DNS_TYPE_TXT, record, &res);
	dns_resolver_dispatch(r);
	assert_int_equal(res.status, DNS_TEMPFAIL);
	assert_int_equal(res.why, DNS_WHY_TIMEOUT);
	struct dns_cache_stats st;
	dns_resolver_cache_stats(r, &st);
	assert_int_equal(st.hits, 0);
	assert_int_equal(st.entries, 0);
	dns_resolver_free(r);
}

/* ----------------------------------------------- a tiny UDP DNS server */

struct server {
	int fd;
	int port;
	atomic_int queries;
	atomic_bool stop;
	pthread_t thread;
};

/* Answer by the first label: "a*" → A 127.0.0.1, "sf*" → SERVFAIL,
 * "silent*" → no reply at all, "cn*" → CNAME a9.test without its data,
 * "chN" (N a digit above 0) → CNAME ch<N-1>.test without its data, "ch0"
 * → A 127.0.0.1, anything else → NXDOMAIN. */
static void *serve(void *arg)
{
	struct server *s = arg;
	while (!atomic_load(&s->stop)) {
		struct pollfd p = {.fd = s->fd, .events = POLLIN};
		if (poll(&p, 1, 50) <= 0)
			continue;
		uint8_t q[512];
		struct sockaddr_storage from;
		socklen_t fl = sizeof from;
		ssize_t n = recvfrom(s->fd, q, sizeof q, 0, (struct sockaddr *)&from, &fl);
		if (n < 17)
			continue;
		atomic_fetch_add(&s->queries, 1);
		size_t qend = 12;
		while (qend < (size_t)n && q[qend])
			qend += q[qend] + 1u;
		qend += 5;
		const char *label = (const char *)q + 13;
		if (q[12] >= 6 && strncmp(label, "silent", 6) == 0)
			continue;
		static struct dnsmsg m;
		memcpy(m.b, q, qend);
		m.n = qend;
		m.b[2] = 0x81;
		m.b[3] = 0x80;
		m.b[6] = m.b[7] = m.b[8] = m.b[9] = m.b[10] = m.b[11] = 0;
		if (q[12] == 3 && strncmp(label, "ch", 2) == 0 && label[2] > '0' &&
		    label[2] <= '9') {
			char next[16];
			snprintf(next, sizeof next, "ch%c.test", label[2] - 1);
			m.b[7] = 1; /* one link of the chain, the server stopping there */
			dm_rr_q(&m, DNS_TYPE_CNAME, 300, (unsigned)dm_name_len(next));
			dm_name(&m, next);
		} else if (q[12] >= 2 && strncmp(label, "cn", 2) == 0) {
			m.b[7] = 1; /* a CNAME, and nothing at its end */
			dm_rr_q(&m, DNS_TYPE_CNAME, 300, (unsigned)dm_name_len("a9.test"));
			dm_name(&m, "a9.test");
		} else if (q[12] >= 2 && strncmp(label, "sf", 2) == 0) {
			m.b[3] |= 2;
		} else if (label[0] == 'a' || (q[12] == 3 && strncmp(label, "ch0", 3) == 0)) {
			m.b[7] = 1;
			dm_rr_q(&m, DNS_TYPE_A, 300, 4);
			dm_bytes(&m, "\x7f\x00\x00\x01", 4);
		} else {
			m.b[3] |= 3;
		}
		sendto(s->fd, m.b, m.n, 0, (struct sockaddr *)&from, fl);
	}
	return NULL;
}

static int server_start(void **state)
{
	static struct server s;
	memset(&s, 0, sizeof s);
	s.fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof sin;
	if (s.fd < 0 || bind(s.fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
	    getsockname(s.fd, (struct sockaddr *)&sin, &sl) < 0)
		return -1;
	s.port = ntohs(sin.sin_port);
	pthread_create(&s.thread, NULL, serve, &s);
	*state = &s;
	return 0;
}

static int server_stop(void **state)
{
	struct server *s = *state;
	atomic_store(&s->stop, true);
	pthread_join(s->thread, NULL);
	close(s->fd);
	return 0;
}

/* timeout_ms: short only where a timeout is the point; an answering
 * server is a thread of this (sanitized) process and may be descheduled
 * for a while on a busy machine. */
static struct dns_resolver *upstream_resolver_timeout(struct server *s, struct dns_zone *z,
						      int timeout_ms)
{
	char servers[64], err[256];
	snprintf(servers, sizeof servers, "127.0.0.1:%d", s->port);
	struct dns_upstream_config uc = {.servers = servers, .timeout_ms = timeout_ms, .tries = 1};
	struct dns_upstream *u = dns_upstream_new(&uc, err, sizeof err);
	if (!u)
		fail_msg("%s", err);
	return dns_resolver_new(NULL, z, u);
}

static struct dns_resolver *upstream_resolver(struct server *s, struct dns_zone *z)
{
	return upstream_resolver_timeout(s, z, 3000);
}

static void identical_queries_share_one_packet(void **state)
{
	struct server *s = *state;
	atomic_store(&s->queries, 0);
	struct dns_resolver *r = upstream_resolver(s, NULL);
	struct result res[20] = {0};
	for (int i = 0; i < 20; i++)
		dns_resolve(r, "a1.test", DNS_TYPE_A, record, &res[i]);
	assert_int_equal(dns_resolver_pending(r), 20);
	assert_int_equal(dns_resolver_run(r, 10000), 0);
	for (int i = 0; i < 20; i++) {
		assert_int_equal(res[i].calls, 1);
		assert_int_equal(res[i].status, DNS_DATA);
		assert_int_equal(res[i].count, 1);
	}
	assert_int_equal(atomic_load(&s->queries), 1);
	/* And the answer is now cached: no new packet. */
	dns_resolve(r, "a1.test", DNS_TYPE_A, record, &res[0]);
	assert_int_equal(dns_resolver_run(r, 10000), 0);
	assert_int_equal(atomic_load(&s->queries), 1);
	dns_resolver_free(r);
}

static void silent_server_times_out(void **state)
{
	struct server *s = *state;
	struct dns_resolver *r = upstream_resolver_timeout(s, NULL, 150);
	struct result res = {0};
	dns_resolve(r, "silent.test", DNS_TYPE_TXT, record, &res);
	assert_int_equal(dns_resolver_run(r, 5000), 0);
	assert_int_equal(res.calls, 1);
	assert_int_equal(res.status, DNS_TEMPFAIL);
	assert_int_equal(res.why, DNS_WHY_TIMEOUT);
	dns_resolver_free(r);
}

static void servfail_and_nxdomain_from_server(void **state)
{
	struct server *s = *state;
	struct dns_resolver *r = upstream_resolver(s, NULL);
	struct result sf = {0}, nx = {0};
	dns_resolve(r, "sf.test", DNS_TYPE_A, record, &sf);
	dns_resolve(r, "zz.test", DNS_TYPE_A, record, &nx);
	assert_int_equal(dns_resolver_run(r, 10000), 0);
	assert_int_equal(sf.status, DNS_TEMPFAIL);
	assert_int_equal(sf.why, DNS_WHY_SERVFAIL);
	assert_int_equal(nx.status, DNS_NXDOMAIN);
	dns_resolver_free(r);
}

static void overlay_answers_before_upstream(void **state)
{
	struct server *s = *state;
	atomic_store(&s->queries, 0);
	struct dns_resolver *r = upstream_resolver(s, zone("zz.test. A 10.9.9.9\n"));
	struct result inz = {0}, up = {0};
	dns_resolve(r, "zz.test", DNS_TYPE_A, record, &inz);
	dns_resolve(r, "a2.test", DNS_TYPE_A, record, &up);
	assert_int_equal(dns_resolver_run(r, 10000), 0);
	assert_int_equal(inz.status, DNS_DATA); /* the server would say NXDOMAIN */
	assert_int_equal(up.status, DNS_DATA);
	assert_int_equal(atomic_load(&s->queries), 1);
	dns_resolver_free(r);
}

static void unfinished_cname_chain_is_asked_again(void **state)
{
	struct server *s = *state;
	atomic_store(&s->queries, 0);
	struct dns_resolver *r = upstream_resolver(s, NULL);
	struct result res = {0};
	dns_resolve(r, "cn.test", DNS_TYPE_A, record, &res);
	assert_int_equal(dns_resolver_run(r, 10000), 0);
	assert_int_equal(res.status, DNS_DATA);
	assert_int_equal(atomic_load(&s->queries), 2);
	dns_resolver_free(r);
}

/* A chain the server leaves unfinished at every link is asked again at
 * most 8 times (MAX_CNAME_RESTARTS): eight links resolve, nine do not,
 * so a CNAME loop costs a bounded number of queries. */
static void cname_chain_restarts_are_bounded(void **state)
{
	struct server *s = *state;
	for (int links = 8; links <= 9; links++) {
		char name[16];
		snprintf(name, sizeof name, "ch%d.test", links);
		atomic_store(&s->queries, 0);
		struct dns_resolver *r = upstream_resolver(s, NULL);
		struct result res = {0};
		dns_resolve(r, name, DNS_TYPE_A, record, &res);
		assert_int_equal(dns_resolver_run(r, 10000), 0);
		assert_int_equal(res.calls, 1);
		if (links == 8)
			assert_int_equal(res.status, DNS_DATA);
		else
			assert_int_not_equal(res.status, DNS_DATA);
		assert_int_equal(atomic_load(&s->queries), 9);
		dns_resolver_free(r);
	}
}

struct watch_log {
	int calls;
	int last_fd;
};

static void on_watch(void *arg, int fd, bool rd, bool wr)
{
	(void)wr;
	struct watch_log *w = arg;
	w->calls++;
	if (rd)
		w->last_fd = fd;
}

static void watch_reports_sockets_for_event_loops(void **state)
{
	struct server *s = *state;
	struct dns_resolver *r = upstream_resolver(s, NULL);
	struct watch_log w = {0, -1};
	dns_resolver_set_watch(r, on_watch, &w);
	struct result res = {0};
	dns_resolve(r, "a3.test", DNS_TYPE_A, record, &res);
	assert_true(w.calls >= 1);
	assert_true(w.last_fd >= 0);
	/* Drive it by hand, as an io_uring worker would. */
	for (int i = 0; i < 100 && res.calls == 0; i++) {
		struct pollfd p = {.fd = w.last_fd, .events = POLLIN};
		if (poll(&p, 1, 50) > 0)
			dns_resolver_process_fd(r, w.last_fd, true, false);
		else
			dns_resolver_process_timeouts(r);
	}
	assert_int_equal(res.status, DNS_DATA);
	dns_resolver_free(r);
}

int main(void)
{
	const struct CMUnitTest local[] = {
		cmocka_unit_test(continuation_runs_only_from_dispatch),
		cmocka_unit_test(second_lookup_is_a_cache_hit_until_expiry),
		cmocka_unit_test(cancelled_continuation_never_runs),
		cmocka_unit_test(continuation_may_submit_more),
		cmocka_unit_test(without_backends_everything_is_nxdomain),
		cmocka_unit_test(over_long_name_is_malformed),
		cmocka_unit_test(set_zone_replaces_and_flushes),
		cmocka_unit_test(a_shared_zone_lives_until_its_last_holder_lets_go),
		cmocka_unit_test(zone_timeout_is_tempfail_and_not_cached),
	};
	const struct CMUnitTest upstream[] = {
		cmocka_unit_test(identical_queries_share_one_packet),
		cmocka_unit_test(silent_server_times_out),
		cmocka_unit_test(servfail_and_nxdomain_from_server),
		cmocka_unit_test(overlay_answers_before_upstream),
		cmocka_unit_test(unfinished_cname_chain_is_asked_again),
		cmocka_unit_test(watch_reports_sockets_for_event_loops),
		cmocka_unit_test(cname_chain_restarts_are_bounded),
	};
	int failed = cmocka_run_group_tests(local, NULL, NULL);
	return failed + cmocka_run_group_tests(upstream, server_start, server_stop);
}
