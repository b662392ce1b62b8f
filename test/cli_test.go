package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartFailuresExit125: what stops the sandbox before the program runs
// exits 125 with one line on stderr that says what and where, and the
// program never runs.
func TestStartFailuresExit125(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "ran")
	touch := []string{"sh", "-c", "touch " + marker}
	badPolicy := writePolicy(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:70000\n")
	type startCase struct {
		name string
		argv []string
		want string // in the one line on stderr
	}
	cases := []startCase{
		{"bad policy", append([]string{sandboxBin, "run", "--net", "host", "--policy", badPolicy, "--"}, touch...), badPolicy + ":4:"},
		{"missing policy", append([]string{sandboxBin, "run", "--policy", "/nonexistent/p.yaml", "--"}, touch...), "/nonexistent/p.yaml"},
		{"missing program", []string{sandboxBin, "run", "--", "/nonexistent/prog"}, "/nonexistent/prog"},
		{"program not executable", []string{sandboxBin, "run", "--", "/etc/hostname"}, "/etc/hostname"},
		{"no program", []string{sandboxBin, "run"}, "no program"},
		{"unknown flag", append([]string{sandboxBin, "run", "--bogus", "--"}, touch...), "bogus"},
		{"unknown net mode", append([]string{sandboxBin, "run", "--net", "wifi", "--"}, touch...), "wifi"},
		{"unwritable log", append([]string{sandboxBin, "run", "--log", "/nonexistent/dir/log", "--"}, touch...), "/nonexistent/dir/log"},
		{"--dns outside --net sandbox", append([]string{sandboxBin, "run", "--net", "host", "--dns", "127.0.0.1", "--"}, touch...), "--dns goes with --net sandbox: in --net host the program uses the host's resolver itself"},
		{"--dns with --net none", append([]string{sandboxBin, "run", "--net", "none", "--dns", "127.0.0.1", "--"}, touch...), "--dns goes with --net sandbox: in --net none the program has only a loopback of its own"},
		{"bad --dns", append([]string{sandboxBin, "run", "--dns", "resolver.example", "--"}, touch...), `--dns "resolver.example"`},
		{"unwritable --learn", append([]string{sandboxBin, "run", "--net", "host", "--learn", "/nonexistent/dir/learned.yaml", "--"}, touch...), "--learn: open /nonexistent/dir/learned.yaml"},
		{"bad --learn base", append([]string{sandboxBin, "run", "--net", "host", "--learn", filepath.Join(t.TempDir(), "l.yaml"), "--policy", badPolicy, "--"}, touch...), badPolicy + ":4:"},
		// The agent starts nothing, but its own failures are the same.
		{"agent without --socket", []string{sandboxBin, "agent"}, "--socket PATH is needed"},
		{"agent with a bad policy", []string{sandboxBin, "agent", "--socket", filepath.Join(t.TempDir(), "a.sock"), "--policy", badPolicy}, badPolicy + ":4:"},
		{"agent without its policy directory", []string{sandboxBin, "agent", "--socket", filepath.Join(t.TempDir(), "a.sock"), "--policy-dir", "/nonexistent/policies"}, "--policy-dir /nonexistent/policies: not a directory"},
		{"oci-profile with a missing base", []string{sandboxBin, "oci-profile", "--socket", "/run/a.sock", "--base", "/nonexistent/base.json"}, "/nonexistent/base.json"},
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("\x7fELF-not-really\x00\x01"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases = append(cases,
		startCase{"exec format error", []string{sandboxBin, "run", "--", garbage}, "exec format error"},
		startCase{"exec format error in --net none", []string{sandboxBin, "run", "--net", "none", "--", garbage}, "cannot run " + garbage + ": exec format error"})
	// A policy with several mistakes: one line each, file:line:col first.
	twoMistakes := writePolicy(t, "version: 1\ndefault: maybe\nrules:\n  - allow: tcp 127.0.0.1:70000\n")
	r := runCmd(t, 30*time.Second, append([]string{sandboxBin, "run", "--net", "host", "--policy", twoMistakes, "--"}, touch...)...)
	if lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n"); r.status != 125 || len(lines) != 2 ||
		!strings.HasPrefix(lines[0], "sandbox: "+twoMistakes+":2:") || !strings.HasPrefix(lines[1], "sandbox: "+twoMistakes+":4:") {
		t.Errorf("two mistakes: status %d, stderr %q: want 125 and one line per mistake", r.status, r.stderr)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCmd(t, 30*time.Second, c.argv...)
			if r.status != 125 {
				t.Errorf("exit status %d, want 125 (stderr %q)", r.status, r.stderr)
			}
			lines := strings.Split(strings.TrimRight(r.stderr, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "sandbox: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("stderr %q: want one line starting \"sandbox: \" that names %q", r.stderr, c.want)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the program ran")
			}
		})
	}
}

