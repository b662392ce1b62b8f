/*
 * fanout: THREADS threads each make PER connect+close cycles to HOST:PORT,
 * all at once, and print the latency percentiles of every connect and how
 * many failed: "p50=N p99=N max=N failed=N" (nanoseconds). A connect that
 * fails, or does not finish within 10 s (SO_SNDTIMEO), counts as failed:
 * none may be lost or stuck.
 *
 *   fanout THREADS PER HOST PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "latency.h"

static struct sockaddr_in target;
static int per;
static long long *lat;
static int failed;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_barrier_t start;

static void *worker(void *arg) {
	long long *out = lat + (long)arg * per;
	pthread_barrier_wait(&start);
	for (int i = 0; i < per; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct timeval tv = {.tv_sec = 10};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		long long t0 = now_ns();
		int r = connect(fd, (struct sockaddr *)&target, sizeof target);
		out[i] = now_ns() - t0;
		close(fd);
		if (r != 0) {
			pthread_mutex_lock(&mu);
			failed++;
			pthread_mutex_unlock(&mu);
		}
	}
	return NULL;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: fanout THREADS PER HOST PORT\n");
		return 2;
	}
	int threads = atoi(argv[1]);
	per = atoi(argv[2]);
	target.sin_family = AF_INET;
	target.sin_port = htons(atoi(argv[4]));
	if (threads < 1 || per < 1 || inet_pton(AF_INET, argv[3], &target.sin_addr) != 1) {
		fprintf(stderr, "fanout: bad arguments\n");
		return 2;
	}
	lat = calloc((size_t)threads * per, sizeof *lat);
	pthread_t *t = calloc(threads, sizeof *t);
	pthread_barrier_init(&start, NULL, threads);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	int n = threads * per;
	qsort(lat, n, sizeof *lat, cmp_ll);
	printf("p50=%lld p99=%lld max=%lld failed=%d\n", lat[n / 2], lat[n * 99 / 100], lat[n - 1], failed);
	return 0;
}
