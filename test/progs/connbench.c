/*
 * connbench: time COUNT loopback TCP connect+close cycles against a listener
 * of its own (a thread accepts and closes) and print the median and the 90th
 * percentile in nanoseconds: "median=N p90=N".
 *
 *   connbench COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int listener;

static void *acceptor(void *arg) {
	(void)arg;
	for (;;) {
		int c = accept(listener, NULL, NULL);
		if (c < 0)
			return NULL;
		close(c);
	}
}

static int cmp(const void *a, const void *b) {
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

static long long now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv) {
	int count = argc > 1 ? atoi(argv[1]) : 1000;
	if (count < 1)
		count = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&sa, len) || listen(listener, 4096) ||
	    getsockname(listener, (struct sockaddr *)&sa, &len)) {
		perror("listener");
		return 2;
	}
	pthread_t t;
	pthread_create(&t, NULL, acceptor, NULL);
	long long *d = malloc(sizeof *d * count);
	for (int i = 0; i < count; i++) {
		long long t0 = now();
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			perror("connect");
			return 1;
		}
		close(fd);
		d[i] = now() - t0;
	}
	qsort(d, count, sizeof *d, cmp);
	printf("median=%lld p90=%lld\n", d[count / 2], d[count * 9 / 10]);
	return 0;
}
