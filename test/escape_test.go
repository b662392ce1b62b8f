package test

import (
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
)

// escapeCase is one vector of progs/escape.c and the steps it must print
// in each run (see escape.c): natively, where it must reach its listener,
// and under the sandbox in each network mode, where its listener must
// receive nothing.
type escapeCase struct {
	name                        string
	native, host, sandbox, none string
}

// The vectors, with what each run observes. In --net host the policy's
// EACCES answers every trapped call that names a denied port, and the
// filter refuses io_uring (ENOSYS, as a kernel without it) and raw and
// packet sockets (EPERM). In --net sandbox raw and packet sockets exist and
// send — the policy even allows raw IP to the test host's port 0, so raw
// sends pass the supervisor — and netstack is what keeps the UDP datagram
// inside from the denied port. In --net none the same sends stay in the
// program's own namespace. The program has no CAP_NET_ADMIN in any mode,
// so its netfilter request fails as it would natively without it (EPERM)
// and the datagram goes to the allowed port. The unspecified-address
// vectors (-any) mean the local host, so they run against the loopback
// listeners only, and have no --net sandbox column.
var escapeCases = []escapeCase{
	{"tcp4-connect", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"tcp6-connect", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"tcp4-connect-nonblock", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"tcp6-connect-nonblock", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"tcp6-connect-mapped", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"tcp4-connect-any", "connect=ok", "connect=EACCES", "", "connect=EACCES"},
	{"tcp6-connect-any", "connect=ok", "connect=EACCES", "", "connect=EACCES"},
	{"tcp6-connect-mapped-any", "connect=ok", "connect=EACCES", "", "connect=EACCES"},
	{"mptcp4-connect", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"mptcp6-connect", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"udp4-connect-send", "connect=ok send=ok", "connect=EACCES send=EDESTADDRREQ", "connect=EACCES send=EDESTADDRREQ", "connect=EACCES send=EDESTADDRREQ"},
	{"udp6-connect-send", "connect=ok send=ok", "connect=EACCES send=EDESTADDRREQ", "connect=EACCES send=EDESTADDRREQ", "connect=EACCES send=EDESTADDRREQ"},
	{"udp4-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udp6-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udp6-sendto-mapped", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udp6-sendto-inet", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udp4-sendto-any", "sendto=ok", "sendto=EACCES", "", "sendto=EACCES"},
	{"udp6-sendto-any", "sendto=ok", "sendto=EACCES", "", "sendto=EACCES"},
	{"udp6-sendto-mapped-any", "sendto=ok", "sendto=EACCES", "", "sendto=EACCES"},
	{"udplite4-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udplite6-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udp4-sendto-unspec", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"udp4-sendmsg", "sendmsg=ok", "sendmsg=EACCES", "sendmsg=EACCES", "sendmsg=EACCES"},
	{"udp6-sendmsg", "sendmsg=ok", "sendmsg=EACCES", "sendmsg=EACCES", "sendmsg=EACCES"},
	{"udp4-sendmsg-unspec", "sendmsg=ok", "sendmsg=EACCES", "sendmsg=EACCES", "sendmsg=EACCES"},
	{"udp4-connected-sendto", "connect=ok send=ok sendto=ok", "connect=ok send=ok sendto=EACCES", "connect=ok send=ok sendto=EACCES", "connect=ok send=ok sendto=EACCES"},
	{"udp6-connected-sendto", "connect=ok send=ok sendto=ok", "connect=ok send=ok sendto=EACCES", "connect=ok send=ok sendto=EACCES", "connect=ok send=ok sendto=EACCES"},
	{"udp4-connected-sendmsg", "connect=ok send=ok sendmsg=ok", "connect=ok send=ok sendmsg=EACCES", "connect=ok send=ok sendmsg=EACCES", "connect=ok send=ok sendmsg=EACCES"},
	{"udp6-connected-sendmsg", "connect=ok send=ok sendmsg=ok", "connect=ok send=ok sendmsg=EACCES", "connect=ok send=ok sendmsg=EACCES", "connect=ok send=ok sendmsg=EACCES"},
	{"udp4-sendmmsg", "sendmmsg=2", "sendmmsg=1 rest=EACCES", "sendmmsg=1 rest=EACCES", "sendmmsg=1 rest=EACCES"},
	{"udp6-sendmmsg", "sendmmsg=2", "sendmmsg=1 rest=EACCES", "sendmmsg=1 rest=EACCES", "sendmmsg=1 rest=EACCES"},
	{"tfo4-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"tfo6-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"tfo4-sendmsg", "sendmsg=ok", "sendmsg=EACCES", "sendmsg=EACCES", "sendmsg=EACCES"},
	{"tfo6-sendmsg", "sendmsg=ok", "sendmsg=EACCES", "sendmsg=EACCES", "sendmsg=EACCES"},
	{"tfo4-sendmmsg", "sendmmsg=1", "sendmmsg=EACCES", "sendmmsg=EACCES", "sendmmsg=EACCES"},
	{"mptcp4-tfo-sendto", "sendto=ok", "sendto=EACCES", "sendto=EACCES", "sendto=EACCES"},
	{"tfo4-connect", "connect=ok send=ok", "connect=EACCES send=EPIPE", "connect=EACCES send=EPIPE", "connect=EACCES send=EPIPE"},
	{"tfo6-connect", "connect=ok send=ok", "connect=EACCES send=EPIPE", "connect=EACCES send=EPIPE", "connect=EACCES send=EPIPE"},
	{"uring4-connect", "connect=ok", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS"},
	{"uring6-connect", "connect=ok", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS"},
	{"uring4-sendmsg", "sendmsg=ok", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS"},
	{"uring6-sendmsg", "sendmsg=ok", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS", "io_uring_setup=ENOSYS"},
	{"raw4-sendto", "sendto=ok", "socket=EPERM", "sendto=ok", "sendto=ok"},
	{"raw4-connect-send", "connect=ok send=ok", "socket=EPERM", "connect=ok send=ok", "connect=ok send=ok"},
	{"raw4-hdrincl", "sendto=ok", "socket=EPERM", "sendto=ok", "sendto=ok"},
	{"raw6-sendto", "sendto=ok", "socket=EPERM", "sendto=ok", "sendto=ok"},
	{"packet-raw", "sendto=ok", "socket=EPERM", "sendto=ok", "sendto=ok"},
	{"packet-dgram", "sendto=ok", "socket=EPERM", "sendto=ok", "sendto=ok"},
	{"packet-sockpacket", "sendto=ok", "socket=EPERM", "sendto=ok", "sendto=ok"},
	{"nft-dnat4", "nft=ok sendto=ok", "nft=EPERM sendto=ok", "nft=EPERM sendto=ok", "nft=EPERM sendto=ok"},
	{"thread-connect4", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"clone-vfork-connect4", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"execve-connect4", "connect=ok", "connect=EACCES", "connect=EACCES", "connect=EACCES"},
	{"fork-inherited4", "sendto=ok connect=ok", "sendto=EACCES connect=EACCES", "sendto=EACCES connect=EACCES", "sendto=EACCES connect=EACCES"},
}

// allowedHalves are the vectors that send their name once to the allowed
// port, where it must arrive — but from --net none, whose loopback is not
// the listeners'.
var allowedHalves = []string{
	"udp4-connected-sendto", "udp6-connected-sendto",
	"udp4-connected-sendmsg", "udp6-connected-sendmsg",
	"udp4-sendmmsg", "udp6-sendmmsg",
}

// loopbackOnly are the vectors naming the unspecified address, which the
// kernel sends to the loopback: they can reach a loopback listener only.
func loopbackOnly(c escapeCase) bool { return strings.Contains(c.name, "-any") }

// refusedAlways are the vectors the sandbox refuses whatever the policy:
// io_uring, and netfilter rules (no CAP_NET_ADMIN).
func refusedAlways(c escapeCase) bool {
	return strings.HasPrefix(c.name, "uring") || strings.HasPrefix(c.name, "nft")
}

// TestEscape is the proof that no way around the policy is left open: the
// escape program tries every vector it knows against a denied listener,
// which counts TCP accepts and UDP datagrams on a port of each vector's
// own. Natively every vector reaches its listener (the test has teeth);
// under the sandbox, in every network mode, none does, and each call fails
// with the policy's errno or the filter's refusal, as listed above. Last,
// the same run in --net sandbox with a policy allowing everything reaches
// the listeners (but of what the sandbox always refuses, and UDP-Lite):
// what netstack stopped before, it stopped by the policy, not because a
// frame was malformed or a path broken.
func TestEscape(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "progs/escape.c")
	fastOpenClient(t)
	list := runCmd(t, 10*time.Second, prog, "list")
	var names []string
	for _, c := range escapeCases {
		names = append(names, c.name)
	}
	// Every vector the program has must be in the table, in its order.
	if got := strings.Fields(list.stdout); !slices.Equal(got, names) {
		t.Fatalf("escape lists the vectors\n%s\nthe test expects\n%s", strings.Join(got, " "), strings.Join(names, " "))
	}

	// The loopback listeners live in a namespace of the test's own, so an
	// escape could reach nothing of the machine's. A frame a packet socket
	// puts on lo comes with no route, unlike the kernel's own loopback
	// traffic, and is routed like one from outside: dropped as martian
	// (a 127/8 destination, a local source) unless route_localnet and
	// accept_local allow it. Both are on there, so that natively the
	// packet vectors reach the listener too.
	lh := newTestHost(t)
	if out, err := exec.Command("ip", "netns", "exec", lh.name, "sysctl", "-qw",
		"net.ipv4.conf.lo.route_localnet=1", "net.ipv4.conf.lo.accept_local=1").CombinedOutput(); err != nil {
		t.Fatalf("sysctl: %v\n%s", err, out)
	}
	lo := &escapeTarget{v4: "127.0.0.1", v6: "::1", inside: lh.inside, prefix: []string{"ip", "netns", "exec", lh.name}}
	h := newTestHost(t)
	th := &escapeTarget{v4: h.addr, v6: h.addr6, inside: h.inside}
	// Natively the packet vectors send out of the veth that leads to the
	// test host: the one holding its .1 address. Never any other.
	veth := interfaceWith(t, strings.TrimSuffix(h.addr, ".2")+".1")

	always := func(escapeCase) bool { return true }
	never := func(escapeCase) bool { return false }
	runs := []struct {
		name   string
		target *escapeTarget
		dev    string
		mode   string // "" runs the program natively
		policy string // "deny": only the allowed port; "allow": everything
		skip   func(escapeCase) bool
		want   func(escapeCase) string
		reach  func(escapeCase) bool // whether the vector must reach its listener, or must not
	}{
		{"native-loopback", lo, "lo", "", "", never, func(c escapeCase) string { return c.native }, always},
		{"host", lo, "lo", "host", "deny", never, func(c escapeCase) string { return c.host }, never},
		{"none", lo, "lo", "none", "deny", never, func(c escapeCase) string { return c.none }, never},
		// Natively against the test host the program runs in the
		// machine's own namespace, whose netfilter rules the test
		// leaves alone: the loopback run shows that vector's teeth.
		{"native-testhost", th, veth, "", "", func(c escapeCase) bool {
			return loopbackOnly(c) || strings.HasPrefix(c.name, "nft")
		}, func(c escapeCase) string { return c.native }, always},
		{"sandbox", th, "tun0", "sandbox", "deny", loopbackOnly, func(c escapeCase) string { return c.sandbox }, never},
		// With everything allowed, netstack forwards all that reaches
		// it, but UDP-Lite, which it does not speak.
		{"sandbox-allow-all", th, "tun0", "sandbox", "allow", loopbackOnly, func(c escapeCase) string {
			if refusedAlways(c) {
				return c.sandbox
			}
			return c.native
		}, func(c escapeCase) bool {
			return !refusedAlways(c) && !strings.HasPrefix(c.name, "udplite")
		}},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			var cases []escapeCase
			for _, c := range escapeCases {
				if !run.skip(c) {
					cases = append(cases, c)
				}
			}
			// --net none keeps the program off the listeners' loopback:
			// the allowed halves cannot arrive there either.
			reachesAllowed := run.mode != "none"
			res := run.target.run(t, prog, run.mode, run.policy, run.dev, cases, run.reach, reachesAllowed)
			for _, c := range cases {
				if got, want := res.lines[c.name], run.want(c); got != want {
					t.Errorf("%s: %q, want %q", c.name, got, want)
				}
				n := res.denied[c.name].total()
				switch reach := run.reach(c); {
				case reach && n == 0:
					t.Errorf("%s: its listener received nothing: the vector proves nothing", c.name)
				case !reach && n != 0:
					t.Errorf("%s: ESCAPED: its listener received %d connections and datagrams, where it must receive nothing", c.name, n)
				}
			}
			for _, name := range allowedHalves {
				want := 0
				if reachesAllowed {
					want = 1
				}
				if got := res.allowed.tagged(name); got != want {
					t.Errorf("%s: the allowed port received %d datagrams of it, want %d", name, got, want)
				}
			}
			if t.Failed() {
				t.Logf("the program printed:\n%s", res.stdout)
			}
		})
	}
}

// fastOpenClient makes sure TCP Fast Open's client side is on in this
// network namespace (bit 1 of net.ipv4.tcp_fastopen, Linux's default), so
// the MSG_FASTOPEN vectors connect natively; the namespaces the test and
// the sandbox make start with the default.
func fastOpenClient(t *testing.T) {
	const knob = "/proc/sys/net/ipv4/tcp_fastopen"
	b, err := os.ReadFile(knob)
	if err != nil {
		t.Fatal(err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %v", knob, err)
	}
	if v&1 != 0 {
		return
	}
	if err := os.WriteFile(knob, []byte(strconv.Itoa(v|1)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(knob, b, 0o644) })
}

// interfaceWith names the interface holding the address addr.
func interfaceWith(t *testing.T, addr string) string {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifs {
		as, _ := i.Addrs()
		for _, a := range as {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == addr {
				return i.Name
			}
		}
	}
	t.Fatalf("no interface holds %s", addr)
	return ""
}

// escapeTarget is where the listeners live: the loopback, or a test host.
type escapeTarget struct {
	v4, v6 string
	inside func(t testing.TB, fn func() error) // runs fn where the target's sockets belong
	prefix []string                            // runs the program (or the sandbox) there too, if not nil
}

// datagrams counts the datagrams a UDP socket receives, by payload.
type datagrams struct {
	mu   sync.Mutex
	n    int
	tags map[string]int
}

func countDatagrams(t testing.TB, pc net.PacketConn) *datagrams {
	d := &datagrams{tags: map[string]int{}}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			d.mu.Lock()
			d.n++
			d.tags[string(buf[:n])]++
			d.mu.Unlock()
		}
	}()
	t.Cleanup(func() { pc.Close() })
	return d
}

