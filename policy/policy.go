// Package policy reads network policies and decides, for each destination a
// program names, whether it may be reached.
//
// A policy is a strict YAML file (README, "Policy"): a default verdict, a
// default errno and an ordered list of rules, the first match winning.
// Parsing reports every mistake with file:line:col; deciding is pure Go —
// no syscalls, no allocation — and safe for concurrent use.
package policy

import (
	_ "embed"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Proto is the protocol of a request.
type Proto uint8

// Protocols a request can have.
const (
	TCP Proto = iota + 1
	UDP
	// OtherIP is any other IP protocol (raw, ICMP, SCTP…): only `ip`
	// rules match it.
	OtherIP
	Unix
)

// String is the protocol's name in a policy file.
func (p Proto) String() string {
	switch p {
	case TCP:
		return "tcp"
	case UDP:
		return "udp"
	case OtherIP:
		return "ip"
	case Unix:
		return "unix"
	}
	return fmt.Sprintf("proto(%d)", uint8(p))
}

// Verdict is what a rule or a policy's default decides.
type Verdict uint8

// The two verdicts.
const (
	Allow Verdict = iota + 1
	Deny
)

// String is the verdict's name in a policy file.
func (v Verdict) String() string {
	switch v {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// Pos is a place in a policy file.
type Pos struct {
	File      string
	Line, Col int
}

// String is "file:line:col", the form editors jump to.
func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Short is "file:line", the audit log's name for a rule.
func (p Pos) Short() string { return fmt.Sprintf("%s:%d", p.File, p.Line) }

// Error is one mistake in a policy file.
type Error struct {
	Pos Pos
	Msg string
}

// Error is "file:line:col: msg", so that editors and terminals can jump to
// the mistake.
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// Request is one destination a program names.
type Request struct {
	Proto Proto
	// Addr is the destination address of an IP request; an IPv4-mapped
	// IPv6 address meets the IPv4 rules.
	Addr netip.Addr
	Port uint16
	// Names are the host names Addr was resolved from by the sandbox's
	// own DNS; empty where the sandbox resolves no names (--net host).
	Names []string
	// Unix is, for a Unix request, the absolute path the socket really
	// is at, or "@" and an abstract name (raw bytes).
	Unix string
	// Listen: the request is a bind/listen: Addr and Port are the local
	// address to be bound; an unspecified Addr (0.0.0.0, ::) means every
	// address of the host. Only listen rules judge it, and Names are
	// ignored.
	Listen bool
}

// Rule is one entry of a policy's rules.
type Rule struct {
	Verdict Verdict
	Errno   syscall.Errno // non-zero only when the rule names one
	Pos     Pos           // where the rule's allow/deny value is
	Text    string        // the rule as written, e.g. "tcp 127.0.0.1:8080"

	proto   ruleProto
	listen  bool // an inbound rule: dest is the local address bound
	dest    ipDest
	ports   portSet
	unixPat unixPattern
}

// Policy is a parsed policy file.
type Policy struct {
	Source  string // the file name, or "<default>" for the embedded policy
	Default Verdict
	Errno   syscall.Errno // for denied calls whose rule names none
	Rules   []*Rule
	// DNSRefused: names no rule could allow get REFUSED from the
	// sandbox's DNS rather than NXDOMAIN (`dns-denied: REFUSED`).
	DNSRefused bool
	// DefaultPos is where the file says `default:` (zero when it does
	// not, and deny is the default).
	DefaultPos Pos

	// learn: what the default would deny is allowed, and marked learned
	// (see Learning).
	learn bool
}

// Learning is p in learn mode: a request no rule matches, which p's
// default would deny, is allowed and its Decision marked Learned, and
// every name may be resolved. p's own rules still decide what they match
// — an explicit deny included: the user wrote it. p is not changed.
func (p *Policy) Learning() *Policy {
	l := *p
	l.learn = true
	return &l
}

// IsLearning reports whether p is in learn mode (see Learning).
func (p *Policy) IsLearning() bool { return p.learn }

// DefaultRule is how the audit log names p's default when it decides: the
// place of `default:` in the file ("p.yaml:2"), or "p.yaml:default" for a
// file that leaves it out.
func (p *Policy) DefaultRule() string {
	if p.DefaultPos.Line == 0 {
		return p.Source + ":default"
	}
	return p.DefaultPos.Short()
}

// Decision is what the policy says of one request.
type Decision struct {
	Verdict Verdict
	Errno   syscall.Errno // when Verdict is Deny: the rule's errno, else the policy's
	Rule    *Rule         // nil when no rule matched and the default decided
	// Learned: in learn mode, allowed because it is learned; the
	// policy's default would have denied it.
	Learned bool
}

// Decide returns the verdict of the first rule that matches r, or the
// policy's default. A listen request meets only listen rules, any other
// request only the others. A name never stands for a special address (see
// NameMayStandFor): for those, r.Names are ignored.
func (p *Policy) Decide(r Request) Decision {
	addr := r.Addr.Unmap()
	names := r.Names
	if len(names) > 0 && (r.Listen || !NameMayStandFor(addr)) {
		names = nil
	}
	for _, rule := range p.Rules {
		if rule.matches(&r, addr, names) {
			d := Decision{Verdict: rule.Verdict, Rule: rule}
			if d.Verdict == Deny {
				d.Errno = rule.Errno
				if d.Errno == 0 {
					d.Errno = p.Errno
				}
			}
			return d
		}
	}
	d := Decision{Verdict: p.Default}
	if d.Verdict == Deny {
		if p.learn {
			return Decision{Verdict: Allow, Learned: true}
		}
		d.Errno = p.Errno
	}
	return d
}

// NameMayStandFor reports whether a host name rule may match a request
// for addr (unmapped). A name the program resolves is whatever its DNS
// server says, and an attacker who controls a name (or the path to its
// server) can point it at the loopback, at a link-local service — cloud
// metadata at 169.254.169.254 hands out credentials — or at a multicast
// group: DNS rebinding, which dnsmasq's --stop-dns-rebind guards against
// the same way. So a rule allowing example.com must not allow those
// addresses; only a rule naming the address, or a range holding it, can.
func NameMayStandFor(addr netip.Addr) bool {
	return !(addr.IsLoopback() || addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() ||
		addr.IsMulticast() || addr.IsUnspecified())
}

// HostnameRules are the rules that name hosts: they match only requests
// whose address the sandbox's own DNS resolved.
func (p *Policy) HostnameRules() []*Rule {
	var out []*Rule
	for _, r := range p.Rules {
		if r.IsName() && !r.listen {
			out = append(out, r)
		}
	}
	return out
}

// DecideName decides whether a host called name may be resolved: allowed
// when a connection to it could be allowed by some rule (Rule: the first)
// or by the default (Rule nil), or in learn mode (Learned). Only such
// names are looked up for the program, so that a name no rule allows does
// not leave the sandbox even as a DNS query. It judges by name alone — a
// rule allowing an address range does not make names resolvable, since
// which names land in it is known only after resolving them. Listen rules
// speak of the program's own addresses, never of a name it may reach.
func (p *Policy) DecideName(name string) Decision {
	names := []string{name}
	for _, r := range p.Rules {
		if r.Verdict == Allow && r.proto != protoUnix && !r.listen && (r.dest.any || r.IsName() && r.dest.matches(netip.Addr{}, names)) {
			return Decision{Verdict: Allow, Rule: r}
		}
	}
	switch {
	case p.Default == Allow:
		return Decision{Verdict: Allow}
	case p.learn:
		return Decision{Verdict: Allow, Learned: true}
	}
	return Decision{Verdict: Deny, Errno: p.Errno}
}

// IsName reports whether the rule names a host (example.com, *.example.org).
func (r *Rule) IsName() bool { return r.dest.name != "" }

// Listen reports whether the rule is an inbound one (`listen PROTO DEST`):
// it judges the local addresses a program binds, and only those.
func (r *Rule) Listen() bool { return r.listen }

// Summary is one line saying what the rule does, for `sandbox check`.
func (r *Rule) Summary() string {
	var b strings.Builder
	b.WriteString(r.Verdict.String())
	b.WriteByte(' ')
	if r.listen {
		b.WriteString("listen ")
	}
	b.WriteString(r.proto.String())
	b.WriteByte(' ')
	switch {
	case r.proto == protoUnix:
		b.WriteString(r.unixPat.String())
	case r.listen && r.dest.any:
		// What *, 0.0.0.0 and [::] mean to a bind: all of the host's
		// addresses at once, not any one of them.
		b.WriteString("every address ")
		b.WriteString(r.ports.String())
	default:
		b.WriteString(r.dest.String())
		b.WriteByte(' ')
		b.WriteString(r.ports.String())
	}
	if r.Errno != 0 {
		b.WriteString(" → ")
		b.WriteString(ErrnoName(r.Errno))
	}
	return b.String()
}

//go:embed default.yaml
var defaultYAML []byte

var defaultPolicy = sync.OnceValue(func() *Policy {
	p, err := Parse("<default>", defaultYAML)
	if err != nil {
		panic("the embedded default policy is broken: " + err.Error())
	}
	return p
})

// Default is the embedded policy used when none is given: the loopback and
// unix sockets out, listening on the loopback in, nothing else.
func Default() *Policy { return defaultPolicy() }

// DefaultYAML is the embedded default policy's text, as `sandbox policy
// default` prints it and the log cites it (<default>:LINE).
func DefaultYAML() []byte { return slices.Clone(defaultYAML) }

// FirstLoopbackRule is the first rule (not a listen rule) whose
// destination lies in the loopback — 127.0.0.1, 127.0.0.0/8, [::1] — and
// so means one thing per network mode; nil when there is none.
func (p *Policy) FirstLoopbackRule() *Rule {
	for _, r := range p.Rules {
		if !r.listen && r.dest.prefix.IsValid() && r.dest.prefix.Addr().IsLoopback() {
			return r
		}
	}
	return nil
}
