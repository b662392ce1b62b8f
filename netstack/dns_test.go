package netstack

import (
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
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

// marker stands for bytes the program wants carried out: no message the
// upstream receives may contain it.
var marker = []byte("SMUGGLED-BYTES")

const testPolicy = "version: 1\ndefault: deny\nrules:\n  - allow: tcp ok.test:443\n  - allow: tcp *.wild.test:443\n"

// fakeUpstream is a DNS server on the loopback (UDP and TCP on one port)
// that records every message it receives and answers with respond.
type fakeUpstream struct {
	addr    netip.AddrPort
	mu      sync.Mutex
	got     [][]byte
	respond func(query []byte) [][]byte
}

func newFakeUpstream(t *testing.T, respond func(query []byte) [][]byte) *fakeUpstream {
	t.Helper()
	u := &fakeUpstream{respond: respond}
	var pc net.PacketConn
	var ln net.Listener
	for range 20 {
		var err error
		if pc, err = net.ListenPacket("udp4", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		if ln, err = net.Listen("tcp4", pc.LocalAddr().String()); err == nil {
			break
		}
		pc.Close()
		pc = nil
	}
	if pc == nil {
		t.Fatal("no loopback port free for both UDP and TCP")
	}
	u.addr = pc.LocalAddr().(*net.UDPAddr).AddrPort()
	t.Cleanup(func() { pc.Close(); ln.Close() })
	go func() {
		buf := make([]byte, 65535)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			for _, r := range u.record(buf[:n]) {
				pc.WriteTo(r, from)
			}
		}
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				for {
					q, err := readTCPMessage(c)
					if err != nil {
						return
					}
					for _, r := range u.record(q) {
						writeTCPMessage(c, r)
					}
				}
			}()
		}
	}()
	return u
}

func (u *fakeUpstream) record(q []byte) [][]byte {
	u.mu.Lock()
	u.got = append(u.got, bytes.Clone(q))
	u.mu.Unlock()
	if u.respond == nil {
		return nil
	}
	return u.respond(q)
}

func (u *fakeUpstream) received() [][]byte {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.got)
}

// answerA answers a query with one A record per address.
func answerA(addrs ...string) func([]byte) [][]byte {
	return func(query []byte) [][]byte {
		var p dnsmessage.Parser
		h, err := p.Start(query)
		if err != nil {
			return nil
		}
		q, err := p.Question()
		if err != nil {
			return nil
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, RecursionDesired: h.RecursionDesired, RecursionAvailable: true})
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		for _, a := range addrs {
			b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300},
				dnsmessage.AResource{A: netip.MustParseAddr(a).As4()})
		}
		msg, _ := b.Finish()
		return [][]byte{msg}
	}
}

// msg builds a message from the program: a header, questions, and
// records in the additional section (OPT and others).
type msg struct {
	hdr       dnsmessage.Header
	questions []string
	qtype     dnsmessage.Type
	qclass    dnsmessage.Class
	answer    bool // an A record in the answer section
	authority bool // an NS record in the authority section
	opts      []dnsmessage.Option
	edns      int // OPT records
	optName   string
	optTTL    uint32
	udpSize   int
	extra     bool // an A record in the additional section
	trailing  []byte
}

func (m msg) build(t *testing.T) []byte {
	t.Helper()
	if m.hdr.ID == 0 {
		m.hdr.ID = 0xabcd
	}
	if m.qtype == 0 {
		m.qtype = dnsmessage.TypeA
	}
	if m.qclass == 0 {
		m.qclass = dnsmessage.ClassINET
	}
	b := dnsmessage.NewBuilder(nil, m.hdr)
	b.StartQuestions()
	for _, name := range m.questions {
		if err := b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: m.qtype, Class: m.qclass}); err != nil {
			t.Fatal(err)
		}
	}
	rh := dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("ok.test."), Class: dnsmessage.ClassINET, TTL: 60}
	if m.answer {
		b.StartAnswers()
		b.AResource(rh, dnsmessage.AResource{A: [4]byte{198, 18, 0, 9}})
	}
	if m.authority {
		b.StartAuthorities()
		b.NSResource(rh, dnsmessage.NSResource{NS: dnsmessage.MustNewName("ns.ok.test.")})
	}
	b.StartAdditionals()
	for range m.edns {
		var h dnsmessage.ResourceHeader
		h.SetEDNS0(cmp.Or(m.udpSize, 1232), 0, false)
		h.TTL |= m.optTTL
		if m.optName != "" {
			h.Name = dnsmessage.MustNewName(m.optName)
		}
		if err := b.OPTResource(h, dnsmessage.OPTResource{Options: m.opts}); err != nil {
			t.Fatal(err)
		}
	}
	if m.extra {
		b.AResource(rh, dnsmessage.AResource{A: [4]byte{198, 18, 0, 9}})
	}
	out, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return append(out, m.trailing...)
}

