/*
 * dial: connect COUNT times to HOST:PORT and print how the attempts ended,
 * e.g. "ok=3" or "EACCES=3". With "nonblock" each socket is non-blocking and
 * an EINPROGRESS is followed to its end with poll and SO_ERROR, so the line
 * says how the connection really ended.
 *
 *   dial block|nonblock tcp|udp HOST PORT COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *name(int e) { return e ? strerrorname_np(e) : "ok"; }

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: dial block|nonblock tcp|udp HOST PORT COUNT\n");
		return 2;
	}
	int nonblock = strcmp(argv[1], "nonblock") == 0;
	int type = strcmp(argv[2], "udp") == 0 ? SOCK_DGRAM : SOCK_STREAM;
	struct sockaddr_storage ss;
	socklen_t len;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, argv[3], &in4->sin_addr) == 1) {
		in4->sin_family = AF_INET;
		in4->sin_port = htons(atoi(argv[4]));
		len = sizeof *in4;
	} else if (inet_pton(AF_INET6, argv[3], &in6->sin6_addr) == 1) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(atoi(argv[4]));
		len = sizeof *in6;
	} else {
		fprintf(stderr, "dial: bad address %s\n", argv[3]);
		return 2;
	}
	int count = atoi(argv[5]);
	int results[200] = {0};
	for (int i = 0; i < count; i++) {
		int fd = socket(ss.ss_family, type | (nonblock ? SOCK_NONBLOCK : 0), 0);
		if (fd < 0) {
			perror("socket");
			return 2;
		}
		int e = 0;
		if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
			e = errno;
			if (e == EINPROGRESS) {
				struct pollfd p = {.fd = fd, .events = POLLOUT};
				poll(&p, 1, 5000);
				socklen_t el = sizeof e;
				getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el);
			}
		}
		if (e >= 0 && e < 200)
			results[e]++;
		close(fd);
	}
	const char *sep = "";
	for (int e = 0; e < 200; e++) {
		if (results[e]) {
			printf("%s%s=%d", sep, name(e), results[e]);
			sep = " ";
		}
	}
	printf("\n");
	return 0;
}
