package netstack

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

// tunLink is the stack's side of the TUN device: it reads the program's
// packets through Go's network poller and delivers each on the reading
// goroutine, and writes the stack's packets on the goroutine that sends
// them (WritePackets).
//
// Why not gVisor's fdbased endpoint: it waits for packets in a ppoll made
// as an ordinary blocking syscall, so its thread keeps its P (Go's right
// to run code) while it sleeps, and it hands every packet to a processor
// goroutine — which it readies on that same P just before going back to
// sleep. The packet then waits until Go's sysmon takes the P back, 20 µs
// to 10 ms later: measured, a connect through the stack spent most of its
// ~450 µs so. Here a goroutine waiting for the device holds no P, and no
// packet waits for another goroutine before the stack sees it. (A reader
// that sleeps in gVisor's rawfile.BlockingPoll, which gives its P up at
// once, was tried too: no faster to see a SYN, and slower to hand it on.)
//
// Why writes are not queued: the stack writes a SYN-ACK while it holds the
// new connection's lock, and the program's kernel answers it with an ACK
// within that very write(2), so gVisor's TCP processor would spin on the
// lock for as long as the write lasts. A writer goroutine that writes after
// the lock is let go was measured slower: its wake-up costs more than the
// spin. Instead the reader holds that one ACK back until the write has
// returned (handshakeGate).
type tunLink struct {
	fd   int      // the device, non-blocking; owned by file
	file *os.File // fd in Go's network poller
	raw  syscall.RawConn
	mtu  uint32
	gate *handshakeGate // holds a SYN-ACK's reply until its write returns

	// mu guards the stack's side of the link: Attach and Close write,
	// the reader and writeRaw read.
	mu sync.RWMutex
	// +checklocks:mu
	dispatcher stack.NetworkDispatcher
	// +checklocks:mu
	closed  bool // the device is closed: nothing is read or written
	reading sync.WaitGroup

	// writeMu is held, shared, by every write to fd, and exclusively by
	// closeFile, which sets writeClosed: no write uses fd once it may
	// name another file.
	writeMu sync.RWMutex
	// +checklocks:writeMu
	writeClosed bool

	// log, when set (before Attach), is told of the first packet
	// dropped for its source, and of their number at Close.
	log       func(string)
	spoofed   atomic.Uint64 // packets dropped: a source not the program's
	linkLocal atomic.Uint64 // packets dropped: IPv6 link-local or unspecified source
	closeLog  sync.Once
}

var _ stack.LinkEndpoint = (*tunLink)(nil)

// smallPacket is the size up to which a packet read is copied into a view
// of its own size: headers and a small payload (a SYN, an ACK, a DNS query)
// cost a copy of at most this much, and bulk segments are kept as read.
const smallPacket = 2048

// newTUNLink takes ownership of fd, a TUN device made with TUNFlags and
// given TUNOffloads (IP packets behind a virtio_net_hdr).
func newTUNLink(fd int, mtu uint32) (*tunLink, error) {
	if err := unix.SetNonblock(fd, true); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("TUN device non-blocking: %w", err)
	}
	file := os.NewFile(uintptr(fd), "tun")
	raw, err := file.SyscallConn()
	if err != nil {
		file.Close()
		return nil, fmt.Errorf("TUN device: %w", err)
	}
	return &tunLink{fd: fd, file: file, raw: raw, mtu: mtu, gate: newHandshakeGate()}, nil
}

// Attach starts delivering the device's packets to d; a nil d (the NIC is
// being removed) stops it and waits for the reader to end.
func (l *tunLink) Attach(d stack.NetworkDispatcher) {
	l.mu.Lock()
	if d == nil {
		l.dispatcher = nil
		l.mu.Unlock()
		l.closeFile()
		l.reading.Wait()
		return
	}
	start := l.dispatcher == nil && !l.closed
	l.dispatcher = d
	l.mu.Unlock()
	if start {
		l.reading.Add(1)
		go l.readLoop()
	}
}

// stopReading closes the device and waits for the reader to end. The
// caller holds none of the stack's locks: the reader may be delivering a
// packet, which takes them.
func (l *tunLink) stopReading() {
	l.closeFile()
	l.reading.Wait()
}

