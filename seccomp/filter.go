package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
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
	for _, name := range notify {
		nr, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			return -1, fmt.Errorf("seccomp: unknown syscall %q: %w", name, err)
		}
		if err := filter.AddRule(nr, libseccomp.ActNotify); err != nil {
			return -1, fmt.Errorf("seccomp: trap %s: %w", name, err)
		}
	}
	prog, err := exportBPF(filter)
	if err != nil {
		return -1, err
	}
	return load(prog)
}

// exportBPF compiles the filter to classic BPF.
func exportBPF(filter *libseccomp.ScmpFilter) ([]unix.SockFilter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("export seccomp filter: %w", err)
	}
	defer r.Close()
	// A filter of a few rules is far below the pipe's 64 KiB, so the
	// export cannot block on a full pipe.
	err = filter.ExportBPF(w)
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("export seccomp filter: %w", err)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("export seccomp filter: %w", err)
	}
	const insn = int(unsafe.Sizeof(unix.SockFilter{}))
	if len(raw) == 0 || len(raw)%insn != 0 {
		return nil, fmt.Errorf("export seccomp filter: %d bytes is not a BPF program", len(raw))
	}
	prog := make([]unix.SockFilter, len(raw)/insn)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&prog[0])), len(raw)), raw)
	return prog, nil
}

// load installs prog with the raw seccomp(2) call, because the flag that
// matters most here is one libseccomp 2.5 cannot set:
// SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19). Without it a signal
// can interrupt a trapped call after the supervisor has answered it — the
// kernel then drops the answer and the call restarts, so an allowed connect
// the supervisor already made would run twice (EISCONN, EALREADY). With it,
// once the supervisor has received a call only a fatal signal interrupts
// it; the supervisor itself passes on other signals that arrive during a
// call that blocks (see sentry).
func load(prog []unix.SockFilter) (int, error) {
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return -1, fmt.Errorf("set no_new_privs: %w", err)
	}
	fprog := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	flags := uintptr(unix.SECCOMP_FILTER_FLAG_NEW_LISTENER | unix.SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV)
	fd, _, e := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, flags, uintptr(unsafe.Pointer(&fprog)))
	if e == unix.EINVAL {
		return -1, fmt.Errorf("%w: this kernel lacks SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (Linux 5.19), without which trapped calls cannot be answered reliably", ErrUnsupported)
	}
	if e != 0 {
		return -1, fmt.Errorf("load seccomp filter: %w", e)
	}
	return int(fd), nil
} // ErrUnsupported reports a kernel or libseccomp that lacks a feature the
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
