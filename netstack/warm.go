package netstack

import "sync"

// maxWarm is how many finished goroutines a warmPool keeps waiting for
// work. A burst of short connections (a package install, a test suite)
// then runs on goroutines whose stacks have already grown; each waiting
// one holds its stack (up to some 32 KiB), so the pool holds at most a
// megabyte or so — and Go's collector shrinks the stacks of those that
// wait long.
const maxWarm = 32

// warmPool runs functions on goroutines of its own, reusing those whose
// function has returned. Every TCP flow through the gateway runs on two
// goroutines (its dial, handshake and one direction of the copy; the other
// direction) whose stacks grow from Go's few kilobytes as they reach
// the dial's and gVisor's handshake depths: on new goroutines that growth
// — copying the stack and walking every frame, each time it doubles —
// was 8% of the sandbox's CPU in a run of sequential connects through the
// gateway (perf: runtime.newstack), and 0.8% with the pool.
type warmPool struct {
	work chan func() // unbuffered: a send succeeds only to a waiting goroutine
	done chan struct{}

	mu   sync.Mutex
	idle int // goroutines waiting on work
}

func newWarmPool() *warmPool {
	return &warmPool{work: make(chan func()), done: make(chan struct{})}
}

// Go runs f on a goroutine of the pool's: a waiting one if there is one,
// else a new one. It never runs f on the caller's goroutine.
func (p *warmPool) Go(f func()) {
	select {
	case p.work <- f:

	default:
		go p.run(f)
	}
}

// run runs f, then waits for more work while fewer than maxWarm wait and
// the pool is not stopped.
func (p *warmPool) run(f func()) {
	for {
		f()
		p.mu.Lock()
		if p.idle >= maxWarm {
			p.mu.Unlock()
			return
		}
		p.idle++
		p.mu.Unlock()
		select {
		case f = <-p.work:
		case <-p.done:
			f = nil
		}
		p.mu.Lock()
		p.idle--
		p.mu.Unlock()
		if f == nil {
			return
		}
	}
}

// stop ends the waiting goroutines; Go still works, on goroutines that end
// with their function.
func (p *warmPool) stop() { close(p.done) }

// waiting is how many goroutines wait for work.
func (p *warmPool) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.idle
}
