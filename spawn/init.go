package spawn

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/seccomp"
	"sandbox/sentry"
)

// initStatusFd is the init step's end of the socket pair to the supervisor.
const initStatusFd = 3

// InitMain is the child's side of Run, in the re-executed sandbox binary:
// os.Args is [argv0, InitArg, netmode, path, argv...]. It never returns.
//
// The init step sets the program's network up, installs the filter and
// offers the supervisor its descriptors; then it stays, as the program's
// watchdog, and starts the program in a process that confines itself
// before it execs (the confinement must bind the program, not the
// watchdog: see confinement and startProgram). The watchdog is the subreaper
// of everything the program starts, so a process that escaped into a
// session of its own (setsid, a double fork) is still its descendant; it
// watches the supervisor through a pidfd and, should the supervisor die —
// even by SIGKILL, which no process can catch — kills every one of them.
// When the program exits it kills what the program left behind and exits
// with the program's status (128+N when signal N killed it).
//
//	supervisor ──(clone: namespaces)──▶ init step = watchdog (subreaper, not dumpable)
//	    │  ◀── offers listener, TUN ──────┤ installs the filter
//	    │                                 └──(vfork: caps, Landlock; exec)──▶ program
//	    └ dies ──▶ watchdog's pidfd readable ──▶ SIGKILL to every descendant
//
// The watchdog has a process group of its own; the program stays in the
// supervisor's, so a kill of that whole group does not take the watchdog.
func InitMain() {
	// The filter binds the thread that loads it, and the program is
	// forked from it: both on this one. Pdeathsig fires when the thread
	// that forked the program exits: this one, which lives until the
	// watchdog does.
	runtime.LockOSThread()
	if len(os.Args) < 5 || os.Args[1] != InitArg {
		initFail(fmt.Errorf("sandbox init: bad arguments %q", os.Args))
	}
	mode, path, argv := sentry.NetMode(os.Args[2]), os.Args[3], os.Args[4:]
	// The supervisor's pidfd, taken before the filter (which refuses
	// pidfd_open of the supervisor) and proven by the parent still being
	// the supervisor afterwards.
	supervisor := os.Getppid()
	watch, err := unix.PidfdOpen(supervisor, 0)
	if err != nil {
		initFail(fmt.Errorf("watch the supervisor: %w", err))
	}
	if os.Getppid() != supervisor {
		os.Exit(125) // the supervisor is gone: nothing to start
	}
	tun, err := setUpNetwork(mode)
	if err != nil {
		initFail(err)
	}
	listener, err := seccomp.Install(sentry.FilterRules(mode, supervisor, os.Getpid()))
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
	// connected socket would bypass every check). The status socket stays
	// open here until the program runs (startProgram).
	if err := unix.CloseRange(initStatusFd, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		initFail(fmt.Errorf("close inherited descriptors: %w", err))
	}
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		initFail(fmt.Errorf("become the subreaper of the program's processes: %w", err))
	}
	// Out of the supervisor's process group, which the program rejoins
	// (below): a SIGKILL to the whole group — `timeout -s KILL`, a CI
	// runner ending a job, kill -9 -PGID — then kills the supervisor and
	// the program but not the watchdog, which goes on to kill what
	// escaped into sessions of its own. The terminal's signals and job
	// control still reach the program, in the group they are sent to.
	group := unix.Getpgrp()
	if err := unix.Setpgid(0, 0); err != nil {
		initFail(fmt.Errorf("give the watchdog a process group of its own: %w", err))
	}
	// Not dumpable, like the supervisor (shieldSupervisor): the program
	// cannot open the watchdog's /proc files nor trace it. Only now: the
	// supervisor took the descriptors above with pidfd_getfd, which a
	// supervisor without CAP_SYS_PTRACE may not do to a process that is
	// not dumpable.
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		initFail(fmt.Errorf("make the watchdog non-dumpable: %w", err))
	}
	// Planned here, while the watchdog still has what it gives up, and
	// applied by the program's process.
	conf, err := newConfinement(mode)
	if err != nil {
		initFail(err)
	}
	// Signals the supervisor passes on reach the watchdog first (the
	// terminal's reach the program directly: the watchdog is not in its
	// foreground group).
	sigs := make(chan os.Signal, 32)
	notifyForwarded(sigs)
	// The status socket (initStatusFd, close-on-exec) closes in the
	// program's process when it execs, and here just after: that tells
	// the supervisor the program runs.
	program, err := startProgram(conf, path, argv, os.Environ(), group)
	if err != nil {
		initFail(err)
	}
	conf.close()
	unix.Close(initStatusFd)
	go func() {
		for sig := range sigs {
			forward(program, sig)
		}
	}()
	dying := make(chan struct{})
	go watchSupervisor(watch, dying)
	state, err := program.Wait()
	select {
	case <-dying:
		select {} // watchSupervisor reaps and ends the watchdog
	default:
	}
	// What the program left behind dies with it, as in a PID namespace.
	killOrphans(5 * time.Second)
	if err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: wait for the program: %v\n", err)
		os.Exit(125)
	}
	ws := state.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		os.Exit(128 + int(ws.Signal()))
	}
	os.Exit(ws.ExitStatus())
}

// watchSupervisor waits for the supervisor, whose pidfd is watch, to exit,
// then (having closed dying) kills every process the program started and
// ends the watchdog. The
// supervisor exits only after the watchdog has (Run waits for it), so
// its end before that is a death.
func watchSupervisor(watch int, dying chan<- struct{}) {
	fds := []unix.PollFd{{Fd: int32(watch), Events: unix.POLLIN}}
	for {
		_, err := unix.Poll(fds, -1)
		if err == nil || !errors.Is(err, unix.EINTR) {
			break
		}
	}
	close(dying)
	// No deadline that matters: nothing is left to report to.
	killOrphans(time.Minute)
	os.Exit(128 + int(unix.SIGKILL))
}

func initFail(err error) {
	// A NUL first: if the fds were not offered yet, the supervisor reads
	// this byte where it expects an offer, and knows the init step failed.
	unix.Write(initStatusFd, append([]byte{0}, err.Error()...))
	os.Exit(125)
}
