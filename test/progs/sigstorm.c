/*
 * sigstorm: connects COUNT times while an interval timer fires SIGALRM
 * every 20 µs at a handler installed with SA_RESTART, as Go's runtime does
 * with SIGURG. Under the sandbox many of those signals land while a connect
 * is trapped; every connect must still end as Linux's own (restarted)
 * connect does. Prints one summary line per kind of connect; the output
 * must be the same natively and under the sandbox.
 *
 *   sigstorm COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t signals;
static void onalrm(int sig) { (void)sig; signals++; }

static void *acceptor(void *arg) {
	int l = *(int *)arg;
	for (;;) {
		int c = accept(l, NULL, NULL);
		if (c < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		close(c);
	}
}

static const char *name(int e) { return e ? strerrorname_np(e) : "ok"; }

/* tally counts results by errno and prints "label: E=N ..." */
static void tally(const char *label, int *r) {
	printf("%s:", label);
	for (int e = 0; e < 200; e++)
		if (r[e])
			printf(" %s=%d", name(e), r[e]);
	printf("\n");
}

int main(int argc, char **argv) {
	int count = argc > 1 ? atoi(argv[1]) : 500;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int tl = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(tl, (struct sockaddr *)&sa, len) || listen(tl, 4096) || getsockname(tl, (struct sockaddr *)&sa, &len)) {
		perror("tcp listener");
		return 2;
	}
	char dir[] = "/tmp/sigstorm-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 2;
	}
	struct sockaddr_un su = {.sun_family = AF_UNIX};
	snprintf(su.sun_path, sizeof su.sun_path, "%s/s", dir);
	int ul = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(ul, (struct sockaddr *)&su, sizeof su) || listen(ul, 4096)) {
		perror("unix listener");
		return 2;
	}
	pthread_t t1, t2;
	pthread_create(&t1, NULL, acceptor, &tl);
	pthread_create(&t2, NULL, acceptor, &ul);

	struct sigaction act = {.sa_handler = onalrm, .sa_flags = SA_RESTART};
	sigemptyset(&act.sa_mask);
	sigaction(SIGALRM, &act, NULL);
	/* Only this thread takes the signal, like the thread Go preempts. */
	sigset_t block;
	sigemptyset(&block);
	sigaddset(&block, SIGALRM);
	pthread_sigmask(SIG_BLOCK, &block, NULL);
	pthread_sigmask(SIG_UNBLOCK, &block, NULL);
	struct itimerval it = {.it_interval = {0, 20}, .it_value = {0, 20}};
	setitimer(ITIMER_REAL, &it, NULL);

	int tcpBlock[200] = {0}, tcpNonblockFirst[200] = {0}, tcpNonblockEnd[200] = {0}, unixBlock[200] = {0};
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
		tcpBlock[r ? errno : 0]++;
		close(fd);

		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
		int e = r ? errno : 0;
		tcpNonblockFirst[e]++;
		if (e == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			while (poll(&p, 1, 5000) < 0 && errno == EINTR)
				;
			/* The second connect after completion: 0 once. */
			r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
			tcpNonblockEnd[r ? errno : 0]++;
		}
		close(fd);

		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		r = connect(fd, (struct sockaddr *)&su, sizeof su);
		unixBlock[r ? errno : 0]++;
		close(fd);
	}
	struct itimerval off = {0};
	setitimer(ITIMER_REAL, &off, NULL);
	tally("tcp blocking", tcpBlock);
	tally("tcp non-blocking", tcpNonblockFirst);
	tally("tcp non-blocking, connect again once writable", tcpNonblockEnd);
	tally("unix blocking", unixBlock);
	printf("signals: %s\n", signals > 0 ? "delivered" : "none");
	unlink(su.sun_path);
	rmdir(dir);
	return 0;
}
