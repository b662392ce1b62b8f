package spawn

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// onThrowawayThread runs f on an OS thread of its own that ends with it:
// Landlock, no_new_privs and capabilities bind one thread, and the test
// process must not keep a restricted one.
func onThrowawayThread(f func()) {
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread() // never unlocked: Go ends the thread with the goroutine
		defer close(done)
		f()
	}()
	<-done
}

// startTarget starts a process outside any domain the test makes.
func startTarget(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// reachTarget tries, from the calling thread, what a program could do to a
// process outside its domain, and returns each attempt's error.
func reachTarget(pid int) map[string]error {
	got := map[string]error{}
	got["kill 0"] = unix.Kill(pid, 0)
	if dir, err := unix.Open("/proc/"+strconv.Itoa(pid), unix.O_DIRECTORY|unix.O_CLOEXEC, 0); err != nil {
		got["pidfd_send_signal /proc/PID"] = err
	} else {
		got["pidfd_send_signal /proc/PID"] = unix.PidfdSendSignal(dir, 0, nil, 0)
		unix.Close(dir)
	}
	if fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/mem", unix.O_RDONLY|unix.O_CLOEXEC, 0); err != nil {
		got["open /proc/PID/mem"] = err
	} else {
		got["open /proc/PID/mem"] = nil
		unix.Close(fd)
	}
	// A successful seize leaves the target traced by this thread until the
	// thread ends: each caller has a target of its own.
	got["ptrace seize"] = unix.PtraceSeize(pid)
	return got
}

// TestLandlockKeepsOutsideProcessesAway: a thread in the domain
// enterLandlockDomain makes can neither trace, read nor (with the signal
// scope) signal a process outside it, which the same thread outside a
// domain can — the proof that the domain, not something else, refuses.
// The fallback for ABI 2 to 5 is tested on this kernel too; it has no
// signal scope.
func TestLandlockKeepsOutsideProcessesAway(t *testing.T) {
	abi := landlockABI()
	if abi == 0 {
		t.Skip("this kernel has no Landlock")
	}
	for _, tc := range []struct {
		name    string
		abi     int
		signals bool // whether signals are scoped
		minimum int
	}{
		{"scoped", abi, true, 6},
		{"fallback", 2, false, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if abi < tc.minimum {
				t.Skipf("Landlock ABI %d < %d", abi, tc.minimum)
			}
			var native, confined map[string]error
			other := startTarget(t)
			onThrowawayThread(func() { native = reachTarget(other) })
			for what, err := range native {
				if err != nil {
					t.Fatalf("outside a domain, %s of a process of ours fails (%v): the test has no teeth here", what, err)
				}
			}
			target := startTarget(t)
			var entered bool
			var err error
			onThrowawayThread(func() {
				if err = unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
					return
				}
				if entered, err = enterLandlockDomain(tc.abi); entered && err == nil {
					confined = reachTarget(target)
				}
			})
			if err != nil || !entered {
				t.Fatalf("enterLandlockDomain(%d): entered %v, %v", tc.abi, entered, err)
			}
			want := map[string]error{
				"open /proc/PID/mem": unix.EACCES,
				"ptrace seize":       unix.EPERM,
			}
			for _, what := range []string{"kill 0", "pidfd_send_signal /proc/PID"} {
				want[what] = nil
				if tc.signals {
					want[what] = unix.EPERM
				}
			}
			for what, w := range want {
				if g := confined[what]; !errors.Is(g, w) {
					t.Errorf("in the domain, %s: %v, want %v", what, g, w)
				}
			}
		})
	}
}

