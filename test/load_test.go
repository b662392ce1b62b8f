package test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestManyThreadsAtOnce: 100 threads × 10 connects at once, blocking and
// non-blocking, mixed allowed and denied: every one gets its right answer,
// nothing hangs, and the denied listener accepts nothing.
func TestManyThreadsAtOnce(t *testing.T) {
	prog := buildC(t, "progs/many.c")
	allowed, denied, pol := allowOne(t)
	r := runCmd(t, time.Minute, sandboxed(pol, prog, fmt.Sprint(allowed.port()), fmt.Sprint(denied.port()), "100", "10")...)
	if want := "ok=600 denied=400 wrong=0"; strings.TrimSpace(r.stdout) != want || r.status != 0 {
		t.Errorf("got %q (status %d, stderr %q), want %q", r.stdout, r.status, r.stderr, want)
	}
	expectNothingReached(t, denied)
}

// TestForkStorm: 200 short-lived processes, each connecting once, some
// allowed and some denied, all under the one filter.
func TestForkStorm(t *testing.T) {
	dial := buildC(t, "progs/dial.c")
	allowed, denied, pol := allowOne(t)
	script := fmt.Sprintf(`i=0; while [ $i -lt 100 ]; do %[1]s block tcp 127.0.0.1 %[2]d 1 & %[1]s nonblock tcp 127.0.0.1 %[3]d 1 & i=$((i+1)); done; wait`,
		dial, allowed.port(), denied.port())
	r := runCmd(t, 2*time.Minute, sandboxed(pol, "sh", "-c", script)...)
	if r.status != 0 || strings.Count(r.stdout, "ok=1\n") != 100 || strings.Count(r.stdout, "EACCES=1\n") != 100 {
		t.Errorf("status %d; want 100 ok=1 and 100 EACCES=1 lines, got:\n%s%s", r.status, r.stdout, r.stderr)
	}
	expectNothingReached(t, denied)
	if n := allowed.accepted.Load(); n != 100 {
		t.Errorf("the allowed listener accepted %d connections, want 100", n)
	}
}

// TestKilledWhileTrapped: a program killed while its connect is trapped
// and blocked in the supervisor leaves the sandbox working: it reports the
// death (128+9) and does not hang.
func TestKilledWhileTrapped(t *testing.T) {
	prog := buildC(t, "progs/concurrent.c")
	// The hung connect lasts 2 s; the program is killed 0.5 s in.
	script := prog + " 5 & pid=$!; sleep 0.5; kill -9 $pid; wait $pid"
	start := time.Now()
	r := runCmd(t, 30*time.Second, sandboxed("", "sh", "-c", script)...)
	if r.status != 128+9 {
		t.Errorf("status %d (stderr %q), want 137", r.status, r.stderr)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v after the kill", d)
	}
}
