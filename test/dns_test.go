package test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsHost is a DNS server on a test host that knows a few names and counts
// the queries it gets, by name.
type dnsHost struct {
	addr    string // host:53
	mu      sync.Mutex
	queries map[string]int
}

func newDNSHost(t *testing.T, h *testHost, records map[string]string) *dnsHost {
	t.Helper()
	d := &dnsHost{addr: h.addr + ":53", queries: map[string]int{}}
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
// names it does not know).
func (d *dnsHost) answer(query []byte, records map[string]string) []byte {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	name := strings.TrimSuffix(q.Name.String(), ".")
	d.mu.Lock()
	d.queries[name]++
	d.mu.Unlock()
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
	run := func(host string, port int) string {
		r := runCmd(t, time.Minute, inSandboxModeDNS(pol, dns.addr, "/usr/bin/python3", "-c", byName, host, fmt.Sprint(port))...)
		return strings.TrimSpace(r.stdout + r.stderr)
	}
	if got := run("allowed.test", web.port()); got != "connected" {
		t.Errorf("allowed.test: %q, want connected", got)
	}
	if got := run("denied.test", other.port()); !strings.Contains(got, "resolve:") {
		t.Errorf("denied.test: %q, want a resolution failure (NXDOMAIN)", got)
	}
	if n := dns.count("denied.test"); n != 0 {
		t.Errorf("the query for denied.test left the sandbox %d times: names no rule allows must not", n)
	}
	// The allowed name's address, without the name: no rule allows it.
	if got := run(a.addr, web.port()); got != "connect: Permission denied" {
		t.Errorf("%s by address: %q, want Permission denied", a.addr, got)
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