// parsed is what the program reads in an answer.
type parsed struct {
	hdr       dnsmessage.Header
	questions []dnsmessage.Question
	answers   int
	opt       *dnsmessage.ResourceHeader
}

func parseAnswer(t *testing.T, b []byte) parsed {
	t.Helper()
	var p dnsmessage.Parser
	var r parsed
	var err error
	if r.hdr, err = p.Start(b); err != nil {
		t.Fatalf("answer does not parse: %v", err)
	}
	if r.questions, err = p.AllQuestions(); err != nil {
		t.Fatalf("answer's questions: %v", err)
	}
	for {
		if _, err := p.AnswerHeader(); err != nil {
			break
		}
		r.answers++
		p.SkipAnswer()
	}
	p.SkipAllAuthorities()
	if h, err := p.AdditionalHeader(); err == nil && h.Type == dnsmessage.TypeOPT {
		r.opt = &h
	}
	return r
}

// Every message that is not a plain query for one name is answered by the
// gateway itself, with the rcode a resolver would give, and nothing
// reaches the upstream.
func TestDNSRejectsWhatIsNoPlainQuery(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte(testPolicy))
	if err != nil {
		t.Fatal(err)
	}
	up := newFakeUpstream(t, answerA("198.18.0.7"))
	d := &dnsServer{policy: pol, upstream: up.addr, names: NewNames()}
	rd := dnsmessage.Header{RecursionDesired: true}
	padding := dnsmessage.Option{Code: 12, Data: bytes.Repeat(marker, 300)} // 4200 bytes
	cases := []struct {
		name   string
		m      msg
		tcp    bool
		rcode  dnsmessage.RCode
		echoQ  bool // the answer carries the program's question
		opcode dnsmessage.OpCode
	}{
		{name: "second question names a denied host", m: msg{hdr: rd, questions: []string{"ok.test.", "denied.test."}}, rcode: dnsmessage.RCodeFormatError},
		{name: "second question over TCP", m: msg{hdr: rd, questions: []string{"ok.test.", "denied.test."}}, tcp: true, rcode: dnsmessage.RCodeFormatError},
		{name: "no question", m: msg{hdr: rd}, rcode: dnsmessage.RCodeFormatError},
		{name: "trailing bytes", m: msg{hdr: rd, questions: []string{"ok.test."}, trailing: marker}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "trailing bytes over TCP", m: msg{hdr: rd, questions: []string{"ok.test."}, trailing: marker}, tcp: true, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "trailing bytes after an OPT", m: msg{hdr: rd, questions: []string{"ok.test."}, edns: 1, trailing: marker}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "a response (QR=1)", m: msg{hdr: dnsmessage.Header{Response: true}, questions: []string{"ok.test."}}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "IQUERY", m: msg{hdr: dnsmessage.Header{OpCode: 1}, questions: []string{"ok.test."}}, rcode: dnsmessage.RCodeNotImplemented, echoQ: true, opcode: 1},
		{name: "STATUS", m: msg{hdr: dnsmessage.Header{OpCode: 2}, questions: []string{"ok.test."}}, rcode: dnsmessage.RCodeNotImplemented, echoQ: true, opcode: 2},
		{name: "NOTIFY", m: msg{hdr: dnsmessage.Header{OpCode: 4, Authoritative: true}, questions: []string{"ok.test."}, qtype: dnsmessage.TypeSOA}, rcode: dnsmessage.RCodeNotImplemented, echoQ: true, opcode: 4},
		{name: "UPDATE", m: msg{hdr: dnsmessage.Header{OpCode: 5}, questions: []string{"ok.test."}, qtype: dnsmessage.TypeSOA, authority: true}, rcode: dnsmessage.RCodeNotImplemented, echoQ: true, opcode: 5},
		{name: "UPDATE over TCP", m: msg{hdr: dnsmessage.Header{OpCode: 5}, questions: []string{"ok.test."}, qtype: dnsmessage.TypeSOA, authority: true}, tcp: true, rcode: dnsmessage.RCodeNotImplemented, echoQ: true, opcode: 5},
		{name: "DSO", m: msg{hdr: dnsmessage.Header{OpCode: 6}}, rcode: dnsmessage.RCodeNotImplemented, opcode: 6},
		{name: "opcode 15", m: msg{hdr: dnsmessage.Header{OpCode: 15}, questions: []string{"ok.test."}}, rcode: dnsmessage.RCodeNotImplemented, echoQ: true, opcode: 15},
		{name: "a record in the answer section", m: msg{hdr: rd, questions: []string{"ok.test."}, answer: true}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "a record in the authority section", m: msg{hdr: rd, questions: []string{"ok.test."}, authority: true}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "an A record in the additional section", m: msg{hdr: rd, questions: []string{"ok.test."}, extra: true}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "two OPT records", m: msg{hdr: rd, questions: []string{"ok.test."}, edns: 2}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "an OPT and an A record", m: msg{hdr: rd, questions: []string{"ok.test."}, edns: 1, extra: true}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "OPT not owned by the root", m: msg{hdr: rd, questions: []string{"ok.test."}, edns: 1, optName: "ok.test."}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "EDNS version 1", m: msg{hdr: rd, questions: []string{"ok.test."}, edns: 1, optTTL: 1 << 16}, rcode: rcodeBadVers, echoQ: true},
		{name: "over 4096 bytes over UDP", m: msg{hdr: rd, questions: []string{"ok.test."}, edns: 1, opts: []dnsmessage.Option{padding}}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "over 512 bytes over UDP without EDNS", m: msg{hdr: rd, questions: []string{"ok.test."}, trailing: bytes.Repeat(marker, 40)}, rcode: dnsmessage.RCodeFormatError, echoQ: true},
		{name: "zone transfer", m: msg{hdr: rd, questions: []string{"ok.test."}, qtype: dnsmessage.TypeAXFR}, tcp: true, rcode: dnsmessage.RCodeRefused, echoQ: true},
		{name: "IXFR", m: msg{hdr: rd, questions: []string{"ok.test."}, qtype: typeIXFR}, tcp: true, rcode: dnsmessage.RCodeRefused, echoQ: true},
		{name: "CHAOS class", m: msg{hdr: rd, questions: []string{"ok.test."}, qclass: dnsmessage.ClassCHAOS, qtype: dnsmessage.TypeTXT}, rcode: dnsmessage.RCodeRefused, echoQ: true},
		{name: "a control byte in a name a wildcard allows", m: msg{hdr: rd, questions: []string{"a\x01b.wild.test."}}, rcode: dnsmessage.RCodeRefused, echoQ: true},
		{name: "an 8-bit byte in a name a wildcard allows", m: msg{hdr: rd, questions: []string{"caf\xe9.wild.test."}}, rcode: dnsmessage.RCodeRefused, echoQ: true},
		{name: "a name no rule allows", m: msg{hdr: rd, questions: []string{"denied.test."}}, rcode: dnsmessage.RCodeNameError, echoQ: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			query := c.m.build(t)
			resp := d.answer(context.Background(), query, c.tcp)
			if resp == nil {
				t.Fatal("no answer")
			}
			a := parseAnswer(t, resp)
			rc := a.hdr.RCode
			if a.opt != nil {
				rc = a.opt.ExtendedRCode(rc)
			}
			if a.hdr.ID != 0xabcd || !a.hdr.Response || rc != c.rcode || a.hdr.OpCode != c.opcode || a.answers != 0 {
				t.Errorf("answer: %+v (rcode %v, %d answers), want ID 0xabcd, QR, opcode %d, rcode %v, no answers", a.hdr, rc, a.answers, c.opcode, c.rcode)
			}
			if c.echoQ != (len(a.questions) == 1) || len(a.questions) > 1 || c.echoQ && a.questions[0].Name.String() != c.m.questions[0] {
				t.Errorf("answer's questions %v; want the program's one question: %v", a.questions, c.echoQ)
			}
			if c.rcode == rcodeBadVers && a.opt == nil {
				t.Error("BADVERS without an OPT record")
			}
		})
	}
	if got := up.received(); len(got) != 0 {
		t.Errorf("the upstream received %d messages; every one of these must be answered at the gateway: %q", len(got), got)
	}
}

