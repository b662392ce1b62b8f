package sentry

import (
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/policy"
	"sandbox/seccomp"
)

// call is one trapped syscall on its way to an answer.
type call struct {
	s       *Supervisor
	n       *seccomp.Notif
	task    *task
	rec     Record
	start   time.Time
	replied bool
	// quiet: the call named no new destination (a send on a connected
	// socket): unless something is recorded of it, it is not logged.
	quiet bool

	// onReceiver: handled on a receiver goroutine, which the monitor
	// replaces (handedOff) when the call takes long.
	onReceiver bool
	handedOff  atomic.Bool

	// opMu guards the fields below it: the thread making the call and
	// the monitor, which interrupts it, both read and write them.
	opMu sync.Mutex
	// +checklocks:opMu
	opTid int // thread running the supervisor's own call for it; 0 when none
	// +checklocks:opMu
	aborted bool // the monitor interrupted that call…
	// …because a signal for the caller arrived (else: the caller had
	// gone), and the call must be answered ERESTARTSYS.
	// +checklocks:opMu
	forSignal bool
	// +checklocks:opMu
	sharedSeen bool // a process-wide signal was pending at the last look
}

// handle answers one notification. It runs on the receiver goroutine; the
// monitor starts another receiver if it takes long.
func (s *Supervisor) handle(c *call) {
	n := c.n
	c.rec = Record{Time: c.start, Pid: n.Pid, Syscall: n.Syscall, Fd: -1}
	s.monitor.add(c)
	defer s.monitor.remove(c)
	defer c.finish()
	h := handlers[n.Syscall].fn
	if h == nil {
		// The filter traps only what handlers lists; anything else is
		// a bug, and a bug fails closed.
		c.failClosed(errors.New("no handler for " + n.Syscall))
		return
	}
	if !c.attach(false) {
		return
	}
	defer func() {
		if c.task != nil {
			s.tasks.put(c.task)
		}
	}()
	if s.audit != nil {
		// Now, while the caller waits: once answered it may exit.
		c.rec.Exe = executable(n.Pid)
	}
	h(c)
}

// attach finds the caller's task, holding a reference to it in c.task (nil
// when it fails). A pidfd opened by thread id now is proven to be the
// caller's only by the notification still pending afterwards. With reopen,
// the task c holds is stale (its thread exited) and is dropped first.
func (c *call) attach(reopen bool) bool {
	if reopen {
		c.s.tasks.forget(c.task)
		c.s.tasks.put(c.task)
	}
	c.task = nil
	t, fresh, err := c.s.tasks.get(c.n.Pid)
	if err != nil {
		if c.stillWaiting() {
			c.failClosed(err)
		}
		return false
	}
	if fresh && !c.stillWaiting() {
		c.s.tasks.put(t)
		return false
	}
	c.task = t
	return true
}

func (c *call) finish() {
	if c.s.audit == nil || c.quiet && c.rec.Verdict == "" && c.replied {
		return
	}
	c.rec.TookUS = float64(time.Since(c.start).Nanoseconds()) / 1e3
	if !c.replied && c.rec.Reason == "" {
		c.rec.Reason = "no answer reached the program: it was killed while the call was trapped"
	}
	c.s.audit.write(&c.rec)
}

// stillWaiting reports whether the caller still waits for this answer.
func (c *call) stillWaiting() bool {
	return c.s.listener.Valid(c.n.ID) == nil
}

// getfd duplicates the caller's fd. A closed or O_PATH fd is the caller's
// EBADF; any other failure fails closed.
func (c *call) getfd(fd int) (int, bool) {
	sock, err := c.task.getfd(fd)
	if errors.Is(err, unix.ESRCH) {
		// The cached pidfd's thread exited and its id was reused.
		if !c.attach(true) {
			return -1, false
		}
		sock, err = c.task.getfd(fd)
	}
	switch {
	case err == nil:
		return sock, true
	case errors.Is(err, unix.EBADF):
		c.invalid(unix.EBADF, "not an open file descriptor")
	case errors.Is(err, unix.ESRCH) && !c.stillWaiting():
	default:
		c.failClosed(err)
	}
	return -1, false
}

