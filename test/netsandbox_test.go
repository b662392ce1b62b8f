package test

import (
	"crypto/sha256"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// noDNS is the resolver tests give --net sandbox (the default mode) when
// they bring no DNS server of their own: a closed loopback port, so a stray
// lookup fails (SERVFAIL) instead of reaching the machine's real resolver.
const noDNS = "127.0.0.1:9"

// inSandboxMode is the argv that runs prog under --net sandbox.
func inSandboxMode(policyFile string, prog ...string) []string {
	return inSandboxModeDNS(policyFile, noDNS, prog...)
}

// inSandboxModeDNS is inSandboxMode with the sandbox's DNS asking dns.
func inSandboxModeDNS(policyFile, dns string, prog ...string) []string {
	argv := []string{sandboxBin, "run", "--net", "sandbox", "--dns", dns}
	if policyFile != "" {
		argv = append(argv, "--policy", policyFile)
	}
	return append(append(argv, "--"), prog...)
}

// TestSandboxModeForwards: in --net sandbox the program's connects leave
// through netstack: an allowed test host is reached (blocking and
// non-blocking), a denied one receives nothing, a closed port on an allowed
// host is refused (RST → ECONNREFUSED), and the gateway reaches the host's
// loopback only where the policy allows 127.0.0.1.
func TestSandboxModeForwards(t *testing.T) {
	dial := buildC(t, "progs/dial.c")
	a, b := newTestHost(t), newTestHost(t)
	allowed, denied := a.counter(t), b.counter(t)
	hostLo := newCounter(t, "tcp4", "127.0.0.1:0")
	hostLoDenied := newCounter(t, "tcp4", "127.0.0.1:0")
	closed := closedPortOn(t, a)
	pol := writePolicy(t, fmt.Sprintf(`version: 1
default: deny
rules:
  - allow: tcp %s
  - allow: tcp 127.0.0.1:%d
`, a.addr, hostLo.port()))
	cases := []struct {
		mode, host string
		port       int
		want       string
	}{
		{"block", a.addr, allowed.port(), "ok=3"},
		{"nonblock", a.addr, allowed.port(), "ok=3"},
		{"block", b.addr, denied.port(), "EACCES=3"},
		{"nonblock", b.addr, denied.port(), "EACCES=3"},
		{"block", a.addr, closed, "ECONNREFUSED=1"},
		{"block", "100.96.0.1", hostLo.port(), "ok=2"},
		{"block", "100.96.0.1", hostLoDenied.port(), "EACCES=2"},
	}
	for _, c := range cases {
		count := strings.Split(c.want, "=")[1]
		r := runCmd(t, time.Minute, inSandboxMode(pol, dial, c.mode, "tcp", c.host, fmt.Sprint(c.port), count)...)
		if got := strings.TrimSpace(r.stdout); got != c.want {
			t.Errorf("%s %s:%d: %q (status %d, %s), want %q", c.mode, c.host, c.port, got, r.status, r.stderr, c.want)
		}
	}
	expectNothingReached(t, denied, hostLoDenied)
	if n := allowed.accepted.Load(); n != 6 {
		t.Errorf("the allowed test host accepted %d connections, want 6", n)
	}
	if n := hostLo.accepted.Load(); n != 2 {
		t.Errorf("the host's loopback accepted %d connections through the gateway, want 2", n)
	}
}

// closedPortOn returns a port nothing listens on at test host h.
func closedPortOn(t *testing.T, h *testHost) int {
	ln := h.listen(t, "tcp4", h.addr+":0")
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// TestSandboxModeHalfCloseAndBulk: a megabyte up, shutdown(SHUT_WR), and the
// reply still comes back through netstack — the half-close passes as a FIN.
func TestSandboxModeHalfCloseAndBulk(t *testing.T) {
	h := newTestHost(t)
	ln := h.listen(t, "tcp4", h.addr+":0")
	t.Cleanup(func() { ln.Close() })
	serve(ln, func(c net.Conn) {
		n, _ := io.Copy(io.Discard, c) // to the client's FIN
		fmt.Fprintf(c, "got %d bytes", n)
	})
	client := `import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=20)
s.sendall(b"x" * 1048576)
s.shutdown(socket.SHUT_WR)
reply = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    reply += b
print(reply.decode())`
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s\n", h.addr))
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	r := runCmd(t, time.Minute, inSandboxMode(pol, "/usr/bin/python3", "-c", client, h.addr, port)...)
	if strings.TrimSpace(r.stdout) != "got 1048576 bytes" {
		t.Errorf("through netstack: %q (status %d, %s), want \"got 1048576 bytes\"", r.stdout, r.status, r.stderr)
	}
}

// TestSandboxModeSourcePortReused: a program connects again from the same
// source port to a server that closed the previous connection first. The
// server's side of that flow is in TIME-WAIT, which Linux lets a new SYN
// end; natively every round connects. Through netstack the stack stands in
// for the server, and it once held such a flow 60 s, dropping the new SYN:
// the connect stalled (here: failed after 5 s), as any program making short
// connections could hit when its kernel reused a port.
func TestSandboxModeSourcePortReused(t *testing.T) {
	prog := buildC(t, "progs/samesport.c")
	h := newTestHost(t)
	ln := h.listen(t, "tcp4", h.addr+":0")
	t.Cleanup(func() { ln.Close() })
	var accepted atomic.Int64
	serve(ln, func(c net.Conn) { accepted.Add(1) }) // closes at once: the server closes first
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	const rounds = 4
	var want strings.Builder
	for i := range rounds {
		fmt.Fprintf(&want, "round %d: ok\n", i)
	}
	args := []string{prog, h.addr, port, fmt.Sprint(rounds)}
	native := runCmd(t, time.Minute, args...)
	if native.stdout != want.String() {
		t.Fatalf("natively:\n%s(status %d, %s)\nwant:\n%s", native.stdout, native.status, native.stderr, want.String())
	}
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:%s\n", h.addr, port))
	before := accepted.Load()
	r := runCmd(t, time.Minute, inSandboxMode(pol, args...)...)
	if r.stdout != want.String() {
		t.Errorf("through netstack:\n%s(status %d, %s)\nwant, as natively:\n%s", r.stdout, r.status, r.stderr, want.String())
	}
	if got := accepted.Load() - before; got != rounds {
		t.Errorf("the server accepted %d connections through netstack, want %d", got, rounds)
	}
}

// udpCounter counts the datagrams a test host receives on a port.
func udpCounter(t *testing.T, h *testHost) (port int, count *atomic.Int64) {
	pc := h.listenPacket(t)
	count = new(atomic.Int64)
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return
			}
			count.Add(1)
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().(*net.UDPAddr).Port, count
}

// TestSandboxModeRawSocketCannotEscape: a raw socket's sendto is judged by
// the address it names, as any IP protocol (`ip` rules), while the UDP
// header inside is the program's to write. Here the policy allows raw
// packets to the test host's port 0 — so the trapped sendto passes — and
// the datagram inside goes to a denied UDP port: netstack meets it with
// the policy again and drops it. Natively the same program does reach the
// port, so the test has teeth.
func TestSandboxModeRawSocketCannotEscape(t *testing.T) {
	h := newTestHost(t)
	port, count := udpCounter(t, h)
	raw := `import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_UDP)
payload = b"escape"
# UDP header: source port, destination port, length, checksum 0 (none, allowed over IPv4)
s.sendto(struct.pack("!HHHH", 40000, int(sys.argv[2]), 8 + len(payload), 0) + payload, (sys.argv[1], 0))
print("sent")`
	argv := []string{"/usr/bin/python3", "-c", raw, h.addr, fmt.Sprint(port)}
	native := runCmd(t, 30*time.Second, argv...)
	time.Sleep(200 * time.Millisecond)
	if native.stdout != "sent\n" || count.Load() != 1 {
		t.Fatalf("natively the raw datagram should arrive: %q (%s), %d received", native.stdout, native.stderr, count.Load())
	}
	rawOnly := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: ip %s:0\n", h.addr))
	r := runCmd(t, 30*time.Second, inSandboxMode(rawOnly, argv...)...)
	time.Sleep(200 * time.Millisecond)
	if r.stdout != "sent\n" {
		t.Fatalf("under the sandbox: %q (status %d, %s)", r.stdout, r.status, r.stderr)
	}
	if n := count.Load(); n != 1 {
		t.Errorf("the denied test host received %d datagrams in all, want only the native one", n)
	}
}

// TestSandboxModeIPv6: IPv6 takes the same path, with IPv6 rules: an
// allowed IPv6 test host is reached through netstack, a denied one (the
// same host's other port) receives nothing.
func TestSandboxModeIPv6(t *testing.T) {
	dial := buildC(t, "progs/dial.c")
	h := newTestHost(t)
	allowed := startCounter(t, h.listen(t, "tcp6", "["+h.addr6+"]:0"))
	denied := startCounter(t, h.listen(t, "tcp6", "["+h.addr6+"]:0"))
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp [%s]:%d\n", h.addr6, allowed.port()))
	for _, c := range []struct {
		port int
		want string
	}{{allowed.port(), "ok=2"}, {denied.port(), "EACCES=2"}} {
		r := runCmd(t, time.Minute, inSandboxMode(pol, dial, "nonblock", "tcp", h.addr6, fmt.Sprint(c.port), "2")...)
		if got := strings.TrimSpace(r.stdout); got != c.want {
			t.Errorf("[%s]:%d: %q (%s), want %q", h.addr6, c.port, got, r.stderr, c.want)
		}
	}
	expectNothingReached(t, denied)
	if n := allowed.accepted.Load(); n != 2 {
		t.Errorf("the allowed IPv6 listener accepted %d, want 2", n)
	}
}

// TestSandboxModeUnprivileged: an ordinary user gets --net sandbox too — a
// user namespace of its own — wherever /dev/net/tun is open to all users,
// as most distributions ship it (this machine kind ships it 0600, so the
// test opens it for its own duration).
func TestSandboxModeUnprivileged(t *testing.T) {
	requireRoot(t) // to become nobody, and to open /dev/net/tun
	st, err := os.Stat("/dev/net/tun")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o666 {
		if err := os.Chmod("/dev/net/tun", 0o666); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod("/dev/net/tun", st.Mode().Perm()) })
	}
	dial := buildC(t, "progs/dial.c")
	h := newTestHost(t)
	allowed, denied := h.counter(t), h.counter(t)
	pol := filepath.Join(workDir, "sandbox-unprivileged.yaml")
	if err := os.WriteFile(pol, []byte(fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:%d\n", h.addr, allowed.port())), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		port int
		want string
	}{{allowed.port(), "ok=2"}, {denied.port(), "EACCES=2"}} {
		argv := append(setprivNobody, inSandboxMode(pol, dial, "block", "tcp", h.addr, fmt.Sprint(c.port), "2")...)
		r := runCmd(t, time.Minute, argv...)
		if got := strings.TrimSpace(r.stdout); got != c.want {
			t.Errorf("as nobody, %s:%d: %q (status %d, %s), want %q", h.addr, c.port, got, r.status, r.stderr, c.want)
		}
	}
	expectNothingReached(t, denied)
	if n := allowed.accepted.Load(); n != 2 {
		t.Errorf("the allowed test host accepted %d, want 2", n)
	}
}

