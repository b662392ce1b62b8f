package spawn

import (
	"errors"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// becomeSubreaper makes the supervisor the parent of every process the
// program leaves behind (a double fork, a daemon), so that none of them
// outlives the sandbox unsupervised: once the program exits, killOrphans
// ends them, as a PID namespace would.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

// killOrphans kills and reaps every remaining child of the supervisor —
// the program's leftover descendants, reparented here — until none is
// left or the deadline passes. It runs after the program itself has been
// waited for, so nothing else waits for these children.
func killOrphans(deadline time.Duration) {
	stop := time.Now().Add(deadline)
	for time.Now().Before(stop) {
		if !reapExited() {
			// No child at all, the usual end: nothing to look for
			// in /proc.
			return
		}
		kids := children()
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		// Reap what died; their own children are reparented here and
		// killed on the next round.
		reapExited()
		time.Sleep(5 * time.Millisecond)
	}
}

// reapExited reaps every child that has exited and reports whether any
// child is left. (A child the program cloned with an exit signal other
// than SIGCHLD gets SIGCHLD when it is reparented here, so a plain wait
// sees it.)
func reapExited() bool {
	for {
		pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
		switch {
		case errors.Is(err, unix.ECHILD):
			return false
		case errors.Is(err, unix.EINTR) || pid > 0:
			continue
		}
		return true
	}
}

// children lists the supervisor's child processes, from every one of its
// threads (a child belongs to the thread that forked it, or to the
// process when it was reparented).
func children() []int {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return nil
	}
	seen := map[int]bool{}
	var out []int
	for _, t := range tasks {
		data, err := readProcFile("/proc/self/task/" + t.Name() + "/children")
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(data)) {
			if pid, err := strconv.Atoi(f); err == nil && !seen[pid] {
				seen[pid] = true
				out = append(out, pid)
			}
		}
	}
	return out
}

// readProcFile reads a small /proc file with three system calls (os.ReadFile
// makes nine: it sets the file up for Go's poller first).
func readProcFile(path string) ([]byte, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	defer unix.Close(fd)
	return readToEnd(fd)
}

// readToEnd reads fd until its end, or until a read fails: what was read
// by then, and the failure.
func readToEnd(fd int) ([]byte, error) {
	var out []byte
	buf := make([]byte, 4096)
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			out = append(out, buf[:n]...)
		}
		switch {
		case errors.Is(err, unix.EINTR):
		case err != nil:
			return out, err
		case n == 0:
			return out, nil
		}
	}
}
