package netstack

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"sandbox/policy"
)

// dnsTimeout bounds one upstream exchange.
const dnsTimeout = 5 * time.Second

// Sizes of the messages the gateway takes from the program. A query is one
// question and at most an OPT record: far below any of these, so a bigger
// message is no query but an attempt to make the gateway hold or carry
// something else.
const (
	// maxPlainUDPQuery is RFC 1035's limit for a UDP message without
	// EDNS (section 2.3.4).
	maxPlainUDPQuery = 512
	// maxUDPQuery is the most any UDP query may be, EDNS or not: the
	// largest payload resolvers still advertise.
	maxUDPQuery = 4096
	// maxTCPMessage is DNS over TCP's own limit (a 2-byte length), which
	// readTCPMessage cannot exceed; it is here to be checked all the same.
	maxTCPMessage = 65535
)

// upstreamUDPSize is the EDNS payload size the gateway advertises upstream,
// whatever the program advertised (DNS Flag Day 2020's 1232: no IP
// fragmentation on any path). A number the program chose would travel
// upstream as 16 bits of its own; an answer bigger than the program asked
// for is cut for it as a resolver would (TC, and the program retries over
// TCP).
const upstreamUDPSize = 1232

// maxDNSInFlight bounds the upstream exchanges the program can have under
// way at once (each holds a host socket and a goroutine for up to
// dnsTimeout). A resolver library asks a handful at a time; beyond this
// the gateway answers SERVFAIL at once, as an overloaded resolver does.
const maxDNSInFlight = 64

// typeIXFR is the incremental zone transfer (RFC 1995), which dnsmessage
// does not name.
const typeIXFR dnsmessage.Type = 251

// ednsVersionMask is the EDNS version in an OPT record's TTL field.
const ednsVersionMask = 0x00ff0000

// rcodeBadVers is EDNS's BADVERS (RFC 6891 6.1.3), an extended rcode: the
// answer to an EDNS version the gateway does not speak.
const rcodeBadVers dnsmessage.RCode = 16

// dnsServer answers the program's DNS queries at the gateway (port 53, UDP
// and TCP). A name no rule could allow gets NXDOMAIN without being looked
// up anywhere; other queries go to the host's resolver, and the addresses
// in the answers are remembered for the host-name rules.
//
// Nothing the program wrote goes upstream as it wrote it: the gateway
// parses each message, accepts only a plain query for one name, judges that
// name, and asks upstream with a message it builds itself from the parsed
// question. Forwarding the program's bytes would let it past the name check
// — with a second question the upstream also answers, records in other
// sections, bytes after the message, EDNS options — and make the upstream
// resolver a channel out of the sandbox.
type dnsServer struct {
	policy   *policy.Policy
	upstream netip.AddrPort
	names    *Names
	inFlight atomic.Int32
	// log, when set, is told of every message the program sent.
	log func(DNSRecord)
	// full, when set, is told each time a query finds maxDNSInFlight
	// lookups under way.
	full func()
	// logf, when set, tells the user of a resolver that fails — once
	// (upstreamLogged): a dead resolver fails every lookup, and one line
	// says why they fail.
	logf           func(format string, args ...any)
	upstreamLogged atomic.Bool
}

// upstreamFailed says, the first time, that the upstream resolver failed a
// lookup, and why.
func (d *dnsServer) upstreamFailed(why string) {
	if d.logf != nil && !d.upstreamLogged.Swap(true) {
		d.logf("%s: names the program looks up fail (SERVFAIL); --dns ADDR names another resolver", why)
	}
}

// HostResolver is the first nameserver in the host's /etc/resolv.conf, the
// upstream the sandbox's DNS asks by default.
func HostResolver() (netip.AddrPort, error) {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("read the host's resolver: %w", err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "nameserver" {
			if a, err := netip.ParseAddr(f[1]); err == nil {
				return netip.AddrPortFrom(a, 53), nil
			}
		}
	}
	return netip.AddrPort{}, fmt.Errorf("no nameserver in the host's /etc/resolv.conf")
}

// answer returns the reply to one query, or nil to stay silent (a message
// too broken to answer), and tells the log about it.
func (d *dnsServer) answer(ctx context.Context, query []byte, overTCP bool) []byte {
	return d.answerWith(ctx, query, overTCP, false)
}

// answerBusy answers a UDP query when the gateway is answering as many as
// it may (maxDNSQueries): as answer does, but a query that would go
// upstream gets SERVFAIL at once — what an overloaded resolver answers.
func (d *dnsServer) answerBusy(query []byte) []byte {
	return d.answerWith(context.Background(), query, false, true)
}