// TestSandboxModeUDP: UDP is forwarded per flow: a connected socket's
// datagram reaches an allowed test host's echo server and the echo comes
// back; a sendto naming a denied port fails with the policy's errno and
// nothing arrives.
func TestSandboxModeUDP(t *testing.T) {
	h := newTestHost(t)
	echo := h.listenPacket(t)
	t.Cleanup(func() { echo.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := echo.ReadFrom(buf)
			if err != nil {
				return
			}
			echo.WriteTo(buf[:n], from)
		}
	}()
	deniedPort, deniedCount := udpCounter(t, h)
	echoPort := echo.LocalAddr().(*net.UDPAddr).Port
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: udp %s:%d\n", h.addr, echoPort))
	client := `import errno, socket, sys
host, ok, denied = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(5)
s.connect((host, ok))
s.send(b"ping")
print(s.recv(100).decode())
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"sneak", (host, denied))
    print("sent")
except OSError as e:
    print(errno.errorcode[e.errno])`
	r := runCmd(t, time.Minute, inSandboxMode(pol, "/usr/bin/python3", "-c", client, h.addr, fmt.Sprint(echoPort), fmt.Sprint(deniedPort))...)
	if r.stdout != "ping\nEACCES\n" {
		t.Errorf("UDP through netstack: %q (status %d, %s), want the echo and EACCES", r.stdout, r.status, r.stderr)
	}
	time.Sleep(200 * time.Millisecond)
	if n := deniedCount.Load(); n != 0 {
		t.Errorf("the denied UDP port received %d datagrams", n)
	}
}

