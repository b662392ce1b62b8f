package netstack

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"

	"sandbox/policy"
)

// logLines collects what a limits logs.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(s string) { l.mu.Lock(); l.lines = append(l.lines, s); l.mu.Unlock() }

func (l *logLines) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// A gauge refuses beyond its bound, says so once however often it
// refuses, and takes again once a unit is released.
func TestGaugeLogsOnce(t *testing.T) {
	var logs logLines
	l := newLimits(logs.log)
	for i := range maxUDPFlows {
		if !l.acquire(&l.udpFlows) {
			t.Fatalf("refused unit %d of %d", i+1, maxUDPFlows)
		}
	}
	for range 100 {
		if l.acquire(&l.udpFlows) {
			t.Fatal("took a unit beyond the bound")
		}
	}
	l.release(&l.udpFlows)
	if !l.acquire(&l.udpFlows) {
		t.Error("refused a unit after one was released")
	}
	got := logs.get()
	if len(got) != 1 || got[0] != "sandbox: netstack: 512 UDP flows in use (the limit): new UDP flows evict the oldest without a reply, or are dropped, until some end" {
		t.Errorf("logged %q; want the one line", got)
	}
	// No logger: silent, and still bounded.
	quiet := newLimits(nil)
	quiet.tcpConns.max = 1
	if !quiet.acquire(&quiet.tcpConns) || quiet.acquire(&quiet.tcpConns) {
		t.Error("a limits without a logger does not bound")
	}
}

// Connections being set up are bounded per destination: a flood to one
// leaves the others their slots.
func TestSetupPerDestination(t *testing.T) {
	var logs logLines
	l := newLimits(logs.log)
	flooded := netip.MustParseAddrPort("198.18.0.3:80")
	other := netip.MustParseAddrPort("198.18.0.2:80")
	for range maxSetupPerDest {
		if !l.acquireSetup(flooded) {
			t.Fatal("refused below the bound")
		}
	}
	for range 10 {
		if l.acquireSetup(flooded) {
			t.Fatal("took a slot beyond the bound per destination")
		}
	}
	if !l.acquireSetup(other) {
		t.Error("another destination was refused")
	}
	l.releaseSetup(flooded)
	if !l.acquireSetup(flooded) {
		t.Error("refused after a slot was released")
	}
	if got := logs.get(); len(got) != 1 || !strings.Contains(got[0], "32 TCP connections being set up to 198.18.0.3:80 (the limit per destination)") {
		t.Errorf("logged %q", got)
	}
}

// With too few fds for every bound, the bounds that hold fds shrink to
// fit, and that is logged.
func TestFitFDs(t *testing.T) {
	var old unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &old); err != nil {
		t.Fatal(err)
	}
	low := old
	low.Cur = 1024
	if err := unix.Setrlimit(unix.RLIMIT_NOFILE, &low); err != nil {
		t.Skip("cannot lower RLIMIT_NOFILE:", err)
	}
	defer unix.Setrlimit(unix.RLIMIT_NOFILE, &old)
	var logs logLines
	l := newLimits(logs.log)
	l.fitFDs()
	total := int(l.tcpConns.max+l.udpFlows.max) + maxDNSInFlight + maxDNSTCPConns + fdReserve
	if total > 1024 || l.tcpConns.max >= maxTCPConns || l.udpFlows.max >= maxUDPFlows {
		t.Errorf("under 1024 fds: %d TCP connections, %d UDP flows (%d fds with the rest)", l.tcpConns.max, l.udpFlows.max, total)
	}
	if got := logs.get(); len(got) != 1 || !strings.Contains(got[0], "RLIMIT_NOFILE is 1024") {
		t.Errorf("logged %q", got)
	}
}

// newTestFlow is a started flow whose host socket is a real one on the
// loopback (stop closes it).
func newTestFlow(t *testing.T, replied bool, last time.Time) *udpFlow {
	t.Helper()
	up, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	f := &udpFlow{up: up, done: make(chan struct{}), started: true}
	f.replied.Store(replied)
	f.last.Store(last.UnixNano())
	return f
}

// A full UDP table makes room by evicting the flow longest without a
// reply; a flow that has had replies is never evicted, and when all have,
// the new flow is refused.
func TestUDPTableEviction(t *testing.T) {
	var logs logLines
	tab := udpTable{lim: newLimits(logs.log)}
	tab.lim.udpFlows.max = 3
	now := time.Now()
	talking := newTestFlow(t, true, now.Add(-time.Hour)) // the oldest, but it has had answers
	probeOld := newTestFlow(t, false, now.Add(-2*time.Second))
	probeNew := newTestFlow(t, false, now.Add(-time.Second))
	for _, f := range []*udpFlow{talking, probeOld, probeNew} {
		if !tab.add(f) {
			t.Fatal("refused below the bound")
		}
	}
	next := newTestFlow(t, true, now)
	if !tab.add(next) {
		t.Fatal("a full table with flows without replies refused a new flow")
	}
	select {
	case <-probeOld.done:
	default:
		t.Error("the oldest flow without a reply was not evicted")
	}
	for _, f := range []*udpFlow{talking, probeNew} {
		select {
		case <-f.done:
			t.Error("evicted a flow that should stay")
		default:
		}
	}
	probeNew.replied.Store(true)
	if tab.add(newTestFlow(t, false, now)) {
		t.Error("a table full of answered flows took a new flow")
	}
	if got := logs.get(); len(got) != 1 {
		t.Errorf("logged %q; want one line", got)
	}
}