// TestLandlockChangesNothingElse: inside the domain a thread still renames
// across directories (the right every file-system ruleset denies unless a
// rule grants it), writes files, and connects to an abstract unix socket
// made outside the domain (the policy decides those, so the domain must
// not scope them) — with the scoped ruleset and with the fallback.
func TestLandlockChangesNothingElse(t *testing.T) {
	abi := landlockABI()
	if abi < 2 {
		t.Skipf("Landlock ABI %d: no domain is made", abi)
	}
	name := "@sandbox-landlock-test-" + strconv.Itoa(os.Getpid())
	ln, err := net.Listen("unix", name)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	for _, v := range []int{abi, 2} {
		t.Run("abi"+strconv.Itoa(v), func(t *testing.T) {
			dir := t.TempDir()
			from, to := filepath.Join(dir, "a", "f"), filepath.Join(dir, "b", "f")
			for _, d := range []string{filepath.Dir(from), filepath.Dir(to)} {
				if err := os.Mkdir(d, 0o755); err != nil {
					t.Fatal(err)
				}
			}
			var steps []error
			onThrowawayThread(func() {
				if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
					steps = append(steps, err)
					return
				}
				if entered, err := enterLandlockDomain(v); !entered || err != nil {
					steps = append(steps, errors.Join(errors.New("no domain"), err))
					return
				}
				// Raw calls: os's wrappers may retry on another thread.
				fd, err := unix.Open(from, unix.O_CREAT|unix.O_WRONLY|unix.O_CLOEXEC, 0o644)
				if err == nil {
					_, err = unix.Write(fd, []byte("x"))
					unix.Close(fd)
				}
				steps = append(steps, err, unix.Rename(from, to))
				s, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
				if err == nil {
					err = unix.Connect(s, &unix.SockaddrUnix{Name: name})
					unix.Close(s)
				}
				steps = append(steps, err)
			})
			for i, err := range steps {
				if err != nil {
					t.Errorf("step %d (write, rename across directories, abstract connect) in the domain: %v", i, err)
				}
			}
		})
	}
}

// TestLandlockScopedSize: the ruleset size passed ends with the scoped
// field, as ABI 6's struct landlock_ruleset_attr does.
func TestLandlockScopedSize(t *testing.T) {
	if landlockScopedSize != 24 {
		t.Errorf("landlockScopedSize %d, want 24 (three __u64)", landlockScopedSize)
	}
}

// sigioKills makes target the owner of a pipe's reading end, with SIGTERM
// as its I/O signal, from the calling thread, makes the pipe readable, and
// reports whether target died of it; either way target has been reaped.
func sigioKills(t *testing.T, cmd *exec.Cmd, confine func() error) bool {
	t.Helper()
	var err error
	onThrowawayThread(func() {
		if err = confine(); err != nil {
			return
		}
		var p [2]int
		if err = unix.Pipe2(p[:], unix.O_CLOEXEC); err != nil {
			return
		}
		defer unix.Close(p[0])
		defer unix.Close(p[1])
		for _, step := range [][2]int{{unix.F_SETOWN, cmd.Process.Pid}, {unix.F_SETSIG, int(unix.SIGTERM)}, {unix.F_SETFL, unix.O_ASYNC}} {
			if _, err = unix.FcntlInt(uintptr(p[0]), step[0], step[1]); err != nil {
				return
			}
		}
		_, err = unix.Write(p[1], []byte{1})
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		return true
	case <-time.After(300 * time.Millisecond):
		// Not killed: end it here, where its one Wait runs.
		cmd.Process.Kill()
		<-done
		return false
	}
}

// TestLandlockScopesSIGIO: a descriptor's owner (F_SETOWN) gets the I/O
// signal the thread that set it chose — a signal that names no pid in any
// call the filter sees. Set from inside the domain, it does not reach a
// process outside it; set from outside, it does (and kills the target).
func TestLandlockScopesSIGIO(t *testing.T) {
	if abi := landlockABI(); abi < 6 {
		t.Skipf("Landlock ABI %d has no signal scope", abi)
	}
	for _, confined := range []bool{false, true} {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		confine := func() error { return nil }
		if confined {
			confine = func() error {
				if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
					return err
				}
				_, err := enterLandlockDomain(landlockABI())
				return err
			}
		}
		killed := sigioKills(t, cmd, confine)
		switch {
		case confined && killed:
			t.Error("an I/O signal set up from inside the domain killed a process outside it")
		case !confined && !killed:
			t.Fatal("outside a domain the I/O signal did not kill the target: the test has no teeth")
		}
	}
}

// enterLandlockDomain puts the calling thread, and what it execs, into the
// domain landlockRuleset(abi) makes at once, as the program's process does
// as part of its confinement (startProgram), and reports whether it did.
func enterLandlockDomain(abi int) (bool, error) {
	rs, err := landlockRuleset(abi)
	if err != nil || rs < 0 {
		return false, err
	}
	conf := noConfinement()
	conf.setLandlock(rs)
	defer conf.close()
	if err := conf.applyHere(); err != nil {
		return false, err
	}
	return true, nil
}