func (d *datagrams) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.n
}

// portListeners listen on one port of a target: TCP, UDP and UDP-Lite, on
// its IPv4 and its IPv6 address.
type portListeners struct {
	port int
	tcp  []*counter
	udp  []*datagrams
}

// total is every connection accepted and datagram received on the port.
func (p *portListeners) total() int {
	n := 0
	for _, c := range p.tcp {
		n += int(c.accepted.Load())
	}
	for _, d := range p.udp {
		n += d.count()
	}
	return n
}

// tagged is how many datagrams carrying tag the port received.
func (p *portListeners) tagged(tag string) int {
	n := 0
	for _, d := range p.udp {
		d.mu.Lock()
		n += d.tags[tag]
		d.mu.Unlock()
	}
	return n
}

// listen opens the six sockets of a port of the target: the first takes
// any free UDP port, the others the same number — or, should one of them be
// taken, all are closed and another number tried.
func (tg *escapeTarget) listen(t testing.TB) *portListeners {
	t.Helper()
	for range 50 {
		var lns []net.Listener
		var pcs []net.PacketConn
		var port int
		open := func() error {
			u4, err := net.ListenPacket("udp4", net.JoinHostPort(tg.v4, "0"))
			if err != nil {
				return err
			}
			pcs = append(pcs, u4)
			port = u4.LocalAddr().(*net.UDPAddr).Port
			p := strconv.Itoa(port)
			u6, err := net.ListenPacket("udp6", net.JoinHostPort(tg.v6, p))
			if err != nil {
				return err
			}
			pcs = append(pcs, u6)
			for _, host := range []string{tg.v4, tg.v6} {
				ul, err := listenUDPLite(host, port)
				if err != nil {
					return err
				}
				pcs = append(pcs, ul)
			}
			for _, a := range []struct{ network, host string }{{"tcp4", tg.v4}, {"tcp6", tg.v6}} {
				ln, err := net.Listen(a.network, net.JoinHostPort(a.host, p))
				if err != nil {
					return err
				}
				lns = append(lns, ln)
			}
			return nil
		}
		var err error
		tg.inside(t, func() error { err = open(); return nil })
		if err != nil {
			if !errors.Is(err, syscall.EADDRINUSE) {
				t.Fatal(err)
			}
			for _, ln := range lns {
				ln.Close()
			}
			for _, pc := range pcs {
				pc.Close()
			}
			continue
		}
		p := &portListeners{port: port}
		for _, ln := range lns {
			p.tcp = append(p.tcp, startCounter(t, ln))
		}
		for _, pc := range pcs {
			p.udp = append(p.udp, countDatagrams(t, pc))
		}
		return p
	}
	t.Fatal("no port free for TCP and UDP over both IPv4 and IPv6 in 50 tries")
	return nil
}

