package netstack

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"strings"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsQuery is what the gateway takes from a program's query: everything
// else in the message is dropped.
type dnsQuery struct {
	hdr      dnsmessage.Header
	question dnsmessage.Question
	hasQ     bool // question holds the message's one question
	edns     bool // the query had an OPT record
	udpSize  int  // its payload size (512 without EDNS)
	dnssecOK bool // its DO bit
}

// parseQuery judges the form of one message from the program. It returns
// what it could parse, and the rcode to answer at once when the message is
// not a query the gateway takes (RCodeSuccess when it is); ok is false
// when not even a header could be read, and nothing is answered.
func parseQuery(msg []byte, overTCP bool) (q dnsQuery, rcode dnsmessage.RCode, ok bool) {
	var p dnsmessage.Parser
	hdr, err := p.Start(msg)
	if err != nil {
		return q, 0, false
	}
	q.hdr, q.udpSize = hdr, maxPlainUDPQuery
	qd := binary.BigEndian.Uint16(msg[4:])
	an := binary.BigEndian.Uint16(msg[6:])
	ns := binary.BigEndian.Uint16(msg[8:])
	ar := binary.BigEndian.Uint16(msg[10:])
	// The question is echoed in every answer where there is exactly one,
	// as a resolver does, so that the program can match the answer.
	if qd == 1 {
		if question, err := p.Question(); err == nil {
			q.question, q.hasQ = question, true
		}
	}
	switch {
	case hdr.Response:
		// An answer sent to a server is no query. (A public server
		// drops it, lest two servers answer each other forever; the
		// gateway's only peer is the program, which is told.)
		return q, dnsmessage.RCodeFormatError, true
	case hdr.OpCode != 0:
		// UPDATE, NOTIFY, IQUERY, STATUS…: the gateway only resolves.
		return q, dnsmessage.RCodeNotImplemented, true
	case overTCP && len(msg) > maxTCPMessage,
		!overTCP && len(msg) > maxUDPQuery:
		return q, dnsmessage.RCodeFormatError, true
	case qd != 1 || !q.hasQ:
		// Several questions in one message are undefined (RFC 9619);
		// none leaves nothing to answer.
		q.hasQ = false
		return q, dnsmessage.RCodeFormatError, true
	case an != 0 || ns != 0 || ar > 1:
		// A query carries no records, but one OPT.
		return q, dnsmessage.RCodeFormatError, true
	}
	end := msgEnd(msg, 1, int(ar))
	// An OPT record is taken as EDNS(0) and nothing more: the DO bit is
	// kept (a validating program needs the signatures) and the payload
	// size is read only to cut answers for the program (upstream gets
	// upstreamUDPSize); the options, the extended rcode and the Z bits
	// stay behind.
	if ar == 1 {
		// The parser moves on section by section (these are empty).
		p.SkipAllQuestions()
		p.SkipAllAnswers()
		p.SkipAllAuthorities()
		h, err := p.AdditionalHeader()
		if err != nil || h.Type != dnsmessage.TypeOPT || h.Name.String() != "." {
			return q, dnsmessage.RCodeFormatError, true
		}
		// The options are parsed only to check the record's form: none
		// is passed on (cookies, client subnet, padding, keepalive…
		// each one a field of the program's own bytes).
		if _, err := p.OPTResource(); err != nil {
			return q, dnsmessage.RCodeFormatError, true
		}
		q.edns = true
		q.udpSize = max(int(h.Class), maxPlainUDPQuery)
		q.dnssecOK = h.DNSSECAllowed()
		if h.TTL&ednsVersionMask != 0 {
			// An EDNS version other than 0.
			return q, rcodeBadVers, true
		}
	}
	switch {
	case end != len(msg):
		// Bytes after the message (or a message cut short).
		return q, dnsmessage.RCodeFormatError, true
	case !overTCP && !q.edns && len(msg) > maxPlainUDPQuery:
		return q, dnsmessage.RCodeFormatError, true
	case !hostName(q.question.Name):
		// Well-formed, but no host name: refused, as a policy would.
		return q, dnsmessage.RCodeRefused, true
	}
	switch q.question.Type {
	case dnsmessage.TypeOPT, dnsmessage.TypeAXFR, typeIXFR:
		// Zone transfers answer in many messages, and an OPT is no
		// question: a resolver refuses them.
		return q, dnsmessage.RCodeRefused, true
	}
	if q.question.Class != dnsmessage.ClassINET {
		// CHAOS (version.bind…) and the rest ask about servers, not
		// hosts: nothing a host-name rule speaks of.
		return q, dnsmessage.RCodeRefused, true
	}
	return q, dnsmessage.RCodeSuccess, true
}

