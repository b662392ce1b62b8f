package netstack

import (
	"net/netip"
	"testing"

	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// FuzzChecksumsValid: the link verifies packets the program writes, any
// bytes at all, without panicking; a packet whose checksums are right is
// valid, and stays valid however its payload is changed once its
// checksums are made again.
func FuzzChecksumsValid(f *testing.F) {
	prog4, far4 := netip.AddrPortFrom(ProgramAddr4.Addr(), 40000), netip.MustParseAddrPort("198.18.0.2:53")
	prog6, far6 := netip.AddrPortFrom(ProgramAddr6.Addr(), 40000), netip.MustParseAddrPort("[2001:2::2]:53")
	f.Add(checksummed(udpPacket(prog4, far4, []byte("query"))), []byte("query"))
	f.Add(checksummed(udpPacket(prog6, far6, []byte("query"))), []byte{})
	f.Add(checksummed(tcpPacket(prog4, far4, header.TCPFlagSyn)), []byte{1})
	f.Add(checksummed(tcpPacket(prog6, far6, header.TCPFlagSyn)), []byte{2})
	f.Fuzz(func(t *testing.T, b, payload []byte) {
		checksumsValid(header.IPv4ProtocolNumber, b)
		checksumsValid(header.IPv6ProtocolNumber, b)
		for _, p := range [][]byte{udpPacket(prog4, far4, payload), udpPacket(prog6, far6, payload)} {
			if p == nil {
				continue // too long for the MTU
			}
			proto := header.IPv4ProtocolNumber
			if header.IPVersion(p) == header.IPv6Version {
				proto = header.IPv6ProtocolNumber
			}
			if !checksumsValid(proto, checksummed(p)) {
				t.Fatalf("a checksummed datagram of %d bytes is not valid", len(payload))
			}
		}
	})
}
