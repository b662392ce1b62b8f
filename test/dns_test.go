package test

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsHost is a DNS server on a test host that knows a few names and counts
// the queries it gets, by name. It never answers the names in silent: a
// lookup of one holds the gateway's upstream exchange for its whole
// timeout.
type dnsHost struct {
	addr    string // host:53
	silent  map[string]bool
	mu      sync.Mutex
	queries map[string]int // by every question's name, not only the first
	raw     [][]byte       // every message, as received
}

func newDNSHost(t *testing.T, h *testHost, records map[string]string, silent ...string) *dnsHost {
	t.Helper()
	d := &dnsHost{addr: h.addr + ":53", queries: map[string]int{}, silent: map[string]bool{}}
	for _, n := range silent {
		d.silent[n] = true
	}
	var pc net.PacketConn
	var ln net.Listener
	h.inside(t, func() (err error) {
		if pc, err = net.ListenPacket("udp4", d.addr); err != nil {
			return err
		}
		ln, err = net.Listen("tcp4", d.addr)
		return err
	})
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if msg := d.answer(buf[:n], records); msg != nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	serve(ln, func(c net.Conn) {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		if msg := d.answer(q, records); msg != nil {
			c.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
		}
	})
	return d
}

// answer counts a query and answers it from records (A only; NXDOMAIN for
// names it does not know). It keeps every message and counts the names of
// all its questions, so that a test can tell what reached it.
func (d *dnsHost) answer(query []byte, records map[string]string) []byte {
	d.mu.Lock()
	d.raw = append(d.raw, bytes.Clone(query))
	d.mu.Unlock()
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil
	}
	qs, _ := p.AllQuestions() // those before any error count too
	d.mu.Lock()
	for _, q := range qs {
		d.queries[strings.TrimSuffix(q.Name.String(), ".")]++
	}
	d.mu.Unlock()
	if len(qs) == 0 {
		return nil
	}
	q := qs[0]
	name := strings.TrimSuffix(q.Name.String(), ".")
	if d.silent[name] {
		return nil
	}
	a, known := records[name]
	rcode := dnsmessage.RCodeSuccess
	if !known {
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RCode: rcode})
	b.StartQuestions()
	b.Question(q)
	if known && q.Type == dnsmessage.TypeA {
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300},
			dnsmessage.AResource{A: netip.MustParseAddr(a).As4()})
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

// received is every message the server got.
func (d *dnsHost) received() [][]byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.raw)
}

func (d *dnsHost) count(name string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.queries[name]
}

