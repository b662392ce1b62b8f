package sentry

import (
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

func fdOpen(fd int) bool {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
	return err == nil
}

// The task cache closes a pidfd exactly when its last reference goes, and
// a forgotten (stale) task is replaced by a fresh one.
func TestTaskCacheReferences(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	tid := unix.Gettid()
	tc := newTaskCache()

	t1, fresh, err := tc.get(tid)
	if err != nil || !fresh {
		t.Fatalf("first get: fresh=%v err=%v", fresh, err)
	}
	tc.put(t1)
	if !fdOpen(t1.pidfd) {
		t.Fatal("the cached pidfd closed while the cache still holds it")
	}
	t2, fresh, _ := tc.get(tid)
	if fresh || t2 != t1 {
		t.Fatal("a cached task was not reused")
	}
	tc.forget(t2)
	if !fdOpen(t2.pidfd) {
		t.Fatal("forget closed a pidfd a caller still holds")
	}
	tc.put(t2)
	if t2.refs != 0 || fdOpen(t2.pidfd) {
		t.Fatalf("after the last put: refs %d, pidfd open %v", t2.refs, fdOpen(t2.pidfd))
	}
	t3, fresh, _ := tc.get(tid)
	if !fresh || t3 == t1 {
		t.Fatal("a forgotten task was handed out again")
	}
	tc.put(t3)
}
