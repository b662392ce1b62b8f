/*
 * tamper: tries every way a program could tamper with the process that
 * runs it — its parent, which under the sandbox is the supervisor — or
 * leave the network namespace it was given, and prints one line per
 * attempt, "name: ok" or "name: ERRNONAME" (a few lines print other words,
 * see below). The harmful attempts are made harmless should they succeed:
 * signal 0 where a signal would do, SIGSTOP followed by SIGCONT, memory
 * written back as it was read, tracees detached at once.
 *
 *   tamper          attempts against getppid()
 *   tamper parent   forks, and the child makes the attempts against this
 *                   process, which waits for it with a second thread
 *                   running: a plain parent, to show what succeeds natively
 *
 * Lines that are not "ok|ERRNO":
 *   fds: the descriptors the program holds (its own /proc/self/fd, less the
 *        directory's descriptor)
 *   tgkill, tkill-main, tkill-threads, pidfd-thread-signal, proc-fd-open:
 *        one verdict for a set of targets (every thread, every descriptor):
 *        "ok" if any attempt succeeded, else the errno they failed with (a
 *        list if several), "none" if there was no target
 *   netns: "same" if the program's network namespace is the one it
 *        started in after its setns and unshare attempts, else "changed"
 *   proc-owner: the uid that owns the parent's /proc/PID/mem
 *   links: the interfaces of the namespace unshare(CLONE_NEWUSER|
 *        CLONE_NEWNET) gave it
 *   cap-eff, cap-prm, cap-inh, cap-bnd, cap-amb: capability sets, in hex
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/io_uring.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <netinet/in.h>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

/* The same address in the parent when the parent is this program forked
 * (tamper parent); under the sandbox it names nothing known. */
static char scratch[16] = "tamper-scratch";

static const char *result(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void line(const char *name, long r) { printf("%s: %s\n", name, result(r)); }

/* verdict gathers the results of one attempt made on several targets. */
struct verdict {
	int any_ok, n;
	char errs[256];
};

static void verdict_add(struct verdict *v, long r) {
	v->n++;
	if (r >= 0) {
		v->any_ok = 1;
		return;
	}
	const char *e = strerrorname_np(errno);
	if (strstr(v->errs, e) == NULL)
		snprintf(v->errs + strlen(v->errs), sizeof v->errs - strlen(v->errs), "%s%s", v->errs[0] ? "," : "", e);
}

static void verdict_print(const char *name, struct verdict *v) {
	printf("%s: %s\n", name, v->any_ok ? "ok" : v->n == 0 ? "none" : v->errs);
}

/* tids lists /proc/PID/task; returns how many, at most max. */
static int tids(pid_t pid, pid_t *out, int max) {
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/task", pid);
	DIR *d = opendir(path);
	if (d == NULL)
		return 0;
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)) != NULL && n < max)
		if (e->d_name[0] != '.')
			out[n++] = atoi(e->d_name);
	closedir(d);
	return n;
}

static void own_fds(void) {
	DIR *d = opendir("/proc/self/fd");
	if (d == NULL) {
		line("fds", -1);
		return;
	}
	char buf[1024] = "";
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.' && atoi(e->d_name) != dirfd(d))
			snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%.16s", buf[0] ? " " : "", e->d_name);
	closedir(d);
	/* readdir's order is the kernel's, ascending for this directory. */
	printf("fds: %s\n", buf);
}

/* detach ends a trace of pid whatever stop it is in. */
static void detach(pid_t pid, int seized) {
	int st;
	if (seized)
		ptrace(PTRACE_INTERRUPT, pid, 0, 0);
	waitpid(pid, &st, __WALL);
	ptrace(PTRACE_DETACH, pid, 0, 0);
}

