package spawn

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/netstack"
	"sandbox/policy"
	"sandbox/seccomp"
	"sandbox/sentry"
)

// InitArg is the first argument with which the sandbox re-executes itself as
// the child's init step; main must hand control to InitMain when it sees it.
const InitArg = "__sandbox_init"

// Config says what to run and under which policy.
type Config struct {
	Policy  *policy.Policy
	Records sentry.Records // where the records of calls go
	Net     sentry.NetMode // sentry.NetHost when empty
	// DNS is the resolver the sandbox's DNS asks in sentry.NetSandbox mode (the
	// host's own when invalid).
	DNS netip.AddrPort

	Path string   // the program's resolved executable
	Argv []string // its arguments, Argv[0] included
	Env  []string

	Stdin, Stdout, Stderr *os.File

	// Self is the executable to re-execute as the init step;
	// "/proc/self/exe" when empty.
	Self string
}

// StartError is a failure before the program ran: the sandbox, not the
// program, failed.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// Run runs the program under the policy and returns its exit status (128+N
// when signal N killed it). A *StartError means the program never ran.
func Run(cfg Config) (int, error) {
	fail := func(err error) (int, error) { return 0, &StartError{Err: err} }
	if err := seccomp.CheckSupport(); err != nil {
		return fail(err)
	}
	if err := becomeSubreaper(); err != nil {
		return fail(fmt.Errorf("become the subreaper of the program's processes: %w", err))
	}
	// Signals that arrive from now on are queued and passed on once the
	// program runs.
	sigs := make(chan os.Signal, 32)
	notifyForwarded(sigs)
	defer signal.Stop(sigs)

	p, err := startInit(cfg)
	if err != nil {
		return fail(err)
	}
	defer unix.Close(p.status)
	unshield, err := shieldSupervisor()
	if err != nil {
		p.cmd.Process.Kill()
		<-p.exited
		return fail(err)
	}
	defer unshield()
	want := 1
	if p.mode == sentry.NetSandbox {
		want = 3 // and the TUN device, and a socket of the namespace
	}
	fds, err := seccomp.TakeFds(p.status, p.cmd.Process.Pid, want)
	if err != nil {
		// An init step that offered its fds waits for an answer that
		// will not come: end it rather than wait for it forever.
		unix.Shutdown(p.status, unix.SHUT_WR)
		res := <-p.exited
		if msg := readAll(p.status); msg != "" {
			return fail(errors.New(msg))
		}
		return fail(fmt.Errorf("%w (init step ended: %v)", err, res.state))
	}
	listener, err := seccomp.NewListener(fds[0], sentry.Trapped())
	if err != nil {
		unix.Close(fds[0])
		p.cmd.Process.Kill()
		<-p.exited
		return fail(err)
	}
	var names *netstack.Names
	var netns uint64
	if p.mode == sentry.NetSandbox {
		netns, err = sentry.NetnsCookie(fds[2])
		unix.Close(fds[2])
		if err != nil {
			unix.Close(fds[1])
			p.cmd.Process.Kill()
			<-p.exited
			return fail(fmt.Errorf("the program's network namespace: %w", err))
		}
		ns, err := netstack.Start(netstack.Config{TUN: fds[1], Policy: cfg.Policy, DNS: cfg.DNS, DNSLog: cfg.Records.DNSLog(), Log: logLine})
		if err != nil {
			p.cmd.Process.Kill()
			<-p.exited
			return fail(err)
		}
		defer ns.Close()
		names = ns.Names()
	}
	srv, err := sentry.Serve(listener, sentry.Config{Policy: cfg.Policy, Records: cfg.Records, Mode: p.mode, Names: names, Netns: netns})
	if err != nil {
		listener.Close()
		p.cmd.Process.Kill()
		<-p.exited
		return fail(err)
	}
	// Before netstack's Close: no trapped call is left to dial through it.
	defer srv.Close()

	// The init step's end of the status socket closes when exec succeeds
	// (close-on-exec); otherwise it says why exec failed.
	if msg := readAll(p.status); msg != "" {
		<-p.exited
		return fail(errors.New(msg))
	}
	for {
		select {
		case sig := <-sigs:
			forward(p.cmd.Process, sig)
		case res := <-p.exited:
			killOrphans(5 * time.Second)
			return exitStatus(res)
		}
	}
}

// initProcess is the re-executed sandbox binary on its way to becoming the
// program.
type initProcess struct {
	mode   sentry.NetMode
	cmd    *exec.Cmd
	status int             // the supervisor's end of the status socket
	exited chan waitResult // receives once the process (the program, by then) exits
}

// startInit re-executes the sandbox as the init step (InitMain), which
// installs the filter, offers the listener over the status socket (the supervisor takes it with pidfd_getfd) and execs
// the program.
func startInit(cfg Config) (*initProcess, error) {
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socketpair: %w", err)
	}
	childEnd := os.NewFile(uintptr(pair[1]), "sandbox-init")
	defer childEnd.Close()
	exe := cfg.Self
	if exe == "" {
		exe = "/proc/self/exe"
	}
	mode := cfg.Net
	if mode == "" {
		mode = sentry.NetHost
	}
	p := &initProcess{
		mode: mode,
		cmd: &exec.Cmd{
			Path:       exe,
			Args:       append([]string{os.Args[0], InitArg, string(mode), cfg.Path}, cfg.Argv...),
			Env:        cfg.Env,
			Stdin:      cfg.Stdin,
			Stdout:     cfg.Stdout,
			Stderr:     cfg.Stderr,
			ExtraFiles: []*os.File{childEnd}, // initStatusFd in the child
			// No Pdeathsig: should the supervisor die, the init step
			// (the program's watchdog, see InitMain) must live on to
			// kill everything the program started — it watches the
			// supervisor through a pidfd.
			SysProcAttr: &syscall.SysProcAttr{},
		},
		status: pair[0],
		exited: make(chan waitResult, 1),
	}
	namespaceAttrs(mode, p.cmd.SysProcAttr)
	started := make(chan error, 1)
	go func() {
		if err := p.cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		err := p.cmd.Wait()
		p.exited <- waitResult{p.cmd.ProcessState, err}
	}()
	if err := <-started; err != nil {
		unix.Close(p.status)
		if mode != sentry.NetHost {
			return nil, fmt.Errorf("create the program's network namespace (--net %s needs root or unprivileged user namespaces): %w", mode, err)
		}
		return nil, fmt.Errorf("start the init step: %w", err)
	}
	return p, nil
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

// readAll reads fd to its end: what the init step wrote before it exec'd
// or failed (without the NUL initFail puts first).
func readAll(fd int) string {
	msg, _ := readToEnd(fd) // a failed read ends the message as its end would
	return strings.TrimLeft(string(msg), "\x00")
}

// logLine is how the supervisor tells the user of something that went
// wrong while the program runs (a limit hit, a flood dropped): one line on
// stderr, which the program shares, prefixed so it is not the program's.
func logLine(s string) { fmt.Fprintln(os.Stderr, s) }