// closeFile ends writing, then closes the device once, waking the reader:
// no write uses fd once it may name another file.
func (l *tunLink) closeFile() {
	l.writeMu.Lock()
	l.writeClosed = true
	l.writeMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.closed = true
		l.file.Close()
	}
}

// readLoop reads one packet per read(2) — a TUN device gives one a read —
// until the device is closed.
func (l *tunLink) readLoop() {
	defer l.reading.Done()
	// The view read into. A packet handed to the stack in it needs a new
	// one: the stack may keep it (a queued segment) past the next read.
	// A small packet is copied out instead (see below) and the view is
	// read into again: gVisor clears every view it hands out, and each
	// SYN, ACK and FIN need not clear 64 KiB (memclr was ~1.4% of the
	// sandbox's CPU in sequential connects through the gateway).
	var v *buffer.View
	defer func() {
		if v != nil {
			v.Release()
		}
	}()
	// One read function for every packet: made anew in the loop, it and
	// the variables it sets escaped to the heap for each packet (go
	// build -gcflags=-m: four allocations a read). n and rerr are set
	// by every read that returns no error.
	var (
		n    int
		rerr error
		hdr  [vnetHdrLen]byte
	)
	read := func(fd uintptr) bool {
		n, rerr = readVnet(int(fd), &hdr, v.AsSlice())
		return rerr != unix.EAGAIN
	}
	for {
		if v == nil {
			v = buffer.NewViewSize(int(l.mtu))
		}
		err := l.raw.Read(read)
		if err == nil {
			err = rerr
		}
		if err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, errShortRead) {
				continue
			}
			return // closed (os.ErrClosed), or the device is gone
		}
		if n == 0 {
			return // end of file: the device is gone (reading on would spin)
		}
		if hdr[1] != 0 {
			continue // a segmentation offload, which is never turned on
		}
		trusted := checksumTrusted(hdr[:])
		if n <= smallPacket {
			// A small packet gets a view of its own size: the stack
			// may hold it (a SYN waits in the forwarder while its
			// dial is under way), and a flood of small packets
			// would otherwise hold a 64 KiB view each (measured:
			// 1024 SYNs in flight held ~64 MB).
			l.deliver(buffer.NewViewWithData(v.AsSlice()[:n]), trusted)
			continue
		}
		v.CapLength(n)
		l.deliver(v, trusted)
		v = nil
	}
}

// The program's own addresses, the only sources netstack accepts.
var (
	programSrc4 = ProgramAddr4.Addr().As4()
	programSrc6 = ProgramAddr6.Addr().As16()
)

// deliver passes one packet read from the device to the stack, if it
// comes from the program's own address.
//
// Anti-spoofing (BCP 38, as an ISP's edge router does it): the program is
// root in its namespace and can write any source address on tun0. A
// packet from another source could only be meant to make the stack hold
// state for flows nobody will finish — handshakes waiting for an ACK that
// never comes, a UDP flow or host socket per made-up address — or to pass
// as someone else. It is dropped here, before gVisor parses it, which is
// the cheapest place: no packet buffer is made for it.
//
// A packet whose checksums are not trusted (checksumTrusted) is verified
// here too, and dropped when one is wrong, as a network card drops a
// corrupt frame.
func (l *tunLink) deliver(v *buffer.View, trusted bool) {
	var proto tcpip.NetworkProtocolNumber
	b := v.AsSlice()
	switch header.IPVersion(b) {
	case header.IPv4Version:
		proto = header.IPv4ProtocolNumber
		if len(b) < header.IPv4MinimumSize || [4]byte(b[12:16]) != programSrc4 {
			l.dropSource(b)
			v.Release()
			return
		}
	case header.IPv6Version:
		proto = header.IPv6ProtocolNumber
		if len(b) < header.IPv6MinimumSize || [16]byte(b[8:24]) != programSrc6 {
			l.dropSource(b)
			v.Release()
			return
		}
	default:
		v.Release() // not IP: nothing the stack could take
		return
	}
	if !trusted && !checksumsValid(proto, b) {
		v.Release()
		return
	}
	if l.gate.hold(v) {
		return // the writer of its flow's SYN-ACK passes it on
	}
	l.dispatch(proto, v)
}

