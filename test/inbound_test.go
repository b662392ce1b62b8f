package test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The inbound tests run a server under the sandbox and clients that try to
// reach it. All of it happens in two network namespaces of the test's own,
// joined by a veth pair and to nothing else: "srv", where the sandbox and
// its program run (its loopback is "the host's loopback" of these tests),
// and "cli", a client host. So a program that binds every address, allowed
// or not, is reachable from these namespaces only, never from the
// machine's network.
const (
	inboundSrv4 = "198.18.0.1" // srv's end of the veth
	inboundCli4 = "198.18.0.2"
	inboundSrv6 = "2001:2::1"
	inboundCli6 = "2001:2::2"
)

// inboundNet is the pair of namespaces.
type inboundNet struct{ srv, cli string }

var inboundSeq int

// newInboundNet makes the two namespaces; they are removed when the test
// ends (the veth pair with them).
func newInboundNet(t *testing.T) *inboundNet {
	t.Helper()
	requireRoot(t)
	inboundSeq++
	id := fmt.Sprintf("%d-%d", os.Getpid()%100000, inboundSeq)
	n := &inboundNet{srv: "sbxins" + id, cli: "sbxinc" + id}
	t.Cleanup(func() {
		exec.Command("ip", "netns", "del", n.srv).Run()
		exec.Command("ip", "netns", "del", n.cli).Run()
	})
	steps := [][]string{
		{"ip", "netns", "add", n.srv},
		{"ip", "netns", "add", n.cli},
		{"ip", "-n", n.srv, "link", "add", "name", "va", "type", "veth", "peer", "name", "vb", "netns", n.cli},
		{"ip", "-n", n.srv, "addr", "add", inboundSrv4 + "/24", "dev", "va"},
		{"ip", "-n", n.srv, "addr", "add", inboundSrv6 + "/64", "dev", "va", "nodad"},
		{"ip", "-n", n.srv, "link", "set", "va", "up"},
		{"ip", "-n", n.srv, "link", "set", "lo", "up"},
		{"ip", "-n", n.cli, "addr", "add", inboundCli4 + "/24", "dev", "vb"},
		{"ip", "-n", n.cli, "addr", "add", inboundCli6 + "/64", "dev", "vb", "nodad"},
		{"ip", "-n", n.cli, "link", "set", "vb", "up"},
		{"ip", "-n", n.cli, "link", "set", "lo", "up"},
	}
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", s, err, out)
		}
	}
	return n
}

// inside runs fn on a thread in namespace ns: a socket belongs to the
// namespace of the thread that creates it (see testHost.inside).
func (n *inboundNet) inside(t *testing.T, ns string, fn func()) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies in ns
		fd, err := unix.Open("/run/netns/"+ns, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			done <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			done <- err
			return
		}
		fn()
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatalf("enter namespace %s: %v", ns, err)
	}
}

// client tries to reach addr:port from namespace ns: a TCP connect, or one
// UDP datagram. It returns the connect's or the send's error.
func (n *inboundNet) client(t *testing.T, ns, proto, addr string, port int) error {
	t.Helper()
	var err error
	n.inside(t, ns, func() {
		dest := net.JoinHostPort(addr, strconv.Itoa(port))
		if strings.HasPrefix(proto, "tcp") {
			var c net.Conn
			if c, err = net.DialTimeout("tcp", dest, 3*time.Second); err == nil {
				c.Close()
			}
			return
		}
		var c net.Conn
		if c, err = net.Dial("udp", dest); err == nil {
			_, err = c.Write([]byte("x"))
			c.Close()
		}
	})
	return err
}

