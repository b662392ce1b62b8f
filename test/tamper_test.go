package test

import (
	"maps"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// tamperDropped are the capabilities no program under the sandbox holds
// in any mode (spawn/caps.go says why each); --net host drops
// CAP_NET_RAW too.
var tamperDropped = map[string]uint{
	"CAP_NET_ADMIN":  unix.CAP_NET_ADMIN,
	"CAP_SYS_ADMIN":  unix.CAP_SYS_ADMIN,
	"CAP_SYS_MODULE": unix.CAP_SYS_MODULE,
	"CAP_SYS_PTRACE": unix.CAP_SYS_PTRACE,
	"CAP_SYS_RAWIO":  unix.CAP_SYS_RAWIO,
	"CAP_BPF":        unix.CAP_BPF,
	"CAP_PERFMON":    unix.CAP_PERFMON,
	"CAP_SYS_BOOT":   unix.CAP_SYS_BOOT,
}

// tamperKept are capabilities root keeps under the sandbox: the drop is
// of what reaches around the policy, not of everything.
var tamperKept = map[string]uint{
	"CAP_CHOWN":            unix.CAP_CHOWN,
	"CAP_DAC_OVERRIDE":     unix.CAP_DAC_OVERRIDE,
	"CAP_KILL":             unix.CAP_KILL,
	"CAP_NET_BIND_SERVICE": unix.CAP_NET_BIND_SERVICE,
}

// tamperDenied is what every attempt of progs/tamper.c must get under the
// sandbox, in every mode and as any user, against the supervisor (its
// parent there). Where the filter refuses a call the errno is its EPERM;
// where the kernel does, it is the kernel's: EACCES for /proc files of a
// process the program may not trace (the supervisor is not dumpable, and
// the program's Landlock domain shuts every process outside it), EPERM for
// signals Landlock's scope refuses. tkill of the supervisor's other
// threads, pidfd_send_signal through a thread's pidfd or a /proc/PID
// directory, and /proc/1 name no pid the filter knows: only Landlock
// refuses those.
var tamperDenied = map[string]string{
	"fds":                 "0 1 2",
	"ptrace-attach":       "EPERM",
	"ptrace-seize":        "EPERM",
	"process-vm-readv":    "EPERM",
	"process-vm-writev":   "EPERM",
	"proc-mem":            "EACCES",
	"proc-environ":        "EACCES",
	"kill-0":              "EPERM",
	"kill-stop":           "EPERM",
	"tgkill":              "EPERM",
	"tkill-main":          "EPERM",
	"tkill-threads":       "EPERM",
	"pidfd-open":          "EPERM",
	"procfd-signal":       "EPERM",
	"pidfd-getfd":         "EPERM",
	"open-init-netns":     "EACCES",
	"open-parent-netns":   "EACCES",
	"setns":               "EPERM",
	"unshare-net":         "EPERM",
	"netns":               "same",
	"io-uring":            "ENOSYS",
	"pidfd-thread-signal": "EPERM",
}

// tamperNativeOK are the attempts that succeed natively, as root, against
// a plain parent (tamper parent): what proves that each refusal under the
// sandbox is the sandbox's doing.
var tamperNativeOK = []string{
	"ptrace-attach", "ptrace-seize", "process-vm-readv", "process-vm-writev",
	"proc-mem", "proc-environ", "proc-fd-open", "kill-0", "kill-stop",
	"tgkill", "tkill-main", "tkill-threads", "pidfd-open", "pidfd-thread-signal",
	"procfd-signal", "pidfd-getfd", "open-parent-netns", "setns", "unshare-net",
	"io-uring", "raw-inet", "raw-inet6", "packet",
}

// tamperRun runs argv (progs/tamper.c, natively or under the sandbox) and
// returns its lines as name → value.
func tamperRun(t *testing.T, argv ...string) map[string]string {
	t.Helper()
	r := runCmd(t, 30*time.Second, argv...)
	if r.status != 0 {
		t.Fatalf("%q: status %d\nstdout:\n%s\nstderr:\n%s", argv, r.status, r.stdout, r.stderr)
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		name, value, ok := strings.Cut(l, ": ")
		if !ok {
			t.Fatalf("tamper printed %q", l)
		}
		got[name] = value
	}
	return got
}

// tamperCaps reads a capability set tamper printed in hex.
func tamperCaps(t *testing.T, got map[string]string, set string) uint64 {
	t.Helper()
	v, err := strconv.ParseUint(got[set], 16, 64)
	if err != nil {
		t.Fatalf("%s: %q: %v", set, got[set], err)
	}
	return v
}

// capNames names the capabilities in mask that the test knows by name.
func capNames(mask uint64) string {
	names := maps.Clone(tamperDropped)
	maps.Copy(names, tamperKept)
	names["CAP_NET_RAW"] = unix.CAP_NET_RAW
	var held []string
	for name, bit := range names {
		if mask&(1<<bit) != 0 {
			held = append(held, name)
		}
	}
	slices.Sort(held)
	return strings.Join(held, " ")
}

// TestTamperWithSupervisor: a program that tries every way to tamper with
// the supervisor — trace it, read or write its memory and /proc files,
// signal it or any of its threads, take its descriptors — or to leave its
// network namespace, or to use io_uring, raw or packet sockets (in --net
// host), or to hold a capability that reaches around the policy, is
// refused each time, as root in every mode. Natively, as root, against a
// plain parent, the same program succeeds at every one of them.
func TestTamperWithSupervisor(t *testing.T) {
	requireRoot(t)
	tamper := buildC(t, "progs/tamper.c")
	native := tamperRun(t, tamper, "parent")
	for _, name := range tamperNativeOK {
		if native[name] != "ok" {
			t.Errorf("natively, %s: %q, want ok: the test has no teeth there", name, native[name])
		}
	}
	if native["netns"] != "changed" {
		t.Errorf("natively, netns: %q, want changed (unshare-net succeeded)", native["netns"])
	}
	all := uint64(1) << unix.CAP_NET_RAW
	for _, bit := range tamperDropped {
		all |= 1 << bit
	}
	if eff := tamperCaps(t, native, "cap-eff"); eff&all != all {
		t.Errorf("natively root lacks %s, which the sandbox is to drop: the test has no teeth there", capNames(all&^eff))
	}
	if t.Failed() {
		t.FailNow()
	}
	for _, mode := range []string{"host", "sandbox", "none"} {
		t.Run(mode, func(t *testing.T) {
			got := tamperRun(t, sandboxedIn(mode, "", tamper)...)
			rawWant := "ok" // only the program's own namespace, whose way out is netstack
			if mode == "host" {
				rawWant = "EPERM"
			}
			checkTamper(t, got, true, mode == "host", rawWant)
		})
	}
}

// TestTamperUnprivileged: run by nobody, the supervisor is nobody's too,
// so the kernel's own checks between processes of one user are not in the
// way: what refuses the program is the supervisor being not dumpable, the
// filter, and Landlock. --net host (no namespace at all) and none (the
// program in a user namespace of its own).
func TestTamperUnprivileged(t *testing.T) {
	requireRoot(t) // to become nobody
	tamper := buildC(t, "progs/tamper.c")
	for _, mode := range []string{"host", "none"} {
		t.Run(mode, func(t *testing.T) {
			argv := append(setprivNobody, sandboxedIn(mode, "", tamper)...)
			checkTamper(t, tamperRun(t, argv...), false, mode == "host", "EPERM")
		})
	}
}

// checkTamper compares tamper's lines under the sandbox with what they
// must be; root says whether the program ran as root, rawWant what raw and
// packet sockets get.
func checkTamper(t *testing.T, got map[string]string, root, host bool, rawWant string) {
	t.Helper()
	want := maps.Clone(tamperDenied)
	want["raw-inet"], want["raw-inet6"], want["packet"] = rawWant, rawWant, rawWant
	// Root reads any directory, /proc/<supervisor>/fd too (it names only
	// numbers), but opens none of its entries; nobody cannot list it.
	want["proc-fd-list"], want["proc-fd-open"] = "ok", "EACCES"
	if !root {
		want["proc-fd-list"], want["proc-fd-open"] = "EACCES", "none"
	}
	if !root && host {
		// The supervisor is nobody's too, and not dumpable: its /proc
		// files belong to root, not to the user the program runs as.
		// (In a user namespace root is unmapped, and shows as nobody.)
		want["proc-owner"] = "0"
	}
	// pidfd_open of one of the supervisor's other threads names no pid
	// the filter knows; should a rule ever refuse it, there is no pidfd
	// left to signal through.
	if got["pidfd-thread-open"] != "ok" {
		want["pidfd-thread-signal"] = "none"
	}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		if got[name] != want[name] {
			t.Errorf("%s: %q, want %q", name, got[name], want[name])
		}
	}
	// A network namespace of its own in a user namespace of its own is
	// the program's right, and gives it nothing: an empty network.
	if got["unshare-user-net"] == "ok" && got["links"] != "lo" {
		t.Errorf("after unshare(CLONE_NEWUSER|CLONE_NEWNET) the program sees links %q, want only lo", got["links"])
	}

	dropped := uint64(0)
	for _, bit := range tamperDropped {
		dropped |= 1 << bit
	}
	if host {
		dropped |= 1 << unix.CAP_NET_RAW
	}
	sets := []string{"cap-eff", "cap-prm", "cap-inh", "cap-amb"}
	if root {
		// Another user's init step has no CAP_SETPCAP to shrink its
		// bounding set, nor needs to: with no_new_privs nothing it
		// execs gains a capability.
		sets = append(sets, "cap-bnd")
	}
	for _, set := range sets {
		if held := tamperCaps(t, got, set) & dropped; held != 0 {
			t.Errorf("%s holds %s", set, capNames(held))
		}
	}
	eff := tamperCaps(t, got, "cap-eff")
	if !root {
		if eff != 0 {
			t.Errorf("as nobody the program holds capabilities %#x", eff)
		}
		return
	}
	kept := uint64(0)
	for _, bit := range tamperKept {
		kept |= 1 << bit
	}
	if !host {
		kept |= 1 << unix.CAP_NET_RAW
	}
	if eff&kept != kept {
		t.Errorf("root lost %s, which it keeps under the sandbox", capNames(kept&^eff))
	}
}
