/*
 * x32: call connect through the x32 ABI (syscall number | 0x40000000). A
 * filter that checked only native numbers would let it pass untrapped; the
 * sandbox's kills the process. Natively (x32 disabled in this kernel) it
 * fails with ENOSYS; either way it prints what it got if it survives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void) {
	long r = syscall(0x40000000L | SYS_connect, -1, 0, 0);
	printf("%s\n", r == 0 ? "ok" : strerrorname_np(errno));
	return 0;
}
