package policy

import "strings"

// Shadow is a rule that can never decide anything: an earlier rule
// matches every request it would (the first match wins).
type Shadow struct {
	Rule, By *Rule
	// Duplicate: By is the same rule, written again.
	Duplicate bool
}

// Shadowed lists the rules of p that an earlier rule shadows, in file
// order. It is conservative: a rule it lists never matches; a rule that
// only several earlier rules cover together is not listed.
func (p *Policy) Shadowed() []Shadow {
	var out []Shadow
	for i, r := range p.Rules {
		for _, earlier := range p.Rules[:i] {
			if earlier.covers(r) {
				dup := earlier.Verdict == r.Verdict && earlier.Errno == r.Errno && earlier.sameMatch(r)
				out = append(out, Shadow{Rule: r, By: earlier, Duplicate: dup})
				break
			}
		}
	}
	return out
}

// covers reports whether r matches every request that o matches.
func (r *Rule) covers(o *Rule) bool {
	if r.listen != o.listen {
		return false
	}
	switch {
	case r.proto == protoUnix || o.proto == protoUnix:
		return r.proto == o.proto && r.unixPat.covers(o.unixPat)
	case r.proto != protoIP && r.proto != o.proto:
		return false
	}
	return r.ports.covers(o.ports) && r.dest.covers(o.dest)
}

// sameMatch reports whether r and o match exactly the same requests as
// written (the same PROTO, DEST and PORTS).
func (r *Rule) sameMatch(o *Rule) bool {
	return r.covers(o) && o.covers(r)
}

// covers reports whether every port of o is in one range of s.
func (s portSet) covers(o portSet) bool {
	if s == nil {
		return true
	}
	if o == nil {
		return len(s) == 1 && s[0].lo == 0 && s[0].hi == 65535
	}
	for _, want := range o {
		inOne := false
		for _, have := range s {
			if have.lo <= want.lo && want.hi <= have.hi {
				inOne = true
				break
			}
		}
		if !inOne {
			return false
		}
	}
	return true
}

// covers reports whether d matches every destination o matches. An
// address range never covers a name: which addresses a name stands for is
// known only once it is resolved.
func (d ipDest) covers(o ipDest) bool {
	switch {
	case d.any:
		return true
	case o.any:
		return false
	case d.prefix.IsValid():
		return o.prefix.IsValid() && d.prefix.Bits() <= o.prefix.Bits() && d.prefix.Contains(o.prefix.Addr())
	case o.prefix.IsValid():
		return false
	case !d.wildcard:
		return !o.wildcard && strings.EqualFold(d.name, o.name)
	}
	// *.d.name covers o's name, or o's suffix, when it lies strictly
	// below d.name (a wildcard never matches the name itself).
	return len(o.name) > len(d.name)+1 && strings.HasSuffix(strings.ToLower(o.name), "."+strings.ToLower(d.name)) ||
		o.wildcard && strings.EqualFold(o.name, d.name)
}

// covers reports whether u matches every unix destination o matches: "*"
// covers all, a pattern covers itself.
func (u unixPattern) covers(o unixPattern) bool {
	return u.any || !o.any && u == o
}
