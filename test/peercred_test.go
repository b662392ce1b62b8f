package test

import (
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestPeerCredentialsAreTheProgramsOwn: the supervisor (root) makes a unix
// connect for a program running as nobody; the server must see nobody in
// SO_PEERCRED, as it would natively — not root, which would let the program
// pass for root to any daemon that authorises by peer credentials.
func TestPeerCredentialsAreTheProgramsOwn(t *testing.T) {
	requireRoot(t)
	path := filepath.Join(workDir, "peercred.sock")
	os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	if err := os.Chmod(path, 0o777); err != nil {
		t.Fatal(err)
	}
	uids := make(chan int, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		raw, _ := c.(*net.UnixConn).SyscallConn()
		raw.Control(func(fd uintptr) {
			if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
				uids <- int(cred.Uid)
			}
		})
	}()
	allowAll := filepath.Join(workDir, "peercred.yaml")
	if err := os.WriteFile(allowAll, []byte("version: 1\ndefault: allow\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCmd(t, 30*time.Second, sandboxed(allowAll, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", pyConnect, path)...)
	if r.stdout != "ok\n" {
		t.Fatalf("connect as nobody: %q (status %d, %s)", r.stdout, r.status, r.stderr)
	}
	select {
	case uid := <-uids:
		if uid != 65534 {
			t.Errorf("the server saw uid %d, want 65534 (nobody)", uid)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server accepted nothing")
	}
}
