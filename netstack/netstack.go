// Package netstack is the program's network in --net sandbox mode: a
// gVisor userspace TCP/IP stack on the far side of the program's only
// interface, a TUN device. Every flow that reaches it is checked against the
// policy again — whatever path it took out of the program — and forwarded
// by dialing the real destination from the host: the program's handshake is
// completed only once that dial has succeeded, and reset when it fails.
package netstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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
// (ARCHITECTURE.md, contracts: 100.96.0.0/24 and fd00:5a::/64, gateway .1, program .2).
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

// Buffers of the stack's TCP endpoints, each way. gVisor's defaults are
// 1 MiB growing to 4 MiB (receive-buffer moderation) per connection and
// direction, and a program can fill them all — by not reading, and by
// sending to a peer that does not read — so that with maxTCPConns
// connections the supervisor would hold gigabytes. So buffers come in
// tiers, by how many connections are open: the first maxGrowConns keep
// gVisor's growth to tcpGrowBufferSize (a single bulk stream needs it:
// BenchmarkSandboxThroughput measured 11.4 Gbit/s with it, 8.1 with 1 MiB
// fixed, native 16.8–19.3); the next maxBulkConns - maxGrowConns get
// tcpBulkBufferSize fixed (iperf3: 9.2/8.4 Gbit/s up/down at 1 MiB, 7.5
// at 512 KiB, 5.8 at 256 KiB); the rest get tcpBufferSize, plenty for
// the many small connections a program keeps beside its few bulk ones.
// At the worst (every buffer full, splice buffers included) that is 8 ×
// 8.1 MiB + 56 × 2.1 MiB + 448 × 640 KiB ≈ 470 MiB, instead of ~9 GiB.
const (
	tcpGrowBufferSize = 4 << 20
	tcpBulkBufferSize = 1 << 20
	tcpBufferSize     = 256 << 10
	maxGrowConns      = 8
	maxBulkConns      = 64
)

// maxInFlight bounds the handshakes gVisor's forwarder has handed us and
// we have not completed (a goroutine each, and the SYN). It is a
// backstop: the dials and handshakes that can last are bounded lower, per
// destination (maxSetupPerDest) and in all (maxPendingDials,
// maxHandshakes), and the rest are refused in microseconds, so that a SYN
// flood fills it only while it outruns the CPU.
const maxInFlight = 1024

// tcpSynRetries is how often the stack retransmits a SYN-ACK the program
// has not acknowledged: 3 is 1+2+4+8 = 15 s before the handshake is given
// up (gVisor's default, 6, is 127 s, and a program sending bare SYNs from
// many ports held every handshake slot for two minutes so). On a local TUN
// link a SYN-ACK is not lost: the program's kernel answers it at once.
const tcpSynRetries = 3

// dialTimeout bounds a dial to a destination that does not answer; the
// program's SYN then stays unanswered, and its connect times out as on a
// real network.
const dialTimeout = 30 * time.Second

// udpIdle is how long a UDP flow lives without traffic before its host-side
// socket is closed.
const udpIdle = 60 * time.Second

// dnsTCPIdle is how long a DNS-over-TCP connection to the gateway may stay
// without a query (RFC 7766 6.2.3: servers should close idle connections
// after "a few seconds"); each holds an endpoint and a goroutine.
const dnsTCPIdle = 10 * time.Second

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
	// Log, when set, is told of the sandbox's network limits (one line
	// each, the first time a limit is hit) and of packets dropped for
	// a source that is not the program's, from any goroutine. nil: silent.
	Log func(string)
}

// Stack is a running netstack.
type Stack struct {
	s      *stack.Stack
	policy *policy.Policy
	names  *Names
	dns    *dnsServer
	syns   *synTable
	link   *tunLink
	lim    *limits
	udp    udpTable
	dialer net.Dialer
	ctx    context.Context
	cancel context.CancelFunc

	// wg counts the goroutines Close waits for; enter adds to it only
	// while the stack is open (closing, under mu), so that no flow starts
	// after Close began to wait.
	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup
}

