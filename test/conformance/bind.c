/*
 * bind: the bind(2) and listen(2) conformance program.
 *
 * Every case makes its own sockets, binds and listens — it never connects
 * or sends anywhere — and prints one line:
 *
 *     case-name: RESULT
 *
 * RESULT is "ok" or the errno's name, or for a case of several steps a
 * comma-separated sequence of them ("ok,port!=0,listen=ok"); a few steps
 * say what they are: "local=127.0.0.1" (the address getsockname gives,
 * without the port), "port!=0" (the kernel chose one), "port=named" (the
 * one the case asked for), "mode=0750", "uid=0". No port number, fd, pid,
 * time or temporary name is ever printed, so the output is the same from
 * run to run, and a native run can be compared line by line with a run
 * under the sandbox (bin/sandbox run --net host --policy FILE -- bind).
 *
 * Build and run, as root and as nobody (some cases drop to uid/gid 65534
 * in a child: run as nobody, they stay nobody), in a network namespace of
 * its own:
 *
 *     gcc -O2 -Wall -Wextra -o /tmp/bind test/conformance/bind.c -lpthread
 *     unshare --net sh -c 'ip link set lo up && exec /tmp/bind'
 *     /tmp/bind --list            # the case names, one a line
 *     /tmp/bind CASE...           # only these cases (e.g. tcp4.eaddrinuse)
 *
 * Addresses: 127.0.0.0/8 and ::1; 198.18.0.254 and 2001:2::ff as addresses
 * that are not the host's (EADDRNOTAVAIL, or IP_FREEBIND's way around it:
 * a bind sends nothing, so naming them reaches nobody); and, for the cases
 * flagged LOCALADDR, the non-loopback IPv4 address that BIND_LOCAL4 names,
 * which the namespace must hold (without it they print "skipped").
 * Ports: 0, a port the kernel handed out and that was closed again (see
 * freeport; "named" in the output), and 80, 1023 and 1024, which nothing
 * else in a namespace of the program's own holds.
 *
 * Each case runs in a child process of its own (its fds, umask, cwd, root,
 * capabilities and uid cannot leak into the next case) with a 2 s limit.
 * The whole run takes well under a second. Exit status: 0 when every case
 * ran to its end, 1 when one timed out, crashed or could not set itself up
 * (the line then says so, and stderr why), 2 on a usage error.
 */
#include "conformance.h"

#include <linux/capability.h>
#include <sched.h>
#include <sys/fsuid.h>
#include <sys/prctl.h>

/* 198.18.0.0/15 and 2001:2::/48 are benchmarking ranges (RFC 2544, 5180):
   no namespace these cases run in holds these two. */
#define NONLOCAL4 "198.18.0.254"
#define NONLOCAL6 "2001:2::ff"

/* --- steps ------------------------------------------------------------------ */

static const char *tryb(int fd, const void *addr, socklen_t len) { return res(bind(fd, addr, len)); }

/* lis listens on FD and says how it went, as a step of its own. */
static void lis(int fd, int backlog) { stepf("listen=%s", res(listen(fd, backlog))); }

/* where says where FD is bound, without the port: its address, and
   whether the port is 0, the one the case named, or another. */
static void where(int fd, int named) {
	char buf[INET6_ADDRSTRLEN];
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (void *)&ss, &len)) {
		stepf("getsockname=%s", ename(errno));
		return;
	}
	int port;
	const void *a;
	if (ss.ss_family == AF_INET) {
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	} else if (ss.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		stepf("family=%d", ss.ss_family);
		return;
	}
	stepf("local=%s", inet_ntop(ss.ss_family, a, buf, sizeof buf) ? buf : "?");
	if (port == 0)
		step("port=0");
	else if (named && port == named)
		step("port=named");
	else
		step("port!=0");
}

/* optsock makes a socket with the options in OPTS set; bind4 and bind6
   bind one to ADDR:PORT, say how it went, and return it. */
#define REUSEADDR 1
#define REUSEPORT 2
#define V6ONLY 4
#define DUALSTACK 8
static int optsock(int family, int type, int opts) {
	int fd = sock(family, type);
	if (opts & REUSEADDR)
		setint(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (opts & REUSEPORT)
		setint(fd, SOL_SOCKET, SO_REUSEPORT, 1);
	if (opts & V6ONLY)
		setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	if (opts & DUALSTACK)
		setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
	return fd;
}
static int bind4(int type, const char *addr, int port, int opts) {
	int fd = optsock(AF_INET, type, opts);
	struct sockaddr_in sa = in4(addr, port);
	step(tryb(fd, &sa, sizeof sa));
	return fd;
}
static int bind6(int type, const char *addr, int port, int opts) {
	int fd = optsock(AF_INET6, type, opts);
	struct sockaddr_in6 sa = in6(addr, port);
	step(tryb(fd, &sa, sizeof sa));
	return fd;
}

/* as runs FN(ARG) as UID in a child (asuser), or as the program's own user
   when it is UID already (run as nobody, the program cannot setgroups). */
static const char *as(uid_t uid, const char *(*fn)(const void *), const void *arg) {
	return asuser(getuid() == uid ? 0 : uid, fn, arg);
}

/* --- fd: EBADF, ENOTSOCK, and the upper half of the register ---------------- */

CASE(fd_minus_one) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(-1, &sa, sizeof sa));
}
CASE(fd_closed) {
	int fd = sock(AF_INET, SOCK_STREAM);
	close(fd);
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(fd, &sa, sizeof sa));
}
CASE(fd_o_path_file) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(opathfile("file"), &sa, sizeof sa));
}
/* An O_PATH fd of a bound socket's file is not that socket. */
CASE(fd_o_path_socket) {
	struct sockaddr_un su = upath("sock");
	int l = unixbound(SOCK_STREAM, &su, sizeof su, -1);
	int fd = open(su.sun_path, O_PATH);
	if (fd < 0)
		die("open O_PATH");
	struct sockaddr_un other = upath("other");
	step(tryb(fd, &other, sizeof other));
	close(fd), close(l);
}
CASE(fd_pipe) {
	int p[2];
	if (pipe(p))
		die("pipe");
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(p[0], &sa, sizeof sa));
}
CASE(fd_regular_file) {
	struct sockaddr_un f = upath("file");
	int fd = open(f.sun_path, O_CREAT | O_RDWR, 0600);
	if (fd < 0)
		die("open");
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(fd, &sa, sizeof sa));
}
/* bind's fd and length and listen's fd and backlog are ints: the kernel
   ignores the upper 32 bits of their registers, a seccomp filter sees all
   64. */
static long hi(long v, int high) {
#if __SIZEOF_LONG__ == 8
	return (long)(unsigned)v | (high ? 1L << 32 : 0);
#else
	(void)high;
	return v;
#endif
}
CASE(fd_high_bits) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(res(syscall(SYS_bind, hi(fd, 1), &sa, hi(sizeof sa, 1))));
	where(fd, 0);
	stepf("listen=%s", res(syscall(SYS_listen, hi(fd, 1), hi(16, 1))));
}
CASE(fd_high_bits_named) {
	int port = freeport(AF_INET, SOCK_STREAM);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(res(syscall(SYS_bind, hi(fd, 1), &sa, hi(sizeof sa, 1))));
	where(fd, port);
}

/* --- the order of the checks: unlike connect, bind looks at the fd before
   it copies the address --------------------------------------------------- */

CASE(order_closed_fd_null_addr) { step(res(bind(1000, NULL, 16))); }
CASE(order_closed_fd_bad_len) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(1000, &sa, 129));
}
CASE(order_pipe_null_addr) {
	int p[2];
	if (pipe(p))
		die("pipe");
	step(res(bind(p[0], NULL, 16)));
}
CASE(order_pipe_bad_len) {
	int p[2];
	if (pipe(p))
		die("pipe");
	char buf[256] = {0};
	step(tryb(p[0], buf, 129));
}

/* --- addr: EFAULT ------------------------------------------------------------ */

CASE(addr_null_len16) { step(tryb(sock(AF_INET, SOCK_STREAM), NULL, 16)); }
/* A length of 0 reads nothing: the length check fails instead. */
CASE(addr_null_len0) { step(tryb(sock(AF_INET, SOCK_STREAM), NULL, 0)); }
CASE(addr_unmapped) { step(tryb(sock(AF_INET, SOCK_STREAM), unmapped(), 16)); }
/* The first 8 bytes readable, the other 8 in a PROT_NONE page. */
CASE(addr_straddles_prot_none) {
	char *p = guarded(8);
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	memcpy(p, &sa, 8);
	step(tryb(sock(AF_INET, SOCK_STREAM), p, sizeof sa));
}
CASE(addr_kernel_pointer) { step(tryb(sock(AF_INET, SOCK_STREAM), (void *)(uintptr_t)(~(uintptr_t)0 << 31), 16)); }
CASE(addr_unix_null) { step(tryb(sock(AF_UNIX, SOCK_STREAM), NULL, sizeof(struct sockaddr_un))); }

