package sentry

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/netstack"
	"sandbox/policy"
	"sandbox/seccomp"
)

// Config says how a Server judges and records the calls it serves.
type Config struct {
	Policy  *policy.Policy
	Records Records // where the records of calls go
	Mode    NetMode // NetHost when empty
	// Names is what the sandbox's DNS resolved (NetSandbox).
	Names *netstack.Names
	// Netns is the cookie of the program's network namespace (NetSandbox;
	// see NetnsCookie): only its sockets see the gateway as the gateway.
	Netns uint64
	// Container, when set, names the container whose calls these are
	// (the OCI agent): every record carries it.
	Container *Container
}

// Container is what the records say of the container a call came from.
type Container struct {
	ID                string
	Pod, PodNamespace string // from the usual Kubernetes annotations, when present
}

// Server serves the trapped calls of the programs under one seccomp
// listener: it knows nothing of how they were started.
type Server struct {
	policy    atomic.Pointer[policy.Policy] // SetPolicy may change it while calls are served
	records   Records
	listener  *seccomp.Listener
	creds     creds // the supervisor's own: a call made as the program differs
	monitor   *monitor
	tasks     *taskCache
	mode      NetMode
	names     *netstack.Names
	netns     uint64
	pid       int
	container *Container

	done     chan struct{} // closed once no task uses the filter any more
	doneOnce sync.Once
}

// Serve starts serving listener's notifications under cfg, on goroutines
// of its own, and returns at once. The listener is the Server's from then
// on: Close closes it.
func Serve(listener *seccomp.Listener, cfg Config) (*Server, error) {
	if err := installInterrupt(); err != nil {
		return nil, err
	}
	self, err := selfCreds()
	if err != nil {
		return nil, err
	}
	mode := cfg.Mode
	if mode == "" {
		mode = NetHost
	}
	s := &Server{
		records:   cfg.Records,
		listener:  listener,
		creds:     self,
		tasks:     newTaskCache(),
		mode:      mode,
		names:     cfg.Names,
		netns:     cfg.Netns,
		pid:       os.Getpid(),
		container: cfg.Container,
		done:      make(chan struct{}),
	}
	s.policy.Store(cfg.Policy)
	s.monitor = newMonitor(s.receive)
	go s.receive()
	return s, nil
}

// SetPolicy makes p the policy of the calls that arrive from now on (a
// call under way keeps the one it started with).
func (s *Server) SetPolicy(p *policy.Policy) { s.policy.Store(p) }

// Done is closed once every task under the filter has exited (or the
// listener failed): nothing is left to serve, and Close frees what is
// left.
func (s *Server) Done() <-chan struct{} { return s.done }

// Close stops serving: calls still trapped are failed by the kernel
// (ENOSYS) once the listener is closed — closed, never open.
func (s *Server) Close() {
	s.listener.Close()
	s.monitor.stop()
	// Last, once no call can use a task.
	s.tasks.closeAll()
}

// receive receives trapped calls and handles each in turn, on this
// goroutine: handing each to a goroutine of its own would cost a thread
// wake-up — tens of microseconds on a virtual CPU — on every connect. It
// ends when no task uses the filter any more, or when the monitor handed
// receiving to another goroutine because a call here took long (a connect
// to a slow host must not hold up the program's other threads).
func (s *Server) receive() {
	for {
		n, err := s.listener.Receive()
		if err != nil {
			// ErrClosed: every task under the filter has exited.
			// Anything else leaves trapped calls unanswered, and
			// the kernel fails them (ENOSYS) once the listener
			// closes: closed, not open.
			s.doneOnce.Do(func() { close(s.done) })
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

// NetnsCookie is the cookie of the network namespace sock lives in.
func NetnsCookie(sock int) (uint64, error) {
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
func (s *Server) inSandboxNetns(sock int) bool {
	if s.mode != NetSandbox {
		return false
	}
	c, err := NetnsCookie(sock)
	return err == nil && c == s.netns
}