// TestSandboxDNSAndHostnameRules: in --net sandbox any resolver works
// unchanged (resolv.conf points at the gateway); a name no rule allows gets
// NXDOMAIN without its query ever leaving the sandbox; a host-name rule
// allows exactly the addresses the name resolved to, and the same address
// without the name having been resolved follows the other rules.
func TestSandboxDNSAndHostnameRules(t *testing.T) {
	a, b, ns := newTestHost(t), newTestHost(t), newTestHost(t)
	web := a.counter(t)
	other := b.counter(t)
	dns := newDNSHost(t, ns, map[string]string{"allowed.test": a.addr, "denied.test": b.addr})
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp allowed.test:%d\n", web.port()))

	// Resolve by name and connect (Python through glibc's resolver).
	byName := `import socket, sys
try:
    s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
    print("connected")
except socket.gaierror as e:
    print("resolve:", e.args[1])
except OSError as e:
    print("connect:", e.strerror)`
	// run returns what the program printed and the sandbox's summary of
	// what it denied (the line it prints on stderr as the program ends).
	run := func(host string, port int) (out, denied string) {
		r := runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "/usr/bin/python3", "-c", byName, host, fmt.Sprint(port))...)
		var rest []string
		for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
			if s, ok := strings.CutPrefix(l, "sandbox: denied "); ok {
				denied = s
			} else if l != "" {
				rest = append(rest, l)
			}
		}
		return strings.TrimSpace(r.stdout + strings.Join(rest, "\n")), denied
	}
	if got, denied := run("allowed.test", web.port()); got != "connected" || denied != "" {
		t.Errorf("allowed.test: %q (denied: %q), want connected and nothing denied", got, denied)
	}
	// One query per address family the resolver asks for (A, AAAA).
	if got, denied := run("denied.test", other.port()); !strings.Contains(got, "resolve:") || !regexp.MustCompile(`^[12] calls?: dns denied.test( \(×2\))?; `).MatchString(denied) {
		t.Errorf("denied.test: %q, denied %q: want a resolution failure (NXDOMAIN), and the summary naming the name", got, denied)
	}
	if n := dns.count("denied.test"); n != 0 {
		t.Errorf("the query for denied.test left the sandbox %d times: names no rule allows must not", n)
	}
	// The allowed name's address, without the name: no rule allows it.
	want := fmt.Sprintf("1 call: tcp %s:%d; --log - shows each", a.addr, web.port())
	if got, denied := run(a.addr, web.port()); got != "connect: Permission denied" || denied != want {
		t.Errorf("%s by address: %q, denied %q: want Permission denied, and %q", a.addr, got, denied, want)
	}
	// Go's own resolver (not glibc) reads the same resolv.conf.
	goclient := buildGo(t, "goclient")
	r := runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, goclient, fmt.Sprintf("http://allowed.test:%d/", web.port()), "1")...)
	if !strings.Contains(r.stdout, "error:") || strings.Contains(r.stdout, "no such host") || strings.Contains(r.stdout, "permission denied") {
		// The counter speaks no HTTP, so the request fails — but after
		// the name resolved and the connect was allowed.
		t.Errorf("Go client to allowed.test: %q (%s): want an HTTP error past resolution and connect", r.stdout, r.stderr)
	}
	// dig speaks DNS itself (no libc), to the resolv.conf's nameserver.
	r = runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "dig", "+short", "+tries=1", "+time=5", "allowed.test")...)
	if strings.TrimSpace(r.stdout) != a.addr {
		t.Errorf("dig allowed.test: %q (%s), want %s", r.stdout, r.stderr, a.addr)
	}
	r = runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "dig", "+tries=1", "+time=5", "denied.test")...)
	if !strings.Contains(r.stdout, "status: NXDOMAIN") {
		t.Errorf("dig denied.test: want status NXDOMAIN, got:\n%s%s", r.stdout, r.stderr)
	}
	// DNS over TCP, to the gateway and on to the upstream.
	r = runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "dig", "+tcp", "+short", "+tries=1", "+time=5", "allowed.test")...)
	if strings.TrimSpace(r.stdout) != a.addr {
		t.Errorf("dig +tcp allowed.test: %q (%s), want %s", r.stdout, r.stderr, a.addr)
	}
	// curl resolves, connects, and only then finds the counter speaks no HTTP.
	r = runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "curl", "-sS", "-m", "10", fmt.Sprintf("http://allowed.test:%d/", web.port()))...)
	if !strings.Contains(r.stderr, "Empty reply from server") {
		t.Errorf("curl allowed.test: %q, want it past resolution and connect (Empty reply from server)", r.stderr)
	}
	// A policy may ask for REFUSED rather than NXDOMAIN.
	refused := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\ndns-denied: REFUSED\nrules:\n  - allow: tcp allowed.test:%d\n", web.port()))
	r = runCmd(t, time.Minute, inSandboxModeDNS(refused, dns.addr, "dig", "+tries=1", "+time=5", "denied.test")...)
	if !strings.Contains(r.stdout, "status: REFUSED") {
		t.Errorf("dig denied.test with dns-denied: REFUSED: want status REFUSED, got:\n%s%s", r.stdout, r.stderr)
	}
	if n := dns.count("denied.test"); n != 0 {
		t.Errorf("a query for denied.test left the sandbox %d times", n)
	}
	expectNothingReached(t, other)
	if n := web.accepted.Load(); n != 3 {
		t.Errorf("allowed.test accepted %d connections, want 3 (Python, Go, curl)", n)
	}
}

// smuggled stands for bytes a program wants carried out of the sandbox
// inside its DNS queries: the upstream resolver must never see them.
var smuggled = []byte("SMUGGLED-PAYLOAD")