/* --- len: the generic bounds (0 .. sizeof(struct sockaddr_storage)) ------------ */

CASE(len_minus_one) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(sock(AF_INET, SOCK_STREAM), &sa, (socklen_t)-1));
}
CASE(len_int_max) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(sock(AF_INET, SOCK_STREAM), &sa, 0x7fffffff));
}
CASE(len_129) {
	char buf[256] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	memcpy(buf, &sa, sizeof sa);
	step(tryb(sock(AF_INET, SOCK_STREAM), buf, 129));
}
CASE(len_128_inet) {
	char buf[128] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	memcpy(buf, &sa, sizeof sa);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(tryb(fd, buf, 128));
	where(fd, 0);
}

/* --- tcp4 ------------------------------------------------------------------- */

static void tcp4len(socklen_t len) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(sock(AF_INET, SOCK_STREAM), &sa, len));
}
CASE(tcp4_len0) { tcp4len(0); }
CASE(tcp4_len1) { tcp4len(1); }
CASE(tcp4_len15) { tcp4len(15); }
CASE(tcp4_len16) { tcp4len(16); }
CASE(tcp4_family_inet6) {
	struct sockaddr_in6 sa = in6("::1", 0);
	step(tryb(sock(AF_INET, SOCK_STREAM), &sa, sizeof sa));
}
CASE(tcp4_family_unix) {
	char buf[16] = {0};
	((struct sockaddr *)buf)->sa_family = AF_UNIX;
	buf[2] = '/';
	step(tryb(sock(AF_INET, SOCK_STREAM), buf, sizeof buf));
}
/* AF_UNSPEC is taken for AF_INET with INADDR_ANY only (old programs'
   habit), and refused with any other address. */
CASE(tcp4_family_unspec_any) {
	struct sockaddr_in sa = in4("0.0.0.0", 0);
	sa.sin_family = AF_UNSPEC;
	int fd = sock(AF_INET, SOCK_STREAM);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, 0);
}
CASE(tcp4_family_unspec_any_named) {
	int port = freeport(AF_INET, SOCK_STREAM);
	struct sockaddr_in sa = in4("0.0.0.0", port);
	sa.sin_family = AF_UNSPEC;
	int fd = sock(AF_INET, SOCK_STREAM);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, port);
}
CASE(tcp4_family_unspec_loopback) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	sa.sin_family = AF_UNSPEC;
	step(tryb(sock(AF_INET, SOCK_STREAM), &sa, sizeof sa));
}
CASE(tcp4_loopback) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	where(fd, 0);
	lis(fd, 16);
	where(fd, 0);
}
CASE(tcp4_other_loopback) {
	int fd = bind4(SOCK_STREAM, "127.0.0.2", 0, 0);
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp4_any) {
	int fd = bind4(SOCK_STREAM, "0.0.0.0", 0, 0);
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp4_named_port) {
	int port = freeport(AF_INET, SOCK_STREAM);
	int fd = bind4(SOCK_STREAM, "127.0.0.1", port, 0);
	where(fd, port);
	lis(fd, 16);
}
CASE(tcp4_any_named_port) {
	int port = freeport(AF_INET, SOCK_STREAM);
	int fd = bind4(SOCK_STREAM, "0.0.0.0", port, 0);
	where(fd, port);
	lis(fd, 16);
}
CASE(tcp4_sin_zero_garbage) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	memset(sa.sin_zero, 0xAB, sizeof sa.sin_zero);
	int fd = sock(AF_INET, SOCK_STREAM);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, 0);
}
/* 127.255.255.255 is the loopback's broadcast address: a local one. */
CASE(tcp4_broadcast) {
	int fd = bind4(SOCK_STREAM, "127.255.255.255", 0, 0);
	lis(fd, 16);
}
CASE(tcp4_nonlocal) { bind4(SOCK_STREAM, NONLOCAL4, 0, 0); }
CASE(tcp4_nonlocal_named) { bind4(SOCK_STREAM, NONLOCAL4, freeport(AF_INET, SOCK_STREAM), 0); }
/* IP_FREEBIND binds an address the host does not (yet) have. */
CASE(tcp4_freebind) {
	int fd = sock(AF_INET, SOCK_STREAM);
	setint(fd, IPPROTO_IP, IP_FREEBIND, 1);
	struct sockaddr_in sa = in4(NONLOCAL4, 0);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp4_freebind_named) {
	int port = freeport(AF_INET, SOCK_STREAM);
	int fd = sock(AF_INET, SOCK_STREAM);
	setint(fd, IPPROTO_IP, IP_FREEBIND, 1);
	struct sockaddr_in sa = in4(NONLOCAL4, port);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, port);
	lis(fd, 16);
}
/* The namespace's own non-loopback address (BIND_LOCAL4). */
static const char *local4(void) {
	const char *a = getenv("BIND_LOCAL4");
	return a ? a : "0.0.0.0";
}
CASE(tcp4_local_addr) {
	int fd = bind4(SOCK_STREAM, local4(), 0, 0);
	lis(fd, 16);
}
CASE(tcp4_local_addr_named) {
	int port = freeport(AF_INET, SOCK_STREAM);
	int fd = bind4(SOCK_STREAM, local4(), port, 0);
	where(fd, port);
	lis(fd, 16);
}
/* A bound socket cannot be bound again (EINVAL), but the address is
   checked first. */
CASE(tcp4_rebind) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(fd, &sa, sizeof sa));
}
CASE(tcp4_rebind_named) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	struct sockaddr_in sa = in4("127.0.0.1", freeport(AF_INET, SOCK_STREAM));
	step(tryb(fd, &sa, sizeof sa));
}
CASE(tcp4_rebind_nonlocal) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	struct sockaddr_in sa = in4(NONLOCAL4, 0);
	step(tryb(fd, &sa, sizeof sa));
}
CASE(tcp4_rebind_family) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	struct sockaddr_in6 sa = in6("::1", 0);
	step(tryb(fd, &sa, sizeof sa));
}
/* bind after listen: the socket is bound already (by the listen). */
CASE(tcp4_bind_after_listen) {
	int fd = sock(AF_INET, SOCK_STREAM);
	lis(fd, 16);
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(fd, &sa, sizeof sa));
}

/* --- tcp4: addresses in use, SO_REUSEADDR, SO_REUSEPORT ----------------------- */

/* twice binds two TCP sockets to A:port and B:port (port named, free),
   with OPTS1 and OPTS2, then listens on the first and the second. */
static void twice4(int type, const char *a, int opts1, const char *b, int opts2, int listen1) {
	int port = freeport(AF_INET, type);
	int s1 = bind4(type, a, port, opts1);
	if (listen1)
		lis(s1, 16);
	int s2 = bind4(type, b, port, opts2);
	if (type == SOCK_STREAM) {
		if (!listen1)
			lis(s1, 16);
		lis(s2, 16);
	}
}
CASE(tcp4_eaddrinuse) { twice4(SOCK_STREAM, "127.0.0.1", 0, "127.0.0.1", 0, 0); }
CASE(tcp4_eaddrinuse_listening) { twice4(SOCK_STREAM, "127.0.0.1", 0, "127.0.0.1", 0, 1); }
CASE(tcp4_eaddrinuse_any_then_loopback) { twice4(SOCK_STREAM, "0.0.0.0", 0, "127.0.0.1", 0, 0); }
CASE(tcp4_eaddrinuse_loopback_then_any) { twice4(SOCK_STREAM, "127.0.0.1", 0, "0.0.0.0", 0, 1); }
/* Two loopback addresses are two addresses. */
CASE(tcp4_two_loopbacks) { twice4(SOCK_STREAM, "127.0.0.1", 0, "127.0.0.2", 0, 1); }
/* SO_REUSEADDR on both: two binds, but only one listener. */
CASE(tcp4_reuseaddr) { twice4(SOCK_STREAM, "127.0.0.1", REUSEADDR, "127.0.0.1", REUSEADDR, 0); }
CASE(tcp4_reuseaddr_listening) { twice4(SOCK_STREAM, "127.0.0.1", REUSEADDR, "127.0.0.1", REUSEADDR, 1); }
CASE(tcp4_reuseaddr_second_only) { twice4(SOCK_STREAM, "127.0.0.1", 0, "127.0.0.1", REUSEADDR, 0); }
CASE(tcp4_reuseaddr_any_listening) { twice4(SOCK_STREAM, "0.0.0.0", REUSEADDR, "127.0.0.1", REUSEADDR, 1); }
/* SO_REUSEPORT on both (same user): two listeners. */
CASE(tcp4_reuseport) { twice4(SOCK_STREAM, "127.0.0.1", REUSEPORT, "127.0.0.1", REUSEPORT, 0); }
CASE(tcp4_reuseport_listening) { twice4(SOCK_STREAM, "127.0.0.1", REUSEPORT, "127.0.0.1", REUSEPORT, 1); }
CASE(tcp4_reuseport_first_only) { twice4(SOCK_STREAM, "127.0.0.1", REUSEPORT, "127.0.0.1", 0, 1); }
/* SO_REUSEPORT across users: the socket's owner is who created it. */
struct named {
	const char *addr;
	int port, type, opts;
};
static const char *bindas(const void *arg) {
	static char r[64];
	const struct named *n = arg;
	int fd = optsock(AF_INET, n->type, n->opts);
	struct sockaddr_in sa = in4(n->addr, n->port);
	const char *b = tryb(fd, &sa, sizeof sa);
	if (n->type == SOCK_STREAM && strcmp(b, "ok") == 0)
		snprintf(r, sizeof r, "%s,listen=%s", b, res(listen(fd, 16)));
	else
		snprintf(r, sizeof r, "%s", b);
	return r;
}
CASE(tcp4_reuseport_other_user) {
	int port = freeport(AF_INET, SOCK_STREAM);
	int s1 = bind4(SOCK_STREAM, "127.0.0.1", port, REUSEPORT);
	lis(s1, 16);
	struct named n = {"127.0.0.1", port, SOCK_STREAM, REUSEPORT};
	step(as(NOBODY, bindas, &n));
}

