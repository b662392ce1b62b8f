// Package learn turns what a program did under `sandbox run --learn` into
// a policy that allows exactly that: it observes the records of the calls
// the policy would have denied (sentry marks them learned) and writes them
// out as rules, after the base policy's own.
//
// Rules are by name where the destination came from the sandbox's DNS
// (--net sandbox), by address otherwise; by path for unix sockets, by name
// for abstract ones; listen rules for what the program bound (--net host).
// One rule per destination, with every port the program used there, and a
// comment naming the executables and the count of calls.
package learn

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"sandbox/policy"
	"sandbox/sentry"
)

// maxDests bounds the destinations learned: a program that tries every
// address of a /16 must not grow the supervisor without end, and a policy
// of more rules than this is no longer one a person reads. Past it calls
// are counted, and the policy says how many were left out.
const maxDests = 4096

// Learner collects what a program did that its base policy would deny. It
// is a sentry.Observer; safe for concurrent use.
type Learner struct {
	mu sync.Mutex
	// +checklocks:mu
	dests map[dest]*usage
	// +checklocks:mu
	names map[string]bool // names the sandbox's DNS resolved for the program
	// +checklocks:mu
	dropped int // learned calls past maxDests
	// ephemeral is the kernel's range of ports it picks itself
	// (net.ipv4.ip_local_port_range): a listen on a port the program
	// did not name is learned as this range, which the next run's port
	// will be in.
	ephemeral [2]uint16
}

// dest is one destination of a rule: PROTO DEST without the ports.
type dest struct {
	listen bool
	proto  policy.Proto
	host   string // a name, an address as a policy writes it, a unix path or @name
}

// usage is what the program did with one dest.
type usage struct {
	bound     map[uint16]bool // ports named in a bind (listen), or connected/sent to
	listened  map[uint16]bool // listen: ports of a listen the bind did not name
	exes      map[string]int
	calls     int
	firstSeen int // order of first use, for a stable file
}

// New returns a Learner. ephemeral is the range of ports the kernel picks
// (see ReadEphemeralRange).
func New(ephemeral [2]uint16) *Learner {
	return &Learner{dests: map[dest]*usage{}, names: map[string]bool{}, ephemeral: ephemeral}
}

