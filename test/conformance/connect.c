/*
 * connect: the connect(2) conformance program.
 *
 * Every case sets up its own sockets (TCP listeners on 127.0.0.1 / ::1 on
 * ephemeral ports, unix sockets under a temporary directory, abstract
 * names), makes one or a few connects, and prints one line:
 *
 *     case-name: RESULT
 *
 * RESULT is "ok" (connect returned 0) or the errno's name (EINVAL, ...), or
 * for a case of several steps a comma-separated sequence of them, e.g.
 * "EINPROGRESS,ok,EISCONN"; a few steps say what they are
 * ("getpeername=ENOTCONN", "peer=127.0.0.1", "handler=1"). No port, fd,
 * pid or time is ever printed, so the output is the same from run to run,
 * and a native run can be compared line by line with a run under the
 * sandbox (bin/sandbox run --net host --policy FILE -- connect).
 *
 * Build and run (as root: some cases drop to uid/gid 65534 in a child, and
 * raw and packet sockets need CAP_NET_RAW), in a network namespace of its
 * own that has nothing but lo:
 *
 *     gcc -O2 -Wall -Wextra -o /tmp/connect test/conformance/connect.c -lpthread
 *     unshare --net sh -c 'ip link set lo up && exec /tmp/connect'
 *     /tmp/connect --list         # the case names, one a line
 *     /tmp/connect CASE...        # only these cases (e.g. tcp4.closed_port)
 *
 * Destinations: only 127.0.0.0/8, ::1, unix sockets and a netlink socket to
 * the kernel, except for the cases flagged NONLOCAL (198.18.0.1 and
 * ::ffff:198.18.0.1 to meet ENETUNREACH, 255.255.255.255, fe80::1, ff02::1).
 * Those run only when the namespace has no IPv4 route covering 198.18.0.1
 * (read from /proc/net/route: true in a fresh namespace with only lo, false
 * on a host with a default route); otherwise they print "skipped" and
 * nothing is sent. Set CONNECT_NETNS_CHECKED=1 to run them anyway, only when
 * every route of the namespace provably ends in a namespace without one.
 * None of them could send a packet in such a namespace: a TCP SYN needs a
 * route, a UDP connect sends nothing, and the IPv6 ones are refused before
 * routing. 255.255.255.255 gives ENETUNREACH with only lo, EACCES where a
 * route for it exists (127.255.255.255, lo's broadcast address, gives
 * EACCES everywhere: udp4.broadcast).
 *
 * Each case runs in a child process of its own (so fds, signal handlers,
 * cwd and uid cannot leak into the next case) with a 2 s limit: a case that
 * hangs is killed and prints "TIMEOUT". The whole run takes about 2.5 s
 * (tcp4.restart alone waits 1 s for the SYN's retransmission). Named cases
 * run in the table's order, whatever the order of the arguments.
 * Exit status: 0 when every case ran to its end, 1 when one timed out,
 * crashed or could not set itself up (the line then says so, and stderr
 * why), 2 on a usage error.
 */
#include "conformance.h"

/* try connects FD and says how it went; tryclose closes FD afterwards. */
static const char *try(int fd, const void *addr, socklen_t len) { return res(connect(fd, addr, len)); }
static const char *tryclose(int fd, const void *addr, socklen_t len) {
	const char *r = try(fd, addr, len);
	close(fd);
	return r;
}

/* fresh connects a new socket of FAMILY/TYPE once and closes it. */
static const char *fresh(int family, int type, const void *addr, socklen_t len) {
	return tryclose(sock(family, type), addr, len);
}

/* peer says whom FD is connected to, without the port. */
static const char *peer(int fd) {
	static char buf[INET6_ADDRSTRLEN + 8];
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getpeername(fd, (void *)&ss, &len))
		return ename(errno);
	const void *a = ss.ss_family == AF_INET ? (void *)&((struct sockaddr_in *)&ss)->sin_addr : (void *)&((struct sockaddr_in6 *)&ss)->sin6_addr;
	if (!inet_ntop(ss.ss_family, a, buf, sizeof buf))
		return "?";
	return buf;
}

/* fulltcp4 makes a 127.0.0.1 listener with backlog 0 whose accept queue
   holds one connection (*queued, the client end): from then on it drops
   every SYN, so a connect to *sa stays in SYN_SENT, retransmitting after
   1 s. Returns the listener. */
static int fulltcp4(struct sockaddr_in *sa, int *queued) {
	int port, l = listen4("127.0.0.1", 0, &port);
	*sa = in4("127.0.0.1", port);
	*queued = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	connect(*queued, (void *)sa, sizeof *sa);
	struct pollfd p = {.fd = l, .events = POLLIN}; /* readable: the queue holds one */
	if (poll(&p, 1, 1000) != 1)
		die("fulltcp4: the handshake did not complete");
	return l;
}

/* fullunix does the same for a unix stream listener at *su. */
static int fullunix(struct sockaddr_un *su, int *queued) {
	*su = upath("full");
	int l = unixbound(SOCK_STREAM, su, sizeof *su, 0);
	*queued = sock(AF_UNIX, SOCK_STREAM);
	if (connect(*queued, (void *)su, sizeof *su))
		die("fullunix");
	return l;
}

/* --- the interrupted connects ------------------------------------------------ */

/* acceptor accepts one connection on the listener *arg: run by
   afterhandler, so that a connect blocked on the full listener, and
   restarted after the handler, can complete. */
static void *acceptor(void *arg) {
	int c = accept(*(int *)arg, NULL, NULL);
	return (void *)(intptr_t)c;
}

