package sentry

import (
	"net/netip"
	"testing"

	"sandbox/policy"
)

// The summary names what was denied, most first seen first, with counts;
// past summaryItems destinations it says how many more; allowed calls and
// a nil *Denials count nothing.
func TestDenialsSummary(t *testing.T) {
	var none *Denials
	none.add(&Record{Verdict: "deny"})
	if none.Summary() != "" {
		t.Error("a nil *Denials summarised something")
	}
	d := &Denials{}
	if d.Summary() != "" {
		t.Errorf("nothing denied, yet %q", d.Summary())
	}
	d.add(&Record{Syscall: "connect", Proto: "tcp", Dest: "198.18.0.9:443", Verdict: "deny"})
	if got, want := d.Summary(), "denied 1 call: tcp 198.18.0.9:443"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	d.add(&Record{Syscall: "connect", Proto: "tcp", Dest: "198.18.0.9:443", Verdict: "deny"})
	d.add(&Record{Syscall: "connect", Proto: "tcp", Dest: "198.18.0.9:80", Verdict: "allow"})
	d.add(&Record{Syscall: "dns", Name: "evil.example", Verdict: "deny"})
	d.add(&Record{Syscall: "connect", Proto: "tcp", Dest: "198.18.0.7:443", Host: "pkg.example", Verdict: "deny"})
	d.add(&Record{Syscall: "bind", Proto: "tcp", Dest: "0.0.0.0:80", Verdict: "deny", Request: &policy.Request{Listen: true}})
	if got, want := d.Summary(), "denied 5 calls: tcp 198.18.0.9:443 (×2), dns evil.example, tcp pkg.example (198.18.0.7:443), listen tcp 0.0.0.0:80"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	for _, dest := range []string{"a", "b", "c"} {
		d.add(&Record{Syscall: "sendto", Proto: "udp", Dest: dest, Verdict: "deny"})
	}
	if got, want := d.Summary(), "denied 8 calls: tcp 198.18.0.9:443 (×2), dns evil.example, tcp pkg.example (198.18.0.7:443), listen tcp 0.0.0.0:80, udp a and 2 more"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// The host field names a destination by the name it was resolved from,
// never for an address a name cannot stand for.
func TestHostFor(t *testing.T) {
	if got := hostFor([]string{"b.example", "a.example"}, netip.MustParseAddr("198.18.0.1")); got != "a.example" {
		t.Errorf("got %q", got)
	}
	if got := hostFor([]string{"a.example"}, netip.MustParseAddr("127.0.0.1")); got != "" {
		t.Errorf("a name for the loopback: %q", got)
	}
}
