/*
 * connbench: time COUNT TCP connect+close cycles and print the median and
 * the 90th percentile in nanoseconds: "median=N p90=N". Against a loopback
 * listener of its own (a thread accepts and closes), or, given HOST PORT,
 * against that listener.
 *
 *   connbench COUNT [HOST PORT]
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

#include "latency.h"

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

int main(int argc, char **argv) {
	int count = argc > 1 ? atoi(argv[1]) : 1000;
	if (count < 1)
		count = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	if (argc == 4) {
		if (inet_pton(AF_INET, argv[2], &sa.sin_addr) != 1) {
			fprintf(stderr, "connbench: bad address %s\n", argv[2]);
			return 2;
		}
		sa.sin_port = htons(atoi(argv[3]));
	} else {
		listener = socket(AF_INET, SOCK_STREAM, 0);
		if (listener < 0 || bind(listener, (struct sockaddr *)&sa, len) || listen(listener, 4096) ||
		    getsockname(listener, (struct sockaddr *)&sa, &len)) {
			perror("listener");
			return 2;
		}
		pthread_t t;
		pthread_create(&t, NULL, acceptor, NULL);
	}
	long long *d = malloc(sizeof *d * count);
	for (int i = 0; i < count; i++) {
		long long t0 = now_ns();
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
			perror("connect");
			return 1;
		}
		close(fd);
		d[i] = now_ns() - t0;
	}
	report(d, count);
	return 0;
}
