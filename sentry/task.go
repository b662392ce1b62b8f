package sentry

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	"golang.org/x/sys/unix"
)

// pidfdThread is PIDFD_THREAD (== O_EXCL, Linux 6.9): a pidfd for one thread
// rather than its thread group. Notifications name the calling thread, which
// need not be a group leader, and a thread made by clone without CLONE_FILES
// has a file table of its own.
const pidfdThread = unix.O_EXCL

// task is the thread that made a trapped call.
type task struct {
	tid   int
	pidfd int
	refs  int // guarded by taskCache.mu; the pidfd closes at 0
}

// taskCache keeps a pidfd per thread that traps calls: opening and closing
// one costs about 4.5 µs here, a fair part of a whole decision.
//
// A cached pidfd stays bound to the thread it was opened for. If that
// thread has exited, pidfd_getfd fails with ESRCH and the entry is replaced;
// if it is alive it still has its thread id, so it is the caller.
type taskCache struct {
	mu sync.Mutex
	m  map[int]*task
}

// maxTasks bounds the cache: threads that exit are noticed only when their
// id is used again.
const maxTasks = 1024

func newTaskCache() *taskCache { return &taskCache{m: make(map[int]*task)} }

// get returns a referenced task for tid; fresh reports a pidfd just opened,
// which the caller must prove (by the notification still pending) names the
// thread that made the call.
func (tc *taskCache) get(tid int) (t *task, fresh bool, err error) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if t := tc.m[tid]; t != nil {
		t.refs++
		return t, false, nil
	}
	if t, err = openTask(tid); err != nil {
		return nil, false, err
	}
	if len(tc.m) >= maxTasks {
		for k, old := range tc.m {
			delete(tc.m, k)
			tc.releaseLocked(old)
			break
		}
	}
	t.refs = 2 // the cache's and the caller's
	tc.m[tid] = t
	return t, true, nil
}

// put drops the reference get returned.
func (tc *taskCache) put(t *task) {
	tc.mu.Lock()
	tc.releaseLocked(t)
	tc.mu.Unlock()
}

// forget removes t, whose thread has exited, from the cache.
func (tc *taskCache) forget(t *task) {
	tc.mu.Lock()
	if tc.m[t.tid] == t {
		delete(tc.m, t.tid)
		tc.releaseLocked(t)
	}
	tc.mu.Unlock()
}

// closeAll drops the cache's references: the pidfds close as soon as no
// call holds them.
func (tc *taskCache) closeAll() {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	for tid, t := range tc.m {
		delete(tc.m, tid)
		tc.releaseLocked(t)
	}
}

func (tc *taskCache) releaseLocked(t *task) {
	if t.refs--; t.refs == 0 {
		unix.Close(t.pidfd)
	}
}

// openTask opens a pidfd for tid. The caller must check the notification id
// afterwards: only then is it proven that tid still names the caller.
func openTask(tid int) (*task, error) {
	fd, err := unix.PidfdOpen(tid, pidfdThread)
	if errors.Is(err, unix.EINVAL) {
		// Kernels before 6.9 know no PIDFD_THREAD: use the thread
		// group, which shares the file table in all but exotic cases.
		var tgid int
		if tgid, err = threadGroup(tid); err == nil {
			fd, err = unix.PidfdOpen(tgid, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open(%d): %w", tid, err)
	}
	return &task{tid: tid, pidfd: fd}, nil
}

// getfd duplicates the task's fd into the supervisor. Like the kernel's own
// fdget it refuses a closed fd and an O_PATH fd with EBADF; any other error
// (EPERM from ptrace checks, ESRCH) is returned as is.
func (t *task) getfd(fd int) (int, error) {
	if fd < 0 {
		return -1, unix.EBADF
	}
	// flags must be 0; the new fd is close-on-exec. pidfd_getfd hands
	// over O_PATH files too, which the kernel's fdget refuses (EBADF) for
	// every socket call: the caller finds them so (sockInfoArg, pathOnly)
	// where it would otherwise fail, not with a call of its own every
	// time.
	return unix.PidfdGetfd(t.pidfd, fd, 0)
}

// threadGroup returns the thread group (process) id of thread tid.
func threadGroup(tid int) (int, error) {
	c, err := taskCreds(tid)
	return c.tgid, err
}

// executable is the path of the program task tid runs, for the audit log.
func executable(tid int) string {
	exe, err := os.Readlink("/proc/" + strconv.Itoa(tid) + "/exe")
	if err != nil {
		return ""
	}
	return exe
}

// signalPipe sends the thread SIGPIPE, as the kernel does to a thread whose
// stream send finds the connection shut (EPIPE without MSG_NOSIGNAL).
func (t *task) signalPipe() {
	if tgid, err := threadGroup(t.tid); err == nil {
		unix.Tgkill(tgid, t.tid, unix.SIGPIPE)
	}
}
