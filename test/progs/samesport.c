/*
 * samesport: connect ROUNDS times to HOST:PORT from one source port, each
 * time reading until the server closes first, then closing. The server's
 * side holds each flow in TIME-WAIT; Linux still accepts a new SYN on it
 * (a higher sequence number), so every round connects. Prints one line a
 * round: "round N: ok", or the errno name where connect failed. A connect
 * not answered within 5 s (SO_SNDTIMEO) fails as EINPROGRESS: far beyond
 * a connect's time on any test host, far below a 60 s TIME-WAIT.
 *
 *   samesport HOST PORT ROUNDS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: samesport HOST PORT ROUNDS\n");
		return 2;
	}
	struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "samesport: bad address %s\n", argv[1]);
		return 2;
	}
	int rounds = atoi(argv[3]);
	unsigned short sport = 0;
	for (int i = 0; i < rounds; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		int one = 1;
		struct timeval tv = {.tv_sec = 5};
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		struct sockaddr_in src = {.sin_family = AF_INET, .sin_port = htons(sport)};
		if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
			printf("round %d: bind %s\n", i, strerrorname_np(errno));
			return 1;
		}
		socklen_t len = sizeof src;
		getsockname(fd, (struct sockaddr *)&src, &len);
		sport = ntohs(src.sin_port);
		int rc;
		/* The previous round's socket may still be in LAST-ACK for
		 * an instant: the 4-tuple is busy until it is gone. */
		for (int try = 0; (rc = connect(fd, (struct sockaddr *)&dst, sizeof dst)) != 0 && errno == EADDRNOTAVAIL && try < 100; try++)
			usleep(10000);
		if (rc != 0) {
			printf("round %d: %s\n", i, strerrorname_np(errno));
			return 1;
		}
		char buf[64];
		while (read(fd, buf, sizeof buf) > 0) {
		}
		close(fd);
		printf("round %d: ok\n", i);
	}
	return 0;
}
