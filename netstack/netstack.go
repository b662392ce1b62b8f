// Package netstack is the program's network in --net sandbox mode: a
// gVisor userspace TCP/IP stack on the far side of the program's only
// interface, a TUN device. Every flow that reaches it is checked against the
// policy again — whatever path it took out of the program — and forwarded
// by dialing the real destination from the host: the program's handshake is
// completed only once that dial has succeeded, and reset when it fails.
package netstack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"sandbox/policy"
)

// The program's side of the link, and the gateway (netstack) on the other
// (DESIGN.md: 100.96.0.0/24 and fd00:5a::/64, gateway .1, program .2).
var (
	ProgramAddr4 = netip.MustParsePrefix("100.96.0.2/24")
	Gateway4     = netip.MustParseAddr("100.96.0.1")
	ProgramAddr6 = netip.MustParsePrefix("fd00:5a::2/64")
	Gateway6     = netip.MustParseAddr("fd00:5a::1")
)

// MTU of the TUN link. The link never leaves the machine, so nothing holds
// it to Ethernet's 1500: 65520 (as slirp4netns uses) lets one TUN read or
// write carry up to ~43 full-size segments' worth, and bulk throughput
// is bound by per-packet costs (measured: 1.35 Gbit/s at 1500, 3.4 at 65520).
const MTU = 65520

const nicID = 1

// tcpReceiveWindow is the forwarder's receive window for a connection
// still being set up (0: the stack's default); maxInFlight bounds the
// handshakes being decided at once (each holds a dial), so a SYN flood from
// the program costs bounded goroutines.
const (
	tcpReceiveWindow = 0
	maxInFlight      = 1024
)

// dialTimeout bounds a dial to a destination that does not answer; the
// program's SYN then stays unanswered, and its connect times out as on a
// real network.
const dialTimeout = 30 * time.Second

// udpIdle is how long a UDP flow lives without traffic before its host-side
// socket is closed.
const udpIdle = 60 * time.Second

// Config says what the stack serves.
type Config struct {
	TUN    int // the TUN device's fd; the Stack owns it
	Policy *policy.Policy
	// DNS is the resolver the gateway's DNS asks (HostResolver() when
	// invalid).
	DNS netip.AddrPort
	// DNSLog, when set, is told of every DNS message the program sends
	// the gateway, from the gateway's goroutines.
	DNSLog func(DNSRecord)
}

// Stack is a running netstack.
type Stack struct {
	s      *stack.Stack
	policy *policy.Policy
	names  *Names
	dns    *dnsServer
	syns   *synTable
	link   *tunLink
	dialer net.Dialer
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Start runs a stack on cfg.TUN, which it owns from then on (also when it
// fails).
func Start(cfg Config) (*Stack, error) {
	link, err := newTUNLink(cfg.TUN, MTU)
	if err != nil {
		return nil, fmt.Errorf("netstack: %w", err)
	}
	s := stack.New(stack.Options{
		NetworkProtocols:   []stack.NetworkProtocolFactory{ipv4.NewProtocol, ipv6.NewProtocol},
		TransportProtocols: []stack.TransportProtocolFactory{tcp.NewProtocol, udp.NewProtocol, icmp.NewProtocol4, icmp.NewProtocol6},
	})
	fail := func(what string, err tcpip.Error) (*Stack, error) {
		s.RemoveNIC(nicID)
		s.Destroy()
		link.Close()
		return nil, fmt.Errorf("netstack: %s: %v", what, err)
	}
	syns := newSynTable()
	if err := s.CreateNIC(nicID, newSynSniffer(link, syns)); err != nil {
		return fail("create NIC", err)
	}
	// The stack answers for every destination the program names, not
	// only for addresses of its own: promiscuous to accept them, spoofing
	// to reply as them.
	if err := s.SetPromiscuousMode(nicID, true); err != nil {
		return fail("promiscuous mode", err)
	}
	if err := s.SetSpoofing(nicID, true); err != nil {
		return fail("spoofing", err)
	}
	// No TIME-WAIT in the stack. When the destination closes first the
	// stack is the active closer and would hold the flow 60 s, while the
	// program's kernel, the passive closer, frees the port at once and
	// may reuse it. gVisor hands a new SYN for a flow in TIME-WAIT only
	// to a listening endpoint — never to the forwarder — so that connect
	// went unanswered until the 60 s were over (seen: 1 run in ~20 of
	// 2000 connects stalled 63 s). A real server in TIME-WAIT accepts
	// such a SYN; here nothing can arrive late or twice (the link is a
	// local TUN device), and the program's kernel keeps its own
	// TIME-WAIT where it closed first.
	tw := tcpip.TCPTimeWaitTimeoutOption(0)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &tw); err != nil {
		return fail("TIME-WAIT timeout", err)
	}
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	upstream := cfg.DNS
	if !upstream.IsValid() {
		// No resolver on the host is no reason not to run: the DNS
		// then answers SERVFAIL, as a resolver-less host would fail.
		upstream, _ = HostResolver()
	}
	ctx, cancel := context.WithCancel(context.Background())
	names := NewNames()
	st := &Stack{
		s: s, policy: cfg.Policy, names: names, syns: syns, link: link,
		dns: &dnsServer{policy: cfg.Policy, upstream: upstream, names: names, log: cfg.DNSLog},
		// No keep-alive probes: Linux sends none unless the program
		// asks, and the program's own socket options stay on its side
		// of the stack. (Go's default would also cost four setsockopt
		// calls per connect.)
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: -1}, ctx: ctx, cancel: cancel,
	}
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, tcpReceiveWindow, maxInFlight, st.forwardTCP).HandlePacket)
	s.SetTransportProtocolHandler(udp.ProtocolNumber, udp.NewForwarder(s, st.forwardUDP).HandlePacket)
	return st, nil
}

