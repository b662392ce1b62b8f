/*
 * send: the sendto(2) / sendmsg(2) / sendmmsg(2) conformance program.
 *
 * Every case sets up its own sockets (UDP receivers and TCP listeners on
 * 127.0.0.1 / ::1 on ephemeral ports, unix sockets under a temporary
 * directory, abstract names, socketpairs), makes one or a few sends, and
 * prints one line:
 *
 *     case-name: RESULT
 *
 * RESULT is a comma-separated sequence of steps: a send's return value (a
 * byte or message count) or its errno's name, and what the case checked
 * afterwards: "recv=5" (the receiver got a 5-byte datagram; "recv=none"),
 * "peer=N" (bytes a stream's peer read), "sigpipe=1" (a SIGPIPE handler
 * ran), "fds=1:same" (a message brought one fd, the very file that was
 * sent), "creds=65534:65534:sender" (the uid, gid and pid a SO_PASSCRED
 * receiver saw; the pid only as "sender" or "other"), "lens=1/2/x" (the
 * msg_len sendmmsg wrote back to each entry; x: untouched). No port, fd,
 * pid or time is ever printed, so the output is the same from run to run,
 * and a native run can be compared line by line with a run under the
 * sandbox (bin/sandbox run --net host --policy FILE -- send).
 *
 * Every send under test names a destination or is a sendmsg/sendmmsg, the
 * calls the sandbox traps; plain send() and write() only set things up
 * (filling a buffer, say).
 *
 * Build and run (as root: some cases drop to uid/gid 65534 in a child), in
 * a network namespace of its own that has nothing but lo, with TCP Fast
 * Open enabled for clients and servers there (tcp.fastopen*):
 *
 *     gcc -O2 -Wall -Wextra -o /tmp/send test/conformance/send.c -lpthread
 *     unshare --net sh -c 'ip link set lo up && sysctl -qw net.ipv4.tcp_fastopen=3 && exec /tmp/send'
 *     /tmp/send --list         # the case names, one a line
 *     /tmp/send CASE...        # only these cases (e.g. udp4.unspec_sends)
 *
 * Destinations: only 127.0.0.0/8 (127.255.255.255 is lo's broadcast
 * address), 0.0.0.0 and :: (this host), ::1, unix sockets. Nothing can
 * leave the namespace.
 *
 * Each case runs in a child process of its own with a 2 s limit (see
 * conformance.h); the whole run takes about 6 s, most of it receivers
 * waiting for what never comes (QUIET_MS each).
 *
 * The credentials a unix receiver sees (creds.*) are the sender's — and
 * under the sandbox the supervisor sends for the program. It claims the
 * program's pid, uid and gid for it where it may (it is root): where it
 * may not, the pid would be its own, "sender" would read "other", and
 * that would be the one known difference.
 */
#include "conformance.h"

/* --- results ------------------------------------------------------------------ */

/* n turns a send's return into its count or its errno's name. */
static const char *n(ssize_t r) {
	static char buf[24];
	if (r < 0)
		return ename(errno);
	snprintf(buf, sizeof buf, "%zd", r);
	return buf;
}

/* --- memory no call may read or write ------------------------------------------ */

/* kernelptr is an address in the kernel's half: no access_ok passes it. */
#define kernelptr ((void *)(uintptr_t)0xffff888000000000ULL)

/* CLOSED is an fd number no case has open. */
#define CLOSED 900
#define HIGH (1L << 32)            /* bits the kernel ignores in an int argument */
#define MSG_CMSG_COMPAT 0x80000000 /* the kernel's own: sendmsg refuses it from a program */

/* --- messages ------------------------------------------------------------------- */

static char payload[70000]; /* what every send sends: 'p's */

/* onemsg is a message header with one iovec. */
struct onemsg {
	struct msghdr h;
	struct iovec iov;
};
static struct onemsg *hdr(struct onemsg *m, const void *name, socklen_t namelen, const void *buf, size_t len) {
	memset(m, 0, sizeof *m);
	m->iov = (struct iovec){.iov_base = (void *)buf, .iov_len = len};
	m->h = (struct msghdr){.msg_name = (void *)name, .msg_namelen = namelen, .msg_iov = &m->iov, .msg_iovlen = 1};
	return m;
}

/* smsg sends LEN bytes of payload with sendmsg, with NAME and control
   bytes CTL (when not NULL). */
static const char *smsg(int fd, const void *name, socklen_t namelen, size_t len, const void *ctl, size_t ctllen, int flags) {
	struct onemsg m;
	hdr(&m, name, namelen, payload, len);
	m.h.msg_control = (void *)ctl;
	m.h.msg_controllen = ctllen;
	return n(sendmsg(fd, &m.h, flags));
}

/* sto sends LEN bytes of payload with sendto. */
static const char *sto(int fd, const void *addr, socklen_t addrlen, size_t len, int flags) {
	return n(sendto(fd, payload, len, flags, addr, addrlen));
}

/* cmsgbuf is room for a few control messages. */
union cmsgbuf {
	char buf[CMSG_SPACE(sizeof(int) * 256)];
	struct cmsghdr align;
};

/* cmsg1 fills B with one control message and returns its length. */
static size_t cmsg1(union cmsgbuf *b, int level, int type, const void *data, size_t len) {
	memset(b, 0, sizeof *b);
	struct cmsghdr *c = &b->align;
	c->cmsg_level = level;
	c->cmsg_type = type;
	c->cmsg_len = CMSG_LEN(len);
	memcpy(CMSG_DATA(c), data, len);
	return CMSG_SPACE(len);
}

/* control gives M the one control message cmsg1 makes. */
static void control(struct onemsg *m, int level, int type, const void *data, size_t len) {
	static union cmsgbuf b;
	m->h.msg_control = &b;
	m->h.msg_controllen = cmsg1(&b, level, type, data, len);
}

/* --- receivers --------------------------------------------------------------------- */

/* QUIET_MS is how long a receiver waits for what has not come. Loopback
   and unix deliveries are done by the time the send returns: this is
   slack, not a race. */
#define QUIET_MS 50

/* addrto writes the sockaddr_in or sockaddr_in6 of ADDR and PORT to BUF,
   returning its size. */
static socklen_t addrto(void *buf, const char *addr, int port) {
	if (strchr(addr, ':')) {
		struct sockaddr_in6 sa = in6(addr, port);
		memcpy(buf, &sa, sizeof sa);
		return sizeof sa;
	}
	struct sockaddr_in sa = in4(addr, port);
	memcpy(buf, &sa, sizeof sa);
	return sizeof sa;
}

/* udprecv binds a UDP socket to ADDR (a loopback address) on an ephemeral
   port, returning it; *port gets the port. */
static int udprecv(const char *addr, int *port) {
	char sa[sizeof(struct sockaddr_in6)];
	socklen_t len = addrto(sa, addr, 0);
	int fd = len == sizeof(struct sockaddr_in) ? sock(AF_INET, SOCK_DGRAM) : v6only(SOCK_DGRAM);
	if (bind(fd, (void *)sa, len))
		die("bind");
	*port = boundport(fd);
	return fd;
}

/* recvd says what FD received, waiting at most QUIET_MS: "recv=N" for a
   message of N bytes, "recv=none". */
static const char *recvd(int fd) {
	static char buf[32];
	static char data[70000];
	struct pollfd p = {.fd = fd, .events = POLLIN};
	if (poll(&p, 1, QUIET_MS) != 1)
		return "recv=none";
	ssize_t r = recv(fd, data, sizeof data, MSG_DONTWAIT);
	if (r < 0)
		snprintf(buf, sizeof buf, "recv=%s", ename(errno));
	else
		snprintf(buf, sizeof buf, "recv=%zd", r);
	return buf;
}

/* udp4to returns a UDP socket and a receiver on 127.0.0.1; *sa is its
   address. */
static int udp4to(struct sockaddr_in *sa, int *receiver) {
	int port;
	*receiver = udprecv("127.0.0.1", &port);
	*sa = in4("127.0.0.1", port);
	return sock(AF_INET, SOCK_DGRAM);
}

/* tcppair connects a TCP client to a 127.0.0.1 listener and returns the
   client; *server is the accepted end. */
static int tcppair(int *server) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int c = sock(AF_INET, SOCK_STREAM);
	if (connect(c, (void *)&sa, sizeof sa))
		die("connect");
	if ((*server = accept(l, NULL, NULL)) < 0)
		die("accept");
	close(l);
	return c;
}

/* drain reads what a stream FD holds until it has been quiet for
   QUIET_MS: "peer=N" bytes. */
static const char *drain(int fd) {
	static char buf[32];
	static char data[1 << 16];
	size_t total = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, QUIET_MS) == 1) {
		ssize_t r = recv(fd, data, sizeof data, MSG_DONTWAIT);
		if (r <= 0)
			break;
		total += r;
	}
	snprintf(buf, sizeof buf, "peer=%zu", total);
	return buf;
}

/* accepted accepts a connection on the listener L, if one came, and says
   what it received: "peer=N" bytes, or "accept=none". */
static const char *accepted(int l) {
	struct pollfd p = {.fd = l, .events = POLLIN};
	if (poll(&p, 1, QUIET_MS) != 1)
		return "accept=none";
	int s = accept(l, NULL, NULL);
	return s < 0 ? ename(errno) : drain(s);
}

static void pair(int type, int sv[2]) {
	if (socketpair(AF_UNIX, type, 0, sv))
		die("socketpair");
}

/* --- signals: SIGPIPE ---------------------------------------------------------------- */

static volatile sig_atomic_t piped;
static void onpipe(int sig) {
	(void)sig;
	piped = 1;
}
static void catchpipe(void) {
	struct sigaction sa = {.sa_handler = onpipe};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPIPE, &sa, NULL))
		die("sigaction");
}

/* --- fd: EBADF, ENOTSOCK, and the order of the checks ------------------------------- */

