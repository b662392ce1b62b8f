package test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// slowServer is a listener on a test host that is slow to take new
// connections: until open is called its listen queue holds one, and its
// kernel drops the SYNs past it, so each connect there waits for its
// kernel to send the SYN again (after 1 s, 3 s…), as to a busy server or
// over a congested path.
type slowServer struct {
	ln       *net.TCPListener
	accepted atomic.Int64
}

func newSlowServer(t *testing.T, h *testHost) *slowServer {
	t.Helper()
	var fd int
	h.inside(t, func() (err error) {
		if fd, err = unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0); err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrInet4{Addr: netip.MustParseAddr(h.addr).As4()}); err != nil {
			return err
		}
		return unix.Listen(fd, 0) // a backlog of 0: one established connection fills the queue
	})
	f := os.NewFile(uintptr(fd), "slow listener")
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		t.Fatal(err)
	}
	s := &slowServer{ln: ln.(*net.TCPListener)}
	t.Cleanup(func() { s.ln.Close() })
	return s
}

func (s *slowServer) port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// open lets the server take connections: a long listen queue, and every
// connection accepted (and closed).
func (s *slowServer) open(t *testing.T) {
	rc, err := s.ln.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var lerr error
	if err := rc.Control(func(fd uintptr) { lerr = unix.Listen(int(fd), 128) }); err != nil || lerr != nil {
		t.Fatalf("lengthen the listen queue: %v %v", err, lerr)
	}
	serve(s.ln, func(net.Conn) { s.accepted.Add(1) })
}

// manyConnects opens N non-blocking connections to HOST:PORT at once,
// prints "sent" when every connect is under way, then waits (45 s at
// most) for each to end and prints how they ended: "ok=N", or the errno
// names with their counts, and "pending=N" for those still unfinished.
const manyConnects = `import errno, select, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
socks = {}
for _ in range(n):
    s = socket.socket()
    s.setblocking(False)
    e = s.connect_ex((host, port))
    if e not in (0, errno.EINPROGRESS):
        print("connect:", errno.errorcode.get(e, e))
        sys.exit(1)
    socks[s.fileno()] = s
print("sent", flush=True)
p = select.poll()
for fd in socks:
    p.register(fd, select.POLLOUT)
ended = {}
deadline = time.monotonic() + 45
while socks and time.monotonic() < deadline:
    for fd, _ in p.poll(500):
        s = socks.pop(fd, None)
        if s is None:
            continue
        p.unregister(fd)
        e = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        name = "ok" if e == 0 else errno.errorcode.get(e, str(e))
        ended[name] = ended.get(name, 0) + 1
if socks:
    ended["pending"] = len(socks)
print(" ".join("%s=%d" % kv for kv in sorted(ended.items())))`

// burstAt runs manyConnects with argv's prefix (none: natively) against
// srv, opens srv 300 ms after every connect is under way, and returns the
// program's last line.
func burstAt(t *testing.T, srv *slowServer, h *testHost, n int, prefix ...string) string {
	t.Helper()
	argv := append(prefix, "/usr/bin/python3", "-c", manyConnects, h.addr, fmt.Sprint(srv.port()), fmt.Sprint(n))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := bufio.NewScanner(out)
	var last string
	for lines.Scan() {
		last = lines.Text()
		if last == "sent" {
			time.Sleep(300 * time.Millisecond)
			srv.open(t)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%q: %v (last line %q)\nstderr: %s", argv, err, last, stderr.String())
	}
	return last
}

// TestSandboxModeManyConnectsToASlowDestination: a program opens more
// connections at once to one destination than netstack sets up at a time
// (32), and that destination is slow to take them. Natively each connect
// is only late; through netstack too: the SYNs past the bound are dropped
// and the program's kernel sends them again. They were once reset, and
// every connect past the 32nd failed with ECONNREFUSED — a package manager
// downloading in parallel from one registry address would have failed.
func TestSandboxModeManyConnectsToASlowDestination(t *testing.T) {
	const n = 48
	want := fmt.Sprintf("ok=%d", n)
	h := newTestHost(t)
	if got := burstAt(t, newSlowServer(t, h), h, n); got != want {
		t.Fatalf("natively: %q, want %q", got, want)
	}
	srv := newSlowServer(t, h)
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:%d\n", h.addr, srv.port()))
	if got := burstAt(t, srv, h, n, inSandboxMode(pol)...); got != want {
		t.Errorf("through netstack: %q, want %q, as natively", got, want)
	}
	// Every connection the program saw made was made on the server too.
	deadline := time.Now().Add(10 * time.Second)
	for srv.accepted.Load() < n && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := srv.accepted.Load(); got != n {
		t.Errorf("the server accepted %d connections through netstack, want %d", got, n)
	}
}
