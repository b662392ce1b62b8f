package netstack

import (
	"encoding/binary"
	"net/netip"
	"sync"
	"sync/atomic"

	"gvisor.dev/gvisor/pkg/buffer"
	"gvisor.dev/gvisor/pkg/tcpip/header"
)

// handshakeGate holds back the program's packets on a flow while the
// stack writes that flow's SYN-ACK; the writer passes them on when its
// write has returned.
//
// Why: gVisor writes a SYN-ACK while it holds the new connection's lock,
// and a TUN write runs the program's kernel on the packet before it
// returns — which answers with its ACK at once, and wakes whatever waits
// for the connect. The reader goroutine, on the other CPU, would hand
// that ACK to gVisor's TCP processor, which finds the lock held and tries
// again in a loop that never yields. On two vCPUs the writer is then
// often preempted (by the thread its own write woke) while the processor
// spins on the other CPU: counted in a patched gVisor, ~3,600 requeues of
// the one endpoint per connection, 60% of the supervisor's CPU in --net
// sandbox (pprof, 3,000 connect+close cycles). Held here and passed on by
// the writer once its write is over (the lock is let go a few
// instructions later), the ACK costs no spin and no goroutine wake-up.
// Measured (this 2-vCPU VM, 12 alternating rounds of 2,000 connect+close):
// CPU per connect, all processes, 594 → 480 µs; 1,000 connects from 100
// threads at once, p99 70–93 ms → 39–44 ms.
//
// Only the packets of the very flow whose SYN-ACK is being written are
// held, and a SYN-ACK write ends by itself (a TUN write never blocks).
type handshakeGate struct {
	writing atomic.Int32 // SYN-ACK writes under way: the reader's fast path
	mu      sync.Mutex
	// +checklocks:mu
	flows map[gateKey]*gateFlow
}

// gateFlow is a flow whose SYN-ACK is being written.
type gateFlow struct {
	writes int            // its SYN-ACK writes under way (a retransmission may overlap)
	held   []*buffer.View // what the program sent on it meanwhile, in order
}

// gateKey names a TCP flow by what both of its directions carry: the far
// end and the program's port (the program has one address per family).
type gateKey struct {
	far     netip.AddrPort
	program uint16
}

func newHandshakeGate() *handshakeGate {
	return &handshakeGate{flows: make(map[gateKey]*gateFlow)}
}

// begin marks out a write of pkt (the stack's packet, as header and
// payload slices), when it is a SYN-ACK: end must be called when the
// write returns.
func (g *handshakeGate) begin(pkt [][]byte) (k gateKey, synAck bool) {
	// A SYN-ACK carries no data (gVisor sends none with it): a longer
	// packet — every one of a bulk transfer — is not looked into.
	size := 0
	for _, s := range pkt {
		size += len(s)
	}
	if size > header.IPv6MinimumSize+header.TCPHeaderMaximumSize {
		return gateKey{}, false
	}
	var head [header.IPv6MinimumSize + header.TCPMinimumSize]byte
	n := 0
	for _, s := range pkt {
		n += copy(head[n:], s)
		if n == len(head) {
			break
		}
	}
	src, _, sport, dport, flags, ok := tcpHeader(head[:n])
	if !ok || flags&(header.TCPFlagSyn|header.TCPFlagAck) != header.TCPFlagSyn|header.TCPFlagAck {
		return gateKey{}, false
	}
	k = gateKey{netip.AddrPortFrom(src, sport), dport}
	g.mu.Lock()
	f := g.flows[k]
	if f == nil {
		f = &gateFlow{}
		g.flows[k] = f
	}
	f.writes++
	g.writing.Add(1)
	g.mu.Unlock()
	return k, true
}

// end ends the write begin marked out and returns what was held of the
// flow, for the writer to pass on, once no write of its SYN-ACK is left.
func (g *handshakeGate) end(k gateKey) []*buffer.View {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.writing.Add(-1)
	f := g.flows[k]
	if f.writes--; f.writes > 0 {
		return nil
	}
	delete(g.flows, k)
	return f.held
}

// hold keeps v, a packet from the program, when it belongs to a flow whose
// SYN-ACK is being written, and reports whether it did.
func (g *handshakeGate) hold(v *buffer.View) bool {
	if g.writing.Load() == 0 {
		return false
	}
	_, dst, sport, dport, _, ok := tcpHeader(v.AsSlice())
	if !ok {
		return false
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	f := g.flows[gateKey{netip.AddrPortFrom(dst, dport), sport}]
	if f == nil {
		return false
	}
	f.held = append(f.held, v)
	return true
}

// tcpHeader reads an IPv4 or IPv6 TCP packet's addresses, ports and
// flags; ok is false for anything else (other protocols, IPv6 extension
// headers, fragments, a short packet).
func tcpHeader(b []byte) (src, dst netip.Addr, sport, dport uint16, flags header.TCPFlags, ok bool) {
	var tcp []byte
	switch header.IPVersion(b) {
	case header.IPv4Version:
		if len(b) < header.IPv4MinimumSize {
			return
		}
		ihl := int(b[0]&0xf) * 4
		frag := binary.BigEndian.Uint16(b[6:8]) & 0x3fff // MF or an offset
		if b[9] != uint8(header.TCPProtocolNumber) || ihl < header.IPv4MinimumSize || frag != 0 || len(b) < ihl+header.TCPMinimumSize {
			return
		}
		src, dst, tcp = netip.AddrFrom4([4]byte(b[12:16])), netip.AddrFrom4([4]byte(b[16:20])), b[ihl:]
	case header.IPv6Version:
		if len(b) < header.IPv6MinimumSize+header.TCPMinimumSize || b[6] != uint8(header.TCPProtocolNumber) {
			return
		}
		src, dst, tcp = netip.AddrFrom16([16]byte(b[8:24])), netip.AddrFrom16([16]byte(b[24:40])), b[header.IPv6MinimumSize:]
	default:
		return
	}
	return src, dst, binary.BigEndian.Uint16(tcp[0:2]), binary.BigEndian.Uint16(tcp[2:4]), header.TCPFlags(tcp[13]), true
}