// dnsRaw sends each of its arguments, PROTO:HEX[,HEX…], to the sandbox's
// DNS as raw messages (over UDP one datagram; over TCP all the messages on
// one connection) and prints each answer in hex, or the error.
const dnsRaw = `import socket, struct, sys
def readn(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise OSError("connection closed")
        b += c
    return b
for arg in sys.argv[1:]:
    proto, _, hexes = arg.partition(":")
    msgs = [bytes.fromhex(h) for h in hexes.split(",")]
    try:
        if proto == "udp":
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.settimeout(8)
            s.sendto(msgs[0], ("100.96.0.1", 53))
            print(s.recv(65535).hex(), flush=True)
        else:
            s = socket.create_connection(("100.96.0.1", 53), timeout=8)
            s.sendall(b"".join(struct.pack(">H", len(m)) + m for m in msgs))
            for m in msgs:
                print(readn(s, struct.unpack(">H", readn(s, 2))[0]).hex(), flush=True)
        s.close()
    except OSError as e:
        print("error:", e, flush=True)`

// dnsMessage builds a message from the program: hdr, one question per
// name (type A), then whatever more adds (sections, records), then tail.
func dnsMessage(t *testing.T, hdr dnsmessage.Header, names []string, more func(b *dnsmessage.Builder), tail []byte) []byte {
	t.Helper()
	if hdr.ID == 0 {
		hdr.ID = 0x5a5a
	}
	b := dnsmessage.NewBuilder(nil, hdr)
	b.StartQuestions()
	for _, n := range names {
		if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(n), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET}); err != nil {
			t.Fatal(err)
		}
	}
	if more != nil {
		more(&b)
	}
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return append(msg, tail...)
}

// withEDNS adds an OPT record with options.
func withEDNS(opts ...dnsmessage.Option) func(b *dnsmessage.Builder) {
	return func(b *dnsmessage.Builder) {
		b.StartAdditionals()
		var h dnsmessage.ResourceHeader
		h.SetEDNS0(4096, 0, true)
		b.OPTResource(h, dnsmessage.OPTResource{Options: opts})
	}
}

