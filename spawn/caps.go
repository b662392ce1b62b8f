package spawn

import (
	"fmt"

	"golang.org/x/sys/unix"

	"sandbox/sentry"
)

// droppedCaps are the capabilities no program under the sandbox keeps, in
// any network mode, even as root: each reaches around the policy or the
// supervisor from inside the program's own process. The others stay — a
// program run as root may still chown, bind port 80, kill its own
// children, read any file: the file system and the rest of the machine are
// outside what the sandbox decides (README, threat model).
var droppedCaps = []uintptr{
	// Network configuration: NAT and iptables/nftables rules that redirect
	// an allowed connect elsewhere, routes and addresses, and netlink
	// requests that move or create interfaces in other namespaces
	// (IFLA_NET_NS_PID, IFLA_NET_NS_FD, IFLA_TARGET_NETNSID: a veth whose
	// other end is in the host's namespace, from inside --net sandbox);
	// also the owner's rights on the net sysctls.
	unix.CAP_NET_ADMIN,
	// setns and unshare of a network namespace, mount (a new view of
	// /proc or of the program's resolv.conf), bpf before CAP_BPF,
	// perf_event_open of the kernel, TIOCSTI into the terminal: too broad
	// to keep any of it.
	unix.CAP_SYS_ADMIN,
	// Kernel modules are code in the kernel, past every check here.
	unix.CAP_SYS_MODULE,
	// ptrace and /proc/PID/mem of any process, the supervisor included
	// (it is not dumpable, which stops everyone but a holder of this),
	// and pidfd_getfd of its descriptors.
	unix.CAP_SYS_PTRACE,
	// /dev/mem, /dev/port, iopl and ioperm: the machine's memory and
	// devices, and so the kernel's.
	unix.CAP_SYS_RAWIO,
	// BPF programs and maps: socket and cgroup programs rewrite or
	// redirect traffic (with CAP_NET_ADMIN), tracing programs read the
	// supervisor's memory.
	unix.CAP_BPF,
	// perf events on the kernel and on other processes (kprobes, uprobes
	// in the supervisor's binary), with their reads of registers and
	// stacks.
	unix.CAP_PERFMON,
	// kexec_load boots another kernel, which has no sandbox at all.
	unix.CAP_SYS_BOOT,
}

// hostDroppedCaps are dropped in --net host only. Raw and packet sockets
// send what they like with no connect to trap; the filter refuses them
// there, and without CAP_NET_RAW the kernel does too (and refuses
// SO_BINDTODEVICE, IP_TRANSPARENT and raw sockets of the families the
// filter does not name). In the other modes they see only the program's
// own namespace, whose way out is netstack, so ping and the like keep
// working.
var hostDroppedCaps = []uintptr{unix.CAP_NET_RAW}

// capDrop is what dropping the capabilities takes, worked out for one
// thread: the capabilities to take out of its bounding set (none without
// CAP_SETPCAP) and out of its ambient set, then the capset(2) data that
// leaves them out of its effective, permitted and inheritable sets.
type capDrop struct {
	bounding, ambient []uintptr
	caps              [2]unix.CapUserData
}

// planCapDrop plans the removal of droppedCaps (and hostDroppedCaps for
// sentry.NetHost) from the calling thread's bounding, permitted,
// effective, inheritable and ambient sets, so that the program it execs
// neither holds them nor can gain them. The init step plans it after
// setting its network up, which needs CAP_NET_ADMIN and CAP_SYS_ADMIN,
// and after loading the filter, which sets no_new_privs; the program's
// process applies it (confinement), with the watchdog's capabilities.
func planCapDrop(mode sentry.NetMode) (capDrop, error) {
	drop := droppedCaps
	if mode == sentry.NetHost {
		drop = append(drop[:len(drop):len(drop)], hostDroppedCaps...)
	}
	var d capDrop
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capget(&hdr, &d.caps[0]); err != nil {
		return d, fmt.Errorf("capget: %w", err)
	}
	// Removing from the bounding set needs CAP_SETPCAP, which root holds.
	// Whoever lacks it (any other user; a container's root without it)
	// needs no bounding set: the program execs with no_new_privs, so no
	// file capability or set-uid binary can give it more than the
	// permitted set it starts with, from which the capset removes them.
	// (EINVAL from either prctl: a capability this kernel does not know,
	// or a kernel before ambient sets (4.3); skipped when applied.)
	if d.caps[0].Effective&(1<<unix.CAP_SETPCAP) != 0 {
		d.bounding = drop
	}
	d.ambient = drop
	for _, c := range drop {
		bit := ^uint32(1 << (c % 32))
		data := &d.caps[c/32]
		data.Effective &= bit
		data.Permitted &= bit
		data.Inheritable &= bit
	}
	return d, nil
}