// hostName reports whether every byte of n is printable ASCII: a host
// name's are (an IDN travels as punycode), and a name with control or
// 8-bit bytes could only be meant to confuse a log or a matcher.
func hostName(n dnsmessage.Name) bool {
	for _, c := range []byte(n.String()) {
		if c <= ' ' || c >= 0x7f {
			return false
		}
	}
	return true
}

// msgEnd is where a message with qd questions and ar records (and nothing
// else) ends, or -1 where it does not parse: dnsmessage.Parser does not
// say how much it read, and bytes after the message must be found.
func msgEnd(msg []byte, qd, ar int) int {
	off := 12
	for range qd {
		if off = skipName(msg, off); off < 0 || off+4 > len(msg) {
			return -1
		}
		off += 4 // type, class
	}
	for range ar {
		if off = skipName(msg, off); off < 0 || off+10 > len(msg) {
			return -1
		}
		off += 10 + int(binary.BigEndian.Uint16(msg[off+8:])) // type, class, TTL, length, data
	}
	if off > len(msg) {
		return -1
	}
	return off
}

// skipName returns the offset after the name at off, or -1.
func skipName(msg []byte, off int) int {
	for off < len(msg) {
		c := int(msg[off])
		switch {
		case c == 0:
			return off + 1
		case c&0xC0 == 0xC0: // a pointer ends the name here
			if off+2 > len(msg) {
				return -1
			}
			return off + 2
		case c&0xC0 != 0:
			return -1
		}
		off += 1 + c
	}
	return -1
}

// rcodeName is an rcode's name as dig prints it.
func rcodeName(rc dnsmessage.RCode) string {
	switch rc {
	case dnsmessage.RCodeSuccess:
		return "NOERROR"
	case dnsmessage.RCodeFormatError:
		return "FORMERR"
	case dnsmessage.RCodeServerFailure:
		return "SERVFAIL"
	case dnsmessage.RCodeNameError:
		return "NXDOMAIN"
	case dnsmessage.RCodeNotImplemented:
		return "NOTIMP"
	case dnsmessage.RCodeRefused:
		return "REFUSED"
	}
	return fmt.Sprintf("RCODE%d", rc)
}

// upstreamQuery builds the query the gateway sends upstream for q: a new
// random ID (the program's would be 16 bits of its choosing on the wire;
// a random one is also what keeps off-path answers out), RD as the program
// set it, its one question, and — when the program spoke EDNS — an OPT of
// the gateway's own with no options, upstreamUDPSize, and the program's DO
// bit (DNSSEC-validating programs need the signatures).
func (q *dnsQuery) upstreamQuery() (msg []byte, id uint16, err error) {
	var b [2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, 0, fmt.Errorf("query ID: %w", err)
	}
	id = binary.BigEndian.Uint16(b[:])
	msg, err = buildMessage(dnsmessage.Header{ID: id, RecursionDesired: q.hdr.RecursionDesired}, &q.question, q.edns, upstreamUDPSize, 0, q.dnssecOK)
	return msg, id, err
}

// buildMessage builds a message with hdr, question (if any) and, with
// edns, an OPT record carrying udpSize, the extended bits of rcode and the
// DO bit.
func buildMessage(hdr dnsmessage.Header, question *dnsmessage.Question, edns bool, udpSize int, rcode dnsmessage.RCode, dnssecOK bool) ([]byte, error) {
	hdr.RCode = rcode & 0xF // the rest lives in the OPT record
	b := dnsmessage.NewBuilder(nil, hdr)
	if err := b.StartQuestions(); err != nil {
		return nil, fmt.Errorf("build DNS message: %w", err)
	}
	if question != nil {
		if err := b.Question(*question); err != nil {
			return nil, fmt.Errorf("build DNS message: %w", err)
		}
	}
	if edns {
		if err := b.StartAdditionals(); err != nil {
			return nil, fmt.Errorf("build DNS message: %w", err)
		}
		var h dnsmessage.ResourceHeader
		h.SetEDNS0(udpSize, rcode, dnssecOK)
		if err := b.OPTResource(h, dnsmessage.OPTResource{}); err != nil {
			return nil, fmt.Errorf("build DNS message: %w", err)
		}
	}
	msg, err := b.Finish()
	if err != nil {
		return nil, fmt.Errorf("build DNS message: %w", err)
	}
	return msg, nil
}

