package test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The bypasses of issue 9's security review, each proved closed on the
// receiving side: listeners on every local address of a network namespace
// of the test's own count what arrives, and the policy allows only
// 127.0.0.1 and [::1] on their port. Each is run natively first, where the
// denied listeners must receive something (or the test would prove
// nothing), then under the sandbox, where they must receive nothing.
//
// The namespace is a test host (newTestHost): lo, and a veth holding an
// address of 198.18.0.0/15 and of 2001:2::/48, with no default route, so
// that even a bug sends nothing anywhere real.

// bypassNet is the test's namespace and its local addresses.
type bypassNet struct {
	h     *testHost
	addrs []string // every local address a listener takes
}

func newBypassNet(t *testing.T) *bypassNet {
	t.Helper()
	h := newTestHost(t)
	return &bypassNet{h: h, addrs: []string{"127.0.0.1", "127.0.0.2", h.addr, "::1", h.addr6}}
}

// bypassAllowed is whether the policy bypassPolicy writes allows addr.
func bypassAllowed(addr string) bool { return addr == "127.0.0.1" || addr == "::1" }

// bypassArrivals counts what reaches one address (TCP accepts and UDP
// datagrams), by tag: a datagram's payload, or what a connection sent
// before it closed ("" for nothing).
type bypassArrivals struct {
	mu   sync.Mutex
	n    int
	open int // connections accepted whose tag is still being read
	tags map[string]int
}

func (a *bypassArrivals) datagram(tag string) {
	a.mu.Lock()
	a.n++
	a.tags[tag]++
	a.mu.Unlock()
}

func (a *bypassArrivals) accepted() {
	a.mu.Lock()
	a.n++
	a.open++
	a.mu.Unlock()
}

func (a *bypassArrivals) closed(tag string) {
	a.mu.Lock()
	a.open--
	a.tags[tag]++
	a.mu.Unlock()
}

// pending is whether a connection's tag is still being read.
func (a *bypassArrivals) pending() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.open > 0
}

func (a *bypassArrivals) total() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

func (a *bypassArrivals) tagged(tag string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.tags[tag]
}

// String lists the tags that arrived, for a failure message.
func (a *bypassArrivals) String() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	var s []string
	for tag, n := range a.tags {
		s = append(s, fmt.Sprintf("%q×%d", tag, n))
	}
	slices.Sort(s)
	return fmt.Sprintf("%d arrivals [%s]", a.n, strings.Join(s, " "))
}

// bypassListeners listen on one port, TCP and UDP, at every address of
// the namespace.
type bypassListeners struct {
	port int
	at   map[string]*bypassArrivals
}

// sum is every arrival at every address.
func (l *bypassListeners) sum() int {
	n := 0
	for _, a := range l.at {
		n += a.total()
	}
	return n
}

// listen opens the listeners on a port free at every address (another is
// tried should one address have it taken).
func (bn *bypassNet) listen(t *testing.T) *bypassListeners {
	t.Helper()
	for range 50 {
		var lns []net.Listener
		var pcs []net.PacketConn
		port := 0
		open := func() error {
			for _, addr := range bn.addrs {
				network := "4"
				if strings.Contains(addr, ":") {
					network = "6"
				}
				pc, err := net.ListenPacket("udp"+network, net.JoinHostPort(addr, strconv.Itoa(port)))
				if err != nil {
					return err
				}
				pcs = append(pcs, pc)
				port = pc.LocalAddr().(*net.UDPAddr).Port
				ln, err := net.Listen("tcp"+network, net.JoinHostPort(addr, strconv.Itoa(port)))
				if err != nil {
					return err
				}
				lns = append(lns, ln)
			}
			return nil
		}
		var err error
		bn.h.inside(t, func() error { err = open(); return nil })
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			for _, pc := range pcs {
				pc.Close()
			}
			if errors.Is(err, syscall.EADDRINUSE) {
				continue
			}
			t.Fatal(err)
		}
		l := &bypassListeners{port: port, at: map[string]*bypassArrivals{}}
		for i, addr := range bn.addrs {
			a := &bypassArrivals{tags: map[string]int{}}
			l.at[addr] = a
			bypassCountUDP(t, pcs[i], a)
			bypassCountTCP(t, lns[i], a)
		}
		return l
	}
	t.Fatal("no port free for TCP and UDP at every address in 50 tries")
	return nil
}

// bypassCountUDP counts the datagrams pc receives. Its buffer is made large
// (SO_RCVBUFFORCE: the test is root), so that a burst a race sends is
// counted, not dropped: a drop could hide an escape.
func bypassCountUDP(t *testing.T, pc net.PacketConn, a *bypassArrivals) {
	if rc, err := pc.(*net.UDPConn).SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 16<<20)
		})
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			a.datagram(string(buf[:n]))
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