static struct later accepting;
static pthread_t startacceptor(int *l) {
	accepting = (struct later){.fn = acceptor, .arg = l};
	return afterhandler(&accepting);
}

static void joinacceptor(pthread_t t) {
	intptr_t c = (intptr_t)joinhandler(t);
	if (c >= 0)
		close((int)c);
}

/* --- another user --------------------------------------------------------- */

/* connectas connects a new unix stream socket to the address *arg. */
static const char *connectas(const void *arg) {
	const struct sockaddr_un *su = arg;
	return fresh(AF_UNIX, SOCK_STREAM, su, sizeof *su);
}


/* --- fd: EBADF, ENOTSOCK, and the upper half of the register ---------------- */

CASE(fd_minus_one) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(try(-1, &sa, sizeof sa));
}
CASE(fd_int_min) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(try(INT32_MIN, &sa, sizeof sa));
}
CASE(fd_closed) {
	int fd = sock(AF_INET, SOCK_STREAM);
	close(fd);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(try(fd, &sa, sizeof sa));
}
CASE(fd_o_path_file) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(tryclose(opathfile("file"), &sa, sizeof sa));
}
/* The fd comes first: an O_PATH one with an unreadable address, or one
   of a bad length, is EBADF. */
CASE(fd_o_path_bad_addr) { step(tryclose(opathfile("file"), unmapped(), 16)); }
CASE(fd_o_path_bad_len) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(tryclose(opathfile("file"), &sa, 200));
}
/* An O_PATH fd on a listening socket's inode is not that socket. */
CASE(fd_o_path_socket) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	int fd = open(su.sun_path, O_PATH);
	if (fd < 0)
		die("open O_PATH");
	step(tryclose(fd, &su, sizeof su));
	close(l);
}
CASE(fd_pipe) {
	int p[2];
	if (pipe(p))
		die("pipe");
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(try(p[0], &sa, sizeof sa));
	close(p[0]), close(p[1]);
}
CASE(fd_regular_file) {
	struct sockaddr_un f = upath("file");
	int fd = open(f.sun_path, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		die("open");
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(tryclose(fd, &sa, sizeof sa));
}
/* connect's fd and length are ints: the kernel ignores the upper 32 bits
   of their registers, a seccomp filter sees all 64. */
static long rawconnect(int fd, const void *addr, socklen_t len, int high) {
#if __SIZEOF_LONG__ == 8
	long h = high ? 1L << 32 : 0;
	return syscall(SYS_connect, (long)(unsigned)fd | h, addr, (long)len | h);
#else
	(void)high;
	return syscall(SYS_connect, fd, addr, len);
#endif
}
CASE(fd_high_bits) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(res(rawconnect(fd, &sa, sizeof sa, 1)));
	stepf("peer=%s", peer(fd));
	close(fd), close(l);
}

/* --- the order of the checks: fd, then the address's copy, then the socket -- */

CASE(order_closed_fd_null_addr) { step(res(connect(1000, NULL, 16))); }
CASE(order_closed_fd_bad_len) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(try(1000, &sa, 129));
}
CASE(order_pipe_null_addr) {
	int p[2];
	if (pipe(p))
		die("pipe");
	step(res(connect(p[0], NULL, 16)));
	close(p[0]), close(p[1]);
}
CASE(order_pipe_bad_len) {
	int p[2];
	if (pipe(p))
		die("pipe");
	char buf[256] = {0};
	step(try(p[0], buf, 129));
	close(p[0]), close(p[1]);
}

/* --- addr: EFAULT ------------------------------------------------------------ */

CASE(addr_null_len16) { step(tryclose(sock(AF_INET, SOCK_STREAM), NULL, 16)); }
/* A length of 0 reads nothing: the family check fails instead. */
CASE(addr_null_len0) { step(tryclose(sock(AF_INET, SOCK_STREAM), NULL, 0)); }
CASE(addr_unmapped) { step(tryclose(sock(AF_INET, SOCK_STREAM), unmapped(), 16)); }
/* The first 8 bytes readable, the other 8 in a PROT_NONE page. */
CASE(addr_straddles_prot_none) {
	char *p = guarded(8);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	memcpy(p, &sa, 8);
	step(tryclose(sock(AF_INET, SOCK_STREAM), p, sizeof sa));
}
CASE(addr_kernel_pointer) {
	step(tryclose(sock(AF_INET, SOCK_STREAM), (void *)(uintptr_t)(~(uintptr_t)0 << 31), 16));
}
CASE(addr_len_high_bits) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(res(rawconnect(fd, &sa, sizeof sa, 1)));
	close(fd), close(l);
}

/* --- len: the generic bounds (0 .. sizeof(struct sockaddr_storage)) ------------ */

CASE(len_minus_one) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(tryclose(sock(AF_INET, SOCK_STREAM), &sa, (socklen_t)-1));
}
CASE(len_129) {
	char buf[256] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	memcpy(buf, &sa, sizeof sa);
	step(tryclose(sock(AF_INET, SOCK_STREAM), buf, 129));
}
CASE(len_128_inet) {
	int port, l = listen4("127.0.0.1", 16, &port);
	char buf[128] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", port);
	memcpy(buf, &sa, sizeof sa);
	step(fresh(AF_INET, SOCK_STREAM, buf, 128));
	close(l);
}

/* --- tcp4 ------------------------------------------------------------------- */

