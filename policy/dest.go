// The DEST and PORTS of a rule: addresses, CIDRs, host names, unix paths
// and abstract names, port lists and ranges, each read strictly, with a
// message that says what would be right.

package policy

import (
	"fmt"
	"net/netip"
	"path"
	"strconv"
	"strings"
)

// splitHostPorts splits "HOST[:PORTS]" and "[V6][:PORTS]".
func splitHostPorts(dest string) (host, ports string, hasPorts bool, msg string) {
	if strings.HasPrefix(dest, "[") {
		end := strings.Index(dest, "]")
		if end < 0 {
			return "", "", false, fmt.Sprintf("%q: missing ] after the IPv6 address", dest)
		}
		host, rest := dest[1:end], dest[end+1:]
		if !strings.Contains(host, ":") {
			return "", "", false, fmt.Sprintf("%q: brackets are for IPv6 addresses and prefixes only", dest)
		}
		if rest == "" {
			return host, "", false, ""
		}
		if !strings.HasPrefix(rest, ":") {
			return "", "", false, fmt.Sprintf("%q: want [IPv6]:PORTS", dest)
		}
		return host, rest[1:], true, ""
	}
	if strings.Count(dest, ":") > 1 {
		return "", "", false, fmt.Sprintf("%q: IPv6 addresses go in brackets, such as [::1]:53 or [fd00::/8]", dest)
	}
	host, ports, hasPorts = strings.Cut(dest, ":")
	if host == "" {
		return "", "", false, fmt.Sprintf("%q: missing address before the ports", dest)
	}
	return host, ports, hasPorts, ""
}

func parseIPDest(host string) (ipDest, string) {
	if host == "*" {
		return ipDest{any: true}, ""
	}
	if strings.Contains(host, "/") {
		pfx, err := netip.ParsePrefix(host)
		if err != nil {
			return ipDest{}, fmt.Sprintf("%q is not a valid CIDR (such as 198.18.0.0/15 or [fd00::/8])", host)
		}
		if pfx.Addr().Zone() != "" {
			return ipDest{}, fmt.Sprintf("%q: zones are not allowed in rules", host)
		}
		if pfx.Masked() != pfx {
			return ipDest{}, fmt.Sprintf("%s has host bits set: did you mean %s?", host, pfx.Masked())
		}
		return ipDest{prefix: canonical(pfx)}, ""
	}
	if strings.Contains(host, ":") {
		a, err := netip.ParseAddr(host)
		if err != nil || a.Zone() != "" {
			return ipDest{}, fmt.Sprintf("%q is not a valid IPv6 address", host)
		}
		return ipDest{prefix: canonical(netip.PrefixFrom(a, a.BitLen()))}, ""
	}
	if strings.Trim(host, "0123456789.") == "" {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() {
			return ipDest{}, fmt.Sprintf("%q is not a valid IPv4 address", host)
		}
		return ipDest{prefix: netip.PrefixFrom(a, 32)}, ""
	}
	name, wildcard := strings.CutPrefix(host, "*.")
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	if why := hostnameProblem(name); why != "" {
		if wildcard {
			return ipDest{}, fmt.Sprintf("%q: want *.SUFFIX with a valid domain suffix (%s)", host, why)
		}
		return ipDest{}, fmt.Sprintf("%q is neither an address, a CIDR, * nor a valid host name (%s)", host, why)
	}
	return ipDest{name: name, wildcard: wildcard}, ""
}

// looksLikeName reports whether host (a DEST without its ports) would be
// read as a host name: not *, an address or a CIDR.
func looksLikeName(host string) bool {
	return host != "*" && !strings.ContainsAny(host, ":/") && strings.Trim(host, "0123456789.") != ""
}

// listenNameMsg says why host cannot be the DEST of a listen rule: a
// program binds addresses of its own host, which no name stands for here.
func listenNameMsg(host string) string {
	msg := fmt.Sprintf("%q: a listen rule names a local address, not a host: write an address, a CIDR or * (every address), such as 127.0.0.1:8080", host)
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		msg += " (localhost: 127.0.0.1 and [::1])"
	}
	return msg
}

