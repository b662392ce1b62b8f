package seccomp

import (
	"errors"
	"fmt"
	"os"
	"strings"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// minAPI is the libseccomp API level that supports user notification (ActNotify,
// the listener fd and the notify ioctls): libseccomp 2.5.0 and a kernel ≥ 5.0.
const minAPI = 5

// Install loads a filter into the calling thread that returns
// SECCOMP_RET_USER_NOTIF for each syscall named in notify, allows every other
// native x86-64 call, and kills the process for any other architecture or ABI
// (ia32 int 0x80, x32): a call made through another ABI has other syscall
// numbers, so allowing it would bypass every trap. It sets no_new_privs, as
// unprivileged seccomp requires, and returns the notification listener fd.
//
// The filter applies to the calling thread and everything it later forks or
// execs, so the caller must hold its OS thread (runtime.LockOSThread) from
// Install until it execs.
func Install(notify []string) (listener int, err error) {
	filter, err := libseccomp.NewFilter(libseccomp.ActAllow)
	if err != nil {
		return -1, fmt.Errorf("create seccomp filter: %w", err)
	}
	defer filter.Release()

	// A new filter holds only the native arch (x86-64). The x32 ABI shares
	// the arch token but flags its numbers with bit 30; libseccomp routes
	// those to the bad-arch action too, so one setting covers both.
	if err := filter.SetBadArchAction(libseccomp.ActKillProcess); err != nil {
		return -1, fmt.Errorf("set seccomp bad-arch action: %w", err)
	}
	if err := filter.SetNoNewPrivsBit(true); err != nil {
		return -1, fmt.Errorf("set no_new_privs: %w", err)
	}
	for _, name := range notify {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			return -1, fmt.Errorf("seccomp: unknown syscall %q: %w", name, err)
		}
		if err := filter.AddRule(nr, libseccomp.ActNotify); err != nil {
			return -1, fmt.Errorf("seccomp: trap %s: %w", name, err)
		}
	}
	if err := filter.Load(); err != nil {
		return -1, fmt.Errorf("load seccomp filter: %w", err)
	}
	fd, err := filter.GetNotifFd()
	if err != nil {
		return -1, fmt.Errorf("get seccomp listener fd: %w", err)
	}
	return int(fd), nil
}

// ErrUnsupported reports a kernel or libseccomp that lacks a feature the
// sandbox needs; its text names the feature.
var ErrUnsupported = errors.New("unsupported")

// CheckSupport reports, before anything is started, whether this kernel and
// libseccomp can trap calls with user notification. The error names what is
// missing so a person can act on it.
func CheckSupport() error {
	return checkSupport("/proc/sys/kernel/seccomp/actions_avail")
}

func checkSupport(actionsAvail string) error {
	api, err := libseccomp.GetAPI()
	if err != nil {
		return fmt.Errorf("%w: cannot query libseccomp's API level: %v", ErrUnsupported, err)
	}
	if api < minAPI {
		major, minor, micro := libseccomp.GetLibraryVersion()
		return fmt.Errorf("%w: seccomp user notification needs libseccomp ≥ 2.5 and kernel ≥ 5.0 (libseccomp %d.%d.%d reports API level %d, want %d)",
			ErrUnsupported, major, minor, micro, api, minAPI)
	}
	// The kernel lists the filter actions it implements here; user_notif
	// is absent on kernels built without it.
	avail, err := os.ReadFile(actionsAvail)
	if err != nil {
		return fmt.Errorf("%w: seccomp is not enabled in this kernel (CONFIG_SECCOMP_FILTER): %v", ErrUnsupported, err)
	}
	if !strings.Contains(string(avail), "user_notif") {
		return fmt.Errorf("%w: the kernel has no seccomp user notification (actions_avail: %s)", ErrUnsupported, strings.TrimSpace(string(avail)))
	}
	return nil
}
