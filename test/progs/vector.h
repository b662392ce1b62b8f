/*
 * vector.h: what the escape and bypass programs share — the output line of
 * the vector running ("name step=result …"), and destinations for connect
 * or sendto, built without stores through cast pointers (which strict
 * aliasing would let the compiler drop).
 */
/* strerrorname_np needs _GNU_SOURCE, defined by the program before any include. */
#ifndef SANDBOX_TEST_VECTOR_H
#define SANDBOX_TEST_VECTOR_H

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

/* The line being built for the running vector. */
static char line[1024];

/* add appends " step=what" to the line. */
static inline void add(const char *step, const char *what) {
	size_t n = strlen(line);
	snprintf(line + n, sizeof line - n, " %s=%s", step, what);
}

/* step records how a call ended (r < 0: with errno) and returns r. */
static inline long step(const char *name, long r) {
	add(name, r < 0 ? strerrorname_np(errno) : "ok");
	return r;
}

/* count records a call that returns a count, such as sendmmsg's: the
   count, or how it failed; it returns r. */
static inline long count(const char *name, long r) {
	if (r < 0)
		return step(name, r);
	char n[32];
	snprintf(n, sizeof n, "%ld", r);
	add(name, n);
	return r;
}

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
