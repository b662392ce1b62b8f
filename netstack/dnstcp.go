package netstack

import (
	"time"

	"gvisor.dev/gvisor/pkg/tcpip/adapters/gonet"
	"gvisor.dev/gvisor/pkg/tcpip/transport/tcp"
	"gvisor.dev/gvisor/pkg/waiter"
)

// serveDNSOverTCP answers DNS over TCP at the gateway, one connection of
// length-prefixed messages at a time, each judged by itself.
func (st *Stack) serveDNSOverTCP(r *tcp.ForwarderRequest) {
	if !st.lim.acquire(&st.lim.dnsTCP) {
		r.Complete(true)
		return
	}
	var wq waiter.Queue
	ep, tcpErr := r.CreateEndpoint(&wq)
	if tcpErr != nil {
		st.lim.release(&st.lim.dnsTCP)
		r.Complete(true)
		return
	}
	r.Complete(false)
	c := gonet.NewTCPConn(&wq, ep)
	if !st.enter() {
		st.lim.release(&st.lim.dnsTCP)
		c.Close()
		return
	}
	go func() {
		defer st.wg.Done()
		defer st.lim.release(&st.lim.dnsTCP)
		defer c.Close()
		defer closeOnCancel(st.ctx, c)()
		for {
			c.SetReadDeadline(time.Now().Add(dnsTCPIdle))
			query, err := readTCPMessage(c)
			if err != nil {
				return
			}
			resp := st.dns.answer(st.ctx, query, true)
			if resp == nil || writeTCPMessage(c, resp) != nil {
				return
			}
		}
	}()
}
