package sentry

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// sockKey names a socket: its inode on sockfs. The supervisor's duplicate
// and the child's fd share it.
type sockKey struct{ dev, ino uint64 }

func socketKey(fd int) (sockKey, error) {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return sockKey{}, err
	}
	return sockKey{dev: st.Dev, ino: st.Ino}, nil
}

// sockState is what the supervisor knows of one socket between calls.
type sockState struct {
	busy       chan struct{} // closed when the call in flight on the socket ends
	unheard    unix.Errno    // result of a call whose caller never heard it…
	hasUnheard bool          // …if set
	since      time.Time
}

// maxUnheard bounds the results kept for callers that never came back (the
// program closed the socket or died): they cannot be told apart from ones
// that will, so the oldest are dropped past this count.
const maxUnheard = 4096

// socketTable makes a call the supervisor performs look atomic to the child.
//
// A trapped caller that a signal interrupts withdraws its notification and,
// under SA_RESTART, calls again. If the supervisor had already made the call
// for it (a non-blocking connect that returned EINPROGRESS, a unix connect
// that succeeded), making it again would answer EALREADY or EISCONN where
// Linux, for which the first call was the only one, answers EINPROGRESS or
// 0. So calls on one socket run one at a time, and a result no one heard is
// kept and given to the next call on that socket — which is what the kernel
// does with a completed connect nobody waited for.
type socketTable struct {
	mu sync.Mutex
	m  map[sockKey]*sockState
}

func newSocketTable() *socketTable { return &socketTable{m: make(map[sockKey]*sockState)} }

// acquire waits until no call on k is in flight, or until gone reports the
// caller stopped waiting (ok false). It then either hands over a result no
// one heard (unheard true: answer with it, then call release) or marks the
// caller's own call in flight (perform it, then call release).
func (t *socketTable) acquire(k sockKey, gone func() bool) (result unix.Errno, unheard, ok bool) {
	for {
		t.mu.Lock()
		st := t.m[k]
		if st == nil {
			st = &sockState{}
			t.m[k] = st
		}
		if st.busy == nil {
			st.busy = make(chan struct{})
			if st.hasUnheard {
				st.hasUnheard = false
				t.mu.Unlock()
				return st.unheard, true, true
			}
			t.mu.Unlock()
			return 0, false, true
		}
		busy := st.busy
		t.mu.Unlock()
		select {
		case <-busy:
		case <-time.After(monitorTick):
			if gone() {
				return 0, false, false
			}
		}
	}
}

// release ends the call acquire let through. If its caller never heard the
// result, heard is false and the result is kept for the next call.
func (t *socketTable) release(k sockKey, result unix.Errno, heard bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	st := t.m[k]
	close(st.busy)
	st.busy = nil
	if !heard {
		st.unheard, st.hasUnheard, st.since = result, true, time.Now()
		if len(t.m) > maxUnheard {
			t.dropOldestLocked()
		}
		return
	}
	if !st.hasUnheard {
		delete(t.m, k)
	}
}

func (t *socketTable) dropOldestLocked() {
	var oldest sockKey
	var at time.Time
	for k, st := range t.m {
		if st.busy == nil && st.hasUnheard && (at.IsZero() || st.since.Before(at)) {
			oldest, at = k, st.since
		}
	}
	if !at.IsZero() {
		delete(t.m, oldest)
	}
}
