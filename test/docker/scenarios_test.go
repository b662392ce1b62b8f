package docker

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// scenario is one connection a sandboxed client in a container tries, and
// what must come of it on the servers' side.
type scenario struct {
	name  string
	modes []string // the --net modes it runs in
	// rules are the policy's rules, under "version: 1" and "default:
	// deny" unless they set a default of their own.
	rules func(w *world) string
	peer  func(w *world, tok string) []string // the client's arguments
	// arrives is where the token must arrive ("" for a denied
	// connection, which must arrive nowhere).
	arrives *server
	proto   string // and over what, when it arrives: "tcp" or "udp"
	// fails is what the client's error must say when nothing arrives.
	fails string
	// warns is a line the sandbox must print (nothing else may appear).
	warns string
}

// The policies' building blocks.
func allowAddr(proto, port string) func(w *world) string {
	return func(w *world) string { return fmt.Sprintf("  - allow: %s %s:%s\n", proto, w.allowed.ip, port) }
}

// lookups lets --net host programs ask Docker's DNS themselves.
const lookups = "  - allow: udp " + dockerDNS + ":53\n"

func dial(proto, host, port string) func(w *world, tok string) []string {
	return func(w *world, tok string) []string {
		addr := host
		switch host {
		case "ALLOWED":
			addr = w.allowed.ip
		case "DENIED":
			addr = w.denied.ip
		}
		return []string{"dial", proto, addr + ":" + port, tok}
	}
}

var both = []string{"host", "sandbox"}

var scenarios = []scenario{
	{
		name: "allowed by address", modes: both,
		rules: allowAddr("tcp", tcpPort), peer: dial("tcp", "ALLOWED", tcpPort),
		arrives: &w.allowed, proto: "tcp",
	},
	{
		// The sandbox's DNS asks Docker's, and the address the name
		// resolved to is allowed for this sandbox.
		name: "allowed by name", modes: []string{"sandbox"},
		rules: func(*world) string { return "  - allow: tcp allowed:" + tcpPort + "\n" },
		peer:  dial("tcp", "allowed", tcpPort), arrives: &w.allowed, proto: "tcp",
	},
	{
		// In --net host no DNS of the sandbox's sees names: a rule
		// naming a host matches nothing, and the sandbox says so.
		name: "name rules match nothing in host mode", modes: []string{"host"},
		rules: func(*world) string { return "  - allow: tcp allowed:" + tcpPort + "\n" + lookups },
		peer:  dial("tcp", "allowed", tcpPort), fails: "permission denied",
		warns: "matches nothing in --net host mode",
	},
	{
		name: "denied by address", modes: both,
		rules: allowAddr("tcp", tcpPort), peer: dial("tcp", "DENIED", tcpPort),
		fails: "permission denied",
	},
	{
		// No rule could allow the name: the sandbox's DNS answers
		// NXDOMAIN itself.
		name: "denied by name", modes: []string{"sandbox"},
		rules: func(*world) string { return "  - allow: tcp allowed:" + tcpPort + "\n" },
		peer:  dial("tcp", "denied", tcpPort), fails: "no such host",
	},
	{
		// The program resolves the name itself; its address is denied.
		name: "denied by name", modes: []string{"host"},
		rules: func(w *world) string { return allowAddr("tcp", tcpPort)(w) + lookups },
		peer:  dial("tcp", "denied", tcpPort), fails: "permission denied",
	},
	{
		// Everything is allowed but one name: the address it resolves
		// to is denied, because that name resolved to it.
		name: "denied by a name rule", modes: []string{"sandbox"},
		rules: func(*world) string { return "default: allow\nrules:\n  - deny: tcp denied:*\n" },
		peer:  dial("tcp", "denied", tcpPort), fails: "permission denied",
	},
	{
		name: "denied port on an allowed host", modes: both,
		rules: allowAddr("tcp", tcpPort), peer: dial("tcp", "ALLOWED", otherTCPPort),
		fails: "permission denied",
	},
	{
		name: "UDP allowed", modes: both,
		rules: allowAddr("udp", udpPort), peer: dial("udp", "ALLOWED", udpPort),
		arrives: &w.allowed, proto: "udp",
	},
	{
		name: "UDP denied", modes: both,
		rules: allowAddr("udp", udpPort), peer: dial("udp", "DENIED", udpPort),
		fails: "permission denied",
	},
	{
		// An unconnected socket's sendto names its destination itself.
		name: "UDP sendto denied", modes: both,
		rules: allowAddr("udp", udpPort),
		peer: func(w *world, tok string) []string {
			return []string{"sendto", w.denied.ip + ":" + udpPort, tok}
		},
		fails: "permission denied",
	},
}

