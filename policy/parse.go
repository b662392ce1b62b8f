package policy

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"
)

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read policy: %w", err)
	}
	return Parse(path, data)
}

// Parse parses a policy; name is the file name errors are reported
// against. The error, if any, joins one *Error per mistake, in file order.
func Parse(name string, data []byte) (*Policy, error) {
	p := &parser{file: name}
	pol := p.parse(data)
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int {
			return cmp.Or(cmp.Compare(a.Pos.Line, b.Pos.Line), cmp.Compare(a.Pos.Col, b.Pos.Col))
		})
		errs := make([]error, len(p.errs))
		for i, e := range p.errs {
			errs[i] = e
		}
		return nil, errors.Join(errs...)
	}
	return pol, nil
}

type parser struct {
	file string
	errs []*Error
}

func (p *parser) errorf(line, col int, format string, a ...any) {
	p.errs = append(p.errs, &Error{Pos: Pos{p.file, line, col}, Msg: fmt.Sprintf(format, a...)})
}

func (p *parser) nodeErrorf(n *yaml.Node, format string, a ...any) {
	p.errorf(n.Line, n.Column, format, a...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns an error of yaml.v3 into an *Error; yaml.v3 knows the
// line of most syntax errors but never the column.
func (p *parser) yamlError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	p.errorf(line, 1, "not valid YAML: %s", msg)
}

func (p *parser) parse(data []byte) *Policy {
	// A Decoder rather than yaml.Unmarshal, which would silently ignore
	// whatever follows a "---".
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && err != io.EOF {
		p.yamlError(err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		p.errorf(1, 1, "empty policy: a policy needs at least \"version: 1\"")
		return nil
	}
	var next yaml.Node
	if err := dec.Decode(&next); err != io.EOF {
		if err != nil {
			p.yamlError(err)
		} else {
			p.nodeErrorf(&next, "a policy file holds one YAML document: remove the \"---\" and what follows, or merge the two")
		}
		return nil
	}
	top := doc.Content[0]
	if top.Kind != yaml.MappingNode {
		p.nodeErrorf(top, "a policy is a mapping of version, default, errno and rules, not a %s", kindName(top))
		return nil
	}
	pol := &Policy{Source: p.file, Default: Deny, Errno: syscall.EACCES}
	seen := map[string]*yaml.Node{}
	for k, v := range p.pairs(top, seen, "") {
		switch k.Value {
		case "version":
			if v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || v.Value != "1" {
				p.nodeErrorf(v, "version %s: the only policy version is 1 (a number, unquoted)", quoteNode(v))
			}
		case "default":
			if verdict, ok := p.verdict(v); ok {
				pol.Default = verdict
				pol.DefaultPos = Pos{File: p.file, Line: k.Line, Col: k.Column}
			}
		case "errno":
			if e, ok := p.errno(v); ok {
				pol.Errno = e
			}
		case "rules":
			pol.Rules = p.rules(v)
		case "dns-denied":
			switch {
			case isString(v) && v.Value == "NXDOMAIN":
			case isString(v) && v.Value == "REFUSED":
				pol.DNSRefused = true
			default:
				p.nodeErrorf(v, "dns-denied %s: want NXDOMAIN or REFUSED", quoteNode(v))
			}
		default:
			p.nodeErrorf(k, "unknown key %q (expected version, default, errno, dns-denied or rules)", k.Value)
		}
	}
	if seen["version"] == nil {
		p.nodeErrorf(top, "missing \"version: 1\"")
	}
	return pol
}

// pairs yields the key/value pairs of mapping m whose key is a plain
// string seen for the first time, recording it in seen; it reports the
// others. where ("" or " in rule") completes the messages.
func (p *parser) pairs(m *yaml.Node, seen map[string]*yaml.Node, where string) iter.Seq2[*yaml.Node, *yaml.Node] {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			if !isString(k) {
				p.nodeErrorf(k, "a key%s must be a name such as version or allow, not a %s", where, kindName(k))
				continue
			}
			if first, dup := seen[k.Value]; dup {
				p.nodeErrorf(k, "duplicate key %q%s (first at line %d)", k.Value, where, first.Line)
				continue
			}
			seen[k.Value] = k
			if !yield(k, v) {
				return
			}
		}
	}
}