// TestSandboxModeBulkChecksum: a gigabyte through netstack arrives whole
// and unchanged: the test host hashes what it receives, the program what it
// sent.
func TestSandboxModeBulkChecksum(t *testing.T) {
	h := newTestHost(t)
	ln := h.listen(t, "tcp4", h.addr+":0")
	t.Cleanup(func() { ln.Close() })
	serve(ln, func(c net.Conn) {
		sum := sha256.New()
		n, _ := io.Copy(sum, c)
		fmt.Fprintf(c, "%d %x", n, sum.Sum(nil))
	})
	client := `import hashlib, random, socket, sys
block = random.Random(7).randbytes(1 << 20)
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=60)
h = hashlib.sha256()
for i in range(1024):
    b = bytes([i % 256]) + block[1:]
    h.update(b)
    s.sendall(b)
s.shutdown(socket.SHUT_WR)
reply = b""
while True:
    r = s.recv(4096)
    if not r:
        break
    reply += r
print("ok" if reply.decode() == "%d %s" % (1 << 30, h.hexdigest()) else "mismatch: " + reply.decode())`
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s\n", h.addr))
	r := runCmd(t, 3*time.Minute, inSandboxMode(pol, "/usr/bin/python3", "-c", client, h.addr, fmt.Sprint(ln.Addr().(*net.TCPAddr).Port))...)
	if strings.TrimSpace(r.stdout) != "ok" {
		t.Errorf("1 GiB through netstack: %q (status %d, %s)", r.stdout, r.status, r.stderr)
	}
}