// headerSplit is how much of a bulk packet dispatch puts in a view of its
// own: the longest IP header and TCP header (60 bytes each) fit.
const headerSplit = 128

// dispatch hands one packet, checked, to the stack.
//
// A TCP segment longer than smallPacket goes in as two views, its first
// headerSplit bytes and the rest (other packets, a large DNS query over
// UDP among them, stay whole: the link's DNS reads them as one slice).
// gVisor's IPv4 input keeps a reference to the view that holds the IP
// header while it reads that header once more (after its prerouting
// hook), and a view shared so is copied whole before it is read (copy on
// write): with one view, every 64 KiB segment was cleared and copied once
// more (perf, iperf3 through --net sandbox: 3.4% of the supervisor's
// samples). With the headers apart, that copy is of 128 bytes.
func (l *tunLink) dispatch(proto tcpip.NetworkProtocolNumber, v *buffer.View) {
	var payload buffer.Buffer
	if v.Size() > smallPacket && isTCP(proto, v.AsSlice()) {
		payload = buffer.MakeWithView(buffer.NewViewWithData(v.AsSlice()[:headerSplit]))
		v.TrimFront(headerSplit)
		if err := payload.Append(v); err != nil {
			// Append fails only for a view of no bytes.
			v.Release()
		}
	} else {
		payload = buffer.MakeWithView(v)
	}
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: payload})
	defer pkt.DecRef()
	l.mu.RLock()
	d := l.dispatcher
	l.mu.RUnlock()
	if d != nil {
		d.DeliverNetworkPacket(proto, pkt)
	}
}

// isTCP reports whether b, a packet of proto, carries TCP right after its
// fixed IP header.
func isTCP(proto tcpip.NetworkProtocolNumber, b []byte) bool {
	if proto == header.IPv4ProtocolNumber {
		return header.IPv4(b).Protocol() == uint8(header.TCPProtocolNumber)
	}
	return header.IPv6(b).NextHeader() == uint8(header.TCPProtocolNumber)
}

// dropSource counts a packet dropped for its source, and logs the first
// one. IPv6 packets from a link-local or the unspecified address are the
// program's kernel's own upkeep of tun0 — router and neighbour
// solicitations, MLD reports, DAD — which a TUN link with no router and no
// link-layer addresses does not need: dropped without a word (nothing here
// answers them, and the kernel gives up after a few).
func (l *tunLink) dropSource(b []byte) {
	if len(b) >= header.IPv6MinimumSize && header.IPVersion(b) == header.IPv6Version {
		src := netip.AddrFrom16([16]byte(b[8:24]))
		if src.IsLinkLocalUnicast() || src.IsUnspecified() {
			l.linkLocal.Add(1)
			return
		}
	}
	if l.spoofed.Add(1) == 1 && l.log != nil {
		src := "?"
		switch {
		case len(b) >= header.IPv4MinimumSize && header.IPVersion(b) == header.IPv4Version:
			src = netip.AddrFrom4([4]byte(b[12:16])).String()
		case len(b) >= header.IPv6MinimumSize:
			src = netip.AddrFrom16([16]byte(b[8:24])).String()
		}
		// Once, not per packet: a flood of them would flood the log.
		// The total comes at Close.
		l.log(fmt.Sprintf("sandbox: netstack: dropped a packet from %s: not the program's address (%s, %s); every such packet is dropped (the count is logged at the end)",
			src, ProgramAddr4.Addr(), ProgramAddr6.Addr()))
	}
}

// logDrops logs, once, how many packets were dropped for their source.
func (l *tunLink) logDrops() {
	l.closeLog.Do(func() {
		if n := l.spoofed.Load(); n > 0 && l.log != nil {
			l.log(fmt.Sprintf("sandbox: netstack: %d packets dropped in all: their source was not the program's address", n))
		}
	})
}

