package sentry

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"golang.org/x/sys/unix"

	"sandbox/netstack"
	"sandbox/policy"
)

// sysConnect handles connect(2): connect(int fd, const struct sockaddr *addr,
// socklen_t addrlen).
//
// Linux checks, in order: the fd (EBADF, fdget), the length (EINVAL when
// negative or over sizeof(sockaddr_storage)), the copy (EFAULT), that the fd
// is a socket (ENOTSOCK), then the protocol's own rules. The first four are
// checked here in that order; the protocol's rules are left to the kernel,
// which checks them when the supervisor makes the call with its copy — the
// one exception being a destination the policy denies, which is never
// handed to the kernel: familyErrno then supplies the errno the protocol
// would have given a malformed address.
func sysConnect(c *call) result {
	fd := int(int32(c.n.Args[0]))
	addrPtr := c.n.Args[1]
	addrLen := int(int32(uint32(c.n.Args[2]))) // the kernel reads socklen_t into an int
	c.rec.Fd = fd

	sock, err := c.getfd(fd)
	if err != nil {
		return resultOf(err)
	}
	defer unix.Close(sock)

	addr, err := c.readSockaddr(addrPtr, addrLen)
	if err != nil {
		if pathOnly(sock) {
			return invalid(unix.EBADF, "an O_PATH descriptor")
		}
		return resultOf(err)
	}
	// The address was read from memory the pid named: only a still-pending
	// notification proves the pid was still the caller.
	if !c.stillWaiting() {
		return gone
	}

	info, err := sockInfoArg(sock)
	if err != nil {
		return resultOf(err)
	}
	d := decodeSockaddr(addr)
	switch info.family {
	case unix.AF_INET, unix.AF_INET6, unix.AF_SMC:
		if d.kind != destIP {
			return c.pass(sock, addr, d)
		}
		return c.connectIP(sock, info, addr, d.ip)
	case unix.AF_UNIX:
		c.rec.Proto = policy.Unix.String()
		switch d.kind {
		case destUnixPath:
			return c.connectUnixPath(sock, d.unix)
		case destUnixAbstract:
			return c.connectAbstract(sock, info, addr, d.unix)
		}
		return c.pass(sock, addr, d)
	case unix.AF_NETLINK, unix.AF_PACKET:
		// Netlink talks to this machine's kernel only; packet sockets
		// have no connect at all (EOPNOTSUPP), and what they send is
		// no connect's business.
		return c.pass(sock, addr, d)
	}
	// vsock reaches the hypervisor, AF_RXRPC carries an IP address inside
	// its own sockaddr…: the policy has no words for these destinations,
	// so they are denied.
	return c.uncovered(info.family, c.pol.Errno)
}

// sockInfo is what the kernel says of a socket: its family and protocol
// (every call needs them) — the type is read only when a denial needs it.
type sockInfo struct {
	family, proto int
}

// sockInfoOf asks the kernel for sock's sockInfo (ENOTSOCK for a file that
// is no socket).
func sockInfoOf(sock int) (sockInfo, error) {
	var si sockInfo
	var err error
	if si.family, err = unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_DOMAIN); err != nil {
		return si, fmt.Errorf("SO_DOMAIN: %w", err)
	}
	if si.proto, err = unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_PROTOCOL); err != nil {
		return si, fmt.Errorf("SO_PROTOCOL: %w", err)
	}
	return si, nil
}

// sockInfoArg is sockInfoOf for sock, the supervisor's copy of the
// program's fd, with the program's errors: ENOTSOCK for a file that is not
// a socket, EBADF for an O_PATH one (the copy is O_PATH too, and the
// kernel's fdget refuses it to getsockopt as to every socket call).
func sockInfoArg(sock int) (sockInfo, error) {
	si, err := sockInfoOf(sock)
	switch {
	case errors.Is(err, unix.ENOTSOCK):
		return si, errInvalid(unix.ENOTSOCK, "not a socket")
	case errors.Is(err, unix.EBADF):
		return si, errInvalid(unix.EBADF, "an O_PATH descriptor")
	}
	return si, err
}

// pathOnly reports whether fd is an O_PATH file, which every socket call
// refuses (EBADF) before it looks at anything else.
func pathOnly(fd int) bool {
	fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0)
	return err == nil && fl&unix.O_PATH != 0
}

