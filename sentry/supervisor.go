package sentry

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
)

// InitArg is the first argument with which the sandbox re-executes itself as
// the child's init step; main must hand control to InitMain when it sees it.
const InitArg = "__sandbox_init"

// Config says what to run and under which policy.
type Config struct {
	Policy *policy.Policy
	Audit  *AuditLog // nil: no audit log
	Net    NetMode   // NetHost when empty
	// DNS is the resolver the sandbox's DNS asks in NetSandbox mode (the
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

// Supervisor serves one sandboxed program's trapped calls.
type Supervisor struct {
	policy   *policy.Policy
	audit    *AuditLog
	listener *seccomp.Listener
	creds    creds
	monitor  *monitor
	tasks    *taskCache
	mode     NetMode
	names    *netstack.Names // NetSandbox: what the sandbox's DNS resolved
	// netns is the cookie of the program's network namespace
	// (NetSandbox): only its sockets see the gateway as the gateway.
	netns uint64
	pid   int
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
	if err := installInterrupt(); err != nil {
		return fail(err)
	}
	if err := becomeSubreaper(); err != nil {
		return fail(fmt.Errorf("become the subreaper of the program's processes: %w", err))
	}
	self, err := selfCreds()
	if err != nil {
		return fail(err)
	}
	// Signals that arrive from now on are queued and passed on once the
	// program runs.
	sigs := make(chan os.Signal, 32)
	signal.Notify(sigs, forwardedSignals...)
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
	if p.mode == NetSandbox {
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
	listener, err := seccomp.NewListener(fds[0], trapped())
	if err != nil {
		unix.Close(fds[0])
		p.cmd.Process.Kill()
		<-p.exited
		return fail(err)
	}
	var names *netstack.Names
	var netns uint64
	if p.mode == NetSandbox {
		netns, err = netnsCookie(fds[2])
		unix.Close(fds[2])
		if err != nil {
			unix.Close(fds[1])
			p.cmd.Process.Kill()
			<-p.exited
			return fail(fmt.Errorf("the program's network namespace: %w", err))
		}
		ns, err := netstack.Start(netstack.Config{TUN: fds[1], Policy: cfg.Policy, DNS: cfg.DNS, DNSLog: cfg.Audit.logDNS(), Log: logLine})
		if err != nil {
			p.cmd.Process.Kill()
			<-p.exited
			return fail(err)
		}
		defer ns.Close()
		names = ns.Names()
	}
	s := &Supervisor{
		policy:   cfg.Policy,
		audit:    cfg.Audit,
		listener: listener,
		creds:    self,
		tasks:    newTaskCache(),
		mode:     p.mode,
		names:    names,
		netns:    netns,
		pid:      os.Getpid(),
	}
	// Deferred first, so it runs last, once no call can use a task.
	defer s.tasks.closeAll()
	s.monitor = newMonitor(s.receive)
	defer s.monitor.stop()
	defer s.listener.Close()
	go s.receive()

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
	mode   NetMode
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
		mode = NetHost
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
		if mode != NetHost {
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
	var msg []byte
	buf := make([]byte, 512)
	for {
		n, err := unix.Read(fd, buf)
		if n > 0 {
			msg = append(msg, buf[:n]...)
		}
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if n <= 0 {
			return strings.TrimLeft(string(msg), "\x00")
		}
	}
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

// soNetnsCookie is SO_NETNS_COOKIE (Linux 5.14), which x/sys lacks: a
// number naming a socket's network namespace, never reused while the
// machine runs.
const soNetnsCookie = 71

// netnsCookie is the cookie of the network namespace sock lives in.
func netnsCookie(sock int) (uint64, error) {
	c, err := unix.GetsockoptUint64(sock, unix.SOL_SOCKET, soNetnsCookie)
	if err != nil {
		return 0, fmt.Errorf("SO_NETNS_COOKIE: %w", err)
	}
	return c, nil
}

// inSandboxNetns reports whether sock lives in the sandbox's own network
// namespace, where the gateway's addresses mean the host's loopback and
// its DNS. A socket the program got from outside (over SCM_RIGHTS, or as
// stdin) lives elsewhere: there 100.96.0.1 is whatever that namespace
// routes it to, and is judged as itself. A socket whose namespace cannot
// be told is not the sandbox's (judged by its real destination: the
// stricter reading).
func (s *Supervisor) inSandboxNetns(sock int) bool {
	if s.mode != NetSandbox {
		return false
	}
	c, err := netnsCookie(sock)
	return err == nil && c == s.netns
}

// logLine is how the supervisor tells the user of something that went
// wrong while the program runs (a limit hit, a flood dropped): one line on
// stderr, which the program shares, prefixed so it is not the program's.
func logLine(s string) { fmt.Fprintln(os.Stderr, s) }
