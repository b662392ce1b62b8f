package spawn

import (
	"errors"
	"fmt"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"sandbox/sentry"
)

// namespaceAttrs adds to attr what the init step needs for mode: for
// sentry.NetNone a new network namespace, in a new user namespace too when the
// sandbox is not root (the user maps to itself, so the program keeps its
// ids and, once it execs, no capabilities).
func namespaceAttrs(mode sentry.NetMode, attr *syscall.SysProcAttr) {
	if mode == sentry.NetHost {
		return
	}
	attr.Cloneflags |= syscall.CLONE_NEWNET
	if mode == sentry.NetSandbox {
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
	if mode == sentry.NetSandbox {
		attr.AmbientCaps = append(attr.AmbientCaps, unix.CAP_SYS_ADMIN)
	}
}

// setUpNetwork runs in the init step, in the program's namespaces, before
// the filter is installed: it brings the loopback up (a new namespace's lo
// starts down) and, for sentry.NetSandbox, creates the TUN device whose fd it
// returns (-1 otherwise).
func setUpNetwork(mode sentry.NetMode) (tun int, err error) {
	if mode == sentry.NetHost {
		return -1, nil
	}
	if err := loUp(); err != nil {
		return -1, err
	}
	tun = -1
	if mode == sentry.NetSandbox {
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

// CheckPrivileges says, before anything starts, what this process lacks to
// run a program in mode — every missing piece at once, each with the
// docker run flag that grants it — because without them the sandbox would
// otherwise fail half-way with a bare errno, or (a refused pidfd_getfd)
// not at all. A container is where they go missing: Docker's default
// seccomp profile refuses pidfd_getfd and process_vm_readv unless the
// container has CAP_SYS_PTRACE, and new namespaces unless it has
// CAP_SYS_ADMIN; its root has neither CAP_SYS_ADMIN nor CAP_NET_ADMIN (the
// loopback, the TUN device); its /dev holds no TUN device unless one is
// passed in.
func CheckPrivileges(mode sentry.NetMode) error {
	var missing []error
	if err := probeCallsOnSelf(); err != nil {
		missing = append(missing, err)
	}
	if mode != sentry.NetHost {
		missing = append(missing, checkNamespaces(mode)...)
	}
	if mode == sentry.NetSandbox {
		if err := probeTUN(); err != nil {
			missing = append(missing, err)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	// One line, as a failed start may print: the pieces joined by "; ".
	return fmt.Errorf("--net %s needs what this process lacks: %w", mode, joinErrors(missing))
}

// checkNamespaces says what stands between this process and the
// namespaces of mode. Root makes them with its own capabilities; anyone
// else in a user namespace of its own (namespaceAttrs), which needs no
// capability — but either way a seccomp filter may refuse the clone.
func checkNamespaces(mode sentry.NetMode) []error {
	var missing []error
	if os.Geteuid() == 0 {
		need := []struct {
			bit      uint
			name, to string
		}{
			{unix.CAP_SYS_ADMIN, "SYS_ADMIN", "create the program's namespaces"},
			{unix.CAP_NET_ADMIN, "NET_ADMIN", "set up the program's network"},
		}
		eff, err := effectiveCaps()
		if err != nil {
			return []error{err}
		}
		for _, c := range need {
			if eff&(1<<c.bit) == 0 {
				missing = append(missing, fmt.Errorf("CAP_%s, to %s as root (docker run --cap-add %s)", c.name, c.to, c.name))
			}
		}
		if eff&(1<<unix.CAP_SYS_ADMIN) == 0 {
			return missing // the same flag as the filter's answer below
		}
	}
	var attr syscall.SysProcAttr
	namespaceAttrs(mode, &attr)
	if err := probeClone(uintptr(attr.Cloneflags)); err != nil {
		missing = append(missing, err)
	}
	return missing
}

// probeClone asks for a clone with the namespace flags the init step will
// use plus CLONE_SIGHAND without CLONE_VM (and CLONE_FS, which a new user
// or mount namespace cannot share): combinations copy_process rejects
// (EINVAL) before it looks at anything else or creates anything. So the
// kernel never forks here: EINVAL means the call got through to it, and
// EPERM that a seccomp filter, which sees the call first, refused the
// flags.
func probeClone(flags uintptr) error {
	pid, _, errno := unix.RawSyscall6(unix.SYS_CLONE, flags|unix.CLONE_SIGHAND|unix.CLONE_FS, 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		// A kernel that forked after all: the copy must not run on.
		unix.RawSyscall(unix.SYS_EXIT_GROUP, 125, 0, 0)
	}
	if errno != unix.EPERM {
		return nil
	}
	return fmt.Errorf("new namespaces, which a seccomp filter refuses (%w): Docker's default profile allows them only with CAP_SYS_ADMIN (docker run --cap-add SYS_ADMIN)", errno)
}

// probeCallsOnSelf makes the two calls the supervisor needs on every
// trapped call — pidfd_getfd to take the program's descriptor,
// process_vm_readv to read its arguments — on this process itself, which
// the kernel always allows: only a seccomp filter refuses them here.
func probeCallsOnSelf() error {
	var refused []string
	var cause error
	pidfd, err := unix.PidfdOpen(os.Getpid(), 0)
	if err != nil {
		return fmt.Errorf("pidfd_open: %w", err)
	}
	defer unix.Close(pidfd)
	fd, err := unix.PidfdGetfd(pidfd, pidfd, 0)
	if err == nil {
		unix.Close(fd)
	} else {
		refused, cause = append(refused, "pidfd_getfd"), err
	}
	var src, dst byte
	local := []unix.Iovec{{Base: &dst, Len: 1}}
	remote := []unix.RemoteIovec{{Base: uintptr(unsafe.Pointer(&src)), Len: 1}}
	if _, err := unix.ProcessVMReadv(os.Getpid(), local, remote, 0); err != nil {
		refused, cause = append(refused, "process_vm_readv"), err
	}
	switch {
	case cause == nil:
		return nil
	case errors.Is(cause, unix.EPERM):
		return fmt.Errorf("%s, which a seccomp filter refuses (%w): Docker's default profile allows them only with CAP_SYS_PTRACE (docker run --cap-add SYS_PTRACE)", joinWords(refused), cause)
	}
	return fmt.Errorf("%s: %w", joinWords(refused), cause)
}

// probeTUN opens the TUN device as the init step will, and says what
// grants it where a container withholds it.
func probeTUN() error {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	switch {
	case err == nil:
		unix.Close(fd)
		return nil
	case errors.Is(err, unix.ENOENT):
		return fmt.Errorf("/dev/net/tun, which is not here (%w): a container needs it passed in (docker run --device /dev/net/tun)", err)
	case errors.Is(err, unix.EPERM):
		// Not the file's mode (that is EACCES): a device cgroup.
		return fmt.Errorf("/dev/net/tun, which the device cgroup refuses (%w): a container needs it passed in (docker run --device /dev/net/tun)", err)
	}
	// A mode without read-write for this user (EACCES): the init step
	// says what to do when it opens the device (createTUN).
	return nil
}

// effectiveCaps is this thread's effective capability set.
func effectiveCaps() (uint64, error) {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return 0, fmt.Errorf("capget: %w", err)
	}
	return uint64(data[1].Effective)<<32 | uint64(data[0].Effective), nil
}

// joinErrors joins errs with "; ", keeping each for errors.Is.
func joinErrors(errs []error) error {
	err := errs[0]
	for _, e := range errs[1:] {
		err = fmt.Errorf("%w; %w", err, e)
	}
	return err
}

// joinWords is "a", "a and b".
func joinWords(w []string) string {
	if len(w) == 2 {
		return w[0] + " and " + w[1]
	}
	return w[0]
}

// resolvConf sends every resolver in the sandbox — glibc, Go's, dig — to the
// gateway, which is the sandbox's DNS.
const resolvConf = "# Written by sandbox: the gateway answers DNS for the program.\nnameserver 100.96.0.1\nnameserver fd00:5a::1\n"

// mountResolvConf shows the program resolvConf as /etc/resolv.conf: in the
// init step's own mount namespace, made private first so that nothing
// reaches the host's, a bind mount of a file that is unlinked at once.
func mountResolvConf() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make the mount namespace private: %w%s", err, mountHint(err))
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
		return fmt.Errorf("bind the sandbox's resolv.conf over /etc/resolv.conf: %w%s", err, mountHint(err))
	}
	return nil
}

// mountHint explains a mount refused with EACCES: not a missing capability
// (that is EPERM, and CheckPrivileges catches it first) but a security
// module — Docker's AppArmor profile, docker-default, denies every mount.
func mountHint(err error) string {
	if !errors.Is(err, unix.EACCES) {
		return ""
	}
	return " (a security module refuses mounts here: under Docker's AppArmor profile, docker run --security-opt apparmor=unconfined)"
}