CASE(fd_closed) { step(sto(CLOSED, &(struct sockaddr_in){.sin_family = AF_INET}, sizeof(struct sockaddr_in), 1, 0)); }
CASE(fd_minus_one_sendmsg) { step(smsg(-1, NULL, 0, 1, NULL, 0, 0)); }
CASE(fd_o_path) { step(sto(opathfile("file"), &(struct sockaddr_in){.sin_family = AF_INET}, sizeof(struct sockaddr_in), 1, 0)); }
/* An O_PATH fd of a socket's inode is no socket either. */
CASE(fd_o_path_socket_sendmsg) {
	struct sockaddr_un su = upath("sock");
	unixbound(SOCK_DGRAM, &su, sizeof su, -1);
	int fd = open(su.sun_path, O_PATH);
	if (fd < 0)
		die("open O_PATH");
	step(smsg(fd, &su, sizeof su, 1, NULL, 0, 0));
}
CASE(fd_pipe) {
	int p[2];
	if (pipe(p))
		die("pipe");
	step(sto(p[1], &(struct sockaddr_in){.sin_family = AF_INET}, sizeof(struct sockaddr_in), 1, 0));
}
CASE(fd_file_sendmsg) {
	struct sockaddr_un f = upath("file");
	int fd = open(f.sun_path, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		die("open");
	step(smsg(fd, NULL, 0, 1, NULL, 0, 0));
}
CASE(fd_closed_sendmmsg) { step(n(sendmmsg(CLOSED, &(struct mmsghdr){0}, 1, 0))); }
/* sendto checks its buffer's range (access_ok) before it looks at the fd. */
CASE(order_closed_fd_kernel_buf) { step(n(sendto(CLOSED, kernelptr, 1, 0, (void *)&(struct sockaddr_in){0}, 16))); }
CASE(order_closed_fd_unmapped_buf) { step(n(sendto(CLOSED, unmapped(), 1, 0, (void *)&(struct sockaddr_in){0}, 16))); }
CASE(order_closed_fd_null_msg) { step(n(sendmsg(CLOSED, NULL, 0))); }
/* sendmsg and sendmmsg refuse MSG_CMSG_COMPAT before anything else. */
CASE(order_closed_fd_cmsg_compat) { step(smsg(CLOSED, NULL, 0, 1, NULL, 0, MSG_CMSG_COMPAT)); }
CASE(order_sendmmsg_cmsg_compat) { step(n(sendmmsg(CLOSED, &(struct mmsghdr){0}, 1, MSG_CMSG_COMPAT))); }
CASE(order_pipe_bad_addrlen) {
	int p[2];
	char buf[256] = {0};
	if (pipe(p))
		die("pipe");
	step(n(sendto(p[1], payload, 1, 0, (void *)buf, 129)));
}
/* fd, vlen and flags are ints: the kernel reads their low halves. */
CASE(fd_high_bits_sendmmsg) {
	struct sockaddr_in sa;
	int r, fd = udp4to(&sa, &r);
	struct onemsg m;
	hdr(&m, &sa, sizeof sa, payload, 3);
	step(n(syscall(SYS_sendmmsg, (long)(unsigned)fd | HIGH, &(struct mmsghdr){.msg_hdr = m.h}, 1L | HIGH, HIGH)));
	step(recvd(r));
}

/* --- datagrams to a UDP receiver ----------------------------------------------------------------- */

#define V6ONLY (AF_INET6 | 0x100) /* .sock: an AF_INET6 socket with IPV6_V6ONLY */
#define UNSPEC 0x100              /* .family: AF_UNSPEC */
#define LEN0 0x10000              /* .len: a name of length 0 */

/* udp is a send to a UDP receiver on the loopback: the name is the
   receiver's address and port, unless the case says otherwise. */
struct udp {
	int sock;          /* the sender: AF_INET (when 0), AF_INET6 or V6ONLY */
	const char *to;    /* the receiver's address (127.0.0.1 when NULL) */
	const char *addr;  /* the name's address, when not the receiver's */
	int family;        /* the name's sa_family, when not its address's */
	int port0;         /* the name's port is 0 */
	socklen_t len;     /* the name's length, when not its address's size */
	size_t size;       /* the payload's length */
	const void *buf;   /* the payload, when not payload */
	int nullbuf;       /* the payload is at NULL */
	int flags;         /* the send's flags */
	int connect;       /* connect to the receiver first */
	int high;          /* set the upper halves of the int arguments' registers */
	void (*msg)(struct onemsg *); /* send with sendmsg, after this has changed the message */
};

static void udpcase(const struct udp *u) {
	const char *to = u->to ? u->to : "127.0.0.1";
	int port, r = udprecv(to, &port);
	int fd = u->sock == V6ONLY ? v6only(SOCK_DGRAM) : sock(u->sock ? u->sock : AF_INET, SOCK_DGRAM);
	static char name[256], peer[sizeof(struct sockaddr_in6)];
	socklen_t len = addrto(name, u->addr ? u->addr : to, u->port0 ? 0 : port);
	if (u->connect && connect(fd, (void *)peer, addrto(peer, to, port)))
		die("connect");
	if (u->family)
		((struct sockaddr *)name)->sa_family = u->family == UNSPEC ? AF_UNSPEC : u->family;
	if (u->len)
		len = u->len == LEN0 ? 0 : u->len;
	const void *buf = u->nullbuf ? NULL : u->buf ? u->buf : payload;
	long high = u->high ? HIGH : 0;
	struct onemsg m;
	hdr(&m, name, len, buf, u->size);
	if (u->msg)
		u->msg(&m);
	if (u->msg)
		step(n(syscall(SYS_sendmsg, (long)(unsigned)fd | high, &m.h, (long)(unsigned)u->flags | high)));
	else
		step(n(syscall(SYS_sendto, (long)(unsigned)fd | high, buf, u->size, (long)(unsigned)u->flags | high, name, (long)len | high)));
	step(recvd(r));
}
#define UDP(fn, ...) \
	CASE(fn) { udpcase(&(const struct udp){__VA_ARGS__}); }

/* What the msg.* cases change in a message. */
static void asis(struct onemsg *m) { (void)m; }
static void noname(struct onemsg *m) { m->h.msg_name = NULL, m->h.msg_namelen = 0; }
static void nullnamelenminus1(struct onemsg *m) { m->h.msg_name = NULL, m->h.msg_namelen = (socklen_t)-1; }
static void badname(struct onemsg *m) { m->h.msg_name = unmapped(); }
static void badiovarray(struct onemsg *m) { m->h.msg_iov = unmapped(); }
static void iovlen1025(struct onemsg *m) { m->h.msg_iov = NULL, m->h.msg_iovlen = 1025; }
static void iovlen1024(struct onemsg *m) {
	static struct iovec iov[1024];
	for (int i = 0; i < 1024; i++)
		iov[i] = (struct iovec){.iov_base = payload + i, .iov_len = 1};
	m->h.msg_iov = iov, m->h.msg_iovlen = 1024;
}
static void iovlenminus1(struct onemsg *m) { m->iov.iov_len = (size_t)-1; }
static void badcontrol(struct onemsg *m) { m->h.msg_control = unmapped(), m->h.msg_controllen = 16; }
static void badcontrolhuge(struct onemsg *m) { m->h.msg_control = unmapped(), m->h.msg_controllen = 1 << 20; }
static void controlhuge(struct onemsg *m) {
	static char big[1 << 20];
	m->h.msg_control = big, m->h.msg_controllen = sizeof big;
}
static void controlovermax(struct onemsg *m) { m->h.msg_control = payload, m->h.msg_controllen = (size_t)INT32_MAX + 1; }
static void controlshort(struct onemsg *m) { m->h.msg_control = payload, m->h.msg_controllen = 8; }
static void flagsset(struct onemsg *m) { m->h.msg_flags = MSG_OOB | MSG_EOR | MSG_FASTOPEN; }
static void rightsudp(struct onemsg *m) { control(m, SOL_SOCKET, SCM_RIGHTS, &(int){2}, sizeof(int)); }
static void ttl9(struct onemsg *m) { control(m, IPPROTO_IP, IP_TTL, &(int){9}, sizeof(int)); }
static void ttl300(struct onemsg *m) { control(m, IPPROTO_IP, IP_TTL, &(int){300}, sizeof(int)); }
static void ttlshort(struct onemsg *m) {
	ttl9(m);
	((struct cmsghdr *)m->h.msg_control)->cmsg_len = 8;
}

UDP(fd_high_bits_sendto, .size = 3, .high = 1)
UDP(fd_high_bits_sendmsg, .size = 3, .high = 1, .msg = asis)
UDP(sendto_addrlen_minus_one, .len = (socklen_t)-1, .size = 1)
UDP(sendto_addrlen_129, .len = 129, .size = 1)
UDP(sendto_addrlen_128, .len = 128, .size = 4)
/* An address of length 0 is still an address to UDP: too short. */
UDP(sendto_addrlen0_udp, .len = LEN0, .size = 1)
UDP(sendto_bad_buf, .size = 8, .buf = unmapped())
UDP(sendto_kernel_buf, .size = 8, .buf = kernelptr)
UDP(sendto_null_buf_len0, .nullbuf = 1)
/* sendto itself knows nothing of MSG_CMSG_COMPAT: UDP ignores it. */
UDP(sendto_cmsg_compat, .size = 2, .flags = MSG_CMSG_COMPAT)
CASE(sendto_bad_addr) { step(sto(sock(AF_INET, SOCK_DGRAM), unmapped(), 16, 1, 0)); }
CASE(sendto_kernel_addr) { step(sto(sock(AF_INET, SOCK_DGRAM), kernelptr, 16, 1, 0)); }

CASE(msg_null) { step(n(sendmsg(sock(AF_INET, SOCK_DGRAM), NULL, 0))); }
/* The header's last 8 bytes are in a PROT_NONE page. */
CASE(msg_straddles_prot_none) {
	struct sockaddr_in sa;
	int r, fd = udp4to(&sa, &r);
	struct onemsg m;
	hdr(&m, &sa, sizeof sa, payload, 1);
	char *p = guarded(sizeof m.h - 8);
	memcpy(p, &m.h, sizeof m.h - 8);
	step(n(sendmsg(fd, (void *)p, 0)));
}
UDP(msg_bad_name, .size = 1, .msg = badname)
/* A NULL name is no name, whatever its length says. */
UDP(msg_null_name_negative_len, .connect = 1, .size = 2, .msg = nullnamelenminus1)
UDP(msg_namelen_negative, .len = (socklen_t)-1, .size = 1, .msg = asis)
/* sendmsg caps a long name at sizeof(struct sockaddr_storage). */
UDP(msg_namelen_200, .len = 200, .size = 3, .msg = asis)
/* A name of length 0 is no name: an unconnected socket has nowhere to send. */
UDP(msg_namelen0, .len = LEN0, .size = 1, .msg = asis)
UDP(msg_bad_iov_array, .size = 1, .msg = badiovarray)
UDP(msg_iovlen_1025, .size = 1, .msg = iovlen1025)
UDP(msg_iovlen_1024, .msg = iovlen1024)
UDP(msg_iov_len_negative, .size = 1, .msg = iovlenminus1)
UDP(msg_bad_iov_base, .size = 8, .buf = unmapped(), .msg = asis)
/* iov_base in the kernel's half fails access_ok, even for 0 bytes. */
UDP(msg_kernel_iov_base_len0, .buf = kernelptr, .msg = asis)
UDP(msg_null_iov_base_len0, .nullbuf = 1, .msg = asis)
/* A datagram's payload is all or nothing: 8 readable bytes, then a fault. */
UDP(msg_iov_straddles_prot_none, .size = 16, .buf = guarded(8), .msg = asis)
/* The same through sendto, whose address and payload the supervisor reads
   in one go. */
UDP(sendto_buf_straddles_prot_none, .size = 16, .buf = guarded(8))
UDP(msg_bad_control, .size = 1, .msg = badcontrol)
/* A control buffer too large for the socket's option memory: ENOBUFS
   comes before the copy. */
UDP(msg_bad_control_huge, .size = 1, .msg = badcontrolhuge)
UDP(msg_control_huge, .size = 1, .msg = controlhuge)
UDP(msg_controllen_over_int_max, .size = 1, .msg = controlovermax)
/* Shorter than a cmsghdr: no control message at all. */
UDP(msg_control_short, .size = 2, .msg = controlshort)
/* msg_flags is an output of recvmsg: sendmsg ignores it. */
UDP(msg_flags_ignored, .size = 2, .msg = flagsset)

UDP(udp4_loopback, .size = 5)
UDP(udp4_len15, .len = 15, .size = 1)
UDP(udp4_family_inet6, .addr = "::1", .size = 1)
/* udp_sendmsg reads an AF_UNSPEC name as AF_INET, and sends there. */
UDP(udp4_unspec_sends, .family = UNSPEC, .size = 5)
UDP(udp4_unspec_len2, .family = UNSPEC, .len = 2, .size = 1)
/* 0.0.0.0 is this host: the 127.0.0.1 receiver gets it. */
UDP(udp4_any_addr, .addr = "0.0.0.0", .size = 5)
UDP(udp4_other_loopback, .to = "127.0.0.2", .size = 5)
UDP(udp4_port0, .port0 = 1, .size = 1)
/* More than 64 KiB is refused before the name is looked at. */
UDP(udp4_port0_emsgsize, .port0 = 1, .size = 70000)
UDP(udp4_edestaddrreq, .size = 1, .msg = noname)
UDP(udp4_max_payload, .size = 65507)
UDP(udp4_emsgsize_65508, .size = 65508)
UDP(udp4_emsgsize_70000, .size = 70000)
UDP(udp4_emsgsize_before_name, .addr = "::1", .size = 70000)
UDP(udp4_oob, .size = 1, .flags = MSG_OOB)
UDP(udp4_oob_before_name, .len = 8, .size = 1, .flags = MSG_OOB)
UDP(udp4_broadcast, .addr = "127.255.255.255", .size = 1)
UDP(udp4_dontwait, .size = 5, .flags = MSG_DONTWAIT)
/* SCM_RIGHTS belongs to unix sockets; UDP's parser passes over it. */
UDP(udp4_scm_rights, .size = 2, .msg = rightsudp)
UDP(udp4_cmsg_len_short, .size = 2, .msg = ttlshort)
UDP(udp4_ip_ttl, .size = 2, .msg = ttl9)
UDP(udp4_ip_ttl_invalid, .size = 2, .msg = ttl300)

UDP(udp6_loopback, .sock = AF_INET6, .to = "::1", .size = 5)
/* RFC 2133's sockaddr_in6 had no scope id: 24 bytes will do. */
UDP(udp6_len24, .sock = AF_INET6, .to = "::1", .len = 24, .size = 5)
UDP(udp6_len23, .sock = AF_INET6, .to = "::1", .len = 23, .size = 1)
UDP(udp6_family_unix, .sock = AF_INET6, .to = "::1", .family = AF_UNIX, .size = 1)
UDP(udp6_port0, .sock = AF_INET6, .to = "::1", .port0 = 1, .size = 1)
/* udpv6_sendmsg drops an AF_UNSPEC name: unconnected, there is nowhere to go. */
UDP(udp6_unspec_unconnected, .sock = AF_INET6, .to = "::1", .family = UNSPEC, .size = 1)
UDP(udp6_unspec_connected, .sock = AF_INET6, .to = "::1", .family = UNSPEC, .size = 4, .connect = 1)
/* A dual-stack socket sends an AF_INET name over IPv4. */
UDP(udp6_family_inet, .sock = AF_INET6, .size = 5)
UDP(udp6_family_inet_len15, .sock = AF_INET6, .len = 15, .size = 1)
UDP(udp6_v6only_family_inet, .sock = V6ONLY, .size = 1)
UDP(udp6_v4mapped, .sock = AF_INET6, .addr = "::ffff:127.0.0.1", .size = 5)
UDP(udp6_v6only_v4mapped, .sock = V6ONLY, .addr = "::ffff:127.0.0.1", .size = 1)
/* :: is this host: the ::1 receiver gets it. */
UDP(udp6_any_addr, .sock = AF_INET6, .to = "::1", .addr = "::", .size = 5)
/* IPv6 looks at the name before the length, and knows no MSG_OOB. */
UDP(udp6_emsgsize_before_name, .sock = AF_INET6, .to = "::1", .family = AF_UNIX, .size = 70000)
UDP(udp6_oob, .sock = AF_INET6, .to = "::1", .size = 1, .flags = MSG_OOB)
UDP(udp6_oob_before_name, .sock = AF_INET6, .to = "::1", .family = AF_UNIX, .size = 1, .flags = MSG_OOB)
UDP(udp6_port0_emsgsize, .sock = AF_INET6, .to = "::1", .port0 = 1, .size = 70000)
UDP(udp6_emsgsize_70000, .sock = AF_INET6, .to = "::1", .size = 70000)
UDP(udp6_v4mapped_emsgsize, .sock = AF_INET6, .addr = "::ffff:127.0.0.1", .size = 70000)

/* On a connected socket a name still decides where this one goes. */
CASE(udp4_connected_other_name) {
	int pa, pb, a = udprecv("127.0.0.1", &pa), b = udprecv("127.0.0.1", &pb);
	struct sockaddr_in sa = in4("127.0.0.1", pa), sb = in4("127.0.0.1", pb);
	int fd = sock(AF_INET, SOCK_DGRAM);
	if (connect(fd, (void *)&sa, sizeof sa))
		die("connect");
	step(sto(fd, &sb, sizeof sb, 3, 0));
	step(recvd(b));
	step(smsg(fd, NULL, 0, 4, NULL, 0, 0));
	step(recvd(a));
}
/* The port unreachable that answers the first send is the second's error
   (then it is cleared). */
CASE(udp4_econnrefused) {
	struct sockaddr_in sa = in4("127.0.0.1", closedport(AF_INET));
	int fd = sock(AF_INET, SOCK_DGRAM);
	if (connect(fd, (void *)&sa, sizeof sa))
		die("connect");
	step(smsg(fd, NULL, 0, 1, NULL, 0, 0));
	poll(&(struct pollfd){.fd = fd, .events = POLLERR}, 1, 500);
	step(smsg(fd, NULL, 0, 1, NULL, 0, 0));
	step(smsg(fd, NULL, 0, 1, NULL, 0, 0));
}
/* An unconnected socket hears of no ICMP error. */
CASE(udp4_unconnected_closed_port) {
	struct sockaddr_in sa = in4("127.0.0.1", closedport(AF_INET));
	int fd = sock(AF_INET, SOCK_DGRAM);
	step(sto(fd, &sa, sizeof sa, 1, 0));
	usleep(20000);
	step(sto(fd, &sa, sizeof sa, 1, 0));
}

/* Control messages that need a capability: SO_MARK (CAP_NET_RAW or
   CAP_NET_ADMIN), SO_PRIORITY above 6 (the same), IPv6 hop-by-hop options
   (CAP_NET_RAW). Sent as nobody, who has none of them. */
struct capsend {
	int family, type, level, ctype, value;
};
static const char *capsendas(const void *arg) {
	const struct capsend *c = arg;
	int port, r = -1;
	char sa[sizeof(struct sockaddr_in6)];
	socklen_t sl;
	if (c->type == SOCK_STREAM) {
		listen4("127.0.0.1", 16, &port);
		sl = addrto(sa, "127.0.0.1", port);
	} else {
		r = udprecv(c->family == AF_INET ? "127.0.0.1" : "::1", &port);
		sl = addrto(sa, c->family == AF_INET ? "127.0.0.1" : "::1", port);
	}
	int fd = sock(c->family, c->type);
	if (c->type == SOCK_STREAM && connect(fd, (void *)sa, sl))
		die("connect");
	unsigned char hopopts[8] = {0, 0, 1, 4, 0, 0, 0, 0}; /* next header, length 0, PadN of 4 */
	struct onemsg m;
	hdr(&m, sa, sl, payload, 2);
	if (c->ctype == IPV6_HOPOPTS)
		control(&m, c->level, c->ctype, hopopts, sizeof hopopts);
	else
		control(&m, c->level, c->ctype, &c->value, sizeof c->value);
	static char out[64];
	snprintf(out, sizeof out, "%s", n(sendmsg(fd, &m.h, 0)));
	if (r >= 0)
		snprintf(out + strlen(out), sizeof out - strlen(out), ",%s", recvd(r));
	return out;
}
CASE(cap_so_mark_nobody) { step(asuser(NOBODY, capsendas, &(struct capsend){AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_MARK, 7})); }
CASE(cap_so_mark_tcp_nobody) { step(asuser(NOBODY, capsendas, &(struct capsend){AF_INET, SOCK_STREAM, SOL_SOCKET, SO_MARK, 7})); }
CASE(cap_so_priority_nobody) { step(asuser(NOBODY, capsendas, &(struct capsend){AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_PRIORITY, 7})); }
CASE(cap_so_priority_low_nobody) { step(asuser(NOBODY, capsendas, &(struct capsend){AF_INET, SOCK_DGRAM, SOL_SOCKET, SO_PRIORITY, 3})); }
CASE(cap_hopopts_nobody) { step(asuser(NOBODY, capsendas, &(struct capsend){AF_INET6, SOCK_DGRAM, IPPROTO_IPV6, IPV6_HOPOPTS, 0})); }

/* --- tcp ---------------------------------------------------------------------------------- */

/* Without MSG_FASTOPEN, TCP ignores the name, however wrong. */
CASE(tcp_name_ignored) {
	int s, c = tcppair(&s);
	struct sockaddr_in6 junk = in6("::1", 9);
	step(sto(c, &junk, sizeof junk, 5, 0));
	step(sto(c, &junk, 3, 5, 0));
	step(drain(s));
}
CASE(tcp_sendmsg_connected) {
	int s, c = tcppair(&s);
	step(smsg(c, NULL, 0, 7, NULL, 0, 0));
	step(drain(s));
}
CASE(tcp_oob) {
	int s, c = tcppair(&s);
	step(smsg(c, NULL, 0, 1, NULL, 0, MSG_OOB));
	step(drain(s));
}
/* Not connected: EPIPE, and SIGPIPE with it. */
CASE(tcp_unconnected_name) {
	catchpipe();
	step(sto(sock(AF_INET, SOCK_STREAM), &(struct sockaddr_in){.sin_family = AF_INET}, sizeof(struct sockaddr_in), 1, 0));
	stepf("sigpipe=%d", (int)piped);
}
/* Shut for sending: EPIPE, and SIGPIPE unless MSG_NOSIGNAL. */
static void shut(int flags) {
	catchpipe();
	int s, c = tcppair(&s);
	shutdown(c, SHUT_WR);
	step(smsg(c, NULL, 0, 1, NULL, 0, flags));
	stepf("sigpipe=%d", (int)piped);
}
CASE(tcp_epipe_sigpipe) { shut(0); }
CASE(tcp_epipe_nosignal) { shut(MSG_NOSIGNAL); }
/* The default action of SIGPIPE ends the sender. */
CASE(tcp_epipe_default) {
	int s, c = tcppair(&s);
	shutdown(c, SHUT_WR);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		smsg(c, NULL, 0, 1, NULL, 0, 0);
		_exit(0);
	}
	int status;
	waitpid(pid, &status, 0);
	if (WIFSIGNALED(status))
		stepf("killed=%s", sigabbrev_np(WTERMSIG(status)));
	else
		stepf("exit=%d", WEXITSTATUS(status));
}
/* The peer reset the connection: the error is reported once, then EPIPE. */
CASE(tcp_econnreset) {
	int s, c = tcppair(&s);
	setsockopt(s, SOL_SOCKET, SO_LINGER, &(struct linger){.l_onoff = 1}, sizeof(struct linger));
	close(s);
	usleep(20000);
	step(smsg(c, NULL, 0, 1, NULL, 0, MSG_NOSIGNAL));
	step(smsg(c, NULL, 0, 1, NULL, 0, MSG_NOSIGNAL));
}

