/*
 * dialloop: connect to HOST:PORT COUNT times, INTERVAL_MS apart, and print
 * how each attempt ended ("ok", "EACCES", "ENOSYS"…), one line each,
 * flushed at once: a test reads the lines as they come, and changes the
 * world between them (the agent killed mid-run).
 *
 *   dialloop HOST PORT COUNT INTERVAL_MS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: dialloop HOST PORT COUNT INTERVAL_MS\n");
		return 2;
	}
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "dialloop: bad address %s\n", argv[1]);
		return 2;
	}
	int count = atoi(argv[3]);
	struct timespec gap = {.tv_sec = atoi(argv[4]) / 1000, .tv_nsec = (atoi(argv[4]) % 1000) * 1000000L};
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			printf("socket:%s\n", strerrorname_np(errno));
		} else {
			int r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
			printf("%s\n", r == 0 ? "ok" : strerrorname_np(errno));
			close(fd);
		}
		fflush(stdout);
		nanosleep(&gap, NULL);
	}
	return 0;
}
