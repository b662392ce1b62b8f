/*
 * alarmconnect: blocking connects that block — to a listener whose backlog
 * is full — interrupted by a timer signal, the classic way C programs put a
 * timeout on connect. Without SA_RESTART connect must fail with EINTR; with
 * SA_RESTART it must carry on and succeed once a thread accepts. Prints one
 * line per case; the output must be the same natively and under the
 * sandbox.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

static volatile sig_atomic_t handled;
static void onalrm(int sig) { (void)sig; handled = 1; }

static void arm(int restart, int ms) {
	struct sigaction act = {.sa_handler = onalrm, .sa_flags = restart ? SA_RESTART : 0};
	sigemptyset(&act.sa_mask);
	sigaction(SIGALRM, &act, NULL);
	struct itimerval it = {.it_value = {ms / 1000, (ms % 1000) * 1000}};
	setitimer(ITIMER_REAL, &it, NULL);
	handled = 0;
}

static const char *name(int r) { return r == 0 ? "ok" : strerrorname_np(errno); }

struct later {
	int fd, ms;
};

/* acceptLater accepts one connection after a delay, making room. */
static void *acceptLater(void *arg) {
	struct later *l = arg;
	usleep(l->ms * 1000);
	int c = accept(l->fd, NULL, NULL);
	(void)c;
	return NULL;
}

/* fullUnix returns a unix listener whose backlog is full. */
static int fullUnix(struct sockaddr_un *su) {
	int l = socket(AF_UNIX, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)su, sizeof *su) || listen(l, 0)) {
		perror("unix listener");
		exit(2);
	}
	for (int i = 0; i < 2; i++) {
		int f = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(f, (struct sockaddr *)su, sizeof *su);
	}
	return l;
}

/* fullTCP returns a loopback TCP listener whose accept queue is full, so
   that new SYNs are dropped and a connect blocks. */
static int fullTCP(struct sockaddr_in *sa) {
	socklen_t len = sizeof *sa;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	sa->sin_family = AF_INET;
	sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(l, (struct sockaddr *)sa, len) || listen(l, 0) || getsockname(l, (struct sockaddr *)sa, &len)) {
		perror("tcp listener");
		exit(2);
	}
	for (int i = 0; i < 2; i++) {
		int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(f, (struct sockaddr *)sa, sizeof *sa);
	}
	usleep(50000); /* let the handshakes land in the queue */
	return l;
}

int main(void) {
	char dir[] = "/tmp/alarmconnect-XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	struct sockaddr_un su = {.sun_family = AF_UNIX};

	snprintf(su.sun_path, sizeof su.sun_path, "%s/a", dir);
	fullUnix(&su);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	arm(0, 200);
	int r = connect(fd, (struct sockaddr *)&su, sizeof su);
	printf("unix, no SA_RESTART: %s handler=%d\n", name(r), handled);

	snprintf(su.sun_path, sizeof su.sun_path, "%s/b", dir);
	struct later l = {fullUnix(&su), 400};
	pthread_t t;
	pthread_create(&t, NULL, acceptLater, &l);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	arm(1, 100);
	r = connect(fd, (struct sockaddr *)&su, sizeof su);
	printf("unix, SA_RESTART: %s handler=%d\n", name(r), handled);
	pthread_join(t, NULL);

	struct sockaddr_in sa;
	fullTCP(&sa);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	arm(0, 200);
	r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
	printf("tcp, no SA_RESTART: %s handler=%d\n", name(r), handled);

	unlink(su.sun_path);
	snprintf(su.sun_path, sizeof su.sun_path, "%s/a", dir);
	unlink(su.sun_path);
	rmdir(dir);
	return 0;
}