/* tfo is a send with MSG_FASTOPEN (TCP Fast Open): the name is where it
   connects, a listener on the loopback unless the case says otherwise. */
struct tfo {
	int v6;          /* over IPv6 */
	int closed;      /* the name's port is closed */
	int family;      /* the name's sa_family, when not its address's */
	socklen_t len;   /* the name's length, when not its address's size */
	int connected;   /* the socket is connected to the listener already */
	int msg;         /* send with sendmsg; 2: without a name */
};
static void tfocase(const struct tfo *t) {
	const char *addr = t->v6 ? "::1" : "127.0.0.1";
	int port, l = t->v6 ? listen6(16, &port) : listen4(addr, 16, &port);
	char sa[sizeof(struct sockaddr_in6)];
	socklen_t len = addrto(sa, addr, t->closed ? closedport(t->v6 ? AF_INET6 : AF_INET) : port);
	int c = sock(t->v6 ? AF_INET6 : AF_INET, SOCK_STREAM);
	if (t->connected && connect(c, (void *)sa, len))
		die("connect");
	if (t->family)
		((struct sockaddr *)sa)->sa_family = t->family == UNSPEC ? AF_UNSPEC : t->family;
	if (t->len)
		len = t->len;
	if (t->msg)
		step(smsg(c, t->msg == 2 ? NULL : sa, t->msg == 2 ? 0 : len, 6, NULL, 0, MSG_FASTOPEN));
	else
		step(sto(c, sa, len, 5, MSG_FASTOPEN));
	step(accepted(l));
}
#define TFO(fn, ...) \
	CASE(fn) { tfocase(&(const struct tfo){__VA_ARGS__}); }
