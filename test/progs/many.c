/*
 * many: THREADS threads each connect PER times at once, alternating
 * blocking and non-blocking sockets, to ALLOWED_PORT (two of three) and
 * DENIED_PORT (one of three), both on 127.0.0.1. Prints how many ended as
 * they should — "ok=N denied=N wrong=N" — where a connect to the allowed
 * port must succeed and one to the denied port must fail with EACCES.
 *
 *   many ALLOWED_PORT DENIED_PORT THREADS PER
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int allowed, denied, per;
static int ok, refused, wrong;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg) {
	long id = (long)arg;
	for (int i = 0; i < per; i++) {
		int nonblock = (i + id) % 2, port = i % 3 == 0 ? denied : allowed;
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
		int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0);
		int e = connect(fd, (struct sockaddr *)&sa, sizeof sa) ? errno : 0;
		if (e == EINPROGRESS) {
			struct pollfd p = {.fd = fd, .events = POLLOUT};
			poll(&p, 1, 10000);
			socklen_t l = sizeof e;
			getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &l);
		}
		pthread_mutex_lock(&mu);
		if (port == allowed && e == 0)
			ok++;
		else if (port == denied && e == EACCES)
			refused++;
		else
			wrong++;
		pthread_mutex_unlock(&mu);
		close(fd);
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: many ALLOWED_PORT DENIED_PORT THREADS PER\n");
		return 2;
	}
	allowed = atoi(argv[1]), denied = atoi(argv[2]), per = atoi(argv[4]);
	int n = atoi(argv[3]);
	pthread_t *t = calloc(n, sizeof *t);
	for (long i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, worker, (void *)i)) {
			perror("pthread_create");
			return 2;
		}
	for (int i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	printf("ok=%d denied=%d wrong=%d\n", ok, refused, wrong);
	return 0;
}
