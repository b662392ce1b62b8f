package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"unsafe"

	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// minAPI is the libseccomp API level that supports user notification (ActNotify,
// the listener fd and the notify ioctls): libseccomp 2.5.0 and a kernel ≥ 5.0.
const minAPI = 5

// Rule is one row of the filter: what happens to one syscall, or to the
// calls of it whose register arguments meet every condition in When.
// Conditions look only at registers, which the kernel copied before the
// filter ran, so a rule cannot be raced the way a pointer's target can.
type Rule struct {
	// Syscall is the call's name on x86-64, such as "connect".
	Syscall string
	// Errno fails the call with it without running it; 0 traps the call
	// to the supervisor (SECCOMP_RET_USER_NOTIF).
	Errno unix.Errno
	// When lists the conditions, all of which must hold; none means
	// every call.
	When []Cond
}

// Cond compares one register argument: Arg&Mask Op Value.
type Cond struct {
	Arg   uint // 0 to 5
	Op    Op
	Value uint64
	// Mask applies only to MaskedEqual.
	Mask uint64
}

// Op is a comparison a Cond makes.
type Op int

// The comparisons a Cond can make.
const (
	Equal Op = iota
	NotEqual
	MaskedEqual
)

// Install loads a filter into the calling thread that applies rules, allows
// every other native x86-64 call, and kills the process for any other
// architecture or ABI (ia32 int 0x80, x32): a call made through another ABI
// has other syscall numbers, so allowing it would bypass every trap. It sets
// no_new_privs, as unprivileged seccomp requires, and returns the
// notification listener fd.
//
// Rules for one syscall must not overlap (libseccomp would have to pick one
// action for a call both match).
//
// The filter applies to the calling thread and everything it later forks or
// execs, so the caller must hold its OS thread (runtime.LockOSThread) from
// Install until it execs.
func Install(rules []Rule) (listener int, err error) {
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
	for _, r := range rules {
		if err := addRule(filter, r); err != nil {
			return -1, err
		}
	}
	prog, err := exportBPF(filter)
	if err != nil {
		return -1, err
	}
	return load(prog)
}

func addRule(filter *libseccomp.ScmpFilter, r Rule) error {
	nr, err := libseccomp.GetSyscallFromName(r.Syscall)
	if err != nil {
		return fmt.Errorf("seccomp: unknown syscall %q: %w", r.Syscall, err)
	}
	action := libseccomp.ActNotify
	if r.Errno != 0 {
		action = libseccomp.ActErrno.SetReturnCode(int16(r.Errno))
	}
	if len(r.When) == 0 {
		err = filter.AddRule(nr, action)
	} else {
		conds := make([]libseccomp.ScmpCondition, len(r.When))
		for i, c := range r.When {
			op, a, b := libseccomp.CompareEqual, c.Value, uint64(0)
			switch c.Op {
			case NotEqual:
				op = libseccomp.CompareNotEqual
			case MaskedEqual:
				op, a, b = libseccomp.CompareMaskedEqual, c.Mask, c.Value
			}
			if conds[i], err = libseccomp.MakeCondition(c.Arg, op, a, b); err != nil {
				return fmt.Errorf("seccomp: %s condition %d: %w", r.Syscall, i, err)
			}
		}
		err = filter.AddRuleConditionalExact(nr, action, conds)
	}
	if err != nil {
		return fmt.Errorf("seccomp: rule for %s: %w", r.Syscall, err)
	}
	return nil
}

// Notified lists the syscalls rules trap to the supervisor, for NewListener.
func Notified(rules []Rule) []string {
	var names []string
	for _, r := range rules {
		if r.Errno == 0 && !slices.Contains(names, r.Syscall) {
			names = append(names, r.Syscall)
		}
	}
	return names
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