// ipProto is the policy's name for an inet socket's protocol.
func ipProto(si sockInfo) policy.Proto {
	if si.family == unix.AF_SMC {
		return policy.TCP // SMC falls back to, and starts as, TCP
	}
	switch si.proto {
	case unix.IPPROTO_TCP, unix.IPPROTO_MPTCP:
		return policy.TCP
	case unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE:
		return policy.UDP
	}
	return policy.OtherIP
}

func (c *call) connectIP(sock int, si sockInfo, addr []byte, ap netip.AddrPort) result {
	dec, judged := c.decideIP(sock, ipProto(si), ap)
	if dec.Verdict != policy.Allow {
		return c.deny(sock, si, addr, dec)
	}
	addr = pinAddr(addr, si.family, judged)
	return c.perform(func() unix.Errno { return rawConnect(sock, addr) })
}

// decideIP puts a connect or send from sock to ap to the policy and
// records the decision. judged is the address the decision was about, as
// the kernel sees it: ap's, or for an unspecified address the one the
// kernel would send to now (see pinAddr).
func (c *call) decideIP(sock int, proto policy.Proto, ap netip.AddrPort) (dec policy.Decision, judged netip.Addr) {
	judged = effectiveAddr(sock, ap.Addr())
	target := netip.AddrPortFrom(judged, ap.Port())
	c.rec.Proto = proto.String()
	var names []string
	if c.s.inSandboxNetns(sock) {
		if netstack.IsDNS(target) {
			// The sandbox's own DNS, which answers only names the
			// policy could allow: every program may ask it.
			c.rec.Dest = target.String()
			c.rec.Verdict = policy.Allow.String()
			c.rec.Reason = "the sandbox's DNS"
			return policy.Decision{Verdict: policy.Allow}, judged
		}
		// The policy speaks of real destinations: the gateway is the
		// host's loopback (netstack dials it so), and names are those
		// the sandbox's DNS resolved to this address.
		target = netstack.Target(target)
		names = c.s.names.For(target.Addr())
	}
	c.rec.Dest = target.String()
	c.rec.Host = hostFor(names, target.Addr())
	return c.decide(policy.Request{Proto: proto, Addr: target.Addr(), Port: target.Port(), Names: names}), judged
}

// pinAddr returns the sockaddr name (as given to a socket of sockFamily)
// with an unspecified address replaced by judged, the address it was
// judged as; any other name unchanged. The kernel resolves an unspecified
// destination late — from the socket's bound address, which another
// thread may bind between the decision and the call, or from an
// IP_PKTINFO/IPV6_PKTINFO source the message carries — so the supervisor
// hands it the address it judged instead, and the call goes exactly
// there. judged is what the kernel itself would pick at the time of the
// decision, so a program that races nothing sees no difference.
func pinAddr(name []byte, sockFamily int, judged netip.Addr) []byte {
	if len(name) < 2 {
		return name
	}
	// Where the address lies: by the name's own family, and for
	// AF_UNSPEC (read as the socket's family by udp_sendmsg and
	// rawv6_sendmsg) by the socket's.
	family := int(binary.NativeEndian.Uint16(name))
	if family == unix.AF_UNSPEC {
		family = sockFamily
	}
	var off int
	var to []byte
	switch {
	case family == unix.AF_INET && len(name) >= sockaddrInLen:
		off = 4
		a := judged.Unmap().As4()
		to = a[:]
	case family == unix.AF_INET6 && len(name) >= sockaddrIn6Min:
		off = 8
		a := judged.As16() // an IPv4 judged address becomes IPv4-mapped
		to = a[:]
	default:
		return name
	}
	if a, _ := netip.AddrFromSlice(name[off : off+len(to)]); !a.Unmap().IsUnspecified() {
		return name
	}
	out := slices.Clone(name)
	copy(out[off:], to)
	return out
}