// enter counts one more goroutine Close must wait for, or reports that the
// stack is closing and nothing may start.
func (st *Stack) enter() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closing {
		return false
	}
	st.wg.Add(1)
	return true
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
	lim := newLimits(cfg.Log)
	lim.fitFDs()
	link.log = cfg.Log
	upstream := cfg.DNS
	if !upstream.IsValid() {
		// No resolver on the host is no reason not to run: the DNS
		// then answers SERVFAIL, as a resolver-less host would fail.
		upstream, _ = HostResolver()
	}
	ctx, cancel := context.WithCancel(context.Background())
	names := NewNames()
	syns := newSynTable()
	st := &Stack{
		s: s, policy: cfg.Policy, names: names, syns: syns, link: link, lim: lim,
		dns: &dnsServer{policy: cfg.Policy, upstream: upstream, names: names, log: cfg.DNSLog, full: func() { lim.full(&lim.dnsUpstream) }},
		// No keep-alive probes: Linux sends none unless the program
		// asks, and the program's own socket options stay on its side
		// of the stack. (Go's default would also cost four setsockopt
		// calls per connect.)
		dialer: net.Dialer{Timeout: dialTimeout, KeepAlive: -1}, ctx: ctx, cancel: cancel,
	}
	st.udp.lim = lim
	fail := func(what string, err tcpip.Error) (*Stack, error) {
		cancel()
		s.RemoveNIC(nicID)
		s.Destroy()
		link.Close()
		return nil, fmt.Errorf("netstack: %s: %v", what, err)
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
	synRetries := tcpip.TCPSynRetriesOption(tcpSynRetries)
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &synRetries); err != nil {
		return fail("SYN retries", err)
	}
	// Max caps the receive-buffer moderation of the connections that
	// may grow (maxGrowConns); a forwarded endpoint starts at the
	// forwarder's window (tcpBulkBufferSize).
	rcvBuf := tcpip.TCPReceiveBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcpBulkBufferSize, Max: tcpGrowBufferSize}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &rcvBuf); err != nil {
		return fail("TCP receive buffer", err)
	}
	sndBuf := tcpip.TCPSendBufferSizeRangeOption{Min: tcp.MinBufferSize, Default: tcpBulkBufferSize, Max: tcpGrowBufferSize}
	if err := s.SetTransportProtocolOption(tcp.ProtocolNumber, &sndBuf); err != nil {
		return fail("TCP send buffer", err)
	}
	sniffer := newSynSniffer(link, syns)
	sniffer.dns = st.dnsDatagram // set before the first packet can arrive
	if err := s.CreateNIC(nicID, sniffer); err != nil {
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
	s.SetRouteTable([]tcpip.Route{
		{Destination: header.IPv4EmptySubnet, NIC: nicID},
		{Destination: header.IPv6EmptySubnet, NIC: nicID},
	})
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, tcp.NewForwarder(s, tcpBulkBufferSize, maxInFlight, st.forwardTCP).HandlePacket)
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
	st.mu.Lock()
	st.closing = true
	st.mu.Unlock()
	// Every flow ends on this: its connections are closed (closeOnCancel),
	// whatever the other end does, so the sandbox ends promptly after
	// its program.
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
	k := flowKey{src: addrPort(id.RemoteAddress, 0).Addr(), dst: dst.Addr(), sport: id.RemotePort, dport: id.LocalPort}
	if !st.allowed(policy.TCP, to) {
		st.syns.take(k)
		r.Complete(true) // RST: nothing leaves for a denied destination
		return
	}
	// A limit hit refuses the new connection with a reset, as a host out
	// of resources does; the connections under way go on. The bound per
	// destination comes first: a flood to one destination is refused
	// there, before it takes any of the global slots.
	if !st.lim.acquireSetup(to) {
		st.syns.take(k)
		r.Complete(true)
		return
	}
	if !st.lim.acquire(&st.lim.tcpConns) {
		st.lim.releaseSetup(to)
		st.syns.take(k)
		r.Complete(true)
		return
	}
	defer st.lim.release(&st.lim.tcpConns)
	setup := true
	endSetup := func() {
		if setup {
			setup = false
			st.lim.releaseSetup(to)
		}
	}
	defer endSetup()
	if !st.lim.acquire(&st.lim.dials) {
		st.syns.take(k)
		r.Complete(true)
		return
	}
	// The forwarder runs each request on a goroutine of its own: dial
	// and splice here, with no further hand-off.
	if !st.enter() {
		st.lim.release(&st.lim.dials)
		st.syns.take(k)
		r.Complete(true)
		return
	}
	defer st.wg.Done()
	up, err := st.dialer.DialContext(st.ctx, "tcp", to.String())
	st.lim.release(&st.lim.dials)
	quote := st.syns.take(k)
	if err != nil {
		st.refuse(r, k, quote, err)
		return
	}
	if !st.lim.acquire(&st.lim.handshakes) {
		r.Complete(true)
		up.Close()
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq) // until the program's ACK, or tcpSynRetries
	st.lim.release(&st.lim.handshakes)
	endSetup()
	if tcpErr != nil {
		r.Complete(true)
		up.Close()
		return
	}
	r.Complete(false)
	// Set before any data: the SYN-ACK offered at most 64 KiB (its window
	// is not scaled), so a smaller buffer takes nothing back.
	// A size set here also ends the endpoint's growth.
	switch {
	case st.lim.acquireQuiet(&st.lim.growConns):
		defer st.lim.release(&st.lim.growConns)
	case st.lim.acquireQuiet(&st.lim.bulkConns):
		defer st.lim.release(&st.lim.bulkConns)
		ep.SocketOptions().SetReceiveBufferSize(tcpBulkBufferSize, true)
		ep.SocketOptions().SetSendBufferSize(tcpBulkBufferSize, true)
	default:
		ep.SocketOptions().SetReceiveBufferSize(tcpBufferSize, true)
		ep.SocketOptions().SetSendBufferSize(tcpBufferSize, true)
	}
	down := gonet.NewTCPConn(&wq, ep)
	defer closeOnCancel(st.ctx, down, up)()
	splice(down, up.(*net.TCPConn))
}

