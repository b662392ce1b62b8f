package netstack

import (
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// The program is hostile (ARCHITECTURE.md, rules of the house): everything it can
// make the supervisor hold is bounded per sandbox. Each bound below says
// what one unit of it costs, measured on the supervisor (Go 1.26, amd64),
// and why the number; when a bound is hit the new flow is refused as a
// real network would refuse it, the flows already running go on, and one
// line goes to Config.Log — once per sandbox and limit, never per packet.
const (
	// maxUDPFlows bounds the UDP flows forwarded at once. Each holds a
	// host socket (one fd), a gVisor endpoint with up to 32 KiB queued,
	// two goroutines and, only while a datagram passes, a pooled 64 KiB
	// buffer (measured: a flood holding all 512 flows took the
	// supervisor from ~15 to ~30 MB of RSS, ~32 KiB a flow). A
	// resolver, a QUIC client or a game use a handful; 512 leaves room
	// for a program that fans out, and 512 fds fit under any
	// RLIMIT_NOFILE Go runs with (it raises the soft limit to the hard
	// one; fitFDs checks).
	maxUDPFlows = 512

	// maxTCPConns bounds the TCP connections forwarded at once, from
	// the program's SYN (the dial) to the end of the splice. Each holds
	// a host socket (one fd), a gVisor endpoint, two goroutines and two
	// 64 KiB splice buffers: ~150 KiB idle; at the worst, when the
	// program fills every buffer (a peer that does not read, and a
	// program that does not read), 8.1 MiB for the first maxGrowConns,
	// 2.1 MiB up to maxBulkConns and 640 KiB for the rest (see
	// tcpBulkBufferSize): ~470 MiB in all, which is why it is not more.
	// Browsers keep at most 256 sockets open; 512 leaves room for a
	// crawler or a proxy.
	maxTCPConns = 512

	// maxPendingDials bounds the host-side connects under way at once.
	// A connect to a destination that does not answer holds its slot
	// for dialTimeout. Cost: a goroutine and an fd each.
	maxPendingDials = 256

	// maxSetupPerDest bounds the connections being set up — the
	// host-side connect, then the program's handshake — to one
	// destination (address and port). It is what keeps a flood of SYNs
	// to one destination, dead or alive, from taking the slots the
	// program's connects elsewhere need: beyond it a SYN there is
	// dropped, before any dial (cheap: no fd, no goroutine past the
	// forwarder's), and comes back when the program's kernel resends it
	// — a connect past the bound is late, never refused. Browsers keep
	// 6 connects per host in flight; package managers that download in
	// parallel (uv: 50 at once by default) may have more, to one address,
	// and they wait a second or so. 32 leaves room, and a flood to one
	// destination holds at most an eighth of maxPendingDials.
	maxSetupPerDest = 32

	// maxHandshakes bounds the program's handshakes being completed
	// after a successful dial: each waits for the program's ACK, for
	// up to tcpSynRetries retransmits of the SYN-ACK (15 s), holding a
	// host connection. The program's own kernel answers a SYN-ACK at
	// once, so only a program that sends bare SYNs and drops the
	// SYN-ACKs fills this.
	maxHandshakes = 256

	// maxDNSQueries bounds the gateway's DNS queries over UDP being
	// answered at once (a goroutine each; those that go upstream are
	// bounded again by maxDNSInFlight). Beyond it a query gets SERVFAIL
	// at once, made on the reading goroutine without any state.
	maxDNSQueries = 2 * maxDNSInFlight

	// maxDNSTCPConns bounds DNS-over-TCP connections to the gateway:
	// a resolver opens one when an answer is truncated, and closes it
	// after. Each holds a gVisor endpoint and a goroutine (~20 KiB);
	// they idle out after dnsTCPIdle.
	maxDNSTCPConns = 16
)

// fdReserve is what the supervisor keeps of RLIMIT_NOFILE for itself (the
// seccomp listener, pidfds, the child's fds it takes to connect them, the
// audit log) when the flow bounds are fitted under the limit.
const fdReserve = 512

// limits counts what the program holds of each bounded resource and logs
// each bound the first time it is hit.
type limits struct {
	log func(string) // nil: silent

	udpFlows, tcpConns, dials, handshakes, dnsQueries, dnsUpstream, dnsTCP gauge
	growConns, bulkConns                                                   gauge // tiers, not limits: never logged

	setupMu       sync.Mutex
	setupByDest   map[netip.AddrPort]int // connections being set up, by destination
	perDestLogged bool                   // the per-destination bound was logged
}

// gauge is a count with a bound, which says once when it refuses.
type gauge struct {
	n      atomic.Int32
	max    int32
	logged atomic.Bool
	what   string // "%d UDP flows in use (the limit): …", given max
}

func newLimits(log func(string)) *limits {
	l := &limits{log: log, setupByDest: map[netip.AddrPort]int{}}
	l.udpFlows = gauge{max: maxUDPFlows, what: "%d UDP flows in use (the limit): new UDP flows evict the oldest without a reply, or are dropped, until some end"}
	l.tcpConns = gauge{max: maxTCPConns, what: "%d TCP connections in use (the limit): new connections reset until some end"}
	l.dials = gauge{max: maxPendingDials, what: "%d TCP connects pending on the host (the limit): the SYNs of new connections are dropped, and the program's kernel sends them again, until some complete (a dead destination holds one for up to 30 s)"}
	l.handshakes = gauge{max: maxHandshakes, what: "%d TCP handshakes awaiting the program's ACK (the limit): new connections reset until some complete"}
	l.dnsQueries = gauge{max: maxDNSQueries, what: "%d DNS queries being answered (the limit): further queries answered SERVFAIL until some end"}
	l.growConns = gauge{max: maxGrowConns}
	l.bulkConns = gauge{max: maxBulkConns - maxGrowConns}
	l.dnsUpstream = gauge{max: maxDNSInFlight, what: "%d DNS lookups upstream in flight (the limit): further queries answered SERVFAIL until some end"}
	l.dnsTCP = gauge{max: maxDNSTCPConns, what: "%d DNS-over-TCP connections in use (the limit): new ones reset until some end"}
	return l
}

// fitFDs lowers the bounds that hold fds so that all of them together fit
// under the process's RLIMIT_NOFILE with fdReserve to spare, and says so:
// a supervisor out of fds would fail every connect of the program, not
// only the flooding flows'.
func (l *limits) fitFDs() {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) != nil {
		return
	}
	need := uint64(maxTCPConns + maxUDPFlows + maxDNSInFlight + maxDNSTCPConns)
	if rl.Cur >= need+fdReserve {
		return
	}
	avail := int64(rl.Cur) - fdReserve - maxDNSInFlight - maxDNSTCPConns
	avail = max(avail, 64)
	// Split what is left as the bounds themselves are split.
	l.tcpConns.max = int32(max(avail*maxTCPConns/(maxTCPConns+maxUDPFlows), 32))
	l.udpFlows.max = int32(max(avail*maxUDPFlows/(maxTCPConns+maxUDPFlows), 16))
	l.logf("RLIMIT_NOFILE is %d: at most %d TCP connections and %d UDP flows (raise the limit for more)", rl.Cur, l.tcpConns.max, l.udpFlows.max)
}

