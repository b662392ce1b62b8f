package sentry

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func sa4(a string, port uint16, n int) []byte {
	b := make([]byte, n)
	binary.NativeEndian.PutUint16(b, unix.AF_INET)
	binary.BigEndian.PutUint16(b[2:], port)
	ip := netip.MustParseAddr(a).As4()
	copy(b[4:], ip[:])
	return b
}

func sa6(a string, port uint16, n int) []byte {
	b := make([]byte, 28)
	binary.NativeEndian.PutUint16(b, unix.AF_INET6)
	binary.BigEndian.PutUint16(b[2:], port)
	ip := netip.MustParseAddr(a).As16()
	copy(b[8:], ip[:])
	return b[:n]
}

func saUnix(path string, n int) []byte {
	b := make([]byte, 128)
	binary.NativeEndian.PutUint16(b, unix.AF_UNIX)
	copy(b[2:], path)
	return b[:n]
}

func saFamily(f uint16, n int) []byte {
	b := make([]byte, n)
	binary.NativeEndian.PutUint16(b, f)
	return b
}

func TestDecodeSockaddr(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want dest
	}{
		{"empty", nil, dest{}},
		{"one byte", []byte{2}, dest{}},
		{"unspec", saFamily(unix.AF_UNSPEC, 2), dest{kind: destUnspec}},
		{"inet short", sa4("127.0.0.1", 80, 15), dest{}},
		{"inet", sa4("127.0.0.1", 8080, 16), dest{kind: destIP, ip: netip.MustParseAddrPort("127.0.0.1:8080")}},
		{"inet long", sa4("198.18.0.1", 1, 128), dest{kind: destIP, ip: netip.MustParseAddrPort("198.18.0.1:1")}},
		{"inet6 short", sa6("::1", 80, 23), dest{}},
		{"inet6 rfc2133", sa6("::1", 80, 24), dest{kind: destIP, ip: netip.MustParseAddrPort("[::1]:80")}},
		{"inet6 mapped", sa6("::ffff:127.0.0.1", 9, 28), dest{kind: destIP, ip: netip.MustParseAddrPort("[::ffff:127.0.0.1]:9")}},
		{"unix no path", saUnix("", 2), dest{}},
		{"unix path", saUnix("/run/x.sock", 2+len("/run/x.sock")), dest{kind: destUnixPath, unix: "/run/x.sock"}},
		{"unix path nul inside", saUnix("/a\x00b", 110), dest{kind: destUnixPath, unix: "/a"}},
		{"unix path cut by length", saUnix("/abcdef", 2+3), dest{kind: destUnixPath, unix: "/ab"}},
		{"unix abstract", saUnix("\x00name", 7), dest{kind: destUnixAbstract, unix: "name"}},
		{"unix abstract with nul", saUnix("\x00a\x00b", 6), dest{kind: destUnixAbstract, unix: "a\x00b"}},
		{"unix abstract empty", saUnix("\x00", 3), dest{kind: destUnixAbstract, unix: ""}},
		{"unix too long", saUnix("/x", 111), dest{}},
		{"netlink", saFamily(unix.AF_NETLINK, 12), dest{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decodeSockaddr(tt.in); got != tt.want {
				t.Errorf("decodeSockaddr = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestFamilyErrno(t *testing.T) {
	tests := []struct {
		name        string
		family, typ int
		v6only      bool
		in          []byte
		want        unix.Errno
	}{
		{"inet ok", unix.AF_INET, unix.SOCK_STREAM, false, sa4("127.0.0.1", 1, 16), 0},
		{"inet short", unix.AF_INET, unix.SOCK_STREAM, false, sa4("127.0.0.1", 1, 15), unix.EINVAL},
		{"inet given inet6", unix.AF_INET, unix.SOCK_STREAM, false, sa6("::1", 1, 28), unix.EAFNOSUPPORT},
		{"inet given unix", unix.AF_INET, unix.SOCK_STREAM, false, saUnix("/x", 16), unix.EAFNOSUPPORT},
		{"inet6 stream given inet", unix.AF_INET6, unix.SOCK_STREAM, false, sa4("127.0.0.1", 1, 28), unix.EAFNOSUPPORT},
		{"inet6 stream given short inet", unix.AF_INET6, unix.SOCK_STREAM, false, sa4("127.0.0.1", 1, 16), unix.EINVAL},
		{"inet6 dgram given inet", unix.AF_INET6, unix.SOCK_DGRAM, false, sa4("127.0.0.1", 1, 16), 0},
		{"inet6 dgram v6only given inet", unix.AF_INET6, unix.SOCK_DGRAM, true, sa4("127.0.0.1", 1, 16), unix.EAFNOSUPPORT},
		{"inet6 ok", unix.AF_INET6, unix.SOCK_STREAM, false, sa6("::1", 1, 24), 0},
		{"unix ok", unix.AF_UNIX, unix.SOCK_STREAM, false, saUnix("/x", 4), 0},
		{"unix given inet", unix.AF_UNIX, unix.SOCK_STREAM, false, sa4("127.0.0.1", 1, 16), unix.EINVAL},
		{"unix too short", unix.AF_UNIX, unix.SOCK_STREAM, false, saUnix("", 2), unix.EINVAL},
		{"one byte", unix.AF_INET, unix.SOCK_DGRAM, false, []byte{2}, unix.EINVAL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := familyErrno(tt.family, tt.typ, tt.v6only, tt.in); got != tt.want {
				t.Errorf("familyErrno = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzDecodeSockaddr checks, for every byte string, that decoding never
// panics and never names a destination the kernel would not read from those
// bytes: an IP destination needs a full sockaddr_in/sockaddr_in6 of its
// family, a unix one a length the kernel accepts.
func FuzzDecodeSockaddr(f *testing.F) {
	for _, seed := range [][]byte{
		nil, {0, 0}, sa4("127.0.0.1", 80, 16), sa6("::1", 80, 24), sa6("::ffff:1.2.3.4", 1, 28),
		saUnix("/tmp/s", 8), saUnix("\x00abs", 6), saFamily(unix.AF_NETLINK, 12),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := decodeSockaddr(b)
		if len(b) < 2 {
			if d.kind != destNone {
				t.Fatalf("%x: decoded %+v from under 2 bytes", b, d)
			}
			return
		}
		fam := binary.NativeEndian.Uint16(b)
		switch d.kind {
		case destIP:
			if !(fam == unix.AF_INET && len(b) >= 16 && d.ip.Addr().Is4()) &&
				!(fam == unix.AF_INET6 && len(b) >= 24 && d.ip.Addr().Is6()) {
				t.Fatalf("%x: IP destination %v from family %d, %d bytes", b, d.ip, fam, len(b))
			}
		case destUnixPath, destUnixAbstract:
			if fam != unix.AF_UNIX || len(b) <= 2 || len(b) > 110 || len(d.unix) > len(b)-2 {
				t.Fatalf("%x: unix destination %q from family %d, %d bytes", b, d.unix, fam, len(b))
			}
		case destUnspec:
			if fam != unix.AF_UNSPEC {
				t.Fatalf("%x: AF_UNSPEC from family %d", b, fam)
			}
		}
		// Whatever the socket, an address that names no destination
		// must be one no inet or unix socket accepts as one.
		if d.kind == destNone {
			for _, family := range []int{unix.AF_INET, unix.AF_INET6} {
				for _, typ := range []int{unix.SOCK_STREAM, unix.SOCK_DGRAM} {
					if familyErrno(family, typ, false, b) == 0 && (fam == unix.AF_INET || fam == unix.AF_INET6) {
						t.Fatalf("%x: no destination decoded, yet a family-%d type-%d socket would accept it", b, family, typ)
					}
				}
			}
		}
	})
}
