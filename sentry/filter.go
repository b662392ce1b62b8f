package sentry

import (
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"sandbox/seccomp"
)

// low32 compares a register argument the kernel reads as an int: its upper
// half is ignored by the kernel, so it must be by the filter too, or a
// program could dodge a rule by setting bits the kernel never looks at.
func low32(arg uint, v uint32) seccomp.Cond {
	return seccomp.Cond{Arg: arg, Op: seccomp.MaskedEqual, Mask: 0xffffffff, Value: uint64(v)}
}

// deniedCalls fail with their errno in every mode, never reaching the
// supervisor: each is a way around it.
var deniedCalls = []seccomp.Rule{
	// io_uring connects and sends from kernel threads no filter sees.
	// ENOSYS is what a kernel without io_uring answers, so programs take
	// their ordinary fallback path.
	{Syscall: "io_uring_setup", Errno: unix.ENOSYS},
	{Syscall: "io_uring_enter", Errno: unix.ENOSYS},
	{Syscall: "io_uring_register", Errno: unix.ENOSYS},
	// A program that could trace, read or write the supervisor's memory,
	// or take its file descriptors (the listener!), would answer its own
	// calls. Landlock keeps these from reaching processes outside the
	// sandbox too; these rows hold where Landlock is off, and also keep
	// the program from ptrace-injecting calls into its own children's
	// answered calls.
	{Syscall: "ptrace", Errno: unix.EPERM},
	{Syscall: "process_vm_readv", Errno: unix.EPERM},
	{Syscall: "process_vm_writev", Errno: unix.EPERM},
	{Syscall: "pidfd_getfd", Errno: unix.EPERM},
	// Joining another network namespace (the host's, by /proc/1/ns/net)
	// would leave netstack behind.
	{Syscall: "setns", Errno: unix.EPERM},
}

// socketFamilies are the address families a program may make sockets of:
// those whose every destination the policy speaks of (inet and SMC, whose
// connects and sends are trapped and judged; unix paths and abstract
// names), and those that reach only this machine's kernel (netlink,
// AF_ALG's crypto) or, outside --net host, only the program's own network
// namespace (packet; refused in --net host below).
var socketFamilies = []uint32{unix.AF_UNIX, unix.AF_INET, unix.AF_INET6, unix.AF_NETLINK, unix.AF_PACKET, unix.AF_ALG, unix.AF_SMC}

// refusedFamilies is every other family the kernel knows. Each reaches
// somewhere the policy has no words for, and some reach it in every mode:
// vsock's ports are not per network namespace, so the hypervisor side can
// connect into a program that has no network at all; TIPC, RDS, RxRPC,
// CAN, Bluetooth, XDP, PF_KEY… They fail at socket(2) with EAFNOSUPPORT,
// what a kernel built without them answers, so programs take their
// ordinary fallback path. (Families from AF_MAX up the kernel refuses so
// itself.)
func refusedFamilies() []uint32 {
	var out []uint32
	for f := uint32(0); f < unix.AF_MAX; f++ {
		if !slices.Contains(socketFamilies, f) {
			out = append(out, f)
		}
	}
	return out
}

