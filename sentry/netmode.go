package sentry

import (
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// NetMode is where the program's sockets live.
type NetMode string

// The network modes (DESIGN.md).
const (
	// NetHost: the host's own network; every trapped call is mediated
	// and the data path is the kernel's.
	NetHost NetMode = "host"
	// NetNone: a network namespace of the program's own holding only a
	// loopback, so every destination but its own loopback is
	// unreachable, as in an empty namespace — and the policy still
	// decides every connect.
	NetNone NetMode = "none"
	// NetSandbox: a network namespace whose only way out is a TUN device
	// served by netstack, which checks every flow against the policy
	// again at the packet level.
	NetSandbox NetMode = "sandbox"
)

// namespaceAttrs adds to attr what the init step needs for mode: for
// NetNone a new network namespace, in a new user namespace too when the
// sandbox is not root (the user maps to itself, so the program keeps its
// ids and, once it execs, no capabilities).
func namespaceAttrs(mode NetMode, attr *syscall.SysProcAttr) {
	if mode == NetHost {
		return
	}
	attr.Cloneflags |= syscall.CLONE_NEWNET
	if mode == NetSandbox {
		// A mount namespace, to show the program a resolv.conf that
		// points at the sandbox's DNS.
		attr.Cloneflags |= syscall.CLONE_NEWNS
	}
	if os.Geteuid() == 0 {
		return
	}
	attr.Cloneflags |= syscall.CLONE_NEWUSER
	uid, gid := os.Getuid(), os.Getgid()
	attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: uid, HostID: uid, Size: 1}}
	attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: gid, HostID: gid, Size: 1}}
	attr.GidMappingsEnableSetgroups = false
	// The init step needs CAP_NET_ADMIN in its new namespaces to set the
	// network up (and CAP_SYS_ADMIN, in --net sandbox, to mount the
	// resolv.conf), but as a non-root user it would lose every capability
	// at its exec: carry those across as ambient, and the init step clears
	// them before it execs the program.
	attr.AmbientCaps = []uintptr{unix.CAP_NET_ADMIN}
	if mode == NetSandbox {
		attr.AmbientCaps = append(attr.AmbientCaps, unix.CAP_SYS_ADMIN)
	}
}

// setUpNetwork runs in the init step, in the program's namespaces, before
// the filter is installed: it brings the loopback up (a new namespace's lo
// starts down) and, for NetSandbox, creates the TUN device whose fd it
// returns (-1 otherwise).
func setUpNetwork(mode NetMode) (tun int, err error) {
	if mode == NetHost {
		return -1, nil
	}
	if err := loUp(); err != nil {
		return -1, err
	}
	tun = -1
	if mode == NetSandbox {
		if tun, err = createTUN(); err != nil {
			return -1, err
		}
		if err := mountResolvConf(); err != nil {
			unix.Close(tun)
			return -1, err
		}
	}
	if err := dropInheritedCaps(); err != nil {
		return -1, err
	}
	return tun, nil
}

// loUp brings the loopback up.
func loUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bring up lo: %w", err)
	}
	return nil
}

// dropInheritedCaps clears the ambient and inheritable sets, so the program
// gets none of the capability that set its network up. (Root keeps its own
// capabilities: it brought none across.)
func dropInheritedCaps() error {
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil {
		return fmt.Errorf("drop ambient capabilities: %w", err)
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Inheritable, data[1].Inheritable = 0, 0
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("drop inheritable capabilities: %w", err)
	}
	return nil
}

// ParseNetMode reads a --net value.
func ParseNetMode(s string) (NetMode, error) {
	switch m := NetMode(s); m {
	case NetHost, NetNone, NetSandbox:
		return m, nil
	}
	return "", fmt.Errorf("unknown network mode %q", s)
}

// resolvConf sends every resolver in the sandbox — glibc, Go's, dig — to the
// gateway, which is the sandbox's DNS.
const resolvConf = "# Written by sandbox: the gateway answers DNS for the program.\nnameserver 100.96.0.1\nnameserver fd00:5a::1\n"

// mountResolvConf shows the program resolvConf as /etc/resolv.conf: in the
// init step's own mount namespace, made private first so that nothing
// reaches the host's, a bind mount of a file that is unlinked at once.
func mountResolvConf() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mount namespace private: %w", err)
	}
	f, err := os.CreateTemp("", "sandbox-resolv-*.conf")
	if err != nil {
		return fmt.Errorf("write the sandbox's resolv.conf: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	if _, err := f.WriteString(resolvConf); err != nil {
		return fmt.Errorf("write the sandbox's resolv.conf: %w", err)
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("write the sandbox's resolv.conf: %w", err)
	}
	if err := unix.Mount(f.Name(), "/etc/resolv.conf", "", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("bind the sandbox's resolv.conf over /etc/resolv.conf: %w", err)
	}
	return nil
}