// isString reports whether n is a string scalar: plain or quoted text, not
// a number, a boolean, null or a value with a tag of its own.
func isString(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!str"
}

func (p *parser) verdict(v *yaml.Node) (Verdict, bool) {
	if isString(v) {
		switch v.Value {
		case "allow":
			return Allow, true
		case "deny":
			return Deny, true
		}
	}
	p.nodeErrorf(v, "default %s: want allow or deny", quoteNode(v))
	return 0, false
}

// errnoByName maps every errno name Linux knows to its value; errnoNames
// lists the names, for suggestions. x/sys/unix has ErrnoName but no
// reverse lookup (there is no unix.ErrnoValue), so the table is built from
// ErrnoName once.
var errnoByName, errnoNames = func() (map[string]syscall.Errno, []string) {
	m := map[string]syscall.Errno{
		// Aliases x/sys names only by their other spelling.
		"EWOULDBLOCK": syscall.EAGAIN,
		"EDEADLOCK":   syscall.EDEADLK,
		"ENOTSUP":     syscall.EOPNOTSUPP,
	}
	for e := syscall.Errno(1); e < 256; e++ {
		if n := unix.ErrnoName(e); n != "" {
			m[n] = e
		}
	}
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return m, names
}()

// ErrnoName is e's name as a policy writes it (EACCES), "errno N" for a
// number Linux has no name for, and "" for 0 (no error): the one spelling
// of an errno in everything the sandbox prints.
func ErrnoName(e syscall.Errno) string {
	if e == 0 {
		return ""
	}
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return "errno " + strconv.Itoa(int(e))
}

func (p *parser) errno(v *yaml.Node) (syscall.Errno, bool) {
	if !isString(v) || v.Value == "" {
		p.nodeErrorf(v, "errno %s: want an errno name such as EACCES", quoteNode(v))
		return 0, false
	}
	if e, ok := errnoByName[v.Value]; ok {
		return e, true
	}
	if s := suggest(v.Value, errnoNames); s != "" {
		p.nodeErrorf(v, "unknown errno %q (did you mean %s?)", v.Value, s)
	} else {
		p.nodeErrorf(v, "unknown errno %q: want an errno name such as EACCES or ECONNREFUSED", v.Value)
	}
	return 0, false
}

func (p *parser) rules(v *yaml.Node) []*Rule {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return nil // "rules:" with nothing under it
	}
	if v.Kind != yaml.SequenceNode {
		p.nodeErrorf(v, "rules must be a list (\"- allow: tcp 127.0.0.1:8080\"), not a %s", kindName(v))
		return nil
	}
	var rules []*Rule
	for _, item := range v.Content {
		if r := p.rule(item); r != nil {
			rules = append(rules, r)
		}
	}
	return rules
}

func (p *parser) rule(n *yaml.Node) *Rule {
	if n.Kind != yaml.MappingNode {
		p.nodeErrorf(n, "a rule is a mapping such as \"allow: tcp 127.0.0.1:8080\", not a %s", kindName(n))
		return nil
	}
	var r Rule
	var value, errnoNode *yaml.Node
	errs := len(p.errs) // the rule is kept only if it adds none
	for k, v := range p.pairs(n, map[string]*yaml.Node{}, " in rule") {
		switch k.Value {
		case "allow", "deny":
			if value != nil {
				p.nodeErrorf(k, "a rule is either allow or deny, not both")
				continue
			}
			value = v
			r.Verdict = Allow
			if k.Value == "deny" {
				r.Verdict = Deny
			}
		case "errno":
			errnoNode = v
		default:
			p.nodeErrorf(k, "unknown key %q in rule (expected allow, deny or errno)", k.Value)
		}
	}
	if value == nil {
		if len(p.errs) == errs {
			p.nodeErrorf(n, "rule has neither allow nor deny")
		}
		return nil
	}
	if errnoNode != nil {
		if r.Verdict == Allow {
			p.nodeErrorf(errnoNode, "errno applies only to deny rules: an allowed call returns what the real call returns")
		} else if e, ok := p.errno(errnoNode); ok {
			r.Errno = e
		}
	}
	r.Pos = Pos{p.file, value.Line, value.Column}
	if !isString(value) || value.Value == "" {
		p.nodeErrorf(value, "%s %s: want PROTO DEST, such as tcp 127.0.0.1:8080", r.Verdict, quoteNode(value))
		return nil
	}
	r.Text = value.Value
	if !p.ruleText(&r, value) || len(p.errs) != errs {
		return nil
	}
	return &r
}