TFO(tcp_fastopen, 0)
TFO(tcp_fastopen_sendmsg, .msg = 1)
TFO(tcp_fastopen_v6, .v6 = 1)
TFO(tcp_fastopen_unspec, .family = UNSPEC)
TFO(tcp_fastopen_connected, .connected = 1)
TFO(tcp_fastopen_closed_port, .closed = 1)
TFO(tcp_fastopen_family_inet6, .family = AF_INET6)
TFO(tcp_fastopen_len8, .len = 8)
TFO(tcp_fastopen_no_name, .msg = 2)

/* A stream copies the payload in chunks: FIRST readable bytes, then a
   second iovec that faults. */
static void streamfault(int c, int s, size_t first, void *second) {
	static char big[1 << 18];
	struct iovec iov[2] = {{big, first}, {second, 100}};
	struct msghdr h = {.msg_iov = iov, .msg_iovlen = 2};
	step(n(sendmsg(c, &h, 0)));
	step(drain(s));
}
static void tcpfault(size_t first, void *second) {
	int s, c = tcppair(&s);
	streamfault(c, s, first, second);
}
static void unixfault(size_t first, void *second) {
	int sv[2];
	pair(SOCK_STREAM, sv);
	streamfault(sv[0], sv[1], first, second);
}
CASE(tcp_fault_small) { tcpfault(100, unmapped()); }
CASE(tcp_fault_big) { tcpfault(1 << 18, unmapped()); }
CASE(tcp_fault_kernel) { tcpfault(100, kernelptr); }
CASE(unix_stream_fault_small) { unixfault(100, unmapped()); }
CASE(unix_stream_fault_big) { unixfault(1 << 17, unmapped()); }
/* sendto on a connected stream names an address TCP ignores; only the
   buffer's first 100 bytes are readable. */
CASE(tcp_sendto_straddles_prot_none) {
	int s, c = tcppair(&s);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	step(n(sendto(c, guarded(100), 200, 0, (void *)&sa, sizeof sa)));
	step(drain(s));
}

/* --- unix datagrams to a path ------------------------------------------------------------------ */

/* What a path may lead to; each returns the receiver, or -1. */
static int dgramsock(void) {
	struct sockaddr_un su = upath("sock");
	return unixbound(SOCK_DGRAM, &su, sizeof su, -1);
}
static int nothing(void) { return -1; }
static int regularfile(void) {
	close(open(upath("sock").sun_path, O_CREAT | O_WRONLY, 0666));
	return -1;
}
/* The socket file stays when its socket is closed: nobody is listening. */
static int closedsock(void) {
	close(dgramsock());
	return -1;
}
static int streamsock(void) {
	struct sockaddr_un su = upath("sock");
	unixbound(SOCK_STREAM, &su, sizeof su, 16);
	return -1;
}
/* A receiver connected to another socket takes nothing from us. */
static int connectedsock(void) {
	struct sockaddr_un so = upath("other");
	int r = dgramsock();
	unixbound(SOCK_DGRAM, &so, sizeof so, -1);
	if (connect(r, (void *)&so, sizeof so))
		die("connect");
	return -1;
}
static int linkedsock(void) {
	if (symlink(upath("sock").sun_path, upath("link").sun_path))
		die("symlink");
	return dgramsock();
}

/* dgram is a unix datagram send to a path in the case's directory. */
struct dgram {
	int (*to)(void);   /* makes what "sock" is, returning the receiver or -1 */
	const char *path;  /* the name's path, when not "sock" */
	int relative;      /* the name is relative to the case's directory, the cwd */
	socklen_t len;     /* the name's length, when not sizeof(struct sockaddr_un) */
	int family;        /* the name's sun_family, when not AF_UNIX */
	size_t size;       /* the payload's length (5 when 0) */
	const void *buf;   /* the payload, when not payload */
	int flags;         /* the send's flags */
	int sndbuf;        /* the sender's SO_SNDBUF, when set */
	int msg;           /* send with sendmsg */
};
static void dgramcase(const struct dgram *d) {
	int r = d->to();
	struct sockaddr_un su = upath(d->path ? d->path : "sock");
	if (d->relative) {
		if (chdir(casedir))
			die("chdir");
		strcpy(su.sun_path, "sock");
	}
	if (d->family)
		su.sun_family = d->family;
	int fd = sock(AF_UNIX, SOCK_DGRAM);
	if (d->sndbuf)
		setint(fd, SOL_SOCKET, SO_SNDBUF, d->sndbuf);
	struct onemsg m;
	hdr(&m, &su, d->len ? d->len : sizeof su, d->buf ? d->buf : payload, d->size ? d->size : 5);
	if (d->msg)
		step(n(sendmsg(fd, &m.h, d->flags)));
	else
		step(n(sendto(fd, m.iov.iov_base, m.iov.iov_len, d->flags, m.h.msg_name, m.h.msg_namelen)));
	if (r >= 0)
		step(recvd(r));
}
#define DGRAM(fn, ...) \
	CASE(fn) { dgramcase(&(const struct dgram){__VA_ARGS__}); }
DGRAM(unix_dgram_path, .to = dgramsock, .msg = 1)
DGRAM(unix_dgram_path_sendto, .to = dgramsock)
DGRAM(unix_dgram_missing, .to = nothing)
DGRAM(unix_dgram_regular_file, .to = regularfile)
DGRAM(unix_dgram_closed_socket, .to = closedsock)
DGRAM(unix_dgram_to_stream, .to = streamsock)
DGRAM(unix_dgram_eperm, .to = connectedsock)
DGRAM(unix_dgram_symlink, .to = linkedsock, .path = "link")
DGRAM(unix_dgram_relative, .to = dgramsock, .relative = 1)
DGRAM(unix_dgram_len2, .to = dgramsock, .len = 2)
DGRAM(unix_dgram_family_inet, .to = dgramsock, .family = AF_INET)
DGRAM(unix_dgram_oob, .to = dgramsock, .flags = MSG_OOB)
DGRAM(unix_dgram_emsgsize, .to = dgramsock, .size = 20000, .sndbuf = 4096)
/* The payload is checked and copied before the name is looked up. */
DGRAM(unix_dgram_emsgsize_before_lookup, .to = nothing, .size = 20000, .sndbuf = 4096)
DGRAM(unix_dgram_efault_before_lookup, .to = nothing, .buf = unmapped())
DGRAM(unix_dgram_kernel_buf, .to = dgramsock, .buf = kernelptr)

CASE(unix_abstract) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "r");
	int r = unixbound(SOCK_DGRAM, &su, len, -1);
	step(sto(sock(AF_UNIX, SOCK_DGRAM), &su, len, 5, 0));
	step(recvd(r));
}
CASE(unix_abstract_missing) {
	struct sockaddr_un su;
	step(sto(sock(AF_UNIX, SOCK_DGRAM), &su, abstract(&su, "missing"), 1, 0));
}

/* --- unix: socketpairs, streams -------------------------------------------------------------------- */

/* An address of length 0 is no address to a unix socket: to the peer. */
CASE(unix_dgram_addrlen0_connected) {
	int sv[2];
	pair(SOCK_DGRAM, sv);
	step(sto(sv[0], payload, 0, 4, 0));
	step(recvd(sv[1]));
}
CASE(unix_dgram_no_name_unconnected) { step(smsg(sock(AF_UNIX, SOCK_DGRAM), NULL, 0, 1, NULL, 0, 0)); }
/* A connected datagram socket may still name another receiver. */
CASE(unix_dgram_connected_other_name) {
	int sv[2], r = dgramsock();
	pair(SOCK_DGRAM, sv);
	struct sockaddr_un su = upath("sock");
	step(sto(sv[0], &su, sizeof su, 5, 0));
	step(recvd(r));
}
CASE(unix_stream_eisconn) {
	int sv[2];
	pair(SOCK_STREAM, sv);
	struct sockaddr_un su = upath("sock");
	step(sto(sv[0], &su, sizeof su, 1, 0));
}
CASE(unix_stream_unconnected_name) {
	struct sockaddr_un su = upath("sock");
	unixbound(SOCK_STREAM, &su, sizeof su, 16);
	step(sto(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su, 1, 0));
}
CASE(unix_stream_unconnected) { step(smsg(sock(AF_UNIX, SOCK_STREAM), NULL, 0, 1, NULL, 0, 0)); }
CASE(unix_seqpacket_name_ignored) {
	int sv[2];
	pair(SOCK_SEQPACKET, sv);
	struct sockaddr_un su = upath("nowhere");
	step(sto(sv[0], &su, sizeof su, 5, 0));
	step(recvd(sv[1]));
}
CASE(unix_stream_epipe) {
	catchpipe();
	int sv[2];
	pair(SOCK_STREAM, sv);
	close(sv[1]);
	step(smsg(sv[0], NULL, 0, 1, NULL, 0, 0));
	stepf("sigpipe=%d", (int)piped);
}

