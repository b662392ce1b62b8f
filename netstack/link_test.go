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
		if _, err := unix.Write(peer, p); err != nil {
			t.Fatal(err)
		}
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
	buf := make([]byte, 100)
	n, err := unix.Read(peer, buf) // blocking: the peer end is
	if err != nil || !bytes.Equal(buf[:n], out) {
		t.Fatalf("peer read %q, %v; want %q", buf[:n], err, out)
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
		if _, err := unix.Write(peer, p); err != nil {
			t.Fatal(err)
		}
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
		if _, err := unix.Write(peer, p); err != nil {
			t.Fatal(err)
		}
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
