package sentry

import "fmt"

// NetMode is where the program's sockets live. The serving side needs it
// too: which calls are trapped (bind and listen in --net host only) and
// what the gateway's addresses mean (--net sandbox).
type NetMode string

// The network modes (ARCHITECTURE.md, contracts).
const (
	// NetHost: the host's own network; every trapped call is mediated
	// and the data path is the kernel's.
	NetHost NetMode = "host"
	// NetNone: a network namespace of the program's own holding only a
	// loopback, so every destination but its own loopback is
	// unreachable, as in an empty namespace — and the policy still
	// decides every connect.
	NetNone NetMode = "none"
	// NetSandbox: a network namespace whose only way out is a TUN device
	// served by netstack, which checks every flow against the policy
	// again at the packet level.
	NetSandbox NetMode = "sandbox"
)

// ParseNetMode reads a --net value.
func ParseNetMode(s string) (NetMode, error) {
	switch m := NetMode(s); m {
	case NetHost, NetNone, NetSandbox:
		return m, nil
	}
	return "", fmt.Errorf("unknown network mode %q", s)
}