static void tracing(pid_t pp) {
	long r = ptrace(PTRACE_ATTACH, pp, 0, 0);
	line("ptrace-attach", r);
	if (r == 0)
		detach(pp, 0);
	r = ptrace(PTRACE_SEIZE, pp, 0, 0);
	line("ptrace-seize", r);
	if (r == 0)
		detach(pp, 1);

	char buf[sizeof scratch];
	struct iovec local = {buf, sizeof buf}, remote = {scratch, sizeof scratch};
	long rd = syscall(SYS_process_vm_readv, pp, &local, 1, &remote, 1, 0);
	line("process-vm-readv", rd);
	/* Write back what was read; with nothing read, a byte from a page
	 * that is never mapped, which the kernel reaches only after its
	 * permission check (EFAULT then means the check passed). */
	if (rd < 0) {
		remote.iov_base = (void *)4096;
		local.iov_len = remote.iov_len = 1;
	}
	line("process-vm-writev", syscall(SYS_process_vm_writev, pp, &local, 1, &remote, 1, 0));
}

static void proc_files(pid_t pp) {
	char path[64];
	/* The /proc files of a process that is not dumpable belong to root
	 * (all but the world-readable directories, /proc/PID itself). */
	struct stat st;
	snprintf(path, sizeof path, "/proc/%d/mem", pp);
	if (stat(path, &st) == 0)
		printf("proc-owner: %u\n", st.st_uid);
	else
		line("proc-owner", -1);
	const char *files[][2] = {{"proc-mem", "mem"}, {"proc-environ", "environ"}};
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "/proc/%d/%s", pp, files[i][1]);
		int fd = open(path, (i == 0 ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		line(files[i][0], fd);
		if (fd >= 0)
			close(fd);
	}
	snprintf(path, sizeof path, "/proc/%d/fd", pp);
	DIR *d = opendir(path);
	line("proc-fd-list", d == NULL ? -1 : 0);
	struct verdict v = {0};
	if (d != NULL) {
		struct dirent *e;
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			/* Non-blocking: a pipe opened for reading must not wait. */
			int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
			/* A descriptor closed since the listing was not opened:
			   no verdict either way (the supervisor closes its copies
			   of the program's descriptors as it goes). */
			if (fd < 0 && errno == ENOENT)
				continue;
			verdict_add(&v, fd);
			if (fd >= 0)
				close(fd);
		}
		closedir(d);
	}
	verdict_print("proc-fd-open", &v);
}

static void signals(pid_t pp) {
	line("kill-0", kill(pp, 0));
	long r = kill(pp, SIGSTOP);
	line("kill-stop", r);
	if (r == 0)
		kill(pp, SIGCONT);

	pid_t t[512];
	int n = tids(pp, t, 512);
	struct verdict tg = {0}, main_tid = {0}, others = {0};
	for (int i = 0; i < n; i++) {
		verdict_add(&tg, syscall(SYS_tgkill, pp, t[i], 0));
		verdict_add(t[i] == pp ? &main_tid : &others, syscall(SYS_tkill, t[i], 0));
	}
	verdict_print("tgkill", &tg);
	verdict_print("tkill-main", &main_tid);
	verdict_print("tkill-threads", &others);

	int pidfd = syscall(SYS_pidfd_open, pp, 0);
	line("pidfd-open", pidfd);
	/* A thread's pidfd names it by its own id, not the supervisor's. */
	int tfd = -1;
	for (int i = 0; i < n && tfd < 0; i++)
		if (t[i] != pp) {
			tfd = syscall(SYS_pidfd_open, t[i], PIDFD_THREAD);
			line("pidfd-thread-open", tfd);
		}
	struct verdict ts = {0};
	if (tfd >= 0)
		verdict_add(&ts, syscall(SYS_pidfd_send_signal, tfd, 0, NULL, 0));
	verdict_print("pidfd-thread-signal", &ts);
	/* A /proc/PID directory serves pidfd_send_signal as a pidfd. */
	char path[64];
	snprintf(path, sizeof path, "/proc/%d", pp);
	int dir = open(path, O_DIRECTORY | O_CLOEXEC);
	line("procfd-signal", dir < 0 ? dir : syscall(SYS_pidfd_send_signal, dir, 0, NULL, 0));

	int any = pidfd >= 0 ? pidfd : tfd;
	long fd = syscall(SYS_pidfd_getfd, any, 0, 0);
	line("pidfd-getfd", fd);
	if (fd >= 0)
		close(fd);
	int opened[] = {pidfd, tfd, dir};
	for (size_t i = 0; i < sizeof opened / sizeof opened[0]; i++)
		if (opened[i] >= 0)
			close(opened[i]);
}