/* A port given back is free at once: freedport takes a port as freeport
   does (a bind to the loopback and port 0, getsockname, close) and at once
   binds a new socket to it, FREED_ROUNDS times. Natively every bind
   succeeds — the socket never listened or connected, so nothing of it
   lingers once close returns — and every case that names a port of
   freeport's counts on that. Under --net host the supervisor makes the
   first bind on a duplicate of the program's socket: were it to answer
   before it closes that duplicate, the port would stay held a moment after
   the program's close, and a bind in that moment fail EADDRINUSE (seen in
   CI, as nobody: the first bind of tcp4.eaddrinuse_loopback_then_any and
   of tcp6.eaddrinuse, to a port of freeport's). It is a race, hence the
   rounds. The step is "ok", or the first failed bind's errno (not the
   round's number, which would differ from run to run). */
#define FREED_ROUNDS 500
static void freedport(int family, int type) {
	for (int i = 0; i < FREED_ROUNDS; i++) {
		int port = freeport(family, type);
		int fd = sock(family, type);
		const char *r;
		if (family == AF_INET) {
			struct sockaddr_in sa = in4("127.0.0.1", port);
			r = tryb(fd, &sa, sizeof sa);
		} else {
			struct sockaddr_in6 sa = in6("::1", port);
			r = tryb(fd, &sa, sizeof sa);
		}
		close(fd);
		if (strcmp(r, "ok") != 0) {
			step(r);
			return;
		}
	}
	step("ok");
}
CASE(tcp4_port_freed_by_close) { freedport(AF_INET, SOCK_STREAM); }
CASE(tcp6_port_freed_by_close) { freedport(AF_INET6, SOCK_STREAM); }
CASE(udp4_port_freed_by_close) { freedport(AF_INET, SOCK_DGRAM); }

/* --- privileged ports --------------------------------------------------------- */

/* Ports below 1024 need CAP_NET_BIND_SERVICE (net.ipv4.ip_unprivileged_port_start
   is 1024 in a new namespace); nothing else holds them there. */
CASE(tcp4_port80) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 80, 0);
	lis(fd, 16);
}
CASE(tcp4_port80_any) {
	int fd = bind4(SOCK_STREAM, "0.0.0.0", 80, 0);
	lis(fd, 16);
}
static struct named port80 = {"127.0.0.1", 80, SOCK_STREAM, 0};
static struct named port1023 = {"127.0.0.1", 1023, SOCK_STREAM, 0};
static struct named port1024 = {"127.0.0.1", 1024, SOCK_STREAM, 0};
static struct named udp80 = {"127.0.0.1", 80, SOCK_DGRAM, 0};
CASE(tcp4_port80_nobody) { step(as(NOBODY, bindas, &port80)); }
CASE(tcp4_port1023_nobody) { step(as(NOBODY, bindas, &port1023)); }
CASE(tcp4_port1024_nobody) { step(as(NOBODY, bindas, &port1024)); }
CASE(udp4_port80_nobody) { step(as(NOBODY, bindas, &udp80)); }
/* Root without CAP_NET_BIND_SERVICE in its effective set is refused as
   nobody is: the capability decides, not the uid. */
static void dropeffective(int cap) {
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		die("capget");
	d[cap / 32].effective &= ~(1u << (cap % 32));
	if (syscall(SYS_capset, &h, d))
		die("capset");
}
CASE(tcp4_port80_no_capability) {
	dropeffective(CAP_NET_BIND_SERVICE);
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 80, 0);
	lis(fd, 16);
}
/* ...and back: the capability raised again from the permitted set. */
CASE(tcp4_port80_capability_raised) {
	dropeffective(CAP_NET_BIND_SERVICE);
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		die("capget");
	d[0].effective |= d[0].permitted & (1u << CAP_NET_BIND_SERVICE);
	if (syscall(SYS_capset, &h, d))
		die("capset");
	bind4(SOCK_STREAM, "127.0.0.1", 80, 0);
}
CASE(tcp6_port80) { bind6(SOCK_STREAM, "::1", 80, V6ONLY); }

/* --- listen ------------------------------------------------------------------ */

/* listen on an unbound socket binds it: every address, a port of the
   kernel's choosing. */
CASE(listen_unbound_tcp4) {
	int fd = sock(AF_INET, SOCK_STREAM);
	lis(fd, 16);
	where(fd, 0);
}
CASE(listen_unbound_tcp6) {
	int fd = sock(AF_INET6, SOCK_STREAM);
	lis(fd, 16);
	where(fd, 0);
}
CASE(listen_unbound_tcp6_v6only) {
	int fd = v6only(SOCK_STREAM);
	lis(fd, 16);
	where(fd, 0);
}
/* A second listen changes the backlog only. */
CASE(listen_twice) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	lis(fd, 16);
	lis(fd, 32);
	where(fd, 0);
}
CASE(listen_twice_unbound) {
	int fd = sock(AF_INET, SOCK_STREAM);
	lis(fd, 16);
	lis(fd, 32);
}
static void backlog(int b) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	lis(fd, b);
}
CASE(listen_backlog_minus_one) { backlog(-1); }
CASE(listen_backlog_zero) { backlog(0); }
CASE(listen_backlog_int_max) { backlog(0x7fffffff); }
CASE(listen_backlog_int_min) { backlog(INT32_MIN); }
CASE(listen_high_bits) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	stepf("listen=%s", res(syscall(SYS_listen, hi(fd, 1), hi(16, 1))));
}
CASE(listen_high_bits_unbound) {
	int fd = sock(AF_INET, SOCK_STREAM);
	stepf("listen=%s", res(syscall(SYS_listen, hi(fd, 1), hi(16, 1))));
	where(fd, 0);
}
CASE(listen_fd_minus_one) { lis(-1, 16); }
CASE(listen_fd_closed) {
	int fd = sock(AF_INET, SOCK_STREAM);
	close(fd);
	lis(fd, 16);
}
CASE(listen_fd_o_path) { lis(opathfile("file"), 16); }
CASE(listen_fd_pipe) {
	int p[2];
	if (pipe(p))
		die("pipe");
	lis(p[0], 16);
}
CASE(listen_udp4) {
	int fd = bind4(SOCK_DGRAM, "127.0.0.1", 0, 0);
	lis(fd, 16);
}
CASE(listen_udp4_unbound) {
	int fd = sock(AF_INET, SOCK_DGRAM);
	lis(fd, 16);
	where(fd, 0);
}
CASE(listen_udp6) {
	int fd = bind6(SOCK_DGRAM, "::1", 0, 0);
	lis(fd, 16);
}
/* listen after shutdown of an unconnected socket. */
CASE(listen_after_shutdown) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	stepf("shutdown=%s", res(shutdown(fd, SHUT_RDWR)));
	lis(fd, 16);
}
/* A listener shut down stops listening, and can listen again. */
CASE(listen_shutdown_relisten) {
	int fd = bind4(SOCK_STREAM, "127.0.0.1", 0, 0);
	lis(fd, 16);
	stepf("shutdown=%s", res(shutdown(fd, SHUT_RD)));
	lis(fd, 16);
	where(fd, 0);
}

/* --- tcp6 ------------------------------------------------------------------- */

/* tcp6len binds ::1 giving only LEN bytes of the address (24 is RFC 2133's
   sockaddr_in6, without sin6_scope_id). */
