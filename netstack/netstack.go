// Package netstack is the program's network in --net sandbox mode: a
// gVisor userspace TCP/IP stack on the far side of the program's only
// interface, a TUN device. Every flow that reaches it is checked against the
// policy again — whatever path it took out of the program — and forwarded
// by dialing the real destination from the host: the program's handshake is
// completed only once that dial has succeeded, and reset when it fails.
package netstack

import (
	"context"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv4"
	"gvisor.dev/gvisor/pkg/tcpip/network/ipv6"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
	"gvisor.dev/gvisor/pkg/tcpip/transport/icmp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"

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

// drainTimeout bounds how long Close waits for what the program sent over
// TCP before it exited to be passed on. Natively the kernel goes on
// delivering an exited program's data; here the sandbox ends once the
// program has, so a flow gets this long to finish its way out — a request
// written just before exit, the end of an upload — and is then cut.
const drainTimeout = 2 * time.Second

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
	warm   *warmPool // runs each TCP flow
	ctx    context.Context
	cancel context.CancelFunc

	// wg counts the goroutines Close waits for; enter adds to it only
	// while the stack is open (closing, under mu), so that no flow starts
	// after Close began to wait.
	mu      sync.Mutex
	closing bool
	wg      sync.WaitGroup
	// sending counts the TCP flows whose data from the program may not
	// all have been passed on yet (enterSending): Close waits for them,
	// up to drainTimeout.
	sending sync.WaitGroup
}

// enter counts one more goroutine Close must wait for, or reports that the
// stack is closing and nothing may start.
func (st *Stack) enter() bool { return st.enterAlso(nil) }

// enterSending is enter for a flow that carries the program's data to a
// host, which Close lets finish (sending); the caller calls
// st.sending.Done once that data has all been passed on, or never will be.
func (st *Stack) enterSending() bool { return st.enterAlso(&st.sending) }

// enterAlso is enter, counting the goroutine in also too when it is set.
func (st *Stack) enterAlso(also *sync.WaitGroup) bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.closing {
		return false
	}
	st.wg.Add(1)
	if also != nil {
		also.Add(1)
	}
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
		s: s, policy: cfg.Policy, names: names, syns: syns, link: link, lim: lim, warm: newWarmPool(),
		dns: &dnsServer{policy: cfg.Policy, upstream: upstream, names: names, log: cfg.DNSLog, full: func() { lim.full(&lim.dnsUpstream) }, logf: lim.logf},
		ctx: ctx, cancel: cancel,
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
	// gVisor's forwarder starts a goroutine per SYN; the flow itself runs
	// on one of the pool's, whose stack has grown already.
	fwd := tcp.NewForwarder(s, tcpBulkBufferSize, maxInFlight, func(r *tcp.ForwarderRequest) {
		st.warm.Go(func() { st.forwardTCP(r) })
	})
	s.SetTransportProtocolHandler(tcp.ProtocolNumber, fwd.HandlePacket)
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
	// The program has exited: what it sent still goes out, as its own
	// kernel would deliver it, for up to drainTimeout. (Its sockets
	// closed with it, so each flow's end of stream is on its way.)
	drained := make(chan struct{})
	go func() {
		st.sending.Wait()
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(drainTimeout):
	}
	// Every flow ends on this: its connections are closed (closeOnCancel),
	// whatever the other end does, so the sandbox ends promptly after
	// its program.
	st.cancel()
	// The link's reader ends first, with none of the stack's locks held:
	// RemoveNIC holds the stack's lock while it detaches the link, and a
	// reader then delivering a packet waits for that very lock — while
	// RemoveNIC waits for the reader. The program's kernel sends on after
	// the program has exited (an upload's last megabytes, resets for what
	// still arrives), so that was a hang of the whole sandbox
	// (TestSandboxEndsWithTrafficInFlight). Removing the NIC then finds
	// the device closed; the stack's own Destroy would leave it reading.
	st.link.stopReading()
	st.s.RemoveNIC(nicID)
	st.s.Destroy()
	st.wg.Wait()
	st.warm.stop()
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