// effectiveAddr is where the kernel really sends a connect to a: the
// unspecified address means this host — the socket's own bound address if
// it has one, else the loopback (ip_route_connect, tcp_v6_connect).
func effectiveAddr(sock int, a netip.Addr) netip.Addr {
	if !a.Unmap().IsUnspecified() {
		return a
	}
	var local netip.Addr
	if sa, err := unix.Getsockname(sock); err == nil {
		switch sa := sa.(type) {
		case *unix.SockaddrInet4:
			local = netip.AddrFrom4(sa.Addr)
		case *unix.SockaddrInet6:
			local = netip.AddrFrom16(sa.Addr)
		}
	}
	if a.Is6() && !a.Is4In6() {
		// "::" is always [::1] for IPv6, or 127.0.0.1 when the socket
		// is bound to an IPv4-mapped address.
		if local.Is4In6() {
			return netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		return netip.IPv6Loopback()
	}
	if l := local.Unmap(); l.Is4() && !l.IsUnspecified() {
		return l
	}
	return netip.AddrFrom4([4]byte{127, 0, 0, 1})
}

func (c *call) connectAbstract(sock int, si sockInfo, addr []byte, name string) result {
	c.rec.Dest = "@" + name
	dec := c.decide(policy.Request{Proto: policy.Unix, Unix: "@" + name})
	if dec.Verdict != policy.Allow {
		return c.deny(sock, si, addr, dec)
	}
	// As the program: the peer learns the connecting process's ids.
	return c.asProgram(false, func() (int64, unix.Errno) { return 0, c.unixConnect(sock, addr) })
}

// connectUnixPath connects sock to the filesystem socket path names, for
// the child: see atUnixPath.
func (c *call) connectUnixPath(sock int, path string) result {
	return c.atUnixPath(path, func(target int) (int64, unix.Errno) {
		return 0, c.connectFd(sock, target)
	})
}

// atUnixPath resolves path as the child, decides on the file it really
// leads to, and when the policy allows, runs do with an O_PATH fd of that
// inode and returns its result. Lookup and do run with the child's
// credentials when they differ from the supervisor's, so that directory
// search and socket write permissions are the child's.
func (c *call) atUnixPath(path string, do func(target int) (int64, unix.Errno)) result {
	c.rec.Dest = path
	childCreds, err := taskCreds(c.task.tid)
	if err != nil {
		return failClosed(err)
	}
	dirty := !childCreds.equal(c.s.creds)
	c.asOther = dirty
	lookup, err := prepareUnixLookup(c.task.tid, path)
	if err != nil {
		return failClosed(err)
	}
	defer lookup.close()
	var dec policy.Decision
	var failure error
	op := func() (int64, unix.Errno) {
		if dirty {
			if err := childCreds.assume(); err != nil {
				failure = err
				return 0, unix.EACCES
			}
		}
		target, err := lookup.open()
		if err != nil {
			if e, ok := err.(unix.Errno); ok {
				return 0, e // the child's own lookup fails so too
			}
			failure = err
			return 0, unix.EACCES
		}
		defer unix.Close(target)
		real, err := fdPath(target)
		if err != nil {
			failure = err
			return 0, unix.EACCES
		}
		c.rec.Dest = real
		dec = c.decide(policy.Request{Proto: policy.Unix, Unix: real})
		if dec.Verdict != policy.Allow {
			return 0, dec.Errno
		}
		return do(target)
	}
	res := c.run(dirty, op)
	switch {
	case failure != nil:
		return failClosed(failure)
	case c.peerFailure != nil:
		return failClosed(c.peerFailure)
	case dec.Verdict == 0:
		res.verdict = verdictInvalid // the lookup failed before any decision
	}
	return res
}

// deny is the answer to a call the policy refused. A malformed address keeps the
// errno Linux gives it, so that a deny policy changes no error the program
// would have seen anyway.
func (c *call) deny(sock int, si sockInfo, addr []byte, dec policy.Decision) result {
	typ, _ := unix.GetsockoptInt(sock, unix.SOL_SOCKET, unix.SO_TYPE)
	v6only := false
	if si.family == unix.AF_INET6 {
		if v, err := unix.GetsockoptInt(sock, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err == nil {
			v6only = v != 0
		}
	}
	if e := familyErrno(si.family, typ, v6only, addr); e != 0 {
		return reply(0, e).because("malformed for this socket: " + errnoName(e))
	}
	return reply(0, dec.Errno)
}

// pass makes a call whose address names no destination the policy speaks
// of: the kernel then answers with exactly the error (or, for AF_UNSPEC, the
// disconnect) it would have given the child.
func (c *call) pass(sock int, addr []byte, d dest) result {
	c.rec.Verdict = verdictPass
	if d.kind == destUnspec {
		c.rec.Dest = "AF_UNSPEC"
	}
	return c.perform(func() unix.Errno { return rawConnect(sock, addr) })
}
