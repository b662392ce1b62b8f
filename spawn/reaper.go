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
		kids := children()
		if len(kids) == 0 {
			return
		}
		for _, pid := range kids {
			_ = unix.Kill(pid, unix.SIGKILL)
		}
		// Reap what died; their own children are reparented here and
		// killed on the next round.
		for {
			pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil)
			if pid <= 0 || errors.Is(err, unix.ECHILD) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
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
		data, err := os.ReadFile("/proc/self/task/" + t.Name() + "/children")
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
