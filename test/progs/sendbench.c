/*
 * sendbench: time COUNT sends of SIZE bytes and print the median and the
 * 90th percentile in nanoseconds: "median=N p90=N". A thread of its own
 * drains the loopback receiver, so the sends never wait for buffer space
 * for long.
 *
 *   sendbench sendto|sendmsg|stream SIZE COUNT
 *
 * sendto:  an unconnected UDP socket names its destination each time
 *          (the call the sandbox traps and decides);
 * sendmsg: the same through sendmsg with msg_name and two iovecs;
 * stream:  sendmsg without a name on a connected TCP socket (trapped too,
 *          since msg_name is in memory: the pure cost of the copy).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "latency.h"

static int sink;

static void *drain(void *arg) {
	(void)arg;
	static char buf[1 << 16];
	for (;;)
		if (recv(sink, buf, sizeof buf, 0) < 0)
			return NULL;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: sendbench sendto|sendmsg|stream SIZE COUNT\n");
		return 2;
	}
	const char *kind = argv[1];
	size_t size = strtoul(argv[2], NULL, 10);
	int count = atoi(argv[3]);
	if (count < 1)
		count = 1;
	int stream = strcmp(kind, "stream") == 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof sa;
	int fd;
	if (stream) {
		int ln = socket(AF_INET, SOCK_STREAM, 0);
		if (ln < 0 || bind(ln, (struct sockaddr *)&sa, len) || listen(ln, 1) ||
		    getsockname(ln, (struct sockaddr *)&sa, &len)) {
			perror("listen");
			return 2;
		}
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len)) {
			perror("connect");
			return 2;
		}
		sink = accept(ln, NULL, NULL);
	} else {
		sink = socket(AF_INET, SOCK_DGRAM, 0);
		int big = 8 << 20;
		setsockopt(sink, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
		if (sink < 0 || bind(sink, (struct sockaddr *)&sa, len) || getsockname(sink, (struct sockaddr *)&sa, &len)) {
			perror("bind");
			return 2;
		}
		fd = socket(AF_INET, SOCK_DGRAM, 0);
	}
	pthread_t t;
	pthread_create(&t, NULL, drain, NULL);
	char *buf = calloc(1, size + 1);
	long long *d = malloc(sizeof *d * count);
	for (int i = 0; i < count; i++) {
		long long t0 = now_ns();
		ssize_t n;
		if (strcmp(kind, "sendto") == 0) {
			n = sendto(fd, buf, size, 0, (struct sockaddr *)&sa, sizeof sa);
		} else {
			struct iovec iov[2] = {{buf, size / 2}, {buf + size / 2, size - size / 2}};
			struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
			if (!stream) {
				m.msg_name = &sa;
				m.msg_namelen = sizeof sa;
			}
			n = sendmsg(fd, &m, 0);
		}
		if (n != (ssize_t)size) {
			perror("send");
			return 1;
		}
		d[i] = now_ns() - t0;
	}
	report(d, count);
	return 0;
}
