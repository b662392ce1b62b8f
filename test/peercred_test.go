package test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// peerView is what a unix server learns of its peer: SO_PEERCRED, and the
// status of the process that pid names, read while the peer is connected.
type peerView struct {
	cred   *unix.Ucred
	status string // "" when no such process
}

// viewPeer reads c's peer's credentials and its process's status.
func viewPeer(c *net.UnixConn) (peerView, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return peerView{}, err
	}
	var v peerView
	var cerr error
	raw.Control(func(fd uintptr) { v.cred, cerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED) })
	if cerr != nil {
		return peerView{}, cerr
	}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", v.cred.Pid)); err == nil {
		v.status = string(b)
	}
	return v, nil
}

// peerIsNobody checks what a unix peer read of its partner: uid 65534, and
// a pid that was either gone or a process running as 65534 — never the
// supervisor (root, every capability), whose pid a daemon that looks the
// peer up (polkit, systemd's sd-bus) would otherwise judge.
func peerIsNobody(t *testing.T, what string, v peerView) {
	t.Helper()
	if v.cred.Uid != 65534 {
		t.Errorf("%s: the peer's uid is %d, want 65534 (nobody)", what, v.cred.Uid)
	}
	for _, line := range strings.Split(v.status, "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == "Uid:" && f[2] != "65534" {
			t.Errorf("%s: the peer's pid %d is a process with effective uid %s, want 65534 or no process", what, v.cred.Pid, f[2])
		}
	}
}

// pyConnectAndWait connects a unix stream socket to argv[1] ("\\0" for
// an abstract name's NUL), prints "ok" and waits for the server's byte, so
// that the sandbox is still running while the server looks at its peer.
const pyConnectAndWait = `import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1].replace("\\0", "\0"))
print("ok", flush=True)
s.recv(1)`

// TestPeerCredentialsAreTheProgramsOwn: the supervisor (root) makes a unix
// connect for a program running as nobody, to a socket file and to an
// abstract name; the server must see nobody in SO_PEERCRED — uid and pid —
// as it would natively.
func TestPeerCredentialsAreTheProgramsOwn(t *testing.T) {
	requireRoot(t)
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	path := filepath.Join(workDir, "peercred.sock")
	os.Remove(path)
	abstract := fmt.Sprintf("sandbox-peercred-%d", os.Getpid())
	for _, tc := range []struct{ name, listen, dial string }{
		{"path", path, path},
		{"abstract", "@" + abstract, `\0` + abstract},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("unix", tc.listen)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ln.Close() })
			if tc.name == "path" {
				if err := os.Chmod(path, 0o777); err != nil {
					t.Fatal(err)
				}
			}
			views := make(chan peerView, 1)
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				if v, err := viewPeer(c.(*net.UnixConn)); err == nil {
					views <- v
				}
				c.Write([]byte{0})
			}()
			r := runCmd(t, 30*time.Second, sandboxed(allowAll, append(setprivNobody, "/usr/bin/python3", "-c", pyConnectAndWait, tc.dial)...)...)
			if r.stdout != "ok\n" {
				t.Fatalf("connect as nobody: %q (status %d, %s)", r.stdout, r.status, r.stderr)
			}
			select {
			case v := <-views:
				peerIsNobody(t, "connect to "+tc.listen, v)
			case <-time.After(5 * time.Second):
				t.Fatal("the server accepted nothing")
			}
		})
	}
}

// TestPeerCredentialsOfAListener: a program running as nobody listens on
// a unix socket (in --net host the supervisor makes the listen); a client
// reads the listener's credentials — nobody's, not the supervisor's.
func TestPeerCredentialsOfAListener(t *testing.T) {
	requireRoot(t)
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	dir := filepath.Join(workDir, "peercred-listen")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777)
	path := filepath.Join(dir, "server.sock")
	os.Remove(path)
	script := `import socket, sys
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1])
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.recv(1)`
	cmd := exec.Command(sandboxBin, append([]string{"run", "--net", "host", "--policy", allowAll, "--"}, append(setprivNobody, "/usr/bin/python3", "-c", script, path)...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("the listener did not start: %q, %v", line, err)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	v, err := viewPeer(c.(*net.UnixConn))
	if err != nil {
		t.Fatal(err)
	}
	peerIsNobody(t, "the listener", v)
	c.Write([]byte{0})
}
