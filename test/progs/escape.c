/*
 * escape: every way this program knows to send something to a destination
 * the policy denies, one vector at a time. TestEscape runs it natively (it
 * must reach the listener: the test has teeth) and under the sandbox in each
 * network mode (the listener must count nothing).
 *
 * Each vector is given its own port; the test listens on that port over TCP,
 * UDP and UDP-Lite, on both the IPv4 and the IPv6 address, and counts whatever
 * arrives there, so a count is that vector's alone. Vectors with an allowed
 * half send it to ALLOW_PORT, with the vector's name as the payload, so the
 * test can tell whose half arrived.
 *
 * One line per vector: its name, then each call that sends or names a
 * destination and how it ended ("ok", a count, or the errno's name), e.g.
 *     udp4-connected-sendto connect=ok send=ok sendto=EACCES
 * A call that only prepares (socket, pipe, fork, io_uring_setup…) is shown
 * only when it fails, e.g. "socket=EPERM" — where the vector cannot go on
 * without it, that is all its line says.
 *
 *   escape list
 *   escape V4ADDR V6ADDR ALLOW_PORT DEV NAME=PORT…
 *   escape exec-connect NAME V4ADDR PORT   (execve-connect4's child: prints its steps)
 *
 * DEV is the interface the packet-socket vectors send their frames on; the
 * test names it, so that a frame can never go out of any other interface.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/io_uring.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vector.h"

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

static struct in_addr target4;   /* the listener's IPv4 address */
static struct in6_addr target6;  /* and its IPv6 one */
static int allow_port;           /* the policy allows UDP to this port (and nothing else on the target) */
static const char *dev;          /* the packet vectors' interface */
static const char *vector;       /* the vector running: every payload is its name */

/* setup records a call that only prepares a vector (a socket, a pipe, a
 * fork…) only if it fails: the line shows what the vector got where it
 * names its destination, and what stopped it before. */
static long setup(const char *name, long r) {
	return r < 0 ? step(name, r) : r;
}

/* mapped is ::ffff:a, the IPv4 address a as an IPv6 socket names it. */
static struct dest mapped(struct in_addr a, int port) {
	struct in6_addr m;
	memset(&m, 0, sizeof m);
	m.s6_addr[10] = m.s6_addr[11] = 0xff;
	memcpy(&m.s6_addr[12], &a, 4);
	return in6(m, port);
}

static struct dest d4(int port) { return in4(target4, port); }
static struct dest d6(int port) { return in6(target6, port); }
static struct dest any4(int port) { return in4((struct in_addr){INADDR_ANY}, port); }
static struct dest any6(int port) { return in6(in6addr_any, port); }

static int sock(int family, int type, int proto) {
	return setup("socket", socket(family, type, proto));
}

/*
 * tcp_connect connects a new TCP (or MPTCP) socket to d; a non-blocking
 * connect's EINPROGRESS is followed to its end, so the step says how the
 * connection really ended.
 */
static void tcp_connect(int family, int type, int proto, struct dest d) {
	int fd = sock(family, type, proto);
	if (fd < 0)
		return;
	int r = connect(fd, (struct sockaddr *)&d.ss, d.len);
	if (r != 0 && errno == EINPROGRESS) {
		struct pollfd p = {.fd = fd, .events = POLLOUT};
		poll(&p, 1, 5000);
		int e = ETIMEDOUT;
		socklen_t el = sizeof e;
		if (p.revents)
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
		errno = e;
		r = e ? -1 : 0;
	}
	step("connect", r);
	close(fd);
}

static long connect_step(int fd, struct dest d) {
	return step("connect", connect(fd, (struct sockaddr *)&d.ss, d.len));
}

static void v_tcp4_connect(int port) { tcp_connect(AF_INET, SOCK_STREAM, 0, d4(port)); }
static void v_tcp6_connect(int port) { tcp_connect(AF_INET6, SOCK_STREAM, 0, d6(port)); }
static void v_tcp4_connect_nonblock(int port) { tcp_connect(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0, d4(port)); }
static void v_tcp6_connect_nonblock(int port) { tcp_connect(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK, 0, d6(port)); }
static void v_tcp6_connect_mapped(int port) { tcp_connect(AF_INET6, SOCK_STREAM, 0, mapped(target4, port)); }
/* The unspecified address is the local host: the kernel connects to the
 * loopback (only meaningful where the listener is on the loopback). */
static void v_tcp4_connect_any(int port) { tcp_connect(AF_INET, SOCK_STREAM, 0, any4(port)); }
static void v_tcp6_connect_any(int port) { tcp_connect(AF_INET6, SOCK_STREAM, 0, any6(port)); }
static void v_tcp6_connect_mapped_any(int port) { tcp_connect(AF_INET6, SOCK_STREAM, 0, mapped((struct in_addr){INADDR_ANY}, port)); }
/* MPTCP is its own protocol number, and falls back to plain TCP when the
 * listener does not speak it. */
static void v_mptcp4_connect(int port) { tcp_connect(AF_INET, SOCK_STREAM, IPPROTO_MPTCP, d4(port)); }
static void v_mptcp6_connect(int port) { tcp_connect(AF_INET6, SOCK_STREAM, IPPROTO_MPTCP, d6(port)); }

