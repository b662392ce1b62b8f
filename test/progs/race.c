/*
 * race: the time-of-check/time-of-use attack on the supervisor. One thread
 * flips a shared sockaddr_in between ALLOWED_PORT and DENIED_PORT (both on
 * 127.0.0.1) as fast as it can, while the main thread connects COUNT times
 * with that very memory. A supervisor that read the address twice — once to
 * decide, once to connect — would sooner or later connect to the denied
 * port; the test counts on the denied listener's side that it never did.
 * Prints "ok=N EACCES=M …" for the connects.
 *
 *   race ALLOWED_PORT DENIED_PORT COUNT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_in target;
static atomic_int stop;
static in_port_t ports[2];

static void *flip(void *arg) {
	(void)arg;
	volatile in_port_t *port = &target.sin_port;
	for (unsigned i = 0; !atomic_load_explicit(&stop, memory_order_relaxed); i++)
		*port = ports[i & 1];
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: race ALLOWED_PORT DENIED_PORT COUNT\n");
		return 2;
	}
	ports[0] = htons(atoi(argv[1]));
	ports[1] = htons(atoi(argv[2]));
	int count = atoi(argv[3]);
	target.sin_family = AF_INET;
	target.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	target.sin_port = ports[0];
	pthread_t t;
	pthread_create(&t, NULL, flip, NULL);
	int ok = 0, results[200] = {0};
	for (int i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket");
			return 2;
		}
		if (connect(fd, (struct sockaddr *)&target, sizeof target) == 0)
			ok++;
		else if (errno < 200)
			results[errno]++;
		close(fd);
	}
	atomic_store(&stop, 1);
	pthread_join(t, NULL);
	printf("ok=%d", ok);
	for (int e = 1; e < 200; e++)
		if (results[e])
			printf(" %s=%d", strerrorname_np(e), results[e]);
	printf("\n");
	return 0;
}