// Names are the names the sandbox's DNS has resolved, by address.
func (st *Stack) Names() *Names { return st.names }

// IsDNS reports whether dst is the sandbox's own DNS service, which every
// program may use: it answers only names the policy could allow.
func IsDNS(dst netip.AddrPort) bool {
	return dst.Port() == 53 && (dst.Addr() == Gateway4 || dst.Addr() == Gateway6)
}

// Close stops the stack and every flow it forwards.
func (st *Stack) Close() {
	st.cancel()
	// Removing the NIC closes the TUN device and waits for the link's
	// reader; the stack's own Destroy would leave it reading.
	st.s.RemoveNIC(nicID)
	st.s.Destroy()
	st.wg.Wait()
	st.link.Close()
}

// Target is where a flow to dst really goes: the gateway stands for the
// host's own loopback, which the policy then judges as such.
func Target(dst netip.AddrPort) netip.AddrPort {
	switch dst.Addr() {
	case Gateway4:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), dst.Port())
	case Gateway6:
		return netip.AddrPortFrom(netip.IPv6Loopback(), dst.Port())
	}
	return dst
}

func addrPort(a tcpip.Address, port uint16) netip.AddrPort {
	ip, _ := netip.AddrFromSlice(a.AsSlice())
	return netip.AddrPortFrom(ip, port)
}

// allowed re-checks a flow against the policy at the packet level.
func (st *Stack) allowed(proto policy.Proto, to netip.AddrPort) bool {
	req := policy.Request{Proto: proto, Addr: to.Addr(), Port: to.Port(), Names: st.names.For(to.Addr())}
	return st.policy.Decide(req).Verdict == policy.Allow
}

func (st *Stack) forwardTCP(r *tcp.ForwarderRequest) {
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	if IsDNS(dst) {
		st.serveDNSOverTCP(r)
		return
	}
	to := Target(dst)
	if !st.allowed(policy.TCP, to) {
		r.Complete(true) // RST: nothing leaves for a denied destination
		return
	}
	// The forwarder runs each request on a goroutine of its own: dial
	// and splice here, with no further hand-off.
	st.wg.Add(1)
	defer st.wg.Done()
	up, err := st.dialer.DialContext(st.ctx, "tcp", to.String())
	k := flowKey{src: addrPort(id.RemoteAddress, 0).Addr(), dst: dst.Addr(), sport: id.RemotePort, dport: id.LocalPort}
	quote := st.syns.take(k)
	if err != nil {
		st.refuse(r, k, quote, err)
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		r.Complete(true)
		up.Close()
		return
	}
	r.Complete(false)
	down := gonet.NewTCPConn(&wq, ep)
	splice(down, up.(*net.TCPConn))
}

