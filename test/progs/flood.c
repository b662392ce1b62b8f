/* flood: sends raw IP packets on the sandbox's link, as a hostile program
 * that is root in its own network namespace can, for a bounded time and
 * count: UDP datagrams, TCP SYNs or DNS queries, from spoofed sources or
 * from the program's own address with many source ports.
 *
 *   flood KIND SRC TARGET PORT SECONDS MAXCOUNT [NAME]
 *
 * KIND is udp, syn or dns; SRC is "spoof" (sources drawn from
 * 198.18.0.0/15 or 2001:2::/48, which never leave the sandbox's TUN link)
 * or "own" (100.96.0.2 or fd00:5a::2, random source ports); TARGET an
 * IPv4 or IPv6 address (the family picks the IP version); NAME the name a
 * dns query asks (A). It prints "sent N" (N packets written), and exits 0
 * once SECONDS have passed or MAXCOUNT packets were sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static uint32_t rnd_state = 2463534242u;

/* xorshift32: fast, and good enough to spread ports and addresses. */
static uint32_t rnd(void) {
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

static uint32_t sum16(const void *data, size_t len, uint32_t sum) {
	const uint8_t *p = data;
	for (; len > 1; len -= 2, p += 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum) {
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* dns_query writes a query for name (type A, class IN) to out. */
static size_t dns_query(uint8_t *out, const char *name) {
	uint16_t id = (uint16_t)rnd();
	uint8_t *p = out;
	const uint8_t hdr[12] = {id >> 8, id & 0xff, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	memcpy(p, hdr, 12);
	p += 12;
	while (*name) {
		const char *dot = strchr(name, '.');
		size_t n = dot ? (size_t)(dot - name) : strlen(name);
		*p++ = (uint8_t)n;
		memcpy(p, name, n);
		p += n;
		name += n;
		if (*name == '.')
			name++;
	}
	*p++ = 0;
	const uint8_t tail[4] = {0, 1, 0, 1};
	memcpy(p, tail, 4);
	return (size_t)(p + 4 - out);
}

int main(int argc, char **argv) {
	if (argc < 7) {
		fprintf(stderr, "usage: flood udp|syn|dns spoof|own TARGET PORT SECONDS MAXCOUNT [NAME]\n");
		return 2;
	}
	const char *kind = argv[1], *src = argv[2], *target = argv[3];
	int port = atoi(argv[4]);
	double seconds = atof(argv[5]);
	long maxcount = atol(argv[6]);
	const char *name = argc > 7 ? argv[7] : "flood.test";
	int spoof = strcmp(src, "spoof") == 0;
	int tcp = strcmp(kind, "syn") == 0;
	rnd_state ^= (uint32_t)getpid() * 2654435761u;

	struct in_addr dst4;
	struct in6_addr dst6;
	int v6;
	if (inet_pton(AF_INET, target, &dst4) == 1)
		v6 = 0;
	else if (inet_pton(AF_INET6, target, &dst6) == 1)
		v6 = 1;
	else {
		fprintf(stderr, "flood: bad address %s\n", target);
		return 2;
	}
	/* IPPROTO_RAW: the header is ours to write (IP_HDRINCL implied). */
	int fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "flood: socket: %s\n", strerror(errno));
		return 1;
	}
	struct sockaddr_storage ss = {0};
	socklen_t sslen;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_addr = dst6;
		sslen = sizeof *a;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_addr = dst4;
		sslen = sizeof *a;
	}
	/* Connected once (one judged call), then plain sends. */
	if (connect(fd, (struct sockaddr *)&ss, sslen) < 0) {
		fprintf(stderr, "flood: connect: %s\n", strerror(errno));
		return 1;
	}

	uint8_t l4[128];
	size_t l4len;
	uint8_t payload[96];
	size_t plen = 0;
	if (strcmp(kind, "dns") == 0)
		plen = dns_query(payload, name);
	else if (!tcp) {
		memset(payload, 'f', 32);
		plen = 32;
	}
	uint8_t pkt[256];
	long sent = 0;
	double end = now() + seconds;
	for (long i = 0; i < maxcount; i++) {
		if ((i & 255) == 0 && now() > end)
			break;
		uint16_t sport = 1024 + rnd() % 64000;
		if (tcp) {
			memset(l4, 0, 20);
			l4[0] = sport >> 8, l4[1] = sport & 0xff;
			l4[2] = port >> 8, l4[3] = port & 0xff;
			uint32_t seq = rnd();
			memcpy(l4 + 4, &seq, 4);
			l4[12] = 5 << 4;         /* data offset: 20 bytes */
			l4[13] = 0x02;           /* SYN */
			l4[14] = 0xfa, l4[15] = 0xf0; /* window 64240 */
			l4len = 20;
		} else {
			if (strcmp(kind, "dns") == 0) {
				uint16_t id = (uint16_t)rnd();
				payload[0] = id >> 8, payload[1] = id & 0xff;
			}
			l4len = 8 + plen;
			l4[0] = sport >> 8, l4[1] = sport & 0xff;
			l4[2] = port >> 8, l4[3] = port & 0xff;
			l4[4] = l4len >> 8, l4[5] = l4len & 0xff;
			l4[6] = l4[7] = 0;
			memcpy(l4 + 8, payload, plen);
		}
		uint8_t proto = tcp ? 6 : 17;
		size_t iplen;
		uint32_t sum;
		int csum_at = tcp ? 16 : 6;
		if (v6) {
			uint8_t s6[16] = {0xfd, 0x00, 0x00, 0x5a, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
			if (spoof) { /* 2001:2::/48, random below */
				uint8_t base[6] = {0x20, 0x01, 0x00, 0x02, 0x00, 0x00};
				memcpy(s6, base, 6);
				for (int k = 6; k < 16; k += 2) {
					uint16_t r = (uint16_t)rnd();
					s6[k] = r >> 8, s6[k + 1] = r & 0xff;
				}
			}
			memset(pkt, 0, 40);
			pkt[0] = 0x60;
			pkt[4] = l4len >> 8, pkt[5] = l4len & 0xff;
			pkt[6] = proto;
			pkt[7] = 64;
			memcpy(pkt + 8, s6, 16);
			memcpy(pkt + 24, &dst6, 16);
			sum = sum16(pkt + 8, 32, 0) + (uint32_t)l4len + proto;
			iplen = 40;
		} else {
			uint8_t s4[4] = {100, 96, 0, 2};
			if (spoof) { /* 198.18.0.0/15 */
				uint32_t r = rnd();
				s4[0] = 198, s4[1] = 18 + (r & 1), s4[2] = (r >> 8) & 0xff, s4[3] = 1 + (r >> 16) % 254;
			}
			memset(pkt, 0, 20);
			pkt[0] = 0x45;
			uint16_t tot = 20 + l4len;
			pkt[2] = tot >> 8, pkt[3] = tot & 0xff;
			pkt[8] = 64;
			pkt[9] = proto;
			memcpy(pkt + 12, s4, 4);
			memcpy(pkt + 16, &dst4, 4);
			uint16_t ipsum = fold(sum16(pkt, 20, 0));
			pkt[10] = ipsum >> 8, pkt[11] = ipsum & 0xff;
			sum = sum16(pkt + 12, 8, 0) + (uint32_t)l4len + proto;
			iplen = 20;
		}
		uint16_t c = fold(sum16(l4, l4len, sum));
		if (c == 0 && !tcp)
			c = 0xffff;
		l4[csum_at] = c >> 8, l4[csum_at + 1] = c & 0xff;
		memcpy(pkt + iplen, l4, l4len);
		if (send(fd, pkt, iplen + l4len, 0) < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)
				continue; /* the link's queue is full: on to the next */
			fprintf(stderr, "flood: send: %s\n", strerror(errno));
			return 1;
		}
		sent++;
	}
	printf("sent %ld\n", sent);
	return 0;
}