// reply builds the gateway's own answer to q, with no records and rcode:
// the program's ID, opcode and RD, its question where it had exactly one,
// and an OPT where it spoke EDNS (RFC 6891 7).
func (q *dnsQuery) reply(rcode dnsmessage.RCode) []byte {
	return q.replyWith(dnsmessage.Header{
		ID: q.hdr.ID, Response: true, OpCode: q.hdr.OpCode, RecursionDesired: q.hdr.RecursionDesired,
		RecursionAvailable: true,
	}, rcode)
}

func (q *dnsQuery) replyWith(hdr dnsmessage.Header, rcode dnsmessage.RCode) []byte {
	var question *dnsmessage.Question
	if q.hasQ {
		question = &q.question
	}
	// The OPT says what the gateway takes: as much as a query may be.
	msg, err := buildMessage(hdr, question, q.edns || rcode == rcodeBadVers, maxUDPQuery, rcode, q.dnssecOK)
	if err != nil {
		return nil
	}
	return msg
}

// truncated is resp cut to what fits the program's UDP size: its header
// with TC set, and the question, so that it asks again over TCP.
func (q *dnsQuery) truncated(resp []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil {
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	h.Truncated = true
	return q.replyWith(h, h.RCode)
}

// matches reports whether resp is the answer to the query with id and
// question: a response to a QUERY, with that ID and exactly that question.
// Anything else is not relayed — a stray datagram, or an upstream that
// answers something the gateway did not ask.
func matches(resp []byte, id uint16, question dnsmessage.Question) bool {
	var p dnsmessage.Parser
	h, err := p.Start(resp)
	if err != nil || !h.Response || h.OpCode != 0 || h.ID != id || binary.BigEndian.Uint16(resp[4:]) != 1 {
		return false
	}
	got, err := p.Question()
	return err == nil && got.Type == question.Type && got.Class == question.Class &&
		strings.EqualFold(got.Name.String(), question.Name.String())
}

// HostName is the name by which the program reaches the host's loopback:
// the gateway's addresses, answered by the gateway itself (as Docker's
// host.docker.internal). A rule for the loopback (127.0.0.1:PORT,
// [::1]:PORT) decides what of the host it reaches.
const HostName = "host.sandbox.internal"

// hostNameTTL is the TTL of HostName's answer: it never changes while the
// sandbox runs.
const hostNameTTL = 3600

// isHostName reports whether n is HostName (DNS names ignore case).
func isHostName(n dnsmessage.Name) bool {
	return strings.EqualFold(n.String(), HostName+".")
}

// hostAnswer is the gateway's answer for HostName: its own address for A
// and AAAA, no records (and no error) for any other type.
func (q *dnsQuery) hostAnswer() []byte {
	hdr := dnsmessage.Header{
		ID: q.hdr.ID, Response: true, OpCode: q.hdr.OpCode, Authoritative: true,
		RecursionDesired: q.hdr.RecursionDesired, RecursionAvailable: true,
	}
	b := dnsmessage.NewBuilder(nil, hdr)
	b.EnableCompression()
	rh := dnsmessage.ResourceHeader{Name: q.question.Name, Class: dnsmessage.ClassINET, TTL: hostNameTTL}
	err := b.StartQuestions()
	if err == nil {
		err = b.Question(q.question)
	}
	if err == nil {
		err = b.StartAnswers()
	}
	if err == nil {
		switch q.question.Type {
		case dnsmessage.TypeA:
			err = b.AResource(rh, dnsmessage.AResource{A: Gateway4.As4()})
		case dnsmessage.TypeAAAA:
			err = b.AAAAResource(rh, dnsmessage.AAAAResource{AAAA: Gateway6.As16()})
		}
	}
	if err == nil && q.edns {
		if err = b.StartAdditionals(); err == nil {
			var h dnsmessage.ResourceHeader
			h.SetEDNS0(maxUDPQuery, 0, q.dnssecOK)
			err = b.OPTResource(h, dnsmessage.OPTResource{})
		}
	}
	if err != nil {
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	msg, err := b.Finish()
	if err != nil {
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	return msg
}
