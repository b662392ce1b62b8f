package spawn

/*
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT 47
#define PR_CAP_AMBIENT_LOWER 3
#endif
#ifndef SYS_landlock_restrict_self
#define SYS_landlock_restrict_self 446
#endif

// What a thread gives up before it execs the program (see confinement).
struct sandbox_confinement {
	int nbounding, nambient;
	unsigned long bounding[64]; // PR_CAPBSET_DROP each (EINVAL: unknown here, skipped)
	unsigned long ambient[64];  // PR_CAP_AMBIENT_LOWER each (likewise)
	int capset;                 // whether to set data below
	uint32_t data[2][3];        // effective, permitted, inheritable: capset(2)'s v3 layout
	int landlock;               // a ruleset to restrict the thread to, or -1
	// Out: the step that failed (a SANDBOX_STEP_*), its errno, and the
	// capability it was dropping.
	int step, err;
	unsigned long cap;
};

enum {
	SANDBOX_STEP_BOUNDING = 1,
	SANDBOX_STEP_AMBIENT,
	SANDBOX_STEP_CAPSET,
	SANDBOX_STEP_LANDLOCK,
	SANDBOX_STEP_PDEATHSIG,
	SANDBOX_STEP_SETPGID,
	SANDBOX_STEP_EXEC,
};

// sandbox_confine applies c to the calling thread: raw system calls only,
// so that it can run in a vfork child that shares the supervisor's memory.
static int sandbox_confine(struct sandbox_confinement *c) {
	for (int i = 0; i < c->nbounding; i++)
		if (syscall(SYS_prctl, PR_CAPBSET_DROP, c->bounding[i], 0, 0, 0) < 0 && errno != EINVAL) {
			c->step = SANDBOX_STEP_BOUNDING, c->err = errno, c->cap = c->bounding[i];
			return -1;
		}
	for (int i = 0; i < c->nambient; i++)
		if (syscall(SYS_prctl, PR_CAP_AMBIENT, PR_CAP_AMBIENT_LOWER, c->ambient[i], 0, 0) < 0 && errno != EINVAL) {
			c->step = SANDBOX_STEP_AMBIENT, c->err = errno, c->cap = c->ambient[i];
			return -1;
		}
	if (c->capset) {
		struct { uint32_t version; int pid; } hdr = {0x20080522, 0}; // _LINUX_CAPABILITY_VERSION_3
		if (syscall(SYS_capset, &hdr, c->data) < 0) {
			c->step = SANDBOX_STEP_CAPSET, c->err = errno;
			return -1;
		}
	}
	if (c->landlock >= 0 && syscall(SYS_landlock_restrict_self, c->landlock, 0) < 0) {
		c->step = SANDBOX_STEP_LANDLOCK, c->err = errno;
		return -1;
	}
	return 0;
}

struct sandbox_exec {
	struct sandbox_confinement conf;
	const char *path;
	char *const *argv, *const *envp;
	int pgid;   // the process group to join
	int parent; // the watchdog's pid, for the PDEATHSIG race
	sigset_t mask; // the signal mask the program starts with
};

// The program's process until it execs: it shares the watchdog's memory
// (CLONE_VM) and runs no Go code. Every signal is blocked from the clone
// on; the handlers it inherited are Go's, which must not run here, so each
// goes back to the default (an ignored signal stays ignored, as across
// execve) before the program's mask is restored.
static int sandbox_exec_main(void *arg) {
	struct sandbox_exec *e = arg;
	for (int sig = 1; sig < 65; sig++) {
		struct sigaction sa;
		if (sig == SIGKILL || sig == SIGSTOP || sigaction(sig, NULL, &sa) < 0)
			continue; // glibc's own two refuse (EINVAL), and stay blocked until execve
		if (sa.sa_handler != SIG_IGN && sa.sa_handler != SIG_DFL) {
			sa.sa_handler = SIG_DFL;
			sa.sa_flags = 0;
			sigaction(sig, &sa, NULL);
		}
	}
	// Should the watchdog die, the program dies with it (its escaped
	// descendants go to the supervisor, the next subreaper up, which
	// kills them); if it died before this, at once.
	if (syscall(SYS_prctl, PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0) {
		e->conf.step = SANDBOX_STEP_PDEATHSIG, e->conf.err = errno;
		syscall(SYS_exit, 125);
	}
	if (syscall(SYS_getppid) != e->parent)
		syscall(SYS_kill, syscall(SYS_getpid), SIGKILL);
	if (syscall(SYS_setpgid, 0, e->pgid) < 0) {
		e->conf.step = SANDBOX_STEP_SETPGID, e->conf.err = errno;
		syscall(SYS_exit, 125);
	}
	if (sandbox_confine(&e->conf) < 0)
		syscall(SYS_exit, 125);
	syscall(SYS_rt_sigprocmask, SIG_SETMASK, &e->mask, NULL, 8);
	syscall(SYS_execve, e->path, e->argv, e->envp);
	e->conf.step = SANDBOX_STEP_EXEC, e->conf.err = errno;
	syscall(SYS_exit, 125);
	return 0;
}

// sandbox_exec starts e's program as a child of the calling process, from
// the calling thread, and returns its pid once it has exec'd or failed
// (CLONE_VFORK): e->conf.step says which. Returns -errno if there is no
// child.
static int sandbox_exec(struct sandbox_exec *e) {
	const size_t stack_size = 64 * 1024;
	void *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED)
		return -errno;
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &e->mask);
	int pid = clone(sandbox_exec_main, (char *)stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, e);
	int err = errno;
	pthread_sigmask(SIG_SETMASK, &e->mask, NULL);
	munmap(stack, stack_size);
	return pid < 0 ? -err : pid;
}

*/
import "C"

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"sandbox/sentry"
)