static void tcp6len(socklen_t len) {
	struct sockaddr_in6 sa = in6("::1", 0);
	int fd = sock(AF_INET6, SOCK_STREAM);
	step(tryb(fd, &sa, len));
}
CASE(tcp6_len23) { tcp6len(23); }
CASE(tcp6_len24) { tcp6len(24); }
CASE(tcp6_len28) { tcp6len(28); }
CASE(tcp6_family_inet_len16) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(sock(AF_INET6, SOCK_STREAM), &sa, sizeof sa));
}
CASE(tcp6_family_inet_len28) {
	char buf[28] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	memcpy(buf, &sa, sizeof sa);
	step(tryb(sock(AF_INET6, SOCK_STREAM), buf, sizeof buf));
}
CASE(tcp6_family_unspec) {
	struct sockaddr_in6 sa = in6("::", 0);
	sa.sin6_family = AF_UNSPEC;
	step(tryb(sock(AF_INET6, SOCK_STREAM), &sa, sizeof sa));
}
CASE(tcp6_loopback) {
	int fd = bind6(SOCK_STREAM, "::1", 0, 0);
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp6_any) {
	int fd = bind6(SOCK_STREAM, "::", 0, 0);
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp6_named_port) {
	int port = freeport(AF_INET6, SOCK_STREAM);
	int fd = bind6(SOCK_STREAM, "::1", port, 0);
	where(fd, port);
	lis(fd, 16);
}
CASE(tcp6_v4mapped) {
	int fd = bind6(SOCK_STREAM, "::ffff:127.0.0.1", 0, 0);
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp6_v4mapped_any) {
	int fd = bind6(SOCK_STREAM, "::ffff:0.0.0.0", 0, 0);
	where(fd, 0);
	lis(fd, 16);
}
CASE(tcp6_v4mapped_v6only) { bind6(SOCK_STREAM, "::ffff:127.0.0.1", 0, V6ONLY); }
CASE(tcp6_v4mapped_nonlocal) { bind6(SOCK_STREAM, "::ffff:" NONLOCAL4, 0, 0); }
CASE(tcp6_nonlocal) { bind6(SOCK_STREAM, NONLOCAL6, 0, 0); }
CASE(tcp6_nonlocal_named) { bind6(SOCK_STREAM, NONLOCAL6, freeport(AF_INET6, SOCK_STREAM), 0); }
CASE(tcp6_freebind) {
	int fd = sock(AF_INET6, SOCK_STREAM);
	setint(fd, IPPROTO_IPV6, IPV6_FREEBIND, 1);
	struct sockaddr_in6 sa = in6(NONLOCAL6, 0);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, 0);
	lis(fd, 16);
}
/* A link-local address needs a scope (an interface). */
CASE(tcp6_link_local_no_scope) { bind6(SOCK_STREAM, "fe80::1", 0, 0); }
CASE(tcp6_link_local_scope_lo) {
	int fd = sock(AF_INET6, SOCK_STREAM);
	struct sockaddr_in6 sa = in6("fe80::1", 0);
	sa.sin6_scope_id = 1; /* lo is interface 1 in every namespace */
	step(tryb(fd, &sa, sizeof sa));
}
CASE(tcp6_scope_garbage) {
	int fd = sock(AF_INET6, SOCK_STREAM);
	struct sockaddr_in6 sa = in6("::1", 0);
	sa.sin6_flowinfo = htonl(0x000ABCDE);
	sa.sin6_scope_id = 12345;
	step(tryb(fd, &sa, sizeof sa));
}
CASE(tcp6_multicast) { bind6(SOCK_STREAM, "ff02::1", 0, 0); }
CASE(tcp6_rebind) {
	int fd = bind6(SOCK_STREAM, "::1", 0, 0);
	struct sockaddr_in6 sa = in6("::1", 0);
	step(tryb(fd, &sa, sizeof sa));
}
CASE(tcp6_eaddrinuse) {
	int port = freeport(AF_INET6, SOCK_STREAM);
	int s1 = bind6(SOCK_STREAM, "::1", port, 0);
	lis(s1, 16);
	bind6(SOCK_STREAM, "::1", port, 0);
}

/* --- dual stack: an IPv6 socket without IPV6_V6ONLY holds the IPv4 port too -- */

static void dual(int type, int v6first, const char *a4, const char *a6, int opts6) {
	int port = freeport(AF_INET, type), s1, s2;
	if (v6first) {
		s1 = bind6(type, a6, port, opts6);
		s2 = bind4(type, a4, port, 0);
	} else {
		s1 = bind4(type, a4, port, 0);
		s2 = bind6(type, a6, port, opts6);
	}
	if (type == SOCK_STREAM) {
		lis(s1, 16);
		lis(s2, 16);
	}
}
CASE(dual_v6any_then_v4any) { dual(SOCK_STREAM, 1, "0.0.0.0", "::", DUALSTACK); }
CASE(dual_v6only_then_v4any) { dual(SOCK_STREAM, 1, "0.0.0.0", "::", V6ONLY); }
CASE(dual_v4any_then_v6any) { dual(SOCK_STREAM, 0, "0.0.0.0", "::", DUALSTACK); }
CASE(dual_v4any_then_v6only) { dual(SOCK_STREAM, 0, "0.0.0.0", "::", V6ONLY); }
CASE(dual_v4loopback_then_v6any) { dual(SOCK_STREAM, 0, "127.0.0.1", "::", DUALSTACK); }
CASE(dual_v6any_then_v4loopback) { dual(SOCK_STREAM, 1, "127.0.0.1", "::", DUALSTACK); }
CASE(dual_v6loopback_then_v4any) { dual(SOCK_STREAM, 1, "0.0.0.0", "::1", DUALSTACK); }
CASE(dual_v4mapped_then_v4) { dual(SOCK_STREAM, 1, "127.0.0.1", "::ffff:127.0.0.1", DUALSTACK); }
CASE(dual_udp_v6any_then_v4any) { dual(SOCK_DGRAM, 1, "0.0.0.0", "::", DUALSTACK); }
CASE(dual_udp_v6only_then_v4any) { dual(SOCK_DGRAM, 1, "0.0.0.0", "::", V6ONLY); }
/* IPV6_V6ONLY can change only before the bind. */
CASE(dual_v6only_after_bind) {
	int fd = bind6(SOCK_STREAM, "::", 0, DUALSTACK);
	int one = 1;
	stepf("v6only=%s", res(setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one)));
}

/* --- udp ------------------------------------------------------------------- */

CASE(udp4_len15) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(sock(AF_INET, SOCK_DGRAM), &sa, 15));
}
CASE(udp4_family_inet6) {
	struct sockaddr_in6 sa = in6("::1", 0);
	step(tryb(sock(AF_INET, SOCK_DGRAM), &sa, sizeof sa));
}
CASE(udp4_family_unspec_any) {
	struct sockaddr_in sa = in4("0.0.0.0", 0);
	sa.sin_family = AF_UNSPEC;
	int fd = sock(AF_INET, SOCK_DGRAM);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, 0);
}
CASE(udp4_loopback) { where(bind4(SOCK_DGRAM, "127.0.0.1", 0, 0), 0); }
CASE(udp4_any) { where(bind4(SOCK_DGRAM, "0.0.0.0", 0, 0), 0); }
CASE(udp4_named_port) {
	int port = freeport(AF_INET, SOCK_DGRAM);
	where(bind4(SOCK_DGRAM, "127.0.0.1", port, 0), port);
}
CASE(udp4_any_named_port) {
	int port = freeport(AF_INET, SOCK_DGRAM);
	where(bind4(SOCK_DGRAM, "0.0.0.0", port, 0), port);
}
CASE(udp4_broadcast) { bind4(SOCK_DGRAM, "127.255.255.255", 0, 0); }
CASE(udp4_nonlocal) { bind4(SOCK_DGRAM, NONLOCAL4, 0, 0); }
CASE(udp4_freebind) {
	int fd = sock(AF_INET, SOCK_DGRAM);
	setint(fd, IPPROTO_IP, IP_FREEBIND, 1);
	struct sockaddr_in sa = in4(NONLOCAL4, 0);
	step(tryb(fd, &sa, sizeof sa));
	where(fd, 0);
}
CASE(udp4_local_addr_named) {
	int port = freeport(AF_INET, SOCK_DGRAM);
	where(bind4(SOCK_DGRAM, local4(), port, 0), port);
}
CASE(udp4_rebind) {
	int fd = bind4(SOCK_DGRAM, "127.0.0.1", 0, 0);
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	step(tryb(fd, &sa, sizeof sa));
}
CASE(udp4_eaddrinuse) { twice4(SOCK_DGRAM, "127.0.0.1", 0, "127.0.0.1", 0, 0); }
CASE(udp4_eaddrinuse_any) { twice4(SOCK_DGRAM, "0.0.0.0", 0, "127.0.0.1", 0, 0); }
/* For UDP SO_REUSEADDR on both shares the port outright. */
CASE(udp4_reuseaddr) { twice4(SOCK_DGRAM, "127.0.0.1", REUSEADDR, "127.0.0.1", REUSEADDR, 0); }
CASE(udp4_reuseport) { twice4(SOCK_DGRAM, "127.0.0.1", REUSEPORT, "127.0.0.1", REUSEPORT, 0); }
CASE(udp4_port80) { bind4(SOCK_DGRAM, "127.0.0.1", 80, 0); }
CASE(udp6_loopback) { where(bind6(SOCK_DGRAM, "::1", 0, 0), 0); }
CASE(udp6_any) { where(bind6(SOCK_DGRAM, "::", 0, 0), 0); }
CASE(udp6_named_port) {
	int port = freeport(AF_INET6, SOCK_DGRAM);
	where(bind6(SOCK_DGRAM, "::1", port, 0), port);
}
CASE(udp6_v4mapped) { where(bind6(SOCK_DGRAM, "::ffff:127.0.0.1", 0, 0), 0); }
CASE(udp6_len23) {
	struct sockaddr_in6 sa = in6("::1", 0);
	step(tryb(sock(AF_INET6, SOCK_DGRAM), &sa, 23));
}
CASE(udp6_nonlocal) { bind6(SOCK_DGRAM, NONLOCAL6, 0, 0); }

