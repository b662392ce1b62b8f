package netstack

import (
	"context"
	"errors"
	"io"
	"sync"
	"syscall"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"

	"sandbox/policy"
)

func (st *Stack) forwardTCP(r *tcp.ForwarderRequest) {
	id := r.ID()
	dst := addrPort(id.LocalAddress, id.LocalPort)
	if IsDNS(dst) {
		st.serveDNSOverTCP(r)
		return
	}
	to := Target(dst)
	k := flowKey{src: addrPort(id.RemoteAddress, 0).Addr(), dst: dst.Addr(), sport: id.RemotePort, dport: id.LocalPort}
	if !st.allowed(policy.TCP, to) {
		st.syns.take(k)
		r.Complete(true) // RST: nothing leaves for a denied destination
		return
	}
	// The bounds on connections being set up (per destination, and the
	// host-side connects pending) are a queue that empties within a
	// round trip or a dial timeout: a SYN beyond them is dropped, as a
	// congested path or a full listen queue drops it, and the program's
	// kernel sends it again (after 1 s, 3 s, 7 s…) — a program that
	// opens 50 connections at once to a registry 100 ms away gets all 50,
	// a little late, where a reset would fail the ones past the bound
	// with ECONNREFUSED. A SYN flood costs no more either way: nothing
	// is kept for a dropped SYN. The bound per destination comes first,
	// so a flood to one destination stops there, before it takes any of
	// the global slots. The bound on connections in use is no queue (a
	// connection may last for hours): beyond it a reset refuses the new
	// one, as a host out of resources does. The connections under way
	// go on in every case.
	if !st.lim.acquireSetup(to) {
		st.syns.take(k)
		r.Complete(false)
		return
	}
	if !st.lim.acquire(&st.lim.tcpConns) {
		st.lim.releaseSetup(to)
		st.syns.take(k)
		r.Complete(true)
		return
	}
	defer st.lim.release(&st.lim.tcpConns)
	setup := true
	endSetup := func() {
		if setup {
			setup = false
			st.lim.releaseSetup(to)
		}
	}
	defer endSetup()
	if !st.lim.acquire(&st.lim.dials) {
		st.syns.take(k)
		r.Complete(false) // dropped: see acquireSetup above
		return
	}
	// Each request runs on a goroutine of the warm pool's: dial and
	// splice here, with no further hand-off but the copy's other
	// direction.
	if !st.enterSending() {
		st.lim.release(&st.lim.dials)
		st.syns.take(k)
		r.Complete(true)
		return
	}
	defer st.wg.Done()
	sent := sync.OnceFunc(st.sending.Done)
	defer sent() // when the flow ends before its data could flow
	up, err := dialTCP(st.ctx, to)
	st.lim.release(&st.lim.dials)
	quote := st.syns.take(k)
	if err != nil {
		st.refuse(r, k, quote, err)
		return
	}
	if !st.lim.acquire(&st.lim.handshakes) {
		r.Complete(true)
		up.Close()
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq) // until the program's ACK, or tcpSynRetries
	st.lim.release(&st.lim.handshakes)
	endSetup()
	if tcpErr != nil {
		r.Complete(true)
		up.Close()
		return
	}
	r.Complete(false)
	// Set before any data: the SYN-ACK offered at most 64 KiB (its window
	// is not scaled), so a smaller buffer takes nothing back.
	// A size set here also ends the endpoint's growth.
	switch {
	case st.lim.acquireQuiet(&st.lim.growConns):
		defer st.lim.release(&st.lim.growConns)
	case st.lim.acquireQuiet(&st.lim.bulkConns):
		defer st.lim.release(&st.lim.bulkConns)
		ep.SocketOptions().SetReceiveBufferSize(tcpBulkBufferSize, true)
		ep.SocketOptions().SetSendBufferSize(tcpBulkBufferSize, true)
	default:
		ep.SocketOptions().SetReceiveBufferSize(tcpBufferSize, true)
		ep.SocketOptions().SetSendBufferSize(tcpBufferSize, true)
	}
	down := gonet.NewTCPConn(&wq, ep)
	defer closeOnCancel(st.ctx, down, up)()
	splice(down, up, st.warm.Go, sent)
}

// closeOnCancel closes conns when ctx ends — a flow whose destination
// neither sends nor closes would otherwise hold Close for ever — and
// returns the function that stops it.
func closeOnCancel(ctx context.Context, conns ...io.Closer) (stop func()) {
	s := context.AfterFunc(ctx, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	return func() { s() }
}

// refuse ends the program's handshake as the failed dial says the network
// would have: an unreachable network or host with the ICMP error that
// makes its connect fail with ENETUNREACH or EHOSTUNREACH, a timeout with
// silence (its connect times out by itself), anything else — a refusal —
// with a reset (ECONNREFUSED).
func (st *Stack) refuse(r *tcp.ForwarderRequest, k flowKey, quote []byte, err error) {
	netUnreach, hostUnreach := errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH)
	switch {
	case (netUnreach || hostUnreach) && quote != nil:
		r.Complete(false)
		// Written straight to the TUN device, as a router's error
		// would arrive; a lost one leaves the program to time out.
		st.link.writeRaw(unreachable(k, quote, hostUnreach))
	case isTimeout(err):
		r.Complete(false)
	default:
		r.Complete(true)
	}
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool } // net.Error's, os.SyscallError's, context's
	return errors.As(err, &te) && te.Timeout()
}