/* sendto_step sends the vector's name to d on fd. */
static long sendto_step(int fd, int flags, struct dest d) {
	return step("sendto", sendto(fd, vector, strlen(vector), flags, (struct sockaddr *)&d.ss, d.len));
}

static long send_step(int fd) {
	return step("send", send(fd, vector, strlen(vector), MSG_NOSIGNAL));
}

/* A UDP socket connected to the denied port, then a plain send: the
 * connect names the destination, the send (untrapped) does not. */
static void udp_connect_send(int family, struct dest d) {
	int fd = sock(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	connect_step(fd, d);
	send_step(fd);
	close(fd);
}

static void v_udp4_connect_send(int port) { udp_connect_send(AF_INET, d4(port)); }
static void v_udp6_connect_send(int port) { udp_connect_send(AF_INET6, d6(port)); }

/* fresh_sendto sends the vector's name to d with flags on a new socket. */
static void fresh_sendto(int family, int type, int proto, int flags, struct dest d) {
	int fd = sock(family, type, proto);
	if (fd < 0)
		return;
	sendto_step(fd, flags, d);
	close(fd);
}

static void udp_sendto(int family, struct dest d) { fresh_sendto(family, SOCK_DGRAM, 0, 0, d); }

static void v_udp4_sendto(int port) { udp_sendto(AF_INET, d4(port)); }
static void v_udp6_sendto(int port) { udp_sendto(AF_INET6, d6(port)); }
static void v_udp6_sendto_mapped(int port) { udp_sendto(AF_INET6, mapped(target4, port)); }
/* udpv6_sendmsg hands an AF_INET name to the IPv4 code. */
static void v_udp6_sendto_inet(int port) { udp_sendto(AF_INET6, d4(port)); }
static void v_udp4_sendto_any(int port) { udp_sendto(AF_INET, any4(port)); }
static void v_udp6_sendto_any(int port) { udp_sendto(AF_INET6, any6(port)); }
static void v_udp6_sendto_mapped_any(int port) { udp_sendto(AF_INET6, mapped((struct in_addr){INADDR_ANY}, port)); }

/* unspec is d with its family field AF_UNSPEC: udp_sendmsg (and
 * raw_sendmsg) still send to the address behind it. */
static struct dest unspec(struct dest d) {
	d.ss.ss_family = AF_UNSPEC;
	return d;
}

/* UDP-Lite is UDP with a partial checksum, under its own protocol number
 * (its datagrams reach UDP-Lite sockets only). */
static void v_udplite4_sendto(int port) { fresh_sendto(AF_INET, SOCK_DGRAM, IPPROTO_UDPLITE, 0, d4(port)); }
static void v_udplite6_sendto(int port) { fresh_sendto(AF_INET6, SOCK_DGRAM, IPPROTO_UDPLITE, 0, d6(port)); }

static void v_udp4_sendto_unspec(int port) { udp_sendto(AF_INET, unspec(d4(port))); }

/* sendmsg_step sends the vector's name to d by sendmsg, in msg_name. */
static long sendmsg_step(int fd, int flags, struct dest *d) {
	struct iovec iov = {.iov_base = (void *)vector, .iov_len = strlen(vector)};
	struct msghdr m = {.msg_name = &d->ss, .msg_namelen = d->len, .msg_iov = &iov, .msg_iovlen = 1};
	return step("sendmsg", sendmsg(fd, &m, flags));
}

static void udp_sendmsg(int family, struct dest d) {
	int fd = sock(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	sendmsg_step(fd, 0, &d);
	close(fd);
}

static void v_udp4_sendmsg(int port) { udp_sendmsg(AF_INET, d4(port)); }
static void v_udp6_sendmsg(int port) { udp_sendmsg(AF_INET6, d6(port)); }
static void v_udp4_sendmsg_unspec(int port) { udp_sendmsg(AF_INET, unspec(d4(port))); }

/*
 * A UDP socket connected to the allowed port (its send proves it works),
 * then a send naming the denied one: the name overrides the connected
 * address for that datagram.
 */
static void udp_connected(int family, struct dest allowed, struct dest denied, int use_sendmsg) {
	int fd = sock(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	connect_step(fd, allowed);
	send_step(fd);
	if (use_sendmsg)
		sendmsg_step(fd, 0, &denied);
	else
		sendto_step(fd, 0, denied);
	close(fd);
}

static void v_udp4_connected_sendto(int port) { udp_connected(AF_INET, d4(allow_port), d4(port), 0); }
static void v_udp6_connected_sendto(int port) { udp_connected(AF_INET6, d6(allow_port), d6(port), 0); }
static void v_udp4_connected_sendmsg(int port) { udp_connected(AF_INET, d4(allow_port), d4(port), 1); }
static void v_udp6_connected_sendmsg(int port) { udp_connected(AF_INET6, d6(allow_port), d6(port), 1); }

/*
 * sendmmsg with two messages, the first to the allowed port, the second to
 * the denied one. Linux returns how many were sent and keeps an error for
 * the next call, so a short count is followed by a call for the rest, whose
 * errno is the one the denied message got.
 */
static void udp_sendmmsg(int family, struct dest allowed, struct dest denied) {
	int fd = sock(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	struct iovec iov = {.iov_base = (void *)vector, .iov_len = strlen(vector)};
	struct mmsghdr m[2];
	memset(m, 0, sizeof m);
	struct dest *d[2] = {&allowed, &denied};
	for (int i = 0; i < 2; i++) {
		m[i].msg_hdr.msg_name = &d[i]->ss;
		m[i].msg_hdr.msg_namelen = d[i]->len;
		m[i].msg_hdr.msg_iov = &iov;
		m[i].msg_hdr.msg_iovlen = 1;
	}
	long n = count("sendmmsg", sendmmsg(fd, m, 2, 0));
	if (n >= 0 && n < 2)
		count("rest", sendmmsg(fd, m + n, 2 - n, 0));
	close(fd);
}

static void v_udp4_sendmmsg(int port) { udp_sendmmsg(AF_INET, d4(allow_port), d4(port)); }
static void v_udp6_sendmmsg(int port) { udp_sendmmsg(AF_INET6, d6(allow_port), d6(port)); }

/*
 * TCP Fast Open: a send with MSG_FASTOPEN on an unconnected TCP socket
 * connects it, to the address it names (and carries the data in the SYN
 * when a cookie is cached). It needs the client bit of
 * net.ipv4.tcp_fastopen, which is on by default.
 */
static void tfo_sendto(int family, int proto, struct dest d) {
	fresh_sendto(family, SOCK_STREAM, proto, MSG_FASTOPEN | MSG_NOSIGNAL, d);
}

static void v_tfo4_sendto(int port) { tfo_sendto(AF_INET, 0, d4(port)); }
static void v_tfo6_sendto(int port) { tfo_sendto(AF_INET6, 0, d6(port)); }
/* MPTCP has Fast Open too (mptcp_sendmsg_fastopen). */
static void v_mptcp4_tfo_sendto(int port) { tfo_sendto(AF_INET, IPPROTO_MPTCP, d4(port)); }

static void tfo_sendmsg(int family, struct dest d) {
	int fd = sock(family, SOCK_STREAM, 0);
	if (fd >= 0) {
		sendmsg_step(fd, MSG_FASTOPEN | MSG_NOSIGNAL, &d);
		close(fd);
	}
}

static void v_tfo4_sendmsg(int port) { tfo_sendmsg(AF_INET, d4(port)); }
static void v_tfo6_sendmsg(int port) { tfo_sendmsg(AF_INET6, d6(port)); }

static void v_tfo4_sendmmsg(int port) {
	int fd = sock(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return;
	struct dest d = d4(port);
	struct iovec iov = {.iov_base = (void *)vector, .iov_len = strlen(vector)};
	struct mmsghdr m = {.msg_hdr = {.msg_name = &d.ss, .msg_namelen = d.len, .msg_iov = &iov, .msg_iovlen = 1}};
	count("sendmmsg", sendmmsg(fd, &m, 1, MSG_FASTOPEN | MSG_NOSIGNAL));
	close(fd);
}

/* TCP_FASTOPEN_CONNECT: connect may return at once and leave the SYN to
 * the first write, which names no destination. */
static void tfo_connect(int family, struct dest d) {
	int fd = sock(family, SOCK_STREAM, 0);
	if (fd < 0)
		return;
	int on = 1;
	setup("setsockopt", setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &on, sizeof on));
	connect_step(fd, d);
	send_step(fd);
	close(fd);
}

static void v_tfo4_connect(int port) { tfo_connect(AF_INET, d4(port)); }
static void v_tfo6_connect(int port) { tfo_connect(AF_INET6, d6(port)); }

/*
 * io_uring, by raw syscalls: the ring's kernel workers make the call, so no
 * trapped syscall of this program ever names the destination.
 */
static void uring(int opcode, int fd, void *arg, unsigned addrlen) {
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	int ring = setup("io_uring_setup", syscall(__NR_io_uring_setup, 4, &p));
	if (ring < 0)
		return;
	size_t sqsz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cqsz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	int single = p.features & IORING_FEAT_SINGLE_MMAP;
	if (single)
		sqsz = cqsz = sqsz > cqsz ? sqsz : cqsz;
	char *sq = mmap(NULL, sqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQ_RING);
	char *cq = single ? sq : mmap(NULL, cqsz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_CQ_RING);
	size_t sqesz = p.sq_entries * sizeof(struct io_uring_sqe);
	struct io_uring_sqe *sqes = mmap(NULL, sqesz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) {
		setup("mmap", -1);
		close(ring);
		return;
	}
	struct io_uring_sqe *e = &sqes[0];
	memset(e, 0, sizeof *e);
	e->opcode = opcode;
	e->fd = fd;
	e->addr = (uintptr_t)arg;
	if (opcode == IORING_OP_CONNECT)
		e->off = addrlen; /* addr2: the address length */
	else
		e->len = 1; /* one msghdr */
	unsigned *tail = (unsigned *)(sq + p.sq_off.tail);
	unsigned mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(sq + p.sq_off.array);
	unsigned t = *tail;
	array[t & mask] = 0;
	__atomic_store_n(tail, t + 1, __ATOMIC_RELEASE);
	if (setup("io_uring_enter", syscall(__NR_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, NULL, 0)) >= 0) {
		unsigned *head = (unsigned *)(cq + p.cq_off.head);
		unsigned *ctail = (unsigned *)(cq + p.cq_off.tail);
		unsigned cmask = *(unsigned *)(cq + p.cq_off.ring_mask);
		if (__atomic_load_n(ctail, __ATOMIC_ACQUIRE) == *head) {
			add("cqe", "none");
		} else {
			struct io_uring_cqe *c = (struct io_uring_cqe *)(cq + p.cq_off.cqes) + (*head & cmask);
			errno = -c->res;
			step(opcode == IORING_OP_CONNECT ? "connect" : "sendmsg", c->res < 0 ? -1 : 0);
		}
	}
	munmap(sqes, sqesz);
	if (!single)
		munmap(cq, cqsz);
	munmap(sq, sqsz);
	close(ring);
}

static void uring_connect(int family, struct dest d) {
	int fd = sock(family, SOCK_STREAM, 0);
	if (fd >= 0) {
		uring(IORING_OP_CONNECT, fd, &d.ss, d.len);
		close(fd);
	}
}

static void uring_sendmsg(int family, struct dest d) {
	int fd = sock(family, SOCK_DGRAM, 0);
	if (fd < 0)
		return;
	struct iovec iov = {.iov_base = (void *)vector, .iov_len = strlen(vector)};
	struct msghdr m = {.msg_name = &d.ss, .msg_namelen = d.len, .msg_iov = &iov, .msg_iovlen = 1};
	uring(IORING_OP_SENDMSG, fd, &m, 0);
	close(fd);
}

static void v_uring4_connect(int port) { uring_connect(AF_INET, d4(port)); }
static void v_uring6_connect(int port) { uring_connect(AF_INET6, d6(port)); }
static void v_uring4_sendmsg(int port) { uring_sendmsg(AF_INET, d4(port)); }
static void v_uring6_sendmsg(int port) { uring_sendmsg(AF_INET6, d6(port)); }

/* udp_datagram writes a UDP header and the vector's name to buf and
 * returns their length. The checksum is left 0: none, over IPv4. */
static size_t udp_datagram(unsigned char *buf, int port) {
	size_t n = strlen(vector);
	struct udphdr u = {.source = htons(40000), .dest = htons(port), .len = htons(sizeof u + n)};
	memcpy(buf, &u, sizeof u);
	memcpy(buf + sizeof u, vector, n);
	return sizeof u + n;
}

static uint16_t ip_checksum(const void *p, size_t n) {
	const uint16_t *w = p;
	uint32_t sum = 0;
	for (; n > 1; n -= 2)
		sum += *w++;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* ip_packet writes an IPv4 header from src to target4 and a UDP datagram
 * to port behind it, and returns the packet's length. */
static size_t ip_packet(unsigned char *buf, struct in_addr src, int port) {
	size_t n = udp_datagram(buf + sizeof(struct iphdr), port);
	struct iphdr h = {.version = 4, .ihl = 5, .tot_len = htons(sizeof h + n), .ttl = 64, .protocol = IPPROTO_UDP};
	h.saddr = src.s_addr;
	h.daddr = target4.s_addr;
	h.check = ip_checksum(&h, sizeof h);
	memcpy(buf, &h, sizeof h);
	return sizeof h + n;
}

/*
 * Raw sockets: the program writes the UDP header, and with IPPROTO_RAW
 * (which implies IP_HDRINCL) the IP header too, whose zero source the
 * kernel fills in; the address sendto names has no port. Over IPv6 a UDP
 * checksum is mandatory: IPV6_CHECKSUM has the kernel compute it at offset
 * 6 of what the program writes.
 */
static void raw_sendto(int family, int proto, int port) {
	int fd = sock(family, SOCK_RAW, proto);
	if (fd < 0)
		return;
	int off = 6;
	if (family == AF_INET6)
		setup("setsockopt", setsockopt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof off));
	unsigned char buf[256];
	size_t n = proto == IPPROTO_RAW ? ip_packet(buf, (struct in_addr){0}, port) : udp_datagram(buf, port);
	struct dest d = family == AF_INET6 ? d6(0) : d4(0);
	step("sendto", sendto(fd, buf, n, 0, (struct sockaddr *)&d.ss, d.len));
	close(fd);
}

static void v_raw4_sendto(int port) { raw_sendto(AF_INET, IPPROTO_UDP, port); }
static void v_raw4_hdrincl(int port) { raw_sendto(AF_INET, IPPROTO_RAW, port); }
static void v_raw6_sendto(int port) { raw_sendto(AF_INET6, IPPROTO_UDP, port); }

/* A raw socket's connect fixes the destination; the send after it names
 * none. */
static void v_raw4_connect_send(int port) {
	int fd = sock(AF_INET, SOCK_RAW, IPPROTO_UDP);
	if (fd < 0)
		return;
	unsigned char buf[256];
	size_t n = udp_datagram(buf, port);
	if (connect_step(fd, d4(0)) == 0)
		step("send", send(fd, buf, n, 0));
	close(fd);
}

/*
 * Packet sockets send a whole frame out of an interface: no address a
 * connect or send could be judged by. The frame carries an IPv4 packet from
 * DEV's address to target4, a UDP datagram to the port. On an Ethernet
 * device it is broadcast (the receiving stack takes a unicast IP packet in
 * a broadcast frame); the loopback's MAC is all zeros; a TUN has no link
 * header at all.
 */
struct link {
	int index, type;
	unsigned char mac[6], dst[6];
	struct in_addr addr;
};

static int link_of(int fd, struct link *l) {
	struct ifreq r;
	memset(&r, 0, sizeof r);
	memset(l, 0, sizeof *l);
	strncpy(r.ifr_name, dev, IFNAMSIZ - 1);
	if (setup("SIOCGIFINDEX", ioctl(fd, SIOCGIFINDEX, &r)) < 0)
		return -1;
	l->index = r.ifr_ifindex;
	if (setup("SIOCGIFHWADDR", ioctl(fd, SIOCGIFHWADDR, &r)) < 0)
		return -1;
	l->type = r.ifr_hwaddr.sa_family;
	memcpy(l->mac, r.ifr_hwaddr.sa_data, 6);
	if (l->type == ARPHRD_ETHER)
		memset(l->dst, 0xff, 6);
	if (setup("SIOCGIFADDR", ioctl(fd, SIOCGIFADDR, &r)) < 0)
		return -1;
	l->addr = ((struct sockaddr_in *)&r.ifr_addr)->sin_addr;
	return 0;
}

/* has_link_header: the interface's frames start with an Ethernet header. */
static int has_link_header(const struct link *l) { return l->type == ARPHRD_ETHER || l->type == ARPHRD_LOOPBACK; }

/* frame writes l's link header (when it has one) and the IP packet. */
static size_t frame(unsigned char *buf, const struct link *l, int port) {
	size_t h = 0;
	if (has_link_header(l)) {
		struct ethhdr e = {.h_proto = htons(ETH_P_IP)};
		memcpy(e.h_dest, l->dst, 6);
		memcpy(e.h_source, l->mac, 6);
		memcpy(buf, &e, sizeof e);
		h = sizeof e;
	}
	return h + ip_packet(buf + h, l->addr, port);
}

static struct sockaddr_ll ll_of(const struct link *l) {
	struct sockaddr_ll a = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = l->index};
	if (has_link_header(l)) {
		a.sll_halen = 6;
		memcpy(a.sll_addr, l->dst, 6);
	}
	return a;
}

/*
 * packet_send sends the frame for port on a new packet socket of family
 * and type: SOCK_RAW writes the link header itself, SOCK_DGRAM has the
 * kernel write it (to sll_addr), and the obsolete (AF_INET, SOCK_PACKET)
 * form, which the kernel turns into a packet socket, names its interface
 * by name.
 */
static void packet_send(int family, int type, int port) {
	int fd = sock(family, type, 0);
	if (fd < 0)
		return;
	struct link l;
	if (link_of(fd, &l) == 0) {
		unsigned char buf[256];
		size_t n = type == SOCK_DGRAM ? ip_packet(buf, l.addr, port) : frame(buf, &l, port);
		union {
			struct sockaddr_ll ll;
			struct sockaddr_pkt pkt;
		} a = {.ll = ll_of(&l)};
		socklen_t alen = sizeof a.ll;
		if (type == SOCK_PACKET) {
			a.pkt = (struct sockaddr_pkt){.spkt_family = AF_PACKET, .spkt_protocol = htons(ETH_P_IP)};
			strncpy((char *)a.pkt.spkt_device, dev, sizeof a.pkt.spkt_device - 1);
			alen = sizeof a.pkt;
		}
		step("sendto", sendto(fd, buf, n, 0, (struct sockaddr *)&a, alen));
	}
	close(fd);
}

static void v_packet_raw(int port) { packet_send(AF_PACKET, SOCK_RAW, port); }
static void v_packet_dgram(int port) { packet_send(AF_PACKET, SOCK_DGRAM, port); }
static void v_packet_sockpacket(int port) { packet_send(AF_INET, SOCK_PACKET, port); }

/*
 * A netfilter rule that rewrites where an allowed datagram goes: a program
 * with CAP_NET_ADMIN adds a DNAT rule (over nftables' netlink, as nft and
 * iptables-nft do), then sends to the allowed port, and the kernel delivers
 * to the denied one. The sandbox drops CAP_NET_ADMIN — but the request is a
 * sendto with an address, which the supervisor makes for the program: the
 * kernel must still judge it by the program's capabilities, not the
 * supervisor's. The rule lives in the namespace the program runs in, and
 * its table is deleted again at the end.
 */
static char nb[4096];   /* the netlink batch being built */
static size_t nlen;     /* its length */
static size_t nmsg;     /* where its last message starts */
static unsigned nseq;

static void nl_put(const void *p, size_t n) {
	memcpy(nb + nlen, p, n);
	nlen += n;
	while (nlen % NLA_ALIGNTO)
		nb[nlen++] = 0;
	((struct nlmsghdr *)(nb + nmsg))->nlmsg_len = nlen - nmsg;
}

static void nl_msg(uint16_t type, uint16_t flags, uint8_t family, uint16_t res_id) {
	nmsg = nlen;
	struct nlmsghdr h = {.nlmsg_type = type, .nlmsg_flags = NLM_F_REQUEST | flags, .nlmsg_seq = ++nseq};
	nl_put(&h, sizeof h);
	struct nfgenmsg g = {.nfgen_family = family, .version = NFNETLINK_V0, .res_id = htons(res_id)};
	nl_put(&g, sizeof g);
}

static void nl_attr(uint16_t type, const void *p, size_t n) {
	struct nlattr a = {.nla_len = NLA_HDRLEN + n, .nla_type = type};
	nl_put(&a, sizeof a);
	nl_put(p, n);
}

static void nl_u32(uint16_t type, uint32_t v) {
	v = htonl(v);
	nl_attr(type, &v, sizeof v);
}

static void nl_str(uint16_t type, const char *s) { nl_attr(type, s, strlen(s) + 1); }

static size_t nl_nest(uint16_t type) {
	size_t at = nlen;
	struct nlattr a = {.nla_type = type | NLA_F_NESTED};
	nl_put(&a, sizeof a);
	return at;
}

static void nl_end(size_t at) { ((struct nlattr *)(nb + at))->nla_len = nlen - at; }

static void nl_value(uint16_t type, const void *p, size_t n) {
	size_t d = nl_nest(type);
	nl_attr(NFTA_DATA_VALUE, p, n);
	nl_end(d);
}

/* nl_expr starts an expression of the rule; nl_end_expr ends it. */
static size_t nl_expr(const char *name, size_t *data) {
	size_t e = nl_nest(NFTA_LIST_ELEM);
	nl_str(NFTA_EXPR_NAME, name);
	*data = nl_nest(NFTA_EXPR_DATA);
	return e;
}

static void nl_end_expr(size_t e, size_t data) {
	nl_end(data);
	nl_end(e);
}

static void nl_batch(uint16_t type) {
	nl_msg(type, 0, AF_UNSPEC, NFNL_SUBSYS_NFTABLES);
}

#define NFT(msg) ((NFNL_SUBSYS_NFTABLES << 8) | (msg))

/* nl_send sends the batch by sendto with the kernel's address, as libmnl
 * does, and reads the acknowledgements: it returns 0 or -1 with errno, the
 * first error the kernel reported. */
static int nl_send(int fd, unsigned acks) {
	struct sockaddr_nl k = {.nl_family = AF_NETLINK};
	if (sendto(fd, nb, nlen, 0, (struct sockaddr *)&k, sizeof k) < 0)
		return -1;
	char buf[8192];
	while (acks > 0) {
		ssize_t n = recv(fd, buf, sizeof buf, 0);
		if (n < 0)
			return -1;
		for (struct nlmsghdr *h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_type != NLMSG_ERROR)
				continue;
			int e = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
			if (e != 0) {
				errno = -e;
				return -1;
			}
			acks--;
		}
	}
	return 0;
}

static void v_nft_dnat4(int port) {
	int fd = sock(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	if (fd < 0)
		return;
	const char *table = "escape";
	nlen = 0;
	nl_batch(NFNL_MSG_BATCH_BEGIN);
	nl_msg(NFT(NFT_MSG_NEWTABLE), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
	nl_str(NFTA_TABLE_NAME, table);
	nl_msg(NFT(NFT_MSG_NEWCHAIN), NLM_F_CREATE | NLM_F_ACK, NFPROTO_IPV4, 0);
	nl_str(NFTA_CHAIN_TABLE, table);
	nl_str(NFTA_CHAIN_NAME, "out");
	size_t hook = nl_nest(NFTA_CHAIN_HOOK);
	nl_u32(NFTA_HOOK_HOOKNUM, NF_INET_LOCAL_OUT);
	nl_u32(NFTA_HOOK_PRIORITY, (uint32_t)-100); /* NF_IP_PRI_NAT_DST */
	nl_end(hook);
	nl_str(NFTA_CHAIN_TYPE, "nat");
	/* udp dport ALLOW_PORT dnat to target4:port */
	nl_msg(NFT(NFT_MSG_NEWRULE), NLM_F_CREATE | NLM_F_APPEND | NLM_F_ACK, NFPROTO_IPV4, 0);
	nl_str(NFTA_RULE_TABLE, table);
	nl_str(NFTA_RULE_CHAIN, "out");
	size_t list = nl_nest(NFTA_RULE_EXPRESSIONS), d, e;
	e = nl_expr("meta", &d);
	nl_u32(NFTA_META_KEY, NFT_META_L4PROTO);
	nl_u32(NFTA_META_DREG, NFT_REG_1);
	nl_end_expr(e, d);
	e = nl_expr("cmp", &d);
	nl_u32(NFTA_CMP_SREG, NFT_REG_1);
	nl_u32(NFTA_CMP_OP, NFT_CMP_EQ);
	nl_value(NFTA_CMP_DATA, &(uint8_t){IPPROTO_UDP}, 1);
	nl_end_expr(e, d);
	e = nl_expr("payload", &d);
	nl_u32(NFTA_PAYLOAD_DREG, NFT_REG_1);
	nl_u32(NFTA_PAYLOAD_BASE, NFT_PAYLOAD_TRANSPORT_HEADER);
	nl_u32(NFTA_PAYLOAD_OFFSET, 2); /* the destination port */
	nl_u32(NFTA_PAYLOAD_LEN, 2);
	nl_end_expr(e, d);
	e = nl_expr("cmp", &d);
	nl_u32(NFTA_CMP_SREG, NFT_REG_1);
	nl_u32(NFTA_CMP_OP, NFT_CMP_EQ);
	nl_value(NFTA_CMP_DATA, &(uint16_t){htons(allow_port)}, 2);
	nl_end_expr(e, d);
	e = nl_expr("immediate", &d);
	nl_u32(NFTA_IMMEDIATE_DREG, NFT_REG_1);
	nl_value(NFTA_IMMEDIATE_DATA, &target4, 4);
	nl_end_expr(e, d);
	e = nl_expr("immediate", &d);
	nl_u32(NFTA_IMMEDIATE_DREG, NFT_REG_2);
	nl_value(NFTA_IMMEDIATE_DATA, &(uint16_t){htons(port)}, 2);
	nl_end_expr(e, d);
	e = nl_expr("nat", &d);
	nl_u32(NFTA_NAT_TYPE, NFT_NAT_DNAT);
	nl_u32(NFTA_NAT_FAMILY, NFPROTO_IPV4);
	nl_u32(NFTA_NAT_REG_ADDR_MIN, NFT_REG_1);
	nl_u32(NFTA_NAT_REG_PROTO_MIN, NFT_REG_2);
	nl_end_expr(e, d);
	nl_end(list);
	nl_batch(NFNL_MSG_BATCH_END);
	int added = step("nft", nl_send(fd, 3)) == 0;
	fresh_sendto(AF_INET, SOCK_DGRAM, 0, 0, d4(allow_port));
	if (added) {
		nlen = 0;
		nl_batch(NFNL_MSG_BATCH_BEGIN);
		nl_msg(NFT(NFT_MSG_DELTABLE), NLM_F_ACK, NFPROTO_IPV4, 0);
		nl_str(NFTA_TABLE_NAME, table);
		nl_batch(NFNL_MSG_BATCH_END);
		setup("nft-delete", nl_send(fd, 1));
	}
	close(fd);
}

/* Other tasks of the program: a thread, a task sharing the memory
 * (vfork-like clone), a child after execve, a child using sockets made
 * before its fork. */
static void *thread_connect(void *arg) {
	int port = *(int *)arg;
	tcp_connect(AF_INET, SOCK_STREAM, 0, d4(port));
	return NULL;
}

static void v_thread_connect4(int port) {
	pthread_t t;
	errno = pthread_create(&t, NULL, thread_connect, &port);
	if (setup("pthread_create", errno ? -1 : 0) == 0)
		pthread_join(t, NULL);
}

/* The clone child shares this memory, so its steps land in line; with
 * CLONE_VFORK the parent waits for it to exit first. */
static int clone_connect(void *arg) {
	thread_connect(arg);
	return 0;
}

static void v_clone_vfork_connect4(int port) {
	static char stack[256 * 1024] __attribute__((aligned(16)));
	pid_t pid = clone(clone_connect, stack + sizeof stack, CLONE_VM | CLONE_VFORK | SIGCHLD, &port);
	if (setup("clone", pid) > 0)
		waitpid(pid, NULL, 0);
}

/* collect appends to line what the child pid wrote into the pipe's read
 * end rfd (its steps), once it has exited; the child's steps so land on
 * the vector's one line. */
static void collect(pid_t pid, int rfd) {
	char buf[512];
	size_t n = 0;
	ssize_t r;
	while (n < sizeof buf - 1 && (r = read(rfd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	int st = 0;
	waitpid(pid, &st, 0);
	strncat(line, buf, sizeof line - strlen(line) - 1);
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		add("child", "failed");
}

/* The child execs this program again, which connects (exec-connect) and
 * prints its steps into the pipe, its stdout. */
static void v_execve_connect4(int port) {
	char p[16], a[INET_ADDRSTRLEN];
	snprintf(p, sizeof p, "%d", port);
	inet_ntop(AF_INET, &target4, a, sizeof a);
	char *argv[] = {"escape", "exec-connect", (char *)vector, a, p, NULL};
	int pipefd[2];
	if (setup("pipe", pipe(pipefd)) < 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(pipefd[1], 1);
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(pipefd[1]);
	if (setup("fork", pid) > 0)
		collect(pid, pipefd[0]);
	close(pipefd[0]);
}

/* Sockets made before the fork, used by the child only. */
static void v_fork_inherited4(int port) {
	int u = sock(AF_INET, SOCK_DGRAM, 0);
	int t = sock(AF_INET, SOCK_STREAM, 0);
	int pipefd[2];
	if (u < 0 || t < 0 || setup("pipe", pipe(pipefd)) < 0)
		goto out;
	pid_t pid = fork();
	if (pid == 0) {
		line[0] = 0;
		sendto_step(u, 0, d4(port));
		connect_step(t, d4(port));
		if (write(pipefd[1], line, strlen(line)) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[1]);
	if (setup("fork", pid) > 0)
		collect(pid, pipefd[0]);
	close(pipefd[0]);
out:
	if (u >= 0)
		close(u);
	if (t >= 0)
		close(t);
}

struct vec {
	const char *name;
	void (*fn)(int port);
};

static const struct vec vectors[] = {
	{"tcp4-connect", v_tcp4_connect},
	{"tcp6-connect", v_tcp6_connect},
	{"tcp4-connect-nonblock", v_tcp4_connect_nonblock},
	{"tcp6-connect-nonblock", v_tcp6_connect_nonblock},
	{"tcp6-connect-mapped", v_tcp6_connect_mapped},
	{"tcp4-connect-any", v_tcp4_connect_any},
	{"tcp6-connect-any", v_tcp6_connect_any},
	{"tcp6-connect-mapped-any", v_tcp6_connect_mapped_any},
	{"mptcp4-connect", v_mptcp4_connect},
	{"mptcp6-connect", v_mptcp6_connect},
	{"udp4-connect-send", v_udp4_connect_send},
	{"udp6-connect-send", v_udp6_connect_send},
	{"udp4-sendto", v_udp4_sendto},
	{"udp6-sendto", v_udp6_sendto},
	{"udp6-sendto-mapped", v_udp6_sendto_mapped},
	{"udp6-sendto-inet", v_udp6_sendto_inet},
	{"udp4-sendto-any", v_udp4_sendto_any},
	{"udp6-sendto-any", v_udp6_sendto_any},
	{"udp6-sendto-mapped-any", v_udp6_sendto_mapped_any},
	{"udplite4-sendto", v_udplite4_sendto},
	{"udplite6-sendto", v_udplite6_sendto},
	{"udp4-sendto-unspec", v_udp4_sendto_unspec},
	{"udp4-sendmsg", v_udp4_sendmsg},
	{"udp6-sendmsg", v_udp6_sendmsg},
	{"udp4-sendmsg-unspec", v_udp4_sendmsg_unspec},
	{"udp4-connected-sendto", v_udp4_connected_sendto},
	{"udp6-connected-sendto", v_udp6_connected_sendto},
	{"udp4-connected-sendmsg", v_udp4_connected_sendmsg},
	{"udp6-connected-sendmsg", v_udp6_connected_sendmsg},
	{"udp4-sendmmsg", v_udp4_sendmmsg},
	{"udp6-sendmmsg", v_udp6_sendmmsg},
	{"tfo4-sendto", v_tfo4_sendto},
	{"tfo6-sendto", v_tfo6_sendto},
	{"tfo4-sendmsg", v_tfo4_sendmsg},
	{"tfo6-sendmsg", v_tfo6_sendmsg},
	{"tfo4-sendmmsg", v_tfo4_sendmmsg},
	{"mptcp4-tfo-sendto", v_mptcp4_tfo_sendto},
	{"tfo4-connect", v_tfo4_connect},
	{"tfo6-connect", v_tfo6_connect},
	{"uring4-connect", v_uring4_connect},
	{"uring6-connect", v_uring6_connect},
	{"uring4-sendmsg", v_uring4_sendmsg},
	{"uring6-sendmsg", v_uring6_sendmsg},
	{"raw4-sendto", v_raw4_sendto},
	{"raw4-connect-send", v_raw4_connect_send},
	{"raw4-hdrincl", v_raw4_hdrincl},
	{"raw6-sendto", v_raw6_sendto},
	{"packet-raw", v_packet_raw},
	{"packet-dgram", v_packet_dgram},
	{"packet-sockpacket", v_packet_sockpacket},
	{"nft-dnat4", v_nft_dnat4},
	{"thread-connect4", v_thread_connect4},
	{"clone-vfork-connect4", v_clone_vfork_connect4},
	{"execve-connect4", v_execve_connect4},
	{"fork-inherited4", v_fork_inherited4},
};

static void on_alarm(int sig) { (void)sig; }

static int parse_target(const char *a4, const char *a6) {
	if (inet_pton(AF_INET, a4, &target4) != 1 || (a6 && inet_pton(AF_INET6, a6, &target6) != 1)) {
		fprintf(stderr, "escape: bad address %s or %s\n", a4, a6 ? a6 : "");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv) {
	/* Line-buffered even into a pipe: nothing is pending at a fork. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "list") == 0) {
		for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++)
			printf("%s\n", vectors[i].name);
		return 0;
	}
	if (argc == 5 && strcmp(argv[1], "exec-connect") == 0) {
		if (parse_target(argv[3], NULL) < 0)
			return 2;
		vector = argv[2];
		tcp_connect(AF_INET, SOCK_STREAM, 0, d4(atoi(argv[4])));
		fputs(line, stdout);
		return 0;
	}
	if (argc < 6) {
		fprintf(stderr, "usage: escape list | escape V4ADDR V6ADDR ALLOW_PORT DEV NAME=PORT…\n");
		return 2;
	}
	if (parse_target(argv[1], argv[2]) < 0)
		return 2;
	allow_port = atoi(argv[3]);
	dev = argv[4];
	/* No SA_RESTART: a call still blocked when the alarm rings fails
	 * with EINTR, and the vector's line says so. */
	struct sigaction sa = {.sa_handler = on_alarm};
	sigaction(SIGALRM, &sa, NULL);
	for (int i = 5; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		const struct vec *v = NULL;
		for (size_t j = 0; eq && j < sizeof vectors / sizeof *vectors; j++)
			if (strlen(vectors[j].name) == (size_t)(eq - argv[i]) && strncmp(vectors[j].name, argv[i], eq - argv[i]) == 0)
				v = &vectors[j];
		if (!v) {
			fprintf(stderr, "escape: no vector %s\n", argv[i]);
			return 2;
		}
		vector = v->name;
		line[0] = 0;
		errno = 0;
		alarm(10);
		v->fn(atoi(eq + 1));
		alarm(0);
		printf("%s%s\n", vector, line);
	}
	return 0;
}