// A short or cut message: nothing to answer with, or FORMERR.
func TestDNSBrokenMessages(t *testing.T) {
	pol, _ := policy.Parse("p.yaml", []byte(testPolicy))
	up := newFakeUpstream(t, answerA("198.18.0.7"))
	d := &dnsServer{policy: pol, upstream: up.addr, names: NewNames()}
	full := msg{hdr: dnsmessage.Header{RecursionDesired: true}, questions: []string{"ok.test."}, edns: 1}.build(t)
	for n := range len(full) {
		resp := d.answer(context.Background(), full[:n], false)
		if n < 12 {
			if resp != nil {
				t.Errorf("%d bytes: answered %x, want silence", n, resp)
			}
			continue
		}
		if a := parseAnswer(t, resp); a.hdr.RCode != dnsmessage.RCodeFormatError {
			t.Errorf("%d of %d bytes: rcode %v, want FORMERR", n, len(full), a.hdr.RCode)
		}
	}
	// A name whose pointer points past the message, or at itself.
	for _, tail := range [][]byte{{0xc0, 0xff, 0, 1, 0, 1}, {0xc0, 12, 0, 1, 0, 1}} {
		q := append([]byte{0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}, tail...)
		if a := parseAnswer(t, d.answer(context.Background(), q, false)); a.hdr.RCode != dnsmessage.RCodeFormatError {
			t.Errorf("%x: rcode %v, want FORMERR", q, a.hdr.RCode)
		}
	}
	if got := up.received(); len(got) != 0 {
		t.Errorf("the upstream received %q", got)
	}
}

