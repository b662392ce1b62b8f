package policy

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// ruleProto is the PROTO of a rule.
type ruleProto uint8

const (
	protoTCP ruleProto = iota + 1
	protoUDP
	protoIP // any IP protocol
	protoUnix
)

var protoNames = map[string]ruleProto{"tcp": protoTCP, "udp": protoUDP, "ip": protoIP, "unix": protoUnix}

func (p ruleProto) String() string {
	return [...]string{"", "tcp", "udp", "ip", "unix"}[p]
}

func (p ruleProto) matches(q Proto) bool {
	switch p {
	case protoTCP:
		return q == TCP
	case protoUDP:
		return q == UDP
	case protoIP:
		return q == TCP || q == UDP || q == OtherIP
	case protoUnix:
		return q == Unix
	}
	return false
}

// ipDest is the DEST of an IP rule: any address, a prefix, or a host name.
type ipDest struct {
	any      bool
	prefix   netip.Prefix
	name     string // lower case, no trailing dot
	wildcard bool   // name is a suffix: *.name matches its strict subdomains
}

func (d ipDest) matches(addr netip.Addr, names []string) bool {
	switch {
	case d.any:
		return true
	case d.prefix.IsValid():
		return d.prefix.Contains(addr)
	}
	for _, n := range names {
		n = strings.TrimSuffix(n, ".")
		if d.wildcard {
			if len(n) > len(d.name)+1 && strings.EqualFold(n[len(n)-len(d.name):], d.name) && n[len(n)-len(d.name)-1] == '.' {
				return true
			}
		} else if strings.EqualFold(n, d.name) {
			return true
		}
	}
	return false
}

func (d ipDest) String() string {
	switch {
	case d.any:
		return "any address"
	case d.prefix.IsValid() && d.prefix.IsSingleIP():
		return d.prefix.Addr().String()
	case d.prefix.IsValid():
		return d.prefix.String()
	case d.wildcard:
		return "hosts *." + d.name
	}
	return "host " + d.name
}

// portRange is an inclusive range of ports.
type portRange struct{ lo, hi uint16 }

// portSet is the PORTS of a rule; nil means every port.
type portSet []portRange

func (s portSet) contains(p uint16) bool {
	if s == nil {
		return true
	}
	for _, r := range s {
		if p >= r.lo && p <= r.hi {
			return true
		}
	}
	return false
}

func (s portSet) String() string {
	if s == nil {
		return "all ports"
	}
	parts := make([]string, len(s))
	for i, r := range s {
		if r.lo == r.hi {
			parts[i] = strconv.Itoa(int(r.lo))
		} else {
			parts[i] = fmt.Sprintf("%d-%d", r.lo, r.hi)
		}
	}
	if len(s) == 1 && s[0].lo == s[0].hi {
		return "port " + parts[0]
	}
	return "ports " + strings.Join(parts, ",")
}

// unixPattern is the DEST of a unix rule.
type unixPattern struct {
	any      bool
	abstract bool   // glob matches abstract names (without the @)
	glob     string // path.Match pattern; for a tree, the directory's
	tree     bool   // written "glob/**": everything below glob matches
}

func (u unixPattern) matches(dest string) bool {
	if u.any {
		return true
	}
	if name, ok := strings.CutPrefix(dest, "@"); ok {
		if !u.abstract {
			return false
		}
		m, _ := path.Match(u.glob, name)
		return m
	}
	if u.abstract {
		return false
	}
	if !u.tree {
		m, _ := path.Match(u.glob, dest)
		return m
	}
	// Below the directory: some "/" of dest ends a prefix that matches
	// the directory's glob, and something follows it. The glob "" of
	// "/**" is matched by the empty prefix before the root's "/".
	for i := range len(dest) - 1 {
		if dest[i] == '/' {
			if m, _ := path.Match(u.glob, dest[:i]); m {
				return true
			}
		}
	}
	return false
}

func (u unixPattern) String() string {
	switch {
	case u.any:
		return "any unix socket"
	case u.abstract:
		return "abstract names matching " + u.glob
	case u.tree:
		return "paths under " + u.glob + "/"
	}
	return "paths matching " + u.glob
}

// matchesLocal reports whether d, the DEST of a listen rule (never a
// name), holds the local address addr (unmapped) a program binds.
func (d ipDest) matchesLocal(addr netip.Addr) bool {
	if d.any {
		return true
	}
	// The unspecified address binds every address of the host, among them
	// ones the prefix does not hold: a rule for 127.0.0.1 (or even
	// 0.0.0.0/8) must not let a program take connections from outside.
	return !addr.IsUnspecified() && d.prefix.Contains(addr)
}

// matches reports whether r decides req; addr is req.Addr unmapped, names
// the request's names that may match (see NameMayStandFor).
func (r *Rule) matches(req *Request, addr netip.Addr, names []string) bool {
	if r.listen != req.Listen || !r.proto.matches(req.Proto) {
		return false
	}
	if r.proto == protoUnix {
		return r.unixPat.matches(req.Unix)
	}
	if !r.ports.contains(req.Port) {
		return false
	}
	if r.listen {
		return r.dest.matchesLocal(addr)
	}
	return r.dest.matches(addr, names)
}
