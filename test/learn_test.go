package test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// learnClient does what its arguments say, one line of output each:
// serve:PORT listens on 127.0.0.1:PORT in the program (and, at the end,
// prints how many connections each such port accepted), tcp:HOST:PORT
// resolves and connects, unix:PATH connects to a unix socket, listen:ADDR
// binds ADDR port 0 and listens (a port the kernel picks).
const learnClient = `import socket, sys, threading, time
served = {}
def serve(port):
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", port)); s.listen(16)
    served[port] = 0
    def loop():
        while True:
            c, _ = s.accept(); served[port] += 1; c.close()
    threading.Thread(target=loop, daemon=True).start()
for arg in sys.argv[1:]:
    kind, _, rest = arg.partition(":")
    try:
        if kind == "serve":
            serve(int(rest)); print("serving"); continue
        if kind == "tcp":
            host, _, port = rest.rpartition(":")
            s = socket.create_connection((host, int(port)), timeout=10)
        elif kind == "unix":
            s = socket.socket(socket.AF_UNIX); s.connect(rest)
        elif kind == "listen":
            s = socket.socket(); s.bind((rest, 0)); s.listen(1); print("listening"); s.close(); continue
        s.close(); print("connected")
    except socket.gaierror as e:
        print("resolve:", e.args[1])
    except OSError as e:
        print("connect:", e.strerror)
time.sleep(0.2)
for port in sorted(served):
    print("accepted", port, served[port])`

// learn runs argv (a sandbox run command line up to its --) in learn mode
// into a file of its own, and returns the file and the run's result.
func learn(t *testing.T, argv []string, prog ...string) (string, result) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "learned.yaml")
	cmd := append(append(append([]string{}, argv...), "--learn", file, "--"), prog...)
	r := runCmd(t, time.Minute, cmd...)
	if r.status != 0 || !strings.Contains(r.stderr, "sandbox: learned ") {
		t.Fatalf("learn run: status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.stdout, r.stderr)
	}
	if c := runCmd(t, 10*time.Second, sandboxBin, "check", file); c.status != 0 {
		t.Fatalf("sandbox check of the learned policy: status %d\n%s%s", c.status, c.stdout, c.stderr)
	}
	return file, r
}

// policyText is the learned file's text, for what the test expects of it.
func policyText(t *testing.T, file string) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// wantLines fails unless out is exactly the lines want.
func wantLines(t *testing.T, what, out string, want ...string) {
	t.Helper()
	if got := strings.TrimSpace(out); got != strings.Join(want, "\n") {
		t.Errorf("%s printed:\n%s\nwant:\n%s", what, got, strings.Join(want, "\n"))
	}
}