/* --- unix: another user's sends -------------------------------------------------------------- */

static const char *dgramto(const void *arg) { return smsg(socket(AF_UNIX, SOCK_DGRAM, 0), arg, sizeof(struct sockaddr_un), 5, NULL, 0, 0); }
/* dgramas sends to a receiver whose socket file has MODE, in a directory
   of mode DIRMODE (when not 0), as UID. */
static void dgramas(uid_t uid, mode_t dirmode, mode_t mode) {
	struct sockaddr_un su = upath(dirmode ? "d/sock" : "sock");
	if (dirmode && mkdir(upath("d").sun_path, dirmode))
		die("mkdir");
	int r = unixbound(SOCK_DGRAM, &su, sizeof su, -1);
	if (chmod(su.sun_path, mode))
		die("chmod");
	step(asuser(uid, dgramto, &su));
	step(recvd(r));
}
CASE(unix_dgram_eacces_dir_nobody) { dgramas(NOBODY, 0700, 0666); }
CASE(unix_dgram_eacces_socket_nobody) { dgramas(NOBODY, 0, 0600); }
CASE(unix_dgram_writable_nobody) { dgramas(NOBODY, 0, 0666); }
CASE(unix_dgram_no_write_bit_root) { dgramas(0, 0, 0444); }

/* --- unix: full buffers, timeouts, signals ---------------------------------------------------- */

/* reader empties the stream *arg. */
static void *reader(void *arg) {
	static char buf[1 << 16];
	while (recv(*(int *)arg, buf, sizeof buf, MSG_DONTWAIT) > 0)
		;
	return NULL;
}

/* blocked is a send on a socketpair of TYPE whose first end cannot send
   another byte: its send buffer (or, for datagrams, the peer's queue) is
   full. */
struct blocked {
	int type;      /* SOCK_STREAM (when 0) or SOCK_DGRAM */
	int flags;     /* the send's flags */
	int nonblock;  /* the socket is O_NONBLOCK */
	int timeo_ms;  /* its SO_SNDTIMEO, when set */
	int alarm;     /* a SIGALRM handler interrupts it 100 ms on, installed with these flags + 1 */
	int reader;    /* a thread empties the peer's queue once the handler has run */
};
/* full makes a socketpair of TYPE whose first end cannot send another
   byte without blocking. */
static void full(int type, int sv[2]) {
	static char chunk[1024];
	pair(type, sv);
	setint(sv[0], SOL_SOCKET, SO_SNDBUF, 4096);
	while (send(sv[0], chunk, type == SOCK_DGRAM ? 1 : sizeof chunk, MSG_DONTWAIT) > 0)
		;
	if (errno != EAGAIN)
		die("fill");
}
static void blockedcase(const struct blocked *b) {
	int sv[2], type = b->type ? b->type : SOCK_STREAM;
	full(type, sv);
	if (b->nonblock)
		fcntl(sv[0], F_SETFL, O_NONBLOCK);
	struct timeval tv = {.tv_sec = b->timeo_ms / 1000, .tv_usec = b->timeo_ms % 1000 * 1000};
	if (b->timeo_ms && setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv))
		die("SO_SNDTIMEO");
	struct later l = {.fn = reader, .arg = &sv[1]};
	pthread_t t = 0;
	if (b->reader)
		t = afterhandler(&l);
	if (b->alarm)
		alarm100ms(b->alarm - 1);
	step(smsg(sv[0], NULL, 0, type == SOCK_DGRAM ? 1 : 100, NULL, 0, b->flags));
	stepf("handler=%d", (int)handled);
	if (b->reader)
		joinhandler(t);
}
#define BLOCKED(fn, ...) \
	CASE(fn) { blockedcase(&(const struct blocked){__VA_ARGS__}); }
BLOCKED(unix_dgram_eagain, .type = SOCK_DGRAM, .flags = MSG_DONTWAIT)
BLOCKED(unix_stream_eagain, .flags = MSG_DONTWAIT)
BLOCKED(unix_stream_nonblocking, .nonblock = 1)
BLOCKED(unix_stream_sndtimeo, .timeo_ms = 100)
BLOCKED(unix_dgram_sndtimeo, .type = SOCK_DGRAM, .timeo_ms = 100)
/* Interrupted by a handler without SA_RESTART: EINTR. */
BLOCKED(unix_stream_eintr, .alarm = 1)
BLOCKED(unix_dgram_eintr, .type = SOCK_DGRAM, .alarm = 1)
/* With SA_RESTART the send goes on, and completes once a thread has
   emptied the peer's queue after the handler ran. */
BLOCKED(unix_stream_restart, .alarm = SA_RESTART + 1, .reader = 1)
/* A send timeout makes an interrupted send fail with EINTR even when the
   handler asked for SA_RESTART (sock_intr_errno). */
BLOCKED(unix_stream_sndtimeo_restart, .timeo_ms = 1000, .alarm = SA_RESTART + 1)

/* --- SCM_RIGHTS ----------------------------------------------------------------------------- */

/* samefile says whether fds A and B are the same file (device and inode). */
static int samefile(int a, int b) {
	struct stat sa, sb;
	return fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* gotcmsg receives a message on FD, waiting at most QUIET_MS, and returns
   its control message of SOL_SOCKET and TYPE (valid until the next call)
   — or NULL, *fail saying why: "recv=none" when nothing came, NONE when
   the message had no such control message. */
static struct cmsghdr *gotcmsg(int fd, int type, const char *none, const char **fail) {
	static char data[16];
	static union cmsgbuf b;
	struct iovec iov = {data, sizeof data};
	struct msghdr h = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = &b, .msg_controllen = sizeof b};
	*fail = "recv=none";
	if (poll(&(struct pollfd){.fd = fd, .events = POLLIN}, 1, QUIET_MS) != 1)
		return NULL;
	if (recvmsg(fd, &h, MSG_DONTWAIT) < 0) {
		*fail = ename(errno);
		return NULL;
	}
	*fail = none;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&h); c; c = CMSG_NXTHDR(&h, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == type)
			return c;
	return NULL;
}

/* gotfds receives a message on FD and says how many fds came with it and
   whether the first is the same file as WANT: "fds=1:same" (or ":other"). */
static const char *gotfds(int fd, int want) {
	static char out[48];
	const char *fail;
	struct cmsghdr *c = gotcmsg(fd, SCM_RIGHTS, "fds=0", &fail);
	int first;
	if (!c)
		return fail;
	memcpy(&first, CMSG_DATA(c), sizeof first);
	snprintf(out, sizeof out, "fds=%d:%s", (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)), samefile(first, want) ? "same" : "other");
	return out;
}

