package sentry

import (
	"bytes"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPinAddr: an unspecified destination is replaced by the address it
// was judged as, in the layout the kernel reads it from; every other name,
// and every byte but the address, is left as the program wrote it.
func TestPinAddr(t *testing.T) {
	lo4 := netip.MustParseAddr("127.0.0.1")
	lo6 := netip.IPv6Loopback()
	bound := netip.MustParseAddr("198.18.0.5")
	unspec4 := sa4("0.0.0.0", 80, 16)
	unspec4[8] = 0xaa // sin_zero: the kernel ignores it; so must the rewrite
	want4 := sa4("198.18.0.5", 80, 16)
	want4[8] = 0xaa
	for _, tc := range []struct {
		name       string
		in         []byte
		sockFamily int
		judged     netip.Addr
		want       []byte
	}{
		{"v4 unspecified", sa4("0.0.0.0", 80, 16), unix.AF_INET, lo4, sa4("127.0.0.1", 80, 16)},
		{"v4 unspecified, bound", unspec4, unix.AF_INET, bound, want4},
		{"v4 longer than sockaddr_in", sa4("0.0.0.0", 80, 28), unix.AF_INET, lo4, sa4("127.0.0.1", 80, 28)},
		{"v4 specified", sa4("198.18.0.9", 80, 16), unix.AF_INET, lo4, sa4("198.18.0.9", 80, 16)},
		{"v4 on a v6 socket", sa4("0.0.0.0", 53, 16), unix.AF_INET6, lo4, sa4("127.0.0.1", 53, 16)},
		{"AF_UNSPEC on a v4 socket reads as v4", func() []byte { b := sa4("0.0.0.0", 53, 16); b[0], b[1] = 0, 0; return b }(), unix.AF_INET, lo4,
			func() []byte { b := sa4("127.0.0.1", 53, 16); b[0], b[1] = 0, 0; return b }()},
		{"v6 unspecified", sa6("::", 80, 28), unix.AF_INET6, lo6, sa6("::1", 80, 28)},
		{"v6 unspecified, mapped-bound socket", sa6("::", 80, 28), unix.AF_INET6, lo4, sa6("::ffff:127.0.0.1", 80, 28)},
		{"v4-mapped unspecified", sa6("::ffff:0.0.0.0", 80, 28), unix.AF_INET6, bound, sa6("::ffff:198.18.0.5", 80, 28)},
		{"v6 without scope id", sa6("::", 80, 24), unix.AF_INET6, lo6, sa6("::1", 80, 24)},
		{"v6 specified", sa6("2001:2::9", 80, 28), unix.AF_INET6, lo6, sa6("2001:2::9", 80, 28)},
		{"short v4", sa4("0.0.0.0", 80, 8), unix.AF_INET, lo4, sa4("0.0.0.0", 80, 8)},
		{"short v6", sa6("::", 80, 20), unix.AF_INET6, lo6, sa6("::", 80, 20)},
		{"unix", saUnix("/tmp/x", 10), unix.AF_UNIX, lo4, saUnix("/tmp/x", 10)},
		{"empty", nil, unix.AF_INET, lo4, nil},
	} {
		in := bytes.Clone(tc.in)
		got := pinAddr(tc.in, tc.sockFamily, tc.judged)
		if !bytes.Equal(got, tc.want) {
			t.Errorf("%s: pinAddr = %x, want %x", tc.name, got, tc.want)
		}
		if !bytes.Equal(tc.in, in) {
			t.Errorf("%s: the program's copy was changed: %x", tc.name, tc.in)
		}
	}
}

// TestBindAddr: the local address an inet bind asks for, only where the
// kernel takes the name as one; every other name is left to the kernel's
// own errno.
func TestBindAddr(t *testing.T) {
	unspecV4 := sa4("0.0.0.0", 80, 16)
	unspecV4[0], unspecV4[1] = 0, 0 // AF_UNSPEC
	unspecNonAny := sa4("127.0.0.1", 80, 16)
	unspecNonAny[0], unspecNonAny[1] = 0, 0
	for _, tc := range []struct {
		name       string
		sockFamily int
		in         []byte
		want       string // "" when the kernel refuses the name
	}{
		{"v4", unix.AF_INET, sa4("127.0.0.1", 8080, 16), "127.0.0.1:8080"},
		{"v4 ephemeral", unix.AF_INET, sa4("0.0.0.0", 0, 16), "0.0.0.0:0"},
		{"v4 short", unix.AF_INET, sa4("127.0.0.1", 8080, 15), ""},
		{"AF_UNSPEC with INADDR_ANY", unix.AF_INET, unspecV4, "0.0.0.0:80"},
		{"AF_UNSPEC with another address", unix.AF_INET, unspecNonAny, ""},
		{"v6 on a v4 socket", unix.AF_INET, sa6("::1", 80, 28), ""},
		{"v6", unix.AF_INET6, sa6("::1", 80, 28), "[::1]:80"},
		{"v6 without scope id", unix.AF_INET6, sa6("::", 80, 24), "[::]:80"},
		{"v6 short", unix.AF_INET6, sa6("::1", 80, 23), ""},
		{"v4 on a v6 socket", unix.AF_INET6, sa4("127.0.0.1", 80, 16), ""},
		{"v4-mapped", unix.AF_INET6, sa6("::ffff:127.0.0.1", 80, 28), "[::ffff:127.0.0.1]:80"},
		{"unix name", unix.AF_INET, saUnix("/x", 5), ""},
		{"empty", unix.AF_INET, nil, ""},
	} {
		got, ok := bindAddr(tc.sockFamily, tc.in)
		if s := got.String(); ok != (tc.want != "") || ok && s != tc.want {
			t.Errorf("%s: bindAddr = %s, %v; want %q", tc.name, s, ok, tc.want)
		}
	}
}

// TestTaskUmask reads this process's own umask as the kernel shows it.
func TestTaskUmask(t *testing.T) {
	old := unix.Umask(0o027)
	defer unix.Umask(old)
	got, err := taskUmask("/proc/self/status")
	if err != nil || got != 0o027 {
		t.Fatalf("taskUmask = %o, %v; want 27", got, err)
	}
}