// TestLearnRoundTrip: a job run in learn mode leaves a policy that `sandbox
// check` accepts; the job run again under it works, and a destination it
// did not use is denied — counted at its listener — in every mode: by
// address and unix path (host), by name through the sandbox's DNS
// (sandbox), the program's own loopback (none), and on top of a base
// policy, whose rules come first and whose allowed calls are not learned.
func TestLearnRoundTrip(t *testing.T) {
	requireRoot(t)
	py := []string{"/usr/bin/python3", "-c", learnClient}
	// The comments name the executable the kernel ran: python3's target.
	exe, err := filepath.EvalSymlinks(py[0])
	if err != nil {
		t.Fatal(err)
	}

	t.Run("host", func(t *testing.T) {
		web, other := newCounter(t, "tcp4", "127.0.0.1:0"), newCounter(t, "tcp4", "127.0.0.1:0")
		dir := t.TempDir()
		sock, otherSock := filepath.Join(dir, "a.sock"), filepath.Join(dir, "b.sock")
		usock, uother := newCounter(t, "unix", sock), newCounter(t, "unix", otherSock)
		job := append(py, fmt.Sprintf("tcp:127.0.0.1:%d", web.port()), "unix:"+sock, "listen:127.0.0.1")
		file, r := learn(t, []string{sandboxBin, "run", "--net", "host"}, job...)
		wantLines(t, "the learn run", r.stdout, "connected", "connected", "listening")
		text := policyText(t, file)
		for _, want := range []string{
			fmt.Sprintf("  - allow: tcp 127.0.0.1:%d  # %s", web.port(), exe),
			"  - allow: unix " + sock + "  # " + exe,
			"  - allow: listen tcp 127.0.0.1:",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("learned policy lacks %q:\n%s", want, text)
			}
		}
		again := runCmd(t, time.Minute, sandboxed(file, job...)...)
		wantLines(t, "the job under the learned policy", again.stdout, "connected", "connected", "listening")
		if strings.Contains(again.stderr, "sandbox: denied") {
			t.Errorf("the job under its learned policy had denials: %s", again.stderr)
		}
		denied := runCmd(t, time.Minute, sandboxed(file, append(py, fmt.Sprintf("tcp:127.0.0.1:%d", other.port()), "unix:"+otherSock)...)...)
		wantLines(t, "other destinations", denied.stdout, "connect: Permission denied", "connect: Permission denied")
		expectNothingReached(t, other, uother)
		if web.accepted.Load() != 2 || usock.accepted.Load() != 2 {
			t.Errorf("the learned destinations accepted %d and %d connections, want 2 each (learning, then the job again)", web.accepted.Load(), usock.accepted.Load())
		}
	})

	t.Run("host/base", func(t *testing.T) {
		web, extra, other := newCounter(t, "tcp4", "127.0.0.1:0"), newCounter(t, "tcp4", "127.0.0.1:0"), newCounter(t, "tcp4", "127.0.0.1:0")
		base := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nerrno: ECONNREFUSED\nrules:\n  - allow: tcp 127.0.0.1:%d\n  - deny: tcp 127.0.0.1:%d\n    errno: EPERM\n", web.port(), other.port()))
		job := append(py, fmt.Sprintf("tcp:127.0.0.1:%d", web.port()), fmt.Sprintf("tcp:127.0.0.1:%d", extra.port()), fmt.Sprintf("tcp:127.0.0.1:%d", other.port()))
		file, r := learn(t, []string{sandboxBin, "run", "--net", "host", "--policy", base}, job...)
		// The base's own deny rule still denies while learning.
		wantLines(t, "the learn run", r.stdout, "connected", "connected", "connect: Operation not permitted")
		text := policyText(t, file)
		rules := regexp.MustCompile(`(?m)^  - (allow|deny): .*$`).FindAllString(text, -1)
		want := []string{
			fmt.Sprintf("  - allow: tcp 127.0.0.1:%d", web.port()),
			fmt.Sprintf("  - deny: tcp 127.0.0.1:%d", other.port()),
			fmt.Sprintf("  - allow: tcp 127.0.0.1:%d  # "+exe+": 1 call", extra.port()),
		}
		if strings.Join(rules, "\n") != strings.Join(want, "\n") || !strings.Contains(text, "errno: ECONNREFUSED\n") {
			t.Errorf("learned policy:\n%s\nwant its rules to be:\n%s\nand the base's errno", text, strings.Join(want, "\n"))
		}
		again := runCmd(t, time.Minute, sandboxed(file, job...)...)
		wantLines(t, "the job under the learned policy", again.stdout, "connected", "connected", "connect: Operation not permitted")
		expectNothingReached(t, other)
	})

	t.Run("sandbox", func(t *testing.T) {
		a, b, ns := newTestHost(t), newTestHost(t), newTestHost(t)
		web, other := a.counter(t), b.counter(t)
		dns := newDNSHost(t, ns, map[string]string{"pkg.test": a.addr, "evil.test": b.addr})
		run := []string{sandboxBin, "run", "--net", "sandbox", "--dns", dns.addr}
		job := append(py, fmt.Sprintf("tcp:pkg.test:%d", web.port()))
		file, r := learn(t, run, job...)
		wantLines(t, "the learn run", r.stdout, "connected")
		if want := fmt.Sprintf("  - allow: tcp pkg.test:%d  # "+exe+": 1 call", web.port()); !strings.Contains(policyText(t, file), want) {
			t.Errorf("learned policy lacks %q:\n%s", want, policyText(t, file))
		}
		under := append(append([]string{}, run...), "--policy", file, "--")
		again := runCmd(t, time.Minute, append(under, job...)...)
		wantLines(t, "the job under the learned policy", again.stdout, "connected")
		denied := runCmd(t, time.Minute, append(under, append(py, fmt.Sprintf("tcp:evil.test:%d", other.port()), fmt.Sprintf("tcp:%s:%d", a.addr, web.port()))...)...)
		wantLines(t, "other destinations", denied.stdout, "resolve: Name or service not known", "connect: Permission denied")
		if n := dns.count("evil.test"); n != 0 {
			t.Errorf("evil.test was asked upstream %d times under the learned policy", n)
		}
		expectNothingReached(t, other)
		if n := web.accepted.Load(); n != 2 {
			t.Errorf("pkg.test accepted %d connections, want 2 (learning, then the job again)", n)
		}
	})

	t.Run("none", func(t *testing.T) {
		job := append(py, "serve:8765", "serve:8766", "tcp:127.0.0.1:8765")
		file, r := learn(t, []string{sandboxBin, "run", "--net", "none"}, job...)
		wantLines(t, "the learn run", r.stdout, "serving", "serving", "connected", "accepted 8765 1", "accepted 8766 0")
		if want := "  - allow: tcp 127.0.0.1:8765  # " + exe + ": 1 call"; !strings.Contains(policyText(t, file), want) {
			t.Errorf("learned policy lacks %q:\n%s", want, policyText(t, file))
		}
		again := runCmd(t, time.Minute, sandboxedIn("none", file, append(py, "serve:8765", "serve:8766", "tcp:127.0.0.1:8765", "tcp:127.0.0.1:8766")...)...)
		wantLines(t, "the job and another port under the learned policy", again.stdout,
			"serving", "serving", "connected", "connect: Permission denied", "accepted 8765 1", "accepted 8766 0")
	})
}