// WritePackets writes the packets to the device, one writev(2) each, on
// the caller's goroutine: a TUN device takes one packet a write and never
// blocks — the kernel takes the packet at once, or drops it as a full
// link would (TCP sends it again). Written here, not handed to a writer
// goroutine, a packet costs no goroutine wake-up: on a 2-vCPU machine that
// hop was ~60 µs of each connect's scheduling delay in --net sandbox (Go's
// execution trace of 2,000 connect+close cycles; BenchmarkSandboxConnectLatency).
func (l *tunLink) WritePackets(pkts stack.PacketBufferList) (int, tcpip.Error) {
	n, held, err := l.write(pkts)
	// What the reader held back while a SYN-ACK was being written (its
	// flow's ACK, maybe more) goes on now, in order — after writeMu, as
	// the stack may write again on the way.
	for _, h := range held {
		l.dispatch(h.proto, h.v)
	}
	return n, err
}

// heldPacket is a packet the handshake gate held back.
type heldPacket struct {
	proto tcpip.NetworkProtocolNumber
	v     *buffer.View
}

func (l *tunLink) write(pkts stack.PacketBufferList) (n int, held []heldPacket, err tcpip.Error) {
	l.writeMu.RLock()
	defer l.writeMu.RUnlock()
	if l.writeClosed {
		return 0, nil, &tcpip.ErrClosedForSend{}
	}
	for _, pkt := range pkts.AsSlice() {
		views := pkt.AsSlices()
		k, synAck := l.gate.begin(views)
		writeVnet(l.fd, views)
		if synAck {
			for _, v := range l.gate.end(k) {
				held = append(held, heldPacket{pkt.NetworkProtocolNumber, v})
			}
		}
		n++
	}
	return n, held, nil
}

// writeRaw writes one packet the stack did not make (an ICMP error made up
// for the program).
func (l *tunLink) writeRaw(b []byte) {
	pkt := stack.NewPacketBuffer(stack.PacketBufferOptions{Payload: buffer.MakeWithData(b)})
	defer pkt.DecRef()
	var pkts stack.PacketBufferList
	pkts.PushBack(pkt)
	l.WritePackets(pkts)
}

// MTU implements stack.LinkEndpoint.
func (l *tunLink) MTU() uint32 { return l.mtu }

// SetMTU implements stack.LinkEndpoint: the device's MTU is set where it
// is created, and the stack follows it.
func (l *tunLink) SetMTU(uint32) {}

// MaxHeaderLength implements stack.LinkEndpoint: a TUN device has no
// link-layer header.
func (l *tunLink) MaxHeaderLength() uint16 { return 0 }

// LinkAddress implements stack.LinkEndpoint: none, as for any TUN device.
func (l *tunLink) LinkAddress() tcpip.LinkAddress { return "" }

// SetLinkAddress implements stack.LinkEndpoint.
func (l *tunLink) SetLinkAddress(tcpip.LinkAddress) {}

// Capabilities implements stack.LinkEndpoint: the stack takes every packet
// read as checksummed — the reader has verified those the program's
// kernel does not vouch for (see vnet.go), so a packet a raw socket
// corrupts is still dropped as a real network's receiver would drop it —
// and computes the checksums of what it writes.
func (l *tunLink) Capabilities() stack.LinkEndpointCapabilities {
	return stack.CapabilityRXChecksumOffload
}

// IsAttached implements stack.LinkEndpoint.
func (l *tunLink) IsAttached() bool {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.dispatcher != nil
}

// Wait implements stack.LinkEndpoint: it waits for the reader to end.
func (l *tunLink) Wait() { l.reading.Wait() }

// ARPHardwareType implements stack.LinkEndpoint.
func (l *tunLink) ARPHardwareType() header.ARPHardwareType { return header.ARPHardwareNone }

// AddHeader implements stack.LinkEndpoint: there is no link header.
func (l *tunLink) AddHeader(*stack.PacketBuffer) {}

// ParseHeader implements stack.LinkEndpoint: there is no link header.
func (l *tunLink) ParseHeader(*stack.PacketBuffer) bool { return true }

// Close implements stack.LinkEndpoint: it closes the device.
func (l *tunLink) Close() {
	l.closeFile()
	l.reading.Wait()
	l.logDrops()
}

// SetOnCloseAction implements stack.LinkEndpoint.
func (l *tunLink) SetOnCloseAction(func()) {}
