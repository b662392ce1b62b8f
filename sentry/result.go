package sentry

import (
	"errors"

	"golang.org/x/sys/unix"

	"sandbox/policy"
)

// A handler returns its call's result; handle delivers it — answers the
// program, or does not when no one waits — and writes the audit record, in
// one place (deliver). A new kind of answer is a new resultKind and a case
// there, nothing in the handlers.
//
// The split of the audit record: a handler fills in the facts of its call
// as it learns them (the fd, the destination, the protocol, the policy's
// decision and rule); the answer — the value or errno, and the verdict or
// reason that the answer itself sets (invalid, fail closed, interrupted) —
// is the result.
//
// Delivering after the handler has returned also means after its deferred
// clean-up: the supervisor's duplicate of the program's socket is closed
// before the program runs again, so a socket the program closes next is
// gone, as natively (its port free at once, its peer told).

// resultKind is what becomes of a call.
type resultKind uint8

const (
	// answered: the program is told val, or errno.
	answered resultKind = iota
	// interrupted: the monitor cut short the supervisor's call for the
	// program (see interruptible); deliver answers ERESTARTSYS when a
	// signal did it, nothing when the program stopped waiting.
	interrupted
	// unanswered: the program stopped waiting (the notification is no
	// longer valid): no one is left to tell.
	unanswered
)

// result is a handler's answer to its call.
type result struct {
	kind  resultKind
	val   int64
	errno unix.Errno
	// verdict and reason, when set, replace the record's: an answer that
	// is not the policy's (invalid, fail closed) says so.
	verdict, reason string
}

// reply is the answer val or errno, the result of a call made for the
// program or the policy's errno.
func reply(val int64, errno unix.Errno) result {
	return result{val: val, errno: errno}
}

// gone is the result of a call whose program stopped waiting.
var gone = result{kind: unanswered}

// invalid is the answer to a call that fails Linux's own checks before any
// policy.
func invalid(errno unix.Errno, why string) result {
	return result{errno: errno, verdict: verdictInvalid, reason: why}
}

// failClosed denies a call the supervisor could not judge: what it cannot
// read or resolve it never allows.
func failClosed(err error) result {
	return result{errno: unix.EACCES, verdict: policy.Deny.String(), reason: "fail closed: " + err.Error()}
}

// because is r with the reason given for it.
func (r result) because(reason string) result {
	r.reason = reason
	return r
}

// succeeded reports whether r tells the program its call succeeded.
func (r result) succeeded() bool {
	return r.kind == answered && r.errno == 0
}

// answerError is an error that ends a call with its answer: one of Linux's
// own checks failed, or the program stopped waiting. The steps before the
// policy (getfd, readSockaddr, socketArg…) return one, or any other error
// for a failure of the supervisor's own, which fails closed (resultOf).
type answerError struct{ res result }

func (e *answerError) Error() string {
	if e.res.kind == unanswered {
		return "the program stopped waiting"
	}
	return errnoName(e.res.errno) + ": " + e.res.reason
}

// errGone ends a call whose program stopped waiting.
var errGone error = &answerError{gone}

// errInvalid ends a call that fails Linux's own check with errno.
func errInvalid(errno unix.Errno, why string) error {
	return &answerError{invalid(errno, why)}
}

// resultOf is the result of a call ended by err: the answer an
// answerError carries, else a failure of the supervisor's, which fails
// closed.
func resultOf(err error) result {
	if a, ok := errors.AsType[*answerError](err); ok {
		return a.res
	}
	return failClosed(err)
}

// deliver answers the program with r, records it, and — for an
// interrupted call — decides what the interruption means.
func (c *call) deliver(r result) {
	if r.verdict != "" {
		c.rec.Verdict = r.verdict
	}
	if r.reason != "" {
		c.rec.Reason = r.reason
	}
	switch r.kind {
	case unanswered:
		return
	case interrupted:
		// The call was interrupted as the program's own would have
		// been: for a signal, the kernel now restarts it or fails it
		// with EINTR as the handler asks; for a caller that has gone,
		// no one is left to tell.
		if !c.interruptedForSignal() {
			c.rec.Reason = "interrupted: the program stopped waiting"
			return
		}
		c.rec.Reason = "interrupted by a signal: restarted or EINTR, as the handler asks"
		r.val, r.errno = 0, errRestartSys
	}
	c.rec.Errno = errnoName(r.errno)
	c.replied = c.s.listener.Respond(c.n.ID, r.val, r.errno) == nil
}

// interruptedForSignal reports whether the monitor interrupted the call
// because a signal for the program arrived (else: the program had gone).
func (c *call) interruptedForSignal() bool {
	c.opMu.Lock()
	defer c.opMu.Unlock()
	return c.forSignal
}
