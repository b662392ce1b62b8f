package sentry

import (
	"errors"
	"fmt"
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
	s       *Server
	pol     *policy.Policy // the server's policy when the call arrived
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
	// +checklocks:opMu
	opPidfd *int32 // in C memory: a pidfd of the process making the call for it (peerproc.go), while it runs

	// asOther: the call is made with the program's identity, which is
	// not the supervisor's; a unix connect or listen then goes through a
	// process of its own (peerproc.go).
	asOther bool
	// peerFailure: that process could not be made (the call fails closed).
	peerFailure error
}

// handle answers one notification. It runs on the receiver goroutine; the
// monitor starts another receiver if it takes long.
func (s *Server) handle(c *call) {
	n := c.n
	c.pol = s.policy.Load()
	c.rec = Record{Time: c.start, Pid: n.Pid, Syscall: n.Syscall, Fd: -1}
	if k := s.container; k != nil {
		c.rec.Container, c.rec.Pod, c.rec.PodNamespace = k.ID, k.Pod, k.PodNamespace
	}
	s.monitor.add(c)
	defer s.monitor.remove(c)
	c.deliver(c.serve())
	c.finish()
}

// serve runs the call's handler and returns its result. Everything the
// handler holds is released by the time it returns: only then is the
// program answered (see deliver).
func (c *call) serve() result {
	h := handlers[c.n.Syscall].fn
	if h == nil {
		// The filter traps only what handlers lists; anything else is
		// a bug, and a bug fails closed.
		return failClosed(errors.New("no handler for " + c.n.Syscall))
	}
	if err := c.attach(false); err != nil {
		return resultOf(err)
	}
	defer func() {
		if c.task != nil { // getfd may have attached again, and failed
			c.s.tasks.put(c.task)
		}
	}()
	if c.s.records.wantExe() {
		// Now, while the caller waits: once answered it may exit.
		c.rec.Exe = executable(c.n.Pid)
	}
	return h(c)
}

// attach finds the caller's task, holding a reference to it in c.task. A
// pidfd opened by thread id now is proven to be the caller's only by the
// notification still pending afterwards. With reopen, the task c holds is
// stale (its thread exited) and is dropped first. On failure c.task is nil
// and the error ends the call.
func (c *call) attach(reopen bool) error {
	if reopen {
		c.s.tasks.forget(c.task)
		c.s.tasks.put(c.task)
	}
	c.task = nil
	t, fresh, err := c.s.tasks.get(c.n.Pid)
	if err != nil {
		if !c.stillWaiting() {
			return errGone
		}
		return err
	}
	if fresh && !c.stillWaiting() {
		c.s.tasks.put(t)
		return errGone
	}
	c.task = t
	return nil
}

func (c *call) finish() {
	if !c.s.records.enabled() || c.quiet && c.rec.Verdict == "" && c.replied {
		return
	}
	if c.rec.Verdict == "" {
		// Nothing was put to the policy and nothing failed Linux's
		// checks: the call named no destination (a send on a
		// connected socket, an empty sendmmsg) and the kernel answered.
		c.rec.Verdict = verdictPass
	}
	c.rec.TookUS = float64(time.Since(c.start).Nanoseconds()) / 1e3
	if !c.replied && c.rec.Reason == "" {
		c.rec.Reason = "no answer reached the program: it was killed while the call was trapped"
	}
	c.s.records.write(&c.rec)
}

// stillWaiting reports whether the caller still waits for this answer.
func (c *call) stillWaiting() bool {
	return c.s.listener.Valid(c.n.ID) == nil
}

// getfd duplicates the caller's fd. A closed fd is the caller's EBADF; any
// other failure fails closed. An O_PATH fd is duplicated as any other,
// though every socket call fails it with EBADF first: the callers find
// that out where they would otherwise fail (sockInfoArg, pathOnly).
func (c *call) getfd(fd int) (int, error) {
	sock, err := c.task.getfd(fd)
	if errors.Is(err, unix.ESRCH) {
		// The cached pidfd's thread exited and its id was reused.
		if err := c.attach(true); err != nil {
			return -1, err
		}
		sock, err = c.task.getfd(fd)
	}
	switch {
	case err == nil:
		return sock, nil
	case errors.Is(err, unix.EBADF):
		return -1, errInvalid(unix.EBADF, "not an open file descriptor")
	case errors.Is(err, unix.ESRCH) && !c.stillWaiting():
		return -1, errGone
	}
	return -1, err
}

// decide puts req to the policy and records the question and the
// decision: the rule that decided, or the default (by the place of its
// `default:`), or in learn mode that it was learned.
func (c *call) decide(req policy.Request) policy.Decision {
	d := c.pol.Decide(req)
	c.rec.Request = &req
	c.rec.Verdict = d.Verdict.String()
	switch {
	case d.Rule != nil:
		c.rec.Rule = d.Rule.Pos.Short()
	case d.Learned:
		c.rec.Learned = true
		c.rec.Reason = "learn mode: " + c.pol.DefaultRule() + " would deny it"
	default:
		c.rec.Rule = c.pol.DefaultRule()
	}
	return d
}

// uncovered is the answer errno to a call on a socket of a family the
// policy has no words for (vsock reaches the hypervisor, AF_RXRPC carries
// an IP address inside a sockaddr of its own…): denied, in learn mode too.
func (c *call) uncovered(family int, errno unix.Errno) result {
	c.rec.Verdict = policy.Deny.String()
	return reply(0, errno).because("socket family " + strconv.Itoa(family) + " is not covered by the policy")
}

// perform makes the call for the child with op, which must use only the
// supervisor's copies of the child's arguments, and returns its result.
func (c *call) perform(op func() unix.Errno) result {
	return c.run(false, func() (int64, unix.Errno) { return 0, op() })
}

// run makes one call for the child and returns its result: the call's
// value or errno, or interrupted when the monitor cut it short.
//
// The caller waits killably (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV), so an
// answer sent is an answer heard, unless the caller was killed: the call is
// made exactly once, as the program's own would be.
func (c *call) run(dirty bool, op func() (int64, unix.Errno)) result {
	if !dirty {
		return c.interruptible(false, op)
	}
	// A thread whose identity op changes must die with its goroutine:
	// not the receiver's, which goes on serving.
	done := make(chan result)
	go func() { done <- c.interruptible(true, op) }()
	return <-done
}

// readSockaddr copies a sockaddr of addrLen bytes from the caller's memory
// at ptr, as move_addr_to_kernel does: a length below 0 or over
// sizeof(struct sockaddr_storage) is EINVAL before anything is read, an
// unreadable address EFAULT.
func (c *call) readSockaddr(ptr uint64, addrLen int) ([]byte, error) {
	if addrLen < 0 || addrLen > maxSockaddr {
		return nil, errInvalid(unix.EINVAL, "address length "+strconv.Itoa(addrLen)+" out of range")
	}
	addr, err := c.task.read(ptr, addrLen)
	if err != nil {
		return nil, readError("the address", err)
	}
	return addr, nil
}

// readError is the error that ends a call whose argument could not be
// read: EFAULT for memory the program cannot read either, else a failure
// of the supervisor's.
func readError(what string, err error) error {
	if errors.Is(err, unix.EFAULT) {
		return errInvalid(unix.EFAULT, what+" not readable")
	}
	return fmt.Errorf("read %s: %w", what, err)
}