// confinement is what the program gives up before it runs: the
// capabilities that reach around the policy (planCapDrop) and a Landlock
// domain that keeps it from tracing or signalling any process outside it
// (landlockRuleset). Everything is worked out beforehand, in Go, so that
// applying it is a handful of system calls (sandbox_confine) that the
// program's own process — a vfork child of the watchdog that runs no Go
// code — makes between clone and execve. That saves the Go runtime start
// of a re-executed exec stage (~4.5 ms of `sandbox run -- true`). Like the
// filter, all of it binds the thread it is applied to.
type confinement struct {
	c C.struct_sandbox_confinement
}

// noConfinement is a confinement that gives up nothing.
func noConfinement() *confinement {
	conf := &confinement{}
	conf.c.landlock = -1
	return conf
}

// newConfinement plans the program's confinement in mode. The caller
// closes it.
func newConfinement(mode sentry.NetMode) (*confinement, error) {
	conf := noConfinement()
	drop, err := planCapDrop(mode)
	if err != nil {
		return nil, err
	}
	conf.setCaps(drop)
	rs, err := landlockRuleset(landlockABI())
	if err != nil {
		return nil, fmt.Errorf("landlock: %w", err)
	}
	conf.setLandlock(rs)
	return conf, nil
}

// setLandlock makes entering the Landlock domain of ruleset rs (-1: none)
// part of the confinement, which owns rs from then on.
func (conf *confinement) setLandlock(rs int) { conf.c.landlock = C.int(rs) }

// setCaps makes d part of the confinement.
func (conf *confinement) setCaps(d capDrop) {
	conf.c.nbounding = C.int(len(d.bounding))
	for i, c := range d.bounding {
		conf.c.bounding[i] = C.ulong(c)
	}
	conf.c.nambient = C.int(len(d.ambient))
	for i, c := range d.ambient {
		conf.c.ambient[i] = C.ulong(c)
	}
	conf.c.capset = 1
	for i, d := range d.caps {
		conf.c.data[i] = [3]C.uint32_t{C.uint32_t(d.Effective), C.uint32_t(d.Permitted), C.uint32_t(d.Inheritable)}
	}
}

// close releases the Landlock ruleset.
func (conf *confinement) close() {
	if conf.c.landlock >= 0 {
		unix.Close(int(conf.c.landlock))
		conf.c.landlock = -1
	}
}

// applyHere confines the calling thread (which must be locked to its
// goroutine and, for Landlock, have no_new_privs): what the program's
// process does before it execs. The tests confine threads of their own
// with it (dropCaps, enterLandlockDomain): cgo is not allowed in a test
// file, so it lives here.
func (conf *confinement) applyHere() error {
	conf.c.step = 0
	C.sandbox_confine(&conf.c)
	return conf.failure()
}

