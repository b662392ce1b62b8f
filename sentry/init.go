package sentry

import (
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"sandbox/seccomp"
)

// initStatusFd is the init step's end of the socket pair to the supervisor.
const initStatusFd = 3

// InitMain is the child's side of Run, in the re-executed sandbox binary:
// os.Args is [argv0, InitArg, netmode, path, argv...]. Go cannot run code between fork
// and exec, so the filter is installed here, in a fresh process, which then
// execs the program. It never returns.
func InitMain() {
	// The filter binds the thread that loads it, and exec keeps only the
	// calling thread: both must be this one.
	runtime.LockOSThread()
	if len(os.Args) < 5 || os.Args[1] != InitArg {
		initFail(fmt.Errorf("sandbox init: bad arguments %q", os.Args))
	}
	mode, path, argv := NetMode(os.Args[2]), os.Args[3], os.Args[4:]
	tun, err := setUpNetwork(mode)
	if err != nil {
		initFail(err)
	}
	listener, err := seccomp.Install(filterRules(mode, os.Getppid()))
	if err != nil {
		initFail(err)
	}
	fds := []int{listener}
	if tun >= 0 {
		// A socket of the program's new namespace goes with the TUN
		// device: its namespace cookie tells the supervisor which
		// sockets are the sandbox's own (netnsProbe).
		probe, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			initFail(fmt.Errorf("a socket in the program's network namespace: %w", err))
		}
		fds = append(fds, tun, probe)
	}
	if err := seccomp.OfferFds(initStatusFd, fds...); err != nil {
		initFail(err)
	}
	// The program must never hold its own listener (it could answer its
	// own trapped calls) nor the TUN device (it could write packets past
	// netstack's forwarders' checks… into netstack, but still).
	for _, fd := range fds {
		unix.Close(fd)
	}
	// Nothing but stdin, stdout and stderr passes to the program — not
	// even descriptors the sandbox itself inherited (an inherited
	// connected socket would bypass every check). The status socket
	// closes on exec, which tells the supervisor exec succeeded.
	if err := unix.CloseRange(initStatusFd, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		initFail(fmt.Errorf("close inherited descriptors: %w", err))
	}
	if err := confineProgram(mode); err != nil {
		initFail(err)
	}
	err = unix.Exec(path, argv, os.Environ())
	initFail(fmt.Errorf("cannot run %s: %w", path, err))
}

func initFail(err error) {
	// A NUL first: if the fds were not offered yet, the supervisor reads
	// this byte where it expects an offer, and knows the init step failed.
	unix.Write(initStatusFd, append([]byte{0}, err.Error()...))
	os.Exit(125)
}
