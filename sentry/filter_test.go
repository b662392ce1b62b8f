package sentry

import (
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"sandbox/seccomp"
)

// socketErrno is the errno the filter of mode answers socket(family, typ,
// proto) with, or 0 when the call goes through (it is never trapped).
func socketErrno(mode NetMode, family, typ, proto uint32) unix.Errno {
	args := [3]uint64{uint64(family) | 0xdead_0000_0000_0000, uint64(typ), uint64(proto)} // upper halves the kernel ignores
	for _, r := range FilterRules(mode, 1) {
		if r.Syscall != "socket" {
			continue
		}
		match := true
		for _, c := range r.When {
			v := args[c.Arg]
			switch c.Op {
			case seccomp.Equal:
				match = match && v == c.Value
			case seccomp.NotEqual:
				match = match && v != c.Value
			case seccomp.MaskedEqual:
				match = match && v&c.Mask == c.Value
			}
		}
		if match {
			return r.Errno
		}
	}
	return 0
}

// TestSocketFamiliesRefused: a family the policy cannot speak of is
// refused at socket(2) in every mode, as a kernel without it would; the
// families it does speak of are not.
func TestSocketFamiliesRefused(t *testing.T) {
	for _, mode := range []NetMode{NetHost, NetNone, NetSandbox} {
		for _, f := range []uint32{unix.AF_VSOCK, unix.AF_TIPC, unix.AF_RDS, unix.AF_RXRPC, unix.AF_CAN, unix.AF_BLUETOOTH, unix.AF_XDP, unix.AF_KEY, unix.AF_LLC, unix.AF_UNSPEC} {
			if e := socketErrno(mode, f, unix.SOCK_STREAM, 0); e != unix.EAFNOSUPPORT {
				t.Errorf("%s: socket(%d) gets %v, want EAFNOSUPPORT", mode, f, e)
			}
		}
		for _, f := range []uint32{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK} {
			if e := socketErrno(mode, f, unix.SOCK_DGRAM, 0); e != 0 {
				t.Errorf("%s: socket(%d) gets %v, want it to go through", mode, f, e)
			}
		}
	}
}

// TestSCTPRefusedInHostMode: SCTP's connectx/bindx options and
// destination control messages name addresses no trap sees, so --net host
// refuses its sockets as a kernel without SCTP would; the other modes
// leave them to netstack, which forwards only TCP and UDP.
func TestSCTPRefusedInHostMode(t *testing.T) {
	for _, f := range []uint32{unix.AF_INET, unix.AF_INET6} {
		for typ, want := range map[uint32]unix.Errno{
			unix.SOCK_STREAM:                        unix.EPROTONOSUPPORT,
			unix.SOCK_STREAM | unix.SOCK_NONBLOCK:   unix.EPROTONOSUPPORT,
			unix.SOCK_SEQPACKET | unix.SOCK_CLOEXEC: unix.ESOCKTNOSUPPORT,
		} {
			if e := socketErrno(NetHost, f, typ, unix.IPPROTO_SCTP); e != want {
				t.Errorf("host: socket(%d, %#x, SCTP) gets %v, want %v", f, typ, e, want)
			}
			if e := socketErrno(NetSandbox, f, typ, unix.IPPROTO_SCTP); e != 0 {
				t.Errorf("sandbox: socket(%d, %#x, SCTP) gets %v, want it to go through", f, typ, e)
			}
		}
		if e := socketErrno(NetHost, f, unix.SOCK_STREAM, unix.IPPROTO_TCP); e != 0 {
			t.Errorf("host: TCP socket gets %v", e)
		}
	}
}

// TestBindTrappedInHostModeOnly: inbound calls are judged where the host's
// network can reach what the program binds.
func TestBindTrappedInHostModeOnly(t *testing.T) {
	for mode, want := range map[NetMode]bool{NetHost: true, NetNone: false, NetSandbox: false} {
		notified := seccomp.Notified(FilterRules(mode, 1))
		for _, call := range []string{"bind", "listen"} {
			if got := slices.Contains(notified, call); got != want {
				t.Errorf("%s: %s trapped = %v, want %v", mode, call, got, want)
			}
		}
	}
}
