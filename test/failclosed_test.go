package test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSupervisorDeathKillsProgram: if the supervisor dies (SIGKILL, no
// chance to clean up), the program must not go on unsupervised: it dies.
func TestSupervisorDeathKillsProgram(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	cmd := exec.Command(sandboxBin, "run", "--dns", noDNS, "--", "sh", "-c", "echo $$ > "+pidFile+"; exec sleep 60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	var pid int
	for deadline := time.Now().Add(10 * time.Second); pid == 0; {
		if b, err := os.ReadFile(pidFile); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the program never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-done
	for deadline := time.Now().Add(5 * time.Second); ; {
		err := syscall.Kill(pid, 0)
		if errors.Is(err, syscall.ESRCH) {
			return // gone
		}
		if b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); strings.Contains(string(b), ") Z ") {
			return // a zombie: dead, waiting for its reaper
		}
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("program %d still runs 5 s after the supervisor was killed", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestLeftoversDieWithProgram: processes the program leaves behind — a
// background job, a daemon that escaped into its own session — do not
// outlive the sandbox unsupervised: when the program exits they are killed.
func TestLeftoversDieWithProgram(t *testing.T) {
	dir := t.TempDir()
	script := fmt.Sprintf(`sleep 60 & echo $! > %[1]s/bg; setsid sh -c 'echo $$ > %[1]s/daemon; exec sleep 60' & sleep 0.2; exit 4`, dir)
	r := runCmd(t, 30*time.Second, sandboxed("", "sh", "-c", script)...)
	if r.status != 4 {
		t.Fatalf("status %d (stderr %q), want the program's 4", r.status, r.stderr)
	}
	for _, name := range []string{"bg", "daemon"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s never started: %v", name, err)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Errorf("the %s process %d outlived the sandbox", name, pid)
		}
	}
}

// TestFailsClosedWhenTheProgramCannotBeRead: a supervisor that cannot read
// the program's memory or take its descriptor cannot judge its calls, so it
// denies them, with the reason in the audit log. Here the sandbox runs as
// nobody in --net host and the program (nobody too) makes itself
// non-dumpable, which closes pidfd_getfd and process_vm_readv to a
// same-user process without CAP_SYS_PTRACE: its connect to an ALLOWED port
// must fail with EACCES, and the allowed listener must see nothing.
func TestFailsClosedWhenTheProgramCannotBeRead(t *testing.T) {
	requireRoot(t) // to become nobody
	allowed := newCounter(t, "tcp4", "127.0.0.1:0")
	pol := filepath.Join(workDir, "nondumpable.yaml") // readable by nobody
	if err := os.WriteFile(pol, []byte(fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", allowed.port())), 0o644); err != nil {
		t.Fatal(err)
	}
	script := fmt.Sprintf(`import ctypes, errno, socket
PR_SET_DUMPABLE = 4
assert ctypes.CDLL(None).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
s = socket.socket()
try:
    s.connect(("127.0.0.1", %d))
    print("connected")
except OSError as e:
    print(errno.errorcode[e.errno])`, allowed.port())
	argv := append(setprivNobody, sandboxBin, "run", "--net", "host", "--policy", pol, "--log", "-", "--", "/usr/bin/python3", "-c", script)
	r := runCmd(t, 30*time.Second, argv...)
	if r.stdout != "EACCES\n" {
		t.Errorf("non-dumpable program: %q (status %d, stderr %q), want EACCES", r.stdout, r.status, r.stderr)
	}
	if !strings.Contains(r.stderr, `"verdict":"deny"`) || !strings.Contains(r.stderr, "fail closed: ") {
		t.Errorf("the audit log does not record a fail-closed denial:\n%s", r.stderr)
	}
	expectNothingReached(t, allowed)
}

// TestEscapedDescendantsDieWithSupervisor: a process the program started
// that escaped into a session of its own (setsid, a double fork) is not
// the supervisor's child and has no death signal; still, once the
// supervisor is killed with SIGKILL — alone, or with its whole process
// group, as `timeout -s KILL` and CI runners do — it dies, in every mode
// and as any user. Natively the same script's escapee lives on: the proof
// the escape is real.
func TestEscapedDescendantsDieWithSupervisor(t *testing.T) {
	requireRoot(t) // to run as nobody too
	dir := filepath.Join(workDir, "escapee")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	// The escapee double-forks out of a new session, writes its pid, and
	// sleeps; the program itself waits.
	script := func(pidFile string) string {
		return fmt.Sprintf(`setsid sh -c '(sleep 60 & echo $! > %[1]s.tmp; mv %[1]s.tmp %[1]s) &'; exec sleep 60`, pidFile)
	}
	run := func(name string, argv []string, group bool) (escapee int, alive bool) {
		t.Helper()
		pidFile := filepath.Join(dir, name)
		os.Remove(pidFile)
		cmd := exec.Command(argv[0], append(argv[1:], "sh", "-c", script(pidFile))...)
		// A group of its own, so that a kill of the group reaches what
		// it started and not the test.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		for deadline := time.Now().Add(10 * time.Second); escapee == 0; {
			if b, err := os.ReadFile(pidFile); err == nil {
				escapee, _ = strconv.Atoi(strings.TrimSpace(string(b)))
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("%s: the escapee never started", name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if group {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		} else {
			cmd.Process.Signal(syscall.SIGKILL)
		}
		<-done
		gone := func() bool {
			if errors.Is(syscall.Kill(escapee, 0), syscall.ESRCH) {
				return true
			}
			b, _ := os.ReadFile("/proc/" + strconv.Itoa(escapee) + "/stat")
			return strings.Contains(string(b), ") Z ")
		}
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if gone() {
				return escapee, false
			}
		}
		syscall.Kill(escapee, syscall.SIGKILL)
		return escapee, true
	}
	for _, group := range []bool{false, true} {
		if pid, alive := run("native", []string{"sh", "-c", "exec \"$@\"", "sh"}, group); !alive {
			t.Fatalf("natively the escapee %d died with its starter (group kill: %v): the test proves nothing", pid, group)
		}
	}
	for _, c := range []struct {
		name string
		argv []string
	}{
		{"host", []string{sandboxBin, "run", "--net", "host", "--"}},
		{"none", []string{sandboxBin, "run", "--net", "none", "--"}},
		{"sandbox", []string{sandboxBin, "run", "--net", "sandbox", "--dns", noDNS, "--"}},
		{"host-nobody", append(setprivNobody, sandboxBin, "run", "--net", "host", "--")},
		{"none-nobody", append(setprivNobody, sandboxBin, "run", "--net", "none", "--")},
	} {
		if pid, alive := run(c.name, c.argv, false); alive {
			t.Errorf("%s: the escapee %d still ran 5 s after the supervisor was killed", c.name, pid)
		}
		if pid, alive := run(c.name+"-group", c.argv, true); alive {
			t.Errorf("%s: the escapee %d still ran 5 s after the supervisor's process group was killed", c.name, pid)
		}
	}
}
