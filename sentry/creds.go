package sentry

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// creds are what the kernel checks when a path is looked up and a socket
// file is opened for writing: the filesystem ids, the supplementary groups
// and the effective capabilities (CAP_DAC_OVERRIDE and friends).
type creds struct {
	fsuid, fsgid int
	groups       []int
	capEff       uint64
}

// taskCreds reads the credentials of thread tid.
func taskCreds(tid int) (creds, error) {
	return parseStatusCreds("/proc/" + strconv.Itoa(tid) + "/status")
}

// selfCreds reads the credentials of the calling thread.
func selfCreds() (creds, error) {
	return parseStatusCreds("/proc/thread-self/status")
}

func parseStatusCreds(path string) (creds, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return creds{}, fmt.Errorf("read credentials: %w", err)
	}
	var c creds
	var seen int
	for _, line := range strings.Split(string(data), "\n") {
		key, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		switch key {
		case "Uid", "Gid":
			if len(f) != 4 {
				return creds{}, fmt.Errorf("%s: malformed %s line %q", path, key, line)
			}
			id, err := strconv.Atoi(f[3]) // real, effective, saved, filesystem
			if err != nil {
				return creds{}, fmt.Errorf("%s: %s: %w", path, key, err)
			}
			if key == "Uid" {
				c.fsuid = id
			} else {
				c.fsgid = id
			}
			seen++
		case "Groups":
			for _, g := range f {
				id, err := strconv.Atoi(g)
				if err != nil {
					return creds{}, fmt.Errorf("%s: Groups: %w", path, err)
				}
				c.groups = append(c.groups, id)
			}
			slices.Sort(c.groups)
			seen++
		case "CapEff":
			v, err := strconv.ParseUint(strings.TrimSpace(val), 16, 64)
			if err != nil {
				return creds{}, fmt.Errorf("%s: CapEff: %w", path, err)
			}
			c.capEff = v
			seen++
		}
	}
	if seen != 4 {
		return creds{}, fmt.Errorf("%s: missing credential lines", path)
	}
	return c, nil
}

func (c creds) equal(o creds) bool {
	return c.fsuid == o.fsuid && c.fsgid == o.fsgid && c.capEff == o.capEff && slices.Equal(c.groups, o.groups)
}

// assume gives the calling thread — only it: the raw syscalls below act on
// one thread, unlike Go's syscall.Setuid family — the child's filesystem
// identity, so that path lookups and the socket's write-permission check are
// the child's. The thread can never get its own identity back and must end
// with its goroutine (see interruptible's dirty flag).
func (c creds) assume() error {
	gids := make([]uint32, len(c.groups))
	for i, g := range c.groups {
		gids[i] = uint32(g)
	}
	gids = append(gids, 0) // never empty, so &gids[0] is valid; the count excludes it
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)-1), uintptr(unsafe.Pointer(&gids[0])), 0); e != 0 {
		return fmt.Errorf("setgroups: %w", e)
	}
	// The effective ids too: a unix stream peer learns them at connect
	// (SO_PEERCRED), and a program running as nobody must not appear to
	// it as the supervisor's root. The real and saved ids stay, so the
	// permitted capabilities do and the effective set can be narrowed
	// below; setresuid also sets the fs ids, checked below.
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(c.fsgid), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(c.fsuid), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	// setfsuid/setfsgid report the previous id, never an error: check
	// by reading it back.
	unix.RawSyscall(unix.SYS_SETFSGID, uintptr(c.fsgid), 0, 0)
	if prev, _, _ := unix.RawSyscall(unix.SYS_SETFSGID, ^uintptr(0), 0, 0); int(prev) != c.fsgid {
		return fmt.Errorf("setfsgid(%d) did not take", c.fsgid)
	}
	unix.RawSyscall(unix.SYS_SETFSUID, uintptr(c.fsuid), 0, 0)
	if prev, _, _ := unix.RawSyscall(unix.SYS_SETFSUID, ^uintptr(0), 0, 0); int(prev) != c.fsuid {
		return fmt.Errorf("setfsuid(%d) did not take", c.fsuid)
	}
	// Changing fsuid away from 0 already dropped the filesystem
	// capabilities; narrow the effective set to the child's for the rest.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Effective &= uint32(c.capEff)
	data[1].Effective &= uint32(c.capEff >> 32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