// TestScenarios runs every scenario in each of its modes, in a container
// with exactly the README's flags for that mode, and checks the outcome on
// the servers' side: an allowed token must arrive where it was sent, and
// nothing may ever reach the denied server or the allowed server's denied
// port.
func TestScenarios(t *testing.T) {
	doc := readReadme(t)
	w := env(t)
	for _, mode := range both {
		t.Run(mode, func(t *testing.T) {
			for _, sc := range scenarios {
				if !slices.Contains(sc.modes, mode) {
					continue
				}
				t.Run(sc.name, func(t *testing.T) { runScenario(t, w, doc.flags[mode], mode, sc) })
			}
		})
	}
}

func runScenario(t *testing.T, w *world, flags []string, mode string, sc scenario) {
	tok := token(t)
	rules := sc.rules(w)
	pol := "version: 1\n"
	if !strings.HasPrefix(rules, "default:") {
		pol += "default: deny\nrules:\n"
	}
	pol += rules
	r := w.runSandboxed(t, flags, mode, pol, sc.peer(w, tok)...)
	// A denial is summed up in one line as the program ends; anything
	// else the sandbox says is a warning.
	var said, summary []string
	for _, l := range r.sandboxLines {
		if strings.HasPrefix(l, "sandbox: denied ") {
			summary = append(summary, l)
		} else {
			said = append(said, l)
		}
	}
	switch {
	case sc.warns == "" && len(said) != 0:
		t.Errorf("the sandbox said %q; want nothing", said)
	case sc.warns != "" && (len(said) != 1 || !strings.Contains(said[0], sc.warns)):
		t.Errorf("the sandbox said %q; want one line saying %q", said, sc.warns)
	}
	switch {
	case sc.arrives != nil && len(summary) != 0:
		t.Errorf("an allowed run summed up denials: %q", summary)
	case sc.arrives == nil && (len(summary) != 1 || !strings.HasSuffix(summary[0], "; --log - shows each")):
		t.Errorf("a denied run summed up %q; want one line naming what was denied", summary)
	}
	if sc.arrives != nil {
		if r.status != 0 || strings.TrimSpace(r.stdout) != "ok "+tok {
			t.Errorf("client: status %d, stdout %q; want it answered (policy:\n%s)", r.status, r.stdout, pol)
		}
		waitReceived(t, *sc.arrives, sc.proto, sc.port(), tok)
	} else {
		if r.status != 1 || !strings.Contains(r.stdout, sc.fails) {
			t.Errorf("client: status %d, stdout %q; want it to fail with %q (policy:\n%s)", r.status, r.stdout, sc.fails, pol)
		}
		for _, s := range []server{w.allowed, w.denied} {
			expectNotReceived(t, s, tok)
		}
	}
	expectNothingReached(t)
}

// port is where the scenario's token goes: the first port of its
// protocol.
func (sc scenario) port() string {
	if sc.proto == "udp" {
		return udpPort
	}
	return tcpPort
}

// expectNotReceived fails the test if s logged tok.
func expectNotReceived(t *testing.T, s server, tok string) {
	t.Helper()
	lines, err := s.log()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		if strings.Contains(l, " "+tok) {
			t.Errorf("server %s received a denied connection's token: %q", s.name, l)
		}
	}
}
