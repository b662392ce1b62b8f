package sentry

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/policy"
	"sandbox/seccomp"
)

// InitArg is the first argument with which the sandbox re-executes itself as
// the child's init step; main must hand control to InitMain when it sees it.
const InitArg = "__sandbox_init"

// Config says what to run and under which policy.
type Config struct {
	Policy *policy.Policy
	Audit  *AuditLog // nil: no audit log

	Path string   // the program's resolved executable
	Argv []string // its arguments, Argv[0] included
	Env  []string

	Stdin, Stdout, Stderr *os.File

	// Self is the executable to re-execute as the init step;
	// "/proc/self/exe" when empty.
	Self string
}

// Supervisor serves one sandboxed program's trapped calls.
type Supervisor struct {
	policy   *policy.Policy
	audit    *AuditLog
	listener *seccomp.Listener
	creds    creds
	monitor  *monitor
	tasks    *taskCache
	pid      int
}

// StartError is a failure before the program ran: the sandbox, not the
// program, failed.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Run runs the program under the policy and returns its exit status (128+N
// when signal N killed it). A *StartError means the program never ran.
func Run(cfg Config) (int, error) {
	start := func(err error) (int, error) { return 0, &StartError{Err: err} }
	if err := seccomp.CheckSupport(); err != nil {
		return start(err)
	}
	if err := installInterrupt(); err != nil {
		return start(err)
	}
	if err := becomeSubreaper(); err != nil {
		return start(fmt.Errorf("become the subreaper of the program's processes: %w", err))
	}
	self, err := selfCreds()
	if err != nil {
		return start(err)
	}
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return start(fmt.Errorf("socketpair: %w", err))
	}
	parentEnd := pair[0]
	childEnd := os.NewFile(uintptr(pair[1]), "sandbox-init")
	defer unix.Close(parentEnd)

	exe := cfg.Self
	if exe == "" {
		exe = "/proc/self/exe"
	}
	cmd := &exec.Cmd{
		Path:       exe,
		Args:       append([]string{os.Args[0], InitArg, cfg.Path}, cfg.Argv...),
		Env:        cfg.Env,
		Stdin:      cfg.Stdin,
		Stdout:     cfg.Stdout,
		Stderr:     cfg.Stderr,
		ExtraFiles: []*os.File{childEnd}, // fd 3 in the child
		// Fail closed: if the supervisor dies the program dies too.
		SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL},
	}

	// Signals that arrive from now on are queued and passed on once the
	// program runs.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, forwardedSignals...)
	defer signal.Stop(sigs)

	// Pdeathsig fires when the *thread* that forked the child exits, so
	// the fork and the wait happen on one locked thread that lives as
	// long as the child.
	started := make(chan error, 1)
	exited := make(chan waitResult, 1)
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := cmd.Wait()
		exited <- waitResult{cmd.ProcessState, err}
	}()
	err = <-started
	childEnd.Close()
	if err != nil {
		return start(fmt.Errorf("start the init step: %w", err))
	}

	lfd, err := seccomp.RecvFd(parentEnd)
	if err != nil {
		status := <-exited
		if msg := initError(parentEnd); msg != "" {
			return start(errors.New(msg))
		}
		return start(fmt.Errorf("%w (init step ended: %v)", err, status.state))
	}
	listener, err := seccomp.NewListener(lfd, trapped())
	if err != nil {
		unix.Close(lfd)
		cmd.Process.Kill()
		<-exited
		return start(err)
	}
	s := &Supervisor{
		policy:   cfg.Policy,
		audit:    cfg.Audit,
		listener: listener,
		creds:    self,
		tasks:    newTaskCache(),
		pid:      os.Getpid(),
	}
	s.monitor = newMonitor(s.receive)
	defer s.monitor.stop()
	defer s.listener.Close()
	go s.receive()

	// The init step closes its end when exec succeeds (close-on-exec) or
	// writes why exec failed.
	if msg := initError(parentEnd); msg != "" {
		<-exited
		return start(errors.New(msg))
	}

	for {
		select {
		case sig := <-sigs:
			forward(cmd.Process, sig)
		case res := <-exited:
			killOrphans(5 * time.Second)
			return exitStatus(res)
		}
	}
}

type waitResult struct {
	state *os.ProcessState
	err   error
}

func exitStatus(res waitResult) (int, error) {
	if res.state == nil {
		return 0, fmt.Errorf("wait for the program: %w", res.err)
	}
	ws := res.state.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

// initError reads what the init step reported before exec; "" when exec
// succeeded.
func initError(fd int) string {
	msg, _ := io.ReadAll(os.NewFile(uintptr(dupCloexec(fd)), "sandbox-init-status"))
	return string(msg)
}

func dupCloexec(fd int) int {
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return -1
	}
	return nfd
}

// receive receives trapped calls and handles each in turn, on this
// goroutine: handing each to a goroutine of its own would cost a thread
// wake-up — tens of microseconds on a virtual CPU — on every connect. It
// ends when no task uses the filter any more, or when the monitor handed
// receiving to another goroutine because a call here took long (a connect
// to a slow host must not hold up the program's other threads).
func (s *Supervisor) receive() {
	for {
		n, err := s.listener.Receive()
		if err != nil {
			// ErrClosed: every task under the filter has exited.
			// Anything else leaves trapped calls unanswered, and
			// the kernel fails them (ENOSYS) once the listener
			// closes: closed, not open.
			return
		}
		c := &call{s: s, n: n, start: time.Now(), onReceiver: true}
		s.handle(c)
		if !c.handedOff.CompareAndSwap(false, true) {
			return // another receiver took over while this call ran
		}
	}
}
