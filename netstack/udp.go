package netstack

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/transport/udp"
	"gvisor.dev/gvisor/pkg/waiter"

	"sandbox/policy"
)

func (st *Stack) forwardUDP(r *udp.ForwarderRequest) bool {
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	if IsDNS(dst) {
		// Queries are answered from the link (dnsDatagram); what
		// reaches the forwarder is a fragmented one, which no resolver
		// sends: dropped.
		return true
	}
	to := Target(dst)
	if !st.allowed(policy.UDP, to) {
		return true // dropped: handled, nothing leaves
	}
	f := &udpFlow{done: make(chan struct{})}
	if !st.udp.add(f) {
		// Dropped, as a full NAT table drops a new flow's datagrams
		// (no ICMP error: it would be a packet out per packet in).
		return true
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		st.udp.remove(f)
		return true
	}
	up, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(to))
	if err != nil {
		ep.Close()
		st.udp.remove(f)
		return true
	}
	f.ep, f.wq, f.up = ep, &wq, up
	f.last.Store(time.Now().UnixNano())
	st.udp.ready(f)
	if !st.enter() {
		ep.Close()
		up.Close()
		st.udp.remove(f)
		return true
	}
	go func() {
		defer st.wg.Done()
		defer st.udp.remove(f)
		f.relay(st.ctx)
	}()
	return true
}

// udpTable holds the UDP flows being forwarded, at most lim.udpFlows.max.
//
// When it is full, a new flow takes the place of the flow that has gone
// longest without a reply from its destination, if there is one (Linux
// conntrack's early drop does the same): such a flow is a probe, a flood,
// or a peer that is gone — the cheapest to lose, while a flow that has had
// answers is a conversation the program is having. Refusing every new
// flow instead would let a program's own flood of new flows lock out its
// later, real ones until the flood's flows idled out (udpIdle); evicting
// the oldest flow whatever it is would let the flood close the real
// conversations. When every flow has had replies, the new flow is dropped.
type udpTable struct {
	lim   *limits
	mu    sync.Mutex
	flows map[*udpFlow]struct{}
}

// add takes a place for f, evicting a flow without replies if the table is
// full, or reports false.
func (t *udpTable) add(f *udpFlow) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.flows == nil {
		t.flows = map[*udpFlow]struct{}{}
	}
	if len(t.flows) >= int(t.lim.udpFlows.max) {
		t.lim.full(&t.lim.udpFlows)
		var victim *udpFlow
		for g := range t.flows {
			if g.started && !g.replied.Load() && (victim == nil || g.last.Load() < victim.last.Load()) {
				victim = g
			}
		}
		if victim == nil {
			return false
		}
		delete(t.flows, victim)
		victim.stop() // its fd is closed now; its goroutines end shortly
	}
	t.flows[f] = struct{}{}
	return true
}

// ready marks f set up: from now it may be evicted.
func (t *udpTable) ready(f *udpFlow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	f.started = true
}

func (t *udpTable) remove(f *udpFlow) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.flows, f)
}

// udpFlow is one UDP flow: the program's endpoint in the stack (ep) and the
// host's socket (up).
type udpFlow struct {
	ep       tcpip.Endpoint
	wq       *waiter.Queue
	up       *net.UDPConn
	done     chan struct{} // closed: the flow must end
	stopOnce sync.Once
	started  bool         // under udpTable.mu: ep and up are set
	last     atomic.Int64 // unix ns of the last datagram either way
	replied  atomic.Bool  // a datagram came back from the destination
}

// stop ends the flow: its relay's loops see done, or an error on up.
func (f *udpFlow) stop() {
	f.stopOnce.Do(func() {
		close(f.done)
		f.up.Close()
	})
}

// udpBufs are the buffers datagrams are relayed through, taken only while
// one is in hand: a flow waiting for traffic holds none (a buffer per
// direction per flow was 128 KiB a flow, 64 MB at maxUDPFlows).
var udpBufs = sync.Pool{New: func() any { return new([65536]byte) }}

// relay carries datagrams both ways until the flow has been idle for
// udpIdle, is evicted, or the stack closes.
func (f *udpFlow) relay(ctx context.Context) {
	defer f.ep.Close()
	defer f.stop()
	go func() {
		select {
		case <-ctx.Done():
			f.stop()
		case <-f.done:
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer f.stop()
		f.upstream()
	}()
	f.downstream()
	f.stop()
	wg.Wait()
}

// downstream carries the host's datagrams to the program.
func (f *udpFlow) downstream() {
	raw, err := f.up.SyscallConn()
	if err != nil {
		return
	}
	for {
		f.up.SetReadDeadline(time.Now().Add(udpIdle))
		var buf *[65536]byte
		var n int
		var rerr error
		// The buffer is taken only once the socket is readable.
		err := raw.Read(func(fd uintptr) bool {
			buf = udpBufs.Get().(*[65536]byte)
			n, _, rerr = unix.Recvfrom(int(fd), buf[:], unix.MSG_DONTWAIT)
			if rerr == unix.EAGAIN || rerr == unix.EINTR {
				udpBufs.Put(buf)
				buf = nil
				return false
			}
			return true
		})
		if err == nil {
			err = rerr
		}
		if err != nil {
			if buf != nil {
				udpBufs.Put(buf)
			}
			if idle := errors.Is(err, os.ErrDeadlineExceeded); idle && time.Since(time.Unix(0, f.last.Load())) < udpIdle {
				continue // the other direction was busy
			}
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue // an ICMP error for an earlier datagram: UDP goes on
			}
			return
		}
		f.last.Store(time.Now().UnixNano())
		f.replied.Store(true)
		var r bytes.Reader
		r.Reset(buf[:n])
		_, werr := f.ep.Write(&r, tcpip.WriteOptions{})
		udpBufs.Put(buf)
		if werr != nil {
			if _, full := werr.(*tcpip.ErrWouldBlock); !full {
				return
			}
			// The program does not read: dropped, as UDP is.
		}
	}
}

// upstream carries the program's datagrams to the host.
func (f *udpFlow) upstream() {
	entry, notify := waiter.NewChannelEntry(waiter.ReadableEvents | waiter.EventHUp | waiter.EventErr)
	f.wq.EventRegister(&entry)
	defer f.wq.EventUnregister(&entry)
	timer := time.NewTimer(udpIdle)
	defer timer.Stop()
	for {
		buf := udpBufs.Get().(*[65536]byte)
		w := tcpip.SliceWriter(buf[:])
		res, err := f.ep.Read(&w, tcpip.ReadOptions{})
		if err == nil {
			f.last.Store(time.Now().UnixNano())
			_, werr := f.up.Write(buf[:res.Count])
			udpBufs.Put(buf)
			if werr != nil && !errors.Is(werr, syscall.ECONNREFUSED) {
				return
			}
			continue
		}
		udpBufs.Put(buf)
		if _, wait := err.(*tcpip.ErrWouldBlock); !wait {
			return
		}
		select {
		case <-notify:
		case <-timer.C:
			if idle := time.Since(time.Unix(0, f.last.Load())); idle < udpIdle {
				timer.Reset(udpIdle - idle) // the other direction was busy
				continue
			}
			return
		case <-f.done:
			return
		}
	}
}
