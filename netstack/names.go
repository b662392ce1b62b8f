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

// Add records that name resolved to addr, for ttl.
func (n *Names) Add(name string, addr netip.Addr, ttl time.Duration) {
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