// bypassCountTCP counts the connections ln accepts, then each one's tag.
func bypassCountTCP(t *testing.T, ln net.Listener, a *bypassArrivals) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a.accepted()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				c.SetReadDeadline(time.Now().Add(2 * time.Second))
				var b bytes.Buffer
				b.ReadFrom(c)
				a.closed(b.String())
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
}

// quiesce waits for arrivals to stop (none for 200 ms, and every
// connection's tag read; at most 5 s in all), so that what a run sent is
// counted before the counts are read.
func (l *bypassListeners) quiesce() {
	last, still := -1, 0
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline) && still < 10; {
		time.Sleep(20 * time.Millisecond)
		n, pending := l.sum(), false
		for _, a := range l.at {
			pending = pending || a.pending()
		}
		if n != last || pending {
			last, still = n, 0
		} else {
			still++
		}
	}
}

// expectNothingDenied fails the test for every arrival at an address the
// policy denies.
func (l *bypassListeners) expectNothingDenied(t *testing.T, what string) {
	t.Helper()
	for addr, a := range l.at {
		if !bypassAllowed(addr) && a.total() != 0 {
			t.Errorf("%s: ESCAPED: %s:%d, which the policy denies, received %v", what, addr, l.port, a)
		}
	}
}

// bypassPolicy allows TCP and UDP to 127.0.0.1:port and [::1]:port and
// nothing else (EACCES). It lives in the work directory, which nobody can
// read, unlike a test's temporary one.
func bypassPolicy(t *testing.T, port int) string {
	t.Helper()
	f, err := os.CreateTemp(workDir, "bypass-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	t.Cleanup(func() { os.Remove(f.Name()) })
	if err := f.Chmod(0o644); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "version: 1\ndefault: deny\nerrno: EACCES\nrules:\n  - allow: ip 127.0.0.1:%d\n  - allow: ip [::1]:%d\n", port, port)
	return f.Name()
}

// bypassRun is how a program is run: natively (mode "") or under the
// sandbox in a network mode, as root or as nobody.
type bypassRun struct {
	name, mode string
	nobody     bool
}

// bypassHostRuns are the runs of the --net host bypasses.
var bypassHostRuns = []bypassRun{{"native", "", false}, {"host", "host", false}, {"host-nobody", "host", true}}

// run runs prog in the test's namespace as run says, with stdin (nil: none)
// and the policy file pol, and fails the test unless it exits 0.
func (bn *bypassNet) run(t *testing.T, run bypassRun, pol string, stdin *os.File, prog ...string) string {
	t.Helper()
	argv := []string{"ip", "netns", "exec", bn.h.name}
	if run.nobody {
		argv = append(argv, setprivNobody...)
	}
	if run.mode != "" {
		prog = sandboxedIn(run.mode, pol, prog...)
	}
	argv = append(argv, prog...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%q: %v\nstdout:\n%s\nstderr:\n%s", argv, err, out.String(), errb.String())
	}
	return out.String()
}

// bypassLines splits a program's output into its vectors' lines, by name.
func bypassLines(out string) (names []string, steps map[string]string) {
	steps = map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		name, rest, _ := strings.Cut(l, " ")
		names = append(names, name)
		steps[name] = rest
	}
	return names, steps
}

