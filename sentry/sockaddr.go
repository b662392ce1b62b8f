package sentry

import (
	"encoding/binary"
	"net/netip"

	"golang.org/x/sys/unix"
)

// maxSockaddr is sizeof(struct sockaddr_storage): move_addr_to_kernel
// rejects longer addresses with EINVAL before copying anything.
const maxSockaddr = 128

// Minimum lengths the kernel's per-family connect code demands.
const (
	sockaddrInLen    = 16 // sizeof(struct sockaddr_in)
	sockaddrIn6Min   = 24 // SIN6_LEN_RFC2133: sockaddr_in6 without sin6_scope_id
	sockaddrUnixPath = 2  // offsetof(struct sockaddr_un, sun_path)
	sockaddrUnixLen  = 110
)

// destKind says what a sockaddr names.
type destKind uint8

const (
	// destNone: the bytes name no destination the kernel would connect
	// to (too short, a family the socket cannot use…); the kernel itself
	// produces the error, in its own order of checks.
	destNone destKind = iota
	// destUnspec: AF_UNSPEC, which dissolves an association.
	destUnspec
	// destIP: an IPv4 or IPv6 address and port.
	destIP
	// destUnixPath: a filesystem socket path, as the child wrote it.
	destUnixPath
	// destUnixAbstract: a name in the abstract namespace.
	destUnixAbstract
)

// dest is a decoded sockaddr.
type dest struct {
	kind destKind
	ip   netip.AddrPort // destIP; IPv6 may be IPv4-mapped
	unix string         // destUnixPath: path bytes up to the first NUL; destUnixAbstract: the name
}

// decodeSockaddr reads what b names, by the family field it carries — not by
// the socket's family: an AF_INET6 UDP socket connects to an AF_INET address,
// so every address that could name a destination is decoded and put to the
// policy whatever socket it is given to.
func decodeSockaddr(b []byte) dest {
	if len(b) < 2 {
		return dest{}
	}
	switch binary.NativeEndian.Uint16(b) {
	case unix.AF_UNSPEC:
		return dest{kind: destUnspec}
	case unix.AF_INET:
		if len(b) < sockaddrInLen {
			return dest{}
		}
		port := binary.BigEndian.Uint16(b[2:4])
		return dest{kind: destIP, ip: netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[4:8])), port)}
	case unix.AF_INET6:
		if len(b) < sockaddrIn6Min {
			return dest{}
		}
		port := binary.BigEndian.Uint16(b[2:4])
		return dest{kind: destIP, ip: netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), port)}
	case unix.AF_UNIX:
		if len(b) <= sockaddrUnixPath || len(b) > sockaddrUnixLen {
			return dest{}
		}
		p := b[sockaddrUnixPath:]
		if p[0] == 0 {
			return dest{kind: destUnixAbstract, unix: string(p[1:])}
		}
		for i, c := range p {
			if c == 0 {
				p = p[:i]
				break
			}
		}
		return dest{kind: destUnixPath, unix: string(p)}
	}
	return dest{}
}

// familyErrno is the errno Linux's per-family connect code gives when a
// socket of sockFamily and sockType is handed an address of the
// family in b, or 0 when the address is of a kind the socket accepts. It
// answers denied calls the kernel would have refused anyway, so that a deny
// policy does not change the errno of a malformed call.
func familyErrno(sockFamily, sockType int, v6only bool, b []byte) unix.Errno {
	if len(b) < 2 {
		return unix.EINVAL
	}
	fam := int(binary.NativeEndian.Uint16(b))
	switch sockFamily {
	case unix.AF_UNIX:
		if fam != unix.AF_UNIX && fam != unix.AF_UNSPEC {
			return unix.EINVAL
		}
		if len(b) <= sockaddrUnixPath || len(b) > sockaddrUnixLen {
			return unix.EINVAL
		}
	case unix.AF_INET:
		if len(b) < sockaddrInLen {
			return unix.EINVAL
		}
		if fam != unix.AF_INET {
			return unix.EAFNOSUPPORT
		}
	case unix.AF_INET6:
		if fam == unix.AF_INET && isDatagram(sockType) {
			// __ip6_datagram_connect hands AF_INET to the IPv4 code.
			if v6only {
				return unix.EAFNOSUPPORT
			}
			if len(b) < sockaddrInLen {
				return unix.EINVAL
			}
			return 0
		}
		if len(b) < sockaddrIn6Min {
			return unix.EINVAL
		}
		if fam != unix.AF_INET6 {
			return unix.EAFNOSUPPORT
		}
	}
	return 0
}

// isDatagram reports whether an inet socket's connect goes through
// ip4/ip6_datagram_connect (UDP, UDP-Lite, ping, raw) rather than a stream
// protocol's own connect.
func isDatagram(sockType int) bool {
	return sockType == unix.SOCK_DGRAM || sockType == unix.SOCK_RAW
}
