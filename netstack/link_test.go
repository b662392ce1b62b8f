package netstack

import (
	"bytes"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// delivered is a dispatcher that passes on what the link delivers.
type delivered chan struct {
	proto tcpip.NetworkProtocolNumber
	data  []byte
	views []int // the sizes of the views it came in
}

func (d delivered) DeliverNetworkPacket(proto tcpip.NetworkProtocolNumber, pkt *stack.PacketBuffer) {
	var views []int
	for _, s := range pkt.AsSlices() {
		views = append(views, len(s))
	}
	d <- struct {
		proto tcpip.NetworkProtocolNumber
		data  []byte
		views []int
	}{proto, pkt.ToView().AsSlice(), views}
}

func (d delivered) DeliverLinkPacket(tcpip.NetworkProtocolNumber, *stack.PacketBuffer) {}

// tunWrite writes p to the link as the program's kernel writes its own
// TCP or UDP segment: behind a virtio_net_hdr that says its checksum is
// left to the device (trusted: the link does not verify it).
func tunWrite(t *testing.T, peer int, p []byte) {
	t.Helper()
	tunWriteFlags(t, peer, vnetNeedsCsum, p)
}

// tunWriteFlags writes p behind a virtio_net_hdr with flags.
func tunWriteFlags(t *testing.T, peer int, flags byte, p []byte) {
	t.Helper()
	hdr := make([]byte, vnetHdrLen)
	hdr[0] = flags
	if _, err := unix.Write(peer, append(hdr, p...)); err != nil {
		t.Fatal(err)
	}
}

// tunRead reads a packet the link wrote into buf, checks that its
// virtio_net_hdr is all zeros (complete checksums, no segmentation) and
// returns the packet.
func tunRead(t *testing.T, peer int, buf []byte) []byte {
	t.Helper()
	n, err := unix.Read(peer, buf)
	if err != nil {
		t.Fatalf("read the link's packet: %v", err)
	}
	if n < vnetHdrLen || !bytes.Equal(buf[:vnetHdrLen], noVnetHdr[:]) {
		t.Fatalf("the link wrote % x: not behind an all-zero virtio_net_hdr", buf[:min(n, vnetHdrLen)])
	}
	return buf[vnetHdrLen:n]
}

// newTestLink runs a tunLink on one end of a SOCK_SEQPACKET pair, which
// keeps packet boundaries as a TUN device does, and returns the other end.
func newTestLink(t *testing.T) (*tunLink, int) {
	t.Helper()
	return newTestLinkMTU(t, 1500)
}

// newTestLinkMTU is newTestLink with a link of MTU mtu.
func newTestLinkMTU(t *testing.T, mtu uint32) (*tunLink, int) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fds[1]) })
	l, err := newTUNLink(fds[0], mtu)
	if err != nil {
		t.Fatal(err)
	}
	return l, fds[1]
}

// The link delivers each IP packet whole with its protocol, drops what is
// not IP, writes the stack's packets whole, and once closed writes nothing
// and has no reader left.
func TestTUNLink(t *testing.T) {
	l, peer := newTestLink(t)
	d := make(delivered, 4)
	l.Attach(d)

	v4 := append([]byte{0x45}, bytes.Repeat([]byte{4}, 39)...)
	copy(v4[12:], programSrc4[:])
	v6 := append([]byte{0x60}, bytes.Repeat([]byte{6}, 59)...)
	copy(v6[8:], programSrc6[:])
	for _, p := range [][]byte{{0x00, 1, 2}, v4, v6} {
		tunWrite(t, peer, p)
	}
	for _, want := range []struct {
		proto tcpip.NetworkProtocolNumber
		data  []byte
	}{{header.IPv4ProtocolNumber, v4}, {header.IPv6ProtocolNumber, v6}} {
		select {
		case got := <-d:
			if got.proto != want.proto || !bytes.Equal(got.data, want.data) {
				t.Errorf("delivered protocol %d, %d bytes; want %d, %d bytes", got.proto, len(got.data), want.proto, len(want.data))
			}
		case <-time.After(10 * time.Second):
			t.Fatal("nothing delivered")
		}
	}

	out := []byte("an outgoing packet, header and payload")
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{ReserveHeaderBytes: 11, Payload: buffer.MakeWithData(out[11:])})
	copy(pkt.NetworkHeader().Push(11), out[:11])
	var pkts stack.PacketBufferList
	pkts.PushBack(pkt)
	if n, err := l.WritePackets(pkts); n != 1 || err != nil {
		t.Fatalf("WritePackets = %d, %v", n, err)
	}
	pkt.DecRef()
	// blocking: the peer end is
	if got := tunRead(t, peer, make([]byte, 100)); !bytes.Equal(got, out) {
		t.Fatalf("peer read %q; want %q", got, out)
	}

	l.Attach(nil) // as the stack does when the NIC is removed
	l.Wait()
	if l.IsAttached() {
		t.Error("still attached after Attach(nil)")
	}
	pkt = stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(out)})
	defer pkt.DecRef()
	pkts = stack.PacketBufferList{}
	pkts.PushBack(pkt)
	if _, err := l.WritePackets(pkts); err == nil {
		t.Error("WritePackets after close succeeded")
	}
	l.Close() // again: a no-op
}