static int afile(void) {
	int fd = open(upath("passed").sun_path, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		die("open");
	return fd;
}

/* rights sends the NFD fds at FDS with SCM_RIGHTS over a socketpair of
   TYPE, or to the datagram socket at NAME when not NULL (of length LEN),
   and says what arrived (WANT: the file the first fd should be). */
static void rightsto(int type, const int *fds, int nfd, int want, const struct sockaddr_un *name, socklen_t len) {
	int sv[2], r = name ? dgramsock() : -1;
	pair(type, sv);
	union cmsgbuf b;
	size_t ctl = cmsg1(&b, SOL_SOCKET, SCM_RIGHTS, fds, nfd * sizeof(int));
	step(smsg(name ? sock(AF_UNIX, SOCK_DGRAM) : sv[0], name, len, 1, &b, ctl, 0));
	step(gotfds(name ? r : sv[1], want));
}
static void rights(int type, const int *fds, int nfd, int want) { rightsto(type, fds, nfd, want, NULL, 0); }
/* many sends COUNT copies of one fd; the first is CLOSED when closed. */
static void many(int count, int closed) {
	int fds[256], fd = afile();
	for (int i = 0; i < count; i++)
		fds[i] = fd;
	if (closed)
		fds[0] = CLOSED;
	rights(SOCK_DGRAM, fds, count, fd);
}
CASE(scm_rights) { rights(SOCK_DGRAM, &(int){afile()}, 1, afile()); }
CASE(scm_rights_stream) { rights(SOCK_STREAM, &(int){afile()}, 1, afile()); }
CASE(scm_rights_closed) { rights(SOCK_DGRAM, &(int){CLOSED}, 1, -1); }
CASE(scm_rights_minus_one) { rights(SOCK_DGRAM, &(int){-1}, 1, -1); }
/* fget_raw: an O_PATH fd may travel. */
CASE(scm_rights_o_path) { rights(SOCK_DGRAM, &(int){opathfile("passed")}, 1, afile()); }
CASE(scm_rights_two) { rights(SOCK_DGRAM, (int[]){afile(), afile()}, 2, afile()); }
/* More than SCM_MAX_FD (253) is refused before any fd is looked at. */
CASE(scm_rights_254) { many(254, 0); }
CASE(scm_rights_254_closed) { many(254, 1); }
CASE(scm_rights_253) { many(253, 0); }
/* A socket may carry itself. */
CASE(scm_rights_itself) {
	int sv[2];
	pair(SOCK_DGRAM, sv);
	union cmsgbuf b;
	size_t len = cmsg1(&b, SOL_SOCKET, SCM_RIGHTS, &sv[0], sizeof(int));
	step(smsg(sv[0], NULL, 0, 1, &b, len, 0));
	step(gotfds(sv[1], sv[0]));
}
CASE(scm_rights_to_path) {
	struct sockaddr_un su = upath("sock");
	rightsto(SOCK_DGRAM, &(int){afile()}, 1, afile(), &su, sizeof su);
}
/* The control messages are parsed before the name is looked at. */
CASE(scm_rights_closed_bad_name) {
	struct sockaddr_un su = upath("sock");
	rightsto(SOCK_DGRAM, &(int){CLOSED}, 1, -1, &su, 2);
}
CASE(scm_rights_closed_missing_path) {
	struct sockaddr_un su = upath("missing");
	rightsto(SOCK_DGRAM, &(int){CLOSED}, 1, -1, &su, sizeof su);
}
/* As nobody, to a socket anyone may write to. */
static const char *rightsas(const void *arg) {
	union cmsgbuf b;
	size_t len = cmsg1(&b, SOL_SOCKET, SCM_RIGHTS, &(int){open("/dev/null", O_RDONLY)}, sizeof(int));
	return smsg(socket(AF_UNIX, SOCK_DGRAM, 0), arg, sizeof(struct sockaddr_un), 1, &b, len, 0);
}
CASE(scm_rights_to_path_nobody) {
	struct sockaddr_un su = upath("sock");
	int r = dgramsock();
	if (chmod(su.sun_path, 0666))
		die("chmod");
	step(asuser(NOBODY, rightsas, &su));
	step(gotfds(r, open("/dev/null", O_RDONLY)));
}
/* cmsgcase sends one control message over a datagram socketpair, its
   cmsg_len changed by DLEN. */
static void cmsgcase(int level, int type, int dlen) {
	int sv[2];
	pair(SOCK_DGRAM, sv);
	union cmsgbuf b;
	size_t len = cmsg1(&b, level, type, &(int){afile()}, sizeof(int));
	b.align.cmsg_len += dlen;
	step(smsg(sv[0], NULL, 0, 3, &b, len, 0));
	step(recvd(sv[1]));
}
CASE(scm_cmsg_len_short) { cmsgcase(SOL_SOCKET, SCM_RIGHTS, -12); }
CASE(scm_cmsg_len_too_long) { cmsgcase(SOL_SOCKET, SCM_RIGHTS, 5); }
CASE(scm_unknown_type) { cmsgcase(SOL_SOCKET, 99, 0); }
/* Unix sockets pass over messages of other levels. */
CASE(scm_other_level) { cmsgcase(IPPROTO_IP, IP_TTL, 0); }

/* --- SCM_CREDENTIALS -------------------------------------------------------------------------- */

/* gotcreds receives a message on FD (which has SO_PASSCRED) and says what
   credentials came with it: "creds=UID:GID:sender" (or ":other" when the
   pid is not the sender's). */
static const char *gotcreds(int fd, pid_t sender) {
	static char out[64];
	const char *fail;
	struct cmsghdr *c = gotcmsg(fd, SCM_CREDENTIALS, "no-creds", &fail);
	struct ucred u;
	if (!c)
		return fail;
	memcpy(&u, CMSG_DATA(c), sizeof u);
	snprintf(out, sizeof out, "creds=%d:%d:%s", (int)u.uid, (int)u.gid, u.pid == sender ? "sender" : "other");
	return out;
}

/* A creds case sends one message to a receiver with SO_PASSCRED — the
   other end of a socketpair of TYPE, or the datagram socket at a path
   when PATH — as UID (0: as is), claiming the credentials forge() makes
   of the sender's own (no SCM_CREDENTIALS when forge is NULL). */
struct creds {
	int type, path;
	void (*forge)(struct ucred *);
	int fd;                    /* the sender's socket */
	struct sockaddr_un name;   /* its destination, for PATH */
};
static const char *credsendas(const void *arg) {
	const struct creds *a = arg;
	static char out[48];
	struct ucred u = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	union cmsgbuf b;
	size_t len = 0;
	if (a->forge) {
		a->forge(&u);
		len = cmsg1(&b, SOL_SOCKET, SCM_CREDENTIALS, &u, sizeof u);
	}
	int fd = a->path ? socket(AF_UNIX, SOCK_DGRAM, 0) : a->fd;
	snprintf(out, sizeof out, "%d %s", (int)getpid(), smsg(fd, a->path ? &a->name : NULL, a->path ? sizeof a->name : 0, 1, a->forge ? &b : NULL, len, 0));
	return out;
}
static void credcase(uid_t uid, struct creds a) {
	int sv[2];
	pair(a.type ? a.type : SOCK_DGRAM, sv);
	if (a.path) {
		a.name = upath("sock");
		sv[1] = dgramsock();
		if (chmod(a.name.sun_path, 0666))
			die("chmod");
	}
	a.fd = sv[0];
	setint(sv[1], SOL_SOCKET, SO_PASSCRED, 1);
	const char *r = asuser(uid, credsendas, &a);
	int pid = 0, off = 0;
	if (sscanf(r, "%d %n", &pid, &off) != 1)
		off = 0;
	step(r + off);
	step(gotcreds(sv[1], pid));
}
static void ownids(struct ucred *u) { (void)u; }
static void forgepid(struct ucred *u) { u->pid = getppid(); }
static void forgeuid(struct ucred *u) { u->uid = 1234; }
static void forgegid(struct ucred *u) { u->gid = 1234; }
static void invaliduid(struct ucred *u) { u->uid = (uid_t)-1; }
static void nosuchpid(struct ucred *u) { u->pid = INT32_MAX; }
CASE(creds_own) { credcase(0, (struct creds){.forge = ownids}); }
CASE(creds_implicit) { credcase(0, (struct creds){0}); }
CASE(creds_own_nobody) { credcase(NOBODY, (struct creds){.forge = ownids}); }
CASE(creds_implicit_nobody) { credcase(NOBODY, (struct creds){0}); }
CASE(creds_forged_pid_nobody) { credcase(NOBODY, (struct creds){.forge = forgepid}); }
CASE(creds_forged_uid_nobody) { credcase(NOBODY, (struct creds){.forge = forgeuid}); }
CASE(creds_forged_gid_nobody) { credcase(NOBODY, (struct creds){.forge = forgegid}); }
/* Root may claim any uid and gid (CAP_SETUID, CAP_SETGID). */
CASE(creds_forged_uid_root) { credcase(0, (struct creds){.forge = forgeuid}); }
CASE(creds_forged_gid_root) { credcase(0, (struct creds){.forge = forgegid}); }
CASE(creds_invalid_uid) { credcase(0, (struct creds){.forge = invaliduid}); }
CASE(creds_invalid_uid_nobody) { credcase(NOBODY, (struct creds){.forge = invaliduid}); }
CASE(creds_no_such_pid_nobody) { credcase(NOBODY, (struct creds){.forge = nosuchpid}); }
/* The credentials on a stream: SO_PASSCRED sees them with each read. */
CASE(creds_implicit_stream_nobody) { credcase(NOBODY, (struct creds){.type = SOCK_STREAM}); }
CASE(creds_own_stream_nobody) { credcase(NOBODY, (struct creds){.type = SOCK_STREAM, .forge = ownids}); }
/* To a path, as nobody: the lookup is nobody's, and so are the credentials. */
CASE(creds_implicit_path_nobody) { credcase(NOBODY, (struct creds){.path = 1}); }
CASE(creds_own_path_nobody) { credcase(NOBODY, (struct creds){.path = 1, .forge = ownids}); }
CASE(creds_forged_uid_path_nobody) { credcase(NOBODY, (struct creds){.path = 1, .forge = forgeuid}); }
CASE(creds_bad_len) {
	int sv[2];
	pair(SOCK_DGRAM, sv);
	struct ucred u = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
	union cmsgbuf b;
	size_t len = cmsg1(&b, SOL_SOCKET, SCM_CREDENTIALS, &u, sizeof u);
	b.align.cmsg_len = CMSG_LEN(sizeof u - 4);
	step(smsg(sv[0], NULL, 0, 1, &b, len, 0));
}

/* --- sendmmsg ---------------------------------------------------------------------------------- */

#define UNTOUCHED 0xdead /* a msg_len the kernel did not write */

/* vec fills V with COUNT one-iovec messages of 1, 2, 3, 1... bytes to SA. */
static void vec(struct mmsghdr *v, struct iovec *iov, int count, const void *sa, socklen_t salen) {
	for (int i = 0; i < count; i++) {
		iov[i] = (struct iovec){payload, (size_t)(i % 3) + 1};
		v[i] = (struct mmsghdr){.msg_hdr = {.msg_name = (void *)sa, .msg_namelen = salen, .msg_iov = &iov[i], .msg_iovlen = 1}, .msg_len = UNTOUCHED};
	}
}
/* lens says what the kernel wrote back to each of the first COUNT msg_lens. */
static void lens(const struct mmsghdr *v, int count) {
	char buf[64] = "lens=";
	for (int i = 0; i < count; i++)
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s", i ? "/" : "", v[i].msg_len == UNTOUCHED ? "x" : n(v[i].msg_len));
	step(buf);
}
/* received counts the datagrams FD holds: "got=N". */
static void received(int fd) {
	char data[16];
	int count = 0;
	struct pollfd p = {.fd = fd, .events = POLLIN};
	while (poll(&p, 1, count ? 0 : QUIET_MS) == 1 && recv(fd, data, sizeof data, MSG_DONTWAIT) >= 0)
		count++;
	stepf("got=%d", count);
}

/* mmsgcase sends COUNT messages (vlen VLEN) to a UDP receiver, with
   change() making its changes to the vector first, in V, an array of
   COUNT in memory of the case's: a page of its own, read-only after
   change() when READONLY. */
static struct mmsghdr *mmsgcase(int count, unsigned vlen, void (*change)(struct mmsghdr *), int readonly) {
	struct sockaddr_in sa;
	int r, fd = udp4to(&sa, &r);
	size_t size = (count * sizeof(struct mmsghdr) + 8191) / 4096 * 4096;
	char *mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iovec *iov = calloc(count, sizeof *iov);
	if (mem == MAP_FAILED || !iov)
		die("mmap");
	struct mmsghdr *v = (struct mmsghdr *)(mem + (readonly == 2 ? 4096 - sizeof *v : 0));
	vec(v, iov, count, &sa, sizeof sa);
	if (change)
		change(v);
	if (readonly && mprotect(mem + (readonly == 2 ? 4096 : 0), size - (readonly == 2 ? 4096 : 0), PROT_READ))
		die("mprotect");
	step(n(sendmmsg(fd, v, vlen, 0)));
	lens(v, count < 3 ? count : 3);
	if (count <= 3) /* more would overflow the receiver's buffer */
		received(r);
	return v;
}
static void secondbad(struct mmsghdr *v) { v[1].msg_hdr.msg_iov = unmapped(); }
static void firstbad(struct mmsghdr *v) { v[0].msg_hdr.msg_iov = unmapped(); }
static void firstnamelen(struct mmsghdr *v) { v[0].msg_hdr.msg_namelen = (socklen_t)-1; }
static void secondv6(struct mmsghdr *v) {
	static struct sockaddr_in6 sa6;
	sa6 = in6("::1", 9);
	v[1].msg_hdr.msg_name = &sa6, v[1].msg_hdr.msg_namelen = sizeof sa6;
}
CASE(mmsg_vlen0) { mmsgcase(1, 0, NULL, 0); }
CASE(mmsg_vlen0_null) { step(n(sendmmsg(sock(AF_INET, SOCK_DGRAM), NULL, 0, 0))); }
CASE(mmsg_null_vec) { step(n(sendmmsg(sock(AF_INET, SOCK_DGRAM), NULL, 1, 0))); }
CASE(mmsg_three) { mmsgcase(3, 3, NULL, 0); }
/* The second message is malformed: the first is sent, and counted. */
CASE(mmsg_second_bad) { mmsgcase(3, 3, secondbad, 0); }
CASE(mmsg_second_refused) { mmsgcase(3, 3, secondv6, 0); }
/* The first message fails: its errno is the call's. */
CASE(mmsg_first_bad) { mmsgcase(2, 2, firstbad, 0); }
CASE(mmsg_first_einval) { mmsgcase(2, 2, firstnamelen, 0); }
/* vlen is capped at UIO_MAXIOV (1024). */
CASE(mmsg_vlen_1025) {
	struct mmsghdr *v = mmsgcase(1025, 1025, NULL, 0);
	stepf("last=%s", v[1024].msg_len == UNTOUCHED ? "x" : n(v[1024].msg_len));
}
/* msg_len cannot be written: the message went out, but the call fails. */
CASE(mmsg_msg_len_readonly) { mmsgcase(2, 2, NULL, 1); }
/* The second entry's msg_len is read-only (its page is): one counted,
   two sent. */
CASE(mmsg_second_msg_len_readonly) { mmsgcase(3, 3, NULL, 2); }
/* Two different destinations in one call. */
CASE(mmsg_two_destinations) {
	int pa, pb, a = udprecv("127.0.0.1", &pa), b = udprecv("127.0.0.1", &pb);
	struct sockaddr_in sa = in4("127.0.0.1", pa), sb = in4("127.0.0.1", pb);
	struct mmsghdr v[2];
	struct iovec iov[2];
	vec(v, iov, 2, &sa, sizeof sa);
	v[1].msg_hdr.msg_name = &sb;
	step(n(sendmmsg(sock(AF_INET, SOCK_DGRAM), v, 2, 0)));
	lens(v, 2);
	received(a);
	received(b);
}
/* A short send on a stream ends the batch: 2000 bytes of room for the
   first message's 60000. */
CASE(mmsg_stream_short) {
	int sv[2];
	char room[2000];
	full(SOCK_STREAM, sv);
	if (recv(sv[1], room, sizeof room, MSG_DONTWAIT) != sizeof room)
		die("recv");
	struct iovec iov[2] = {{payload, 60000}, {payload, 1}};
	struct mmsghdr v[2] = {{.msg_hdr = {.msg_iov = &iov[0], .msg_iovlen = 1}, .msg_len = UNTOUCHED}, {.msg_hdr = {.msg_iov = &iov[1], .msg_iovlen = 1}, .msg_len = UNTOUCHED}};
	step(n(sendmmsg(sv[0], v, 2, MSG_DONTWAIT)));
	lens(v, 2);
}
/* The same with the first message's payload faulting half-way. */
CASE(mmsg_stream_fault) {
	int s, c = tcppair(&s);
	static char big[1 << 18];
	struct iovec iov[3] = {{big, sizeof big}, {unmapped(), 100}, {payload, 1}};
	struct mmsghdr v[2] = {{.msg_hdr = {.msg_iov = iov, .msg_iovlen = 2}, .msg_len = UNTOUCHED}, {.msg_hdr = {.msg_iov = &iov[2], .msg_iovlen = 1}, .msg_len = UNTOUCHED}};
	step(n(sendmmsg(c, v, 2, 0)));
	lens(v, 2);
}
CASE(mmsg_unix_dgram_paths) {
	struct sockaddr_un su = upath("sock");
	int r = dgramsock();
	struct mmsghdr v[2];
	struct iovec iov[2];
	vec(v, iov, 2, &su, sizeof su);
	step(n(sendmmsg(sock(AF_UNIX, SOCK_DGRAM), v, 2, 0)));
	lens(v, 2);
	received(r);
}
CASE(mmsg_scm_rights) {
	int sv[2], fd = afile();
	pair(SOCK_DGRAM, sv);
	union cmsgbuf b;
	struct mmsghdr v[1];
	struct iovec iov[1];
	vec(v, iov, 1, NULL, 0);
	v[0].msg_hdr.msg_control = &b;
	v[0].msg_hdr.msg_controllen = cmsg1(&b, SOL_SOCKET, SCM_RIGHTS, &fd, sizeof fd);
	step(n(sendmmsg(sv[0], v, 1, 0)));
	step(gotfds(sv[1], fd));
}

/* --- the cases ------------------------------------------------------------------------------------ */

static const struct kase cases[] = {
    /* the fd, and the order of the checks */
    {.name = "fd.closed", .fn = fd_closed},
    {.name = "fd.minus_one_sendmsg", .fn = fd_minus_one_sendmsg},
    {.name = "fd.o_path", .fn = fd_o_path},
    {.name = "fd.o_path_socket_sendmsg", .fn = fd_o_path_socket_sendmsg},
    {.name = "fd.pipe", .fn = fd_pipe},
    {.name = "fd.file_sendmsg", .fn = fd_file_sendmsg},
    {.name = "fd.closed_sendmmsg", .fn = fd_closed_sendmmsg},
    {.name = "order.closed_fd_kernel_buf", .fn = order_closed_fd_kernel_buf},
    {.name = "order.closed_fd_unmapped_buf", .fn = order_closed_fd_unmapped_buf},
    {.name = "order.closed_fd_null_msg", .fn = order_closed_fd_null_msg},
    {.name = "order.closed_fd_cmsg_compat", .fn = order_closed_fd_cmsg_compat},
    {.name = "order.sendmmsg_cmsg_compat", .fn = order_sendmmsg_cmsg_compat},
    {.name = "order.pipe_bad_addrlen", .fn = order_pipe_bad_addrlen},
    {.name = "fd.high_bits_sendmmsg", .fn = fd_high_bits_sendmmsg},
    {.name = "fd.high_bits_sendto", .fn = fd_high_bits_sendto},
    {.name = "fd.high_bits_sendmsg", .fn = fd_high_bits_sendmsg},
    /* sendto's address and buffer; datagrams to a UDP receiver */
    {.name = "sendto.addrlen_minus_one", .fn = sendto_addrlen_minus_one},
    {.name = "sendto.addrlen_129", .fn = sendto_addrlen_129},
    {.name = "sendto.addrlen_128", .fn = sendto_addrlen_128},
    {.name = "sendto.addrlen0_udp", .fn = sendto_addrlen0_udp},
    {.name = "sendto.bad_buf", .fn = sendto_bad_buf},
    {.name = "sendto.kernel_buf", .fn = sendto_kernel_buf},
    {.name = "sendto.null_buf_len0", .fn = sendto_null_buf_len0},
    {.name = "sendto.cmsg_compat", .fn = sendto_cmsg_compat},
    {.name = "sendto.bad_addr", .fn = sendto_bad_addr},
    {.name = "sendto.kernel_addr", .fn = sendto_kernel_addr},
    /* sendmsg's header, name, iovecs and control buffer */
    {.name = "msg.null", .fn = msg_null},
    {.name = "msg.straddles_prot_none", .fn = msg_straddles_prot_none},
    {.name = "msg.bad_name", .fn = msg_bad_name},
    {.name = "msg.null_name_negative_len", .fn = msg_null_name_negative_len},
    {.name = "msg.namelen_negative", .fn = msg_namelen_negative},
    {.name = "msg.namelen_200", .fn = msg_namelen_200},
    {.name = "msg.namelen0", .fn = msg_namelen0},
    {.name = "msg.bad_iov_array", .fn = msg_bad_iov_array},
    {.name = "msg.iovlen_1025", .fn = msg_iovlen_1025},
    {.name = "msg.iovlen_1024", .fn = msg_iovlen_1024},
    {.name = "msg.iov_len_negative", .fn = msg_iov_len_negative},
    {.name = "msg.bad_iov_base", .fn = msg_bad_iov_base},
    {.name = "msg.kernel_iov_base_len0", .fn = msg_kernel_iov_base_len0},
    {.name = "msg.null_iov_base_len0", .fn = msg_null_iov_base_len0},
    {.name = "msg.iov_straddles_prot_none", .fn = msg_iov_straddles_prot_none},
    {.name = "sendto.buf_straddles_prot_none", .fn = sendto_buf_straddles_prot_none},
    {.name = "msg.bad_control", .fn = msg_bad_control},
    {.name = "msg.bad_control_huge", .fn = msg_bad_control_huge},
    {.name = "msg.control_huge", .fn = msg_control_huge},
    {.name = "msg.controllen_over_int_max", .fn = msg_controllen_over_int_max},
    {.name = "msg.control_short", .fn = msg_control_short},
    {.name = "msg.flags_ignored", .fn = msg_flags_ignored},
    /* UDP over IPv4 */
    {.name = "udp4.loopback", .fn = udp4_loopback},
    {.name = "udp4.len15", .fn = udp4_len15},
    {.name = "udp4.family_inet6", .fn = udp4_family_inet6},
    {.name = "udp4.unspec_sends", .fn = udp4_unspec_sends},
    {.name = "udp4.unspec_len2", .fn = udp4_unspec_len2},
    {.name = "udp4.any_addr", .fn = udp4_any_addr},
    {.name = "udp4.other_loopback", .fn = udp4_other_loopback},
    {.name = "udp4.port0", .fn = udp4_port0},
    {.name = "udp4.port0_emsgsize", .fn = udp4_port0_emsgsize},
    {.name = "udp4.edestaddrreq", .fn = udp4_edestaddrreq},
    {.name = "udp4.max_payload", .fn = udp4_max_payload},
    {.name = "udp4.emsgsize_65508", .fn = udp4_emsgsize_65508},
    {.name = "udp4.emsgsize_70000", .fn = udp4_emsgsize_70000},
    {.name = "udp4.emsgsize_before_name", .fn = udp4_emsgsize_before_name},
    {.name = "udp4.oob", .fn = udp4_oob},
    {.name = "udp4.oob_before_name", .fn = udp4_oob_before_name},
    {.name = "udp4.broadcast", .fn = udp4_broadcast},
    {.name = "udp4.dontwait", .fn = udp4_dontwait},
    {.name = "udp4.scm_rights", .fn = udp4_scm_rights},
    {.name = "udp4.cmsg_len_short", .fn = udp4_cmsg_len_short},
    {.name = "udp4.ip_ttl", .fn = udp4_ip_ttl},
    {.name = "udp4.ip_ttl_invalid", .fn = udp4_ip_ttl_invalid},
    /* UDP over IPv6 */
    {.name = "udp6.loopback", .fn = udp6_loopback},
    {.name = "udp6.len24", .fn = udp6_len24},
    {.name = "udp6.len23", .fn = udp6_len23},
    {.name = "udp6.family_unix", .fn = udp6_family_unix},
    {.name = "udp6.port0", .fn = udp6_port0},
    {.name = "udp6.unspec_unconnected", .fn = udp6_unspec_unconnected},
    {.name = "udp6.unspec_connected", .fn = udp6_unspec_connected},
    {.name = "udp6.family_inet", .fn = udp6_family_inet},
    {.name = "udp6.family_inet_len15", .fn = udp6_family_inet_len15},
    {.name = "udp6.v6only_family_inet", .fn = udp6_v6only_family_inet},
    {.name = "udp6.v4mapped", .fn = udp6_v4mapped},
    {.name = "udp6.v6only_v4mapped", .fn = udp6_v6only_v4mapped},
    {.name = "udp6.any_addr", .fn = udp6_any_addr},
    {.name = "udp6.emsgsize_before_name", .fn = udp6_emsgsize_before_name},
    {.name = "udp6.oob", .fn = udp6_oob},
    {.name = "udp6.oob_before_name", .fn = udp6_oob_before_name},
    {.name = "udp6.port0_emsgsize", .fn = udp6_port0_emsgsize},
    {.name = "udp6.emsgsize_70000", .fn = udp6_emsgsize_70000},
    {.name = "udp6.v4mapped_emsgsize", .fn = udp6_v4mapped_emsgsize},
    {.name = "udp4.connected_other_name", .fn = udp4_connected_other_name},
    {.name = "udp4.econnrefused", .fn = udp4_econnrefused},
    {.name = "udp4.unconnected_closed_port", .fn = udp4_unconnected_closed_port},
    /* control messages that need a capability */
    {.name = "cap.so_mark_nobody", .fn = cap_so_mark_nobody},
    {.name = "cap.so_mark_tcp_nobody", .fn = cap_so_mark_tcp_nobody},
    {.name = "cap.so_priority_nobody", .fn = cap_so_priority_nobody},
    {.name = "cap.so_priority_low_nobody", .fn = cap_so_priority_low_nobody},
    {.name = "cap.hopopts_nobody", .fn = cap_hopopts_nobody},
    /* TCP, and TCP Fast Open */
    {.name = "tcp.name_ignored", .fn = tcp_name_ignored},
    {.name = "tcp.sendmsg_connected", .fn = tcp_sendmsg_connected},
    {.name = "tcp.oob", .fn = tcp_oob},
    {.name = "tcp.unconnected_name", .fn = tcp_unconnected_name},
    {.name = "tcp.epipe_sigpipe", .fn = tcp_epipe_sigpipe},
    {.name = "tcp.epipe_nosignal", .fn = tcp_epipe_nosignal},
    {.name = "tcp.epipe_default", .fn = tcp_epipe_default},
    {.name = "tcp.econnreset", .fn = tcp_econnreset},
    {.name = "tcp.fastopen", .fn = tcp_fastopen},
    {.name = "tcp.fastopen_sendmsg", .fn = tcp_fastopen_sendmsg},
    {.name = "tcp.fastopen_v6", .fn = tcp_fastopen_v6},
    {.name = "tcp.fastopen_unspec", .fn = tcp_fastopen_unspec},
    {.name = "tcp.fastopen_connected", .fn = tcp_fastopen_connected},
    {.name = "tcp.fastopen_closed_port", .fn = tcp_fastopen_closed_port},
    {.name = "tcp.fastopen_family_inet6", .fn = tcp_fastopen_family_inet6},
    {.name = "tcp.fastopen_len8", .fn = tcp_fastopen_len8},
    {.name = "tcp.fastopen_no_name", .fn = tcp_fastopen_no_name},
    {.name = "tcp.fault_small", .fn = tcp_fault_small},
    {.name = "tcp.fault_big", .fn = tcp_fault_big},
    {.name = "tcp.fault_kernel", .fn = tcp_fault_kernel},
    /* unix sockets */
    {.name = "unix.stream_fault_small", .fn = unix_stream_fault_small},
    {.name = "unix.stream_fault_big", .fn = unix_stream_fault_big},
    {.name = "tcp.sendto_straddles_prot_none", .fn = tcp_sendto_straddles_prot_none},
    {.name = "unix.dgram_path", .fn = unix_dgram_path},
    {.name = "unix.dgram_path_sendto", .fn = unix_dgram_path_sendto},
    {.name = "unix.dgram_missing", .fn = unix_dgram_missing},
    {.name = "unix.dgram_regular_file", .fn = unix_dgram_regular_file},
    {.name = "unix.dgram_closed_socket", .fn = unix_dgram_closed_socket},
    {.name = "unix.dgram_to_stream", .fn = unix_dgram_to_stream},
    {.name = "unix.dgram_eperm", .fn = unix_dgram_eperm},
    {.name = "unix.dgram_symlink", .fn = unix_dgram_symlink},
    {.name = "unix.dgram_relative", .fn = unix_dgram_relative},
    {.name = "unix.dgram_len2", .fn = unix_dgram_len2},
    {.name = "unix.dgram_family_inet", .fn = unix_dgram_family_inet},
    {.name = "unix.dgram_oob", .fn = unix_dgram_oob},
    {.name = "unix.dgram_emsgsize", .fn = unix_dgram_emsgsize},
    {.name = "unix.dgram_emsgsize_before_lookup", .fn = unix_dgram_emsgsize_before_lookup},
    {.name = "unix.dgram_efault_before_lookup", .fn = unix_dgram_efault_before_lookup},
    {.name = "unix.dgram_kernel_buf", .fn = unix_dgram_kernel_buf},
    {.name = "unix.abstract", .fn = unix_abstract},
    {.name = "unix.abstract_missing", .fn = unix_abstract_missing},
    {.name = "unix.dgram_addrlen0_connected", .fn = unix_dgram_addrlen0_connected},
    {.name = "unix.dgram_no_name_unconnected", .fn = unix_dgram_no_name_unconnected},
    {.name = "unix.dgram_connected_other_name", .fn = unix_dgram_connected_other_name},
    {.name = "unix.stream_eisconn", .fn = unix_stream_eisconn},
    {.name = "unix.stream_unconnected_name", .fn = unix_stream_unconnected_name},
    {.name = "unix.stream_unconnected", .fn = unix_stream_unconnected},
    {.name = "unix.seqpacket_name_ignored", .fn = unix_seqpacket_name_ignored},
    {.name = "unix.stream_epipe", .fn = unix_stream_epipe},
    {.name = "unix.dgram_eacces_dir_nobody", .fn = unix_dgram_eacces_dir_nobody},
    {.name = "unix.dgram_eacces_socket_nobody", .fn = unix_dgram_eacces_socket_nobody},
    {.name = "unix.dgram_writable_nobody", .fn = unix_dgram_writable_nobody},
    {.name = "unix.dgram_no_write_bit_root", .fn = unix_dgram_no_write_bit_root},
    {.name = "unix.dgram_eagain", .fn = unix_dgram_eagain},
    {.name = "unix.stream_eagain", .fn = unix_stream_eagain},
    {.name = "unix.stream_nonblocking", .fn = unix_stream_nonblocking},
    {.name = "unix.stream_sndtimeo", .fn = unix_stream_sndtimeo},
    {.name = "unix.dgram_sndtimeo", .fn = unix_dgram_sndtimeo},
    {.name = "unix.stream_eintr", .fn = unix_stream_eintr},
    {.name = "unix.dgram_eintr", .fn = unix_dgram_eintr},
    {.name = "unix.stream_restart", .fn = unix_stream_restart},
    {.name = "unix.stream_sndtimeo_restart", .fn = unix_stream_sndtimeo_restart},
    /* SCM_RIGHTS */
    {.name = "scm.rights", .fn = scm_rights},
    {.name = "scm.rights_stream", .fn = scm_rights_stream},
    {.name = "scm.rights_closed", .fn = scm_rights_closed},
    {.name = "scm.rights_minus_one", .fn = scm_rights_minus_one},
    {.name = "scm.rights_o_path", .fn = scm_rights_o_path},
    {.name = "scm.rights_two", .fn = scm_rights_two},
    {.name = "scm.rights_254", .fn = scm_rights_254},
    {.name = "scm.rights_254_closed", .fn = scm_rights_254_closed},
    {.name = "scm.rights_253", .fn = scm_rights_253},
    {.name = "scm.rights_itself", .fn = scm_rights_itself},
    {.name = "scm.rights_to_path", .fn = scm_rights_to_path},
    {.name = "scm.rights_closed_bad_name", .fn = scm_rights_closed_bad_name},
    {.name = "scm.rights_closed_missing_path", .fn = scm_rights_closed_missing_path},
    {.name = "scm.rights_to_path_nobody", .fn = scm_rights_to_path_nobody},
    {.name = "scm.cmsg_len_short", .fn = scm_cmsg_len_short},
    {.name = "scm.cmsg_len_too_long", .fn = scm_cmsg_len_too_long},
    {.name = "scm.unknown_type", .fn = scm_unknown_type},
    {.name = "scm.other_level", .fn = scm_other_level},
    /* SCM_CREDENTIALS */
    {.name = "creds.own", .fn = creds_own},
    {.name = "creds.implicit", .fn = creds_implicit},
    {.name = "creds.own_nobody", .fn = creds_own_nobody},
    {.name = "creds.implicit_nobody", .fn = creds_implicit_nobody},
    {.name = "creds.forged_pid_nobody", .fn = creds_forged_pid_nobody},
    {.name = "creds.forged_uid_nobody", .fn = creds_forged_uid_nobody},
    {.name = "creds.forged_gid_nobody", .fn = creds_forged_gid_nobody},
    {.name = "creds.forged_uid_root", .fn = creds_forged_uid_root},
    {.name = "creds.forged_gid_root", .fn = creds_forged_gid_root},
    {.name = "creds.invalid_uid", .fn = creds_invalid_uid},
    {.name = "creds.invalid_uid_nobody", .fn = creds_invalid_uid_nobody},
    {.name = "creds.no_such_pid_nobody", .fn = creds_no_such_pid_nobody},
    {.name = "creds.implicit_stream_nobody", .fn = creds_implicit_stream_nobody},
    {.name = "creds.own_stream_nobody", .fn = creds_own_stream_nobody},
    {.name = "creds.implicit_path_nobody", .fn = creds_implicit_path_nobody},
    {.name = "creds.own_path_nobody", .fn = creds_own_path_nobody},
    {.name = "creds.forged_uid_path_nobody", .fn = creds_forged_uid_path_nobody},
    {.name = "creds.bad_len", .fn = creds_bad_len},
    /* sendmmsg */
    {.name = "mmsg.vlen0", .fn = mmsg_vlen0},
    {.name = "mmsg.vlen0_null", .fn = mmsg_vlen0_null},
    {.name = "mmsg.null_vec", .fn = mmsg_null_vec},
    {.name = "mmsg.three", .fn = mmsg_three},
    {.name = "mmsg.second_bad", .fn = mmsg_second_bad},
    {.name = "mmsg.second_refused", .fn = mmsg_second_refused},
    {.name = "mmsg.first_bad", .fn = mmsg_first_bad},
    {.name = "mmsg.first_einval", .fn = mmsg_first_einval},
    {.name = "mmsg.vlen_1025", .fn = mmsg_vlen_1025},
    {.name = "mmsg.msg_len_readonly", .fn = mmsg_msg_len_readonly},
    {.name = "mmsg.second_msg_len_readonly", .fn = mmsg_second_msg_len_readonly},
    {.name = "mmsg.two_destinations", .fn = mmsg_two_destinations},
    {.name = "mmsg.stream_short", .fn = mmsg_stream_short},
    {.name = "mmsg.stream_fault", .fn = mmsg_stream_fault},
    {.name = "mmsg.unix_dgram_paths", .fn = mmsg_unix_dgram_paths},
    {.name = "mmsg.scm_rights", .fn = mmsg_scm_rights},
};

int main(int argc, char **argv) {
	memset(payload, 'p', sizeof payload);
	return conformance_main("send", argc, argv, cases, sizeof cases / sizeof cases[0], NULL);
}
