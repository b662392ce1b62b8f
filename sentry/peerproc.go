package sentry

/*
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

struct sandbox_peer_op {
	int listen;          // 0: connect(sock, addr, len); 1: listen(sock, backlog)
	int sock;
	const void *addr;
	int len;
	int backlog;
	int sig;             // the one signal the process may take: the interrupt
	int err;             // out: the call's errno, 0 on success
};

// The process shares the supervisor's memory (CLONE_VM) and runs no Go
// code: it makes the one call and exits. Its signal mask, inherited with
// everything blocked, lets only the interrupt signal in, whose handler is
// C and returns at once (connect then fails EINTR, as the program's own
// would).
static int sandbox_peer_main(void *arg) {
	struct sandbox_peer_op *op = arg;
	sigset_t mask;
	sigfillset(&mask);
	sigdelset(&mask, op->sig);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &mask, NULL, sizeof(long));
	long r = op->listen ? syscall(SYS_listen, op->sock, op->backlog)
	                    : syscall(SYS_connect, op->sock, op->addr, op->len);
	// errno is the suspended parent thread's (the TLS is shared); nothing
	// else uses it until the parent resumes.
	op->err = r < 0 ? errno : 0;
	syscall(SYS_exit, 0);
	return 0;
}

// sandbox_peer_call runs op in a process of its own, created from the
// calling thread (so with its credentials and filesystem view) and waited
// for (CLONE_VFORK). *pidfd holds a pidfd of it while it runs (the
// monitor signals it through that); the caller closes it. Returns 0, or
// the errno of the supervisor's own failure.
static int sandbox_peer_call(struct sandbox_peer_op *op, int *pidfd) {
	const size_t stack_size = 64 * 1024;
	void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return errno;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	// Exit signal 0: only a waitpid with __WCLONE sees it, so no reaper
	// of the supervisor's (wait4(-1)) takes it from the one below.
	int pid = clone(sandbox_peer_main, (char *)stack + stack_size,
	                CLONE_VM | CLONE_VFORK | CLONE_PIDFD, op, pidfd);
	int err = pid < 0 ? errno : 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid > 0)
		while (waitpid(pid, NULL, __WCLONE) < 0 && errno == EINTR)
			;
	munmap(stack, stack_size);
	return err;
}
*/
import "C"

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Why a process: a unix stream peer reads its partner's pid with
// SO_PEERCRED (and SO_PEERPIDFD), and the kernel records the pid of the
// process that makes the connect — or, for a listener's clients, the
// listen. Made on a thread of the supervisor's, that pid is the
// supervisor's, and a daemon that looks the pid up (polkit's process
// subject; systemd's sd-bus reads the sender's capabilities from
// /proc/PID/status) would judge the supervisor — root, with every
// capability — instead of a program that runs as nobody. Made here, the
// pid is that of a process with exactly the program's credentials,
// capabilities and filesystem view, which has exited by the time the peer
// can look: a lookup finds the program's rights or nothing, never more.
//
// The process shares the supervisor's memory and starts on the calling
// thread's identity, so it costs a clone, not an exec (~30 µs); it is used
// only where the program's identity differs from the supervisor's (see
// asProgram), the one case where the pid would lie about privilege.

// peerConnect connects sock to the address sa from a process of its own;
// see above. It must run on a thread that has taken on the program's
// identity, inside interruptible.
func (c *call) peerConnect(sock int, sa []byte) unix.Errno {
	op := C.struct_sandbox_peer_op{sock: C.int(sock), len: C.int(len(sa))}
	addr := C.CBytes(sa)
	defer C.free(addr)
	op.addr = addr
	return c.peerCall(&op)
}

// peerListen makes sock listen with backlog from a process of its own;
// see above.
func (c *call) peerListen(sock, backlog int) unix.Errno {
	op := C.struct_sandbox_peer_op{listen: 1, sock: C.int(sock), backlog: C.int(backlog)}
	return c.peerCall(&op)
}

func (c *call) peerCall(op *C.struct_sandbox_peer_op) unix.Errno {
	op.sig = C.int(interruptSignal)
	// In C memory: the kernel writes the pidfd there while the monitor
	// may read it.
	cfd := (*C.int)(C.malloc(C.size_t(unsafe.Sizeof(C.int(0)))))
	defer C.free(unsafe.Pointer(cfd))
	pidfd := (*int32)(unsafe.Pointer(cfd))
	atomic.StoreInt32(pidfd, -1)
	c.opMu.Lock()
	c.opPidfd = pidfd
	c.opMu.Unlock()
	err := C.sandbox_peer_call(op, cfd)
	// Under opMu: the monitor signals through the pidfd only while it is
	// still this process's.
	c.opMu.Lock()
	c.opPidfd = nil
	c.opMu.Unlock()
	if fd := atomic.LoadInt32(pidfd); fd >= 0 {
		unix.Close(int(fd))
	}
	if err != 0 {
		// Not the program's errno: the supervisor could not make the
		// process. Fail closed, as for any failure of its own.
		c.peerFailure = fmt.Errorf("clone a process for the call: %w", unix.Errno(err))
		return unix.EACCES
	}
	return unix.Errno(op.err)
}

// signalPeer sends the interrupt signal to the process making c's call,
// if there is one. The caller holds opMu.
//
// +checklocks:c.opMu
func (c *call) signalPeer() {
	if c.opPidfd == nil {
		return
	}
	if fd := atomic.LoadInt32(c.opPidfd); fd >= 0 {
		_ = unix.PidfdSendSignal(int(fd), interruptSignal, nil, 0)
	}
}