func (l *limits) logf(format string, args ...any) {
	if l.log != nil {
		l.log("sandbox: netstack: " + fmt.Sprintf(format, args...))
	}
}

// acquire takes one unit of g, or reports false (and logs, the first
// time) when g is at its bound.
func (l *limits) acquire(g *gauge) bool {
	if g.n.Add(1) > g.max {
		g.n.Add(-1)
		l.full(g)
		return false
	}
	return true
}

// acquireQuiet is acquire for a gauge whose bound is no limit to log.
func (l *limits) acquireQuiet(g *gauge) bool {
	if g.n.Add(1) > g.max {
		g.n.Add(-1)
		return false
	}
	return true
}

// full logs, once, that g is at its bound.
func (l *limits) full(g *gauge) {
	if !g.logged.Swap(true) {
		l.logf(g.what, g.max)
	}
}

func (l *limits) release(g *gauge) { g.n.Add(-1) }

// acquireSetup takes a slot for a connection to dst being set up, or
// reports false (and logs, the first time) when maxSetupPerDest are.
func (l *limits) acquireSetup(dst netip.AddrPort) bool {
	l.setupMu.Lock()
	defer l.setupMu.Unlock()
	if l.setupByDest[dst] >= maxSetupPerDest {
		if !l.perDestLogged {
			l.perDestLogged = true
			l.logf("%d TCP connections being set up to %s (the limit per destination): the SYNs of new connections there are dropped, and the program's kernel sends them again, until some complete (a flood, or a destination slow to answer)", maxSetupPerDest, dst)
		}
		return false
	}
	l.setupByDest[dst]++
	return true
}

func (l *limits) releaseSetup(dst netip.AddrPort) {
	l.setupMu.Lock()
	defer l.setupMu.Unlock()
	if l.setupByDest[dst]--; l.setupByDest[dst] <= 0 {
		delete(l.setupByDest, dst)
	}
}