static ino_t netns(void) {
	struct stat st;
	return stat("/proc/self/ns/net", &st) == 0 ? st.st_ino : 0;
}

/* The supervisor's network namespace is the host's in --net sandbox and
 * none: joining it would leave netstack behind. */
static void namespaces(pid_t pp) {
	ino_t start = netns();
	int init = open("/proc/1/ns/net", O_RDONLY | O_CLOEXEC);
	line("open-init-netns", init);
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", pp);
	int parent = open(path, O_RDONLY | O_CLOEXEC);
	line("open-parent-netns", parent);
	line("setns", setns(parent >= 0 ? parent : init, CLONE_NEWNET));
	if (init >= 0)
		close(init);
	if (parent >= 0)
		close(parent);
	line("unshare-net", unshare(CLONE_NEWNET));
	printf("netns: %s\n", netns() == start ? "same" : "changed");
}

static void sockets(void) {
	struct { const char *name; int family, type, proto; } s[] = {
		{"raw-inet", AF_INET, SOCK_RAW, IPPROTO_UDP},
		{"raw-inet6", AF_INET6, SOCK_RAW, IPPROTO_UDP},
		{"packet", AF_PACKET, SOCK_RAW, 0},
	};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) {
		int fd = socket(s[i].family, s[i].type | SOCK_CLOEXEC, s[i].proto);
		line(s[i].name, fd);
		if (fd >= 0)
			close(fd);
	}
	struct io_uring_params p;
	memset(&p, 0, sizeof p);
	long fd = syscall(SYS_io_uring_setup, 4, &p);
	line("io-uring", fd);
	if (fd >= 0)
		close(fd);
}

static void capabilities(void) {
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0) {
		line("capget", -1);
		return;
	}
	unsigned long long bnd = 0, amb = 0;
	for (int c = 0; c < 64; c++) {
		if (prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1)
			bnd |= 1ULL << c;
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, c, 0, 0) == 1)
			amb |= 1ULL << c;
	}
	printf("cap-eff: %016llx\n", (unsigned long long)data[1].effective << 32 | data[0].effective);
	printf("cap-prm: %016llx\n", (unsigned long long)data[1].permitted << 32 | data[0].permitted);
	printf("cap-inh: %016llx\n", (unsigned long long)data[1].inheritable << 32 | data[0].inheritable);
	printf("cap-bnd: %016llx\n", bnd);
	printf("cap-amb: %016llx\n", amb);
}

/* A new user namespace with a network namespace gives the program an empty
 * network: it must hold nothing but a loopback. Last, since it moves the
 * program for good. */
static void empty_netns(void) {
	long r = unshare(CLONE_NEWUSER | CLONE_NEWNET);
	line("unshare-user-net", r);
	if (r < 0)
		return;
	FILE *f = fopen("/proc/self/net/dev", "r");
	char l[512], links[256] = "";
	while (f != NULL && fgets(l, sizeof l, f) != NULL) {
		char *colon = strchr(l, ':');
		if (colon == NULL)
			continue;
		*colon = 0;
		char *name = l + strspn(l, " ");
		snprintf(links + strlen(links), sizeof links - strlen(links), "%s%.16s", links[0] ? " " : "", name);
	}
	if (f != NULL)
		fclose(f);
	printf("links: %s\n", links);
}

static void attempts(pid_t pp) {
	own_fds();
	tracing(pp);
	proc_files(pp);
	signals(pp);
	sockets();
	capabilities();
	namespaces(pp);
	empty_netns();
}

static void *idle(void *arg) {
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

int main(int argc, char **argv) {
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && strcmp(argv[1], "parent") == 0) {
		pthread_t th;
		if (pthread_create(&th, NULL, idle, NULL) != 0)
			return 2;
		pid_t child = fork();
		if (child < 0)
			return 2;
		if (child == 0) {
			attempts(getppid());
			_exit(0);
		}
		int st;
		while (waitpid(child, &st, 0) < 0)
			if (errno != EINTR)
				return 2;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 3;
	}
	attempts(getppid());
	return 0;
}