// A good query goes upstream as a message the gateway built: a new ID, the
// program's RD, its question, and (only where it spoke EDNS) an OPT of the
// gateway's own — byte for byte, so that nothing else the program wrote
// travels. The answer comes back with the program's ID.
func TestDNSRebuildsTheQuery(t *testing.T) {
	pol, _ := policy.Parse("p.yaml", []byte(testPolicy))
	opts := []dnsmessage.Option{{Code: 10, Data: marker}, {Code: 8, Data: append([]byte{0, 1, 24, 0, 198, 18, 0}, marker...)}, {Code: 65001, Data: marker}}
	cases := []struct {
		name string
		m    msg
		tcp  bool
		want func(id uint16) []byte // what the upstream must receive
	}{
		{"plain", msg{hdr: dnsmessage.Header{RecursionDesired: true}, questions: []string{"ok.test."}},
			false, func(id uint16) []byte {
				return msg{hdr: dnsmessage.Header{ID: id, RecursionDesired: true}, questions: []string{"ok.test."}}.build(t)
			}},
		{"no recursion, flags set", msg{hdr: dnsmessage.Header{Authoritative: true, Truncated: true, RecursionAvailable: true, AuthenticData: true, CheckingDisabled: true, RCode: 5}, questions: []string{"OK.test."}, qtype: dnsmessage.TypeAAAA},
			false, func(id uint16) []byte {
				return msg{hdr: dnsmessage.Header{ID: id}, questions: []string{"OK.test."}, qtype: dnsmessage.TypeAAAA}.build(t)
			}},
		{"EDNS with options, DO, size 4000", msg{hdr: dnsmessage.Header{RecursionDesired: true}, questions: []string{"x.wild.test."}, edns: 1, udpSize: 4000, optTTL: 0x8000 | 0x1234 | 0xff<<24, opts: opts},
			false, func(id uint16) []byte {
				return msg{hdr: dnsmessage.Header{ID: id, RecursionDesired: true}, questions: []string{"x.wild.test."}, edns: 1, udpSize: upstreamUDPSize, optTTL: 0x8000}.build(t)
			}},
		{"EDNS with 5000 bytes of padding, over TCP", msg{hdr: dnsmessage.Header{RecursionDesired: true}, questions: []string{"ok.test."}, edns: 1, udpSize: 512, opts: []dnsmessage.Option{{Code: 12, Data: bytes.Repeat(marker, 360)}}},
			true, func(id uint16) []byte {
				return msg{hdr: dnsmessage.Header{ID: id, RecursionDesired: true}, questions: []string{"ok.test."}, edns: 1, udpSize: upstreamUDPSize}.build(t)
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			up := newFakeUpstream(t, answerA("198.18.0.7"))
			names := NewNames()
			d := &dnsServer{policy: pol, upstream: up.addr, names: names}
			resp := d.answer(context.Background(), c.m.build(t), c.tcp)
			got := up.received()
			if len(got) != 1 {
				t.Fatalf("the upstream received %d messages, want 1", len(got))
			}
			id := binary.BigEndian.Uint16(got[0])
			if want := c.want(id); !bytes.Equal(got[0], want) {
				t.Errorf("the upstream received\n%x\nwant\n%x", got[0], want)
			}
			if bytes.Contains(got[0], marker) {
				t.Error("the program's bytes reached the upstream")
			}
			a := parseAnswer(t, resp)
			if a.hdr.ID != 0xabcd || a.hdr.RCode != dnsmessage.RCodeSuccess || a.answers != 1 {
				t.Errorf("answer %+v with %d answers, want ID 0xabcd, NOERROR, 1 answer", a.hdr, a.answers)
			}
			if n := names.For(netip.MustParseAddr("198.18.0.7")); len(n) != 1 || n[0] != strings.ToLower(strings.TrimSuffix(c.m.questions[0], ".")) {
				t.Errorf("names of 198.18.0.7: %v", n)
			}
		})
	}
	// The ID upstream is not the program's: 16 bits it could choose.
	up := newFakeUpstream(t, answerA("198.18.0.7"))
	d := &dnsServer{policy: pol, upstream: up.addr, names: NewNames()}
	for range 8 {
		d.answer(context.Background(), msg{questions: []string{"ok.test."}}.build(t), false)
	}
	ids := map[uint16]bool{}
	for _, m := range up.received() {
		ids[binary.BigEndian.Uint16(m)] = true
	}
	if len(ids) < 2 || ids[0xabcd] {
		t.Errorf("IDs sent upstream for 8 queries with ID 0xabcd: %v", ids)
	}
}

