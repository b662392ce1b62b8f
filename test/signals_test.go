package test

import (
	"strings"
	"testing"
	"time"
)

// TestConnectsUnderSignalStorm: a program hit by SA_RESTART signals every
// 20 µs (as Go programs are by SIGURG) connects blocking, non-blocking and
// over unix sockets; its results must equal the native run's exactly — no
// connect made twice (EISCONN, EALREADY), none lost.
func TestConnectsUnderSignalStorm(t *testing.T) {
	prog := buildC(t, "progs/sigstorm.c")
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	native := runCmd(t, 2*time.Minute, prog, "400")
	if native.status != 0 || !strings.Contains(native.stdout, "signals: delivered") {
		t.Fatalf("natively: status %d, %q, %s", native.status, native.stdout, native.stderr)
	}
	for range 3 {
		sandbox := runCmd(t, 2*time.Minute, sandboxed(allowAll, prog, "400")...)
		if sandbox.status != 0 || sandbox.stdout != native.stdout {
			t.Fatalf("under the sandbox (status %d):\n%s\nnatively:\n%s\nstderr: %s", sandbox.status, sandbox.stdout, native.stdout, sandbox.stderr)
		}
	}
}

// TestSignalInterruptsBlockedConnect: a blocking connect that blocks (a
// full backlog) is interrupted by a timer signal as Linux does it: EINTR
// without SA_RESTART, carrying on to success with it — though the program
// waits killably while the supervisor holds its call.
func TestSignalInterruptsBlockedConnect(t *testing.T) {
	prog := buildC(t, "progs/alarmconnect.c")
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	native := runCmd(t, time.Minute, prog)
	want := "unix, no SA_RESTART: EINTR handler=1\nunix, SA_RESTART: ok handler=1\ntcp, no SA_RESTART: EINTR handler=1\n"
	if native.stdout != want {
		t.Fatalf("natively: %q, want %q", native.stdout, want)
	}
	run := func(t *testing.T, argv []string) {
		start := time.Now()
		sandbox := runCmd(t, time.Minute, argv...)
		if sandbox.stdout != want || sandbox.status != 0 {
			t.Errorf("under the sandbox (status %d): %q, want %q; stderr %s", sandbox.status, sandbox.stdout, want, sandbox.stderr)
		}
		// Natively the run takes under a second; a signal the sandbox
		// sat on would leave the TCP connect blocked for the SYN
		// retries (> 3 s).
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("the sandboxed run took %v: a signal was held back", d)
		}
	}
	t.Run("as the supervisor's user", func(t *testing.T) { run(t, sandboxed(allowAll, prog)) })
	// As nobody under a root supervisor, the unix connects are made by a
	// process of their own (the peer's pid must not be root's): the
	// signal must reach that process too.
	t.Run("as nobody", func(t *testing.T) {
		requireRoot(t)
		run(t, sandboxed(allowAll, append(setprivNobody, prog)...))
	})
}