// TestExitStatusAndStreams: the program's exit status, 128+N for a signal,
// and its stdin, stdout, stderr, arguments, environment and working
// directory pass through unchanged.
func TestExitStatusAndStreams(t *testing.T) {
	if r := runCmd(t, 30*time.Second, sandboxed("", "sh", "-c", "exit 3")...); r.status != 3 {
		t.Errorf("exit 3: got status %d", r.status)
	}
	if r := runCmd(t, 30*time.Second, sandboxed("", "sh", "-c", "kill -TERM $$")...); r.status != 128+int(syscall.SIGTERM) {
		t.Errorf("killed by SIGTERM: got status %d, want %d", r.status, 128+int(syscall.SIGTERM))
	}

	dir := t.TempDir()
	cmd := exec.Command(sandboxBin, "run", "--dns", noDNS, "--", "sh", "-c", `cat; echo "args:$#:$1:$2"; echo "env:$SANDBOX_TEST_VAR"; echo "cwd:$(pwd)"; echo err >&2`, "sh", "a b", "c")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SANDBOX_TEST_VAR=v=1")
	cmd.Stdin = strings.NewReader("from stdin\n")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("run: %v (%s)", err, errb.String())
	}
	want := fmt.Sprintf("from stdin\nargs:2:a b:c\nenv:v=1\ncwd:%s\n", dir)
	if out.String() != want || errb.String() != "err\n" {
		t.Errorf("stdout %q stderr %q; want %q and %q", out.String(), errb.String(), want, "err\n")
	}
}

// TestNoDescriptorLeaks: the program holds stdin, stdout and stderr and
// nothing else — not the listener, not the supervisor's sockets, not a
// descriptor the sandbox itself inherited.
func TestNoDescriptorLeaks(t *testing.T) {
	f, err := os.Open("/etc/hostname")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cmd := exec.Command(sandboxBin, "run", "--dns", noDNS, "--", "sh", "-c", "ls /proc/$$/fd")
	cmd.ExtraFiles = []*os.File{f} // fd 3 in the sandbox, not close-on-exec
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); strings.Join(got, " ") != "0 1 2" {
		t.Errorf("the program holds fds %v, want only 0 1 2", got)
	}
}

// TestProgramStartsAsNatively: the program starts with the signal mask,
// the ignored and caught signals, and the process group a native run
// gives it, in every mode — though the sandbox makes its process without
// Go's exec, from a thread that has every signal blocked and Go's
// handlers installed — and with SIGINT and SIGHUP ignored by whoever
// starts it, as a shell's background jobs and nohup do. The program reads
// its own /proc/self files: no shell in between, which would reset its
// mask.
func TestProgramStartsAsNatively(t *testing.T) {
	programs := [][]string{
		{"grep", "-E", "^Sig(Blk|Ign|Cgt)", "/proc/self/status"},
		{"cut", "-d", " ", "-f", "5", "/proc/self/stat"}, // the process group
	}
	for _, ignore := range []bool{false, true} {
		start := func(argv ...string) string {
			t.Helper()
			// The starter says its process group, then execs
			// (natively the program, else the sandbox).
			script := `cut -d " " -f 5 /proc/$$/stat; exec "$@"`
			if ignore {
				script = `trap "" INT HUP; ` + script
			}
			r := runCmd(t, 30*time.Second, append([]string{"sh", "-c", script, "sh"}, argv...)...)
			if r.status != 0 {
				t.Fatalf("%v: status %d, stderr %q", argv, r.status, r.stderr)
			}
			return r.stdout
		}
		for _, prog := range programs {
			native := start(prog...)
			if f := strings.Fields(native); len(f) < 2 || prog[0] == "cut" && f[0] != f[1] {
				t.Fatalf("natively: %q", native)
			}
			for _, mode := range []string{"host", "sandbox", "none"} {
				if got := start(append(sandboxedIn(mode, ""), prog...)...); got != native {
					t.Errorf("SIGINT and SIGHUP ignored %v, --net %s, %s:\n%s\nnatively:\n%s", ignore, mode, prog[0], got, native)
				}
			}
		}
	}
}

