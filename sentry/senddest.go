package sentry

import (
	"encoding/binary"
	"net/netip"
	"strconv"

	"golang.org/x/sys/unix"

	"sandbox/policy"
)

// kernelRefuses reports whether the kernel is known to refuse, without
// sending anything, every name sendDestIP and udpRefusal call bad for a
// socket of this kind: UDP and UDP-Lite (udp_sendmsg, udpv6_sendmsg) and
// TCP (its connect, for MSG_FASTOPEN). Such a call is best made by the
// kernel itself, whose order of checks then decides the errno.
func kernelRefuses(si sockInfo, typ int) bool {
	if si.family != unix.AF_INET && si.family != unix.AF_INET6 {
		return false
	}
	switch si.proto {
	case unix.IPPROTO_UDP, unix.IPPROTO_UDPLITE:
		return typ == unix.SOCK_DGRAM
	case unix.IPPROTO_TCP:
		return typ == unix.SOCK_STREAM
	}
	return false
}

// udpRefusal is the errno udp_sendmsg gives, before it routes, a
// datagram of m's to ap that sendDestIP found well-formed: more than
// 64 KiB (EMSGSIZE), then MSG_OOB (EOPNOTSUPP) — or, for an IPv4
// destination on a v6-only socket, udpv6_sendmsg's ENETUNREACH first.
// Those checks come before the destination, so a deny policy must not
// hide them.
func udpRefusal(sock int, si sockInfo, typ, flags int, m *outMsg, ap netip.AddrPort) unix.Errno {
	if ipProto(si) != policy.UDP || typ != unix.SOCK_DGRAM {
		return 0
	}
	if si.family == unix.AF_INET6 {
		if !ap.Addr().Is4() && !ap.Addr().Is4In6() {
			return 0 // udpv6_sendmsg: its own checks, after routing
		}
		if v, err := unix.GetsockoptInt(sock, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); err == nil && v != 0 {
			return unix.ENETUNREACH
		}
	}
	switch {
	case m.asked > 0xffff:
		return unix.EMSGSIZE
	case flags&unix.MSG_OOB != 0:
		return unix.EOPNOTSUPP
	}
	return 0
}

// sendDestIP says where an inet socket of type typ sends a message named
// name: has is false when the protocol does not send to the name; bad is
// the errno Linux gives a name it refuses before sending anything.
func sendDestIP(si sockInfo, typ, flags int, name []byte) (ap netip.AddrPort, has bool, bad unix.Errno) {
	proto := ipProto(si)
	if typ == unix.SOCK_STREAM && proto == policy.TCP {
		// tcp_sendmsg looks at the name only to connect with
		// MSG_FASTOPEN, through the connect code itself.
		if flags&unix.MSG_FASTOPEN == 0 {
			return ap, false, 0
		}
		if len(name) >= 2 && binary.NativeEndian.Uint16(name) == unix.AF_UNSPEC {
			return ap, false, 0 // tcp_sendmsg_fastopen: EOPNOTSUPP, from the kernel
		}
		if e := familyErrno(si.family, typ, false, name); e != 0 {
			return ap, false, e
		}
		d := decodeSockaddr(name)
		if d.kind != destIP {
			return ap, false, unix.EINVAL
		}
		return d.ip, true, 0
	}
	ne := binary.NativeEndian
	if len(name) < 2 {
		return ap, false, unix.EINVAL
	}
	family := ne.Uint16(name)
	// UDP refuses port 0 (udp_sendmsg, udpv6_sendmsg) before it routes;
	// a raw socket (of protocol UDP too) has no ports.
	port := func() (uint16, unix.Errno) {
		p := binary.BigEndian.Uint16(name[2:4])
		if p == 0 && proto == policy.UDP && typ == unix.SOCK_DGRAM {
			return 0, unix.EINVAL
		}
		return p, 0
	}
	v4 := func() (netip.AddrPort, bool, unix.Errno) {
		if len(name) < sockaddrInLen {
			return ap, false, unix.EINVAL
		}
		p, bad := port()
		if bad != 0 {
			return ap, false, bad
		}
		// AF_UNSPEC is read as AF_INET by udp_sendmsg and raw_sendmsg.
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(name[4:8])), p), true, 0
	}
	if si.family == unix.AF_INET {
		if family != unix.AF_INET && family != unix.AF_UNSPEC {
			return ap, false, unix.EAFNOSUPPORT
		}
		return v4()
	}
	switch family {
	case unix.AF_INET6:
		if len(name) < sockaddrIn6Min {
			return ap, false, unix.EINVAL
		}
		p, bad := port()
		if bad != 0 {
			return ap, false, bad
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), p), true, 0
	case unix.AF_INET:
		// udpv6_sendmsg hands an AF_INET name to the IPv4 code.
		return v4()
	case unix.AF_UNSPEC:
		if proto == policy.UDP {
			return ap, false, 0 // udpv6_sendmsg drops the name
		}
		// rawv6_sendmsg reads an AF_UNSPEC name as IPv6.
		if len(name) < sockaddrIn6Min {
			return ap, false, unix.EINVAL
		}
		return netip.AddrPortFrom(netip.AddrFrom16([16]byte(name[8:24])), binary.BigEndian.Uint16(name[2:4])), true, 0
	}
	return ap, false, unix.EINVAL
}

// fdSockaddr is a sockaddr_un naming the socket file fd (an O_PATH fd)
// refers to, through its /proc/self/fd magic link.
func fdSockaddr(fd int) []byte {
	p := "/proc/self/fd/" + strconv.Itoa(fd)
	sa := make([]byte, sockaddrUnixPath, sockaddrUnixPath+len(p)+1)
	binary.NativeEndian.PutUint16(sa, unix.AF_UNIX)
	return append(append(sa, p...), 0)
}
