package test

import (
	"fmt"
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
	var pc net.PacketConn
	h.inside(t, func() (err error) { pc, err = net.ListenPacket("udp4", h.addr+":53"); return err })
	t.Cleanup(func() { pc.Close() })
	d := &dnsHost{addr: h.addr + ":53", queries: map[string]int{}}
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			var p dnsmessage.Parser
			hdr, err := p.Start(buf[:n])
			if err != nil {
				continue
			}
			q, err := p.Question()
			if err != nil {
				continue
			}
			name := strings.TrimSuffix(q.Name.String(), ".")
			d.mu.Lock()
			d.queries[name]++
			d.mu.Unlock()
			b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true})
			b.StartQuestions()
			b.Question(q)
			b.StartAnswers()
			if a, ok := records[name]; ok && q.Type == dnsmessage.TypeA {
				b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300},
					dnsmessage.AResource{A: netip.MustParseAddr(a).As4()})
			} else if !ok {
				b = dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: hdr.ID, Response: true, Authoritative: true, RCode: dnsmessage.RCodeNameError})
				b.StartQuestions()
				b.Question(q)
			}
			msg, err := b.Finish()
			if err == nil {
				pc.WriteTo(msg, from)
			}
		}
	}()
	return d
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
	if n := dns.count("denied.test"); n != 0 {
		t.Errorf("dig's query for denied.test left the sandbox %d times", n)
	}
	expectNothingReached(t, other)
	if n := web.accepted.Load(); n != 2 {
		t.Errorf("allowed.test accepted %d connections, want 2 (Python and Go)", n)
	}
}
