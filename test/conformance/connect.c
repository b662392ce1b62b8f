/*
 * connect: the connect(2) conformance program. Each case sets up its own
 * sockets and listeners (127.0.0.1, ::1, unix sockets in a temporary
 * directory, abstract names), makes one or a few connects, and prints
 *
 *     case-name: RESULT
 *
 * where RESULT is "ok" or the errno's name, or a comma-separated sequence
 * for cases of several steps. The output has no ports, fds or times in it,
 * so a native run and a run under the sandbox can be compared line by line.
 *
 * Run it in a network namespace of its own: the ENETUNREACH cases name
 * 198.18.0.1, which must have no route there, and the broadcast case needs
 * a route for 255.255.255.255 only (a veth pair whose both ends stay in the
 * namespace), so nothing leaves the machine with the sandbox or without:
 *
 *     gcc -O2 -Wall -o connect connect.c -lpthread
 *     unshare --net sh -c 'ip link set lo up &&
 *         ip link add v0 type veth peer name v1 && ip link set v0 up &&
 *         ip route add 255.255.255.255/32 dev v0 && exec ./connect'
 *     connect --list       # the case names
 *     connect CASE...      # only these cases
 *
 * It must run as root: one case drops to nobody to meet EACCES.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[] = "/tmp/connect-conformance-XXXXXX";
static int seq;

/* res turns a connect return into "ok" or the errno's name. */
static const char *res(int r) { return r == 0 ? "ok" : strerrorname_np(errno); }

static void die(const char *what) {
	perror(what);
	exit(2);
}

static struct sockaddr_in in4(const char *addr, int port) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	inet_pton(AF_INET, addr, &sa.sin_addr);
	return sa;
}

static struct sockaddr_in6 in6(const char *addr, int port) {
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	inet_pton(AF_INET6, addr, &sa.sin6_addr);
	return sa;
}

/* listen4/listen6 open a TCP listener on the loopback and return its port. */
static int listen4(int backlog, int *fdp) {
	struct sockaddr_in sa = in4("127.0.0.1", 0);
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (void *)&sa, len) || listen(fd, backlog) || getsockname(fd, (void *)&sa, &len))
		die("listen4");
	if (fdp)
		*fdp = fd;
	return ntohs(sa.sin_port);
}

static int listen6(void) {
	struct sockaddr_in6 sa = in6("::1", 0);
	socklen_t len = sizeof sa;
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (void *)&sa, len) || listen(fd, 16) || getsockname(fd, (void *)&sa, &len))
		die("listen6");
	return ntohs(sa.sin6_port);
}

/* closedPort returns a loopback port nothing listens on. */
static int closedPort(int family) {
	struct sockaddr_storage ss = {0};
	socklen_t len = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	ss.ss_family = family;
	if (family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
	int fd = socket(family, SOCK_STREAM, 0);
	if (bind(fd, (void *)&ss, len) || getsockname(fd, (void *)&ss, &len))
		die("closedPort");
	close(fd);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* unixAddr names a fresh path in the temporary directory. */
static struct sockaddr_un unixAddr(const char *base) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	snprintf(su.sun_path, sizeof su.sun_path, "%s/%s%d", dir, base, seq++);
	return su;
}

static struct sockaddr_un unixListener(int type, const char *base, int backlog, int *fdp) {
	struct sockaddr_un su = unixAddr(base);
	int fd = socket(AF_UNIX, type, 0);
	if (fd < 0 || bind(fd, (void *)&su, sizeof su) || (type != SOCK_DGRAM && listen(fd, backlog)))
		die("unixListener");
	if (fdp)
		*fdp = fd;
	return su;
}

static socklen_t abstractListener(const char *name, struct sockaddr_un *su) {
	memset(su, 0, sizeof *su);
	su->sun_family = AF_UNIX;
	snprintf(su->sun_path + 1, sizeof su->sun_path - 1, "%s-%d-%d", name, (int)getpid(), seq++);
	socklen_t len = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(su->sun_path + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (void *)su, len) || listen(fd, 16))
		die("abstractListener");
	return len;
}

static int tcp4(void) { return socket(AF_INET, SOCK_STREAM, 0); }

/* v6only returns an AF_INET6 socket that refuses IPv4. */
static int v6only(int type) {
	int fd = socket(AF_INET6, type, 0), one = 1;
	setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	return fd;
}