// TestDenialSummary: when something was denied, one line on stderr says
// what, after the program's own output; nothing when nothing was, nor with
// --quiet; the log's records say the same (host, rule, verdict).
func TestDenialSummary(t *testing.T) {
	allowed, denied, pol := allowOne(t)
	py := []string{"/usr/bin/python3", "-c", learnClient, fmt.Sprintf("tcp:127.0.0.1:%d", denied.port()), fmt.Sprintf("tcp:127.0.0.1:%d", denied.port()), fmt.Sprintf("tcp:127.0.0.1:%d", allowed.port())}
	r := runCmd(t, time.Minute, sandboxed(pol, py...)...)
	want := fmt.Sprintf("sandbox: denied 2 calls: tcp 127.0.0.1:%d (×2); --log - shows each\n", denied.port())
	if r.stderr != want {
		t.Errorf("stderr %q, want %q", r.stderr, want)
	}
	r = runCmd(t, time.Minute, append([]string{sandboxBin, "run", "--net", "host", "--quiet", "--policy", pol, "--"}, py...)...)
	if r.stderr != "" {
		t.Errorf("--quiet: stderr %q, want nothing", r.stderr)
	}
	r = runCmd(t, time.Minute, sandboxed(pol, "/usr/bin/python3", "-c", learnClient, fmt.Sprintf("tcp:127.0.0.1:%d", allowed.port()))...)
	if r.stderr != "" {
		t.Errorf("nothing denied, yet stderr %q", r.stderr)
	}
	expectNothingReached(t, denied)
}
