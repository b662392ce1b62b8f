/*
 * dest.h: a destination for connect or sendto, built without stores through
 * cast pointers (which strict aliasing would let the compiler drop). Shared
 * by the escape and bypass programs.
 */
#ifndef SANDBOX_TEST_DEST_H
#define SANDBOX_TEST_DEST_H

#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

/* A destination, ready for connect or sendto. */
struct dest {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* as_dest copies a sockaddr into a dest. */
static inline struct dest as_dest(const void *sa, socklen_t len) {
	struct dest d;
	memset(&d, 0, sizeof d);
	memcpy(&d.ss, sa, len);
	d.len = len;
	return d;
}

static inline struct dest in4(struct in_addr a, int port) {
	struct sockaddr_in s = {.sin_family = AF_INET, .sin_port = htons(port), .sin_addr = a};
	return as_dest(&s, sizeof s);
}

static inline struct dest in6(struct in6_addr a, int port) {
	struct sockaddr_in6 s = {.sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = a};
	return as_dest(&s, sizeof s);
}

#endif
