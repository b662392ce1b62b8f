package test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// inEmptyNetns runs argv in a network namespace with nothing but lo, so
// that a test naming 198.18.0.1 cannot send a packet anywhere even if the
// sandbox failed to isolate the program.
func inEmptyNetns(argv ...string) []string {
	return append([]string{"unshare", "--net", "sh", "-c", `ip link set lo up && exec "$@"`, "sh"}, argv...)
}

// TestNetNoneIsolates: with --net none the program has a loopback of its
// own and nothing else: the host's loopback listener is out of reach
// (ECONNREFUSED, and it accepts nothing), other addresses are unreachable
// (ENETUNREACH where the policy allows them, the policy's errno where it
// does not), and the program's own loopback works.
func TestNetNoneIsolates(t *testing.T) {
	requireRoot(t)
	dial := buildC(t, "progs/dial.c")
	host := newCounter(t, "tcp4", "127.0.0.1:0")
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	none := func(policyFile string, prog ...string) []string {
		return append([]string{sandboxBin, "run", "--net", "none", "--policy", policyFile, "--"}, prog...)
	}
	r := runCmd(t, 30*time.Second, none(allowAll, dial, "block", "tcp", "127.0.0.1", fmt.Sprint(host.port()), "2")...)
	if strings.TrimSpace(r.stdout) != "ECONNREFUSED=2" {
		t.Errorf("host loopback from --net none: %q (%s), want ECONNREFUSED=2", r.stdout, r.stderr)
	}
	expectNothingReached(t, host)

	r = runCmd(t, 30*time.Second, inEmptyNetns(none(allowAll, dial, "nonblock", "tcp", "198.18.0.1", "9", "1")...)...)
	if strings.TrimSpace(r.stdout) != "ENETUNREACH=1" {
		t.Errorf("198.18.0.1 allowed, --net none: %q (%s), want ENETUNREACH=1", r.stdout, r.stderr)
	}
	denyAll := writePolicy(t, "version: 1\ndefault: deny\nerrno: EPERM\n")
	r = runCmd(t, 30*time.Second, inEmptyNetns(none(denyAll, dial, "block", "tcp", "198.18.0.1", "9", "1")...)...)
	if strings.TrimSpace(r.stdout) != "EPERM=1" {
		t.Errorf("198.18.0.1 denied, --net none: %q (%s), want EPERM=1", r.stdout, r.stderr)
	}
}

// TestNetNoneUnprivileged: an unprivileged user gets --net none too (a user
// namespace of its own, mapped to itself, with no capability left for the
// program), and its loopback works.
func TestNetNoneUnprivileged(t *testing.T) {
	requireRoot(t) // to become nobody
	dial := buildC(t, "progs/dial.c")
	host := newCounter(t, "tcp4", "127.0.0.1:0")
	nobody := append(setprivNobody, sandboxBin, "run", "--net", "none", "--")
	r := runCmd(t, 30*time.Second, append(nobody, dial, "block", "tcp", "127.0.0.1", fmt.Sprint(host.port()), "1")...)
	if strings.TrimSpace(r.stdout) != "ECONNREFUSED=1" {
		t.Errorf("as nobody, --net none: %q (status %d, %s), want ECONNREFUSED=1", r.stdout, r.status, r.stderr)
	}
	expectNothingReached(t, host)
	script := filepath.Join(workDir, "selfconnect.py")
	if err := os.WriteFile(script, []byte(`import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen()
socket.create_connection(s.getsockname()); print("loopback ok")
print(open("/proc/self/status").read().split("CapEff:")[1].split()[0])
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, 30*time.Second, append(nobody, "/usr/bin/python3", script)...)
	if r.stdout != "loopback ok\n0000000000000000\n" {
		t.Errorf("as nobody, --net none: %q (%s), want the loopback working and no capabilities", r.stdout, r.stderr)
	}
}