static void tcp4len(socklen_t len) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(fresh(AF_INET, SOCK_STREAM, &sa, len));
}
CASE(tcp4_len0) { tcp4len(0); }
CASE(tcp4_len1) { tcp4len(1); }
CASE(tcp4_len15) { tcp4len(15); }
CASE(tcp4_family_inet6) {
	struct sockaddr_in6 sa = in6("::1", 9);
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp4_family_unix) {
	char buf[16] = {0};
	((struct sockaddr *)buf)->sa_family = AF_UNIX;
	buf[2] = '/';
	step(fresh(AF_INET, SOCK_STREAM, buf, sizeof buf));
}
/* AF_UNSPEC on an unconnected TCP socket: a disconnect that has nothing to do. */
CASE(tcp4_family_unspec) {
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	step(fresh(AF_INET, SOCK_STREAM, &unspec, sizeof unspec));
}
CASE(tcp4_loopback) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
	close(l);
}
CASE(tcp4_other_loopback) {
	int port, l = listen4("127.0.0.2", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.2", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd), close(l);
}
/* 0.0.0.0 means this host: the connect reaches the 127.0.0.1 listener. */
CASE(tcp4_any_addr) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("0.0.0.0", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd), close(l);
}
CASE(tcp4_sin_zero_garbage) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	memset(sa.sin_zero, 0xAB, sizeof sa.sin_zero);
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
	close(l);
}
CASE(tcp4_closed_port) {
	struct sockaddr_in sa = in4("127.0.0.1", closedport(AF_INET));
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp4_port0) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
}
/* A broadcast destination is no place for a TCP connection. */
CASE(tcp4_broadcast) {
	struct sockaddr_in sa = in4("127.255.255.255", 9);
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp4_on_listener) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	step(try(l, &sa, sizeof sa));
	close(l);
}
CASE(tcp4_eisconn) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &sa, sizeof sa));
	close(fd), close(l);
}
/* On a connected socket the state is checked before the address. */
CASE(tcp4_eisconn_bad_family) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	struct sockaddr_in6 bad = in6("::1", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &bad, sizeof bad));
	close(fd), close(l);
}
CASE(tcp4_eisconn_bad_len) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &sa, 15));
	close(fd), close(l);
}
/* AF_UNSPEC on a connected TCP socket disconnects it (with a RST). */
CASE(tcp4_unspec_connected) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	int fd = sock(AF_INET, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &unspec, sizeof unspec));
	stepf("getpeername=%s", peer(fd));
	close(fd), close(l);
}
/* Non-blocking: EINPROGRESS (the SYN-ACK is processed only once connect
   releases the socket), then, once writable, 0, then EISCONN. */
CASE(tcp4_nonblocking) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int fd = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	step(try(fd, &sa, sizeof sa));
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	poll(&p, 1, 1000);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &sa, sizeof sa));
	close(fd), close(l);
}
/* Non-blocking to a closed port: EINPROGRESS, then the RST's error. */
CASE(tcp4_nonblocking_refused) {
	struct sockaddr_in sa = in4("127.0.0.1", closedport(AF_INET));
	int fd = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	step(try(fd, &sa, sizeof sa));
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	poll(&p, 1, 1000);
	step(try(fd, &sa, sizeof sa));
	close(fd);
}
/* The listener drops the SYN: the second connect finds one in progress. */
CASE(tcp4_ealready) {
	struct sockaddr_in sa;
	int q, l = fulltcp4(&sa, &q);
	int fd = sock(AF_INET, SOCK_STREAM | SOCK_NONBLOCK);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &sa, sizeof sa));
	close(fd), close(q), close(l);
}
/* A blocking connect whose SO_SNDTIMEO runs out gives up with EINPROGRESS. */
CASE(tcp4_sndtimeo) {
	struct sockaddr_in sa;
	int q, l = fulltcp4(&sa, &q);
	int fd = sock(AF_INET, SOCK_STREAM);
	struct timeval tv = {.tv_usec = 100000};
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv))
		die("SO_SNDTIMEO");
	step(tryclose(fd, &sa, sizeof sa));
	close(q), close(l);
}
/* TCP_USER_TIMEOUT clamps the SYN's retransmission timer: ETIMEDOUT. */
CASE(tcp4_user_timeout) {
	struct sockaddr_in sa;
	int q, l = fulltcp4(&sa, &q);
	int fd = sock(AF_INET, SOCK_STREAM);
	setint(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, 200);
	step(tryclose(fd, &sa, sizeof sa));
	close(q), close(l);
}
/* Two sockets bound to the same 127.0.0.1:port (SO_REUSEADDR) connecting
   to the same listener: the second 4-tuple is taken. */
CASE(tcp4_same_4tuple) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in local = in4("127.0.0.1", closedport(AF_INET)), sa = in4("127.0.0.1", port);
	int fd[2];
	for (int i = 0; i < 2; i++) {
		fd[i] = sock(AF_INET, SOCK_STREAM);
		setint(fd[i], SOL_SOCKET, SO_REUSEADDR, 1);
		if (bind(fd[i], (void *)&local, sizeof local))
			die("bind");
		step(try(fd[i], &sa, sizeof sa));
	}
	close(fd[0]), close(fd[1]), close(l);
}
/* 198.18.0.1 has no route in a namespace with only lo: no SYN is sent. */
CASE(tcp4_no_route) {
	struct sockaddr_in sa = in4("198.18.0.1", 9);
	step(fresh(AF_INET, SOCK_STREAM, &sa, sizeof sa));
}
/* A blocking connect to a listener that drops SYNs, interrupted by a
   handler installed without SA_RESTART. */
