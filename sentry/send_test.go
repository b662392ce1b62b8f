package sentry

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"

	"sandbox/policy"
)

var (
	udp4  = sockInfo{family: unix.AF_INET, proto: unix.IPPROTO_UDP}
	udp6  = sockInfo{family: unix.AF_INET6, proto: unix.IPPROTO_UDP}
	raw4  = sockInfo{family: unix.AF_INET, proto: unix.IPPROTO_UDP}
	raw6  = sockInfo{family: unix.AF_INET6, proto: unix.IPPROTO_ICMPV6}
	tcp4  = sockInfo{family: unix.AF_INET, proto: unix.IPPROTO_TCP}
	tcp6  = sockInfo{family: unix.AF_INET6, proto: unix.IPPROTO_TCP}
	sctp4 = sockInfo{family: unix.AF_INET, proto: unix.IPPROTO_SCTP}
)

func TestSendDestIP(t *testing.T) {
	unspec := func(n int) []byte {
		b := sa4("198.18.0.9", 53, n)
		binary.NativeEndian.PutUint16(b, unix.AF_UNSPEC)
		return b
	}
	unspec6 := func() []byte {
		b := sa6("2001:2::9", 53, 28)
		binary.NativeEndian.PutUint16(b, unix.AF_UNSPEC)
		return b
	}
	for _, tc := range []struct {
		name  string
		si    sockInfo
		typ   int
		flags int
		sa    []byte
		want  string // "" for no destination, else the destination
		bad   unix.Errno
	}{
		{"udp4", udp4, unix.SOCK_DGRAM, 0, sa4("198.18.0.9", 53, 16), "198.18.0.9:53", 0},
		{"udp4 AF_UNSPEC sends to the address", udp4, unix.SOCK_DGRAM, 0, unspec(16), "198.18.0.9:53", 0},
		{"udp4 short", udp4, unix.SOCK_DGRAM, 0, sa4("198.18.0.9", 53, 15), "", unix.EINVAL},
		{"udp4 given v6", udp4, unix.SOCK_DGRAM, 0, sa6("::1", 53, 28), "", unix.EAFNOSUPPORT},
		{"udp4 one byte", udp4, unix.SOCK_DGRAM, 0, []byte{2}, "", unix.EINVAL},
		{"udp6", udp6, unix.SOCK_DGRAM, 0, sa6("2001:2::9", 53, 28), "[2001:2::9]:53", 0},
		{"udp6 RFC 2133 length", udp6, unix.SOCK_DGRAM, 0, sa6("2001:2::9", 53, 24), "[2001:2::9]:53", 0},
		{"udp6 short", udp6, unix.SOCK_DGRAM, 0, sa6("2001:2::9", 53, 23), "", unix.EINVAL},
		{"udp6 given v4", udp6, unix.SOCK_DGRAM, 0, sa4("198.18.0.9", 53, 16), "198.18.0.9:53", 0},
		{"udp6 given short v4", udp6, unix.SOCK_DGRAM, 0, sa4("198.18.0.9", 53, 12), "", unix.EINVAL},
		{"udp6 AF_UNSPEC is no name", udp6, unix.SOCK_DGRAM, 0, unspec6(), "", 0},
		{"udp6 unknown family", udp6, unix.SOCK_DGRAM, 0, saFamily(unix.AF_UNIX, 28), "", unix.EINVAL},
		{"raw4 AF_UNSPEC", raw4, unix.SOCK_RAW, 0, unspec(16), "198.18.0.9:53", 0},
		{"raw6 AF_UNSPEC sends to the address", raw6, unix.SOCK_RAW, 0, unspec6(), "[2001:2::9]:53", 0},
		{"tcp ignores the name", tcp4, unix.SOCK_STREAM, 0, sa4("198.18.0.9", 80, 16), "", 0},
		{"tcp fastopen", tcp4, unix.SOCK_STREAM, unix.MSG_FASTOPEN, sa4("198.18.0.9", 80, 16), "198.18.0.9:80", 0},
		{"tcp6 fastopen", tcp6, unix.SOCK_STREAM, unix.MSG_FASTOPEN, sa6("2001:2::9", 80, 28), "[2001:2::9]:80", 0},
		{"tcp fastopen short", tcp4, unix.SOCK_STREAM, unix.MSG_FASTOPEN, sa4("198.18.0.9", 80, 8), "", unix.EINVAL},
		{"tcp fastopen v6 on v4", tcp4, unix.SOCK_STREAM, unix.MSG_FASTOPEN, sa6("2001:2::9", 80, 28), "", unix.EAFNOSUPPORT},
		{"tcp fastopen AF_UNSPEC", tcp4, unix.SOCK_STREAM, unix.MSG_FASTOPEN, unspec(16), "", 0},
		{"sctp stream names its peer", sctp4, unix.SOCK_STREAM, 0, sa4("198.18.0.9", 80, 16), "198.18.0.9:80", 0},
	} {
		ap, has, bad := sendDestIP(tc.si, tc.typ, tc.flags, tc.sa)
		got := ""
		if has {
			got = ap.String()
		}
		if got != tc.want || bad != tc.bad {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, got, bad, tc.want, tc.bad)
		}
	}
}

