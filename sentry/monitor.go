package sentry

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// monitorTick is how often the monitor looks at the calls in flight. It
// bounds three delays (1–2 ticks each): how long one slow call can hold up
// the program's other trapped calls before another receiver takes over,
// how soon a signal for a caller whose connect blocks is passed on, and how
// long a call made for a caller that has gone away runs on. One goroutine ticking while calls are in flight
// replaces a timer per call, which would wake Go's netpoller on every
// connect.
const monitorTick = time.Millisecond

// monitorIdle is how many idle ticks the monitor waits before it sleeps
// until the next call; a burst of calls then costs one wake-up, not one per
// call.
const monitorIdle = 200

// monitor watches the calls in flight.
type monitor struct {
	mu    sync.Mutex
	calls map[*call]struct{}
	wake  chan struct{}
	done  chan struct{}
	// spawn starts a new receiver; the supervisor's receive.
	spawn func()
}

func newMonitor(spawn func()) *monitor {
	m := &monitor{calls: make(map[*call]struct{}), wake: make(chan struct{}, 1), done: make(chan struct{}), spawn: spawn}
	go m.run()
	return m
}

func (m *monitor) add(c *call) {
	m.mu.Lock()
	m.calls[c] = struct{}{}
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *monitor) remove(c *call) {
	m.mu.Lock()
	delete(m.calls, c)
	m.mu.Unlock()
}

// stop ends the monitor; calls still in flight are no longer watched.
func (m *monitor) stop() { close(m.done) }

func (m *monitor) run() {
	idle := 0
	for {
		if idle >= monitorIdle {
			select {
			case <-m.wake:
			case <-m.done:
				return
			}
			idle = 0
		}
		select {
		case <-time.After(monitorTick):
		case <-m.done:
			return
		}
		m.mu.Lock()
		if len(m.calls) == 0 {
			idle++
		} else {
			idle = 0
		}
		for c := range m.calls {
			m.check(c)
		}
		m.mu.Unlock()
	}
}

// check hands receiving over when c has held its receiver more than a
// tick, and interrupts c's blocked operation once its caller has gone.
func (m *monitor) check(c *call) {
	if time.Since(c.start) < monitorTick {
		return
	}
	if c.onReceiver && c.handedOff.CompareAndSwap(false, true) {
		go m.spawn()
	}
	c.opMu.Lock()
	defer c.opMu.Unlock()
	if c.opTid == 0 {
		return
	}
	if !c.aborted {
		switch {
		case !c.stillWaiting():
			c.aborted = true
		case c.signalPending():
			// The caller waits killably (it cannot be interrupted
			// while the supervisor holds its call), so the
			// supervisor interrupts its own call in its place and
			// answers ERESTARTSYS.
			c.aborted, c.forSignal = true, true
		}
	}
	if c.aborted {
		// Signal on every tick until the op returns: a signal that
		// lands before the syscall is entered interrupts nothing.
		_ = unix.Tgkill(c.s.pid, c.opTid, interruptSignal)
		c.signalPeer()
	}
}

// signalPending reports whether the blocked caller has a signal pending
// that would have interrupted its own blocking call.
func (c *call) signalPending() bool {
	st, ok := taskSignals(c.n.Pid)
	if !ok {
		return false
	}
	shared := st.sharedPending&^st.blocked&st.caught != 0
	again := shared && c.sharedSeen
	c.sharedSeen = shared
	return st.wouldInterrupt(again)
}