// An upstream message that is not the answer to the query sent — another
// ID, another question, no response — is not relayed; over UDP the gateway
// waits on for the real one.
func TestDNSChecksTheUpstreamAnswer(t *testing.T) {
	pol, _ := policy.Parse("p.yaml", []byte(testPolicy))
	bad := func(edit func(h *dnsmessage.Header, q *dnsmessage.Question)) func([]byte) [][]byte {
		return func(query []byte) [][]byte {
			good := answerA("198.18.0.7")(query)[0]
			var p dnsmessage.Parser
			h, _ := p.Start(good)
			q, _ := p.Question()
			edit(&h, &q)
			return [][]byte{answerFor(t, h, q, "198.18.0.66"), good}
		}
	}
	for name, edit := range map[string]func(h *dnsmessage.Header, q *dnsmessage.Question){
		"another ID":     func(h *dnsmessage.Header, q *dnsmessage.Question) { h.ID++ },
		"another name":   func(h *dnsmessage.Header, q *dnsmessage.Question) { q.Name = dnsmessage.MustNewName("other.test.") },
		"another type":   func(h *dnsmessage.Header, q *dnsmessage.Question) { q.Type = dnsmessage.TypeAAAA },
		"not a response": func(h *dnsmessage.Header, q *dnsmessage.Question) { h.Response = false },
		"another opcode": func(h *dnsmessage.Header, q *dnsmessage.Question) { h.OpCode = 5 },
	} {
		t.Run(name, func(t *testing.T) {
			for _, tcp := range []bool{false, true} {
				names := NewNames()
				d := &dnsServer{policy: pol, upstream: newFakeUpstream(t, bad(edit)).addr, names: names}
				a := parseAnswer(t, d.answer(context.Background(), msg{questions: []string{"ok.test."}}.build(t), tcp))
				switch {
				case tcp && a.hdr.RCode != dnsmessage.RCodeServerFailure:
					// Over TCP the first message is the answer.
					t.Errorf("TCP: rcode %v, want SERVFAIL", a.hdr.RCode)
				case !tcp && (a.hdr.RCode != dnsmessage.RCodeSuccess || a.answers != 1):
					t.Errorf("UDP: rcode %v, %d answers: want the good answer that came second", a.hdr.RCode, a.answers)
				}
				if len(names.For(netip.MustParseAddr("198.18.0.66"))) != 0 {
					t.Error("the address in the bad answer was recorded")
				}
			}
		})
	}
}