// closeOnCancel closes conns when ctx ends — a flow whose destination
// neither sends nor closes would otherwise hold Close for ever — and
// returns the function that stops it.
func closeOnCancel(ctx context.Context, conns ...io.Closer) (stop func()) {
	s := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return func() { s() }
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
		// Queries are answered from the link (dnsDatagram); what
		// reaches the forwarder is a fragmented one, which no resolver
		// sends: dropped.
		return true
	}
	to := Target(dst)
	if !st.allowed(policy.UDP, to) {
		return true // dropped: handled, nothing leaves
	}
	f := &udpFlow{done: make(chan struct{})}
	if !st.udp.add(f) {
		// Dropped, as a full NAT table drops a new flow's datagrams
		// (no ICMP error: it would be a packet out per packet in).
		return true
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		st.udp.remove(f)
		return true
	}
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		ep.Close()
		st.udp.remove(f)
		return true
	}
	f.ep, f.wq, f.up = ep, &wq, up
	f.last.Store(time.Now().UnixNano())
	st.udp.ready(f)
	if !st.enter() {
		ep.Close()
		up.Close()
		st.udp.remove(f)
		return true
	}
	go func() {
		defer st.wg.Done()
		defer st.udp.remove(f)
		f.relay(st.ctx)
	}()
	return true
}

// udpTable holds the UDP flows being forwarded, at most lim.udpFlows.max.
//
// When it is full, a new flow takes the place of the flow that has gone
// longest without a reply from its destination, if there is one (Linux
// conntrack's early drop does the same): such a flow is a probe, a flood,
// or a peer that is gone — the cheapest to lose, while a flow that has had
// answers is a conversation the program is having. Refusing every new
// flow instead would let a program's own flood of new flows lock out its
// later, real ones until the flood's flows idled out (udpIdle); evicting
// the oldest flow whatever it is would let the flood close the real
// conversations. When every flow has had replies, the new flow is dropped.
type udpTable struct {
	lim   *limits
	mu    sync.Mutex
	flows map[*udpFlow]struct{}
}

// add takes a place for f, evicting a flow without replies if the table is
// full, or reports false.
func (t *udpTable) add(f *udpFlow) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flows == nil {
		t.flows = map[*udpFlow]struct{}{}
	}
	if len(t.flows) >= int(t.lim.udpFlows.max) {
		t.lim.full(&t.lim.udpFlows)
		var victim *udpFlow
		for g := range t.flows {
			if g.started && !g.replied.Load() && (victim == nil || g.last.Load() < victim.last.Load()) {
				victim = g
			}
		}
		if victim == nil {
			return false
		}
		delete(t.flows, victim)
		victim.stop() // its fd is closed now; its goroutines end shortly
	}
	t.flows[f] = struct{}{}
	return true
}

// ready marks f set up: from now it may be evicted.
func (t *udpTable) ready(f *udpFlow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f.started = true
}

func (t *udpTable) remove(f *udpFlow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.flows, f)
}

// udpFlow is one UDP flow: the program's endpoint in the stack (ep) and the
// host's socket (up).
type udpFlow struct {
	ep       tcpip.Endpoint
	wq       *waiter.Queue
	up       *net.UDPConn
	done     chan struct{} // closed: the flow must end
	stopOnce sync.Once
	started  bool         // under udpTable.mu: ep and up are set
	last     atomic.Int64 // unix ns of the last datagram either way
	replied  atomic.Bool  // a datagram came back from the destination
}