// listenUDPLite opens a UDP-Lite socket on host:port (Go has no UDP-Lite
// of its own; the socket reads like a UDP one).
func listenUDPLite(host string, port int) (net.PacketConn, error) {
	ip := net.ParseIP(host)
	family, sa := syscall.AF_INET6, syscall.Sockaddr(&syscall.SockaddrInet6{Port: port, Addr: [16]byte(ip.To16())})
	if ip4 := ip.To4(); ip4 != nil {
		family, sa = syscall.AF_INET, &syscall.SockaddrInet4{Port: port, Addr: [4]byte(ip4)}
	}
	fd, err := syscall.Socket(family, syscall.SOCK_DGRAM|syscall.SOCK_CLOEXEC, syscall.IPPROTO_UDPLITE)
	if err != nil {
		return nil, os.NewSyscallError("socket", err)
	}
	if err := syscall.Bind(fd, sa); err != nil {
		syscall.Close(fd)
		return nil, os.NewSyscallError("bind", err)
	}
	f := os.NewFile(uintptr(fd), "udplite")
	defer f.Close()
	return net.FilePacketConn(f)
}

// escapeResult is what one run of the escape program printed and left.
type escapeResult struct {
	stdout  string
	lines   map[string]string // vector → its steps
	denied  map[string]*portListeners
	allowed *portListeners
}

