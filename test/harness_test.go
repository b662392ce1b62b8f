// Package test holds the integration tests: the built sandbox binary runs
// real programs (C test programs, curl, python3, a Go client…) and each
// outcome is checked against a native run or on the listener's side.
//
// Every address used is on the loopback, or inside a network namespace the
// test made (198.18.0.0/15 only there).
package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var (
	sandboxBin string // the sandbox binary under test
	workDir    string // built helpers live here
)

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sandbox-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Open to all, so a test can run the sandbox as an unprivileged user.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	workDir = dir
	sandboxBin = filepath.Join(dir, "sandbox")
	build := exec.Command("go", "build", "-o", sandboxBin, "../cmd/sandbox")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sandbox:", err)
		return 1
	}
	return m.Run()
}

// requireRoot fails the test when it needs root and CI would have it; a
// developer without root gets a skip that says why.
func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() == 0 {
		return
	}
	if os.Getenv("CI") != "" {
		t.Fatal("this test needs root, and CI runs as root: something is wrong with the CI machine")
	}
	t.Skip("needs root (CI runs it as root)")
}

var buildMu sync.Mutex
var built = map[string]string{}

// buildC compiles test/<src> once per test run and returns the binary.
func buildC(t testing.TB, src string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[src]; ok {
		return bin
	}
	bin := filepath.Join(workDir, strings.TrimSuffix(filepath.Base(src), ".c"))
	out, err := exec.Command("gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-o", bin, src, "-lpthread").CombinedOutput()
	if err != nil {
		t.Fatalf("gcc %s: %v\n%s", src, err, out)
	}
	built[src] = bin
	return bin
}

// buildGo builds the Go program in test/<dir> once per test run.
func buildGo(t testing.TB, dir string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if bin, ok := built[dir]; ok {
		return bin
	}
	bin := filepath.Join(workDir, filepath.Base(dir))
	out, err := exec.Command("go", "build", "-o", bin, "./"+dir).CombinedOutput()
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", dir, err, out)
	}
	built[dir] = bin
	return bin
}

// writePolicy writes a policy file for one test.
func writePolicy(t testing.TB, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// setprivNobody runs the rest of the command line as nobody, with no
// supplementary group (and so no capability). Its capacity is its length:
// an append to it makes a slice of its own.
var setprivNobody = []string{"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}

// result is what a finished command left.
type result struct {
	stdout, stderr string
	status         int
}

// runCmd runs argv with a deadline and returns its output and exit status
// (128+N when signal N killed it).
func runCmd(t testing.TB, timeout time.Duration, argv ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%q did not finish within %v\nstdout:\n%s\nstderr:\n%s", argv, timeout, out.String(), errb.String())
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatalf("run %q: %v", argv, err)
		}
		if ws := ee.ProcessState.Sys().(syscall.WaitStatus); ws.Signaled() {
			r.status = 128 + int(ws.Signal())
		} else {
			r.status = ws.ExitStatus()
		}
	}
	return r
}

// sandboxed is the argv that runs prog under the sandbox in --net host with
// the policy file.
func sandboxed(policyFile string, prog ...string) []string {
	return sandboxedIn("host", policyFile, prog...)
}

// sandboxedIn is the command line that runs prog under the sandbox in
// network mode mode (host, sandbox or none); the sandbox's DNS, if any,
// asks a dead resolver.
func sandboxedIn(mode, policyFile string, prog ...string) []string {
	if mode == "sandbox" {
		return inSandboxMode(policyFile, prog...)
	}
	argv := []string{sandboxBin, "run", "--net", mode}
	if policyFile != "" {
		argv = append(argv, "--policy", policyFile)
	}
	return append(append(argv, "--"), prog...)
}

// counter is a loopback TCP listener that counts the connections it accepts
// and the bytes it receives, so a test can prove a denied destination got
// nothing.
type counter struct {
	ln       net.Listener
	accepted atomic.Int64
	bytes    atomic.Int64
	wg       sync.WaitGroup
}

func newCounter(t testing.TB, network, addr string) *counter {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	return startCounter(t, ln)
}

// startCounter counts what ln accepts and receives, until the test ends.
func startCounter(t testing.TB, ln net.Listener) *counter {
	c := &counter{ln: ln}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			c.accepted.Add(1)
			c.wg.Add(1)
			go func() {
				defer c.wg.Done()
				defer conn.Close()
				buf := make([]byte, 4096)
				for {
					conn.SetReadDeadline(time.Now().Add(2 * time.Second))
					n, err := conn.Read(buf)
					c.bytes.Add(int64(n))
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(c.close)
	return c
}

func (c *counter) port() int { return c.ln.Addr().(*net.TCPAddr).Port }

func (c *counter) close() {
	c.ln.Close()
	c.wg.Wait()
}

// settle gives in-flight accepts a moment to land before a count is read.
func settle() { time.Sleep(100 * time.Millisecond); runtime.Gosched() }

// allowOne makes an allowed and a denied loopback listener and a policy
// file that allows the first and nothing else (default deny, EACCES).
func allowOne(t testing.TB) (allowed, denied *counter, policyFile string) {
	t.Helper()
	allowed = newCounter(t, "tcp4", "127.0.0.1:0")
	denied = newCounter(t, "tcp4", "127.0.0.1:0")
	policyFile = writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", allowed.port()))
	return allowed, denied, policyFile
}

// expectNothingReached fails the test if a denied listener accepted any
// connection: the proof, on the listener's side, that a denial held.
func expectNothingReached(t testing.TB, denied ...*counter) {
	t.Helper()
	settle()
	for _, c := range denied {
		if n := c.accepted.Load(); n != 0 {
			t.Errorf("denied listener %v accepted %d connections; it must receive nothing", c.ln.Addr(), n)
		}
	}
}

// serve runs handle on every connection ln accepts (closing it after),
// until ln is closed.
func serve(ln net.Listener, handle func(net.Conn)) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
}
