package netstack

import (
	"bytes"
	"runtime"
	"strings"
	"sync"
	"testing"
)

// goroutineID is the running goroutine's number, from its stack's header.
func goroutineID() string {
	buf := make([]byte, 64)
	buf = buf[:runtime.Stack(buf, false)]
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf), "goroutine "), " ")
	return id
}

// poolGoroutines counts the goroutines in a warmPool's run, of any pool.
func poolGoroutines() int {
	buf := make([]byte, 1<<20)
	return bytes.Count(buf[:runtime.Stack(buf, true)], []byte("(*warmPool).run("))
}

// TestWarmPoolReusesGoroutines: a function runs beside its caller, and the
// next one runs on the goroutine the first finished on — no new goroutine.
func TestWarmPoolReusesGoroutines(t *testing.T) {
	p := newWarmPool()
	defer p.stop()
	release := make(chan struct{})
	ids := make(chan string, 1)
	p.Go(func() { <-release; ids <- goroutineID() }) // inline, Go would never return
	close(release)
	first := <-ids
	if first == goroutineID() {
		t.Fatal("the function ran on the caller's goroutine")
	}
	waitFor(t, "one goroutine waiting", func() bool { return p.waiting() == 1 })
	p.Go(func() { ids <- goroutineID() })
	if second := <-ids; second != first {
		t.Errorf("the second function ran on goroutine %s, not on %s, which was waiting", second, first)
	}
}

// TestWarmPoolKeepsAtMostMaxWarm: after a burst wider than maxWarm, the
// extra goroutines end and maxWarm wait; stop ends those.
func TestWarmPoolKeepsAtMostMaxWarm(t *testing.T) {
	p := newWarmPool()
	release := make(chan struct{})
	var wg sync.WaitGroup
	const burst = maxWarm + 8
	wg.Add(burst)
	for range burst {
		p.Go(func() { defer wg.Done(); <-release })
	}
	close(release)
	wg.Wait()
	waitFor(t, "maxWarm waiting", func() bool { return p.waiting() == maxWarm })
	waitFor(t, "the extra goroutines ended", func() bool { return poolGoroutines() == maxWarm })
	p.stop()
	waitFor(t, "every goroutine ended after stop", func() bool { return poolGoroutines() == 0 })
	if got := p.waiting(); got != 0 {
		t.Errorf("%d goroutines still counted as waiting after stop", got)
	}
}