// signalCalls name a process or thread by their first argument.
var signalCalls = []string{"kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "pidfd_open"}

// FilterRules is the filter for a program of mode whose supervisor and
// watchdog are the processes protected.
func FilterRules(mode NetMode, protected ...int) []seccomp.Rule {
	var rules []seccomp.Rule
	for name, h := range handlers {
		if h.hostOnly && mode != NetHost {
			continue
		}
		rules = append(rules, seccomp.Rule{Syscall: name, When: h.when})
	}
	rules = append(rules, deniedCalls...)
	for _, f := range refusedFamilies() {
		rules = append(rules, seccomp.Rule{Syscall: "socket", Errno: unix.EAFNOSUPPORT, When: []seccomp.Cond{low32(0, f)}})
	}
	// Signals to the supervisor or the watchdog by pid (also the main
	// thread's id): stopping or killing the one would stall or end the
	// program's calls, the other would leave what the program started
	// unwatched. Landlock's signal scope covers every other way of naming
	// them.
	for _, pid := range protected {
		for _, name := range signalCalls {
			rules = append(rules, seccomp.Rule{Syscall: name, Errno: unix.EPERM, When: []seccomp.Cond{low32(0, uint32(pid))}})
		}
	}
	// Source routing sends a packet to the first hop its options name —
	// not to the address the policy judged. IPv4 options may carry a
	// loose or strict source route; IPv6 routing headers (a segment
	// routing header needs no privilege) likewise. The socket options
	// that set them are refused in every mode; the per-message forms
	// (IP_RETOPTS, IPV6_RTHDR control messages) are refused by the
	// supervisor, which sees every sendmsg.
	for _, opt := range [][2]uint32{
		{unix.IPPROTO_IP, unix.IP_OPTIONS},
		{unix.IPPROTO_IPV6, unix.IPV6_RTHDR},
		{unix.IPPROTO_IPV6, unix.IPV6_2292RTHDR},
		{unix.IPPROTO_IPV6, unix.IPV6_2292PKTOPTIONS},
	} {
		rules = append(rules, seccomp.Rule{Syscall: "setsockopt", Errno: unix.EPERM, When: []seccomp.Cond{low32(1, opt[0]), low32(2, opt[1])}})
	}
	if mode == NetHost {
		// Raw and packet sockets send what they like with no connect or
		// addressed send to trap. (In the other modes they see only the
		// program's own namespace, whose way out is netstack.)
		// EPERM is what Linux answers without CAP_NET_RAW.
		typeMask := uint64(0xf) // SOCK_TYPE_MASK: the flags above it are SOCK_NONBLOCK, SOCK_CLOEXEC
		for _, family := range []uint32{unix.AF_INET, unix.AF_INET6} {
			for _, typ := range []uint64{unix.SOCK_RAW, unix.SOCK_PACKET} {
				rules = append(rules, seccomp.Rule{Syscall: "socket", Errno: unix.EPERM, When: []seccomp.Cond{
					low32(0, family),
					{Arg: 1, Op: seccomp.MaskedEqual, Mask: typeMask, Value: typ},
				}})
			}
		}
		rules = append(rules, seccomp.Rule{Syscall: "socket", Errno: unix.EPERM, When: []seccomp.Cond{low32(0, unix.AF_PACKET)}})
		// SCTP names destinations where no trap sees them: the
		// SCTP_SOCKOPT_CONNECTX and BINDX socket options connect and
		// bind lists of addresses, an SCTP_DSTADDRV4/V6 control
		// message picks a send's destination. Refused as a kernel
		// without SCTP refuses it (the protocol is the third argument,
		// read as an int): a stream socket of another protocol than
		// TCP's is EPROTONOSUPPORT, a seqpacket inet socket
		// ESOCKTNOSUPPORT (other types refuse the protocol
		// themselves). In the other modes netstack forwards only TCP
		// and UDP.
		for _, family := range []uint32{unix.AF_INET, unix.AF_INET6} {
			for _, t := range []struct {
				typ   uint64
				errno unix.Errno
			}{{unix.SOCK_STREAM, unix.EPROTONOSUPPORT}, {unix.SOCK_SEQPACKET, unix.ESOCKTNOSUPPORT}} {
				rules = append(rules, seccomp.Rule{Syscall: "socket", Errno: t.errno, When: []seccomp.Cond{
					low32(0, family),
					{Arg: 1, Op: seccomp.MaskedEqual, Mask: typeMask, Value: t.typ},
					low32(2, unix.IPPROTO_SCTP),
				}})
			}
		}
	}
	// Map order is random; a stable filter is easier to read in a dump.
	slices.SortStableFunc(rules, func(a, b seccomp.Rule) int { return strings.Compare(a.Syscall, b.Syscall) })
	return rules
}

// Trapped lists the syscalls the filter sends to the supervisor, in any
// mode: a listener serves those it is sent.
func Trapped() []string {
	return seccomp.Notified(FilterRules(NetHost))
}