/* --- unix: the file a bind makes ------------------------------------------------ */

/* filestat says what the bind made at PATH: its type and mode, and whose
   it is. */
static void filestat(const char *path) {
	struct stat st;
	if (lstat(path, &st)) {
		stepf("stat=%s", ename(errno));
		return;
	}
	stepf("%s,mode=%04o,uid=%d,gid=%d", S_ISSOCK(st.st_mode) ? "sock" : "notsock", st.st_mode & 07777, (int)st.st_uid,
	      (int)st.st_gid);
}
static void unixmode(int type, mode_t mask) {
	umask(mask);
	struct sockaddr_un su = upath("sock");
	int fd = sock(AF_UNIX, type);
	step(tryb(fd, &su, sizeof su));
	filestat(su.sun_path);
	if (type != SOCK_DGRAM)
		lis(fd, 16);
}
CASE(unix_path) { unixmode(SOCK_STREAM, 022); }
CASE(unix_umask_027) { unixmode(SOCK_STREAM, 027); }
CASE(unix_umask_0) { unixmode(SOCK_STREAM, 0); }
CASE(unix_umask_077) { unixmode(SOCK_STREAM, 077); }
CASE(unix_umask_777) { unixmode(SOCK_STREAM, 0777); }
CASE(unix_dgram_umask_027) { unixmode(SOCK_DGRAM, 027); }
CASE(unix_seqpacket_umask_007) { unixmode(SOCK_SEQPACKET, 007); }
/* fchmod on the socket before the bind gives the file's mode (then the
   umask applies). */
CASE(unix_fchmod_before_bind) {
	umask(022);
	struct sockaddr_un su = upath("sock");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	stepf("fchmod=%s", res(fchmod(fd, 0640)));
	step(tryb(fd, &su, sizeof su));
	filestat(su.sun_path);
}
/* The file's group comes from a setgid directory. */
CASE(unix_setgid_dir) {
	umask(0);
	struct sockaddr_un d = upath("sgid"), su = upath("sgid/sock");
	if (mkdir(d.sun_path, 0777) || chown(d.sun_path, -1, 12345) || chmod(d.sun_path, 02777)) {
		step("setgid-dir-unavailable"); /* nobody cannot chown to a group */
		return;
	}
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
	filestat(su.sun_path);
}
/* Bound by nobody (a child of root's case, or the program itself when it
   runs as nobody), in a directory anyone may write. */
static const char *bindunixas(const void *arg) {
	static char r[128];
	const struct sockaddr_un *su = arg;
	umask(002);
	const char *b = tryb(sock(AF_UNIX, SOCK_STREAM), su, sizeof *su);
	struct stat st;
	if (strcmp(b, "ok") != 0 || lstat(su->sun_path, &st))
		snprintf(r, sizeof r, "%s", b);
	else
		snprintf(r, sizeof r, "%s,mode=%04o,uid=%d,gid=%d", b, st.st_mode & 07777, (int)st.st_uid, (int)st.st_gid);
	return r;
}
CASE(unix_owner_nobody) {
	struct sockaddr_un d = upath("open"), su = upath("open/sock");
	if (mkdir(d.sun_path, 0777) || chmod(d.sun_path, 0777))
		die("mkdir");
	step(as(NOBODY, bindunixas, &su));
}
/* The directory is not writable: root may, nobody may not. */
CASE(unix_dir_readonly) {
	struct sockaddr_un d = upath("ro"), su = upath("ro/sock");
	if (mkdir(d.sun_path, 0555))
		die("mkdir");
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
CASE(unix_dir_not_writable_nobody) {
	struct sockaddr_un d = upath("ro"), su = upath("ro/sock");
	if (mkdir(d.sun_path, 0755))
		die("mkdir");
	step(as(NOBODY, bindunixas, &su));
}
CASE(unix_dir_not_searchable_nobody) {
	struct sockaddr_un d = upath("private"), su = upath("private/sock");
	if (mkdir(d.sun_path, 0766) || chmod(d.sun_path, 0766)) /* writable, not searchable, by others */
		die("mkdir");
	step(as(NOBODY, bindunixas, &su));
}
/* Root without CAP_DAC_OVERRIDE is refused as nobody is. */
CASE(unix_dir_readonly_no_capability) {
	struct sockaddr_un d = upath("ro"), su = upath("ro/sock");
	if (mkdir(d.sun_path, 0555) || chown(d.sun_path, NOBODY, NOBODY)) {
		if (getuid() != 0) {
			step("chown=EPERM");
			return;
		}
		die("mkdir");
	}
	dropeffective(CAP_DAC_OVERRIDE);
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}

/* Only the filesystem uid and gid change: the file is nobody's, and the
   fs capabilities (CAP_DAC_OVERRIDE…) go with root's fsuid. */
CASE(unix_fsuid_nobody) {
	struct sockaddr_un ro = upath("ro"), open = upath("open"), a = upath("ro/sock"), b = upath("open/sock");
	if (mkdir(ro.sun_path, 0755) || mkdir(open.sun_path, 0777) || chmod(open.sun_path, 0777))
		die("mkdir");
	umask(022);
	setfsgid(NOBODY);
	setfsuid(NOBODY);
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &a, sizeof a));
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &b, sizeof b));
	filestat(b.sun_path);
}
/* nobody, with a supplementary group that may write the directory. */
static const char *bindgroup(const void *arg) {
	static char r[128];
	const struct sockaddr_un *su = arg;
	gid_t g = 12345;
	if (setgroups(1, &g))
		return "setgroups=EPERM";
	if (setgid(NOBODY) || setuid(NOBODY))
		return "setuid-failed";
	umask(0);
	const char *b = tryb(sock(AF_UNIX, SOCK_STREAM), su, sizeof *su);
	struct stat st;
	if (strcmp(b, "ok") != 0 || lstat(su->sun_path, &st))
		return b;
	snprintf(r, sizeof r, "%s,mode=%04o,uid=%d,gid=%d", b, st.st_mode & 07777, (int)st.st_uid, (int)st.st_gid);
	return r;
}
CASE(unix_supplementary_group) {
	struct sockaddr_un d = upath("group"), su = upath("group/sock");
	if (mkdir(d.sun_path, 0770) || chmod(d.sun_path, 0770))
		die("mkdir");
	if (chown(d.sun_path, -1, 12345)) {
		step("chown=EPERM"); /* run as nobody */
		return;
	}
	step(asuser(0, bindgroup, &su)); /* bindgroup changes the ids itself */
}
/* nobody keeping CAP_NET_BIND_SERVICE (PR_SET_KEEPCAPS, then raised
   again): the capability, not the uid, decides. */
static const char *port80withcap(const void *arg) {
	static char r[64];
	(void)arg;
	struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct d[2];
	if (syscall(SYS_capget, &h, d))
		return "capget-failed";
	d[0].effective |= 1u << CAP_NET_BIND_SERVICE;
	const char *c = res(syscall(SYS_capset, &h, d));
	int fd = sock(AF_INET, SOCK_STREAM);
	struct sockaddr_in sa = in4("127.0.0.1", 80);
	const char *b = tryb(fd, &sa, sizeof sa);
	snprintf(r, sizeof r, "uid=%d,capset=%s,%s", (int)getuid(), c, b);
	return r;
}
CASE(tcp4_port80_nobody_keeps_capability) {
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0))
		die("PR_SET_KEEPCAPS");
	step(as(NOBODY, port80withcap, NULL));
}
/* Credentials are a thread's own: one thread becomes nobody (the raw
   call, not glibc's, which would change every thread), the others stay
   as they were. */