func answerFor(t *testing.T, h dnsmessage.Header, q dnsmessage.Question, addr string) []byte {
	t.Helper()
	b := dnsmessage.NewBuilder(nil, h)
	b.StartQuestions()
	b.Question(q)
	b.StartAnswers()
	b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 300}, dnsmessage.AResource{A: netip.MustParseAddr(addr).As4()})
	m, err := b.Finish()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An answer bigger than the program said it takes over UDP reaches it
// truncated (TC, the question, no records), as a resolver would cut it; it
// then asks again over TCP and gets it whole.
func TestDNSTruncatesForTheProgram(t *testing.T) {
	pol, _ := policy.Parse("p.yaml", []byte(testPolicy))
	var many []string
	for i := range 60 { // 60 × 16 bytes + header, question: over 512
		many = append(many, fmt.Sprintf("198.18.1.%d", i))
	}
	d := &dnsServer{policy: pol, upstream: newFakeUpstream(t, answerA(many...)).addr, names: NewNames()}
	for _, c := range []struct {
		m       msg
		tcp, tc bool
	}{
		{msg{questions: []string{"ok.test."}}, false, true},
		{msg{questions: []string{"ok.test."}, edns: 1, udpSize: 512}, false, true},
		{msg{questions: []string{"ok.test."}, edns: 1, udpSize: 100}, false, true},
		{msg{questions: []string{"ok.test."}, edns: 1, udpSize: 4096}, false, false},
		{msg{questions: []string{"ok.test."}}, true, false},
	} {
		a := parseAnswer(t, d.answer(context.Background(), c.m.build(t), c.tcp))
		if a.hdr.ID != 0xabcd || a.hdr.Truncated != c.tc || c.tc && (a.answers != 0 || len(a.questions) != 1) || !c.tc && a.answers != 60 {
			t.Errorf("EDNS %d (size %d) TCP %v: %+v with %d answers, want TC %v", c.m.edns, c.m.udpSize, c.tcp, a.hdr, a.answers, c.tc)
		}
		if c.tc && c.m.edns == 1 && a.opt == nil {
			t.Errorf("EDNS %d (size %d): truncated answer without OPT", c.m.edns, c.m.udpSize)
		}
	}
}

// The program cannot hold more than maxDNSInFlight upstream exchanges.
func TestDNSBoundsExchanges(t *testing.T) {
	pol, _ := policy.Parse("p.yaml", []byte(testPolicy))
	d := &dnsServer{policy: pol, upstream: newFakeUpstream(t, answerA("198.18.0.7")).addr, names: NewNames()}
	d.inFlight.Store(maxDNSInFlight)
	if a := parseAnswer(t, d.answer(context.Background(), msg{questions: []string{"ok.test."}}.build(t), false)); a.hdr.RCode != dnsmessage.RCodeServerFailure {
		t.Errorf("past the bound: rcode %v, want SERVFAIL", a.hdr.RCode)
	}
	d.inFlight.Store(0)
	if a := parseAnswer(t, d.answer(context.Background(), msg{questions: []string{"ok.test."}}.build(t), false)); a.hdr.RCode != dnsmessage.RCodeSuccess {
		t.Errorf("rcode %v, want NOERROR", a.hdr.RCode)
	}
	if n := d.inFlight.Load(); n != 0 {
		t.Errorf("%d exchanges still counted", n)
	}
}

