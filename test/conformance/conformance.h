/*
 * conformance.h: what the conformance programs (connect.c, send.c) share —
 * the results ("case: RESULT" lines), addresses, sockets, a SIGALRM and a
 * helper thread for the interrupted-call cases, running a step as another
 * user, and the driver that runs each case in a child process of its own
 * with a time limit.
 *
 * A program includes it, defines its cases (CASE) and its table of them
 * (struct kase), and calls conformance_main from main. The program's name
 * (PROG) prefixes its messages, its temporary directory and its abstract
 * socket names. Its functions are static inline only so that a program
 * need not use them all.
 */
#ifndef CONFORMANCE_H
#define CONFORMANCE_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/if_packet.h>
#include <linux/netlink.h>
#include <net/ethernet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CASE_TIMEOUT_MS 2000
#define NOBODY 65534

static const char *progname;  /* PROG, for messages and names */
static char topdir[64];       /* /tmp/PROG-conformance-XXXXXX */
static char casedir[80];      /* topdir/NN: this case's own directory */
static char result[512];      /* what the case prints */

/* --- results -------------------------------------------------------------- */

static inline const char *ename(int e) {
	static char buf[16];
	const char *n = strerrorname_np(e);
	if (n)
		return n;
	snprintf(buf, sizeof buf, "errno%d", e);
	return buf;
}

/* res turns a syscall's return into "ok" or its errno's name. */
static inline const char *res(int r) { return r == 0 ? "ok" : ename(errno); }

/* stepf appends one comma-separated step to the case's result; step
   appends a plain string. */
__attribute__((format(printf, 1, 2))) static inline void stepf(const char *fmt, ...) {
	size_t n = strlen(result);
	if (n && n < sizeof result - 1)
		result[n++] = ',';
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(result + n, sizeof result - n, fmt, ap);
	va_end(ap);
}
static inline void step(const char *s) { stepf("%s", s); }

static pid_t mainpid;
static int madedir;
static inline void cleanup(void);

/* die ends a case whose setup failed (not a call under test): the case
   prints "setup-error"; in the main process it ends the run. */
static inline void die(const char *what) {
	fprintf(stderr, "%s: %s: %s\n", progname, what, strerror(errno));
	if (getpid() != mainpid)
		_exit(3);
	if (madedir)
		cleanup();
	exit(2);
}

/* --- addresses -------------------------------------------------------------- */

static inline struct sockaddr_in in4(const char *addr, int port) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		die(addr);
	return sa;
}

static inline struct sockaddr_in6 in6(const char *addr, int port) {
	struct sockaddr_in6 sa = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
	if (inet_pton(AF_INET6, addr, &sa.sin6_addr) != 1)
		die(addr);
	return sa;
}

/* upath names NAME in the case's directory. */
static inline struct sockaddr_un upath(const char *name) {
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	if ((size_t)snprintf(su.sun_path, sizeof su.sun_path, "%s/%s", casedir, name) >= sizeof su.sun_path)
		die("unix path too long");
	return su;
}

/* abstract names NAME in the abstract namespace (made unique by the pid)
   and returns the address's length. */
static inline socklen_t abstract(struct sockaddr_un *su, const char *name) {
	memset(su, 0, sizeof *su);
	su->sun_family = AF_UNIX;
	snprintf(su->sun_path + 1, sizeof su->sun_path - 1, "%s-conformance-%d-%s", progname, (int)getpid(), name);
	return offsetof(struct sockaddr_un, sun_path) + 1 + strlen(su->sun_path + 1);
}

/* opathfile creates the file NAME in the case's directory and returns an
   O_PATH fd of it: a descriptor, but of no file that can be read, written
   or sent on. */
static inline int opathfile(const char *name) {
	struct sockaddr_un f = upath(name);
	close(open(f.sun_path, O_CREAT | O_WRONLY, 0600));
	int fd = open(f.sun_path, O_PATH);
	if (fd < 0)
		die("open O_PATH");
	return fd;
}

/* --- memory a call cannot read: its EFAULT cases --------------------------- */

/* unmapped returns the address of a page that is not mapped. */
static inline void *unmapped(void) {
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	munmap(p, 4096);
	return p;
}

/* guarded returns LEN readable bytes that end where a PROT_NONE page starts. */
static inline char *guarded(size_t len) {
	char *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED || mprotect(p + 4096, 4096, PROT_NONE))
		die("mmap");
	memset(p, 'g', 4096);
	return p + 4096 - len;
}