// ruleText parses "PROTO DEST" into r. Errors point into the value where
// its text sits on one line as written (a plain scalar).
func (p *parser) ruleText(r *Rule, v *yaml.Node) bool {
	text := v.Value
	fail := func(offset int, format string, a ...any) bool {
		col := v.Column
		if v.Style == 0 && !strings.Contains(text, "\n") {
			col += utf8.RuneCountInString(text[:offset]) // yaml counts columns in characters
		}
		p.errorf(v.Line, col, format, a...)
		return false
	}
	protoText, dest, found := strings.Cut(text, " ")
	dest = strings.TrimLeft(dest, " ")
	protoOff := 0
	if protoText == "listen" {
		r.listen = true
		protoOff = len(text) - len(dest)
		protoText, dest, found = strings.Cut(dest, " ")
		dest = strings.TrimLeft(dest, " ")
	}
	destOff := len(text) - len(dest)
	if !found || dest == "" || strings.ContainsFunc(dest, notGraphic) {
		if r.listen {
			return fail(0, "rule %q: want listen PROTO DEST, such as listen tcp 127.0.0.1:8080", text)
		}
		if distance(strings.ToLower(protoText), "listen") <= 2 {
			return fail(0, "rule %q: want PROTO DEST or listen PROTO DEST (did you mean listen?)", text)
		}
		return fail(0, "rule %q: want PROTO DEST, such as tcp 127.0.0.1:8080", text)
	}
	proto, ok := protoNames[protoText]
	switch {
	case r.listen && proto == protoUnix:
		return fail(protoOff, "listen unix: unix binds are not judged; a listen rule takes tcp, udp or ip (unix rules judge the sockets a program connects to)")
	case r.listen && !ok:
		return fail(protoOff, "unknown protocol %q after listen (want tcp, udp or ip)", protoText)
	case !ok && distance(strings.ToLower(protoText), "listen") <= 2:
		return fail(0, "unknown protocol %q (did you mean listen? want tcp, udp, ip, unix or listen PROTO)", protoText)
	case !ok:
		return fail(0, "unknown protocol %q (want tcp, udp, ip or unix)", protoText)
	}
	r.proto = proto
	if proto == protoUnix {
		pat, msg := parseUnixDest(dest)
		if msg != "" {
			return fail(destOff, "%s", msg)
		}
		r.unixPat = pat
		return true
	}
	host, ports, hasPorts, msg := splitHostPorts(dest)
	if msg != "" {
		return fail(destOff, "%s", msg)
	}
	if r.listen && looksLikeName(host) {
		return fail(destOff, "%s", listenNameMsg(host))
	}
	d, msg := parseIPDest(host)
	if msg != "" {
		return fail(destOff, "%s", msg)
	}
	if r.listen && d.prefix.IsSingleIP() && d.prefix.Addr().IsUnspecified() {
		// What binding 0.0.0.0 or :: means: every address (of both
		// families, for a dual-stack socket bound to ::).
		d = ipDest{any: true}
	}
	r.dest = d
	if hasPorts {
		set, off, msg := parsePorts(ports)
		if msg != "" {
			return fail(destOff+len(dest)-len(ports)+off, "%s", msg)
		}
		r.ports = set
	}
	return true
}

// notGraphic is true of the runes a DEST may not hold: spaces and control
// characters, which would also make messages quoting it unreadable.
func notGraphic(r rune) bool { return !unicode.IsGraphic(r) || unicode.IsSpace(r) }

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	case yaml.AliasNode:
		return "alias"
	}
	return "single value"
}

func quoteNode(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return strconv.Quote(n.Value)
	}
	return "(a " + kindName(n) + ")"
}

// suggest returns the candidate closest to s when it is close enough to be
// a typo (edit distance ≤ 2).
func suggest(s string, candidates []string) string {
	best, bestDist := "", 3
	up := strings.ToUpper(s)
	for _, c := range candidates {
		if d := distance(up, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// distance is the Levenshtein distance between a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