// host.sandbox.internal is the gateway, answered by the gateway itself
// (no upstream, whatever the policy), in any case of letters; other types
// get no records and no error. The record says what was answered.
func TestDNSHostName(t *testing.T) {
	pol, err := policy.Parse("p.yaml", []byte("version: 1\ndefault: deny\n"))
	if err != nil {
		t.Fatal(err)
	}
	var recs []DNSRecord
	d := &dnsServer{policy: pol, names: NewNames(), log: func(r DNSRecord) { recs = append(recs, r) }}
	ask := func(name string, typ dnsmessage.Type) (dnsmessage.RCode, []string) {
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: 9, RecursionDesired: true})
		b.StartQuestions()
		b.Question(dnsmessage.Question{Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET})
		msg, _ := b.Finish()
		resp := d.answer(context.Background(), msg, false)
		var p dnsmessage.Parser
		h, err := p.Start(resp)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p.SkipAllQuestions()
		var got []string
		for {
			rh, err := p.AnswerHeader()
			if err != nil {
				break
			}
			switch rh.Type {
			case dnsmessage.TypeA:
				r, _ := p.AResource()
				got = append(got, netip.AddrFrom4(r.A).String())
			case dnsmessage.TypeAAAA:
				r, _ := p.AAAAResource()
				got = append(got, netip.AddrFrom16(r.AAAA).String())
			default:
				p.SkipAnswer()
			}
		}
		return h.RCode, got
	}
	for _, tc := range []struct {
		name string
		typ  dnsmessage.Type
		want string
	}{
		{"host.sandbox.internal.", dnsmessage.TypeA, Gateway4.String()},
		{"HOST.Sandbox.Internal.", dnsmessage.TypeA, Gateway4.String()},
		{"host.sandbox.internal.", dnsmessage.TypeAAAA, Gateway6.String()},
		{"host.sandbox.internal.", dnsmessage.TypeMX, ""},
	} {
		rc, got := ask(tc.name, tc.typ)
		if rc != dnsmessage.RCodeSuccess || strings.Join(got, ",") != tc.want {
			t.Errorf("%s %v: %v %v, want NOERROR [%s]", tc.name, tc.typ, rc, got, tc.want)
		}
	}
	if rc, _ := ask("other.sandbox.internal.", dnsmessage.TypeA); rc != dnsmessage.RCodeNameError {
		t.Errorf("other.sandbox.internal: %v, want NXDOMAIN (the policy allows no name)", rc)
	}
	if len(recs) == 0 || recs[0].Verdict != "allow" || strings.Join(recs[0].Answers, ",") != Gateway4.String() {
		t.Errorf("record of the first answer: %+v", recs)
	}
	if last := recs[len(recs)-1]; last.Verdict != "deny" || last.Rule != "p.yaml:2" {
		t.Errorf("record of a denied name: verdict %q rule %q, want deny by p.yaml:2 (the default)", last.Verdict, last.Rule)
	}
}

// A resolver that fails is told of once, with what to do, however many
// lookups fail.
func TestDNSDeadUpstreamLoggedOnce(t *testing.T) {
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := netip.MustParseAddrPort(pc.LocalAddr().String())
	pc.Close() // a closed port: the exchange is refused at once
	pol, err := policy.Parse("p.yaml", []byte("version: 1\ndefault: allow\n"))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	d := &dnsServer{policy: pol, upstream: dead, names: NewNames(), logf: func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }}
	for range 3 {
		if _, rc := rcode(t, d.answer(context.Background(), query(t, "ok.test."), false)); rc != dnsmessage.RCodeServerFailure {
			t.Errorf("rcode %v, want SERVFAIL", rc)
		}
	}
	if len(lines) != 1 || !strings.Contains(lines[0], dead.String()+" did not answer") || !strings.Contains(lines[0], "--dns ADDR") {
		t.Errorf("logged %q, want one line naming %s and --dns", lines, dead)
	}
}