// TestSignalsReachProgram: SIGTERM, SIGINT, SIGHUP and SIGUSR1 sent to the
// sandbox reach the program, which handles them.
func TestSignalsReachProgram(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP, syscall.SIGUSR1} {
		t.Run(sig.String(), func(t *testing.T) {
			ready := filepath.Join(t.TempDir(), "ready")
			script := fmt.Sprintf(`trap 'echo got; exit 7' %d; touch %s; while :; do sleep 0.05; done`, int(sig), ready)
			cmd := exec.Command(sandboxBin, "run", "--dns", noDNS, "--", "sh", "-c", script)
			var out strings.Builder
			cmd.Stdout = &out
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				if _, err := os.Stat(ready); err == nil {
					break
				}
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatal("the program never started")
				}
				time.Sleep(10 * time.Millisecond)
			}
			cmd.Process.Signal(sig)
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				cmd.Process.Kill()
				t.Fatal("the program did not react to the signal")
			}
			if cmd.ProcessState.ExitCode() != 7 || out.String() != "got\n" {
				t.Errorf("status %d output %q, want 7 and \"got\"", cmd.ProcessState.ExitCode(), out.String())
			}
		})
	}
}

// TestOtherABIsKilled: a connect made through the x32 ABI, which a filter
// matching only native numbers would miss, kills the program.
func TestOtherABIsKilled(t *testing.T) {
	x32 := buildC(t, "progs/x32.c")
	native := runCmd(t, 10*time.Second, x32)
	if native.status != 0 {
		t.Fatalf("natively x32 exited %d", native.status)
	}
	r := runCmd(t, 10*time.Second, sandboxed("", x32)...)
	if r.status != 128+int(syscall.SIGSYS) {
		t.Errorf("under the sandbox x32 exited %d with %q, want death by SIGSYS (%d); natively it printed %q",
			r.status, r.stdout, 128+int(syscall.SIGSYS), native.stdout)
	}
}

// TestAuditLog: --log writes one JSON object per decision with the fields
// the audit log promises (ARCHITECTURE.md, contracts), and the deciding rule's file:line.
func TestAuditLog(t *testing.T) {
	dial := buildC(t, "progs/dial.c")
	allowed := newCounter(t, "tcp4", "127.0.0.1:0")
	denied := newCounter(t, "tcp4", "127.0.0.1:0")
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n  - deny: tcp 127.0.0.1:%d\n    errno: ECONNREFUSED\n", allowed.port(), denied.port()))
	logFile := filepath.Join(t.TempDir(), "audit.jsonl")
	script := fmt.Sprintf("%s block tcp 127.0.0.1 %d 1; %s block tcp 127.0.0.1 %d 1", dial, allowed.port(), dial, denied.port())
	r := runCmd(t, 30*time.Second, sandboxBin, "run", "--net", "host", "--policy", pol, "--log", logFile, "--", "sh", "-c", script)
	if r.status != 0 {
		t.Fatalf("status %d: %s", r.status, r.stderr)
	}
	data, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	var recs []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("audit line %q is not JSON: %v", line, err)
		}
		recs = append(recs, m)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d audit records, want 2:\n%s", len(recs), data)
	}
	want := []map[string]any{
		{"syscall": "connect", "proto": "tcp", "dest": fmt.Sprintf("127.0.0.1:%d", allowed.port()), "verdict": "allow", "rule": pol + ":4", "exe": dial},
		{"syscall": "connect", "proto": "tcp", "dest": fmt.Sprintf("127.0.0.1:%d", denied.port()), "verdict": "deny", "rule": pol + ":5", "errno": "ECONNREFUSED", "exe": dial},
	}
	for i, w := range want {
		for k, v := range w {
			if recs[i][k] != v {
				t.Errorf("record %d: %s = %v, want %v", i, k, recs[i][k], v)
			}
		}
		for _, k := range []string{"time", "pid", "fd", "took_us"} {
			if _, ok := recs[i][k]; !ok {
				t.Errorf("record %d has no %q", i, k)
			}
		}
	}
}