// TestSandboxDNSSmuggling: a program sends the gateway's DNS, over UDP and
// TCP, messages that are no plain query for one allowed name — a second
// question naming a denied host, bytes after the message, UPDATE and
// NOTIFY, a response, records in the query, EDNS options, oversized
// messages. Each gets the rcode a resolver would give, and on the
// upstream's side nothing of them arrives: the queries it does get are
// the gateway's own, for the allowed name alone.
func TestSandboxDNSSmuggling(t *testing.T) {
	ns := newTestHost(t)
	web := ns.counter(t)
	dns := newDNSHost(t, ns, map[string]string{"allowed.test": ns.addr, "denied.test": "198.18.0.98"})
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp allowed.test:%d\n", web.port()))
	rd := dnsmessage.Header{RecursionDesired: true}
	allowed, both := []string{"allowed.test."}, []string{"allowed.test.", "denied.test."}
	smuggleOpts := []dnsmessage.Option{{Code: 10, Data: smuggled}, {Code: 8, Data: append([]byte{0, 1, 24, 0, 198, 18, 0}, smuggled...)}, {Code: 65001, Data: smuggled}}
	txt := func(sec string) func(b *dnsmessage.Builder) {
		return func(b *dnsmessage.Builder) {
			if sec == "answer" {
				b.StartAnswers()
			} else {
				b.StartAuthorities()
			}
			b.TXTResource(dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("allowed.test."), Class: dnsmessage.ClassINET},
				dnsmessage.TXTResource{TXT: []string{string(smuggled)}})
		}
	}
	good := dnsMessage(t, rd, allowed, nil, nil)
	type exchange struct {
		what  string
		proto string
		msgs  [][]byte
		want  []dnsmessage.RCode // per message
	}
	cases := []exchange{
		{"a second question naming a denied host", "udp", [][]byte{dnsMessage(t, rd, both, nil, nil)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"a second question naming a denied host", "tcp", [][]byte{dnsMessage(t, rd, both, nil, nil)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"bytes after the message", "udp", [][]byte{dnsMessage(t, rd, allowed, nil, smuggled)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"bytes after the message", "tcp", [][]byte{dnsMessage(t, rd, allowed, nil, smuggled)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"UPDATE", "udp", [][]byte{dnsMessage(t, dnsmessage.Header{OpCode: 5}, allowed, txt("authority"), nil)}, []dnsmessage.RCode{dnsmessage.RCodeNotImplemented}},
		{"NOTIFY", "tcp", [][]byte{dnsMessage(t, dnsmessage.Header{OpCode: 4, Authoritative: true}, allowed, nil, nil)}, []dnsmessage.RCode{dnsmessage.RCodeNotImplemented}},
		{"STATUS", "udp", [][]byte{dnsMessage(t, dnsmessage.Header{OpCode: 2}, allowed, nil, nil)}, []dnsmessage.RCode{dnsmessage.RCodeNotImplemented}},
		{"a response (QR=1)", "udp", [][]byte{dnsMessage(t, dnsmessage.Header{Response: true}, allowed, txt("answer"), nil)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"a record in the answer section", "udp", [][]byte{dnsMessage(t, rd, allowed, txt("answer"), nil)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"a record in the authority section", "tcp", [][]byte{dnsMessage(t, rd, allowed, txt("authority"), nil)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"over 512 bytes without EDNS", "udp", [][]byte{dnsMessage(t, rd, allowed, nil, bytes.Repeat(smuggled, 40))}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		{"over 4096 bytes", "udp", [][]byte{dnsMessage(t, rd, allowed, withEDNS(dnsmessage.Option{Code: 12, Data: bytes.Repeat(smuggled, 300)}), nil)}, []dnsmessage.RCode{dnsmessage.RCodeFormatError}},
		// Forwarded, rebuilt: the options stay behind.
		{"EDNS options", "udp", [][]byte{dnsMessage(t, rd, allowed, withEDNS(smuggleOpts...), nil)}, []dnsmessage.RCode{dnsmessage.RCodeSuccess}},
		{"30000 bytes of EDNS padding", "tcp", [][]byte{dnsMessage(t, rd, allowed, withEDNS(dnsmessage.Option{Code: 12, Data: bytes.Repeat(smuggled, 1900)}), nil)}, []dnsmessage.RCode{dnsmessage.RCodeSuccess}},
		// Each message on a connection is judged by itself.
		{"a good query, then two questions, then trailing bytes, on one connection", "tcp",
			[][]byte{good, dnsMessage(t, rd, both, nil, nil), dnsMessage(t, rd, allowed, nil, smuggled)},
			[]dnsmessage.RCode{dnsmessage.RCodeSuccess, dnsmessage.RCodeFormatError, dnsmessage.RCodeFormatError}},
	}
	var args []string
	for _, c := range cases {
		var hexes []string
		for _, m := range c.msgs {
			hexes = append(hexes, hex.EncodeToString(m))
		}
		args = append(args, c.proto+":"+strings.Join(hexes, ","))
	}
	r := runCmd(t, 2*time.Minute, inSandboxModeDNS(pol, dns.addr, append([]string{"/usr/bin/python3", "-c", dnsRaw}, args...)...)...)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	forwarded := 0
	for _, c := range cases {
		for i, want := range c.want {
			if want == dnsmessage.RCodeSuccess {
				forwarded++
			}
			if len(lines) == 0 {
				t.Fatalf("%s over %s: no answer; output:\n%s%s", c.what, c.proto, r.stdout, r.stderr)
			}
			line := lines[0]
			lines = lines[1:]
			resp, err := hex.DecodeString(line)
			var p dnsmessage.Parser
			var h dnsmessage.Header
			if err == nil {
				h, err = p.Start(resp)
			}
			if err != nil {
				t.Errorf("%s over %s (message %d): %q", c.what, c.proto, i+1, line)
				continue
			}
			if h.RCode != want || h.ID != 0x5a5a || !h.Response {
				t.Errorf("%s over %s (message %d): rcode %v (ID %#x), want %v", c.what, c.proto, i+1, h.RCode, h.ID, want)
			}
		}
	}
	if n := dns.count("denied.test"); n != 0 {
		t.Errorf("a question for denied.test reached the upstream %d times", n)
	}
	got := dns.received()
	for _, m := range got {
		if bytes.Contains(m, smuggled) {
			t.Errorf("the program's bytes reached the upstream: %.80x…", m)
		}
		var p dnsmessage.Parser
		h, err := p.Start(m)
		if err != nil || h.Response || h.OpCode != 0 || binary.BigEndian.Uint16(m[4:]) != 1 || binary.BigEndian.Uint16(m[6:]) != 0 || binary.BigEndian.Uint16(m[8:]) != 0 {
			t.Errorf("the upstream received what is no plain query: %.80x…", m)
		}
	}
	if len(got) != forwarded || dns.count("allowed.test") != forwarded {
		t.Errorf("the upstream received %d messages (%d for allowed.test), want %d: one per good query", len(got), dns.count("allowed.test"), forwarded)
	}
}

// TestSandboxDNSRebinding: an answer that points a name a rule allows at
// the loopback or at the sandbox's gateway does not make that name's rule
// allow the address (DNS rebinding): the program still reads the answer,
// but its connects there are judged by address rules alone, and nothing
// reaches the host's loopback.
func TestSandboxDNSRebinding(t *testing.T) {
	ns := newTestHost(t)
	hostLo := newCounter(t, "tcp4", "127.0.0.1:0")
	port := hostLo.port()
	dns := newDNSHost(t, ns, map[string]string{"lo.test": "127.0.0.1", "lo2.test": "127.0.0.2", "gw.test": "100.96.0.1", "self.test": "100.96.0.2"})
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp lo.test:%[1]d\n  - allow: tcp lo2.test:%[1]d\n  - allow: tcp gw.test:%[1]d\n  - allow: tcp self.test\n", port))
	// Resolve NAME, then connect to ADDR by number: NAME ADDR … ("self":
	// to a listener of the program's own on its address, 100.96.0.2,
	// which nothing outside the sandbox can be reached by).
	script := `import socket, sys
args = sys.argv[2:]
for name, addr in zip(args[::2], args[1::2]):
    try:
        got = socket.getaddrinfo(name, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0]
    except socket.gaierror as e:
        got = "resolve: " + e.args[1]
    port = int(sys.argv[1])
    if addr == "self":
        ln = socket.create_server(("100.96.0.2", 0))
        addr, port = ln.getsockname()
    try:
        socket.create_connection((addr, port), timeout=5).close()
        res = "connected"
    except OSError as e:
        res = e.strerror
    print(name, got, addr, res)`
	r := runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "/usr/bin/python3", "-c", script, fmt.Sprint(port),
		"lo.test", "100.96.0.1", // the gateway stands for the host's 127.0.0.1
		"lo.test", "127.0.0.1",
		"lo2.test", "127.0.0.2",
		"gw.test", "100.96.0.1",
		"self.test", "self",
	)...)
	want := []string{
		"lo.test 127.0.0.1 100.96.0.1 Permission denied",
		"lo.test 127.0.0.1 127.0.0.1 Permission denied",
		"lo2.test 127.0.0.2 127.0.0.2 Permission denied",
		"gw.test 100.96.0.1 100.96.0.1 Permission denied",
		"self.test 100.96.0.2 100.96.0.2 Permission denied",
	}
	if got := strings.Split(strings.TrimSpace(r.stdout), "\n"); !slices.Equal(got, want) {
		t.Errorf("got:\n%s\nwant:\n%s\n(stderr: %s)", strings.Join(got, "\n"), strings.Join(want, "\n"), r.stderr)
	}
	expectNothingReached(t, hostLo)
}

// TestSandboxDNSAuditLog: every message the program sends the gateway's
// DNS is a line of the audit log — a name looked up (allow, its answers),
// a name no rule allows (deny, NXDOMAIN, never asked upstream), a message
// that is no plain query (invalid, FORMERR) — with the name, the type and
// the rcode the program got.
func TestSandboxDNSAuditLog(t *testing.T) {
	ns := newTestHost(t)
	web := ns.counter(t)
	dns := newDNSHost(t, ns, map[string]string{"allowed.test": ns.addr, "denied.test": "198.18.0.98"})
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp allowed.test:%d\n", web.port()))
	logFile := filepath.Join(t.TempDir(), "audit.jsonl")
	withLog := func(argv []string) []string {
		return append([]string{argv[0], argv[1], "--log", logFile}, argv[2:]...)
	}
	lookups := `import socket, sys
for n in ("allowed.test", "denied.test"):
    try:
        socket.getaddrinfo(n, 443, socket.AF_INET, socket.SOCK_STREAM)
    except OSError:
        pass
socket.create_connection(("allowed.test", int(sys.argv[1])), timeout=10).close()
`
	if r := runCmd(t, time.Minute, withLog(inSandboxModeDNS(pol, dns.addr, "/usr/bin/python3", "-c", lookups, fmt.Sprint(web.port())))...); r.status != 0 {
		t.Fatalf("lookups: status %d: %s", r.status, r.stderr)
	}
	two := dnsMessage(t, dnsmessage.Header{RecursionDesired: true}, []string{"allowed.test.", "denied.test."}, nil, nil)
	if r := runCmd(t, time.Minute, withLog(inSandboxModeDNS(pol, dns.addr, "/usr/bin/python3", "-c", dnsRaw, "udp:"+hex.EncodeToString(two)))...); r.status != 0 {
		t.Fatalf("two questions: status %d: %s", r.status, r.stderr)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	type rec struct {
		Syscall, Proto, Dest, Host, Verdict, Rule, Name, QType, RCode, Reason string
		Answers                                                               []string
	}
	var got, connects []rec
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var r rec
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if r.Syscall == "dns" {
			got = append(got, r)
		}
		if r.Syscall == "connect" && r.Proto == "tcp" {
			connects = append(connects, r)
		}
	}
	find := func(name, verdict string) *rec {
		for i := range got {
			if got[i].Name == name && got[i].Verdict == verdict {
				return &got[i]
			}
		}
		t.Errorf("no dns record for %s with verdict %s in:\n%s", name, verdict, data)
		return &rec{}
	}
	if r := find("allowed.test", "allow"); r.QType != "A" || r.RCode != "NOERROR" || !slices.Equal(r.Answers, []string{ns.addr}) || r.Proto != "udp" || r.Rule != pol+":4" {
		t.Errorf("allowed.test: %+v, want A, NOERROR, answers [%s] over udp, by the rule at %s:4", *r, ns.addr, pol)
	}
	// A denial by the default names the default's line as its rule.
	if r := find("denied.test", "deny"); r.QType != "A" || r.RCode != "NXDOMAIN" || r.Reason == "" || r.Rule != pol+":2" {
		t.Errorf("denied.test: %+v, want A, NXDOMAIN, a reason, and the rule %s:2 (default: deny)", *r, pol)
	}
	// The connect names the host its address was resolved from.
	want := rec{Syscall: "connect", Proto: "tcp", Dest: fmt.Sprintf("%s:%d", ns.addr, web.port()), Host: "allowed.test", Verdict: "allow", Rule: pol + ":4"}
	if len(connects) != 1 || !reflect.DeepEqual(connects[0], want) {
		t.Errorf("connect records %+v, want one: %+v", connects, want)
	}
	if r := find("", "invalid"); r.RCode != "FORMERR" {
		t.Errorf("two questions: %+v, want FORMERR", *r)
	}
	if n := dns.count("denied.test"); n != 0 {
		t.Errorf("denied.test reached the upstream %d times", n)
	}
}

// TestHostSandboxInternal: in --net sandbox the name host.sandbox.internal
// is the gateway, answered by the sandbox's DNS itself (no upstream is
// asked), and reaches the host's loopback where the policy allows it —
// only there.
func TestHostSandboxInternal(t *testing.T) {
	requireRoot(t)
	ns := newTestHost(t)
	dns := newDNSHost(t, ns, nil)
	allowed, denied, pol := allowOne(t)
	connect := `import socket, sys
for port in sys.argv[1:]:
    try:
        socket.create_connection(("host.sandbox.internal", int(port)), timeout=10).close()
        print("connected")
    except OSError as e:
        print("connect:", e.strerror)`
	r := runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "/usr/bin/python3", "-c", connect, fmt.Sprint(allowed.port()), fmt.Sprint(denied.port()))...)
	if got := strings.TrimSpace(r.stdout); got != "connected\nconnect: Permission denied" {
		t.Errorf("host.sandbox.internal: %q (%s), want connected, then Permission denied", got, r.stderr)
	}
	if n := dns.count("host.sandbox.internal"); n != 0 {
		t.Errorf("host.sandbox.internal was asked upstream %d times", n)
	}
	if n := allowed.accepted.Load(); n != 1 {
		t.Errorf("the allowed host loopback listener accepted %d connections, want 1", n)
	}
	expectNothingReached(t, denied)
}