// invalid answers a call that fails Linux's own checks before any policy.
func (c *call) invalid(errno unix.Errno, why string) {
	c.rec.Verdict = verdictInvalid
	c.rec.Reason = why
	c.respond(0, errno)
}

// failClosed denies a call the supervisor could not judge: what it cannot
// read or resolve it never allows.
func (c *call) failClosed(err error) {
	c.rec.Verdict = policy.Deny.String()
	c.rec.Reason = "fail closed: " + err.Error()
	c.respond(0, unix.EACCES)
}

// decided records the policy's decision.
func (c *call) decided(d policy.Decision) {
	c.rec.Verdict = d.Verdict.String()
	if d.Rule != nil {
		c.rec.Rule = d.Rule.Pos.Short()
	}
}

// respond answers the caller.
func (c *call) respond(val int64, errno unix.Errno) {
	c.rec.Errno = errnoName(errno)
	c.replied = c.s.listener.Respond(c.n.ID, val, errno) == nil
}

// perform makes the call for the child with op, which must use only the
// supervisor's copies of the child's arguments, and answers with its result.
func (c *call) perform(op func() unix.Errno) {
	c.performDirty(false, errnoOnly(op), nil)
}

// errnoOnly adapts an op whose only result is an errno.
func errnoOnly(op func() unix.Errno) func() (int64, unix.Errno) {
	return func() (int64, unix.Errno) { return 0, op() }
}

// performDirty is perform for an op that returns a value and may change
// its thread's identity (dirty: the thread is discarded afterwards); after,
// if set, runs once op has returned, before the answer, to complete the
// audit record.
func (c *call) performDirty(dirty bool, op func() (int64, unix.Errno), after func(unix.Errno)) {
	val, errno, aborted := c.run(dirty, op)
	if after != nil {
		after(errno)
	}
	c.answer(val, errno, aborted)
}

// run makes one call for the child and returns its result; aborted reports
// that the monitor interrupted it (see answer).
//
// The caller waits killably (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), so an
// answer sent is an answer heard, unless the caller was killed: the call is
// made exactly once, as the program's own would be.
func (c *call) run(dirty bool, op func() (int64, unix.Errno)) (val int64, errno unix.Errno, aborted bool) {
	if !dirty {
		return c.interruptible(false, op)
	}
	// A thread whose identity op changes must die with its goroutine:
	// not the receiver's, which goes on serving.
	done := make(chan struct{})
	go func() {
		defer close(done)
		val, errno, aborted = c.interruptible(true, op)
	}()
	<-done
	return val, errno, aborted
}

// answer answers the caller with a result of run.
func (c *call) answer(val int64, errno unix.Errno, aborted bool) {
	if !aborted {
		c.respond(val, errno)
		return
	}
	// The call was interrupted as the program's own would have been: for
	// a signal, the kernel now restarts it or fails it with EINTR as the
	// handler asks; for a caller that has gone, no one is left to tell.
	c.opMu.Lock()
	forSignal := c.forSignal
	c.opMu.Unlock()
	if forSignal {
		c.rec.Reason = "interrupted by a signal: restarted or EINTR, as the handler asks"
		c.respond(0, errRestartSys)
	} else {
		c.rec.Reason = "interrupted: the program stopped waiting"
	}
}

// readSockaddr copies a sockaddr of addrLen bytes from the caller's memory
// at ptr, as move_addr_to_kernel does: a length below 0 or over
// sizeof(struct sockaddr_storage) is EINVAL before anything is read, an
// unreadable address EFAULT. ok is false when the call has been answered.
func (c *call) readSockaddr(ptr uint64, addrLen int) (addr []byte, ok bool) {
	if addrLen < 0 || addrLen > maxSockaddr {
		c.invalid(unix.EINVAL, "address length "+strconv.Itoa(addrLen)+" out of range")
		return nil, false
	}
	addr, err := c.task.read(ptr, addrLen)
	if err != nil {
		c.readFailed("the address", err)
		return nil, false
	}
	return addr, true
}