// TestCheck: `sandbox check` prints one line per rule for a good policy,
// notes what depends on the mode and warns of rules that never match;
// every mistake of a bad one with file:line:col; it reads - from stdin.
func TestCheck(t *testing.T) {
	good := writePolicy(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:8080\n  - deny: udp *:53\n    errno: ECONNREFUSED\n  - deny: udp 198.18.0.1:53\n  - allow: tcp 127.0.0.1:8080\n")
	r := runCmd(t, 10*time.Second, sandboxBin, "check", good)
	for _, want := range []string{
		good + ": ok: 4 rules, default deny (EACCES)\n",
		good + ":4: allow tcp 127.0.0.1 port 8080\n",
		good + ":5: deny udp any address port 53 → ECONNREFUSED\n",
		good + ":7: warning: \"udp 198.18.0.1:53\" never matches: line 5 (\"udp *:53\") matches everything it would, first",
		good + ":8: warning: \"tcp 127.0.0.1:8080\" is written twice: line 4 says the same first",
		good + ":4: note: \"tcp 127.0.0.1:8080\": a loopback address is the host's loopback in --net host; in --net sandbox the program's own loopback and the host's",
	} {
		if r.status != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("check of a good policy: status %d, want %q in stdout:\n%s", r.status, want, r.stdout)
		}
	}
	one := writePolicy(t, "version: 1\nrules:\n  - allow: unix *\n")
	if r := runCmd(t, 10*time.Second, sandboxBin, "check", one); r.status != 0 || !strings.Contains(r.stdout, ": ok: 1 rule, default deny") {
		t.Errorf("one rule: status %d, stdout %q", r.status, r.stdout)
	}
	bad := writePolicy(t, "version: 1\ndefault: maybe\nrules:\n  - allow: tcp 127.0.0.1:8080\n    errno: EACCES\n  - alow: tcp 1.2.3.4\n")
	r = runCmd(t, 10*time.Second, sandboxBin, "check", bad)
	if r.status != 1 {
		t.Errorf("check of a bad policy exited %d, want 1", r.status)
	}
	for _, want := range []string{bad + ":2:", bad + ":5:", bad + ":6:"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("check output %q does not point at %s", r.stderr, want)
		}
	}
	// Several files, and - for stdin: each judged on its own.
	cmd := exec.Command(sandboxBin, "check", one, "-", bad)
	cmd.Stdin = strings.NewReader("version: 1\ndefault: allow\n")
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || !strings.Contains(out.String(), "<stdin>: ok: 0 rules, default allow") || !strings.Contains(out.String(), one+": ok:") || !strings.Contains(errOut.String(), bad+":2:") {
		t.Errorf("check one - bad: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
}

// TestRunsUnprivileged: --net host needs no privilege at all (not even
// /dev/net/tun): run by nobody, the sandbox still traps and decides every
// connect.
func TestRunsUnprivileged(t *testing.T) {
	requireRoot(t) // to become nobody
	dial := buildC(t, "progs/dial.c")
	allowed := newCounter(t, "tcp4", "127.0.0.1:0")
	denied := newCounter(t, "tcp4", "127.0.0.1:0")
	pol := filepath.Join(workDir, "unprivileged.yaml")
	if err := os.WriteFile(pol, []byte(fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", allowed.port())), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		port int
		want string
	}{{allowed.port(), "ok=2"}, {denied.port(), "EACCES=2"}} {
		argv := append(append(setprivNobody, sandboxBin, "run", "--net", "host", "--policy", pol, "--"), dial, "block", "tcp", "127.0.0.1", fmt.Sprint(tc.port), "2")
		r := runCmd(t, 30*time.Second, argv...)
		if strings.TrimSpace(r.stdout) != tc.want || r.status != 0 {
			t.Errorf("as nobody, port %d: %q (status %d, stderr %q), want %q", tc.port, r.stdout, r.status, r.stderr, tc.want)
		}
	}
	expectNothingReached(t, denied)
}

// TestHostnameRulesWarnInHostMode: a rule naming a host is accepted, but in
// --net host it matches nothing, and the sandbox says so before it runs.
func TestHostnameRulesWarnInHostMode(t *testing.T) {
	pol := writePolicy(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp example.com:443\n")
	r := runCmd(t, 30*time.Second, sandboxed(pol, "true")...)
	if r.status != 0 || !strings.Contains(r.stderr, pol+":4:12:") || !strings.Contains(r.stderr, "matches nothing in --net host") {
		t.Errorf("status %d, stderr %q: want a warning naming %s:4:12", r.status, r.stderr, pol)
	}
}

// TestHelpVersionPolicyDefault: help, every command's --help and `help
// COMMAND` exit 0 on stdout and list every flag; version names the
// sandbox and Go; `policy default` prints the embedded policy — one that
// parses, and whose lines the log cites (<default>:LINE).
func TestHelpVersionPolicyDefault(t *testing.T) {
	for _, argv := range [][]string{{"help"}, {"--help"}, {"help", "run"}, {"run", "--help"}, {"run", "-h"}, {"help", "check"}, {"check", "--help"}, {"help", "policy"}, {"help", "version"}} {
		r := runCmd(t, 10*time.Second, append([]string{sandboxBin}, argv...)...)
		if r.status != 0 || r.stdout == "" || r.stderr != "" {
			t.Errorf("sandbox %s: status %d, stdout %d bytes, stderr %q", strings.Join(argv, " "), r.status, len(r.stdout), r.stderr)
		}
		if argv[len(argv)-1] == "run" || argv[0] == "run" {
			for _, flag := range []string{"--policy", "--net", "--dns", "--log", "--learn", "--quiet"} {
				if !strings.Contains(r.stdout, flag) {
					t.Errorf("sandbox %s does not list %s", strings.Join(argv, " "), flag)
				}
			}
		}
	}
	if r := runCmd(t, 10*time.Second, sandboxBin, "help", "nosuch"); r.status != 2 {
		t.Errorf("help nosuch: status %d, want 2", r.status)
	}
	if r := runCmd(t, 10*time.Second, sandboxBin, "nosuch"); r.status != 2 {
		t.Errorf("nosuch: status %d, want 2", r.status)
	}
	r := runCmd(t, 10*time.Second, sandboxBin, "version")
	if r.status != 0 || !regexp.MustCompile(`^sandbox \S.* go1\.\d+`).MatchString(r.stdout) {
		t.Errorf("version: status %d, %q", r.status, r.stdout)
	}
	r = runCmd(t, 10*time.Second, sandboxBin, "policy", "default")
	embedded, err := os.ReadFile("../policy/default.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r.status != 0 || r.stdout != string(embedded) {
		t.Errorf("policy default: status %d, printed %q, want policy/default.yaml", r.status, r.stdout)
	}
	file := writePolicy(t, r.stdout)
	if c := runCmd(t, 10*time.Second, sandboxBin, "check", file); c.status != 0 {
		t.Errorf("the printed default policy does not check: %s", c.stderr)
	}
}
