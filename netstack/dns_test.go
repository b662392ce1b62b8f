package netstack

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"sandbox/policy"
)

func query(t *testing.T, name string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 77, RecursionDesired: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	msg, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

func rcode(t *testing.T, msg []byte) (uint16, dnsmessage.RCode) {
	t.Helper()
	var p dnsmessage.Parser
	h, err := p.Start(msg)
	if err != nil {
		t.Fatal(err)
	}
	return h.ID, h.RCode
}

// A name no rule allows is refused at once, with no upstream asked; an
// allowed name with no upstream fails as a resolver-less host would.
func TestDNSAnswersWithoutAsking(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte("version: 1\ndefault: deny\nrules:\n  - allow: tcp ok.test:443\n"))
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{policy: pol, names: NewNames()} // no upstream: nothing can be asked
	id, rc := rcode(t, d.answer(context.Background(), query(t, "secret.test."), false))
	if id != 77 || rc != dnsmessage.RCodeNameError {
		t.Errorf("secret.test: id %d rcode %v, want 77 NXDOMAIN", id, rc)
	}
	d.policy.DNSRefused = true
	if _, rc := rcode(t, d.answer(context.Background(), query(t, "secret.test."), false)); rc != dnsmessage.RCodeRefused {
		t.Errorf("secret.test with dns-denied: REFUSED: rcode %v", rc)
	}
	if _, rc := rcode(t, d.answer(context.Background(), query(t, "ok.test."), false)); rc != dnsmessage.RCodeServerFailure {
		t.Errorf("ok.test without an upstream: rcode %v, want SERVFAIL", rc)
	}
	if d.answer(context.Background(), []byte{1, 2, 3}, false) != nil {
		t.Error("a message too short to parse got an answer")
	}
}

// Answers are remembered for at least minNameTTL, by unmapped address.
func TestNames(t *testing.T) {
	n := NewNames()
	a := netip.MustParseAddr("198.18.0.2")
	n.Add("Example.COM.", a, 0)
	if got := n.For(netip.MustParseAddr("::ffff:198.18.0.2")); len(got) != 1 || got[0] != "example.com" {
		t.Errorf("For = %v, want [example.com] (TTL 0 kept for %v)", got, minNameTTL)
	}
	n.byAddr[a]["example.com"] = time.Now().Add(-time.Second)
	if got := n.For(a); len(got) != 0 {
		t.Errorf("an expired name is still returned: %v", got)
	}
	var nilNames *Names
	if nilNames.For(a) != nil {
		t.Error("a nil cache must know no names")
	}
}