CASE(tcp4_eintr) {
	struct sockaddr_in sa;
	int q, l = fulltcp4(&sa, &q);
	int fd = sock(AF_INET, SOCK_STREAM);
	alarm100ms(0);
	step(tryclose(fd, &sa, sizeof sa));
	stepf("handler=%d", (int)handled);
	close(q), close(l);
}
/* The same with SA_RESTART: the restarted connect keeps waiting; a thread
   empties the accept queue after the handler ran, and the SYN's
   retransmission (1 s after the first) completes the handshake. */
CASE(tcp4_restart) {
	struct sockaddr_in sa;
	int q, l = fulltcp4(&sa, &q);
	int fd = sock(AF_INET, SOCK_STREAM);
	pthread_t t = startacceptor(&l);
	alarm100ms(SA_RESTART);
	step(tryclose(fd, &sa, sizeof sa));
	stepf("handler=%d", (int)handled);
	joinacceptor(t);
	close(q), close(l);
}

/* --- tcp6 ------------------------------------------------------------------- */

/* tcp6len connects to a ::1 listener giving only LEN bytes of the address
   (24 is RFC 2133's sockaddr_in6, without sin6_scope_id). */
static void tcp6len(socklen_t len) {
	int port, l = listen6(16, &port);
	struct sockaddr_in6 sa = in6("::1", port);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, len));
	close(l);
}
CASE(tcp6_len23) { tcp6len(23); }
CASE(tcp6_len24) { tcp6len(24); }
CASE(tcp6_len25) { tcp6len(25); }
CASE(tcp6_len26) { tcp6len(26); }
CASE(tcp6_len27) { tcp6len(27); }
CASE(tcp6_family_inet_len16) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
	close(l);
}
CASE(tcp6_family_inet_len28) {
	int port, l = listen4("127.0.0.1", 16, &port);
	char buf[28] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", port);
	memcpy(buf, &sa, sizeof sa);
	step(fresh(AF_INET6, SOCK_STREAM, buf, sizeof buf));
	close(l);
}
CASE(tcp6_loopback) {
	int port, l = listen6(16, &port);
	struct sockaddr_in6 sa = in6("::1", port);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
	close(l);
}
/* :: means this host: the connect reaches the ::1 listener. */
CASE(tcp6_any_addr) {
	int port, l = listen6(16, &port);
	struct sockaddr_in6 sa = in6("::", port);
	int fd = sock(AF_INET6, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd), close(l);
}
CASE(tcp6_v4mapped) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in6 sa = in6("::ffff:127.0.0.1", port);
	int fd = sock(AF_INET6, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd), close(l);
}
CASE(tcp6_v4mapped_any) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in6 sa = in6("::ffff:0.0.0.0", port);
	int fd = sock(AF_INET6, SOCK_STREAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd), close(l);
}
/* Flow info and scope id mean nothing for ::1 (sndflow is off). */
CASE(tcp6_flowinfo_scope_garbage) {
	int port, l = listen6(16, &port);
	struct sockaddr_in6 sa = in6("::1", port);
	sa.sin6_flowinfo = htonl(0x000ABCDE);
	sa.sin6_scope_id = 12345;
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
	close(l);
}
CASE(tcp6_closed_port) {
	struct sockaddr_in6 sa = in6("::1", closedport(AF_INET6));
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp6_port0) {
	struct sockaddr_in6 sa = in6("::1", 0);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp6_v6only_v4mapped) {
	int port, l = listen4("127.0.0.1", 16, &port);
	struct sockaddr_in6 sa = in6("::ffff:127.0.0.1", port);
	step(tryclose(v6only(SOCK_STREAM), &sa, sizeof sa));
	close(l);
}
CASE(tcp6_link_local_no_scope) {
	struct sockaddr_in6 sa = in6("fe80::1", 9);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp6_multicast) {
	struct sockaddr_in6 sa = in6("ff02::1", 9);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
}
CASE(tcp6_v4mapped_no_route) {
	struct sockaddr_in6 sa = in6("::ffff:198.18.0.1", 9);
	step(fresh(AF_INET6, SOCK_STREAM, &sa, sizeof sa));
}

/* --- udp4 / udp6 (a UDP connect sends nothing) --------------------------------- */

