package netstack

import (
	"context"
	"net/netip"
	"slices"
	"testing"

	"golang.org/x/net/dns/dnsmessage"

	"sandbox/policy"
)

// No name is recorded for an address no name may stand for (DNS
// rebinding): a name rule must not allow the loopback, link-local
// addresses (the cloud's metadata service), the sandbox's own link… by the
// way of an answer someone else wrote.
func TestNamesRefuseSpecialAddresses(t *testing.T) {
	special := []string{
		"127.0.0.1", "127.0.0.2", "127.255.255.254", "::1", "::ffff:127.0.0.1",
		"169.254.169.254", "169.254.0.1", "fe80::1", "febf::1", "::ffff:169.254.169.254",
		"0.0.0.0", "0.1.2.3", "::", "::ffff:0.0.0.0",
		"224.0.0.1", "239.255.255.250", "255.255.255.255", "ff02::1", "ff0e::1",
		"100.96.0.1", "100.96.0.2", "100.96.0.255", "::ffff:100.96.0.1", "fd00:5a::1", "fd00:5a::2", "fd00:5a::ffff:1",
	}
	ordinary := []string{
		"198.18.0.2", "10.0.0.1", "192.168.1.1", "172.17.0.2", "100.96.1.1", "100.95.255.255", "8.8.8.8",
		"2001:2::2", "fd00:5b::1", "fd00:5a:0:1::1", "fec0::1", "::ffff:198.18.0.2",
	}
	n := NewNames()
	for _, s := range append(slices.Clone(special), ordinary...) {
		n.Add("host.test", netip.MustParseAddr(s), 0)
	}
	for _, s := range special {
		if got := n.For(netip.MustParseAddr(s)); len(got) != 0 {
			t.Errorf("%s: names %v; no name may stand for it", s, got)
		}
		if !nameless(netip.MustParseAddr(s)) {
			t.Errorf("nameless(%s) = false", s)
		}
	}
	for _, s := range ordinary {
		if got := n.For(netip.MustParseAddr(s)); len(got) != 1 {
			t.Errorf("%s: names %v, want [host.test]", s, got)
		}
	}
}

// The gateway relays a rebinding answer to the program (it is the answer)
// but records no name for its special addresses; the ordinary ones in the
// same answer are recorded.
func TestDNSRebindingAnswer(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	names := NewNames()
	up := newFakeUpstream(t, answerA("127.0.0.1", "100.96.0.1", "169.254.169.254", "198.18.0.7"))
	d := &dnsServer{policy: pol, upstream: up.addr, names: names}
	a := parseAnswer(t, d.answer(context.Background(), msg{questions: []string{"ok.test."}}.build(t), false))
	if a.hdr.RCode != dnsmessage.RCodeSuccess || a.answers != 4 {
		t.Errorf("answer %+v with %d records, want all 4 relayed", a.hdr, a.answers)
	}
	for _, s := range []string{"127.0.0.1", "100.96.0.1", "169.254.169.254"} {
		if got := names.For(netip.MustParseAddr(s)); len(got) != 0 {
			t.Errorf("%s recorded as %v", s, got)
		}
	}
	if got := names.For(netip.MustParseAddr("198.18.0.7")); len(got) != 1 || got[0] != "ok.test" {
		t.Errorf("198.18.0.7: %v, want [ok.test]", got)
	}
}

// Only the addresses of the name asked and of its CNAME chain are recorded:
// an address record for another name in the answer is none of the
// question's business.
func TestDNSRemembersTheChainOnly(t *testing.T) {
	rr := func(name string) dnsmessage.ResourceHeader {
		return dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Class: dnsmessage.ClassINET, TTL: 300}
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 1, Response: true})
	b.StartQuestions()
	b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName("Ok.Test."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET})
	b.StartAnswers()
	b.CNAMEResource(rr("ok.test."), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("cdn.test.")})
	b.CNAMEResource(rr("cdn.test."), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("Edge.CDN.test.")})
	b.AResource(rr("edge.cdn.test."), dnsmessage.AResource{A: [4]byte{198, 18, 0, 1}})
	b.AResource(rr("bank.test."), dnsmessage.AResource{A: [4]byte{198, 18, 0, 2}})
	b.CNAMEResource(rr("elsewhere.test."), dnsmessage.CNAMEResource{CNAME: dnsmessage.MustNewName("ok.test.")})
	b.AResource(rr("elsewhere.test."), dnsmessage.AResource{A: [4]byte{198, 18, 0, 3}})
	resp, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{names: NewNames()}
	d.remember(resp)
	got := d.names.For(netip.MustParseAddr("198.18.0.1"))
	slices.Sort(got)
	if !slices.Equal(got, []string{"edge.cdn.test", "ok.test"}) {
		t.Errorf("198.18.0.1: %v, want [edge.cdn.test ok.test]", got)
	}
	for _, a := range []string{"198.18.0.2", "198.18.0.3"} {
		if got := d.names.For(netip.MustParseAddr(a)); len(got) != 0 {
			t.Errorf("%s, off the chain, recorded as %v", a, got)
		}
	}
}
