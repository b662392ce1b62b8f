package sentry

import (
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// errRestartSys is the kernel's ERESTARTSYS (include/linux/errno.h): a
// syscall that returns it with a signal pending is restarted if the
// signal's handler has SA_RESTART and fails with EINTR if not — exactly
// what Linux does to a blocking connect a signal interrupts. It must never
// reach a program without a signal pending: there is no errno 512.
const errRestartSys = unix.Errno(512)

// sigState is what /proc/TID/status says of a thread's signals.
type sigState struct {
	threadPending, sharedPending, blocked, caught uint64
	threads                                       int
}

func taskSignals(tid int) (sigState, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/status")
	if err != nil {
		return sigState{}, false
	}
	var s sigState
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		val = strings.TrimSpace(val)
		var dst *uint64
		switch key {
		case "SigPnd":
			dst = &s.threadPending
		case "ShdPnd":
			dst = &s.sharedPending
		case "SigBlk":
			dst = &s.blocked
		case "SigCgt":
			dst = &s.caught
		case "Threads":
			s.threads, _ = strconv.Atoi(val)
		}
		if dst != nil {
			if *dst, err = strconv.ParseUint(val, 16, 64); err != nil {
				return sigState{}, false
			}
		}
	}
	return s, true
}

// wouldInterrupt reports whether a signal is pending that Linux would
// interrupt the thread's blocking call for: one it neither blocks nor
// leaves to its default action, meant for this thread, or for the process
// when no other thread is there to take it (sharedAgain: still pending a
// tick later, so no other thread took it).
func (s sigState) wouldInterrupt(sharedAgain bool) bool {
	pending := s.threadPending
	if s.threads == 1 || sharedAgain {
		pending |= s.sharedPending
	}
	return pending&^s.blocked&s.caught != 0
}
