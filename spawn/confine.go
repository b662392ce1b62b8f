package spawn

import (
	"fmt"

	"golang.org/x/sys/unix"

	"sandbox/sentry"
)

// confineProgram is the init step's last act before it execs the program:
// it gives up the capabilities that reach around the policy (dropCaps) and
// enters a Landlock domain that keeps the program from tracing or
// signalling any process outside it (enterLandlockDomain). Like the filter,
// both bind the calling thread, which is the one that execs.
func confineProgram(mode sentry.NetMode) error {
	if err := dropCaps(mode); err != nil {
		return err
	}
	if _, err := enterLandlockDomain(landlockABI()); err != nil {
		return fmt.Errorf("landlock: %w", err)
	}
	return nil
}

// shieldSupervisor makes this process not dumpable, so that a program of
// the same user without CAP_SYS_PTRACE cannot open its /proc/PID/mem,
// environ, fd/ links and the like, nor ptrace it, whether or not Landlock
// is there (a non-dumpable process's /proc files belong to root, and the
// ptrace access check refuses it to anyone without CAP_SYS_PTRACE). It
// loses nothing by it: a process may always use its own /proc/self.
//
// Run calls it once the init step has started, not before: until the child
// execs it shares this process's dumpability, and a non-dumpable child's
// uid_map cannot be written by a user who is not root — the user namespace
// of --net sandbox and none would fail to start. The program runs only
// after the supervisor has taken the init step's descriptors, so nothing
// of it ever sees the supervisor dumpable. For the same reason unshield
// restores what was before, once the program and all it left behind are
// gone, so that a later Run in this process can start its init step.
func shieldSupervisor() (unshield func(), err error) {
	was, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read whether the supervisor is dumpable: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("make the supervisor non-dumpable: %w", err)
	}
	return func() { unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(was), 0, 0, 0) }, nil
}
