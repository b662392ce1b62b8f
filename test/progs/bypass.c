/*
 * bypass: the ways around the supervisor found by the security review of
 * issue 9, each tried against a listener the policy denies. TestBypass*
 * runs it natively (the denied listener must receive something: the test
 * has teeth) and under the sandbox (it must receive nothing), and counts on
 * the listeners' side.
 *
 * Every datagram carries its vector's name as the payload, and every TCP
 * connection that succeeds writes it, so the test can tell whose traffic
 * arrived where. One line per vector: its name, then each call that names
 * a destination and how it ended ("ok", a count, or the errno's name).
 *
 *   bypass pktinfo PORT X4 X6
 *       sends to the unspecified address with a control message naming the
 *       local address X4 (or X6) as the source: the kernel sends a datagram
 *       to 0.0.0.0 to its own source address, so it lands at X4:PORT.
 *   bypass race PORT X4 TRIES MS KIND…
 *       for each KIND (see the races below), one thread connects or sends,
 *       TRIES times or for MS milliseconds, while another races it to make
 *       the call go to X4:PORT instead of the allowed 127.0.0.1:PORT.
 *   bypass families
 *       socket() in every address family and type; nothing is bound,
 *       connected or sent (never to a vsock CID: it reaches the hypervisor).
 *   bypass passed PORT
 *       sockets received over stdin (SCM_RIGHTS), made in the namespace
 *       outside the sandbox, used against the sandbox's gateway and the
 *       loopback; and the same calls on sockets of its own.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "vector.h"

static void emit(const char *name) {
	printf("%s%s\n", name, line);
	line[0] = 0;
}

static struct in6_addr mapped(struct in_addr a) {
	struct in6_addr m;
	memset(&m, 0, sizeof m);
	m.s6_addr[10] = m.s6_addr[11] = 0xff;
	memcpy(&m.s6_addr[12], &a, 4);
	return m;
}

static struct in_addr v4(const char *s) {
	struct in_addr a;
	if (inet_pton(AF_INET, s, &a) != 1) {
		fprintf(stderr, "bypass: bad IPv4 address %s\n", s);
		exit(2);
	}
	return a;
}

static struct in6_addr v6(const char *s) {
	struct in6_addr a;
	if (inet_pton(AF_INET6, s, &a) != 1) {
		fprintf(stderr, "bypass: bad IPv6 address %s\n", s);
		exit(2);
	}
	return a;
}

static const struct in_addr any4 = {INADDR_ANY};
static struct in_addr lo4(void) { return (struct in_addr){htonl(INADDR_LOOPBACK)}; }

static int sock(int family, int type) {
	int fd = socket(family, type, 0);
	if (fd < 0) {
		perror("socket");
		exit(2);
	}
	return fd;
}

/* ---------------------------------------------------------------- pktinfo */

