package netstack

import (
	"net/netip"
	"sync"
	"time"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/link/nested"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// When a destination is unreachable, Linux tells a connecting program so
// with an ICMP error, which its kernel turns into ENETUNREACH or
// EHOSTUNREACH. netstack does the same: the error must quote the program's
// SYN — its kernel drops an ICMP error whose TCP sequence number is not the
// one it sent — and gVisor's forwarder does not expose the SYN, so the link
// endpoint notes each SYN's headers on the way in.

// flowKey names a TCP flow by its addresses and ports, as the program sees it.
type flowKey struct {
	src, dst     netip.Addr
	sport, dport uint16
}

// synQuote is what an ICMP error quotes of a SYN: its IP header and the
// first 8 bytes of its TCP header (ports and sequence number).
type synQuote struct {
	quote []byte
	at    time.Time
}

// synTable keeps the quotes of SYNs whose handshake is being decided.
type synTable struct {
	mu sync.Mutex
	m  map[flowKey]synQuote
}

// maxSyns bounds the table; a SYN's quote is needed only while its dial is
// in flight (≤ dialTimeout), so older ones are dropped first.
const maxSyns = 4096

func newSynTable() *synTable { return &synTable{m: make(map[flowKey]synQuote)} }

func (t *synTable) put(k flowKey, quote []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.m) >= maxSyns {
		for k, q := range t.m {
			if time.Since(q.at) > dialTimeout {
				delete(t.m, k)
			}
		}
		if len(t.m) >= maxSyns {
			return
		}
	}
	t.m[k] = synQuote{quote: quote, at: time.Now()}
}

// take returns and forgets the quote of flow k.
func (t *synTable) take(k flowKey) []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	q := t.m[k]
	delete(t.m, k)
	return q.quote
}

// synSniffer is the link endpoint with a look at every packet coming in.
type synSniffer struct {
	nested.Endpoint
	syns *synTable
	// dns, when set, takes the packets that are queries to the
	// gateway's DNS (dnsDatagram) before the stack sees them.
	dns func(tcpip.NetworkProtocolNumber, []byte) bool
}

func newSynSniffer(child stack.LinkEndpoint, syns *synTable) *synSniffer {
	e := &synSniffer{syns: syns}
	e.Endpoint.Init(child, e)
	return e
}

// DeliverNetworkPacket answers DNS queries, notes SYNs, then passes every
// other packet on.
func (e *synSniffer) DeliverNetworkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	// The link delivers each packet as one view, but a long TCP
	// segment as two: its headers, which noteSYN reads, and the rest.
	if s := pkt.AsSlices(); len(s) > 0 {
		if e.dns != nil && e.dns(proto, s[0]) {
			return
		}
		e.noteSYN(proto, s[0])
	}
	e.Endpoint.DeliverNetworkPacket(proto, pkt)
}

func (e *synSniffer) noteSYN(proto tcpip.NetworkProtocolNumber, b []byte) {
	var k flowKey
	var ipLen int
	switch proto {
	case header.IPv4ProtocolNumber:
		if len(b) < header.IPv4MinimumSize {
			return
		}
		ip := header.IPv4(b)
		ipLen = int(ip.HeaderLength())
		if ip.Protocol() != uint8(header.TCPProtocolNumber) || ip.FragmentOffset() != 0 || ipLen < header.IPv4MinimumSize {
			return
		}
		k.src, _ = netip.AddrFromSlice(ip.SourceAddressSlice())
		k.dst, _ = netip.AddrFromSlice(ip.DestinationAddressSlice())
	case header.IPv6ProtocolNumber:
		if len(b) < header.IPv6MinimumSize {
			return
		}
		ip := header.IPv6(b)
		if ip.NextHeader() != uint8(header.TCPProtocolNumber) {
			return // extension headers: no quote, the program times out instead
		}
		ipLen = header.IPv6MinimumSize
		k.src, _ = netip.AddrFromSlice(ip.SourceAddressSlice())
		k.dst, _ = netip.AddrFromSlice(ip.DestinationAddressSlice())
	default:
		return
	}
	if len(b) < ipLen+header.TCPMinimumSize {
		return
	}
	tcp := header.TCP(b[ipLen:])
	if tcp.Flags()&(header.TCPFlagSyn|header.TCPFlagAck) != header.TCPFlagSyn {
		return
	}
	k.sport, k.dport = tcp.SourcePort(), tcp.DestinationPort()
	e.syns.put(k, append([]byte(nil), b[:ipLen+8]...))
}

// unreachable builds the ICMP error that tells the program its SYN (quoted
// in quote) cannot reach its destination: hostUnreachable picks "host" over
// "network". It comes from the gateway, as from a router.
func unreachable(k flowKey, quote []byte, hostUnreachable bool) []byte {
	if k.src.Is4() {
		const ipLen, icmpLen = header.IPv4MinimumSize, header.ICMPv4MinimumSize
		pkt := make([]byte, ipLen+icmpLen+len(quote))
		ip := header.IPv4(pkt)
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(len(pkt)), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber),
			SrcAddr: tcpip.AddrFrom4(Gateway4.As4()), DstAddr: tcpip.AddrFrom4(k.src.As4()),
		})
		ip.SetChecksum(^ip.CalculateChecksum())
		icmp := header.ICMPv4(pkt[ipLen:])
		icmp.SetType(header.ICMPv4DstUnreachable)
		icmp.SetCode(header.ICMPv4NetUnreachable)
		if hostUnreachable {
			icmp.SetCode(header.ICMPv4HostUnreachable)
		}
		copy(icmp[icmpLen:], quote)
		icmp.SetChecksum(^checksum.Checksum(icmp, 0))
		return pkt
	}
	const ipLen, icmpLen = header.IPv6MinimumSize, header.ICMPv6DstUnreachableMinimumSize
	pkt := make([]byte, ipLen+icmpLen+len(quote))
	src, dst := tcpip.AddrFrom16(Gateway6.As16()), tcpip.AddrFrom16(k.src.As16())
	ip := header.IPv6(pkt)
	ip.Encode(&header.IPv6Fields{
		PayloadLength: uint16(icmpLen + len(quote)), TransportProtocol: header.ICMPv6ProtocolNumber,
		HopLimit: 64, SrcAddr: src, DstAddr: dst,
	})
	icmp := header.ICMPv6(pkt[ipLen:])
	icmp.SetType(header.ICMPv6DstUnreachable)
	icmp.SetCode(header.ICMPv6NetworkUnreachable)
	if hostUnreachable {
		icmp.SetCode(header.ICMPv6AddressUnreachable)
	}
	copy(icmp[icmpLen:], quote)
	icmp.SetChecksum(header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: icmp, Src: src, Dst: dst}))
	return pkt
}