/* --- sockets and listeners ------------------------------------------------- */

static inline int sock(int family, int type) {
	int fd = socket(family, type, 0);
	if (fd < 0)
		die("socket");
	return fd;
}

static inline void setint(int fd, int level, int opt, int v) {
	if (setsockopt(fd, level, opt, &v, sizeof v))
		die("setsockopt");
}

/* v6only returns an AF_INET6 socket that refuses IPv4. */
static inline int v6only(int type) {
	int fd = sock(AF_INET6, type);
	setint(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
	return fd;
}

static inline int boundport(int fd) {
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(fd, (void *)&ss, &len))
		die("getsockname");
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* listen4 opens a TCP listener on ADDR (a loopback address) and an
   ephemeral port, and returns its fd; *port gets the port. */
static inline int listen4(const char *addr, int backlog, int *port) {
	struct sockaddr_in sa = in4(addr, 0);
	int fd = sock(AF_INET, SOCK_STREAM);
	if (bind(fd, (void *)&sa, sizeof sa) || listen(fd, backlog))
		die("listen4");
	*port = boundport(fd);
	return fd;
}

static inline int listen6(int backlog, int *port) {
	struct sockaddr_in6 sa = in6("::1", 0);
	int fd = v6only(SOCK_STREAM);
	if (bind(fd, (void *)&sa, sizeof sa) || listen(fd, backlog))
		die("listen6");
	*port = boundport(fd);
	return fd;
}

/* freeport returns a loopback port of FAMILY and TYPE that nothing is
   bound to: one the kernel handed out and that was closed again (nothing
   else runs in the namespace to take it). */
static inline int freeport(int family, int type) {
	int fd = sock(family, type), port;
	if (family == AF_INET) {
		struct sockaddr_in sa = in4("127.0.0.1", 0);
		if (bind(fd, (void *)&sa, sizeof sa))
			die("bind");
	} else {
		struct sockaddr_in6 sa = in6("::1", 0);
		if (bind(fd, (void *)&sa, sizeof sa))
			die("bind");
	}
	port = boundport(fd);
	close(fd);
	return port;
}

/* closedport is a TCP port nothing listens on: a connect to it is refused. */
static inline int closedport(int family) { return freeport(family, SOCK_STREAM); }

/* unixbound binds a unix socket of TYPE to SU and, when backlog >= 0,
   listens; it returns the fd. */
static inline int unixbound(int type, const struct sockaddr_un *su, socklen_t len, int backlog) {
	int fd = sock(AF_UNIX, type);
	if (bind(fd, (const void *)su, len) || (backlog >= 0 && listen(fd, backlog)))
		die("unix bind");
	return fd;
}

/* --- signals: a SIGALRM 100 ms from now, with or without SA_RESTART ------- */

static volatile sig_atomic_t handled;
static inline void onalarm(int sig) {
	(void)sig;
	handled = 1;
}

static inline void alarm100ms(int flags) {
	struct sigaction sa = {.sa_handler = onalarm, .sa_flags = flags};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL))
		die("sigaction");
	struct itimerval it = {.it_value = {.tv_usec = 100000}};
	if (setitimer(ITIMER_REAL, &it, NULL))
		die("setitimer");
}

/* afterhandler runs FN(ARG) on a thread of its own 50 ms after the SIGALRM
   handler ran (or after 1.5 s without it), so that a call blocked in the
   main thread, and restarted after the handler, can complete. SIGALRM is
   blocked in that thread, so the signal goes to the thread making the
   call. joinhandler returns FN's result. */
struct later {
	void *(*fn)(void *);
	void *arg;
};
static inline void *runlater(void *p) {
	struct later *l = p;
	for (int i = 0; i < 1500 && !handled; i++)
		usleep(1000);
	usleep(50000);
	return l->fn(l->arg);
}
static inline pthread_t afterhandler(struct later *l) {
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &set, &old);
	pthread_t t;
	if (pthread_create(&t, NULL, runlater, l))
		die("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return t;
}
static inline void *joinhandler(pthread_t t) {
	void *r;
	pthread_join(t, &r);
	return r;
}

/* --- another user --------------------------------------------------------- */

/* asuser runs FN(ARG) in a child running as UID/GID (root keeps its
   groups and capabilities; anyone else has no supplementary group) and
   returns the string FN returned there. A child whose setup failed (die)
   ends the case as a setup error. */
