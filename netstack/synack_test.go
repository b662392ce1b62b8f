package netstack

import (
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"net/netip"
	"testing"
)

// tcpPacket is an IPv4 or IPv6 TCP packet from src to dst with flags.
func tcpPacket(src, dst netip.AddrPort, flags header.TCPFlags) []byte {
	tcp := make([]byte, header.TCPMinimumSize)
	header.TCP(tcp).Encode(&header.TCPFields{SrcPort: src.Port(), DstPort: dst.Port(), Flags: flags, DataOffset: header.TCPMinimumSize})
	if src.Addr().Is4() {
		ip := make([]byte, header.IPv4MinimumSize)
		header.IPv4(ip).Encode(&header.IPv4Fields{TotalLength: uint16(len(ip) + len(tcp)), TTL: 64, Protocol: uint8(header.TCPProtocolNumber),
			SrcAddr: tcpip.AddrFrom4(src.Addr().As4()), DstAddr: tcpip.AddrFrom4(dst.Addr().As4())})
		return append(ip, tcp...)
	}
	ip := make([]byte, header.IPv6MinimumSize)
	header.IPv6(ip).Encode(&header.IPv6Fields{PayloadLength: uint16(len(tcp)), TransportProtocol: header.TCPProtocolNumber, HopLimit: 64,
		SrcAddr: tcpip.AddrFrom16(src.Addr().As16()), DstAddr: tcpip.AddrFrom16(dst.Addr().As16())})
	return append(ip, tcp...)
}

// TestHandshakeGate: while a SYN-ACK is being written, the program's
// packets on that flow are held, and handed, in order, to whoever ends the
// write; every other packet goes at once.
func TestHandshakeGate(t *testing.T) {
	view := func(b []byte) *buffer.View { return buffer.NewViewWithData(b) }
	for _, fam := range []struct{ far, prog netip.Addr }{
		{netip.MustParseAddr("198.18.0.2"), ProgramAddr4.Addr()},
		{netip.MustParseAddr("2001:2::2"), ProgramAddr6.Addr()},
	} {
		far, prog := netip.AddrPortFrom(fam.far, 443), netip.AddrPortFrom(fam.prog, 40000)
		g := newHandshakeGate()
		ack := view(tcpPacket(prog, far, header.TCPFlagAck))
		if g.hold(ack) {
			t.Fatalf("%v: a packet was held with no SYN-ACK being written", fam.far)
		}
		synAck := tcpPacket(far, prog, header.TCPFlagSyn|header.TCPFlagAck)
		// The stack hands a packet over as header and payload slices.
		k, ok := g.begin([][]byte{synAck[:10], synAck[10:]})
		if !ok {
			t.Fatalf("%v: a SYN-ACK was not seen as one", fam.far)
		}
		if _, ok := g.begin([][]byte{tcpPacket(far, prog, header.TCPFlagAck)}); ok {
			t.Fatalf("%v: a bare ACK was taken for a SYN-ACK", fam.far)
		}
		// A full-size segment is not looked into (bulk transfers pay
		// nothing for the gate).
		if _, ok := g.begin([][]byte{synAck, make([]byte, 1400)}); ok {
			t.Fatalf("%v: a 1400-byte segment was taken for a SYN-ACK", fam.far)
		}
		// Other flows, and what is not TCP, pass.
		for _, p := range [][]byte{
			tcpPacket(netip.AddrPortFrom(fam.prog, 40001), far, header.TCPFlagAck),
			tcpPacket(prog, netip.AddrPortFrom(fam.far, 80), header.TCPFlagAck),
			{0x45, 0, 0, 20},
		} {
			if g.hold(view(p)) {
				t.Fatalf("%v: a packet of another flow was held", fam.far)
			}
		}
		// The flow's own packets are held, in order, until the write ends.
		fin := view(tcpPacket(prog, far, header.TCPFlagFin|header.TCPFlagAck))
		if !g.hold(ack) || !g.hold(fin) {
			t.Fatalf("%v: the flow's packets went while its SYN-ACK was being written", fam.far)
		}
		if held := g.end(k); len(held) != 2 || held[0] != ack || held[1] != fin {
			t.Fatalf("%v: the write's end handed over %d packets, want the ACK and the FIN in order", fam.far, len(held))
		}
		if g.hold(view(tcpPacket(prog, far, header.TCPFlagAck))) {
			t.Fatalf("%v: a packet was held after the write ended", fam.far)
		}
		if g.writing.Load() != 0 || len(g.flows) != 0 {
			t.Fatalf("%v: the gate kept state: %d writing, %v", fam.far, g.writing.Load(), g.flows)
		}
	}
}
