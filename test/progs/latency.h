/* latency.h: timing and reporting shared by the latency benchmarks. */
#ifndef LATENCY_H
#define LATENCY_H

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline long long now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b) {
	long long x = *(const long long *)a, y = *(const long long *)b;
	return (x > y) - (x < y);
}

/* report prints the median, 90th and 99th percentile of n samples (sorting
   them): "median=N p90=N p99=N", the line the Go benchmarks read. */
static inline void report(long long *d, int n) {
	qsort(d, n, sizeof *d, cmp_ll);
	printf("median=%lld p90=%lld p99=%lld\n", d[n / 2], d[n * 9 / 10], d[n * 99 / 100]);
}

#endif
