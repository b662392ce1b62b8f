package netstack

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"

	"sandbox/policy"
)

// dnsTimeout bounds one upstream exchange.
const dnsTimeout = 5 * time.Second

// dnsServer answers the program's DNS queries at the gateway (port 53, UDP
// and TCP). A name no rule could allow gets NXDOMAIN without being looked
// up anywhere; other queries go to the host's resolver, and the addresses
// in the answers are remembered for the host-name rules.
type dnsServer struct {
	policy   *policy.Policy
	upstream netip.AddrPort
	names    *Names
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
// too broken to answer).
func (d *dnsServer) answer(ctx context.Context, query []byte, overTCP bool) []byte {
	var p dnsmessage.Parser
	hdr, err := p.Start(query)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return reply(hdr, nil, dnsmessage.RCodeFormatError)
	}
	if !d.policy.MayResolve(q.Name.String()) {
		if d.policy.DNSRefused {
			return reply(hdr, &q, dnsmessage.RCodeRefused)
		}
		return reply(hdr, &q, dnsmessage.RCodeNameError)
	}
	if !d.upstream.IsValid() {
		return reply(hdr, &q, dnsmessage.RCodeServerFailure)
	}
	resp, err := d.exchange(ctx, query, overTCP)
	if err != nil {
		return reply(hdr, &q, dnsmessage.RCodeServerFailure)
	}
	d.remember(resp)
	return resp
}

// reply builds an answer with no records and rcode.
func reply(q dnsmessage.Header, question *dnsmessage.Question, rcode dnsmessage.RCode) []byte {
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{
		ID: q.ID, Response: true, OpCode: q.OpCode, RecursionDesired: q.RecursionDesired,
		RecursionAvailable: true, RCode: rcode,
	})
	b.StartQuestions()
	if question != nil {
		b.Question(*question)
	}
	msg, err := b.Finish()
	if err != nil {
		return nil
	}
	return msg
}

// exchange asks the upstream resolver, over the transport the program used.
func (d *dnsServer) exchange(ctx context.Context, query []byte, overTCP bool) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, dnsTimeout)
	defer cancel()
	network := "udp"
	if overTCP {
		network = "tcp"
	}
	var dialer net.Dialer
	c, err := dialer.DialContext(ctx, network, d.upstream.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if overTCP {
		return exchangeTCP(c, query)
	}
	if _, err := c.Write(query); err != nil {
		return nil, err
	}
	buf := make([]byte, 65535)
	n, err := c.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

func exchangeTCP(c net.Conn, query []byte) ([]byte, error) {
	if err := writeTCPMessage(c, query); err != nil {
		return nil, err
	}
	return readTCPMessage(c)
}

// DNS over TCP frames each message with its 2-byte length.
func writeTCPMessage(w io.Writer, msg []byte) error {
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

// remember records the A and AAAA answers of resp under the name asked
// (and every name on its CNAME chain).
func (d *dnsServer) remember(resp []byte) {
	var p dnsmessage.Parser
	if _, err := p.Start(resp); err != nil {
		return
	}
	qs, err := p.AllQuestions()
	if err != nil || len(qs) == 0 {
		return
	}
	asked := qs[0].Name.String()
	for {
		h, err := p.AnswerHeader()
		if err != nil {
			return
		}
		var a netip.Addr
		switch h.Type {
		case dnsmessage.TypeA:
			r, err := p.AResource()
			if err != nil {
				return
			}
			a = netip.AddrFrom4(r.A)
		case dnsmessage.TypeAAAA:
			r, err := p.AAAAResource()
			if err != nil {
				return
			}
			a = netip.AddrFrom16(r.AAAA)
		default:
			if err := p.SkipAnswer(); err != nil {
				return
			}
			continue
		}
		ttl := time.Duration(h.TTL) * time.Second
		d.names.Add(asked, a, ttl)
		d.names.Add(h.Name.String(), a, ttl)
	}
}
