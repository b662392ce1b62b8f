package spawn

import (
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/sys/unix"
)

// forwardedSignals are passed on to the program. SIGCHLD and SIGURG are the
// supervisor's own (Go uses SIGURG for preemption); stop signals are left to
// job control.
var forwardedSignals = []os.Signal{
	syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGWINCH,
	syscall.SIGCONT,
}

// notifyForwarded relays to c the forwarded signals that are not ignored.
// One that whoever started this process ignores — SIGHUP under nohup,
// SIGINT in a shell's background job — stays ignored, here and in what
// this process starts, down to the program, as it would natively
// (Notify would install a handler and end the ignoring). Go tells only of
// these two: it puts its own handler on any other signal ignored at its
// start, so a SIGQUIT ignored so reaches the program with its default.
func notifyForwarded(c chan<- os.Signal) {
	for _, sig := range forwardedSignals {
		if !signal.Ignored(sig) {
			signal.Notify(c, sig)
		}
	}
}

// terminalSignals are the ones a terminal sends to its whole foreground
// process group, of which the program is a member.
var terminalSignals = map[os.Signal]bool{
	syscall.SIGINT: true, syscall.SIGQUIT: true, syscall.SIGWINCH: true,
}

func forward(p *os.Process, sig os.Signal) {
	if terminalSignals[sig] && inForeground() {
		// The terminal already delivered it to the program, which
		// shares the supervisor's process group; sending it again
		// would deliver it twice (two ^C).
		return
	}
	_ = p.Signal(sig)
}

// inForeground reports whether the supervisor's process group is the
// foreground group of the terminal on stdin, stdout or stderr.
func inForeground() bool {
	pgrp := unix.Getpgrp()
	for fd := range 3 {
		if fg, err := unix.IoctlGetInt(fd, unix.TIOCGPGRP); err == nil {
			return fg == pgrp
		}
	}
	return false
}
