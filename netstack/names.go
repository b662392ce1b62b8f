package netstack

import (
	"net/netip"
	"strings"
	"sync"
	"time"
)

// minNameTTL is the least time a name answered to the program keeps its
// addresses allowed: a client connects after it reads the answer, and an
// answer with TTL 0 must not have expired by then.
const minNameTTL = 60 * time.Second

// Names remembers which names the sandbox's DNS resolved to which
// addresses, so that a rule naming a host allows exactly the connections to
// the addresses that name resolved to — for this sandbox, while the answer
// lives.
type Names struct {
	mu     sync.Mutex
	byAddr map[netip.Addr]map[string]time.Time // address → name → expiry
}

// NewNames returns an empty cache.
func NewNames() *Names { return &Names{byAddr: make(map[netip.Addr]map[string]time.Time)} }

// Add records that name resolved to addr, for ttl — unless addr is one no
// name may stand for (see nameless), which is then recorded under no name.
func (n *Names) Add(name string, addr netip.Addr, ttl time.Duration) {
	if nameless(addr) {
		return
	}
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	ttl = max(ttl, minNameTTL)
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.byAddr[addr.Unmap()]
	if m == nil {
		m = make(map[string]time.Time)
		n.byAddr[addr.Unmap()] = m
	}
	if exp := time.Now().Add(ttl); exp.After(m[name]) {
		m[name] = exp
	}
}

// For returns the unexpired names addr was resolved from.
func (n *Names) For(addr netip.Addr) []string {
	if n == nil {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	m := n.byAddr[addr.Unmap()]
	var out []string
	now := time.Now()
	for name, exp := range m {
		if now.Before(exp) {
			out = append(out, name)
		} else {
			delete(m, name)
		}
	}
	return out
}

// Addresses of the sandbox's own link, which the gateway answers for
// itself (the gateway stands for the host's loopback).
var (
	internal4 = ProgramAddr4.Masked()
	internal6 = ProgramAddr6.Masked()
)

// nameless reports whether addr is an address no name may stand for: the
// loopback, link-local, unspecified (0.0.0.0/8 and ::), multicast and
// broadcast addresses, and the sandbox's own link (100.96.0.0/24,
// fd00:5a::/64). A DNS answer is written by whoever runs the name's
// zone: one that points a name a rule allows at 127.0.0.1 or the gateway
// would turn "allow: tcp example.com:443" into a rule for the host's own
// services or the cloud's metadata service — DNS rebinding, the attack
// dnsmasq's --stop-dns-rebind refuses. Such an answer still reaches the
// program (it is the answer), but a connect to the address is judged by
// the address rules alone. (The policy ignores names for these addresses
// too; this is the second layer.) Private ranges (10/8, 192.168/16…) are
// not among them, unlike in dnsmasq: other containers and internal hosts
// live there, and rules name them (allow: tcp db:5432).
func nameless(addr netip.Addr) bool {
	a := addr.Unmap()
	return a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsMulticast() || a.IsUnspecified() ||
		a.Is4() && (a.As4()[0] == 0 || a == netip.AddrFrom4([4]byte{255, 255, 255, 255})) ||
		internal4.Contains(a) || internal6.Contains(a)
}
