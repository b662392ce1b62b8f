package sentry

import (
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestSocketTableKeepsUnheardResult(t *testing.T) {
	tab := newSocketTable()
	k := sockKey{1, 2}
	never := func() bool { return false }

	if _, unheard, ok := tab.acquire(k, never); !ok || unheard {
		t.Fatalf("first acquire: unheard=%v ok=%v, want a fresh call", unheard, ok)
	}
	tab.release(k, unix.EINPROGRESS, false) // the caller was interrupted

	res, unheard, ok := tab.acquire(k, never)
	if !ok || !unheard || res != unix.EINPROGRESS {
		t.Fatalf("restarted call got (%v, unheard=%v, ok=%v), want the kept EINPROGRESS", res, unheard, ok)
	}
	tab.release(k, res, true)

	if _, unheard, _ := tab.acquire(k, never); unheard {
		t.Fatal("a heard result was handed out again")
	}
	tab.release(k, 0, true)
	if len(tab.m) != 0 {
		t.Fatalf("table keeps %d entries after every result was heard", len(tab.m))
	}
}

func TestSocketTableSerializesCalls(t *testing.T) {
	tab := newSocketTable()
	k := sockKey{1, 3}
	never := func() bool { return false }
	tab.acquire(k, never)

	var wg sync.WaitGroup
	got := make(chan time.Time, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tab.acquire(k, never)
		got <- time.Now()
		tab.release(k, 0, true)
	}()
	time.Sleep(20 * time.Millisecond)
	released := time.Now()
	tab.release(k, 0, true)
	wg.Wait()
	if at := <-got; at.Before(released) {
		t.Fatal("a second call on the socket ran while the first was in flight")
	}
}

func TestSocketTableGivesUpWhenCallerLeaves(t *testing.T) {
	tab := newSocketTable()
	k := sockKey{1, 4}
	tab.acquire(k, func() bool { return false })
	if _, _, ok := tab.acquire(k, func() bool { return true }); ok {
		t.Fatal("acquire for a caller that left returned ok")
	}
}

func TestSocketTableBounded(t *testing.T) {
	tab := newSocketTable()
	never := func() bool { return false }
	for i := range maxUnheard + 10 {
		k := sockKey{9, uint64(i)}
		tab.acquire(k, never)
		tab.release(k, unix.EINPROGRESS, false)
	}
	if len(tab.m) > maxUnheard+1 {
		t.Fatalf("table holds %d unheard results, bound is %d", len(tab.m), maxUnheard)
	}
}
