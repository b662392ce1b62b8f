package netstack

import (
	"bytes"
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// The ICMP errors netstack writes must be ones the program's kernel
// accepts: valid checksums, the right type and code, the SYN quoted whole.
func TestUnreachablePackets(t *testing.T) {
	quote4 := bytes.Repeat([]byte{0xab}, header.IPv4MinimumSize+8)
	k4 := flowKey{src: netip.MustParseAddr("100.96.0.2"), dst: netip.MustParseAddr("198.18.0.1"), sport: 40000, dport: 80}
	for _, host := range []bool{false, true} {
		pkt := unreachable(k4, quote4, host)
		ip := header.IPv4(pkt)
		if !ip.IsValid(len(pkt)) || ip.CalculateChecksum() != 0xffff {
			t.Fatalf("IPv4 header invalid or checksum wrong: %x", pkt[:20])
		}
		if ip.DestinationAddress() != tcpip.AddrFrom4(k4.src.As4()) || ip.SourceAddress() != tcpip.AddrFrom4(Gateway4.As4()) {
			t.Errorf("ICMP from %v to %v, want from the gateway to the program", ip.SourceAddress(), ip.DestinationAddress())
		}
		icmp := header.ICMPv4(ip.Payload())
		wantCode := header.ICMPv4NetUnreachable
		if host {
			wantCode = header.ICMPv4HostUnreachable
		}
		if icmp.Type() != header.ICMPv4DstUnreachable || icmp.Code() != wantCode || checksum.Checksum(icmp, 0) != 0xffff {
			t.Errorf("ICMPv4 type %d code %d checksum-ok %v", icmp.Type(), icmp.Code(), checksum.Checksum(icmp, 0) == 0xffff)
		}
		if !bytes.Equal(icmp[header.ICMPv4MinimumSize:], quote4) {
			t.Error("the SYN is not quoted whole")
		}
	}
	quote6 := bytes.Repeat([]byte{0xcd}, header.IPv6MinimumSize+8)
	k6 := flowKey{src: netip.MustParseAddr("fd00:5a::2"), dst: netip.MustParseAddr("2001:2::1"), sport: 40000, dport: 80}
	pkt := unreachable(k6, quote6, true)
	ip := header.IPv6(pkt)
	icmp := header.ICMPv6(ip.Payload())
	src, dst := ip.SourceAddress(), ip.DestinationAddress()
	if icmp.Type() != header.ICMPv6DstUnreachable || icmp.Code() != header.ICMPv6AddressUnreachable {
		t.Errorf("ICMPv6 type %d code %d", icmp.Type(), icmp.Code())
	}
	if icmp.Checksum() != header.ICMPv6Checksum(header.ICMPv6ChecksumParams{Header: icmp, Src: src, Dst: dst}) {
		t.Error("ICMPv6 checksum wrong")
	}
	if !bytes.Equal(icmp[header.ICMPv6DstUnreachableMinimumSize:], quote6) {
		t.Error("the SYN is not quoted whole over IPv6")
	}
}
