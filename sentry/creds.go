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

// creds are a thread's identity as /proc/<tid>/status shows it. A path
// lookup and the opening of a socket file for writing check the filesystem
// ids, the supplementary groups and the effective capabilities
// (CAP_DAC_OVERRIDE and friends); an SCM_CREDENTIALS claim is checked
// against the process id and the real, effective and saved ids.
type creds struct {
	tgid         int
	uids, gids   [3]int // real, effective, saved
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
		case "Tgid":
			if len(f) != 1 {
				return creds{}, fmt.Errorf("%s: malformed Tgid line %q", path, line)
			}
			if c.tgid, err = strconv.Atoi(f[0]); err != nil {
				return creds{}, fmt.Errorf("%s: Tgid: %w", path, err)
			}
			seen++
		case "Uid", "Gid":
			if len(f) != 4 {
				return creds{}, fmt.Errorf("%s: malformed %s line %q", path, key, line)
			}
			var ids [4]int // real, effective, saved, filesystem
			for i := range ids {
				if ids[i], err = strconv.Atoi(f[i]); err != nil {
					return creds{}, fmt.Errorf("%s: %s: %w", path, key, err)
				}
			}
			if key == "Uid" {
				c.uids, c.fsuid = [3]int(ids[:3]), ids[3]
			} else {
				c.gids, c.fsgid = [3]int(ids[:3]), ids[3]
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
	if seen != 5 {
		return creds{}, fmt.Errorf("%s: missing credential lines", path)
	}
	return c, nil
}

// equal reports whether c and o would pass the same path and socket-file
// permission checks and show a unix peer the same effective ids.
func (c creds) equal(o creds) bool {
	return c.uids[1] == o.uids[1] && c.gids[1] == o.gids[1] && c.fsuid == o.fsuid && c.fsgid == o.fsgid && c.capEff == o.capEff && slices.Equal(c.groups, o.groups)
}

// assume gives the calling thread — only it: the raw syscalls below act on
// one thread, unlike Go's syscall.Setuid family — the child's filesystem
// identity, so that path lookups and the socket's write-permission check are
// the child's, and its effective ids, which a unix peer learns. The thread
// can never get its own identity back and must end with its goroutine (see
// interruptible's dirty flag).
func (c creds) assume() error {
	// Only where they differ: in a user namespace whose setgroups is
	// "deny" (unshare --map-root-user, rootless containers) setgroups
	// always fails, while the program's groups are the supervisor's.
	if cur, err := unix.Getgroups(); err != nil || !slices.Equal(slices.Sorted(slices.Values(cur)), c.groups) {
		gids := make([]uint32, len(c.groups))
		for i, g := range c.groups {
			gids[i] = uint32(g)
		}
		gids = append(gids, 0) // never empty, so &gids[0] is valid; the count excludes it
		if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(gids)-1), uintptr(unsafe.Pointer(&gids[0])), 0); e != 0 {
			return fmt.Errorf("setgroups: %w", e)
		}
	}
	// The effective ids too: a unix stream peer learns them at connect
	// (SO_PEERCRED), and a program running as nobody must not appear to
	// it as the supervisor's root. The real and saved ids stay, so the
	// permitted capabilities do and the effective set can be narrowed
	// below; setresuid also sets the fs ids, set after it.
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, ^uintptr(0), uintptr(c.gids[1]), ^uintptr(0)); e != 0 {
		return fmt.Errorf("setresgid: %w", e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), uintptr(c.uids[1]), ^uintptr(0)); e != 0 {
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
	// Leaving uid 0 cleared the effective set (or only its filesystem
	// part): make it the child's, from the permitted set that stayed.
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capget: %w", err)
	}
	data[0].Effective = data[0].Permitted & uint32(c.capEff)
	data[1].Effective = data[1].Permitted & uint32(c.capEff>>32)
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}