// refuse ends the program's handshake as the failed dial says the network
// would have: an unreachable network or host with the ICMP error that
// makes its connect fail with ENETUNREACH or EHOSTUNREACH, a timeout with
// silence (its connect times out by itself), anything else — a refusal —
// with a reset (ECONNREFUSED).
func (st *Stack) refuse(r *tcp.ForwarderRequest, k flowKey, quote []byte, err error) {
	netUnreach, hostUnreach := errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH)
	switch {
	case (netUnreach || hostUnreach) && quote != nil:
		r.Complete(false)
		// Written straight to the TUN device, as a router's error
		// would arrive; a lost one leaves the program to time out.
		st.link.writeRaw(unreachable(k, quote, hostUnreach))
	case isTimeout(err):
		r.Complete(false)
	default:
		r.Complete(true)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// halfCloser is a stream that can end one direction alone, so that a
// program's shutdown(SHUT_WR) reaches the destination as a FIN while the
// reply still flows back.
type halfCloser interface {
	io.ReadWriteCloser
	CloseWrite() error
}

// spliceBufSize is the copy buffer of each direction of a TCP flow: a
// full-size segment on the TUN link (MTU) fits in one read.
const spliceBufSize = 64 << 10

// spliceBufs are reused: a buffer per direction per flow, allocated anew,
// made short connections (connect, a request, close) the main source of
// garbage, and each garbage collection a stall for every flow.
var spliceBufs = sync.Pool{New: func() any { return new([spliceBufSize]byte) }}

// splice copies both ways until both directions have ended, passing each
// end of stream on as a half-close.
func splice(a, b halfCloser) {
	var wg sync.WaitGroup
	cp := func(dst, src halfCloser) {
		defer wg.Done()
		buf := spliceBufs.Get().(*[spliceBufSize]byte)
		defer spliceBufs.Put(buf)
		// Bare Writer and Reader: with their ReadFrom and WriteTo in
		// sight io.CopyBuffer would ignore buf, and neither side can
		// splice(2) to the other (one is netstack's) anyway.
		io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, buf[:])
		dst.CloseWrite()
	}
	wg.Add(2)
	go cp(a, b)
	go cp(b, a)
	wg.Wait()
	a.Close()
	b.Close()
}

func (st *Stack) forwardUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	if IsDNS(dst) {
		st.serveDNSOverUDP(r)
		return true
	}
	to := Target(dst)
	if !st.allowed(policy.UDP, to) {
		return true // dropped: handled, nothing leaves
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		return true
	}
	down := gonet.NewUDPConn(&wq, ep)
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		down.Close()
		return true
	}
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		relayUDP(st.ctx, down, up)
	}()
	return true
}

// relayUDP carries datagrams both ways for one flow until it has been idle
// for udpIdle or the stack closes.
func relayUDP(ctx context.Context, down *gonet.UDPConn, up *net.UDPConn) {
	defer down.Close()
	defer up.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		<-ctx.Done()
		down.SetDeadline(time.Now())
		up.SetDeadline(time.Now())
	}()
	var wg sync.WaitGroup
	cp := func(dst, src net.Conn) {
		defer wg.Done()
		defer cancel()
		buf := make([]byte, 65535)
		for {
			src.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := src.Read(buf)
			if err != nil {
				return
			}
			if _, err := dst.Write(buf[:n]); err != nil {
				return
			}
		}
	}
	wg.Add(2)
	go cp(up, down)
	go cp(down, up)
	wg.Wait()
}

func (st *Stack) serveDNSOverUDP(r *udp.ForwarderRequest) {
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		return
	}
	c := gonet.NewUDPConn(&wq, ep)
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer c.Close()
		buf := make([]byte, 65535)
		for {
			c.SetReadDeadline(time.Now().Add(udpIdle))
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			if resp := st.dns.answer(st.ctx, buf[:n], false); resp != nil {
				c.Write(resp)
			}
		}
	}()
}

func (st *Stack) serveDNSOverTCP(r *tcp.ForwarderRequest) {
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		r.Complete(true)
		return
	}
	r.Complete(false)
	c := gonet.NewTCPConn(&wq, ep)
	st.wg.Add(1)
	go func() {
		defer st.wg.Done()
		defer c.Close()
		for {
			c.SetReadDeadline(time.Now().Add(udpIdle))
			query, err := readTCPMessage(c)
			if err != nil {
				return
			}
			resp := st.dns.answer(st.ctx, query, true)
			if resp == nil || writeTCPMessage(c, resp) != nil {
				return
			}
		}
	}()
}
