package test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestInterruptedConnects: a program hit by SA_RESTART signals every 20 µs
// (as Go programs are by SIGURG) connects blocking, non-blocking and over
// unix sockets; its results must equal the native run's exactly, and the
// audit log must show that signals really did interrupt trapped calls — the
// test is worth nothing if the storm missed them.
func TestInterruptedConnects(t *testing.T) {
	prog := buildC(t, "progs/sigstorm.c")
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	native := runCmd(t, 2*time.Minute, prog, "400")
	if native.status != 0 {
		t.Fatalf("natively: status %d, %s", native.status, native.stderr)
	}
	log := filepath.Join(t.TempDir(), "audit.jsonl")
	sandbox := runCmd(t, 2*time.Minute, sandboxBin, "run", "--policy", allowAll, "--log", log, "--", prog, "400")
	if sandbox.status != 0 || sandbox.stdout != native.stdout {
		t.Fatalf("under the sandbox (status %d):\n%s\nnatively:\n%s\nstderr: %s", sandbox.status, sandbox.stdout, native.stdout, sandbox.stderr)
	}
	data, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	interrupted := strings.Count(string(data), "stopped waiting")
	replayed := strings.Count(string(data), "earlier call, which a signal kept")
	t.Logf("%d trapped calls interrupted, %d results handed to the restarted call", interrupted, replayed)
	if interrupted == 0 || replayed == 0 {
		t.Errorf("the signal storm interrupted %d trapped calls and replayed %d results: the restart path went untested", interrupted, replayed)
	}
}