static void udp4len(socklen_t len) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, len));
}
CASE(udp4_len0) { udp4len(0); }
CASE(udp4_len1) { udp4len(1); }
CASE(udp4_len15) { udp4len(15); }
CASE(udp4_family_inet6) {
	struct sockaddr_in6 sa = in6("::1", 9);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp4_loopback) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp4_port0) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp4_reconnect) {
	struct sockaddr_in a = in4("127.0.0.1", 9), b = in4("127.0.0.2", 9);
	int fd = sock(AF_INET, SOCK_DGRAM);
	step(try(fd, &a, sizeof a));
	step(try(fd, &b, sizeof b));
	stepf("peer=%s", peer(fd));
	close(fd);
}
CASE(udp4_unspec_disconnect) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	int fd = sock(AF_INET, SOCK_DGRAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &unspec, sizeof unspec));
	stepf("getpeername=%s", peer(fd));
	close(fd);
}
/* AF_UNSPEC needs only the family's two bytes. */
CASE(udp4_unspec_len2) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	int fd = sock(AF_INET, SOCK_DGRAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &unspec, 2));
	stepf("getpeername=%s", peer(fd));
	close(fd);
}
CASE(udp4_broadcast) {
	struct sockaddr_in sa = in4("127.255.255.255", 9);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp4_broadcast_so_broadcast) {
	struct sockaddr_in sa = in4("127.255.255.255", 9);
	int fd = sock(AF_INET, SOCK_DGRAM);
	setint(fd, SOL_SOCKET, SO_BROADCAST, 1);
	step(tryclose(fd, &sa, sizeof sa));
}
CASE(udp4_limited_broadcast) {
	struct sockaddr_in sa = in4("255.255.255.255", 9);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp4_no_route) {
	struct sockaddr_in sa = in4("198.18.0.1", 9);
	step(fresh(AF_INET, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp6_len23) {
	struct sockaddr_in6 sa = in6("::1", 9);
	step(fresh(AF_INET6, SOCK_DGRAM, &sa, 23));
}
CASE(udp6_loopback) {
	struct sockaddr_in6 sa = in6("::1", 9);
	step(fresh(AF_INET6, SOCK_DGRAM, &sa, sizeof sa));
}
CASE(udp6_v4mapped) {
	struct sockaddr_in6 sa = in6("::ffff:127.0.0.1", 9);
	int fd = sock(AF_INET6, SOCK_DGRAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd);
}
/* An AF_INET6 UDP socket takes a plain AF_INET address... */
CASE(udp6_family_inet) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	int fd = sock(AF_INET6, SOCK_DGRAM);
	step(try(fd, &sa, sizeof sa));
	stepf("peer=%s", peer(fd));
	close(fd);
}
/* ...unless it is IPv6-only. */
CASE(udp6_v6only_family_inet) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(tryclose(v6only(SOCK_DGRAM), &sa, sizeof sa));
}
CASE(udp6_unspec_disconnect) {
	struct sockaddr_in6 sa = in6("::1", 9);
	struct sockaddr_in6 unspec = {.sin6_family = AF_UNSPEC};
	int fd = sock(AF_INET6, SOCK_DGRAM);
	step(try(fd, &sa, sizeof sa));
	step(try(fd, &unspec, sizeof unspec));
	stepf("getpeername=%s", peer(fd));
	close(fd);
}

/* --- raw, netlink, packet: other families the filter sees -------------------- */

/* privsock is socket(2) for raw, netlink and packet sockets: where it fails
   (raw and packet ones need CAP_NET_RAW) the case says what it gave. */
static int privsock(int family, int type, int proto) {
	int fd = socket(family, type, proto);
	if (fd < 0)
		stepf("socket=%s", ename(errno));
	return fd;
}
CASE(raw4_loopback) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	int fd = privsock(AF_INET, SOCK_RAW, IPPROTO_UDP);
	if (fd >= 0)
		step(tryclose(fd, &sa, sizeof sa));
}
CASE(raw6_loopback) {
	struct sockaddr_in6 sa = in6("::1", 0);
	int fd = privsock(AF_INET6, SOCK_RAW, IPPROTO_UDP);
	if (fd >= 0)
		step(tryclose(fd, &sa, sizeof sa));
}
CASE(netlink_kernel) {
	struct sockaddr_nl nl = {.nl_family = AF_NETLINK};
	int fd = privsock(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE);
	if (fd >= 0)
		step(tryclose(fd, &nl, sizeof nl));
}
/* Packet sockets have no connect at all. */
CASE(packet_connect) {
	struct sockaddr_ll ll = {.sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_IP), .sll_ifindex = 1};
	int fd = privsock(AF_PACKET, SOCK_DGRAM, htons(ETH_P_IP));
	if (fd >= 0)
		step(tryclose(fd, &ll, sizeof ll));
}

/* --- unix: lengths and families ------------------------------------------------ */

static void unixlen(socklen_t len) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, len));
	close(l);
}
CASE(unix_len0) { unixlen(0); }
CASE(unix_len1) { unixlen(1); }
CASE(unix_len2) { unixlen(2); }
CASE(unix_len111) {
	char buf[128] = {0};
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	memcpy(buf, &su, sizeof su);
	step(fresh(AF_UNIX, SOCK_STREAM, buf, 111));
	close(l);
}
CASE(unix_dgram_len1) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_DGRAM, &su, sizeof su, -1);
	step(fresh(AF_UNIX, SOCK_DGRAM, &su, 1));
	close(l);
}
CASE(unix_family_inet) {
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	step(fresh(AF_UNIX, SOCK_STREAM, &sa, sizeof sa));
}
CASE(unix_family_unspec) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	su.sun_family = AF_UNSPEC;
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
	close(l);
}

/* --- unix: connects that succeed --------------------------------------------- */

