package test

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// serveHTTP serves dir on a loopback port for the length of the test.
func serveHTTP(t *testing.T, dir string) int {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

// gitRepo makes a bare repository with one commit that dumb HTTP can serve.
func gitRepo(t *testing.T, root string) {
	t.Helper()
	work := filepath.Join(t.TempDir(), "work")
	git := func(dir string, args ...string) {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@t", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@t")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	git(work, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(work, "f"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(work, "add", "f")
	git(work, "commit", "-q", "-m", "c")
	git(root, "clone", "-q", "--bare", work, "repo.git")
	git(filepath.Join(root, "repo.git"), "update-server-info")
}

// TestRealClients: curl, wget, python3, git and a Go client work unchanged
// against an allowed local server, and against a denied one fail with the
// policy's errno in their own words, the denied server receiving nothing.
func TestRealClients(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "index.html"), []byte("hello sandbox\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	gitRepo(t, root)
	port := serveHTTP(t, root)
	denied := newCounter(t, "tcp4", "127.0.0.1:0")
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nerrno: EACCES\nrules:\n  - allow: tcp 127.0.0.1:%d\n", port))
	goclient := buildGo(t, "goclient")

	allowedURL := fmt.Sprintf("http://127.0.0.1:%d/", port)
	deniedURL := fmt.Sprintf("http://127.0.0.1:%d/", denied.port())
	pyGet := "import sys, urllib.request; print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode(), end='')"
	clients := []struct {
		name       string
		argv       func(url string) []string
		wantOK     string // in stdout when allowed
		wantDenied string // in stdout+stderr when denied
	}{
		{"curl", func(u string) []string { return []string{"curl", "-sSv", "--max-time", "10", u} }, "hello sandbox", "Permission denied"},
		{"wget", func(u string) []string { return []string{"wget", "-q", "-O", "-", "--tries=1", "--timeout=10", u} }, "hello sandbox", ""},
		{"python3", func(u string) []string { return []string{"python3", "-c", pyGet, u} }, "hello sandbox", "[Errno 13] Permission denied"},
		{"git", func(u string) []string { return []string{"git", "ls-remote", u + "repo.git"} }, "refs/heads/main", "Failed to connect"},
		{"go", func(u string) []string { return []string{goclient, u, "50"} }, "ok=50", "connect: permission denied"},
	}
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			if _, err := exec.LookPath(c.argv("")[0]); err != nil {
				t.Fatalf("%s is not installed: .ci/run installs it", c.name)
			}
			r := runCmd(t, time.Minute, sandboxed(pol, c.argv(allowedURL)...)...)
			if r.status != 0 || !strings.Contains(r.stdout, c.wantOK) {
				t.Errorf("allowed: status %d, stdout %q, stderr %q; want %q", r.status, r.stdout, r.stderr, c.wantOK)
			}
			r = runCmd(t, time.Minute, sandboxed(pol, c.argv(deniedURL)...)...)
			if r.status == 0 {
				t.Errorf("denied: %s succeeded: %q", c.name, r.stdout)
			}
			if out := r.stdout + r.stderr; c.wantDenied != "" && !strings.Contains(out, c.wantDenied) {
				t.Errorf("denied: output %q does not say %q", out, c.wantDenied)
			}
		})
	}
	expectNothingReached(t, denied)
}
