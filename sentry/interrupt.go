package sentry

/*
#include <signal.h>
#include <string.h>

static void sandbox_interrupt_noop(int sig) { (void)sig; }

// Installed without SA_RESTART, so that a blocking call the signal lands in
// returns EINTR instead of being restarted; SA_ONSTACK because Go threads
// run signal handlers on their alternate stacks.
static int sandbox_install_interrupt(int sig) {
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = sandbox_interrupt_noop;
	sa.sa_flags = SA_ONSTACK;
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}
*/
import "C"

import (
	"fmt"
	"runtime"
	"sync"

	"golang.org/x/sys/unix"
)

// interruptSignal aborts a call the supervisor performs for a caller that is
// no longer waiting. Go installs every handler with SA_RESTART, so no Go
// signal can make a blocked connect return; this real-time signal, which Go
// itself never uses, gets a C handler without it. Linux numbers real-time
// signals 32..64 and glibc keeps 32 and 33 for itself.
const interruptSignal = unix.Signal(60)

var installInterrupt = sync.OnceValue(func() error {
	if rc, err := C.sandbox_install_interrupt(C.int(interruptSignal)); rc != 0 {
		return fmt.Errorf("install the interrupt signal handler: %w", err)
	}
	return nil
})

// interruptible runs op — a call made for the caller of c, which may block
// — on the current goroutine's thread, where the monitor can interrupt it
// with interruptSignal once the caller has stopped waiting: the result is
// then interrupted, else op's value or errno. With dirty set the
// thread is never returned to Go's pool: op changed the thread's
// credentials, so it must end with the goroutine.
func (c *call) interruptible(dirty bool, op func() (int64, unix.Errno)) result {
	runtime.LockOSThread()
	c.opMu.Lock()
	c.opTid = unix.Gettid()
	c.opMu.Unlock()
	var (
		val                int64
		errno              unix.Errno
		aborted, signalled bool
	)
	for {
		val, errno = op()
		c.opMu.Lock()
		stop := errno != unix.EINTR || c.aborted
		if stop {
			// Under opMu, so no signal is sent once the thread
			// may run other code.
			c.opTid = 0
		}
		// Only an op that did fail with EINTR was cut short: one that
		// completed as the signal went out has a result to deliver.
		aborted = c.aborted && errno == unix.EINTR
		signalled = c.aborted
		c.opMu.Unlock()
		if stop {
			break
		}
		// EINTR without an abort cannot come from Go's signals (they
		// restart); retrying is what a restarted call would do.
	}
	// A thread that was signalled, or whose credentials op changed, ends
	// with this goroutine (a locked goroutine's thread exits with it), so
	// no late interrupt and no borrowed identity reaches other Go code.
	if !dirty && !signalled {
		runtime.UnlockOSThread()
	}
	if aborted {
		return result{kind: interrupted, errno: errno}
	}
	return reply(val, errno)
}