// failure is the error of the step that failed, nil if none did.
func (conf *confinement) failure() error {
	errno := unix.Errno(conf.c.err)
	switch conf.c.step {
	case 0:
		return nil
	case C.SANDBOX_STEP_BOUNDING:
		return fmt.Errorf("drop capability %d from the bounding set: %w", conf.c.cap, errno)
	case C.SANDBOX_STEP_AMBIENT:
		return fmt.Errorf("drop capability %d from the ambient set: %w", conf.c.cap, errno)
	case C.SANDBOX_STEP_CAPSET:
		return fmt.Errorf("drop capabilities: %w", errno)
	case C.SANDBOX_STEP_LANDLOCK:
		return fmt.Errorf("landlock: landlock_restrict_self: %w", errno)
	case C.SANDBOX_STEP_PDEATHSIG:
		return fmt.Errorf("tie the program to the watchdog (PR_SET_PDEATHSIG): %w", errno)
	case C.SANDBOX_STEP_SETPGID:
		return fmt.Errorf("put the program in the supervisor's process group: %w", errno)
	default:
		return fmt.Errorf("step %d: %w", conf.c.step, errno)
	}
}

// startProgram starts path with argv and env, confined by conf, as a
// child of this process made from the calling thread — the one that
// loaded the filter and lives as long as the watchdog, so the program's
// PDEATHSIG fires only when the watchdog ends — in process group pgid. It
// returns once the program runs: its exec has closed the status socket,
// which tells the supervisor so.
func startProgram(conf *confinement, path string, argv, env []string, pgid int) (*os.Process, error) {
	e := (*C.struct_sandbox_exec)(C.calloc(1, C.size_t(unsafe.Sizeof(C.struct_sandbox_exec{}))))
	defer C.free(unsafe.Pointer(e))
	e.conf = conf.c
	e.conf.step = 0
	e.path = C.CString(path)
	defer C.free(unsafe.Pointer(e.path))
	cargv, freeArgv := cStrings(argv)
	defer freeArgv()
	cenv, freeEnv := cStrings(env)
	defer freeEnv()
	e.argv, e.envp = cargv, cenv
	e.pgid = C.int(pgid)
	e.parent = C.int(os.Getpid())
	pid := int(C.sandbox_exec(e))
	if pid < 0 {
		return nil, fmt.Errorf("clone the program's process: %w", unix.Errno(-pid))
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return nil, err
	}
	c := &confinement{c: e.conf}
	if c.c.step == C.SANDBOX_STEP_EXEC {
		p.Wait()
		return nil, fmt.Errorf("cannot run %s: %w", path, unix.Errno(c.c.err))
	}
	if err := c.failure(); err != nil {
		p.Wait()
		return nil, err
	}
	return p, nil
}

// cStrings is ss as a NULL-terminated array of C strings, in C memory
// (the vfork child reads it), and the function that frees it.
func cStrings(ss []string) (**C.char, func()) {
	ptrSize := unsafe.Sizeof((*C.char)(nil))
	arr := (**C.char)(C.calloc(C.size_t(len(ss)+1), C.size_t(ptrSize)))
	elems := unsafe.Slice(arr, len(ss)+1)
	for i, s := range ss {
		elems[i] = C.CString(s)
	}
	return arr, func() {
		for _, p := range elems[:len(ss)] {
			C.free(unsafe.Pointer(p))
		}
		C.free(unsafe.Pointer(arr))
	}
}

// shieldSupervisor makes this process not dumpable, so that a program of
// the same user without CAP_SYS_PTRACE cannot open its /proc/PID/mem,
// environ, fd/ links and the like, nor ptrace it, whether or not Landlock
// is there (a non-dumpable process's /proc files belong to root, and the
// ptrace access check refuses it to anyone without CAP_SYS_PTRACE). It
// loses nothing by it: a process may always use its own /proc/self.
//
// Run calls it once the init step has started, not before: until the child
// execs it shares this process's dumpability, and a non-dumpable child's
// uid_map cannot be written by a user who is not root — the user namespace
// of --net sandbox and none would fail to start. The program runs only
// after the supervisor has taken the init step's descriptors, so nothing
// of it ever sees the supervisor dumpable. For the same reason unshield
// restores what was before, once the program and all it left behind are
// gone, so that a later Run in this process can start its init step.
func shieldSupervisor() (unshield func(), err error) {
	was, err := unix.PrctlRetInt(unix.PR_GET_DUMPABLE, 0, 0, 0, 0)
	if err != nil {
		return nil, fmt.Errorf("read whether the supervisor is dumpable: %w", err)
	}
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return nil, fmt.Errorf("make the supervisor non-dumpable: %w", err)
	}
	return func() { unix.Prctl(unix.PR_SET_DUMPABLE, uintptr(was), 0, 0, 0) }, nil
}