static void *port80thread(void *arg) {
	(void)arg;
	if (syscall(SYS_setresuid, NOBODY, NOBODY, NOBODY))
		return (void *)"setresuid-failed";
	int fd = sock(AF_INET, SOCK_STREAM);
	struct sockaddr_in sa = in4("127.0.0.1", 80);
	const char *r = tryb(fd, &sa, sizeof sa);
	close(fd);
	return (void *)r;
}
CASE(tcp4_port80_thread_credentials) {
	pthread_t t;
	void *r;
	if (pthread_create(&t, NULL, port80thread, NULL) || pthread_join(t, &r))
		die("pthread");
	stepf("thread=%s", (const char *)r);
	int fd = sock(AF_INET, SOCK_STREAM);
	struct sockaddr_in sa = in4("127.0.0.1", 80);
	stepf("main=%s", tryb(fd, &sa, sizeof sa));
}
/* A thread with a working directory and umask of its own
   (unshare(CLONE_FS)): its relative bind lands in its directory, with
   its umask. */
static void *cwdthread(void *arg) {
	const char *dir = arg;
	if (unshare(CLONE_FS) || chdir(dir))
		return (void *)"unshare-failed";
	umask(077);
	struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "sock"};
	return (void *)tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su);
}
CASE(unix_thread_cwd_umask) {
	struct sockaddr_un d = upath("thread"), there = upath("thread/sock");
	if (mkdir(d.sun_path, 0700) || chdir(casedir))
		die("mkdir");
	umask(022);
	pthread_t t;
	void *r;
	if (pthread_create(&t, NULL, cwdthread, d.sun_path) || pthread_join(t, &r))
		die("pthread");
	stepf("thread=%s", (const char *)r);
	filestat(there.sun_path);
	struct stat st;
	stepf("in-main-cwd=%s", lstat("sock", &st) ? ename(errno) : "exists");
}

/* --- unix: relative paths and the root ------------------------------------------- */

CASE(unix_relative) {
	umask(027);
	if (chdir(casedir))
		die("chdir");
	struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "sock"};
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, sizeof su));
	filestat("sock");
	lis(fd, 16);
}
CASE(unix_relative_dotdot) {
	struct sockaddr_un d = upath("sub");
	if (mkdir(d.sun_path, 0700) || chdir(d.sun_path))
		die("mkdir");
	struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "../sock"};
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
	struct sockaddr_un where = upath("sock");
	filestat(where.sun_path);
}
/* The working directory was removed: the relative bind finds no parent. */
CASE(unix_relative_cwd_removed) {
	struct sockaddr_un d = upath("gone");
	if (mkdir(d.sun_path, 0700) || chdir(d.sun_path) || rmdir(d.sun_path))
		die("mkdir");
	struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "sock"};
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
/* "/sock" in a chroot is the case directory's "sock". Only root may chroot. */
CASE(unix_chroot) {
	int dir = open(casedir, O_PATH | O_DIRECTORY);
	if (dir < 0)
		die("open");
	int r = chroot(casedir);
	stepf("chroot=%s", res(r));
	if (r)
		return;
	if (chdir("/"))
		die("chdir");
	struct sockaddr_un su = {.sun_family = AF_UNIX, .sun_path = "/sock"};
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
	struct stat st;
	stepf("in-chroot=%s", fstatat(dir, "sock", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISSOCK(st.st_mode) ? "sock" : "none");
}

/* --- unix: paths that cannot be bound --------------------------------------------- */

CASE(unix_exists_file) {
	struct sockaddr_un su = upath("file");
	close(open(su.sun_path, O_CREAT | O_WRONLY, 0600));
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
/* A closed listener's file stays, and keeps its path. */
CASE(unix_exists_socket) {
	struct sockaddr_un su = upath("sock");
	close(unixbound(SOCK_STREAM, &su, sizeof su, 16));
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
/* The final component is not followed: a dangling symlink is in the way. */
CASE(unix_exists_dangling_symlink) {
	struct sockaddr_un su = upath("link"), target = upath("missing");
	if (symlink(target.sun_path, su.sun_path))
		die("symlink");
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
	filestat(target.sun_path);
}
/* A symlink on the way is followed. */
CASE(unix_through_symlinked_dir) {
	struct sockaddr_un d = upath("real"), link = upath("link"), su = upath("link/sock"), real = upath("real/sock");
	if (mkdir(d.sun_path, 0700) || symlink(d.sun_path, link.sun_path))
		die("symlink");
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
	filestat(real.sun_path);
}
CASE(unix_enoent_parent) {
	struct sockaddr_un su = upath("missing/sock");
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
CASE(unix_enotdir) {
	struct sockaddr_un f = upath("file"), su = upath("file/sock");
	close(open(f.sun_path, O_CREAT | O_WRONLY, 0600));
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
CASE(unix_directory) {
	struct sockaddr_un su = upath("dir");
	if (mkdir(su.sun_path, 0700))
		die("mkdir");
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
/* An empty abstract name (one NUL) is a name too. */
CASE(unix_abstract_empty) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, offsetof(struct sockaddr_un, sun_path) + 1));
}
CASE(unix_rebind) {
	struct sockaddr_un a = upath("a"), b = upath("b");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &a, sizeof a));
	step(tryb(fd, &b, sizeof b));
	filestat(b.sun_path);
}
CASE(unix_bind_after_listen) {
	struct sockaddr_un a = upath("a");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	lis(fd, 16);
	step(tryb(fd, &a, sizeof a));
}

/* --- unix: lengths and families --------------------------------------------------- */

/* A path bind cannot meet ENAMETOOLONG: sun_path holds 108 bytes and a
   component may have 255. A path longer than sun_path is a length beyond
   the structure's: EINVAL (unix.len111). */

static void unixlen(socklen_t len) {
	struct sockaddr_un su[2] = {upath("sock")}; /* room beyond sun_path for len 111 */
	step(tryb(sock(AF_UNIX, SOCK_STREAM), su, len));
}
CASE(unix_len0) { unixlen(0); }
CASE(unix_len1) { unixlen(1); }
CASE(unix_len110) { unixlen(sizeof(struct sockaddr_un)); }
CASE(unix_len111) { unixlen(sizeof(struct sockaddr_un) + 1); }
CASE(unix_len128) { unixlen(128); }
CASE(unix_len129) { unixlen(129); }
/* All 108 bytes of sun_path, no NUL: the path is exactly those bytes. */
CASE(unix_path_108_no_nul) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int n = snprintf(su.sun_path, sizeof su.sun_path, "%s/", casedir);
	memset(su.sun_path + n, 'p', sizeof su.sun_path - n); /* overwrites the NUL */
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, sizeof su));
	char path[sizeof su.sun_path + 1];
	memcpy(path, su.sun_path, sizeof su.sun_path);
	path[sizeof su.sun_path] = 0;
	filestat(path);
	lis(fd, 16);
}
/* The length covers the path but not its NUL. */
CASE(unix_exact_length) {
	struct sockaddr_un su = upath("sock");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, offsetof(struct sockaddr_un, sun_path) + strlen(su.sun_path)));
	filestat(su.sun_path);
}
/* A length that cuts the path short binds the shorter path. */
CASE(unix_short_length) {
	struct sockaddr_un su = upath("sockXYZ"), cut = upath("sock");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, offsetof(struct sockaddr_un, sun_path) + strlen(su.sun_path) - 3));
	filestat(cut.sun_path);
}
CASE(unix_family_inet) {
	struct sockaddr_un su = upath("sock");
	su.sun_family = AF_INET;
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}
CASE(unix_family_unspec) {
	struct sockaddr_un su = upath("sock");
	su.sun_family = AF_UNSPEC;
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, sizeof su));
}

/* --- unix: abstract names and autobind -------------------------------------------- */

/* sockname says what getsockname gives for a unix socket: "unnamed",
   "path", or "abstract" and the name's length (an autobind name is five
   hex digits). */