// inboundServer is the program the sandbox runs:
//
//	python3 inbound.py PROTO ADDR PORT
//
// PROTO is tcp4, tcp6, udp4 or udp6 (IPV6_V6ONLY set), or tcp6d / udp6d
// (dual stack); ADDR "-" skips the bind (a TCP listen then binds every
// address and a port of the kernel's choice). It binds, listens (TCP, when
// the bind worked), prints what each call returned and the port
// getsockname gives ("bind=ok listen=ok port=8001"), then counts the
// connections it accepts or the datagrams it receives until its stdin
// closes, and prints "count=N". A UDP socket whose bind was refused is
// watched too: were it bound after all, what arrived would be counted.
const inboundServer = `import errno, os, select, socket, sys
proto, addr, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
fam = socket.AF_INET6 if proto[3] == "6" else socket.AF_INET
typ = socket.SOCK_STREAM if proto.startswith("tcp") else socket.SOCK_DGRAM
s = socket.socket(fam, typ)
if fam == socket.AF_INET6:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if proto.endswith("d") else 1)
def name(e):
    return errno.errorcode.get(e.errno, str(e.errno))
steps, ok = [], True
if addr != "-":
    try:
        s.bind((addr, port))
        steps.append("bind=ok")
    except OSError as e:
        steps.append("bind=" + name(e))
        ok = False
if ok and typ == socket.SOCK_STREAM:
    try:
        s.listen(16)
        steps.append("listen=ok")
    except OSError as e:
        steps.append("listen=" + name(e))
        ok = False
print(" ".join(steps), "port=%d" % s.getsockname()[1], flush=True)
s.setblocking(False)
count = 0
def drain():
    global count
    while True:
        try:
            if typ == socket.SOCK_STREAM:
                s.accept()[0].close()
            else:
                s.recv(65536)
            count += 1
        except OSError:  # nothing more (EAGAIN), or not listening (EINVAL)
            return
watch = [0] + ([s] if ok or typ == socket.SOCK_DGRAM else [])
while True:
    r = select.select(watch, [], [], 30)[0]
    if not r:
        break
    if s in r:
        drain()
    if 0 in r and not os.read(0, 64):
        break
drain()
print("count=%d" % count, flush=True)
`

// inboundScript writes the server's script where any user may read it.
func inboundScript(t *testing.T) string {
	t.Helper()
	p := filepath.Join(workDir, "inbound.py")
	if err := os.WriteFile(p, []byte(inboundServer), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// serverRun is a running server: its first line, split, and the means to
// end it.
type serverRun struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stderr *bytes.Buffer
	steps  string // "bind=ok listen=ok"
	port   int    // what getsockname gave
}

// startServer runs argv (the sandbox and the server) and waits for the
// server's first line.
func startServer(t *testing.T, argv []string) *serverRun {
	t.Helper()
	s := &serverRun{cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan string, 4), stderr: &bytes.Buffer{}}
	s.cmd.Stderr = s.stderr
	var err error
	if s.stdin, err = s.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			s.lines <- sc.Text()
		}
		close(s.lines)
	}()
	line := s.next(t)
	before, port, ok := strings.Cut(line, "port=")
	if !ok {
		t.Fatalf("%q: the server printed %q, want its results and port (stderr: %s)", argv, line, s.stderr)
	}
	s.steps = strings.TrimSpace(before)
	if s.port, err = strconv.Atoi(port); err != nil {
		t.Fatalf("%q: the server printed %q", argv, line)
	}
	return s
}

func (s *serverRun) next(t *testing.T) string {
	t.Helper()
	select {
	case line, ok := <-s.lines:
		if !ok {
			s.cmd.Wait()
			t.Fatalf("the server ended without a word (status %v, stderr: %s)", s.cmd.ProcessState, s.stderr)
		}
		return line
	case <-time.After(20 * time.Second):
		t.Fatalf("the server said nothing for 20 s (stderr: %s)", s.stderr)
	}
	return ""
}

// finish lets what the clients sent arrive, ends the server and returns
// how many connections or datagrams it counted.
func (s *serverRun) finish(t *testing.T) int {
	t.Helper()
	settle()
	s.stdin.Close()
	line := s.next(t)
	n, err := strconv.Atoi(strings.TrimPrefix(line, "count="))
	if err != nil || !strings.HasPrefix(line, "count=") {
		t.Fatalf("the server printed %q, want count=N (stderr: %s)", line, s.stderr)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Errorf("the server: %v (stderr: %s)", err, s.stderr)
	}
	return n
}