CASE(unix_stream) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
	close(l);
}
/* The length covers the path but not its NUL. */
CASE(unix_exact_length) {
	struct sockaddr_un su = upath("sock");
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + strlen(su.sun_path);
	int l = unixbound(SOCK_STREAM, &su, len, 16);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, len));
	close(l);
}
/* A path of all 108 bytes of sun_path, with no NUL anywhere. */
CASE(unix_path_108_no_nul) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int n = snprintf(su.sun_path, sizeof su.sun_path, "%s/", casedir);
	memset(su.sun_path + n, 'p', sizeof su.sun_path - n); /* overwrites the NUL */
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
	close(l);
}
CASE(unix_seqpacket) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_SEQPACKET, &su, sizeof su, 16);
	step(fresh(AF_UNIX, SOCK_SEQPACKET, &su, sizeof su));
	close(l);
}
CASE(unix_dgram) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_DGRAM, &su, sizeof su, -1);
	step(fresh(AF_UNIX, SOCK_DGRAM, &su, sizeof su));
	close(l);
}
CASE(unix_dgram_unspec) {
	struct sockaddr_un su = upath("sock");
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	int l = unixbound(SOCK_DGRAM, &su, sizeof su, -1);
	int fd = sock(AF_UNIX, SOCK_DGRAM);
	step(try(fd, &su, sizeof su));
	step(try(fd, &unspec, sizeof unspec));
	close(fd), close(l);
}
/* "sock", relative to the working directory. */
CASE(unix_relative_path) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	if (chdir(casedir))
		die("chdir");
	struct sockaddr_un rel = {.sun_family = AF_UNIX, .sun_path = "sock"};
	step(fresh(AF_UNIX, SOCK_STREAM, &rel, sizeof rel));
	close(l);
}
CASE(unix_symlink) {
	struct sockaddr_un su = upath("sock"), link = upath("link");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	if (symlink(su.sun_path, link.sun_path))
		die("symlink");
	step(fresh(AF_UNIX, SOCK_STREAM, &link, sizeof link));
	close(l);
}
CASE(unix_abstract) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "sock");
	int l = unixbound(SOCK_STREAM, &su, len, 16);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, len));
	close(l);
}
CASE(unix_abstract_dgram) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "dgram");
	int l = unixbound(SOCK_DGRAM, &su, len, -1);
	step(fresh(AF_UNIX, SOCK_DGRAM, &su, len));
	close(l);
}
CASE(unix_eisconn) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(try(fd, &su, sizeof su));
	step(try(fd, &su, sizeof su));
	close(fd), close(l);
}
CASE(unix_on_listener) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	step(try(l, &su, sizeof su));
	close(l);
}

/* --- unix: paths that lead nowhere --------------------------------------------- */

CASE(unix_missing) {
	struct sockaddr_un su = upath("missing");
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
}
CASE(unix_dgram_missing) {
	struct sockaddr_un su = upath("missing");
	step(fresh(AF_UNIX, SOCK_DGRAM, &su, sizeof su));
}
CASE(unix_through_file) {
	struct sockaddr_un f = upath("file"), su = upath("file/sock");
	close(open(f.sun_path, O_CREAT | O_WRONLY, 0600));
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
}
CASE(unix_symlink_dangling) {
	struct sockaddr_un su = upath("missing"), link = upath("link");
	if (symlink(su.sun_path, link.sun_path))
		die("symlink");
	step(fresh(AF_UNIX, SOCK_STREAM, &link, sizeof link));
}
CASE(unix_symlink_loop) {
	struct sockaddr_un a = upath("a"), b = upath("b");
	if (symlink(b.sun_path, a.sun_path) || symlink(a.sun_path, b.sun_path))
		die("symlink");
	step(fresh(AF_UNIX, SOCK_STREAM, &a, sizeof a));
}
CASE(unix_abstract_missing) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "missing");
	step(fresh(AF_UNIX, SOCK_STREAM, &su, len));
}
CASE(unix_not_listening) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, -1);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
	close(l);
}
/* The listener is gone; its file stays. */
CASE(unix_closed_listener) {
	struct sockaddr_un su = upath("sock");
	close(unixbound(SOCK_STREAM, &su, sizeof su, 16));
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
}
CASE(unix_regular_file) {
	struct sockaddr_un su = upath("file");
	close(open(su.sun_path, O_CREAT | O_WRONLY, 0600));
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
}
CASE(unix_directory) {
	struct sockaddr_un su = upath("dir");
	if (mkdir(su.sun_path, 0700))
		die("mkdir");
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
}

/* --- unix: EPROTOTYPE -------------------------------------------------------------- */

static void prototype(int listener, int client) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(listener, &su, sizeof su, listener == SOCK_DGRAM ? -1 : 16);
	step(fresh(AF_UNIX, client, &su, sizeof su));
	close(l);
}
CASE(unix_stream_to_dgram) { prototype(SOCK_DGRAM, SOCK_STREAM); }
CASE(unix_dgram_to_stream) { prototype(SOCK_STREAM, SOCK_DGRAM); }
CASE(unix_seqpacket_to_stream) { prototype(SOCK_STREAM, SOCK_SEQPACKET); }

/* --- unix: a full backlog: EAGAIN, EINTR, restart ----------------------------------- */

/* Backlog 0 holds one connection: the second non-blocking connect meets
   the full queue. */
CASE(unix_eagain) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 0), fd[8], n = 0;
	for (; n < 8; n++) {
		fd[n] = sock(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK);
		int r = connect(fd[n], (void *)&su, sizeof su);
		step(res(r));
		if (r) {
			n++;
			break;
		}
	}
	while (n > 0)
		close(fd[--n]);
	close(l);
}
CASE(unix_eintr) {
	struct sockaddr_un su;
	int q, l = fullunix(&su, &q);
	alarm100ms(0);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
	stepf("handler=%d", (int)handled);
	close(q), close(l);
}
CASE(unix_restart) {
	struct sockaddr_un su;
	int q, l = fullunix(&su, &q);
	pthread_t t = startacceptor(&l);
	alarm100ms(SA_RESTART);
	step(fresh(AF_UNIX, SOCK_STREAM, &su, sizeof su));
	stepf("handler=%d", (int)handled);
	joinacceptor(t);
	close(q), close(l);
}

/* --- unix: permissions (connect needs write permission on the socket file) ----- */