// TestSandboxModeEndsWithItsProgram: the sandbox ends promptly after its
// program, whatever the other ends of its flows do. Here a destination
// takes a TCP connection and a UDP flow and then neither answers, reads
// nor closes; the program opens both and exits. Without the flows being
// closed at teardown, netstack would wait for that destination for ever.
func TestSandboxModeEndsWithItsProgram(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	held := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held <- c // held open, never read: the test closes it at the end
		}
	}()
	t.Cleanup(func() {
		for len(held) > 0 {
			(<-held).Close()
		}
	})
	udp, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	tport, uport := ln.Addr().(*net.TCPAddr).Port, udp.LocalAddr().(*net.UDPAddr).Port
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n  - allow: udp 127.0.0.1:%d\n", tport, uport))
	script := fmt.Sprintf(`import socket
t = socket.create_connection(("100.96.0.1", %d))
t.sendall(b"x" * 100000)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.sendto(b"y", ("100.96.0.1", %d))
print("sent")
`, tport, uport)
	start := time.Now()
	r := runCmd(t, time.Minute, inSandboxMode(pol, "/usr/bin/python3", "-c", script)...)
	took := time.Since(start)
	if r.stdout != "sent\n" || r.status != 0 {
		t.Fatalf("program: %q, status %d, %s", r.stdout, r.status, r.stderr)
	}
	// Far below netstack's own timeouts (UDP idle 60 s; a held TCP
	// connection has none), far above a start on a loaded machine.
	if took > 15*time.Second {
		t.Errorf("sandbox run took %v after a program that exits at once", took)
	}
}

// TestSandboxModeLeavesNoDevice: the program's TUN device (persistent, so
// that closing it costs no device teardown on the way out) goes with the
// program's network namespace: none is left behind in the host's, and
// none accumulates over runs.
func TestSandboxModeLeavesNoDevice(t *testing.T) {
	requireRoot(t)
	links := func() string {
		out, err := exec.Command("ip", "-o", "link", "show", "type", "tun").CombinedOutput()
		if err != nil {
			t.Fatalf("ip link: %v\n%s", err, out)
		}
		return string(out)
	}
	before := links()
	pol := writePolicy(t, "version: 1\ndefault: deny\n")
	for range 5 {
		if r := runCmd(t, time.Minute, inSandboxMode(pol, "/bin/true")...); r.status != 0 {
			t.Fatalf("status %d: %s", r.status, r.stderr)
		}
	}
	// The namespaces are torn down by the kernel's own work queue, soon
	// after each run.
	deadline := time.Now().Add(10 * time.Second)
	for links() != before && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if after := links(); after != before || strings.Contains(after, "tun0") {
		t.Errorf("TUN devices in the host's namespace: before\n%s\nafter\n%s", before, after)
	}
}

