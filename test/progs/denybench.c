/*
 * denybench: time COUNT connects to 127.0.0.1:PORT on one TCP socket and
 * print the median and 90th percentile in nanoseconds. Natively PORT is
 * closed (each connect is refused: a SYN and a RST on the loopback); under
 * a deny-all policy no connect is made at all, so the time is the
 * supervisor's round trip.
 *
 *   denybench PORT COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "latency.h"

int main(int argc, char **argv) {
	if (argc != 3) {
		fprintf(stderr, "usage: denybench PORT COUNT\n");
		return 2;
	}
	int count = atoi(argv[2]);
	if (count < 1)
		count = 1;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(atoi(argv[1]))};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	long long *d = malloc(sizeof *d * count);
	for (int i = 0; i < count; i++) {
		long long t0 = now_ns();
		if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0) {
			fprintf(stderr, "denybench: connect succeeded: something listens on port %s\n", argv[1]);
			return 1;
		}
		d[i] = now_ns() - t0;
	}
	report(d, count);
	return 0;
}
