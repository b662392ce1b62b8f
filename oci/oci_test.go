package oci

import (
	"encoding/json"
	"net"
	"os"
	"slices"
	"testing"

	"golang.org/x/sys/unix"

	"sandbox/seccomp"
)

// handOver sends msg with fds over a unix socket pair, as a runtime does,
// and returns what Receive makes of it.
func handOver(t *testing.T, msg []byte, fds ...int) (*Handoff, error) {
	t.Helper()
	pair, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(pair[0])
	var oob []byte
	if len(fds) > 0 {
		oob = unix.UnixRights(fds...)
	}
	if err := unix.Sendmsg(pair[0], msg, oob, nil, 0); err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(pair[1]), "agent end")
	defer f.Close()
	c, err := net.FileConn(f)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return Receive(c.(*net.UnixConn))
}

func TestReceive(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	state := `{"ociVersion":"1.0.2","fds":["seccompFd"],"pid":42,"metadata":"policy=pip","state":{"id":"c1","status":"creating","pid":42,"annotations":{"io.kubernetes.cri.sandbox-name":"web-0","io.kubernetes.cri.sandbox-namespace":"prod"}}}`
	h, err := handOver(t, []byte(state), int(r.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(h.SeccompFd)
	if h.State.ID != "c1" || h.Pid != 42 || h.PolicyName() != "pip" {
		t.Errorf("got id %q pid %d policy %q", h.State.ID, h.Pid, h.PolicyName())
	}
	if name, ns := h.State.Pod(); name != "web-0" || ns != "prod" {
		t.Errorf("pod %q/%q", ns, name)
	}
	// The fd received is the pipe's read end: what goes in comes out.
	w.Write([]byte("x"))
	buf := make([]byte, 1)
	if n, _ := unix.Read(h.SeccompFd, buf); n != 1 || buf[0] != 'x' {
		t.Errorf("the fd received is not the one sent")
	}

	for _, bad := range []struct {
		name, msg string
		fds       int
	}{
		{"no fd", `{"fds":["seccompFd"],"state":{"id":"c"}}`, 0},
		{"no seccompFd named", `{"fds":["other"],"state":{"id":"c"}}`, 1},
		{"not JSON", `{`, 1},
	} {
		var fds []int
		for range bad.fds {
			fds = append(fds, int(r.Fd()))
		}
		if _, err := handOver(t, []byte(bad.msg), fds...); err == nil {
			t.Errorf("%s: accepted", bad.name)
		}
	}
}

func TestPolicyNames(t *testing.T) {
	for name, want := range map[string]bool{"pip": true, "go-modules.v2": true, "a_b": true, "": false, ".hidden": false, "../etc/passwd": false, "a/b": false, "a b": false, "é": false} {
		if got := ValidPolicyName(name); got != want {
			t.Errorf("ValidPolicyName(%q) = %v", name, got)
		}
	}
	h := &Handoff{ProcessState: ProcessState{Metadata: "bare", State: State{Annotations: map[string]string{}}}}
	if h.PolicyName() != "bare" {
		t.Errorf("bare metadata: %q", h.PolicyName())
	}
	h.State.Annotations[PolicyAnnotation] = "annotated"
	if h.PolicyName() != "annotated" {
		t.Errorf("the annotation does not come first: %q", h.PolicyName())
	}
}

// Merge keeps the base's default, drops the base's allowance of a call
// the rules take whole, keeps it for one they take only in part, and keeps
// fields it does not know.
func TestMerge(t *testing.T) {
	base := `{"defaultAction":"SCMP_ACT_ERRNO","archMap":[1],"syscalls":[{"names":["connect","sendto","read"],"action":"SCMP_ACT_ALLOW"},{"names":["connect"],"action":"SCMP_ACT_ALLOW","comment":"only connect"}]}`
	rules := []seccomp.Rule{{Syscall: "connect"}, {Syscall: "sendto", When: []seccomp.Cond{{Arg: 4, Op: seccomp.NotEqual}}}}
	out, err := Merge([]byte(base), rules, "/run/a.sock", "policy=x")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		DefaultAction, ListenerPath, ListenerMetadata string
		ArchMap                                       []int
		Syscalls                                      []Syscall
	}
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	if m.DefaultAction != "SCMP_ACT_ERRNO" || m.ListenerPath != "/run/a.sock" || m.ListenerMetadata != "policy=x" || len(m.ArchMap) != 1 {
		t.Errorf("merged top level: %s", out)
	}
	var allowed []string
	notify := map[string]int{}
	for _, s := range m.Syscalls {
		if s.Action == actAllow {
			allowed = append(allowed, s.Names...)
		}
		if s.Action == actNotify {
			notify[s.Names[0]] = len(s.Args)
		}
	}
	slices.Sort(allowed)
	if !slices.Equal(allowed, []string{"read", "sendto"}) || notify["connect"] != 0 || notify["sendto"] != 1 {
		t.Errorf("allowed %v, notify %v:\n%s", allowed, notify, out)
	}
	if _, err := Merge([]byte(`{"syscalls":[]}`), rules, "/s", ""); err == nil {
		t.Error("a base without defaultAction was taken")
	}
}