// TestBypassPktinfo proves that a datagram sent to the unspecified address
// goes where it was judged to go. The kernel sends 0.0.0.0 (and
// ::ffff:0.0.0.0) to the datagram's own source address, and an
// IP_PKTINFO or IPV6_PKTINFO control message names that source: natively,
// sendmsg or sendmmsg to 0.0.0.0:P with a source of 127.0.0.2 or the test
// host's address X delivers to X:P — through IPv4 and IPv6 sockets, with
// either control message, alone or as the second message after an allowed
// one. The supervisor judges 0.0.0.0 as 127.0.0.1 (allowed), so under the
// sandbox in --net host, as root and as nobody, X:P must receive nothing.
// (IPv6's own :: always goes to [::1], whatever the source: that vector
// is the control that X's IPv6 address gets nothing natively either.)
func TestBypassPktinfo(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "progs/bypass.c")
	bn := newBypassNet(t)
	for _, run := range bypassHostRuns {
		t.Run(run.name, func(t *testing.T) {
			for _, x := range []string{"127.0.0.2", bn.h.addr} {
				l := bn.listen(t)
				out := bn.run(t, run, bypassPolicy(t, l.port), nil, prog, "pktinfo", strconv.Itoa(l.port), x, bn.h.addr6)
				l.quiesce()
				names, _ := bypassLines(out)
				if len(names) != 15 {
					t.Fatalf("pktinfo %s printed %d lines, want 15:\n%s", x, len(names), out)
				}
				if run.mode != "" {
					l.expectNothingDenied(t, "pktinfo via "+x)
					// The allowed first message of each sendmmsg2 shows
					// the run did send.
					if n := l.at["127.0.0.1"].total(); n < 4 {
						t.Errorf("pktinfo via %s: 127.0.0.1 received %d datagrams, want at least the 4 allowed ones", x, n)
					}
				} else {
					for _, name := range names {
						tag := name + "@" + x
						at := x
						if strings.HasPrefix(name, "ip6-any-") {
							tag, at = name+"@"+bn.h.addr6, "::1"
						}
						if l.at[at].tagged(tag) == 0 {
							t.Errorf("natively %s did not arrive at %s: the vector proves nothing (arrivals: %v)", tag, at, l.at)
						}
					}
					if n := l.at[bn.h.addr6].total(); n != 0 {
						t.Errorf("natively %s received %v: IPv6's :: was to go to [::1]", bn.h.addr6, l.at[bn.h.addr6])
					}
				}
				if t.Failed() {
					t.Logf("the program printed:\n%s", out)
				}
			}
		})
	}
}

// bypassRaceKinds are the races of bypass.c: a bind of the caller's socket
// to X racing a connect or send to 0.0.0.0, a dup2 of a socket bound to X
// onto the caller's fd, and the sockaddr (or IP_PKTINFO source) in the
// caller's memory rewritten between 127.0.0.1 and X during the call.
var bypassRaceKinds = []string{"tcp-bind", "udp-bind", "udp-sendto-bind", "tcp-dup2", "udp-dup2", "tcp-flip", "udp-flip", "cmsg-flip"}

// TestBypassRace proves that nothing another thread does during a trapped
// connect or send changes where it goes: not binding the socket (which
// moves where 0.0.0.0 leads), not dup2-ing another socket onto its fd, not
// rewriting the address or the control message in memory. Each race runs
// at most 600 times or 1.5 s per kind and address. Natively each reaches
// X (127.0.0.2, the test host's address) now and then; under the sandbox
// in --net host, as root and as nobody, X receives nothing, while the
// allowed 127.0.0.1 receives the calls that won.
func TestBypassRace(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "progs/bypass.c")
	bn := newBypassNet(t)
	for _, run := range bypassHostRuns {
		t.Run(run.name, func(t *testing.T) {
			for _, x := range []string{"127.0.0.2", bn.h.addr} {
				l := bn.listen(t)
				argv := append([]string{prog, "race", strconv.Itoa(l.port), x, "600", "1500"}, bypassRaceKinds...)
				out := bn.run(t, run, bypassPolicy(t, l.port), nil, argv...)
				l.quiesce()
				names, _ := bypassLines(out)
				if !slices.Equal(names, bypassRaceKinds) {
					t.Fatalf("race printed\n%s\nwant a line for each of %v", out, bypassRaceKinds)
				}
				var reached []string
				for _, kind := range bypassRaceKinds {
					n := l.at[x].tagged(kind + "@" + x)
					reached = append(reached, fmt.Sprintf("%s=%d", kind, n))
					if run.mode == "" && n == 0 {
						t.Errorf("natively race %s never reached %s: it proves nothing", kind, x)
					}
				}
				t.Logf("%s via %s: the program saw %s; arrivals at %s by race: %s", run.name, x,
					strings.Join(strings.Split(strings.TrimSpace(out), "\n"), ", "), x, strings.Join(reached, " "))
				if run.mode != "" {
					l.expectNothingDenied(t, "races via "+x)
					if l.at["127.0.0.1"].total() == 0 {
						t.Errorf("races via %s: nothing arrived at 127.0.0.1: the races did not run", x)
					}
				}
			}
		})
	}
}

