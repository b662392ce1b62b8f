package spawn

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// A Landlock domain keeps the program away from every process outside it —
// the supervisor, and the user's other processes — even when the program
// runs as root: a task in a domain fails the ptrace access check against
// any task not in the same domain or one nested in it (ptrace,
// process_vm_readv/writev, /proc/PID/mem, fd/, cwd, exe, ns/…; checked
// here: with CAP_SYS_PTRACE a few read-only files such as environ and maps
// still open, which is one more reason planCapDrop leaves it out), and with
// LANDLOCK_SCOPE_SIGNAL (ABI 6) it cannot signal such a task however it
// names it: kill, tkill/tgkill of any thread, pidfd_send_signal through a
// pidfd or a /proc/PID directory, SIGIO/SIGURG through F_SETOWN. The
// filter's rows (filter.go) deny the ptrace family and signals aimed at the
// supervisor's pid in every case; the domain covers what the filter cannot
// name — the supervisor's other threads, a /proc/PID directory used as a
// pidfd, and the processes of the user the sandbox does not know about.
//
// Nothing else may change: the domain handles no file-system or network
// access right where it can avoid it, and it does not scope abstract unix
// sockets (the policy decides those). Without Landlock (kernels before
// 5.13, or built without it or not enabled at boot, or a container's
// seccomp profile that refuses its calls) the program runs with no domain,
// which is not an error and prints nothing: the filter's rows still refuse
// the ptrace family and signals to the supervisor's pid, and the
// supervisor is not dumpable (so its /proc/PID/mem, environ and fd/ stay
// shut to a program without CAP_SYS_PTRACE, which planCapDrop leaves out) — but
// the supervisor's other threads can then be signalled (tkill, or
// pidfd_send_signal through /proc/PID), and the user's other processes of
// the same uid traced through /proc/PID/mem.

// landlockScopedSize is how much of unix.LandlockRulesetAttr a kernel with
// ABI 6 knows: handled_access_fs, handled_access_net and scoped, 8 bytes
// each. The fields after it (ABI 8's quiet masks) stay zero, and a kernel
// that knows fewer fields accepts the larger size as long as the bytes it
// does not know are zero.
const landlockScopedSize = unsafe.Offsetof(unix.LandlockRulesetAttr{}.Scoped) + unsafe.Sizeof(unix.LandlockRulesetAttr{}.Scoped)

// landlockABI is the kernel's Landlock ABI version, 0 when it has none:
// ENOSYS (not built in) and EOPNOTSUPP (built in, not enabled at boot)
// alike.
func landlockABI() int {
	v, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, 0, 0, unix.LANDLOCK_CREATE_RULESET_VERSION)
	if errno != 0 {
		return 0
	}
	return int(v)
}

// landlockRuleset makes the ruleset of the program's Landlock domain for
// abi (landlockABI), whose fd it returns; -1 when abi has none. The
// program's process enters it (confinement), which takes no_new_privs (or
// CAP_SYS_ADMIN): the init step has it from loading the filter.
//
//   - ABI 6 and later: a ruleset whose only effect is LANDLOCK_SCOPE_SIGNAL.
//     It handles no access right, so files, sockets and mounts behave as
//     before.
//   - ABI 2 to 5: there is no scope, and a ruleset must handle some access
//     right to exist. It handles LANDLOCK_ACCESS_FS_REFER alone and allows
//     it beneath "/", so every access is allowed as before — REFER is the
//     right every file-system ruleset denies unless a rule grants it (a
//     ruleset handling any other right would break every rename and link
//     across directories). The domain still shuts the ptrace family, and
//     one thing changes: Landlock refuses mount and pivot_root to a domain
//     that handles a file-system right. The program holds no CAP_SYS_ADMIN
//     (planCapDrop), so this is felt only by a program that mounts in a user
//     namespace of its own (rootless containers, bubblewrap).
//   - ABI 1: no domain. REFER does not exist there, so any ruleset would
//     make renames and links across directories fail with EXDEV.
func landlockRuleset(abi int) (int, error) {
	var attr unix.LandlockRulesetAttr
	switch {
	case abi >= 6:
		attr.Scoped = unix.LANDLOCK_SCOPE_SIGNAL
	case abi >= 2:
		attr.Handled_access_fs = unix.LANDLOCK_ACCESS_FS_REFER
	default:
		return -1, nil
	}
	rs, _, errno := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr)), landlockScopedSize, 0)
	if errno != 0 {
		return -1, fmt.Errorf("landlock_create_ruleset: %w", errno)
	}
	if attr.Handled_access_fs != 0 {
		if err := allowBeneathRoot(int(rs), attr.Handled_access_fs); err != nil {
			unix.Close(int(rs))
			return -1, err
		}
	}
	return int(rs), nil
}

// allowBeneathRoot adds to ruleset rs a rule that allows access everywhere
// beneath "/": every path the program can name walks up to it.
func allowBeneathRoot(rs int, access uint64) error {
	root, err := unix.Open("/", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("landlock: open /: %w", err)
	}
	defer unix.Close(root)
	// The kernel's struct landlock_path_beneath_attr is packed (12 bytes);
	// it reads that much, and x/sys's layout agrees on those bytes.
	rule := unix.LandlockPathBeneathAttr{Allowed_access: access, Parent_fd: int32(root)}
	if _, _, errno := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(rs), unix.LANDLOCK_RULE_PATH_BENEATH, uintptr(unsafe.Pointer(&rule)), 0, 0, 0); errno != 0 {
		return fmt.Errorf("landlock_add_rule /: %w", errno)
	}
	return nil
}
