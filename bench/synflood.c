/*
 * synflood — paced TCP SYN flood on one interface through an AF_PACKET
 * socket, for the XDP blocklist test and bench
 * (tests/integration/xdp_synflood.sh, bench/xdp_synflood.sh). Writes whole
 * Ethernet frames: IPv4 sources drawn from a /24, random source ports and
 * sequence numbers, valid IP and TCP checksums (so that without XDP the
 * kernel's TCP stack does the full SYN work, SYN cookies included).
 *
 *   synflood IFACE DST_MAC SRC_NET DST_IP DPORT RATE SECONDS
 *   e.g. synflood agf-c1 02:00:00:00:00:02 10.78.1.0 10.78.0.2 25 50000 5
 *
 * Sends batches of 64 (sendmmsg) on a fixed schedule of RATE frames a
 * second for SECONDS; when the machine cannot keep up it sends what it can
 * and says so. Ends with one JSON line {"sent":N,"seconds":S,"rate":R,
 * "cpu_s":C,...}: cpu_s is its own user + system time, which on a veth
 * includes the receiving side's softirq work done in its context.
 * Exit 0; 1 on a socket error; 2 on a usage error. Needs root (CAP_NET_RAW).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 64
#define FRAME (14 + 20 + 20)

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint32_t rng(uint64_t *s)
{
	*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17; /* xorshift64 */
	return (uint32_t)(*s >> 16);
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint32_t sum16(const uint8_t *p, size_t n, uint32_t sum)
{
	for (size_t i = 0; i + 1 < n; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	return sum;
}

static void frame(uint8_t *f, const uint8_t dmac[6], const uint8_t smac[6], uint32_t saddr,
		  uint32_t daddr, uint16_t sport, uint16_t dport, uint32_t seq)
{
	memset(f, 0, FRAME);
	memcpy(f, dmac, 6);
	memcpy(f + 6, smac, 6);
	f[12] = 0x08;
	uint8_t *ip = f + 14, *t = f + 34;
	ip[0] = 0x45, ip[3] = 40, ip[8] = 64, ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
	uint16_t c = fold(sum16(ip, 20, 0));
	ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
	t[0] = (uint8_t)(sport >> 8), t[1] = (uint8_t)sport;
	t[2] = (uint8_t)(dport >> 8), t[3] = (uint8_t)dport;
	t[4] = (uint8_t)(seq >> 24), t[5] = (uint8_t)(seq >> 16);
	t[6] = (uint8_t)(seq >> 8), t[7] = (uint8_t)seq;
	t[12] = 5 << 4, t[13] = 0x02; /* SYN */
	t[14] = 0xfa, t[15] = 0xf0;   /* window 64240 */
	/* pseudo-header: addresses, protocol, TCP length */
	uint32_t sum = sum16(ip + 12, 8, IPPROTO_TCP + 20);
	c = fold(sum16(t, 20, sum));
	t[16] = (uint8_t)(c >> 8), t[17] = (uint8_t)c;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned v[6];
	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
		return -1;
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)v[i];
	return 0;
}

static int own_mac(const char *ifname, uint8_t mac[6])
{
	char path[128], buf[32];
	snprintf(path, sizeof path, "/sys/class/net/%s/address", ifname);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	int rc = fgets(buf, sizeof buf, f) ? parse_mac(buf, mac) : -1;
	fclose(f);
	return rc;
}

int main(int argc, char **argv)
{
	uint8_t dmac[6], smac[6];
	struct in_addr net, dst;
	if (argc != 8 || parse_mac(argv[2], dmac) < 0 || inet_pton(AF_INET, argv[3], &net) != 1 ||
	    inet_pton(AF_INET, argv[4], &dst) != 1 || atoi(argv[5]) <= 0 || atoi(argv[6]) <= 0 ||
	    atof(argv[7]) <= 0) {
		fprintf(stderr, "usage: synflood IFACE DST_MAC SRC_NET DST_IP DPORT RATE SECONDS\n");
		return 2;
	}
	const char *ifname = argv[1];
	uint16_t dport = (uint16_t)atoi(argv[5]);
	double rate = atof(argv[6]), seconds = atof(argv[7]);
	unsigned ifindex = if_nametoindex(ifname);
	if (!ifindex || own_mac(ifname, smac) < 0) {
		fprintf(stderr, "synflood: %s: no such interface\n", ifname);
		return 1;
	}
	int fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: send only */
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_ifindex = (int)ifindex};
	int one = 1;
	if (fd < 0 || bind(fd, (struct sockaddr *)&ll, sizeof ll) < 0) {
		fprintf(stderr, "synflood: AF_PACKET on %s: %s\n", ifname, strerror(errno));
		return 1;
	}
	setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one);

	static uint8_t frames[BATCH][FRAME];
	struct iovec iov[BATCH];
	struct mmsghdr msgs[BATCH];
	memset(msgs, 0, sizeof msgs);
	for (int i = 0; i < BATCH; i++) {
		iov[i] = (struct iovec){.iov_base = frames[i], .iov_len = FRAME};
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	uint64_t seed = now_ns() | 1, start = now_ns(), sent = 0, errors = 0;
	uint64_t total = (uint64_t)(rate * seconds), end = start + (uint64_t)(seconds * 1e9);
	uint32_t base = ntohl(net.s_addr) & 0xffffff00u;
	while (sent < total) {
		/* the schedule: frame k is due at start + k / rate */
		uint64_t due = start + (uint64_t)((double)sent * 1e9 / rate);
		uint64_t t = now_ns();
		if (t > end + 1000000000ull)
			break; /* a second behind schedule at the end: give up */
		if (due > t) {
			struct timespec ts = {.tv_sec = (time_t)(due / 1000000000ull),
					      .tv_nsec = (long)(due % 1000000000ull)};
			clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
		}
		unsigned n = total - sent < BATCH ? (unsigned)(total - sent) : BATCH;
		for (unsigned i = 0; i < n; i++) {
			uint32_t r = rng(&seed);
			uint32_t src = htonl(base | (1 + r % 254));
			frame(frames[i], dmac, smac, src, dst.s_addr, (uint16_t)(1024 + (r >> 8) % 64000),
			      dport, rng(&seed));
		}
		int k = sendmmsg(fd, msgs, n, 0);
		if (k < 0) {
			if (errno == ENOBUFS || errno == EAGAIN) {
				errors++;
				continue;
			}
			fprintf(stderr, "synflood: sendmmsg: %s\n", strerror(errno));
			return 1;
		}
		sent += (unsigned)k;
	}
	double took = (double)(now_ns() - start) / 1e9;
	if (sent < total)
		fprintf(stderr, "synflood: sent %llu of %llu frames: the machine could not keep up\n",
			(unsigned long long)sent, (unsigned long long)total);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	printf("{\"sent\":%llu,\"seconds\":%.3f,\"rate\":%.0f,\"cpu_s\":%.3f,"
	       "\"send_errors\":%llu}\n",
	       (unsigned long long)sent, took, sent / took, cpu, (unsigned long long)errors);
	close(fd);
	return 0;
}
