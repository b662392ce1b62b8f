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

// TestSupervisorLeaksNothing runs loads several times in one supervisor
// process (test/leakcheck) and counts what the supervisor holds after each
// run: a goroutine or descriptor left behind per call or per run would
// show as growth. The first run is the baseline (it starts the lazily
// made parts: the interrupt handler, Go's own pools).
func TestSupervisorLeaksNothing(t *testing.T) {
	leakcheck := buildGo(t, "leakcheck")
	many := buildC(t, "progs/many.c")
	dial := buildC(t, "progs/dial.c")
	send := buildC(t, "progs/sendbench.c")
	allowed, denied, pol := allowOne(t)
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	viaGateway := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", allowed.port()))
	for _, tc := range []struct {
		name, mode, policy string
		argv               []string
	}{
		{"connects", "host", pol, []string{many, fmt.Sprint(allowed.port()), fmt.Sprint(denied.port()), "100", "10"}},
		{"sends", "host", allowAll, []string{send, "sendmsg", "1400", "2000"}},
		{"netstack", "sandbox", viaGateway, []string{"sh", "-c", fmt.Sprintf("for i in 1 2 3 4 5 6 7 8 9 10; do %s block tcp 100.96.0.1 %d 20; done", dial, allowed.port())}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := allowed.accepted.Load()
			r := runCmd(t, 3*time.Minute, append([]string{leakcheck, "4", tc.mode, tc.policy}, tc.argv...)...)
			if tc.mode == "sandbox" {
				// The load went through netstack to the host's loopback.
				if n := allowed.accepted.Load() - before; n != 4*10*20 {
					t.Errorf("the allowed listener accepted %d connections through netstack, want %d", n, 4*10*20)
				}
			}
			if r.status != 0 {
				t.Fatalf("leakcheck: status %d, %s", r.status, r.stderr)
			}
			var g, f []int
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var run, status, goroutines, fds int
				if _, err := fmt.Sscanf(line, "run=%d status=%d goroutines=%d fds=%d", &run, &status, &goroutines, &fds); err != nil || status != 0 {
					t.Fatalf("leakcheck line %q (%v); stderr %s", line, err, r.stderr)
				}
				g, f = append(g, goroutines), append(f, fds)
			}
			if len(g) != 4 {
				t.Fatalf("leakcheck printed %d runs, want 4:\n%s", len(g), r.stdout)
			}
			t.Logf("goroutines after each run %v, descriptors %v", g, f)
			if g[3] > g[0] || f[3] > f[0] {
				t.Errorf("the supervisor grew from %d goroutines and %d descriptors after the first run to %d and %d after the fourth", g[0], f[0], g[3], f[3])
			}
		})
	}
	expectNothingReached(t, denied)
}