// stop ends the flow: its relay's loops see done, or an error on up.
func (f *udpFlow) stop() {
	f.stopOnce.Do(func() {
		close(f.done)
		f.up.Close()
	})
}

// udpBufs are the buffers datagrams are relayed through, taken only while
// one is in hand: a flow waiting for traffic holds none (a buffer per
// direction per flow was 128 KiB a flow, 64 MB at maxUDPFlows).
var udpBufs = sync.Pool{New: func() any { return new([65536]byte) }}

// relay carries datagrams both ways until the flow has been idle for
// udpIdle, is evicted, or the stack closes.
func (f *udpFlow) relay(ctx context.Context) {
	defer f.ep.Close()
	defer f.stop()
	go func() {
		select {
		case <-ctx.Done():
			f.stop()
		case <-f.done:
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer f.stop()
		f.upstream()
	}()
	f.downstream()
	f.stop()
	wg.Wait()
}

// downstream carries the host's datagrams to the program.
func (f *udpFlow) downstream() {
	raw, err := f.up.SyscallConn()
	if err != nil {
		return
	}
	for {
		f.up.SetReadDeadline(time.Now().Add(udpIdle))
		var buf *[65536]byte
		var n int
		var rerr error
		// The buffer is taken only once the socket is readable.
		err := raw.Read(func(fd uintptr) bool {
			buf = udpBufs.Get().(*[65536]byte)
			n, _, rerr = unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT)
			if rerr == unix.EAGAIN || rerr == unix.EINTR {
				udpBufs.Put(buf)
				buf = nil
				return false
			}
			return true
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			if buf != nil {
				udpBufs.Put(buf)
			}
			if idle := errors.Is(err, os.ErrDeadlineExceeded); idle && time.Since(time.Unix(0, f.last.Load())) < udpIdle {
				continue // the other direction was busy
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // an ICMP error for an earlier datagram: UDP goes on
			}
			return
		}
		f.last.Store(time.Now().UnixNano())
		f.replied.Store(true)
		var r bytes.Reader
		r.Reset(buf[:n])
		_, werr := f.ep.Write(&r, tcpip.WriteOptions{})
		udpBufs.Put(buf)
		if werr != nil {
			if _, full := werr.(*tcpip.ErrWouldBlock); !full {
				return
			}
			// The program does not read: dropped, as UDP is.
		}
	}
}

// upstream carries the program's datagrams to the host.
func (f *udpFlow) upstream() {
	entry, notify := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	f.wq.EventRegister(&entry)
	defer f.wq.EventUnregister(&entry)
	timer := time.NewTimer(udpIdle)
	defer timer.Stop()
	for {
		buf := udpBufs.Get().(*[65536]byte)
		w := tcpip.SliceWriter(buf[:])
		res, err := f.ep.Read(&w, tcpip.ReadOptions{})
		if err == nil {
			f.last.Store(time.Now().UnixNano())
			_, werr := f.up.Write(buf[:res.Count])
			udpBufs.Put(buf)
			if werr != nil && !errors.Is(werr, syscall.ECONNREFUSED) {
				return
			}
			continue
		}
		udpBufs.Put(buf)
		if _, wait := err.(*tcpip.ErrWouldBlock); !wait {
			return
		}
		select {
		case <-notify:
		case <-timer.C:
			if idle := time.Since(time.Unix(0, f.last.Load())); idle < udpIdle {
				timer.Reset(udpIdle - idle) // the other direction was busy
				continue
			}
			return
		case <-f.done:
			return
		}
	}
}

func (st *Stack) serveDNSOverTCP(r *tcp.ForwarderRequest) {
	if !st.lim.acquire(&st.lim.dnsTCP) {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		st.lim.release(&st.lim.dnsTCP)
		r.Complete(true)
		return
	}
	r.Complete(false)
	c := gonet.NewTCPConn(&wq, ep)
	if !st.enter() {
		st.lim.release(&st.lim.dnsTCP)
		c.Close()
		return
	}
	go func() {
		defer st.wg.Done()
		defer st.lim.release(&st.lim.dnsTCP)
		defer c.Close()
		defer closeOnCancel(st.ctx, c)()
		for {
			c.SetReadDeadline(time.Now().Add(dnsTCPIdle))
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