// TestBypassSocketFamilies proves that the families the policy cannot
// speak of cannot be had at all: vsock above all (its ports are not per
// network namespace, so even --net none would reach the hypervisor), and
// TIPC, RDS, RxRPC, CAN, Bluetooth, XDP, PF_KEY, LLC… — socket(2) fails
// with EAFNOSUPPORT in every mode, as root and as nobody, also with bits
// above the int the kernel reads. Natively socket(AF_VSOCK, SOCK_STREAM)
// succeeds on this machine (the test's teeth); nothing is ever bound or
// connected. The families the policy speaks of (unix, inet, inet6, SMC),
// netlink and AF_ALG, which reach this machine's kernel only, work as
// natively.
func TestBypassSocketFamilies(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "progs/bypass.c")
	bn := newBypassNet(t)
	keep := []string{"unix", "inet", "inet6", "netlink", "smc", "alg"}
	pol := bypassPolicy(t, 9) // any port: nothing here connects
	native := map[bool]map[string]string{}
	for _, nobody := range []bool{false, true} {
		_, native[nobody] = bypassLines(bn.run(t, bypassRun{nobody: nobody}, "", nil, prog, "families"))
	}
	for _, l := range []string{"vsock.stream", "vsock.seqpacket", "vsock.stream-highbits"} {
		if got := native[false][l]; got != "socket=ok" {
			t.Errorf("natively %s: %q, want socket=ok: the test proves nothing", l, got)
		}
	}
	// What must keep working works natively, so "as natively" means it
	// works under the sandbox too.
	for _, l := range []string{
		"unix.stream", "unix.dgram", "unix.seqpacket", "unix.socketpair",
		"inet.stream", "inet.dgram", "inet6.stream", "inet6.dgram", "netlink.dgram", "netlink.raw",
	} {
		for _, nobody := range []bool{false, true} {
			if got := native[nobody][l]; got != "socket=ok" && got != "socketpair=ok" {
				t.Errorf("natively (nobody: %v) %s: %q, want it to work", nobody, l, got)
			}
		}
	}
	var succeeded []string
	for name, steps := range native[false] {
		if fam, _, _ := strings.Cut(name, "."); !slices.Contains(keep, fam) && steps != "socket=EAFNOSUPPORT" {
			succeeded = append(succeeded, name+" "+steps)
		}
	}
	slices.Sort(succeeded)
	t.Logf("natively, as root, the other families give: %s", strings.Join(succeeded, ", "))
	runs := []bypassRun{{"host", "host", false}, {"host-nobody", "host", true}, {"none", "none", false}, {"sandbox", "sandbox", false}}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			names, got := bypassLines(bn.run(t, run, pol, nil, prog, "families"))
			if len(names) != len(native[run.nobody]) {
				t.Fatalf("%d lines, natively %d", len(names), len(native[run.nobody]))
			}
			for _, name := range names {
				want := "socket=EAFNOSUPPORT"
				if fam, _, _ := strings.Cut(name, "."); slices.Contains(keep, fam) {
					want = native[run.nobody][name]
				}
				if got[name] != want {
					t.Errorf("%s: %q, want %q (natively %q)", name, got[name], want, native[run.nobody][name])
				}
			}
		})
	}
}

// bypassPassedCase is one vector of bypass.c's passed command: what it
// prints natively (where 100.96.0.1 and fd00:5a::1 are unroutable) and
// under --net sandbox, and the address its tag must reach in each (""
// nowhere).
type bypassPassedCase struct {
	name, native, sandbox string
	nativeAt, sandboxAt   string
}

var bypassPassedCases = []bypassPassedCase{
	// Sockets from outside: the gateway is not the host's loopback for
	// them, so the policy's 127.0.0.1 does not allow it.
	{"outside-udp4-gw-dns", "sendto=ENETUNREACH", "sendto=EACCES", "", ""},
	{"outside-udp4-gw", "sendto=ENETUNREACH", "sendto=EACCES", "", ""},
	{"outside-udp4-gw-sendmsg", "sendmsg=ENETUNREACH", "sendmsg=EACCES", "", ""},
	// Their real destinations are judged: 127.0.0.2 is denied, the
	// outside's 127.0.0.1 allowed.
	{"outside-udp4-lo2", "sendto=ok", "sendto=EACCES", "127.0.0.2", ""},
	{"outside-udp4-lo", "sendto=ok", "sendto=ok", "127.0.0.1", "127.0.0.1"},
	{"outside-udp4-gw-connect", "connect=ENETUNREACH", "connect=EACCES", "", ""},
	{"outside-udp6-gw-dns", "sendto=ENETUNREACH", "sendto=EACCES", "", ""},
	{"outside-udp6-gw", "sendto=ENETUNREACH", "sendto=EACCES", "", ""},
	{"outside-tcp4-gw", "connect=ENETUNREACH", "connect=EACCES", "", ""},
	{"outside-tcp4-lo2", "connect=ok send=ok", "connect=EACCES", "127.0.0.2", ""},
	{"outside-tcp4-lo", "connect=ok send=ok", "connect=ok send=ok", "127.0.0.1", "127.0.0.1"},
	{"outside-tcp4-gw-fastopen", "sendto=ENETUNREACH", "sendto=EACCES", "", ""},
	{"outside-tcp6-gw", "connect=ENETUNREACH", "connect=EACCES", "", ""},
	// The program's own sockets reach the host's loopback through the
	// gateway, as the policy allows.
	{"own-udp4-gw", "sendto=ENETUNREACH", "sendto=ok", "", "127.0.0.1"},
	{"own-udp6-gw", "sendto=ENETUNREACH", "sendto=ok", "", "::1"},
	{"own-tcp4-gw", "connect=ENETUNREACH", "connect=ok send=ok", "", "127.0.0.1"},
	{"own-tcp6-gw", "connect=ENETUNREACH", "connect=ok send=ok", "", "::1"},
}