// inboundClient is one client's attempt: from namespace ns to addr, at
// the case's port (or, with port 0, at the port the server reported).
type inboundClient struct {
	ns   string // "srv" (the program's loopback) or "cli" (the client host)
	addr string
}

var (
	loopback4 = inboundClient{"srv", "127.0.0.1"}
	loopback6 = inboundClient{"srv", "::1"}
	remote4   = inboundClient{"cli", inboundSrv4}
	remote6   = inboundClient{"cli", inboundSrv6}
)

// inboundCase is one server under one policy.
type inboundCase struct {
	name  string
	rules string // the policy's rules (default deny, EACCES); "-" for the embedded default policy
	proto string // see inboundServer
	addr  string // "-": no bind
	port  int    // 0: the kernel's choice
	want  string // the server's results ("bind=ok listen=ok", "bind=EACCES", …)
	from  []inboundClient
	reach bool // whether the clients get through
}

// runInbound runs case c under the sandbox in mode (in namespace srv) and
// checks both sides: the server's results, the clients' (connected, or
// refused), and the server's count (every client's, or none).
func runInbound(t *testing.T, n *inboundNet, script, mode, policyFile string, c inboundCase) {
	t.Helper()
	argv := []string{"ip", "netns", "exec", n.srv}
	argv = append(argv, sandboxedIn(mode, policyFile, "/usr/bin/python3", script, c.proto, c.addr, strconv.Itoa(c.port))...)
	s := startServer(t, argv)
	if s.steps != c.want {
		t.Errorf("server: %q, want %q", s.steps, c.want)
	}
	port := c.port
	if port == 0 {
		port = s.port
	}
	tried := 0
	for _, cl := range c.from {
		if port == 0 {
			// Nothing was bound: there is no port to try (the
			// server's side says why).
			break
		}
		ns := n.srv
		if cl.ns == "cli" {
			ns = n.cli
		}
		err := n.client(t, ns, c.proto, cl.addr, port)
		tried++
		switch {
		case strings.HasPrefix(c.proto, "udp"):
			// A datagram's send says nothing of its fate (an ICMP
			// error comes back later, if at all): the server's
			// count decides.
			if err != nil && c.reach {
				t.Errorf("client in %s, udp %s:%d: %v", cl.ns, cl.addr, port, err)
			}
		case c.reach && err != nil:
			t.Errorf("client in %s, tcp %s:%d: %v, want connected", cl.ns, cl.addr, port, err)
		case !c.reach && !errors.Is(err, syscall.ECONNREFUSED):
			t.Errorf("client in %s, tcp %s:%d: %v, want connection refused", cl.ns, cl.addr, port, err)
		}
	}
	want := 0
	if c.reach {
		want = tried
	}
	if got := s.finish(t); got != want {
		t.Errorf("the server counted %d connections or datagrams, want %d", got, want)
	}
}

