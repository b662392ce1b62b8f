package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pyConnect connects a unix stream socket to argv[1] and prints "ok" or the
// errno's name.
const pyConnect = `import errno, socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1].replace("\\0", "\0"))
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])`

// TestUnixPathsAsTheChildSeesThem: unix paths are decided by where they
// really lead, resolved from the program's cwd: a symlink in an allowed
// directory does not reach a socket in a denied one, a relative path
// resolves against the program's working directory, and abstract names meet
// their own rules. Each denied listener counts what it accepted: nothing.
func TestUnixPathsAsTheChildSeesThem(t *testing.T) {
	base := t.TempDir()
	allowedDir := filepath.Join(base, "allowed")
	deniedDir := filepath.Join(base, "denied")
	for _, d := range []string{allowedDir, deniedDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	allowed := newCounter(t, "unix", filepath.Join(allowedDir, "ok.sock"))
	denied := newCounter(t, "unix", filepath.Join(deniedDir, "secret.sock"))
	link := filepath.Join(allowedDir, "link.sock")
	if err := os.Symlink(filepath.Join(deniedDir, "secret.sock"), link); err != nil {
		t.Fatal(err)
	}
	abstractOK := fmt.Sprintf("sandbox-test-ok-%d", os.Getpid())
	abstractDenied := fmt.Sprintf("sandbox-test-denied-%d", os.Getpid())
	absAllowed := newCounter(t, "unix", "@"+abstractOK)
	absDenied := newCounter(t, "unix", "@"+abstractDenied)

	pol := writePolicy(t, fmt.Sprintf(`version: 1
default: deny
errno: EPERM
rules:
  - allow: unix %s/*
  - allow: unix @%s
`, allowedDir, abstractOK))

	cases := []struct {
		name, dir, target, want string
	}{
		{"allowed path", "/", filepath.Join(allowedDir, "ok.sock"), "ok"},
		{"denied path", "/", filepath.Join(deniedDir, "secret.sock"), "EPERM"},
		{"symlink from allowed dir to denied socket", "/", link, "EPERM"},
		{"relative path from the program's cwd", allowedDir, "ok.sock", "ok"},
		{"relative path with .. to a denied socket", allowedDir, "../denied/secret.sock", "EPERM"},
		{"missing path keeps ENOENT", "/", filepath.Join(allowedDir, "missing.sock"), "ENOENT"},
		{"allowed abstract", "/", `\0` + abstractOK, "ok"},
		{"denied abstract", "/", `\0` + abstractDenied, "EPERM"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			argv := sandboxed(pol, "sh", "-c", `cd "$1" && exec python3 -c "$2" "$3"`, "sh", c.dir, pyConnect, c.target)
			r := runCmd(t, time.Minute, argv...)
			if got := strings.TrimSpace(r.stdout); got != c.want {
				t.Errorf("connect %q from %s: got %q (stderr %q), want %q", c.target, c.dir, got, r.stderr, c.want)
			}
		})
	}
	expectNothingReached(t, denied, absDenied)
	if n := allowed.accepted.Load(); n != 2 {
		t.Errorf("allowed unix listener accepted %d connections, want 2", n)
	}
	if n := absAllowed.accepted.Load(); n != 1 {
		t.Errorf("allowed abstract listener accepted %d connections, want 1", n)
	}
}

// TestUnixPermissionsAreTheChilds: the supervisor (root) connects for a
// program that dropped to nobody with the program's credentials, so a
// socket only root may write stays closed to it, as natively.
func TestUnixPermissionsAreTheChilds(t *testing.T) {
	requireRoot(t)
	// A directory nobody may enter, so only the sockets' own modes decide.
	dir, err := os.MkdirTemp("", "sandbox-perm-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	rootOnly := filepath.Join(dir, "root-only.sock")
	open := filepath.Join(dir, "open.sock")
	c := newCounter(t, "unix", rootOnly)
	o := newCounter(t, "unix", open)
	if err := os.Chmod(rootOnly, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(open, 0o777); err != nil {
		t.Fatal(err)
	}
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	// setpriv drops to nobody inside the sandbox, as a daemon would; the
	// system python, since nobody cannot reach a per-user install.
	nobody := func(sock string) []string {
		return append(setprivNobody, "/usr/bin/python3", "-c", pyConnect, sock)
	}
	for _, tc := range []struct {
		argv []string
		want string
	}{
		{nobody(rootOnly), "EACCES"},
		{nobody(open), "ok"},
		{[]string{"/usr/bin/python3", "-c", pyConnect, rootOnly}, "ok"},
	} {
		native := runCmd(t, time.Minute, tc.argv...)
		sandbox := runCmd(t, time.Minute, sandboxed(allowAll, tc.argv...)...)
		if strings.TrimSpace(native.stdout) != tc.want || sandbox.stdout != native.stdout {
			t.Errorf("%q: native %q (%s), sandbox %q (%s); want %s both", tc.argv, native.stdout, native.stderr, sandbox.stdout, sandbox.stderr, tc.want)
		}
	}
	settle()
	if n := c.accepted.Load(); n != 2 {
		t.Errorf("the root-only socket accepted %d connections, want 2 (root's, natively and sandboxed)", n)
	}
	if n := o.accepted.Load(); n != 2 {
		t.Errorf("the open socket accepted %d connections, want 2", n)
	}
}

// TestUnixConnectInUserNamespace: run rootless — in a user namespace whose
// setgroups is "deny", as `unshare --map-root-user` and rootless containers
// make it — the sandbox still connects the program to an allowed unix path
// (it once failed closed: it tried to set the groups, which it cannot
// there, although they were the program's already). A denied path stays
// denied.
func TestUnixConnectInUserNamespace(t *testing.T) {
	requireRoot(t) // for unshare to make the namespace
	dir := t.TempDir()
	allowed := newCounter(t, "unix", filepath.Join(dir, "ok.sock"))
	denied := newCounter(t, "unix", filepath.Join(dir, "secret.sock"))
	// EPERM for a denial, so that a fail-closed answer (EACCES) shows.
	pol := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nerrno: EPERM\nrules:\n  - allow: unix %s\n", filepath.Join(dir, "ok.sock")))
	for _, c := range []struct{ target, want string }{
		{filepath.Join(dir, "ok.sock"), "ok"},
		{filepath.Join(dir, "secret.sock"), "EPERM"},
	} {
		argv := append([]string{"unshare", "--map-root-user"}, sandboxed(pol, "/usr/bin/python3", "-c", pyConnect, c.target)...)
		r := runCmd(t, time.Minute, argv...)
		if got := strings.TrimSpace(r.stdout); got != c.want {
			t.Errorf("connect %s in a user namespace: got %q (status %d, stderr %q), want %q", c.target, got, r.status, r.stderr, c.want)
		}
	}
	expectNothingReached(t, denied)
	if n := allowed.accepted.Load(); n != 1 {
		t.Errorf("allowed unix listener accepted %d connections, want 1", n)
	}
}