// canonical turns an IPv4-mapped IPv6 prefix into the IPv4 prefix it stands
// for, so that ::ffff:127.0.0.1 in a rule means what it means in a request.
func canonical(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}

// hostnameProblem says what makes name (lower case, no trailing dot) not a
// DNS host name, or returns "".
func hostnameProblem(name string) string {
	if name == "" {
		return "empty name"
	}
	if len(name) > 253 {
		return "longer than 253 characters"
	}
	for label := range strings.SplitSeq(name, ".") {
		switch {
		case label == "":
			return "empty label"
		case len(label) > 63:
			return "a label is longer than 63 characters"
		case label[0] == '-' || label[len(label)-1] == '-':
			return "a label starts or ends with a hyphen"
		}
		for _, c := range label {
			// Underscores are not in RFC 952 host names, but real names
			// carry them (Docker Compose containers, some cloud hosts)
			// and resolvers answer for them.
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return fmt.Sprintf("%q: only letters, digits, hyphens, underscores and dots", c)
			}
		}
	}
	return ""
}

// parsePorts parses "*", "N", "N-M" and comma lists of them. On error it
// also returns the offset of the bad item in s.
func parsePorts(s string) (portSet, int, string) {
	if s == "*" {
		return nil, 0, ""
	}
	if s == "" {
		return nil, 0, "missing ports after \":\" (want N, N-M, a list such as 80,443, or *)"
	}
	var set portSet
	off := 0
	for _, item := range strings.Split(s, ",") {
		loText, hiText, isRange := strings.Cut(item, "-")
		lo, msg := parsePort(loText)
		if msg != "" {
			return nil, off, msg
		}
		hi := lo
		if isRange {
			if hi, msg = parsePort(hiText); msg != "" {
				return nil, off + len(loText) + 1, msg
			}
			if hi < lo {
				return nil, off, fmt.Sprintf("port range %s runs backwards (did you mean %d-%d?)", item, hi, lo)
			}
		}
		set = append(set, portRange{lo, hi})
		off += len(item) + 1
	}
	return set, 0, ""
}

func parsePort(s string) (uint16, string) {
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, fmt.Sprintf("port %q is not a number (want N, N-M, a list such as 80,443, or *)", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > 65535 {
		return 0, fmt.Sprintf("port %s is out of range (0-65535)", s)
	}
	return uint16(n), ""
}

func parseUnixDest(dest string) (unixPattern, string) {
	switch {
	case dest == "*":
		return unixPattern{any: true}, ""
	case strings.HasPrefix(dest, "@"):
		glob := dest[1:]
		if glob == "" {
			return unixPattern{}, "\"@\" needs an abstract name (glob) after it, such as @name or @*"
		}
		if _, err := path.Match(glob, ""); err != nil {
			return unixPattern{}, fmt.Sprintf("%q: bad pattern: %v", dest, err)
		}
		return unixPattern{abstract: true, glob: glob}, ""
	case strings.HasPrefix(dest, "/"):
		glob, tree := strings.CutSuffix(dest, "/**")
		if _, err := path.Match(glob, ""); err != nil {
			return unixPattern{}, fmt.Sprintf("%q: bad pattern: %v", dest, err)
		}
		// Requests name resolved paths, so an unclean pattern would
		// never match what it seems to.
		if clean := path.Clean(glob); clean != glob && !(tree && glob == "") {
			if tree {
				clean = strings.TrimSuffix(clean, "/") + "/**"
			}
			return unixPattern{}, fmt.Sprintf("%q: write the path as %s (paths are matched after symlinks and .. are resolved)", dest, clean)
		}
		return unixPattern{glob: glob, tree: tree}, ""
	}
	return unixPattern{}, fmt.Sprintf("unix destination %q: want an absolute path (glob), @abstract-name or *", dest)
}