static inline const char *asuser(uid_t uid, const char *(*fn)(const void *), const void *arg) {
	static char r[128];
	int p[2];
	if (pipe(p))
		die("pipe");
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		const char *s;
		if (uid != 0 && (setgroups(0, NULL) || setgid(uid) || setuid(uid)))
			s = "setuid-failed";
		else
			s = fn(arg);
		if (write(p[1], s, strlen(s)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	ssize_t n = read(p[0], r, sizeof r - 1);
	r[n > 0 ? n : 0] = 0;
	if (n <= 0)
		snprintf(r, sizeof r, "child-died");
	close(p[0]);
	int status;
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 3)
		_exit(3);
	return r;
}

/* --- the cases and their driver ----------------------------------------------- */

#define CASE(fn) static void fn(void)

struct kase {
	const char *name;
	void (*fn)(void);
	int flags; /* the program's own: see its skip function */
};

static inline long long nowms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* runcase runs case k (the i-th) in a child with a time limit and prints
   its line; it returns 0, or 1 when the case did not come to its end. */
static inline int runcase(const struct kase *k, int i) {
	snprintf(casedir, sizeof casedir, "%s/%02d", topdir, i);
	if (mkdir(casedir, 0711) || chmod(casedir, 0711)) /* nobody may search it */
		die("mkdir");
	int p[2];
	if (pipe(p))
		die("pipe");
	fflush(stdout);
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		close(p[0]);
		result[0] = 0;
		k->fn();
		if (write(p[1], result, strlen(result)) < 0)
			_exit(4);
		_exit(0);
	}
	close(p[1]);
	char out[sizeof result] = "";
	size_t n = 0;
	long long deadline = nowms() + CASE_TIMEOUT_MS;
	int timedout = 0;
	for (;;) {
		long long left = deadline - nowms();
		struct pollfd pf = {.fd = p[0], .events = POLLIN};
		if (left <= 0 || poll(&pf, 1, (int)left) == 0) {
			timedout = 1;
			break;
		}
		ssize_t r = read(p[0], out + n, sizeof out - 1 - n);
		if (r <= 0)
			break;
		n += r;
	}
	out[n] = 0;
	close(p[0]);
	if (timedout)
		kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	const char *line = out;
	if (timedout)
		line = "TIMEOUT";
	else if (WIFSIGNALED(status))
		line = sigabbrev_np(WTERMSIG(status)) ? sigabbrev_np(WTERMSIG(status)) : "killed";
	else if (WEXITSTATUS(status) != 0)
		line = "setup-error";
	printf("%s: %s\n", k->name, line);
	return line != out;
}

static inline void cleanup(void) {
	pid_t pid = fork();
	if (pid == 0) {
		execlp("rm", "rm", "-rf", "--", topdir, (char *)NULL);
		_exit(127);
	}
	int status;
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fprintf(stderr, "%s: could not remove %s\n", progname, topdir);
}

/* conformance_main runs program PROG's cases: all of them, or those argv
   names (in the table's order), or with --list prints their names. A case
   for which skip (when not NULL) returns nonzero prints "skipped". Exit
   status: 0 when every case ran to its end, 1 when one timed out, crashed
   or could not set itself up, 2 on a usage error. */
static inline int conformance_main(const char *prog, int argc, char **argv, const struct kase *cases, int ncases,
                            int (*skip)(const struct kase *)) {
	progname = prog;
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (int i = 0; i < ncases; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	int *want = calloc(ncases, sizeof *want);
	if (!want)
		die("calloc");
	for (int i = 0; i < ncases; i++)
		want[i] = argc == 1;
	for (int a = 1; a < argc; a++) {
		int found = 0;
		for (int i = 0; i < ncases; i++)
			if (strcmp(argv[a], cases[i].name) == 0)
				want[i] = found = 1;
		if (!found) {
			fprintf(stderr, "%s: no case %s (try --list)\nusage: %s [--list | CASE...]\n", prog, argv[a], prog);
			return 2;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	mainpid = getpid();
	snprintf(topdir, sizeof topdir, "/tmp/%s-conformance-XXXXXX", prog);
	if (!mkdtemp(topdir))
		die("mkdtemp");
	madedir = 1;
	if (chmod(topdir, 0711)) /* nobody may search it */
		die("chmod");
	int failed = 0;
	for (int i = 0; i < ncases; i++) {
		if (!want[i])
			continue;
		if (skip && skip(&cases[i])) {
			printf("%s: skipped\n", cases[i].name);
			continue;
		}
		failed |= runcase(&cases[i], i);
	}
	fflush(stdout);
	cleanup();
	free(want);
	return failed;
}

#endif