// answerWith is answer; busy says no lookup may go upstream.
func (d *dnsServer) answerWith(ctx context.Context, query []byte, overTCP, busy bool) []byte {
	start := time.Now()
	q, rc, ok := parseQuery(query, overTCP)
	if !ok {
		d.record(DNSRecord{Verdict: DNSInvalid, Reason: "not a DNS message: no answer"}, overTCP, start, nil)
		return nil
	}
	rec := DNSRecord{}
	if q.hasQ {
		rec.Name = strings.TrimSuffix(q.question.Name.String(), ".")
		rec.Type = strings.TrimPrefix(q.question.Type.String(), "Type")
	}
	resp := d.resolve(ctx, &q, rc, overTCP, busy, &rec)
	d.record(rec, overTCP, start, resp)
	return resp
}

// resolve answers q, a parsed query whose form parseQuery judged rc, and
// fills in rec's verdict and reason.
func (d *dnsServer) resolve(ctx context.Context, q *dnsQuery, rc dnsmessage.RCode, overTCP, busy bool, rec *DNSRecord) []byte {
	if rc != dnsmessage.RCodeSuccess {
		rec.Verdict, rec.Reason = DNSInvalid, "not a plain query for one name: answered here"
		return q.reply(rc)
	}
	if isHostName(q.question.Name) {
		rec.Verdict, rec.Reason = policy.Allow.String(), "the host's loopback, through the gateway: answered here"
		return q.hostAnswer()
	}
	dec := d.policy.DecideName(q.question.Name.String())
	switch {
	case dec.Rule != nil:
		rec.Rule = dec.Rule.Pos.Short()
	case dec.Learned:
		rec.Learned = true
		rec.Reason = "learn mode: " + d.policy.DefaultRule() + " would deny it"
	default:
		rec.Rule = d.policy.DefaultRule()
	}
	if dec.Verdict != policy.Allow {
		rec.Verdict, rec.Reason = policy.Deny.String(), "no rule could allow the name: not looked up"
		if d.policy.DNSRefused {
			return q.reply(dnsmessage.RCodeRefused)
		}
		return q.reply(dnsmessage.RCodeNameError)
	}
	rec.Verdict = policy.Allow.String()
	if !d.upstream.IsValid() {
		d.upstreamFailed("the host names no DNS resolver (/etc/resolv.conf)")
		rec.Reason = "no upstream resolver"
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	if busy {
		rec.Reason = fmt.Sprintf("over %d queries being answered", maxDNSQueries)
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	if d.inFlight.Add(1) > maxDNSInFlight {
		d.inFlight.Add(-1)
		if d.full != nil {
			d.full()
		}
		rec.Reason = fmt.Sprintf("over %d lookups in flight", maxDNSInFlight)
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	defer d.inFlight.Add(-1)
	out, id, err := q.upstreamQuery()
	if err != nil {
		rec.Reason = err.Error()
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	resp, err := d.exchange(ctx, out, overTCP, func(resp []byte) bool { return matches(resp, id, q.question) })
	if err != nil {
		if ctx.Err() == nil {
			d.upstreamFailed(fmt.Sprintf("the DNS resolver %s did not answer (%v)", d.upstream, err))
		}
		rec.Reason = "upstream: " + err.Error()
		return q.reply(dnsmessage.RCodeServerFailure)
	}
	d.remember(resp)
	// The answer is the program's again: its ID, and no more than it
	// said it can take.
	binary.BigEndian.PutUint16(resp, q.hdr.ID)
	if !overTCP && len(resp) > q.udpSize {
		return q.truncated(resp)
	}
	return resp
}

// DNSInvalid is the verdict of a message the gateway answered itself
// without judging a name: not a plain query for one name.
const DNSInvalid = "invalid"

// DNSRecord is what the gateway's DNS tells the log of one message from
// the program.
type DNSRecord struct {
	Time    time.Time
	Proto   string // "udp" or "tcp"
	Name    string // the question's name (no final dot), when the message had one question
	Type    string // its type: A, AAAA, MX…
	Verdict string // "allow" (asked upstream), "deny" (no rule could allow the name), or DNSInvalid
	Rule    string // the rule that allowed the name, or the default's place (policy.DefaultRule)
	Learned bool   // learn mode: allowed, though the policy's default would deny it
	Reason  string
	RCode   string   // the answer's: NOERROR, NXDOMAIN… ("" when none was sent)
	Answers []string // the A and AAAA addresses answered
	Took    time.Duration
}

// record hands the log what became of one message, resp being the reply
// (nil: none).
func (d *dnsServer) record(rec DNSRecord, overTCP bool, start time.Time, resp []byte) {
	if d.log == nil {
		return
	}
	rec.Time, rec.Took, rec.Proto = start, time.Since(start), "udp"
	if overTCP {
		rec.Proto = "tcp"
	}
	var p dnsmessage.Parser
	if h, err := p.Start(resp); err == nil {
		rec.RCode = rcodeName(h.RCode)
		if p.SkipAllQuestions() == nil {
			for {
				h, err := p.AnswerHeader()
				if err != nil {
					break
				}
				switch h.Type {
				case dnsmessage.TypeA:
					if r, err := p.AResource(); err == nil {
						rec.Answers = append(rec.Answers, netip.AddrFrom4(r.A).String())
					}
				case dnsmessage.TypeAAAA:
					if r, err := p.AAAAResource(); err == nil {
						rec.Answers = append(rec.Answers, netip.AddrFrom16(r.AAAA).String())
					}
				default:
					err = p.SkipAnswer()
				}
				if err != nil {
					break
				}
			}
		}
	}
	d.log(rec)
}

// errNoAnswer: the upstream sent nothing that answers the query.
var errNoAnswer = errors.New("no matching answer from the upstream resolver")

// exchange sends query to the upstream resolver, over the transport the
// program used, and returns the first reply ok accepts.
func (d *dnsServer) exchange(ctx context.Context, query []byte, overTCP bool, ok func([]byte) bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	network := "udp"
	if overTCP {
		network = "tcp"
	}
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, network, d.upstream.String())
	if err != nil {
		return nil, fmt.Errorf("dial the upstream resolver: %w", err)
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if overTCP {
		if err := writeTCPMessage(c, query); err != nil {
			return nil, fmt.Errorf("ask the upstream resolver: %w", err)
		}
		resp, err := readTCPMessage(c)
		if err != nil {
			return nil, fmt.Errorf("read the upstream resolver: %w", err)
		}
		if !ok(resp) {
			return nil, errNoAnswer
		}
		return resp, nil
	}
	if _, err := c.Write(query); err != nil {
		return nil, fmt.Errorf("ask the upstream resolver: %w", err)
	}
	buf := make([]byte, 65535)
	for {
		// A datagram that is not the answer is skipped: the socket is
		// connected, but a late answer to nothing or a spoofed one
		// must not end the wait for the real one.
		n, err := c.Read(buf)
		if err != nil {
			return nil, fmt.Errorf("read the upstream resolver: %w", err)
		}
		if ok(buf[:n]) {
			return buf[:n:n], nil
		}
	}
}

// DNS over TCP frames each message with its 2-byte length.
func writeTCPMessage(w io.Writer, msg []byte) error {
	if len(msg) > maxTCPMessage {
		return fmt.Errorf("DNS message of %d bytes: more than TCP can frame", len(msg))
	}
	_, err := w.Write(append(binary.BigEndian.AppendUint16(nil, uint16(len(msg))), msg...))
	return err
}

func readTCPMessage(r io.Reader) ([]byte, error) {
	var l [2]byte
	if _, err := io.ReadFull(r, l[:]); err != nil {
		return nil, err
	}
	msg := make([]byte, binary.BigEndian.Uint16(l[:]))
	_, err := io.ReadFull(r, msg)
	return msg, err
}

// remember records the A and AAAA answers of resp under the name asked,
// for the addresses of that name and of the names on its CNAME chain. An
// address record for any other name is not the answer to the question,
// and is recorded under no name: a resolver that adds "bank.example A x"
// to the answer about a name the program may ask must not make x
// bank.example for a rule.
func (d *dnsServer) remember(resp []byte) {
	var p dnsmessage.Parser
	if _, err := p.Start(resp); err != nil {
		return
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) != 1 {
		return
	}
	asked := strings.ToLower(qs[0].Name.String())
	type addrRecord struct {
		name string
		addr netip.Addr
		ttl  time.Duration
	}
	var addrs []addrRecord
	cnames := map[string]string{} // owner → target
	for {
		h, err := p.AnswerHeader()
		if err != nil {
			break
		}
		owner := strings.ToLower(h.Name.String())
		ttl := time.Duration(h.TTL) * time.Second
		switch h.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return
			}
			addrs = append(addrs, addrRecord{owner, netip.AddrFrom4(r.A), ttl})
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return
			}
			addrs = append(addrs, addrRecord{owner, netip.AddrFrom16(r.AAAA), ttl})
		case dnsmessage.TypeCNAME:
			r, err := p.CNAMEResource()
			if err != nil {
				return
			}
			cnames[owner] = strings.ToLower(r.CNAME.String())
		default:
			if err := p.SkipAnswer(); err != nil {
				return
			}
		}
	}
	// The chain from the name asked; it ends where it would loop.
	chain := map[string]bool{asked: true}
	for n := asked; ; {
		next, ok := cnames[n]
		if !ok || chain[next] {
			break
		}
		chain[next] = true
		n = next
	}
	for _, r := range addrs {
		if chain[r.name] {
			d.names.Add(asked, r.addr, r.ttl)
			d.names.Add(r.name, r.addr, r.ttl)
		}
	}
}