// run runs the escape program with cases against fresh listeners on tg,
// natively (mode "") or under the sandbox in mode with a policy that
// allows everything ("allow") or only UDP to the allowed port and raw IP
// to port 0 ("deny", EACCES). It returns once the program has exited and
// what it sent has had a bounded time to land: until every listener that
// must be reached has something and the allowed halves have arrived (by the
// same path as any escape would take), then a settle for stragglers.
func (tg *escapeTarget) run(t *testing.T, prog, mode, policy, dev string, cases []escapeCase, reach func(escapeCase) bool, reachesAllowed bool) escapeResult {
	res := escapeResult{lines: map[string]string{}, denied: map[string]*portListeners{}, allowed: tg.listen(t)}
	argv := []string{prog, tg.v4, tg.v6, strconv.Itoa(res.allowed.port), dev}
	for _, c := range cases {
		p := tg.listen(t)
		res.denied[c.name] = p
		argv = append(argv, fmt.Sprintf("%s=%d", c.name, p.port))
	}
	switch policy {
	case "allow":
		argv = sandboxedIn(mode, writePolicy(t, "version: 1\ndefault: allow\n"), argv...)
	case "deny":
		// Raw IP to port 0 is allowed so that raw sends pass the
		// supervisor and meet netstack's own check of the UDP
		// datagram inside (in --net host the filter refuses raw
		// sockets first).
		argv = sandboxedIn(mode, writePolicy(t, fmt.Sprintf(`version: 1
default: deny
errno: EACCES
rules:
  - allow: udp %[1]s:%[3]d
  - allow: udp [%[2]s]:%[3]d
  - allow: ip %[1]s:0
  - allow: ip [%[2]s]:0
`, tg.v4, tg.v6, res.allowed.port)), argv...)
	}
	argv = append(slices.Clip(tg.prefix), argv...)
	r := runCmd(t, 2*time.Minute, argv...)
	res.stdout = r.stdout
	if r.status != 0 {
		t.Fatalf("%q exited %d\nstdout:\n%s\nstderr:\n%s", argv, r.status, r.stdout, r.stderr)
	}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		name, steps, _ := strings.Cut(l, " ")
		res.lines[name] = steps
	}
	landed := func() bool {
		for _, c := range cases {
			if reach(c) && res.denied[c.name].total() == 0 {
				return false
			}
		}
		if reachesAllowed {
			for _, name := range allowedHalves {
				if res.allowed.tagged(name) == 0 {
					return false
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(5 * time.Second); !landed() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	settle()
	return res
}