/* One control message, aligned as the kernel wants it. */
union cmsgbuf {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

/* ip_pktinfo is IP_PKTINFO naming src as the source (ipi_spec_dst). */
static socklen_t ip_pktinfo(union cmsgbuf *u, struct in_addr src) {
	memset(u, 0, sizeof *u);
	struct cmsghdr *c = &u->align;
	c->cmsg_level = IPPROTO_IP;
	c->cmsg_type = IP_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
	struct in_pktinfo pi = {.ipi_spec_dst = src};
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
	return CMSG_SPACE(sizeof pi);
}

/* ipv6_pktinfo is IPV6_PKTINFO naming src as the source. */
static socklen_t ipv6_pktinfo(union cmsgbuf *u, struct in6_addr src) {
	memset(u, 0, sizeof *u);
	struct cmsghdr *c = &u->align;
	c->cmsg_level = IPPROTO_IPV6;
	c->cmsg_type = IPV6_PKTINFO;
	c->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
	struct in6_pktinfo pi = {.ipi6_addr = src};
	memcpy(CMSG_DATA(c), &pi, sizeof pi);
	return CMSG_SPACE(sizeof pi);
}

/* The tag of a pktinfo vector: its name and the address it aims at, so
 * the two runs (127.0.0.2 and the test host's address) are told apart. */
static char tag[128];

static void set_tag(const char *name, const char *x) { snprintf(tag, sizeof tag, "%s@%s", name, x); }

static void fill_msg(struct msghdr *m, struct iovec *iov, struct dest *d, union cmsgbuf *u, socklen_t clen) {
	iov->iov_base = tag;
	iov->iov_len = strlen(tag);
	memset(m, 0, sizeof *m);
	m->msg_name = &d->ss;
	m->msg_namelen = d->len;
	m->msg_iov = iov;
	m->msg_iovlen = 1;
	m->msg_control = u ? u->buf : NULL;
	m->msg_controllen = u ? clen : 0;
}

/* via_sendmsg sends tag to d with the control message in u, by sendmsg. */
static void via_sendmsg(int fd, struct dest d, union cmsgbuf *u, socklen_t clen) {
	struct iovec iov;
	struct msghdr m;
	fill_msg(&m, &iov, &d, u, clen);
	step("sendmsg", sendmsg(fd, &m, 0));
}

/* via_sendmmsg sends the same single message by sendmmsg. */
static void via_sendmmsg(int fd, struct dest d, union cmsgbuf *u, socklen_t clen) {
	struct iovec iov;
	struct mmsghdr mm;
	memset(&mm, 0, sizeof mm);
	fill_msg(&mm.msg_hdr, &iov, &d, u, clen);
	count("sendmmsg", sendmmsg(fd, &mm, 1, 0));
}

/* via_sendmmsg2 sends two messages: the first plainly to the allowed
 * loopback port, the second to d with the control message — a supervisor
 * that looked at the first message's control alone would miss it. A short
 * count is followed by a call for the rest, whose errno is the second's. */
static void via_sendmmsg2(int fd, int family, int port, struct dest d, union cmsgbuf *u, socklen_t clen) {
	struct dest allowed = family == AF_INET ? in4(lo4(), port) : in6(mapped(lo4()), port);
	struct iovec iov[2];
	struct mmsghdr mm[2];
	memset(mm, 0, sizeof mm);
	fill_msg(&mm[0].msg_hdr, &iov[0], &allowed, NULL, 0);
	fill_msg(&mm[1].msg_hdr, &iov[1], &d, u, clen);
	long n = count("sendmmsg", sendmmsg(fd, mm, 2, 0));
	if (n >= 0 && n < 2)
		count("rest", sendmmsg(fd, mm + n, 2 - n, 0));
}

enum how { SENDMSG, SENDMMSG, SENDMMSG2 };

static void pktinfo_send(int family, enum how how, int port, struct dest d, union cmsgbuf *u, socklen_t clen) {
	int fd = sock(family, SOCK_DGRAM);
	switch (how) {
	case SENDMSG:
		via_sendmsg(fd, d, u, clen);
		break;
	case SENDMMSG:
		via_sendmmsg(fd, d, u, clen);
		break;
	case SENDMMSG2:
		via_sendmmsg2(fd, family, port, d, u, clen);
		break;
	}
	close(fd);
}

static int cmd_pktinfo(int port, const char *xs4, const char *xs6) {
	struct in_addr x4 = v4(xs4);
	struct in6_addr x6 = v6(xs6);
	union cmsgbuf u;
	static const char *hows[] = {"sendmsg", "sendmmsg", "sendmmsg2"};
	char name[64];
	for (int how = SENDMSG; how <= SENDMMSG2; how++) {
		/* An IPv4 socket: 0.0.0.0 with IP_PKTINFO. */
		snprintf(name, sizeof name, "ip4-any-ippktinfo-%s", hows[how]);
		set_tag(name, xs4);
		pktinfo_send(AF_INET, how, port, in4(any4, port), &u, ip_pktinfo(&u, x4));
		emit(name);
		/* An IPv6 socket: ::ffff:0.0.0.0 with IPV6_PKTINFO naming
		 * ::ffff:X4 (ip_cmsg_send takes it for the IPv4 source). */
		snprintf(name, sizeof name, "ip6-mapped-any-ipv6pktinfo-%s", hows[how]);
		set_tag(name, xs4);
		pktinfo_send(AF_INET6, how, port, in6(mapped(any4), port), &u, ipv6_pktinfo(&u, mapped(x4)));
		emit(name);
		/* The same with IPv4's own IP_PKTINFO, which an IPv6 socket
		 * sending to a mapped address accepts too. */
		snprintf(name, sizeof name, "ip6-mapped-any-ippktinfo-%s", hows[how]);
		set_tag(name, xs4);
		pktinfo_send(AF_INET6, how, port, in6(mapped(any4), port), &u, ip_pktinfo(&u, x4));
		emit(name);
		/* An IPv6 socket given an AF_INET name (udpv6_sendmsg hands it
		 * to the IPv4 code). */
		snprintf(name, sizeof name, "ip6-inet-any-ipv6pktinfo-%s", hows[how]);
		set_tag(name, xs4);
		pktinfo_send(AF_INET6, how, port, in4(any4, port), &u, ipv6_pktinfo(&u, mapped(x4)));
		emit(name);
		/* An IPv6 socket to :: with IPV6_PKTINFO naming X6: IPv6
		 * sends :: to ::1 whatever the source (udpv6_sendmsg), so
		 * natively this lands at [::1] — a control that X6 gets
		 * nothing either way. */
		snprintf(name, sizeof name, "ip6-any-ipv6pktinfo-%s", hows[how]);
		set_tag(name, xs6);
		pktinfo_send(AF_INET6, how, port, in6(in6addr_any, port), &u, ipv6_pktinfo(&u, x6));
		emit(name);
	}
	return 0;
}

/* ------------------------------------------------------------------- race */

/*
 * The races. The main thread makes TRIES fresh sockets and connects (or
 * sends) each to the allowed destination; a racer thread tries to make
 * that very call go to X4 instead:
 *   tcp-bind, udp-bind, udp-sendto-bind: the call names 0.0.0.0, which the
 *     kernel sends to the socket's bound address at the moment it makes
 *     the call; the racer binds the socket to X4:0 while the call is
 *     trapped.
 *   tcp-dup2, udp-dup2: the racer dup2s a socket bound to X4:0 onto the
 *     caller's fd number.
 *   tcp-flip, udp-flip: the racer rewrites the sockaddr's address between
 *     127.0.0.1 and X4 (race.c flips the port; this flips the host).
 *   cmsg-flip: sendmsg to 0.0.0.0 with IP_PKTINFO whose source the racer
 *     rewrites between 127.0.0.1 and X4.
 * The flips rewrite the memory without pause. A binding or dup2-ing
 * racer waits a random while after each new socket — none half of the
 * time, up to 100 µs the other half, so that under the sandbox it lands
 * while the supervisor holds the call — and the caller half of the time
 * waits up to 20 µs before calling, so that natively the racer can land
 * before the call. Prints "KIND ok=N ERRNO=M …" for the calls, a line per KIND.
 */
static const char *kind;
static struct in_addr x4;
static int port;
static atomic_int cur = -1; /* the fd the main thread is calling on, or -1 */
static atomic_uint gen;     /* bumped for each new socket */
static atomic_uint acked;   /* the last gen the racer has acted on */
static atomic_int stop;
static struct sockaddr_in flipping;      /* tcp-flip, udp-flip: the name */
static union cmsgbuf flipping_cmsg;      /* cmsg-flip: the control message */
static volatile uint32_t *flip_word;     /* the address word the racer rewrites */

static int is(const char *k) { return strcmp(kind, k) == 0; }

static int race_type(void) { return strncmp(kind, "tcp", 3) == 0 ? SOCK_STREAM : SOCK_DGRAM; }

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

/* spin waits ns nanoseconds without sleeping (a sleep is far longer). */
static void spin(uint64_t ns) {
	uint64_t until = now_ns() + ns;
	while (now_ns() < until)
		;
}

static void *racer(void *arg) {
	(void)arg;
	struct sockaddr_in xa = {.sin_family = AF_INET, .sin_addr = x4};
	if (flip_word) {
		uint32_t w[2] = {htonl(INADDR_LOOPBACK), x4.s_addr};
		for (unsigned i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++) {
			*flip_word = w[i & 1];
			if ((i & 63) == 0)
				atomic_store(&acked, atomic_load(&gen));
		}
		return NULL;
	}
	unsigned seen = 0, rnd = 12345;
	while (!atomic_load(&stop)) {
		unsigned g = atomic_load(&gen);
		if (g == seen)
			continue;
		seen = g;
		rnd = rnd * 1103515245 + 12345;
		if (rnd & 0x10000)
			spin((rnd >> 17) % 100000);
		int fd = atomic_load(&cur);
		if (fd >= 0 && (is("tcp-dup2") || is("udp-dup2"))) {
			int o = socket(AF_INET, race_type(), 0);
			if (o >= 0 && bind(o, (struct sockaddr *)&xa, sizeof xa) == 0 && o != fd)
				dup2(o, fd);
			if (o >= 0)
				close(o);
		} else if (fd >= 0) {
			bind(fd, (struct sockaddr *)&xa, sizeof xa);
		}
		atomic_store(&acked, g);
	}
	return NULL;
}

static int race(const char *k, int tries, int ms) {
	kind = k;
	set_tag(kind, inet_ntoa(x4));
	atomic_store(&stop, 0);
	atomic_store(&cur, -1);
	flip_word = NULL;
	struct dest any = in4(any4, port);
	flipping = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = lo4()};
	if (is("tcp-flip") || is("udp-flip")) {
		flip_word = (volatile uint32_t *)&flipping.sin_addr.s_addr;
	} else if (is("cmsg-flip")) {
		ip_pktinfo(&flipping_cmsg, lo4());
		struct in_pktinfo *pi = (struct in_pktinfo *)CMSG_DATA(&flipping_cmsg.align);
		flip_word = (volatile uint32_t *)&pi->ipi_spec_dst.s_addr;
	} else if (!is("tcp-bind") && !is("udp-bind") && !is("udp-sendto-bind") && !is("tcp-dup2") && !is("udp-dup2")) {
		fprintf(stderr, "bypass: no race %s\n", kind);
		return 2;
	}
	pthread_t t;
	if (pthread_create(&t, NULL, racer, NULL) != 0) {
		perror("pthread_create");
		return 2;
	}
	int ok = 0, errs[200] = {0};
	unsigned rnd = 54321;
	uint64_t deadline = now_ns() + (uint64_t)ms * 1000000u;
	for (int i = 0; i < tries && now_ns() < deadline; i++) {
		int fd = sock(AF_INET, race_type());
		atomic_store(&cur, fd);
		unsigned g = atomic_fetch_add(&gen, 1) + 1;
		/* Half the time, give the racer up to 20 µs to land before
		 * the call: natively that is the only window there is. And
		 * one time in eight wait (up to 1 ms, yielding) until it has
		 * acted, so that even on a single busy core, where the two
		 * threads take turns, the race is seen natively. */
		rnd = rnd * 1103515245 + 12345;
		if (rnd & 0x10000)
			spin((rnd >> 17) % 20000);
		if ((rnd >> 8) % 8 == 0)
			for (uint64_t until = now_ns() + 1000000; atomic_load(&acked) != g && now_ns() < until;)
				sched_yield();
		long r;
		if (is("tcp-bind") || is("tcp-dup2")) {
			r = connect(fd, (struct sockaddr *)&any.ss, any.len);
			if (r == 0)
				r = send(fd, tag, strlen(tag), MSG_NOSIGNAL);
		} else if (is("udp-bind") || is("udp-dup2")) {
			r = connect(fd, (struct sockaddr *)&any.ss, any.len);
			if (r == 0)
				r = send(fd, tag, strlen(tag), 0);
		} else if (is("udp-sendto-bind")) {
			r = sendto(fd, tag, strlen(tag), 0, (struct sockaddr *)&any.ss, any.len);
		} else if (is("tcp-flip")) {
			r = connect(fd, (struct sockaddr *)&flipping, sizeof flipping);
			if (r == 0)
				r = send(fd, tag, strlen(tag), MSG_NOSIGNAL);
		} else if (is("udp-flip")) {
			r = sendto(fd, tag, strlen(tag), 0, (struct sockaddr *)&flipping, sizeof flipping);
		} else {
			struct iovec iov;
			struct msghdr m;
			fill_msg(&m, &iov, &any, &flipping_cmsg, CMSG_SPACE(sizeof(struct in_pktinfo)));
			r = sendmsg(fd, &m, 0);
		}
		if (r >= 0)
			ok++;
		else if (errno < 200)
			errs[errno]++;
		atomic_store(&cur, -1);
		close(fd);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("%s ok=%d", kind, ok);
	for (int e = 1; e < 200; e++)
		if (errs[e])
			printf(" %s=%d", strerrorname_np(e), errs[e]);
	printf("\n");
	return 0;
}

static int cmd_race(int p, const char *xs, int tries, int ms, char **kinds, int n) {
	port = p;
	x4 = v4(xs);
	for (int i = 0; i < n; i++)
		if (race(kinds[i], tries, ms) != 0)
			return 2;
	return 0;
}

/* --------------------------------------------------------------- families */

/*
 * socket() in every family up to 63 (AF_MAX is 46 today; the rest are
 * EAFNOSUPPORT on any kernel) and each type, closed at once: a line
 * "FAMILY.TYPE socket=RESULT" each. AF_PACKET, which the escape test
 * covers mode by mode (EPERM in --net host only), is left out. Also a
 * family with bits above the int the kernel reads (a filter comparing all
 * 64 bits would miss it), and a unix socketpair.
 */
static const char *family_names[64] = {
	[AF_UNIX] = "unix",          [AF_INET] = "inet",       [AF_AX25] = "ax25",     [AF_IPX] = "ipx",
	[AF_APPLETALK] = "appletalk", [AF_NETROM] = "netrom",  [AF_BRIDGE] = "bridge", [AF_ATMPVC] = "atmpvc",
	[AF_X25] = "x25",            [AF_INET6] = "inet6",     [AF_ROSE] = "rose",     [AF_DECnet] = "decnet",
	[AF_NETBEUI] = "netbeui",    [AF_SECURITY] = "security", [AF_KEY] = "key",     [AF_NETLINK] = "netlink",
	[AF_PACKET] = "packet",      [AF_ASH] = "ash",         [AF_ECONET] = "econet", [AF_ATMSVC] = "atmsvc",
	[AF_RDS] = "rds",            [AF_SNA] = "sna",         [AF_IRDA] = "irda",     [AF_PPPOX] = "pppox",
	[AF_WANPIPE] = "wanpipe",    [AF_LLC] = "llc",         [AF_IB] = "ib",         [AF_MPLS] = "mpls",
	[AF_CAN] = "can",            [AF_TIPC] = "tipc",       [AF_BLUETOOTH] = "bluetooth", [AF_IUCV] = "iucv",
	[AF_RXRPC] = "rxrpc",        [AF_ISDN] = "isdn",       [AF_PHONET] = "phonet", [AF_IEEE802154] = "ieee802154",
	[AF_CAIF] = "caif",          [AF_ALG] = "alg",         [AF_NFC] = "nfc",       [AF_VSOCK] = "vsock",
	[AF_KCM] = "kcm",            [AF_QIPCRTR] = "qipcrtr", [AF_SMC] = "smc",       [44] = "xdp",
	[45] = "mctp",
};

static const struct {
	const char *name;
	int type;
} types[] = {
	{"stream", SOCK_STREAM}, {"dgram", SOCK_DGRAM}, {"raw", SOCK_RAW}, {"rdm", SOCK_RDM}, {"seqpacket", SOCK_SEQPACKET},
};

static void try_socket(const char *fam, const char *typ, long family, int type) {
	char name[64];
	snprintf(name, sizeof name, "%s.%s", fam, typ);
	int fd = syscall(SYS_socket, family, type, 0);
	step("socket", fd);
	if (fd >= 0)
		close(fd);
	emit(name);
}

static int cmd_families(void) {
	for (int f = 1; f < 64; f++) {
		if (f == AF_PACKET)
			continue;
		char num[16];
		snprintf(num, sizeof num, "af%d", f);
		const char *fam = family_names[f] ? family_names[f] : num;
		for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
			/* inet's raw sockets are the escape test's (EPERM
			 * in --net host); its other types do not exist */
			if ((f == AF_INET || f == AF_INET6) && types[i].type != SOCK_STREAM && types[i].type != SOCK_DGRAM)
				continue;
			try_socket(fam, types[i].name, f, types[i].type);
		}
	}
	try_socket("vsock", "stream-cloexec-nonblock", AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK);
	try_socket("vsock", "stream-highbits", (1L << 32) | AF_VSOCK, SOCK_STREAM);
	try_socket("xdp", "raw-highbits", (1L << 32) | 44, SOCK_RAW);
	int sv[2];
	if (step("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) == 0) {
		close(sv[0]);
		close(sv[1]);
	}
	emit("unix.socketpair");
	return 0;
}

/* ----------------------------------------------------------------- passed */

/*
 * The test hands in, by SCM_RIGHTS over stdin, sockets made in its own
 * network namespace, in this order: udp4, udp6, then tcp4 × 4 and tcp6.
 * Each is used once against the sandbox's gateway (which a socket of the
 * sandbox's namespace reaches as the host's loopback, but one from outside
 * reaches as whatever 100.96.0.1 is there) or the loopback; then sockets
 * of the program's own make the gateway calls the policy allows.
 */
enum { UDP4, UDP6, TCP4A, TCP4B, TCP4C, TCP4D, TCP6, NPASSED };

static const char *vector;

static void send_to(int fd, struct dest d) {
	step("sendto", sendto(fd, vector, strlen(vector), 0, (struct sockaddr *)&d.ss, d.len));
}

static void sendmsg_to(int fd, struct dest d) {
	struct iovec iov = {.iov_base = (void *)vector, .iov_len = strlen(vector)};
	struct msghdr m = {.msg_name = &d.ss, .msg_namelen = d.len, .msg_iov = &iov, .msg_iovlen = 1};
	step("sendmsg", sendmsg(fd, &m, 0));
}

static void connect_to(int fd, struct dest d, int tcp) {
	if (step("connect", connect(fd, (struct sockaddr *)&d.ss, d.len)) == 0 && tcp)
		step("send", send(fd, vector, strlen(vector), MSG_NOSIGNAL));
}

/* fastopen_to connects a TCP socket by a send (TCP Fast Open). */
static void fastopen_to(int fd, struct dest d) {
	step("sendto", sendto(fd, vector, strlen(vector), MSG_FASTOPEN | MSG_NOSIGNAL, (struct sockaddr *)&d.ss, d.len));
}

static int cmd_passed(int port) {
	int fds[NPASSED];
	union {
		char buf[CMSG_SPACE(sizeof fds)];
		struct cmsghdr align;
	} u;
	char b;
	struct iovec iov = {.iov_base = &b, .iov_len = 1};
	struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf};
	if (recvmsg(0, &m, MSG_CMSG_CLOEXEC) < 0) {
		perror("recvmsg stdin");
		return 2;
	}
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);
	if (!c || c->cmsg_type != SCM_RIGHTS || c->cmsg_len != CMSG_LEN(sizeof fds)) {
		fprintf(stderr, "bypass: want %d descriptors on stdin\n", NPASSED);
		return 2;
	}
	memcpy(fds, CMSG_DATA(c), sizeof fds);

	struct in_addr gw4 = v4("100.96.0.1"), lo2 = v4("127.0.0.2");
	struct in6_addr gw6 = v6("fd00:5a::1");