// A TCP segment longer than smallPacket reaches the stack whole, in two
// views, its headers apart (see dispatch); any other long packet, a UDP
// datagram such as a large DNS query, in one view, which the link's DNS
// reads as one slice.
func TestTUNLinkLongPackets(t *testing.T) {
	l, peer := newTestLinkMTU(t, 9000)
	d := make(delivered, 4)
	l.Attach(d)
	defer l.Close()
	for _, tc := range []struct {
		name  string
		proto uint8
		views []int
	}{
		{"tcp", uint8(header.TCPProtocolNumber), []int{headerSplit, 5000 - headerSplit}},
		{"udp", uint8(header.UDPProtocolNumber), []int{5000}},
	} {
		p := make([]byte, 5000)
		for i := range p {
			p[i] = byte(i)
		}
		p[0] = 0x45
		p[9] = tc.proto
		copy(p[12:], programSrc4[:])
		tunWrite(t, peer, p)
		select {
		case got := <-d:
			if !bytes.Equal(got.data, p) {
				t.Errorf("%s: delivered %d bytes, not the %d written", tc.name, len(got.data), len(p))
			}
			if !slices.Equal(got.views, tc.views) {
				t.Errorf("%s: delivered in views of %v bytes, want %v", tc.name, got.views, tc.views)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: nothing delivered", tc.name)
		}
	}
}

// Only packets from the program's own addresses reach the stack: any other
// source is dropped, counted and logged once (then its total at Close); an
// IPv6 link-local or unspecified source — the program's kernel's own
// solicitations and MLD reports — is dropped without a word.
func TestTUNLinkAntiSpoofing(t *testing.T) {
	l, peer := newTestLink(t)
	var logged []string
	var mu sync.Mutex
	l.log = func(s string) { mu.Lock(); logged = append(logged, s); mu.Unlock() }
	d := make(delivered, 16)
	l.Attach(d)
	packet := func(version byte, src string) []byte {
		a := netip.MustParseAddr(src)
		if version == 4 {
			p := append([]byte{0x45}, make([]byte, 39)...)
			copy(p[12:], a.AsSlice())
			return p
		}
		p := append([]byte{0x60}, make([]byte, 59)...)
		copy(p[8:], a.AsSlice())
		return p
	}
	for _, p := range [][]byte{
		packet(4, "198.18.0.7"), packet(4, "100.96.0.3"), packet(4, "100.96.0.1"),
		packet(6, "2001:2::7"), packet(6, "fd00:5a::3"), packet(6, "fe80::1"), packet(6, "::"),
		{0x45, 0, 0}, // too short to have a source
		packet(4, "100.96.0.2"), packet(6, "fd00:5a::2"),
	} {
		tunWrite(t, peer, p)
	}
	for _, want := range []tcpip.NetworkProtocolNumber{header.IPv4ProtocolNumber, header.IPv6ProtocolNumber} {
		select {
		case got := <-d:
			if got.proto != want {
				t.Errorf("delivered protocol %d, want %d (only the program's own packets)", got.proto, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the program's own packets were not delivered")
		}
	}
	select {
	case got := <-d:
		t.Errorf("also delivered: % x", got.data)
	default:
	}
	if n, ll := l.spoofed.Load(), l.linkLocal.Load(); n != 6 || ll != 2 {
		t.Errorf("counted %d spoofed and %d link-local packets, want 6 and 2", n, ll)
	}
	l.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(logged) != 2 || !strings.Contains(logged[0], "dropped a packet from 198.18.0.7") || !strings.Contains(logged[1], "6 packets dropped") {
		t.Errorf("logged %q; want the first drop, then the total at Close", logged)
	}
}

// A device that takes nothing (its peer never reads) drops what it cannot
// take: a write never blocks the stack's goroutine.
func TestTUNLinkWriteNeverBlocks(t *testing.T) {
	l, _ := newTestLink(t)
	defer l.Close()
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(bytes.Repeat([]byte{0x45}, 1400))})
	defer pkt.DecRef()
	var pkts stack.PacketBufferList
	pkts.PushBack(pkt)
	for range 10000 { // far more than a socket buffer holds
		if n, err := l.WritePackets(pkts); n != 1 || err != nil {
			t.Fatalf("WritePackets = %d, %v", n, err)
		}
	}
}

// When the device goes away under it (a read of end of file), the reader
// ends instead of reading on forever.
func TestTUNLinkReaderEndsAtEOF(t *testing.T) {
	l, peer := newTestLink(t)
	defer l.Close()
	l.Attach(make(delivered))
	unix.Close(peer) // the Cleanup's second close fails harmlessly
	l.Wait()         // hangs (the test times out) if the reader spins
}

// checksummed fills in p's IPv4 header checksum and its TCP, UDP or ICMP
// checksum, as the program's kernel does for a packet it sends complete.
func checksummed(p []byte) []byte {
	var src, dst tcpip.Address
	var proto tcpip.TransportProtocolNumber
	var l4 []byte
	if header.IPVersion(p) == header.IPv4Version {
		ip := header.IPv4(p)
		ip.SetChecksum(0)
		ip.SetChecksum(^ip.CalculateChecksum())
		src, dst, proto, l4 = ip.SourceAddress(), ip.DestinationAddress(), ip.TransportProtocol(), ip.Payload()
	} else {
		ip := header.IPv6(p)
		src, dst, proto, l4 = ip.SourceAddress(), ip.DestinationAddress(), tcpip.TransportProtocolNumber(ip.NextHeader()), ip.Payload()
	}
	at := map[tcpip.TransportProtocolNumber]int{header.TCPProtocolNumber: 16, header.UDPProtocolNumber: 6, header.ICMPv4ProtocolNumber: 2, header.ICMPv6ProtocolNumber: 2}[proto]
	l4[at], l4[at+1] = 0, 0
	xsum := uint16(0)
	if proto != header.ICMPv4ProtocolNumber {
		xsum = header.PseudoHeaderChecksum(proto, src, dst, uint16(len(l4)))
	}
	xsum = ^checksum.Checksum(l4, xsum)
	if xsum == 0 && proto == header.UDPProtocolNumber {
		xsum = 0xffff // RFC 768: a computed zero is sent as all ones
	}
	l4[at], l4[at+1] = byte(xsum>>8), byte(xsum)
	return p
}

// The link verifies the checksums of a packet the program's kernel does
// not vouch for (no virtio_net_hdr flag: a raw socket's, or ICMP) and
// drops it when one is wrong, as a network card drops a corrupt frame; a
// packet whose checksum the kernel left to the device (NEEDS_CSUM) or has
// verified (DATA_VALID) goes to the stack as it is; a packet with a
// segmentation offload, never turned on, is dropped.
func TestTUNLinkVerifiesUntrustedChecksums(t *testing.T) {
	l, peer := newTestLink(t)
	d := make(delivered, 4)
	l.Attach(d)
	defer l.Close()
	far4, far6 := netip.MustParseAddrPort("198.18.0.2:443"), netip.MustParseAddrPort("[2001:2::2]:443")
	prog4, prog6 := netip.AddrPortFrom(ProgramAddr4.Addr(), 40000), netip.AddrPortFrom(ProgramAddr6.Addr(), 40000)
	echo := func() []byte { // an ICMP echo request
		p := make([]byte, header.IPv4MinimumSize+header.ICMPv4MinimumSize+4)
		header.IPv4(p).Encode(&header.IPv4Fields{TotalLength: uint16(len(p)), TTL: 64, Protocol: uint8(header.ICMPv4ProtocolNumber),
			SrcAddr: tcpip.AddrFrom4(prog4.Addr().As4()), DstAddr: tcpip.AddrFrom4(far4.Addr().As4())})
		p[header.IPv4MinimumSize] = byte(header.ICMPv4Echo)
		return p
	}
	echo6 := func() []byte { // an ICMPv6 echo request
		p := make([]byte, header.IPv6MinimumSize+header.ICMPv6MinimumSize+4)
		header.IPv6(p).Encode(&header.IPv6Fields{PayloadLength: uint16(len(p) - header.IPv6MinimumSize), TransportProtocol: header.ICMPv6ProtocolNumber, HopLimit: 64,
			SrcAddr: tcpip.AddrFrom16(prog6.Addr().As16()), DstAddr: tcpip.AddrFrom16(far6.Addr().As16())})
		p[header.IPv6MinimumSize] = byte(header.ICMPv6EchoRequest)
		return p
	}
	packets := map[string][]byte{
		"icmp6": checksummed(echo6()),
		"tcp4":  checksummed(tcpPacket(prog4, far4, header.TCPFlagSyn)),
		"tcp6":  checksummed(tcpPacket(prog6, far6, header.TCPFlagSyn)),
		"udp4":  checksummed(udpPacket(prog4, far4, []byte("datagram"))),
		"udp6":  checksummed(udpPacket(prog6, far6, []byte("datagram"))),
		"icmp4": checksummed(echo()),
	}
	corrupt := func(p []byte) []byte {
		q := slices.Clone(p)
		q[len(q)-1] ^= 0xff // the transport checksum covers it
		return q
	}
	noUDPChecksum := func(p []byte) []byte {
		q := slices.Clone(p)
		ipLen := header.IPv4MinimumSize
		if header.IPVersion(q) == header.IPv6Version {
			ipLen = header.IPv6MinimumSize
		}
		q[ipLen+6], q[ipLen+7] = 0, 0
		return q
	}
	badIPHeader := slices.Clone(packets["tcp4"])
	badIPHeader[8]-- // the TTL: only the IPv4 header checksum covers it
	marker := packets["udp4"]
	for _, tc := range []struct {
		name      string
		flags     byte
		gso       byte
		p         []byte
		delivered bool
	}{
		{"tcp4", 0, 0, packets["tcp4"], true},
		{"tcp6", 0, 0, packets["tcp6"], true},
		{"udp6", 0, 0, packets["udp6"], true},
		{"icmp4", 0, 0, packets["icmp4"], true},
		{"tcp4 corrupt", 0, 0, corrupt(packets["tcp4"]), false},
		{"tcp6 corrupt", 0, 0, corrupt(packets["tcp6"]), false},
		{"udp4 corrupt", 0, 0, corrupt(packets["udp4"]), false},
		{"udp6 corrupt", 0, 0, corrupt(packets["udp6"]), false},
		{"icmp4 corrupt", 0, 0, corrupt(packets["icmp4"]), false},
		{"icmp6", 0, 0, packets["icmp6"], true},
		{"icmp6 corrupt", 0, 0, corrupt(packets["icmp6"]), false},
		{"ipv4 header corrupt", 0, 0, badIPHeader, false},
		{"udp4 without checksum", 0, 0, noUDPChecksum(packets["udp4"]), true},
		{"udp6 without checksum", 0, 0, noUDPChecksum(packets["udp6"]), false},
		{"tcp4 checksum left to the device", vnetNeedsCsum, 0, corrupt(packets["tcp4"]), true},
		{"udp6 checksum left to the device", vnetNeedsCsum, 0, corrupt(packets["udp6"]), true},
		{"tcp6 verified by the kernel", vnetDataValid, 0, corrupt(packets["tcp6"]), true},
		{"tcp4 segmentation offload", vnetNeedsCsum, 1, packets["tcp4"], false},
	} {
		hdr := make([]byte, vnetHdrLen)
		hdr[0], hdr[1] = tc.flags, tc.gso
		if _, err := unix.Write(peer, append(hdr, tc.p...)); err != nil {
			t.Fatal(err)
		}
		tunWriteFlags(t, peer, 0, marker) // then a good one: the reader keeps the order
		want := [][]byte{marker}
		if tc.delivered {
			want = [][]byte{tc.p, marker}
		}
		for _, w := range want {
			select {
			case got := <-d:
				if !bytes.Equal(got.data, w) {
					t.Errorf("%s: delivered % x, want % x", tc.name, got.data, w)
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("%s: nothing delivered", tc.name)
			}
		}
	}
}
