package netstack

import (
	"net/netip"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// The gateway's DNS over UDP is answered statelessly, from the link: a
// query is a datagram to the gateway's port 53, the answer a datagram
// built here and written straight to the TUN device. Through gVisor's UDP
// forwarder every new source port was a "flow" — an endpoint, a goroutine
// and a 64 KiB buffer held for the idle time — and a resolver library uses
// a new port per lookup, so a flood of queries from many ports grew the
// supervisor by hundreds of MB a second. Here a query holds a goroutine
// only while it is answered (maxDNSQueries of them; beyond, SERVFAIL at
// once), and nothing at all after.

// dnsDatagram answers b, an IP packet from the program, if it is a UDP
// query to the gateway's DNS, and reports whether it took it. A fragment
// is left to the stack (whose forwarder drops it: no resolver fragments a
// query of at most maxUDPQuery bytes on a link of MTU 65520).
func (st *Stack) dnsDatagram(proto tcpip.NetworkProtocolNumber, b []byte) bool {
	var src, dst netip.Addr
	var u header.UDP
	switch proto {
	case header.IPv4ProtocolNumber:
		if len(b) < header.IPv4MinimumSize {
			return false
		}
		ip := header.IPv4(b)
		hl, tl := int(ip.HeaderLength()), int(ip.TotalLength())
		if !ip.IsValid(len(b)) || !ip.IsChecksumValid() || // the stack drops it
			ip.Protocol() != uint8(header.UDPProtocolNumber) || ip.More() || ip.FragmentOffset() != 0 ||
			hl < header.IPv4MinimumSize || tl > len(b) || tl < hl+header.UDPMinimumSize {
			return false
		}
		src, dst = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20]))
		u = header.UDP(b[hl:tl])
	case header.IPv6ProtocolNumber:
		if len(b) < header.IPv6MinimumSize {
			return false
		}
		ip := header.IPv6(b)
		tl := header.IPv6MinimumSize + int(ip.PayloadLength())
		if ip.NextHeader() != uint8(header.UDPProtocolNumber) || tl > len(b) || tl < header.IPv6MinimumSize+header.UDPMinimumSize {
			return false // extension headers: the stack's to parse
		}
		src, dst = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40]))
		u = header.UDP(b[header.IPv6MinimumSize:tl])
	default:
		return false
	}
	if !IsDNS(netip.AddrPortFrom(dst, u.DestinationPort())) {
		return false
	}
	// From here the packet is the DNS's: a malformed one is dropped, as
	// the stack would drop it.
	if int(u.Length()) < header.UDPMinimumSize || int(u.Length()) > len(u) {
		return true
	}
	// Its checksum has been verified by the link, unless the program's
	// kernel vouched for it (see vnet.go).
	u = u[:u.Length()]
	// A copy: b is the link's buffer. One byte more than a query may be
	// is enough to tell that it is too long (parseQuery answers FORMERR).
	payload := u.Payload()
	query := append([]byte(nil), payload[:min(len(payload), maxUDPQuery+1)]...)
	from := netip.AddrPortFrom(dst, 53)
	to := netip.AddrPortFrom(src, u.SourcePort())
	if !st.lim.acquire(&st.lim.dnsQueries) {
		// SERVFAIL at once, on this goroutine: an overloaded
		// resolver's answer, and no state held for it.
		st.writeDNSReply(from, to, st.dns.answerBusy(query))
		return true
	}
	if !st.enter() {
		st.lim.release(&st.lim.dnsQueries)
		return true
	}
	go func() {
		defer st.wg.Done()
		defer st.lim.release(&st.lim.dnsQueries)
		st.writeDNSReply(from, to, st.dns.answer(st.ctx, query, false))
	}()
	return true
}

// writeDNSReply writes resp (nil: no answer) to the program as a datagram
// from the gateway's DNS.
func (st *Stack) writeDNSReply(from, to netip.AddrPort, resp []byte) {
	if resp == nil {
		return
	}
	if pkt := udpPacket(from, to, resp); pkt != nil {
		st.link.writeRaw(pkt)
	}
}

// udpPacket builds an IP packet with one UDP datagram carrying payload,
// or returns nil when it would not fit the link's MTU (an upstream's
// answer bigger than the program could ever have asked for).
func udpPacket(from, to netip.AddrPort, payload []byte) []byte {
	ipLen := header.IPv4MinimumSize
	if to.Addr().Is6() {
		ipLen = header.IPv6MinimumSize
	}
	udpLen := header.UDPMinimumSize + len(payload)
	if ipLen+udpLen > MTU {
		return nil
	}
	pkt := make([]byte, ipLen+udpLen)
	src, dst := tcpip.AddrFromSlice(from.Addr().AsSlice()), tcpip.AddrFromSlice(to.Addr().AsSlice())
	if to.Addr().Is6() {
		header.IPv6(pkt).Encode(&header.IPv6Fields{
			PayloadLength: uint16(udpLen), TransportProtocol: header.UDPProtocolNumber,
			HopLimit: 64, SrcAddr: src, DstAddr: dst,
		})
	} else {
		ip := header.IPv4(pkt)
		ip.Encode(&header.IPv4Fields{
			TotalLength: uint16(len(pkt)), TTL: 64, Protocol: uint8(header.UDPProtocolNumber),
			SrcAddr: src, DstAddr: dst,
		})
		ip.SetChecksum(^ip.CalculateChecksum())
	}
	u := header.UDP(pkt[ipLen:])
	u.SetSourcePort(from.Port())
	u.SetDestinationPort(to.Port())
	u.SetLength(uint16(udpLen))
	copy(u.Payload(), payload)
	xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, dst, uint16(udpLen))
	xsum = u.CalculateChecksum(checksum.Checksum(payload, xsum))
	if xsum = ^xsum; xsum == 0 {
		xsum = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	u.SetChecksum(xsum)
	return pkt
}