/* once connects fd, closes it and says how the connect ended. */
static const char *once(int fd, const void *addr, socklen_t len) {
	const char *r = res(connect(fd, addr, len));
	close(fd);
	return r;
}

#define CASE(name) static void case_##name(char *out)
#define PUT(...) sprintf(out, __VA_ARGS__)

/* --- EBADF ------------------------------------------------------------- */
CASE(ebadf_minus1) { struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", res(connect(-1, (void *)&sa, sizeof sa))); }
CASE(ebadf_closed) {
	int fd = tcp4();
	close(fd);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	PUT("%s", res(connect(fd, (void *)&sa, sizeof sa)));
}
CASE(ebadf_opath) {
	int fd = open("/", O_PATH);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	PUT("%s", once(fd, (void *)&sa, sizeof sa));
}
CASE(ebadf_before_efault) { PUT("%s", res(connect(1000, NULL, 16))); }

/* --- ENOTSOCK, and where it falls among the address checks ------------- */
CASE(enotsock_pipe) {
	int p[2];
	if (pipe(p))
		die("pipe");
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	PUT("%s", res(connect(p[0], (void *)&sa, sizeof sa)));
	close(p[0]), close(p[1]);
}
CASE(enotsock_file) {
	int fd = open("/dev/null", O_RDONLY);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	PUT("%s", once(fd, (void *)&sa, sizeof sa));
}
CASE(efault_before_enotsock) {
	int fd = open("/dev/null", O_RDONLY);
	PUT("%s", once(fd, NULL, 16));
}
CASE(einval_len_before_enotsock) {
	int fd = open("/dev/null", O_RDONLY);
	char buf[256] = {0};
	PUT("%s", once(fd, (void *)buf, 200));
}

/* --- EFAULT ------------------------------------------------------------ */
CASE(efault_null) { int fd = tcp4(); PUT("%s", once(fd, NULL, 16)); }
CASE(efault_unmapped) {
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(p, 4096);
	int fd = tcp4();
	PUT("%s", once(fd, p, 16));
}
CASE(efault_straddles_protnone) {
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(p + 4096, 4096, PROT_NONE);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	memcpy(p + 4096 - 8, &sa, 8);
	int fd = tcp4();
	PUT("%s", once(fd, (void *)(p + 4096 - 8), 16));
	munmap(p, 8192);
}
CASE(len0_null_pointer_is_not_read) { int fd = tcp4(); PUT("%s", once(fd, NULL, 0)); }

/* --- EINVAL: lengths ---------------------------------------------------- */
CASE(einval_len_minus1) { int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, (socklen_t)-1)); }
CASE(einval_len_129) { int fd = tcp4(); char buf[256] = {0}; PUT("%s", once(fd, (void *)buf, 129)); }
CASE(inet_len_128) {
	int port = listen4(16, NULL);
	char buf[128] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", port);
	memcpy(buf, &sa, sizeof sa);
	int fd = tcp4();
	PUT("%s", once(fd, (void *)buf, 128));
}
CASE(einval_tcp_len0) { int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, 0)); }
CASE(einval_tcp_len1) { int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, 1)); }
CASE(einval_udp_len0) { int fd = socket(AF_INET, SOCK_DGRAM, 0); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, 0)); }
CASE(einval_unix_len0) { int fd = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un su = unixAddr("x"); PUT("%s", once(fd, (void *)&su, 0)); }
CASE(einval_inet_len15) { int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, 15)); }
CASE(einval_udp_len15) { int fd = socket(AF_INET, SOCK_DGRAM, 0); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, 15)); }
CASE(einval_inet6_len23) { int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("::1", 9); PUT("%s", once(fd, (void *)&sa, 23)); }
CASE(inet6_len24_rfc2133) {
	int port = listen6();
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	struct sockaddr_in6 sa = in6("::1", port);
	PUT("%s", once(fd, (void *)&sa, 24));
}
CASE(einval_unix_len2) { int fd = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_un su = unixAddr("x"); PUT("%s", once(fd, (void *)&su, 2)); }
CASE(einval_unix_len111) { int fd = socket(AF_UNIX, SOCK_STREAM, 0); char buf[128] = {0}; buf[0] = AF_UNIX; buf[2] = '/'; PUT("%s", once(fd, (void *)buf, 111)); }
CASE(einval_unix_given_inet) { int fd = socket(AF_UNIX, SOCK_STREAM, 0); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(einval_linklocal_no_scope) { int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("fe80::1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }

/* --- EAFNOSUPPORT -------------------------------------------------------- */
CASE(eafnosupport_inet_given_inet6) { int fd = tcp4(); struct sockaddr_in6 sa = in6("::1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(eafnosupport_inet_given_unix) { int fd = tcp4(); char buf[16] = {0}; buf[0] = AF_UNIX; buf[2] = '/'; PUT("%s", once(fd, (void *)buf, 16)); }
CASE(eafnosupport_udp_given_inet6) { int fd = socket(AF_INET, SOCK_DGRAM, 0); struct sockaddr_in6 sa = in6("::1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(eafnosupport_tcp6_given_inet_len28) {
	int fd = socket(AF_INET6, SOCK_STREAM, 0);
	char buf[28] = {0};
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	memcpy(buf, &sa, sizeof sa);
	PUT("%s", once(fd, (void *)buf, 28));
}
CASE(einval_tcp6_given_inet_len16) { int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(udp6_given_inet) { int fd = socket(AF_INET6, SOCK_DGRAM, 0); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(eafnosupport_udp6_v6only_given_inet) {
	int fd = v6only(SOCK_DGRAM);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	PUT("%s", once(fd, (void *)&sa, sizeof sa));
}

/* --- connects that succeed ------------------------------------------------ */
CASE(tcp4_ok) { int port = listen4(16, NULL); int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", port); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(tcp4_sin_zero_garbage) {
	int port = listen4(16, NULL);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	memset(sa.sin_zero, 0xAB, sizeof sa.sin_zero);
	int fd = tcp4();
	PUT("%s", once(fd, (void *)&sa, sizeof sa));
}
CASE(tcp4_any_is_loopback) { int port = listen4(16, NULL); int fd = tcp4(); struct sockaddr_in sa = in4("0.0.0.0", port); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(tcp6_ok) { int port = listen6(); int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("::1", port); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(tcp6_any_is_loopback) { int port = listen6(); int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("::", port); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(tcp6_v4mapped) { int port = listen4(16, NULL); int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("::ffff:127.0.0.1", port); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(udp4_ok) { int fd = socket(AF_INET, SOCK_DGRAM, 0); struct sockaddr_in sa = in4("127.0.0.1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(udp6_ok) { int fd = socket(AF_INET6, SOCK_DGRAM, 0); struct sockaddr_in6 sa = in6("::1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(udp_unspec_disconnects) {
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in sa = in4("127.0.0.1", 9);
	const char *a = res(connect(fd, (void *)&sa, sizeof sa));
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	const char *b = res(connect(fd, &unspec, sizeof unspec));
	struct sockaddr_storage peer;
	socklen_t len = sizeof peer;
	PUT("%s,%s,getpeername=%s", a, b, res(getpeername(fd, (void *)&peer, &len)));
	close(fd);
}
CASE(tcp_unspec_unconnected) { int fd = tcp4(); struct sockaddr unspec = {.sa_family = AF_UNSPEC}; PUT("%s", once(fd, &unspec, sizeof unspec)); }

/* --- state ----------------------------------------------------------------- */
CASE(eisconn) {
	int port = listen4(16, NULL);
	int fd = tcp4();
	struct sockaddr_in sa = in4("127.0.0.1", port);
	const char *a = res(connect(fd, (void *)&sa, sizeof sa));
	PUT("%s,%s", a, res(connect(fd, (void *)&sa, sizeof sa)));
	close(fd);
}
CASE(eisconn_beats_bad_family) {
	int port = listen4(16, NULL);
	int fd = tcp4();
	struct sockaddr_in sa = in4("127.0.0.1", port);
	const char *a = res(connect(fd, (void *)&sa, sizeof sa));
	struct sockaddr_in6 bad = in6("::1", port);
	PUT("%s,%s", a, res(connect(fd, (void *)&bad, sizeof bad)));
	close(fd);
}
CASE(nonblocking_sequence) {
	int port = listen4(16, NULL);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	struct sockaddr_in sa = in4("127.0.0.1", port);
	const char *a = res(connect(fd, (void *)&sa, sizeof sa));
	struct pollfd p = {.fd = fd, .events = POLLOUT};
	poll(&p, 1, 2000);
	const char *b = res(connect(fd, (void *)&sa, sizeof sa));
	PUT("%s,%s,%s", a, b, res(connect(fd, (void *)&sa, sizeof sa)));
	close(fd);
}
/* fullListener4 returns the address of a loopback listener whose accept
   queue is full, so that it drops new SYNs and a connect to it hangs. */
static struct sockaddr_in fullListener4(void) {
	struct sockaddr_in sa = in4("127.0.0.1", listen4(0, NULL));
	for (int i = 0; i < 2; i++) {
		int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(f, (void *)&sa, sizeof sa);
	}
	usleep(50000); /* let both handshakes land in the queue */
	return sa;
}
CASE(ealready_syn_dropped) {
	struct sockaddr_in sa = fullListener4();
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	const char *a = res(connect(fd, (void *)&sa, sizeof sa));
	PUT("%s,%s", a, res(connect(fd, (void *)&sa, sizeof sa)));
	close(fd);
}

/* A blocking connect whose SO_SNDTIMEO runs out gives up with EINPROGRESS. */
CASE(sndtimeo_expires) {
	struct sockaddr_in sa = fullListener4();
	int fd = tcp4();
	struct timeval tv = {.tv_usec = 100000};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	PUT("%s", once(fd, (void *)&sa, sizeof sa));
}

/* --- refused, unreachable, not found --------------------------------------- */
CASE(econnrefused_tcp4) { int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", closedPort(AF_INET)); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(econnrefused_tcp6) { int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("::1", closedPort(AF_INET6)); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(econnrefused_port0) { int fd = tcp4(); struct sockaddr_in sa = in4("127.0.0.1", 0); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(enetunreach_no_route) { int fd = tcp4(); struct sockaddr_in sa = in4("198.18.0.1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(enetunreach_tcp6_multicast) { int fd = socket(AF_INET6, SOCK_STREAM, 0); struct sockaddr_in6 sa = in6("ff02::1", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(enetunreach_v6only_mapped) {
	int fd = v6only(SOCK_STREAM);
	struct sockaddr_in6 sa = in6("::ffff:127.0.0.1", 9);
	PUT("%s", once(fd, (void *)&sa, sizeof sa));
}
CASE(eacces_udp_broadcast) { int fd = socket(AF_INET, SOCK_DGRAM, 0); struct sockaddr_in sa = in4("255.255.255.255", 9); PUT("%s", once(fd, (void *)&sa, sizeof sa)); }
CASE(eaddrnotavail_same_4tuple) {
	int port = listen4(16, NULL);
	struct sockaddr_in local = in4("127.0.0.1", closedPort(AF_INET)), sa = in4("127.0.0.1", port);
	const char *r[2];
	for (int i = 0; i < 2; i++) {
		int fd = tcp4(), one = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		if (bind(fd, (void *)&local, sizeof local))
			die("bind");
		r[i] = res(connect(fd, (void *)&sa, sizeof sa));
	}
	PUT("%s,%s", r[0], r[1]);
}

/* --- unix -------------------------------------------------------------------- */
CASE(unix_stream_ok) { struct sockaddr_un su = unixListener(SOCK_STREAM, "s", 16, NULL); int fd = socket(AF_UNIX, SOCK_STREAM, 0); PUT("%s", once(fd, (void *)&su, sizeof su)); }
CASE(unix_exact_length) {
	struct sockaddr_un su = unixListener(SOCK_STREAM, "s", 16, NULL);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", once(fd, (void *)&su, offsetof(struct sockaddr_un, sun_path) + strlen(su.sun_path)));
}
CASE(unix_dgram_ok) { struct sockaddr_un su = unixListener(SOCK_DGRAM, "d", 0, NULL); int fd = socket(AF_UNIX, SOCK_DGRAM, 0); PUT("%s", once(fd, (void *)&su, sizeof su)); }
CASE(unix_dgram_unspec) {
	struct sockaddr_un su = unixListener(SOCK_DGRAM, "d", 0, NULL);
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
	const char *a = res(connect(fd, (void *)&su, sizeof su));
	struct sockaddr unspec = {.sa_family = AF_UNSPEC};
	PUT("%s,%s", a, res(connect(fd, &unspec, sizeof unspec)));
	close(fd);
}
CASE(unix_relative_path) {
	struct sockaddr_un su = unixListener(SOCK_STREAM, "rel", 16, NULL);
	char cwd[4096];
	if (!getcwd(cwd, sizeof cwd) || chdir(dir))
		die("chdir");
	struct sockaddr_un rel = {.sun_family = AF_UNIX};
	strcpy(rel.sun_path, strrchr(su.sun_path, '/') + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", once(fd, (void *)&rel, sizeof rel));
	if (chdir(cwd))
		die("chdir back");
}
CASE(unix_symlink) {
	struct sockaddr_un su = unixListener(SOCK_STREAM, "target", 16, NULL);
	struct sockaddr_un link = unixAddr("link");
	if (symlink(su.sun_path, link.sun_path))
		die("symlink");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", once(fd, (void *)&link, sizeof link));
}
CASE(unix_abstract_ok) { struct sockaddr_un su; socklen_t len = abstractListener("conf", &su); int fd = socket(AF_UNIX, SOCK_STREAM, 0); PUT("%s", once(fd, (void *)&su, len)); }
CASE(unix_abstract_missing) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	snprintf(su.sun_path + 1, sizeof su.sun_path - 1, "conformance-missing-%d", (int)getpid());
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", once(fd, (void *)&su, offsetof(struct sockaddr_un, sun_path) + 1 + strlen(su.sun_path + 1)));
}
CASE(enoent_unix_missing) { struct sockaddr_un su = unixAddr("missing"); int fd = socket(AF_UNIX, SOCK_STREAM, 0); PUT("%s", once(fd, (void *)&su, sizeof su)); }
CASE(enotdir_unix_through_file) {
	struct sockaddr_un f = unixAddr("file");
	close(open(f.sun_path, O_CREAT | O_WRONLY, 0600));
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	if (strlen(f.sun_path) + 6 > sizeof su.sun_path)
		die("path too long");
	memcpy(su.sun_path, f.sun_path, strlen(f.sun_path));
	strcat(su.sun_path, "/sock");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", once(fd, (void *)&su, sizeof su));
}
CASE(econnrefused_unix_not_listening) {
	struct sockaddr_un su = unixAddr("bound");
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (void *)&su, sizeof su))
		die("bind");
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", res(connect(fd, (void *)&su, sizeof su)));
	close(fd), close(l);
}
CASE(econnrefused_unix_regular_file) {
	struct sockaddr_un su = unixAddr("regular");
	close(open(su.sun_path, O_CREAT | O_WRONLY, 0600));
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("%s", once(fd, (void *)&su, sizeof su));
}
CASE(eprototype_stream_to_dgram) { struct sockaddr_un su = unixListener(SOCK_DGRAM, "d", 0, NULL); int fd = socket(AF_UNIX, SOCK_STREAM, 0); PUT("%s", once(fd, (void *)&su, sizeof su)); }
CASE(eprototype_dgram_to_stream) { struct sockaddr_un su = unixListener(SOCK_STREAM, "s", 16, NULL); int fd = socket(AF_UNIX, SOCK_DGRAM, 0); PUT("%s", once(fd, (void *)&su, sizeof su)); }
CASE(eagain_unix_backlog_full) {
	struct sockaddr_un su = unixListener(SOCK_STREAM, "full", 0, NULL);
	const char *first = "ok";
	for (int i = 0; i < 8; i++) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		int r = connect(fd, (void *)&su, sizeof su);
		if (r != 0) {
			first = res(r);
			break;
		}
	}
	PUT("%s", first);
}
CASE(eisconn_unix) {
	struct sockaddr_un su = unixListener(SOCK_STREAM, "s", 16, NULL);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	const char *a = res(connect(fd, (void *)&su, sizeof su));
	PUT("%s,%s", a, res(connect(fd, (void *)&su, sizeof su)));
	close(fd);
}
/* Root may write any socket; nobody may not write a 0700 directory's. */
CASE(eacces_unix_as_nobody) {
	struct sockaddr_un su = unixListener(SOCK_STREAM, "private", 16, NULL);
	chmod(su.sun_path, 0700);
	chmod(dir, 0755);
	int p[2];
	if (pipe(p))
		die("pipe");
	pid_t pid = fork();
	if (pid == 0) {
		char r[32];
		if (setgroups(0, NULL) || setgid(65534) || setuid(65534))
			snprintf(r, sizeof r, "setuid failed");
		else {
			int fd = socket(AF_UNIX, SOCK_STREAM, 0);
			snprintf(r, sizeof r, "%s", res(connect(fd, (void *)&su, sizeof su)));
		}
		if (write(p[1], r, strlen(r) + 1) < 0)
			_exit(1);
		_exit(0);
	}
	char r[32] = "?";
	close(p[1]);
	if (read(p[0], r, sizeof r) <= 0)
		snprintf(r, sizeof r, "child died");
	waitpid(pid, NULL, 0);
	close(p[0]);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	PUT("nobody=%s,root=%s", r, res(connect(fd, (void *)&su, sizeof su)));
	close(fd);
	chmod(dir, 0700);
}

#define C(name) {#name, case_##name}
static const struct {
	const char *name;
	void (*fn)(char *);
} cases[] = {
    C(ebadf_minus1), C(ebadf_closed), C(ebadf_opath), C(ebadf_before_efault),
    C(enotsock_pipe), C(enotsock_file), C(efault_before_enotsock), C(einval_len_before_enotsock),
    C(efault_null), C(efault_unmapped), C(efault_straddles_protnone), C(len0_null_pointer_is_not_read),
    C(einval_len_minus1), C(einval_len_129), C(inet_len_128), C(einval_tcp_len0), C(einval_tcp_len1),
    C(einval_udp_len0), C(einval_unix_len0), C(einval_inet_len15), C(einval_udp_len15),
    C(einval_inet6_len23), C(inet6_len24_rfc2133), C(einval_unix_len2), C(einval_unix_len111),
    C(einval_unix_given_inet), C(einval_linklocal_no_scope),
    C(eafnosupport_inet_given_inet6), C(eafnosupport_inet_given_unix), C(eafnosupport_udp_given_inet6),
    C(eafnosupport_tcp6_given_inet_len28), C(einval_tcp6_given_inet_len16), C(udp6_given_inet),
    C(eafnosupport_udp6_v6only_given_inet),
    C(tcp4_ok), C(tcp4_sin_zero_garbage), C(tcp4_any_is_loopback), C(tcp6_ok), C(tcp6_any_is_loopback),
    C(tcp6_v4mapped), C(udp4_ok), C(udp6_ok), C(udp_unspec_disconnects), C(tcp_unspec_unconnected),
    C(eisconn), C(eisconn_beats_bad_family), C(nonblocking_sequence), C(ealready_syn_dropped), C(sndtimeo_expires),
    C(econnrefused_tcp4), C(econnrefused_tcp6), C(econnrefused_port0), C(enetunreach_no_route),
    C(enetunreach_tcp6_multicast), C(enetunreach_v6only_mapped), C(eacces_udp_broadcast),
    C(eaddrnotavail_same_4tuple),
    C(unix_stream_ok), C(unix_exact_length), C(unix_dgram_ok), C(unix_dgram_unspec), C(unix_relative_path),
    C(unix_symlink), C(unix_abstract_ok), C(unix_abstract_missing), C(enoent_unix_missing),
    C(enotdir_unix_through_file), C(econnrefused_unix_not_listening), C(econnrefused_unix_regular_file),
    C(eprototype_stream_to_dgram), C(eprototype_dgram_to_stream), C(eagain_unix_backlog_full),
    C(eisconn_unix), C(eacces_unix_as_nobody),
};

static void cleanup(void) {
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "connect: could not remove %s\n", dir);
}

int main(int argc, char **argv) {
	int n = sizeof cases / sizeof cases[0];
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (int i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (!mkdtemp(dir))
		die("mkdtemp");
	atexit(cleanup);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 0; i < n; i++) {
		int wanted = argc == 1;
		for (int a = 1; a < argc; a++)
			wanted |= strcmp(argv[a], cases[i].name) == 0;
		if (!wanted)
			continue;
		char out[256] = "";
		alarm(2); /* no case may hang */
		cases[i].fn(out);
		alarm(0);
		printf("%s: %s\n", cases[i].name, out);
	}
	return 0;
}
