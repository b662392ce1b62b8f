package netstack

import (
	"net/netip"
	"testing"
)

// The gateway stands for the host's loopback; every other address for
// itself.
func TestTarget(t *testing.T) {
	for in, want := range map[string]string{
		"100.96.0.1:80":    "127.0.0.1:80",
		"[fd00:5a::1]:53":  "[::1]:53",
		"198.18.0.2:443":   "198.18.0.2:443",
		"100.96.0.2:80":    "100.96.0.2:80",
		"[fd00:5a::2]:443": "[fd00:5a::2]:443",
	} {
		if got := Target(netip.MustParseAddrPort(in)); got.String() != want {
			t.Errorf("Target(%s) = %s, want %s", in, got, want)
		}
	}
}