// passSockets makes, in the test's namespace, the sockets bypass.c's
// passed command expects (udp4, udp6, four tcp4, tcp6) and returns one end
// of a unix socket pair whose other end has them queued, by SCM_RIGHTS:
// the program's stdin.
func (bn *bypassNet) passSockets(t *testing.T) *os.File {
	t.Helper()
	// Closed once sent (the message holds them): the program's must be
	// the last references, so that its close ends a connection.
	var fds []int
	defer func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}()
	bn.h.inside(t, func() error {
		for _, s := range [][2]int{
			{unix.AF_INET, unix.SOCK_DGRAM}, {unix.AF_INET6, unix.SOCK_DGRAM},
			{unix.AF_INET, unix.SOCK_STREAM}, {unix.AF_INET, unix.SOCK_STREAM},
			{unix.AF_INET, unix.SOCK_STREAM}, {unix.AF_INET, unix.SOCK_STREAM},
			{unix.AF_INET6, unix.SOCK_STREAM},
		} {
			fd, err := unix.Socket(s[0], s[1]|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			fds = append(fds, fd)
		}
		return nil
	})
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	if err := unix.Sendmsg(pair[0], []byte{0}, unix.UnixRights(fds...), nil, 0); err != nil {
		t.Fatal(err)
	}
	stdin := os.NewFile(uintptr(pair[1]), "passed")
	t.Cleanup(func() { stdin.Close() })
	return stdin
}

// TestBypassPassedSockets proves that in --net sandbox a socket handed in
// from outside (made in the namespace the sandbox runs in, received over
// stdin by SCM_RIGHTS) is judged by where it really sends. For the
// program's own sockets the gateway 100.96.0.1 (fd00:5a::1) stands for the
// host's loopback, so a policy allowing 127.0.0.1:P allows it; for an
// outside socket 100.96.0.1 is just an address of the outside namespace,
// and a connect or send to it — port 53 too, which for the program's own
// sockets is the sandbox's DNS — must fail with the policy's EACCES
// without being made (the namespace has no default route, so natively it
// fails ENETUNREACH: even a bug sends nothing). The outside socket's real
// destinations are judged as such: 127.0.0.2 is denied and receives
// nothing (natively it receives), 127.0.0.1 is allowed and receives; and
// the program's own sockets reach the host loopback's listener through the
// gateway.
func TestBypassPassedSockets(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "progs/bypass.c")
	bn := newBypassNet(t)
	for _, run := range []bypassRun{{"native", "", false}, {"sandbox", "sandbox", false}} {
		t.Run(run.name, func(t *testing.T) {
			l := bn.listen(t)
			out := bn.run(t, run, bypassPolicy(t, l.port), bn.passSockets(t), prog, "passed", strconv.Itoa(l.port))
			l.quiesce()
			names, got := bypassLines(out)
			if len(names) != len(bypassPassedCases) {
				t.Fatalf("passed printed\n%s\nwant %d lines", out, len(bypassPassedCases))
			}
			for _, c := range bypassPassedCases {
				want, at := c.native, c.nativeAt
				if run.mode != "" {
					want, at = c.sandbox, c.sandboxAt
				}
				if got[c.name] != want {
					t.Errorf("%s: %q, want %q", c.name, got[c.name], want)
				}
				for _, addr := range bn.addrs {
					n, wantN := l.at[addr].tagged(c.name), 0
					if addr == at {
						wantN = 1
					}
					if n != wantN {
						t.Errorf("%s: %s received it %d times, want %d", c.name, addr, n, wantN)
					}
				}
			}
			if run.mode != "" {
				l.expectNothingDenied(t, "passed sockets")
			}
			if t.Failed() {
				t.Logf("the program printed:\n%s", out)
			}
		})
	}
}