// Observe takes one record: a learned decision becomes part of a rule,
// and a name the sandbox's DNS resolved is noted.
func (l *Learner) Observe(r *sentry.Record) {
	if r.Syscall == "dns" {
		if r.Verdict == policy.Allow.String() && r.Name != "" {
			l.mu.Lock()
			if len(l.names) < maxDests {
				l.names[strings.ToLower(r.Name)] = true
			}
			l.mu.Unlock()
		}
		return
	}
	if !r.Learned || r.Request == nil {
		return
	}
	q := r.Request
	d := dest{listen: q.Listen, proto: q.Proto}
	switch {
	case q.Proto == policy.Unix:
		d.host = q.Unix
	case r.Host != "":
		d.host = r.Host
	default:
		d.host = addrString(q.Addr)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	u := l.dests[d]
	if u == nil {
		if len(l.dests) >= maxDests {
			l.dropped++
			return
		}
		u = &usage{bound: map[uint16]bool{}, listened: map[uint16]bool{}, exes: map[string]int{}, firstSeen: len(l.dests)}
		l.dests[d] = u
	}
	u.calls++
	exe := r.Exe
	if exe == "" {
		exe = "an unknown program"
	}
	u.exes[exe]++
	if q.Proto == policy.Unix {
		return
	}
	if q.Listen && r.Syscall == "listen" {
		u.listened[q.Port] = true
	} else {
		u.bound[q.Port] = true
	}
}

// addrString writes a as a policy does: IPv4 plainly (an IPv4-mapped
// address meets the IPv4 rules), IPv6 in brackets.
func addrString(a netip.Addr) string {
	a = a.Unmap()
	if a.Is6() {
		return "[" + a.String() + "]"
	}
	return a.String()
}

// Write writes the learned policy to w: base's rules first, as they are,
// then one allow rule per destination learned; the default, errno and
// dns-denied are base's. header lines become comments at the top.
func (l *Learner) Write(w io.Writer, base *policy.Policy, header []string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	var b bytes.Buffer
	for _, h := range header {
		fmt.Fprintf(&b, "# %s\n", commentSafe(h))
	}
	b.WriteString("version: 1\n")
	fmt.Fprintf(&b, "default: %s\n", base.Default)
	fmt.Fprintf(&b, "errno: %s\n", policy.ErrnoName(base.Errno))
	if base.DNSRefused {
		b.WriteString("dns-denied: REFUSED\n")
	}
	b.WriteString("rules:\n")
	if len(base.Rules) > 0 {
		fmt.Fprintf(&b, "  # %s's rules, first:\n", base.Source)
		for _, r := range base.Rules {
			fmt.Fprintf(&b, "  - %s: %s\n", r.Verdict, yamlScalar(r.Text))
			if r.Errno != 0 {
				fmt.Fprintf(&b, "    errno: %s\n", policy.ErrnoName(r.Errno))
			}
		}
	}
	rules := l.rules()
	if len(rules) == 0 {
		b.WriteString("  # learned: nothing (the program did nothing the policy above denies)\n")
	} else {
		b.WriteString("  # learned:\n")
	}
	for _, r := range rules {
		if r.text == "" {
			fmt.Fprintf(&b, "  # not written as a rule: %s (%s)\n", r.why, r.comment)
			continue
		}
		fmt.Fprintf(&b, "  - allow: %s  # %s\n", yamlScalar(r.text), r.comment)
	}
	if l.dropped > 0 {
		fmt.Fprintf(&b, "  # and %d calls to destinations past the first %d, not learned\n", l.dropped, maxDests)
	}
	if unused := l.unusedNames(); len(unused) > 0 {
		fmt.Fprintf(&b, "# Resolved but never connected to (a rule naming one makes it resolvable): %s\n", strings.Join(unused, ", "))
	}
	if _, err := policy.Parse("learned policy", b.Bytes()); err != nil {
		return fmt.Errorf("the learned policy does not parse (a bug; please report it): %w", err)
	}
	_, err := w.Write(b.Bytes())
	return err
}

// rule is one learned rule: text (empty when it cannot be written as
// one, why then says why) and its comment.
type rule struct {
	text, why, comment string
}

// rules are the learned rules, in the order the program first used each
// destination.
// +checklocks:l.mu
func (l *Learner) rules() []rule {
	ds := slices.SortedFunc(maps.Keys(l.dests), func(a, b dest) int {
		return cmp.Compare(l.dests[a].firstSeen, l.dests[b].firstSeen)
	})
	out := make([]rule, 0, len(ds))
	for _, d := range ds {
		u := l.dests[d]
		r := rule{comment: u.comment()}
		var b strings.Builder
		if d.listen {
			b.WriteString("listen ")
		}
		b.WriteString(d.proto.String())
		b.WriteByte(' ')
		if d.proto == policy.Unix {
			p, ok := unixRuleDest(d.host)
			if !ok {
				r.why = "unix " + strconv.Quote(d.host) + ": a name a policy cannot spell"
				out = append(out, r)
				continue
			}
			b.WriteString(p)
		} else {
			b.WriteString(d.host)
			b.WriteByte(':')
			b.WriteString(l.ports(u))
		}
		r.text = b.String()
		out = append(out, r)
	}
	return out
}

// ports is a usage's ports as a policy writes them: "443", "80,443", and
// for a listen on a port the kernel chose, the kernel's ephemeral range.
// +checklocks:l.mu
func (l *Learner) ports(u *usage) string {
	var parts []string
	for _, p := range slices.Sorted(maps.Keys(u.bound)) {
		parts = append(parts, strconv.Itoa(int(p)))
	}
	chosen := false
	for p := range u.listened {
		if !u.bound[p] {
			chosen = true
		}
	}
	if chosen {
		parts = append(parts, fmt.Sprintf("%d-%d", l.ephemeral[0], l.ephemeral[1]))
	}
	return strings.Join(parts, ",")
}

// comment names who made the calls: "/usr/bin/curl: 3 calls".
func (u *usage) comment() string {
	exes := slices.SortedFunc(maps.Keys(u.exes), func(a, b string) int {
		return cmp.Or(cmp.Compare(u.exes[b], u.exes[a]), cmp.Compare(a, b))
	})
	parts := make([]string, len(exes))
	for i, e := range exes {
		n := u.exes[e]
		parts[i] = fmt.Sprintf("%s: %d call%s", commentSafe(e), n, plural(n))
	}
	return strings.Join(parts, ", ")
}

// commentSafe is s as it can stand in a comment line: quoted when it
// holds a line break or anything else not printable.
func commentSafe(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' }) {
		return strconv.Quote(s)
	}
	return s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// unixRuleDest writes a unix destination as a rule's DEST that matches it
// and nothing else: a path's glob characters escaped (path.Match), an
// abstract name likewise after its @. ok is false for what a policy file
// cannot hold (spaces, control characters, a NUL in an abstract name).
func unixRuleDest(s string) (string, bool) {
	for _, r := range s {
		if !unicode.IsGraphic(r) || unicode.IsSpace(r) || r == utf8.RuneError {
			return "", false // a rule's DEST is one word of printable text
		}
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String(), true
}

// unusedNames are the names resolved for the program that no learned rule
// names.
// +checklocks:l.mu
func (l *Learner) unusedNames() []string {
	used := map[string]bool{}
	for d := range l.dests {
		used[d.host] = true
	}
	var out []string
	for n := range l.names {
		if !used[n] {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// yamlScalar is s as a YAML scalar: plain when YAML reads it back as the
// same string, quoted otherwise.
func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if err != nil {
		return strconv.Quote(s)
	}
	return strings.TrimSuffix(string(out), "\n")
}

// ReadEphemeralRange reads the range of ports the kernel picks for a socket
// that names none (net.ipv4.ip_local_port_range, which IPv6 shares); Linux's
// own default when it cannot be read.
func ReadEphemeralRange() [2]uint16 {
	def := [2]uint16{32768, 60999}
	data, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return def
	}
	f := strings.Fields(string(data))
	if len(f) != 2 {
		return def
	}
	lo, err1 := strconv.ParseUint(f[0], 10, 16)
	hi, err2 := strconv.ParseUint(f[1], 10, 16)
	if err1 != nil || err2 != nil || lo > hi {
		return def
	}
	return [2]uint16{uint16(lo), uint16(hi)}
}

// Summary says how much was learned: "3 rules", "nothing".
func (l *Learner) Summary() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch n := len(l.dests); n {
	case 0:
		return "nothing"
	case 1:
		return "1 rule"
	default:
		return strconv.Itoa(n) + " rules"
	}
}