// TestSandboxDeliversWhatWasSentBeforeExit: data a program writes just
// before it exits reaches its destination whole, as natively, where the
// kernel goes on sending after the process is gone. The destination
// starts reading only a while after it accepts, so when the program exits
// megabytes still wait in netstack and in the program's kernel. (netstack
// cut every flow the moment the program had exited, and they were lost;
// under load even a short request written just before exit could be.)
func TestSandboxDeliversWhatWasSentBeforeExit(t *testing.T) {
	requireRoot(t) // to open /dev/net/tun
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan int64, 16)
	serve(ln, func(c net.Conn) {
		time.Sleep(500 * time.Millisecond)
		c.SetReadDeadline(time.Now().Add(20 * time.Second))
		n, _ := io.Copy(io.Discard, c) // to the program's end of stream
		got <- n
	})
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	pol := writePolicy(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:"+port+"\n")
	// bash's write returns once its kernel holds the last of the data;
	// bash then exits.
	const size = 32 << 20
	prog := fmt.Sprintf("head -c %d /dev/zero >/dev/tcp/100.96.0.1/%s", size, port)
	for i := range 2 {
		r := runCmd(t, 30*time.Second, inSandboxMode(pol, "bash", "-c", prog)...)
		if r.status != 0 {
			t.Fatalf("run %d: status %d, stderr %q", i, r.status, r.stderr)
		}
		select {
		case n := <-got:
			if n != size {
				t.Fatalf("run %d: the destination received %d of the %d bytes sent", i, n, size)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("run %d: the destination's connection has not ended 20 s after the sandbox", i)
		}
	}
}

// TestSandboxEndsWithTrafficInFlight: a program that exits while its
// traffic still flows through netstack — an upload whose last megabytes
// its kernel is still sending, downloads cut short — ends the sandbox at
// once, every time. (Stack.Close removed the NIC, which holds the stack's
// lock while it waits for the TUN device's reader, while the reader, in
// the middle of delivering a packet, waited for that lock: the sandbox
// hung for ever once the program had exited.)
func TestSandboxEndsWithTrafficInFlight(t *testing.T) {
	requireRoot(t) // to open /dev/net/tun
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	chunk := make([]byte, 64<<10)
	serve(ln, func(c net.Conn) {
		// Each connection says which way it goes: "w" to be written
		// to without end, anything else to be read until it closes.
		var way [1]byte
		if _, err := io.ReadFull(c, way[:]); err != nil {
			return
		}
		if way[0] == 'w' {
			for {
				if _, err := c.Write(chunk); err != nil {
					return
				}
			}
		}
		io.Copy(io.Discard, c)
	})
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	pol := writePolicy(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:"+port+"\n")
	// bash's /dev/tcp. Four uploads of 30 MB, whose writes return
	// while the kernel still holds megabytes to send, and four endless
	// downloads that the watchdog kills when the program exits.
	dev := "/dev/tcp/100.96.0.1/" + port
	prog := `for i in 1 2 3 4; do (exec 3<>` + dev + ` && printf w >&3 && cat <&3 >/dev/null) & done
up=
for i in 1 2 3 4; do (exec 3<>` + dev + ` && { printf u; head -c 30000000 /dev/zero; } >&3) & up="$up $!"; done
wait $up; echo done`
	// Before the fix the first run hung, every time it was tried.
	for i := range 10 {
		r := runCmd(t, 30*time.Second, inSandboxMode(pol, "bash", "-c", prog)...)
		if r.status != 0 || r.stdout != "done\n" {
			t.Fatalf("run %d: status %d, stdout %q, stderr %q", i, r.status, r.stdout, r.stderr)
		}
	}
}