static void sockname(int fd) {
	struct sockaddr_un su;
	socklen_t len = sizeof su;
	if (getsockname(fd, (void *)&su, &len)) {
		stepf("getsockname=%s", ename(errno));
		return;
	}
	if (len <= offsetof(struct sockaddr_un, sun_path))
		step("unnamed");
	else if (su.sun_path[0])
		step("path");
	else
		stepf("abstract,len=%d", (int)(len - offsetof(struct sockaddr_un, sun_path)));
}
CASE(unix_abstract) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "sock");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, len));
	lis(fd, 16);
}
CASE(unix_abstract_in_use) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "sock");
	unixbound(SOCK_STREAM, &su, len, 16);
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, len));
}
/* The name is all LEN bytes, NULs and all: a shorter length is another name. */
CASE(unix_abstract_prefix) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "sock");
	unixbound(SOCK_STREAM, &su, len, 16);
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, len - 1));
	step(tryb(sock(AF_UNIX, SOCK_STREAM), &su, len + 1));
}
CASE(unix_abstract_dgram) {
	struct sockaddr_un su;
	socklen_t len = abstract(&su, "dgram");
	int fd = sock(AF_UNIX, SOCK_DGRAM);
	step(tryb(fd, &su, len));
	lis(fd, 16);
}
/* The length of the family alone: the kernel picks an abstract name. */
CASE(unix_autobind) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, sizeof(sa_family_t)));
	sockname(fd);
	lis(fd, 16);
}
CASE(unix_autobind_dgram) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	int fd = sock(AF_UNIX, SOCK_DGRAM);
	step(tryb(fd, &su, sizeof(sa_family_t)));
	sockname(fd);
}
CASE(unix_autobind_then_path) {
	struct sockaddr_un su = {.sun_family = AF_UNIX}, p = upath("sock");
	int fd = sock(AF_UNIX, SOCK_STREAM);
	step(tryb(fd, &su, sizeof(sa_family_t)));
	step(tryb(fd, &p, sizeof p));
}
/* SO_PASSCRED makes the first send autobind; bind itself is unchanged. */
CASE(unix_passcred_bind) {
	int fd = sock(AF_UNIX, SOCK_DGRAM);
	setint(fd, SOL_SOCKET, SO_PASSCRED, 1);
	struct sockaddr_un su = upath("sock");
	step(tryb(fd, &su, sizeof su));
	sockname(fd);
}

/* --- unix: listen ------------------------------------------------------------------- */

CASE(unix_listen_unbound) {
	int fd = sock(AF_UNIX, SOCK_STREAM);
	lis(fd, 16);
	sockname(fd);
}
CASE(unix_listen_seqpacket) {
	struct sockaddr_un su = upath("sock");
	int fd = sock(AF_UNIX, SOCK_SEQPACKET);
	step(tryb(fd, &su, sizeof su));
	lis(fd, 16);
	lis(fd, 0);
}
CASE(unix_listen_dgram) {
	struct sockaddr_un su = upath("sock");
	int fd = sock(AF_UNIX, SOCK_DGRAM);
	step(tryb(fd, &su, sizeof su));
	lis(fd, 16);
}
CASE(unix_listen_socketpair) {
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	lis(sv[0], 16);
}

/* --- the cases ------------------------------------------------------------------ */

#define LOCALADDR 1 /* binds BIND_LOCAL4: see the top */

