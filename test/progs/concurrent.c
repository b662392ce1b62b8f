/*
 * concurrent: one thread makes a blocking connect that hangs (a listener
 * whose accept queue is full drops its SYN; SO_SNDTIMEO ends it after 2 s)
 * while the main thread makes COUNT quick connects to a listener that
 * accepts. Under the sandbox the hung connect must not hold up the others:
 * prints "quick: ok=N in time" when all COUNT finished within 1 s, then how
 * the hung connect ended.
 *
 *   concurrent COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "latency.h"

static struct sockaddr_in listener(int backlog) {
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(l, (struct sockaddr *)&sa, len) || listen(l, backlog) || getsockname(l, (struct sockaddr *)&sa, &len)) {
		perror("listener");
		exit(2);
	}
	return sa;
}

static struct sockaddr_in full;
static const char *hung = "?";
static volatile int started;

static void *hang(void *arg) {
	(void)arg;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = {.tv_sec = 2};
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	started = 1;
	hung = connect(fd, (struct sockaddr *)&full, sizeof full) == 0 ? "ok" : strerrorname_np(errno);
	return NULL;
}

int main(int argc, char **argv) {
	int count = argc > 1 ? atoi(argv[1]) : 20;
	full = listener(0);
	for (int i = 0; i < 2; i++) {
		int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		connect(f, (struct sockaddr *)&full, sizeof full);
	}
	usleep(50000); /* the accept queue is full: further SYNs are dropped */
	struct sockaddr_in open = listener(4096);
	pthread_t t;
	pthread_create(&t, NULL, hang, NULL);
	while (!started)
		usleep(1000);
	usleep(100000); /* the hung connect is now trapped and blocked */
	long long t0 = now_ns();
	int ok = 0;
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ok += connect(fd, (struct sockaddr *)&open, sizeof open) == 0;
		close(fd);
	}
	long long took = now_ns() - t0;
	printf("quick: ok=%d %s\n", ok, took < 1000000000LL ? "in time" : "held up");
	pthread_join(t, NULL);
	printf("hung: %s\n", hung);
	return 0;
}