// udpPacket builds datagrams the program's kernel accepts: right lengths,
// valid IPv4 header and UDP checksums.
func TestUDPPacket(t *testing.T) {
	payload := []byte("an answer of some length, odd: x")
	for _, c := range []struct{ from, to string }{
		{"100.96.0.1:53", "100.96.0.2:40000"},
		{"[fd00:5a::1]:53", "[fd00:5a::2]:40000"},
	} {
		from, to := netip.MustParseAddrPort(c.from), netip.MustParseAddrPort(c.to)
		pkt := udpPacket(from, to, payload)
		var u header.UDP
		var src, dst tcpip.Address
		if to.Addr().Is4() {
			ip := header.IPv4(pkt)
			if !ip.IsValid(len(pkt)) || ip.CalculateChecksum() != 0xffff || int(ip.TotalLength()) != len(pkt) {
				t.Errorf("%s: bad IPv4 header", c.to)
			}
			u, src, dst = header.UDP(ip.Payload()), ip.SourceAddress(), ip.DestinationAddress()
		} else {
			ip := header.IPv6(pkt)
			if !ip.IsValid(len(pkt)) {
				t.Errorf("%s: bad IPv6 header", c.to)
			}
			u, src, dst = header.UDP(ip.Payload()), ip.SourceAddress(), ip.DestinationAddress()
		}
		if src.String() != from.Addr().String() || dst.String() != to.Addr().String() || u.SourcePort() != 53 || u.DestinationPort() != 40000 {
			t.Errorf("%s: addressed %s:%d → %s:%d", c.to, src, u.SourcePort(), dst, u.DestinationPort())
		}
		if int(u.Length()) != len(u) || string(u.Payload()) != string(payload) {
			t.Errorf("%s: UDP length %d, payload %q", c.to, u.Length(), u.Payload())
		}
		if !u.IsChecksumValid(src, dst, checksum.Checksum(u.Payload(), 0)) {
			t.Errorf("%s: bad UDP checksum", c.to)
		}
	}
	if udpPacket(netip.MustParseAddrPort("100.96.0.1:53"), netip.MustParseAddrPort("100.96.0.2:1"), make([]byte, MTU)) != nil {
		t.Error("built a packet bigger than the MTU")
	}
}

// A query to the gateway's DNS is answered from the link, with no state:
// at once when the name is denied, SERVFAIL at once when maxDNSQueries are
// being answered; a query to another address, or a datagram with a bad
// checksum, is not the DNS's (or is dropped).
func TestDNSDatagram(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte("version: 1\ndefault: deny\nrules:\n  - allow: tcp ok.test:443\n"))
	if err != nil {
		t.Fatal(err)
	}
	link, peer := newTestLink(t)
	defer link.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs logLines
	st := &Stack{link: link, lim: newLimits(logs.log), ctx: ctx, cancel: cancel,
		dns: &dnsServer{policy: pol, names: NewNames(), upstream: netip.MustParseAddrPort("127.0.0.1:9")}}
	defer st.wg.Wait()

	query := func(name string) []byte {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 7, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name + "."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
		msg, err := b.Finish()
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	program := netip.AddrPortFrom(ProgramAddr4.Addr(), 40000)
	gateway := netip.AddrPortFrom(Gateway4, 53)
	answer := func() dnsmessage.Header {
		t.Helper()
		unix.SetNonblock(peer, false)
		tv := unix.Timeval{Sec: 10}
		unix.SetsockoptTimeval(peer, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
		ip := header.IPv4(tunRead(t, peer, make([]byte, 65536)))
		u := header.UDP(ip.Payload())
		if ip.SourceAddress().String() != "100.96.0.1" || u.SourcePort() != 53 || ip.DestinationAddress().String() != "100.96.0.2" || u.DestinationPort() != 40000 {
			t.Fatalf("answer from %s:%d to %s:%d", ip.SourceAddress(), u.SourcePort(), ip.DestinationAddress(), u.DestinationPort())
		}
		var p dnsmessage.Parser
		h, err := p.Start(u.Payload())
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	if !st.dnsDatagram(header.IPv4ProtocolNumber, udpPacket(program, gateway, query("denied.test"))) {
		t.Fatal("a query to the gateway's DNS was not taken")
	}
	if h := answer(); h.RCode != dnsmessage.RCodeNameError || h.ID != 7 {
		t.Errorf("denied name: rcode %v, ID %d; want NXDOMAIN, 7", h.RCode, h.ID)
	}

	// Every slot taken: an allowed name gets SERVFAIL at once, made on
	// the caller's goroutine.
	st.wg.Wait() // the first query's slot is given back
	st.lim.dnsQueries.n.Store(maxDNSQueries)
	if !st.dnsDatagram(header.IPv4ProtocolNumber, udpPacket(program, gateway, query("ok.test"))) {
		t.Fatal("a query was not taken")
	}
	if h := answer(); h.RCode != dnsmessage.RCodeServerFailure {
		t.Errorf("busy gateway: rcode %v; want SERVFAIL", h.RCode)
	}
	st.lim.dnsQueries.n.Store(0)
	if got := logs.get(); len(got) != 1 || !strings.Contains(got[0], "128 DNS queries being answered (the limit)") {
		t.Errorf("logged %q", got)
	}

	// Not the DNS: to another port, or another address.
	other := netip.AddrPortFrom(Gateway4, 5353)
	if st.dnsDatagram(header.IPv4ProtocolNumber, udpPacket(program, other, query("ok.test"))) {
		t.Error("took a datagram to port 5353")
	}
	if st.dnsDatagram(header.IPv4ProtocolNumber, udpPacket(program, netip.MustParseAddrPort("198.18.0.2:53"), query("ok.test"))) {
		t.Error("took a datagram to another resolver")
	}
}