static const struct kase cases[] = {
    {"fd.minus_one", fd_minus_one, 0},
    {"fd.closed", fd_closed, 0},
    {"fd.o_path_file", fd_o_path_file, 0},
    {"fd.o_path_socket", fd_o_path_socket, 0},
    {"fd.pipe", fd_pipe, 0},
    {"fd.regular_file", fd_regular_file, 0},
    {"fd.high_bits", fd_high_bits, 0},
    {"fd.high_bits_named", fd_high_bits_named, 0},
    {"order.closed_fd_null_addr", order_closed_fd_null_addr, 0},
    {"order.closed_fd_bad_len", order_closed_fd_bad_len, 0},
    {"order.pipe_null_addr", order_pipe_null_addr, 0},
    {"order.pipe_bad_len", order_pipe_bad_len, 0},
    {"addr.null_len16", addr_null_len16, 0},
    {"addr.null_len0", addr_null_len0, 0},
    {"addr.unmapped", addr_unmapped, 0},
    {"addr.straddles_prot_none", addr_straddles_prot_none, 0},
    {"addr.kernel_pointer", addr_kernel_pointer, 0},
    {"addr.unix_null", addr_unix_null, 0},
    {"len.minus_one", len_minus_one, 0},
    {"len.int_max", len_int_max, 0},
    {"len.129", len_129, 0},
    {"len.128_inet", len_128_inet, 0},
    {"tcp4.len0", tcp4_len0, 0},
    {"tcp4.len1", tcp4_len1, 0},
    {"tcp4.len15", tcp4_len15, 0},
    {"tcp4.len16", tcp4_len16, 0},
    {"tcp4.family_inet6", tcp4_family_inet6, 0},
    {"tcp4.family_unix", tcp4_family_unix, 0},
    {"tcp4.family_unspec_any", tcp4_family_unspec_any, 0},
    {"tcp4.family_unspec_any_named", tcp4_family_unspec_any_named, 0},
    {"tcp4.family_unspec_loopback", tcp4_family_unspec_loopback, 0},
    {"tcp4.loopback", tcp4_loopback, 0},
    {"tcp4.other_loopback", tcp4_other_loopback, 0},
    {"tcp4.any", tcp4_any, 0},
    {"tcp4.named_port", tcp4_named_port, 0},
    {"tcp4.any_named_port", tcp4_any_named_port, 0},
    {"tcp4.sin_zero_garbage", tcp4_sin_zero_garbage, 0},
    {"tcp4.broadcast", tcp4_broadcast, 0},
    {"tcp4.nonlocal", tcp4_nonlocal, 0},
    {"tcp4.nonlocal_named", tcp4_nonlocal_named, 0},
    {"tcp4.freebind", tcp4_freebind, 0},
    {"tcp4.freebind_named", tcp4_freebind_named, 0},
    {"tcp4.local_addr", tcp4_local_addr, LOCALADDR},
    {"tcp4.local_addr_named", tcp4_local_addr_named, LOCALADDR},
    {"tcp4.rebind", tcp4_rebind, 0},
    {"tcp4.rebind_named", tcp4_rebind_named, 0},
    {"tcp4.rebind_nonlocal", tcp4_rebind_nonlocal, 0},
    {"tcp4.rebind_family", tcp4_rebind_family, 0},
    {"tcp4.bind_after_listen", tcp4_bind_after_listen, 0},
    {"tcp4.eaddrinuse", tcp4_eaddrinuse, 0},
    {"tcp4.eaddrinuse_listening", tcp4_eaddrinuse_listening, 0},
    {"tcp4.eaddrinuse_any_then_loopback", tcp4_eaddrinuse_any_then_loopback, 0},
    {"tcp4.eaddrinuse_loopback_then_any", tcp4_eaddrinuse_loopback_then_any, 0},
    {"tcp4.two_loopbacks", tcp4_two_loopbacks, 0},
    {"tcp4.reuseaddr", tcp4_reuseaddr, 0},
    {"tcp4.reuseaddr_listening", tcp4_reuseaddr_listening, 0},
    {"tcp4.reuseaddr_second_only", tcp4_reuseaddr_second_only, 0},
    {"tcp4.reuseaddr_any_listening", tcp4_reuseaddr_any_listening, 0},
    {"tcp4.reuseport", tcp4_reuseport, 0},
    {"tcp4.reuseport_listening", tcp4_reuseport_listening, 0},
    {"tcp4.reuseport_first_only", tcp4_reuseport_first_only, 0},
    {"tcp4.reuseport_other_user", tcp4_reuseport_other_user, 0},
    {"tcp4.port_freed_by_close", tcp4_port_freed_by_close, 0},
    {"tcp4.port80", tcp4_port80, 0},
    {"tcp4.port80_any", tcp4_port80_any, 0},
    {"tcp4.port80_nobody", tcp4_port80_nobody, 0},
    {"tcp4.port1023_nobody", tcp4_port1023_nobody, 0},
    {"tcp4.port1024_nobody", tcp4_port1024_nobody, 0},
    {"tcp4.port80_no_capability", tcp4_port80_no_capability, 0},
    {"tcp4.port80_capability_raised", tcp4_port80_capability_raised, 0},
    {"tcp4.port80_nobody_keeps_capability", tcp4_port80_nobody_keeps_capability, 0},
    {"tcp4.port80_thread_credentials", tcp4_port80_thread_credentials, 0},
    {"tcp6.port80", tcp6_port80, 0},
    {"udp4.port80_nobody", udp4_port80_nobody, 0},
    {"listen.unbound_tcp4", listen_unbound_tcp4, 0},
    {"listen.unbound_tcp6", listen_unbound_tcp6, 0},
    {"listen.unbound_tcp6_v6only", listen_unbound_tcp6_v6only, 0},
    {"listen.twice", listen_twice, 0},
    {"listen.twice_unbound", listen_twice_unbound, 0},
    {"listen.backlog_minus_one", listen_backlog_minus_one, 0},
    {"listen.backlog_zero", listen_backlog_zero, 0},
    {"listen.backlog_int_max", listen_backlog_int_max, 0},
    {"listen.backlog_int_min", listen_backlog_int_min, 0},
    {"listen.high_bits", listen_high_bits, 0},
    {"listen.high_bits_unbound", listen_high_bits_unbound, 0},
    {"listen.fd_minus_one", listen_fd_minus_one, 0},
    {"listen.fd_closed", listen_fd_closed, 0},
    {"listen.fd_o_path", listen_fd_o_path, 0},
    {"listen.fd_pipe", listen_fd_pipe, 0},
    {"listen.udp4", listen_udp4, 0},
    {"listen.udp4_unbound", listen_udp4_unbound, 0},
    {"listen.udp6", listen_udp6, 0},
    {"listen.after_shutdown", listen_after_shutdown, 0},
    {"listen.shutdown_relisten", listen_shutdown_relisten, 0},
    {"tcp6.len23", tcp6_len23, 0},
    {"tcp6.len24", tcp6_len24, 0},
    {"tcp6.len28", tcp6_len28, 0},
    {"tcp6.family_inet_len16", tcp6_family_inet_len16, 0},
    {"tcp6.family_inet_len28", tcp6_family_inet_len28, 0},
    {"tcp6.family_unspec", tcp6_family_unspec, 0},
    {"tcp6.loopback", tcp6_loopback, 0},
    {"tcp6.any", tcp6_any, 0},
    {"tcp6.named_port", tcp6_named_port, 0},
    {"tcp6.v4mapped", tcp6_v4mapped, 0},
    {"tcp6.v4mapped_any", tcp6_v4mapped_any, 0},
    {"tcp6.v4mapped_v6only", tcp6_v4mapped_v6only, 0},
    {"tcp6.v4mapped_nonlocal", tcp6_v4mapped_nonlocal, 0},
    {"tcp6.nonlocal", tcp6_nonlocal, 0},
    {"tcp6.nonlocal_named", tcp6_nonlocal_named, 0},
    {"tcp6.freebind", tcp6_freebind, 0},
    {"tcp6.link_local_no_scope", tcp6_link_local_no_scope, 0},
    {"tcp6.link_local_scope_lo", tcp6_link_local_scope_lo, 0},
    {"tcp6.scope_garbage", tcp6_scope_garbage, 0},
    {"tcp6.multicast", tcp6_multicast, 0},
    {"tcp6.rebind", tcp6_rebind, 0},
    {"tcp6.eaddrinuse", tcp6_eaddrinuse, 0},
    {"tcp6.port_freed_by_close", tcp6_port_freed_by_close, 0},
    {"dual.v6any_then_v4any", dual_v6any_then_v4any, 0},
    {"dual.v6only_then_v4any", dual_v6only_then_v4any, 0},
    {"dual.v4any_then_v6any", dual_v4any_then_v6any, 0},
    {"dual.v4any_then_v6only", dual_v4any_then_v6only, 0},
    {"dual.v4loopback_then_v6any", dual_v4loopback_then_v6any, 0},
    {"dual.v6any_then_v4loopback", dual_v6any_then_v4loopback, 0},
    {"dual.v6loopback_then_v4any", dual_v6loopback_then_v4any, 0},
    {"dual.v4mapped_then_v4", dual_v4mapped_then_v4, 0},
    {"dual.udp_v6any_then_v4any", dual_udp_v6any_then_v4any, 0},
    {"dual.udp_v6only_then_v4any", dual_udp_v6only_then_v4any, 0},
    {"dual.v6only_after_bind", dual_v6only_after_bind, 0},
    {"udp4.len15", udp4_len15, 0},
    {"udp4.family_inet6", udp4_family_inet6, 0},
    {"udp4.family_unspec_any", udp4_family_unspec_any, 0},
    {"udp4.loopback", udp4_loopback, 0},
    {"udp4.any", udp4_any, 0},
    {"udp4.named_port", udp4_named_port, 0},
    {"udp4.any_named_port", udp4_any_named_port, 0},
    {"udp4.broadcast", udp4_broadcast, 0},
    {"udp4.nonlocal", udp4_nonlocal, 0},
    {"udp4.freebind", udp4_freebind, 0},
    {"udp4.local_addr_named", udp4_local_addr_named, LOCALADDR},
    {"udp4.rebind", udp4_rebind, 0},
    {"udp4.eaddrinuse", udp4_eaddrinuse, 0},
    {"udp4.eaddrinuse_any", udp4_eaddrinuse_any, 0},
    {"udp4.reuseaddr", udp4_reuseaddr, 0},
    {"udp4.reuseport", udp4_reuseport, 0},
    {"udp4.port_freed_by_close", udp4_port_freed_by_close, 0},
    {"udp4.port80", udp4_port80, 0},
    {"udp6.loopback", udp6_loopback, 0},
    {"udp6.any", udp6_any, 0},
    {"udp6.named_port", udp6_named_port, 0},
    {"udp6.v4mapped", udp6_v4mapped, 0},
    {"udp6.len23", udp6_len23, 0},
    {"udp6.nonlocal", udp6_nonlocal, 0},
    {"unix.path", unix_path, 0},
    {"unix.umask_027", unix_umask_027, 0},
    {"unix.umask_0", unix_umask_0, 0},
    {"unix.umask_077", unix_umask_077, 0},
    {"unix.umask_777", unix_umask_777, 0},
    {"unix.dgram_umask_027", unix_dgram_umask_027, 0},
    {"unix.seqpacket_umask_007", unix_seqpacket_umask_007, 0},
    {"unix.fchmod_before_bind", unix_fchmod_before_bind, 0},
    {"unix.setgid_dir", unix_setgid_dir, 0},
    {"unix.owner_nobody", unix_owner_nobody, 0},
    {"unix.dir_readonly", unix_dir_readonly, 0},
    {"unix.dir_not_writable_nobody", unix_dir_not_writable_nobody, 0},
    {"unix.dir_not_searchable_nobody", unix_dir_not_searchable_nobody, 0},
    {"unix.dir_readonly_no_capability", unix_dir_readonly_no_capability, 0},
    {"unix.fsuid_nobody", unix_fsuid_nobody, 0},
    {"unix.supplementary_group", unix_supplementary_group, 0},
    {"unix.thread_cwd_umask", unix_thread_cwd_umask, 0},
    {"unix.relative", unix_relative, 0},
    {"unix.relative_dotdot", unix_relative_dotdot, 0},
    {"unix.relative_cwd_removed", unix_relative_cwd_removed, 0},
    {"unix.chroot", unix_chroot, 0},
    {"unix.exists_file", unix_exists_file, 0},
    {"unix.exists_socket", unix_exists_socket, 0},
    {"unix.exists_dangling_symlink", unix_exists_dangling_symlink, 0},
    {"unix.through_symlinked_dir", unix_through_symlinked_dir, 0},
    {"unix.enoent_parent", unix_enoent_parent, 0},
    {"unix.enotdir", unix_enotdir, 0},
    {"unix.directory", unix_directory, 0},
    {"unix.abstract_empty", unix_abstract_empty, 0},
    {"unix.rebind", unix_rebind, 0},
    {"unix.bind_after_listen", unix_bind_after_listen, 0},
    {"unix.len0", unix_len0, 0},
    {"unix.len1", unix_len1, 0},
    {"unix.len110", unix_len110, 0},
    {"unix.len111", unix_len111, 0},
    {"unix.len128", unix_len128, 0},
    {"unix.len129", unix_len129, 0},
    {"unix.path_108_no_nul", unix_path_108_no_nul, 0},
    {"unix.exact_length", unix_exact_length, 0},
    {"unix.short_length", unix_short_length, 0},
    {"unix.family_inet", unix_family_inet, 0},
    {"unix.family_unspec", unix_family_unspec, 0},
    {"unix.abstract", unix_abstract, 0},
    {"unix.abstract_in_use", unix_abstract_in_use, 0},
    {"unix.abstract_prefix", unix_abstract_prefix, 0},
    {"unix.abstract_dgram", unix_abstract_dgram, 0},
    {"unix.autobind", unix_autobind, 0},
    {"unix.autobind_dgram", unix_autobind_dgram, 0},
    {"unix.autobind_then_path", unix_autobind_then_path, 0},
    {"unix.passcred_bind", unix_passcred_bind, 0},
    {"unix.listen_unbound", unix_listen_unbound, 0},
    {"unix.listen_seqpacket", unix_listen_seqpacket, 0},
    {"unix.listen_dgram", unix_listen_dgram, 0},
    {"unix.listen_socketpair", unix_listen_socketpair, 0},
};
#define NCASES ((int)(sizeof cases / sizeof cases[0]))

/* skiplocal skips the LOCALADDR cases when BIND_LOCAL4 names no address. */
static int skiplocal(const struct kase *k) { return (k->flags & LOCALADDR) && !getenv("BIND_LOCAL4"); }

int main(int argc, char **argv) { return conformance_main("bind", argc, argv, cases, NCASES, skiplocal); }