// FuzzSendDest holds sendDestIP to the property the policy depends on: a
// name is let through undecided only where the kernel never sends to it —
// a stream without MSG_FASTOPEN, AF_UNSPEC on UDP over IPv6 — and where it
// finds a destination, that is what the bytes say.
func FuzzSendDest(f *testing.F) {
	f.Add(uint8(0), uint8(0), false, sa4("198.18.0.9", 53, 16))
	f.Add(uint8(1), uint8(0), false, sa6("2001:2::9", 53, 28))
	f.Add(uint8(1), uint8(1), false, sa4("198.18.0.9", 53, 16))
	f.Add(uint8(2), uint8(2), true, sa6("2001:2::9", 80, 24))
	f.Fuzz(func(t *testing.T, fam, kind uint8, fastopen bool, name []byte) {
		si := []sockInfo{udp4, udp6, tcp4, tcp6, raw6, sctp4}[int(fam)%6]
		typ := []int{unix.SOCK_DGRAM, unix.SOCK_RAW, unix.SOCK_STREAM, unix.SOCK_SEQPACKET}[int(kind)%4]
		flags := 0
		if fastopen {
			flags = unix.MSG_FASTOPEN
		}
		ap, has, bad := sendDestIP(si, typ, flags, name)
		if has && bad != 0 {
			t.Fatalf("a destination and an error: %v %v", ap, bad)
		}
		family := uint16(0xffff)
		if len(name) >= 2 {
			family = binary.NativeEndian.Uint16(name)
		}
		if !has && bad == 0 {
			tcpNoFastopen := typ == unix.SOCK_STREAM && ipProto(si) == policy.TCP && !fastopen
			tcpFastopenUnspec := typ == unix.SOCK_STREAM && ipProto(si) == policy.TCP && fastopen && family == unix.AF_UNSPEC
			udp6Unspec := si.family == unix.AF_INET6 && si.proto == unix.IPPROTO_UDP && family == unix.AF_UNSPEC
			if !tcpNoFastopen && !tcpFastopenUnspec && !udp6Unspec {
				t.Fatalf("%+v type %d flags %#x: name %x let through undecided", si, typ, flags, name)
			}
		}
		if has {
			var want netip.Addr
			switch {
			case len(name) >= 24 && (family == unix.AF_INET6 || family == unix.AF_UNSPEC && si.family == unix.AF_INET6):
				want = netip.AddrFrom16([16]byte(name[8:24]))
			case len(name) >= 16:
				want = netip.AddrFrom4([4]byte(name[4:8]))
			default:
				t.Fatalf("a destination from %d bytes", len(name))
			}
			if ap.Addr() != want || ap.Port() != binary.BigEndian.Uint16(name[2:4]) {
				t.Fatalf("destination %v, the bytes say %v port %d", ap, want, binary.BigEndian.Uint16(name[2:4]))
			}
		}
	})
}