#define V(n, call)          \
	do {                \
		vector = n; \
		call;       \
		emit(n);    \
	} while (0)
	V("outside-udp4-gw-dns", send_to(fds[UDP4], in4(gw4, 53)));
	V("outside-udp4-gw", send_to(fds[UDP4], in4(gw4, port)));
	V("outside-udp4-gw-sendmsg", sendmsg_to(fds[UDP4], in4(gw4, port)));
	V("outside-udp4-lo2", send_to(fds[UDP4], in4(lo2, port)));
	V("outside-udp4-lo", send_to(fds[UDP4], in4(lo4(), port)));
	V("outside-udp4-gw-connect", connect_to(fds[UDP4], in4(gw4, port), 0));
	V("outside-udp6-gw-dns", send_to(fds[UDP6], in6(gw6, 53)));
	V("outside-udp6-gw", send_to(fds[UDP6], in6(gw6, port)));
	V("outside-tcp4-gw", connect_to(fds[TCP4A], in4(gw4, port), 1));
	V("outside-tcp4-lo2", connect_to(fds[TCP4B], in4(lo2, port), 1));
	V("outside-tcp4-lo", connect_to(fds[TCP4C], in4(lo4(), port), 1));
	V("outside-tcp4-gw-fastopen", fastopen_to(fds[TCP4D], in4(gw4, port)));
	V("outside-tcp6-gw", connect_to(fds[TCP6], in6(gw6, port), 1));
	V("own-udp4-gw", send_to(sock(AF_INET, SOCK_DGRAM), in4(gw4, port)));
	V("own-udp6-gw", send_to(sock(AF_INET6, SOCK_DGRAM), in6(gw6, port)));
	V("own-tcp4-gw", connect_to(sock(AF_INET, SOCK_STREAM), in4(gw4, port), 1));
	V("own-tcp6-gw", connect_to(sock(AF_INET6, SOCK_STREAM), in6(gw6, port), 1));
#undef V
	return 0;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 5 && strcmp(argv[1], "pktinfo") == 0)
		return cmd_pktinfo(atoi(argv[2]), argv[3], argv[4]);
	if (argc >= 7 && strcmp(argv[1], "race") == 0)
		return cmd_race(atoi(argv[2]), argv[3], atoi(argv[4]), atoi(argv[5]), argv + 6, argc - 6);
	if (argc == 2 && strcmp(argv[1], "families") == 0)
		return cmd_families();
	if (argc == 3 && strcmp(argv[1], "passed") == 0)
		return cmd_passed(atoi(argv[2]));
	fprintf(stderr, "usage: bypass pktinfo PORT X4 X6 | race PORT X4 TRIES MS KIND… | families | passed PORT\n");
	return 2;
}