// TestInboundHostMode: in --net host a program's binds and listens are
// judged by the policy's listen rules (tcp and udp, IPv4 and IPv6,
// wildcard and specific addresses, a port the program names judged at
// bind, a port the kernel chose at listen). A denied one fails with the
// policy's errno — EACCES, or the rule's — and then clients, on the
// program's loopback or on another host, are refused and the program
// receives nothing; an allowed one takes connections and datagrams as
// natively. The embedded default policy lets a program listen on the
// loopback only.
func TestInboundHostMode(t *testing.T) {
	n := newInboundNet(t)
	script := inboundScript(t)
	var cases []inboundCase
	port := 8000
	add := func(c inboundCase) {
		if c.port < 0 { // a port of its own for each case: no TIME_WAIT of the last one in the way
			port++
			c.port = port
		}
		c.rules = strings.ReplaceAll(c.rules, "PORT", strconv.Itoa(c.port))
		cases = append(cases, c)
	}
	const named = -1 // the case names a port (its own)
	for _, c := range []inboundCase{
		{name: "tcp4 loopback allowed", rules: "allow: listen tcp 127.0.0.1:PORT", proto: "tcp4", addr: "127.0.0.1", port: named,
			want: "bind=ok listen=ok", from: []inboundClient{loopback4}, reach: true},
		{name: "tcp4 wildcard, only the loopback allowed", rules: "allow: listen tcp 127.0.0.1:PORT", proto: "tcp4", addr: "0.0.0.0", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "tcp4 wildcard allowed", rules: "allow: listen tcp *:PORT", proto: "tcp4", addr: "0.0.0.0", port: named,
			want: "bind=ok listen=ok", from: []inboundClient{remote4, loopback4}, reach: true},
		{name: "tcp4 specific address allowed", rules: "allow: listen tcp " + inboundSrv4 + ":PORT", proto: "tcp4", addr: inboundSrv4, port: named,
			want: "bind=ok listen=ok", from: []inboundClient{remote4}, reach: true},
		{name: "tcp4 specific address denied with the rule's errno", rules: "deny: listen tcp 198.18.0.0/15\n    errno: EPERM\n  - allow: listen tcp *", proto: "tcp4", addr: inboundSrv4, port: named,
			want: "bind=EPERM", from: []inboundClient{remote4}},
		{name: "tcp4 another port", rules: "allow: listen tcp 127.0.0.1:1", proto: "tcp4", addr: "127.0.0.1", port: named,
			want: "bind=EACCES", from: []inboundClient{loopback4}},
		{name: "tcp4 a udp rule allows no tcp", rules: "allow: listen udp *:PORT", proto: "tcp4", addr: "0.0.0.0", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "tcp4 a connect rule allows no listen", rules: "allow: tcp *", proto: "tcp4", addr: "0.0.0.0", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "tcp6 loopback allowed", rules: "allow: listen ip [::1]", proto: "tcp6", addr: "::1", port: named,
			want: "bind=ok listen=ok", from: []inboundClient{loopback6}, reach: true},
		{name: "tcp6 wildcard, only the loopback allowed", rules: "allow: listen ip [::1]", proto: "tcp6", addr: "::", port: named,
			want: "bind=EACCES", from: []inboundClient{remote6, loopback6}},
		{name: "tcp6 wildcard allowed", rules: "allow: listen tcp *:PORT", proto: "tcp6", addr: "::", port: named,
			want: "bind=ok listen=ok", from: []inboundClient{remote6, loopback6}, reach: true},
		{name: "tcp6 specific address allowed", rules: "allow: listen tcp [" + inboundSrv6 + "]:PORT", proto: "tcp6", addr: inboundSrv6, port: named,
			want: "bind=ok listen=ok", from: []inboundClient{remote6}, reach: true},
		{name: "tcp6 dual-stack wildcard, only the loopback allowed", rules: "allow: listen ip [::1]", proto: "tcp6d", addr: "::", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, remote6, loopback4}},
		{name: "udp4 loopback allowed", rules: "allow: listen udp 127.0.0.1:PORT", proto: "udp4", addr: "127.0.0.1", port: named,
			want: "bind=ok", from: []inboundClient{loopback4}, reach: true},
		{name: "udp4 wildcard, only the loopback allowed", rules: "allow: listen udp 127.0.0.1:PORT", proto: "udp4", addr: "0.0.0.0", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "udp4 wildcard allowed", rules: "allow: listen udp *:PORT", proto: "udp4", addr: "0.0.0.0", port: named,
			want: "bind=ok", from: []inboundClient{remote4, loopback4}, reach: true},
		{name: "udp6 wildcard denied with the rule's errno", rules: "deny: listen udp *\n    errno: EADDRNOTAVAIL", proto: "udp6", addr: "::", port: named,
			want: "bind=EADDRNOTAVAIL", from: []inboundClient{remote6, loopback6}},
		{name: "udp6 specific address allowed", rules: "allow: listen udp [" + inboundSrv6 + "]:PORT", proto: "udp6", addr: inboundSrv6, port: named,
			want: "bind=ok", from: []inboundClient{remote6}, reach: true},
		// A port the kernel chooses is judged when the socket listens.
		{name: "tcp4 port 0 on the loopback, allowed at listen", rules: "allow: listen tcp 127.0.0.1", proto: "tcp4", addr: "127.0.0.1", port: 0,
			want: "bind=ok listen=ok", from: []inboundClient{loopback4}, reach: true},
		{name: "tcp4 port 0 wildcard, denied at listen", rules: "allow: listen tcp 127.0.0.1", proto: "tcp4", addr: "0.0.0.0", port: 0,
			want: "bind=ok listen=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "tcp6 port 0 on the loopback, allowed at listen", rules: "allow: listen tcp [::1]", proto: "tcp6", addr: "::1", port: 0,
			want: "bind=ok listen=ok", from: []inboundClient{loopback6}, reach: true},
		{name: "tcp4 listen without bind, allowed", rules: "allow: listen tcp *", proto: "tcp4", addr: "-", port: 0,
			want: "listen=ok", from: []inboundClient{remote4, loopback4}, reach: true},
		{name: "tcp4 listen without bind, only the loopback allowed", rules: "allow: listen tcp 127.0.0.1", proto: "tcp4", addr: "-", port: 0,
			want: "listen=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "tcp6 dual-stack listen without bind, only the loopback allowed", rules: "allow: listen ip [::1]", proto: "tcp6d", addr: "-", port: 0,
			want: "listen=EACCES", from: []inboundClient{remote4, remote6, loopback6}},
		// The embedded default: listening on the loopback only.
		{name: "default policy: tcp4 loopback", rules: "-", proto: "tcp4", addr: "127.0.0.1", port: named,
			want: "bind=ok listen=ok", from: []inboundClient{loopback4}, reach: true},
		{name: "default policy: tcp4 wildcard", rules: "-", proto: "tcp4", addr: "0.0.0.0", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "default policy: tcp6 loopback", rules: "-", proto: "tcp6", addr: "::1", port: named,
			want: "bind=ok listen=ok", from: []inboundClient{loopback6}, reach: true},
		{name: "default policy: tcp6 wildcard", rules: "-", proto: "tcp6", addr: "::", port: named,
			want: "bind=EACCES", from: []inboundClient{remote6, loopback6}},
		{name: "default policy: udp4 loopback", rules: "-", proto: "udp4", addr: "127.0.0.1", port: named,
			want: "bind=ok", from: []inboundClient{loopback4}, reach: true},
		{name: "default policy: udp4 wildcard", rules: "-", proto: "udp4", addr: "0.0.0.0", port: named,
			want: "bind=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "default policy: tcp4 port 0 wildcard", rules: "-", proto: "tcp4", addr: "0.0.0.0", port: 0,
			want: "bind=ok listen=EACCES", from: []inboundClient{remote4, loopback4}},
		{name: "default policy: tcp4 listen without bind", rules: "-", proto: "tcp4", addr: "-", port: 0,
			want: "listen=EACCES", from: []inboundClient{remote4, loopback4}},
	} {
		add(c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			policyFile := ""
			if c.rules != "-" {
				policyFile = writePolicy(t, "version: 1\ndefault: deny\nrules:\n  - "+c.rules+"\n")
			}
			runInbound(t, n, script, "host", policyFile, c)
		})
	}
}

// TestInboundIsolatedModes: in --net sandbox and --net none the program's
// network namespace is its own, so what it binds — every address, allowed
// by the policy (default allow) and by the kernel — cannot be reached from
// outside: clients on the loopback of the namespace the sandbox runs in,
// and on another host, are refused, and the program accepts and receives
// nothing.
func TestInboundIsolatedModes(t *testing.T) {
	n := newInboundNet(t)
	script := inboundScript(t)
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	port := 8500
	for _, mode := range []string{"sandbox", "none"} {
		for _, c := range []inboundCase{
			{proto: "tcp4", addr: "0.0.0.0", want: "bind=ok listen=ok", from: []inboundClient{loopback4, remote4}},
			{proto: "tcp6d", addr: "::", want: "bind=ok listen=ok", from: []inboundClient{loopback6, remote6, loopback4, remote4}},
			{proto: "udp4", addr: "0.0.0.0", want: "bind=ok", from: []inboundClient{loopback4, remote4}},
		} {
			port++
			c.port = port
			t.Run(mode+"/"+c.proto, func(t *testing.T) { runInbound(t, n, script, mode, allowAll, c) })
		}
	}
}