static void permission(mode_t mode, uid_t uid) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	if (chmod(su.sun_path, mode))
		die("chmod");
	step(asuser(uid, connectas, &su));
	close(l);
}
CASE(unix_eacces_nobody) { permission(0644, NOBODY); }
CASE(unix_writable_nobody) { permission(0666, NOBODY); }
CASE(unix_no_write_bit_root) { permission(0444, 0); }
/* The directory on the way is not searchable for nobody. */
CASE(unix_eacces_dir_search) {
	struct sockaddr_un d = upath("private"), su = upath("private/sock");
	if (mkdir(d.sun_path, 0700))
		die("mkdir");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, 16);
	if (chmod(su.sun_path, 0666))
		die("chmod");
	step(asuser(NOBODY, connectas, &su));
	close(l);
}

/* --- the cases ------------------------------------------------------------------ */

#define NONLOCAL 1 /* names an address outside the loopback: see the top */

static const struct kase cases[] = {
    {"fd.minus_one", fd_minus_one, 0},
    {"fd.int_min", fd_int_min, 0},
    {"fd.closed", fd_closed, 0},
    {"fd.o_path_file", fd_o_path_file, 0},
    {"fd.o_path_bad_addr", fd_o_path_bad_addr, 0},
    {"fd.o_path_bad_len", fd_o_path_bad_len, 0},
    {"fd.o_path_socket", fd_o_path_socket, 0},
    {"fd.pipe", fd_pipe, 0},
    {"fd.regular_file", fd_regular_file, 0},
    {"fd.high_bits", fd_high_bits, 0},
    {"order.closed_fd_null_addr", order_closed_fd_null_addr, 0},
    {"order.closed_fd_bad_len", order_closed_fd_bad_len, 0},
    {"order.pipe_null_addr", order_pipe_null_addr, 0},
    {"order.pipe_bad_len", order_pipe_bad_len, 0},
    {"addr.null_len16", addr_null_len16, 0},
    {"addr.null_len0", addr_null_len0, 0},
    {"addr.unmapped", addr_unmapped, 0},
    {"addr.straddles_prot_none", addr_straddles_prot_none, 0},
    {"addr.kernel_pointer", addr_kernel_pointer, 0},
    {"addr.len_high_bits", addr_len_high_bits, 0},
    {"len.minus_one", len_minus_one, 0},
    {"len.129", len_129, 0},
    {"len.128_inet", len_128_inet, 0},
    {"tcp4.len0", tcp4_len0, 0},
    {"tcp4.len1", tcp4_len1, 0},
    {"tcp4.len15", tcp4_len15, 0},
    {"tcp4.family_inet6", tcp4_family_inet6, 0},
    {"tcp4.family_unix", tcp4_family_unix, 0},
    {"tcp4.family_unspec", tcp4_family_unspec, 0},
    {"tcp4.loopback", tcp4_loopback, 0},
    {"tcp4.other_loopback", tcp4_other_loopback, 0},
    {"tcp4.any_addr", tcp4_any_addr, 0},
    {"tcp4.sin_zero_garbage", tcp4_sin_zero_garbage, 0},
    {"tcp4.closed_port", tcp4_closed_port, 0},
    {"tcp4.port0", tcp4_port0, 0},
    {"tcp4.broadcast", tcp4_broadcast, 0},
    {"tcp4.on_listener", tcp4_on_listener, 0},
    {"tcp4.eisconn", tcp4_eisconn, 0},
    {"tcp4.eisconn_bad_family", tcp4_eisconn_bad_family, 0},
    {"tcp4.eisconn_bad_len", tcp4_eisconn_bad_len, 0},
    {"tcp4.unspec_connected", tcp4_unspec_connected, 0},
    {"tcp4.nonblocking", tcp4_nonblocking, 0},
    {"tcp4.nonblocking_refused", tcp4_nonblocking_refused, 0},
    {"tcp4.ealready", tcp4_ealready, 0},
    {"tcp4.sndtimeo", tcp4_sndtimeo, 0},
    {"tcp4.user_timeout", tcp4_user_timeout, 0},
    {"tcp4.same_4tuple", tcp4_same_4tuple, 0},
    {"tcp4.no_route", tcp4_no_route, NONLOCAL},
    {"tcp4.eintr", tcp4_eintr, 0},
    {"tcp4.restart", tcp4_restart, 0},
    {"tcp6.len23", tcp6_len23, 0},
    {"tcp6.len24", tcp6_len24, 0},
    {"tcp6.len25", tcp6_len25, 0},
    {"tcp6.len26", tcp6_len26, 0},
    {"tcp6.len27", tcp6_len27, 0},
    {"tcp6.family_inet_len16", tcp6_family_inet_len16, 0},
    {"tcp6.family_inet_len28", tcp6_family_inet_len28, 0},
    {"tcp6.loopback", tcp6_loopback, 0},
    {"tcp6.any_addr", tcp6_any_addr, 0},
    {"tcp6.v4mapped", tcp6_v4mapped, 0},
    {"tcp6.v4mapped_any", tcp6_v4mapped_any, 0},
    {"tcp6.flowinfo_scope_garbage", tcp6_flowinfo_scope_garbage, 0},
    {"tcp6.closed_port", tcp6_closed_port, 0},
    {"tcp6.port0", tcp6_port0, 0},
    {"tcp6.v6only_v4mapped", tcp6_v6only_v4mapped, 0},
    {"tcp6.link_local_no_scope", tcp6_link_local_no_scope, NONLOCAL},
    {"tcp6.multicast", tcp6_multicast, NONLOCAL},
    {"tcp6.v4mapped_no_route", tcp6_v4mapped_no_route, NONLOCAL},
    {"udp4.len0", udp4_len0, 0},
    {"udp4.len1", udp4_len1, 0},
    {"udp4.len15", udp4_len15, 0},
    {"udp4.family_inet6", udp4_family_inet6, 0},
    {"udp4.loopback", udp4_loopback, 0},
    {"udp4.port0", udp4_port0, 0},
    {"udp4.reconnect", udp4_reconnect, 0},
    {"udp4.unspec_disconnect", udp4_unspec_disconnect, 0},
    {"udp4.unspec_len2", udp4_unspec_len2, 0},
    {"udp4.broadcast", udp4_broadcast, 0},
    {"udp4.broadcast_so_broadcast", udp4_broadcast_so_broadcast, 0},
    {"udp4.limited_broadcast", udp4_limited_broadcast, NONLOCAL},
    {"udp4.no_route", udp4_no_route, NONLOCAL},
    {"udp6.len23", udp6_len23, 0},
    {"udp6.loopback", udp6_loopback, 0},
    {"udp6.v4mapped", udp6_v4mapped, 0},
    {"udp6.family_inet", udp6_family_inet, 0},
    {"udp6.v6only_family_inet", udp6_v6only_family_inet, 0},
    {"udp6.unspec_disconnect", udp6_unspec_disconnect, 0},
    {"raw4.loopback", raw4_loopback, 0},
    {"raw6.loopback", raw6_loopback, 0},
    {"netlink.kernel", netlink_kernel, 0},
    {"packet.connect", packet_connect, 0},
    {"unix.len0", unix_len0, 0},
    {"unix.len1", unix_len1, 0},
    {"unix.len2", unix_len2, 0},
    {"unix.len111", unix_len111, 0},
    {"unix.dgram_len1", unix_dgram_len1, 0},
    {"unix.family_inet", unix_family_inet, 0},
    {"unix.family_unspec", unix_family_unspec, 0},
    {"unix.stream", unix_stream, 0},
    {"unix.exact_length", unix_exact_length, 0},
    {"unix.path_108_no_nul", unix_path_108_no_nul, 0},
    {"unix.seqpacket", unix_seqpacket, 0},
    {"unix.dgram", unix_dgram, 0},
    {"unix.dgram_unspec", unix_dgram_unspec, 0},
    {"unix.relative_path", unix_relative_path, 0},
    {"unix.symlink", unix_symlink, 0},
    {"unix.abstract", unix_abstract, 0},
    {"unix.abstract_dgram", unix_abstract_dgram, 0},
    {"unix.eisconn", unix_eisconn, 0},
    {"unix.on_listener", unix_on_listener, 0},
    {"unix.missing", unix_missing, 0},
    {"unix.dgram_missing", unix_dgram_missing, 0},
    {"unix.through_file", unix_through_file, 0},
    {"unix.symlink_dangling", unix_symlink_dangling, 0},
    {"unix.symlink_loop", unix_symlink_loop, 0},
    {"unix.abstract_missing", unix_abstract_missing, 0},
    {"unix.not_listening", unix_not_listening, 0},
    {"unix.closed_listener", unix_closed_listener, 0},
    {"unix.regular_file", unix_regular_file, 0},
    {"unix.directory", unix_directory, 0},
    {"unix.stream_to_dgram", unix_stream_to_dgram, 0},
    {"unix.dgram_to_stream", unix_dgram_to_stream, 0},
    {"unix.seqpacket_to_stream", unix_seqpacket_to_stream, 0},
    {"unix.eagain", unix_eagain, 0},
    {"unix.eintr", unix_eintr, 0},
    {"unix.restart", unix_restart, 0},
    {"unix.eacces_nobody", unix_eacces_nobody, 0},
    {"unix.writable_nobody", unix_writable_nobody, 0},
    {"unix.no_write_bit_root", unix_no_write_bit_root, 0},
    {"unix.eacces_dir_search", unix_eacces_dir_search, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* --- running them ------------------------------------------------------------- */

/* isolated says whether the namespace has no IPv4 route that covers
   198.18.0.1 (/proc/net/route lists the main table), i.e. whether the
   NONLOCAL cases may run. */
static int isolated(void) {
	const char *env = getenv("CONNECT_NETNS_CHECKED");
	if (env && strcmp(env, "1") == 0)
		return 1;
	FILE *f = fopen("/proc/net/route", "r");
	if (!f)
		return 0;
	uint32_t target = inet_addr("198.18.0.1");
	char line[256];
	int ok = fgets(line, sizeof line, f) != NULL; /* the header */
	while (ok && fgets(line, sizeof line, f)) {
		unsigned dst, flags, mask;
		if (sscanf(line, "%*s %x %*x %x %*d %*d %*d %x", &dst, &flags, &mask) != 3)
			ok = 0; /* unreadable: assume the worst */
		else if ((flags & 1 /* RTF_UP */) && (target & mask) == (dst & mask))
			ok = 0;
	}
	fclose(f);
	return ok;
}

/* skipnonlocal skips the NONLOCAL cases where the namespace is not
   isolated (decided once, before the first case). */
static int skipnonlocal(const struct kase *k) {
	static int nonlocal = -1;
	if (nonlocal < 0)
		nonlocal = isolated();
	return (k->flags & NONLOCAL) && !nonlocal;
}

int main(int argc, char **argv) { return conformance_main("connect", argc, argv, cases, NCASES, skipnonlocal); }
