package test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The OCI agent under runc: bundles are built here — a rootfs directory
// holding static test programs, no image, no registry — and run with a
// seccomp profile from `sandbox oci-profile` that hands each container's
// listener to a `sandbox agent` the test started.

// containerRootfs is a rootfs of static programs: /dial, /dialloop,
// /connect (the connect(2) conformance program).
func containerRootfs(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "rootfs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"progs/dial.c", "progs/dialloop.c", "conformance/connect.c"} {
		out, err := exec.Command("gcc", "-static", "-O2", "-Wall", "-Werror", "-o", filepath.Join(dir, strings.TrimSuffix(filepath.Base(p), ".c")), p, "-lpthread").CombinedOutput()
		if err != nil {
			t.Fatalf("gcc -static %s: %v\n%s", p, err, out)
		}
	}
	return dir
}

// testAgent is a `sandbox agent` of the test's own.
type testAgent struct {
	socket, log string
	cmd         *exec.Cmd
	stderr      *lockedBuffer
}

// lockedBuffer collects a process's output for a test to read as it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startAgent starts an agent with flags; it is stopped when the test ends.
func startAgent(t *testing.T, flags ...string) *testAgent {
	t.Helper()
	dir := t.TempDir()
	a := &testAgent{socket: filepath.Join(dir, "agent.sock"), log: filepath.Join(dir, "audit.jsonl"), stderr: &lockedBuffer{}}
	a.cmd = exec.Command(sandboxBin, append([]string{"agent", "--socket", a.socket, "--log", a.log}, flags...)...)
	a.cmd.Stderr = a.stderr
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		a.cmd.Process.Signal(syscall.SIGTERM)
		a.cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if strings.Contains(a.stderr.String(), "serving on") {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("the agent did not start: %s", a.stderr.String())
		}
	}
}

// profile is `sandbox oci-profile` for the agent, as JSON.
func (a *testAgent) profile(t *testing.T, extra ...string) json.RawMessage {
	t.Helper()
	r := runCmd(t, 10*time.Second, append([]string{sandboxBin, "oci-profile", "--socket", a.socket}, extra...)...)
	if r.status != 0 || !json.Valid([]byte(r.stdout)) {
		t.Fatalf("oci-profile: status %d: %s%s", r.status, r.stdout, r.stderr)
	}
	return json.RawMessage(r.stdout)
}

// container says how runContainer runs one.
type container struct {
	args        []string
	tmp         bool   // a tmpfs on /tmp (the rootfs is read-only)
	netns       string // "": the host's network; else a namespace's path
	annotations map[string]string
	seccomp     json.RawMessage
}

var containerSeq int
var containerSeqMu sync.Mutex

// bundle writes an OCI bundle for c over rootfs and returns its directory
// and a container id of its own.
func bundle(t *testing.T, rootfs string, c container) (dir, id string) {
	t.Helper()
	containerSeqMu.Lock()
	containerSeq++
	id = fmt.Sprintf("sbx-%d-%d", os.Getpid(), containerSeq)
	containerSeqMu.Unlock()
	dir = filepath.Join(t.TempDir(), id)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("runc", "spec", "--bundle", dir).CombinedOutput(); err != nil {
		t.Fatalf("runc spec: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "config.json")
	var cfg map[string]any
	data, err := os.ReadFile(path)
	if err == nil {
		err = json.Unmarshal(data, &cfg)
	}
	if err != nil {
		t.Fatal(err)
	}
	proc := cfg["process"].(map[string]any)
	proc["args"], proc["terminal"] = c.args, false
	cfg["root"] = map[string]any{"path": rootfs, "readonly": true}
	linux := cfg["linux"].(map[string]any)
	var nss []any
	for _, ns := range linux["namespaces"].([]any) {
		if ns.(map[string]any)["type"] == "network" {
			continue
		}
		nss = append(nss, ns)
	}
	if c.netns != "" {
		nss = append(nss, map[string]any{"type": "network", "path": c.netns})
	}
	linux["namespaces"] = nss
	if c.seccomp != nil {
		linux["seccomp"] = c.seccomp
	}
	if c.tmp {
		cfg["mounts"] = append(cfg["mounts"].([]any), map[string]any{"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "nodev", "mode=1777"}})
	}
	if c.annotations != nil {
		cfg["annotations"] = c.annotations
	}
	if data, err = json.MarshalIndent(cfg, "", " "); err == nil {
		err = os.WriteFile(path, data, 0o644)
	}
	if err != nil {
		t.Fatal(err)
	}
	return dir, id
}

// runContainer runs c to its end under runc and returns what it printed.
func runContainer(t *testing.T, rootfs string, c container) result {
	t.Helper()
	dir, id := bundle(t, rootfs, c)
	t.Cleanup(func() { exec.Command("runc", "delete", "--force", id).Run() })
	return runCmd(t, time.Minute, "runc", "run", "--bundle", dir, id)
}

// containerLines runs c under runc and returns the lines it printed,
// calling at(n) as the nth line arrives: the test changes the world
// between two of the container's calls.
func containerLines(t *testing.T, rootfs string, c container, at func(n int)) []string {
	t.Helper()
	dir, id := bundle(t, rootfs, c)
	t.Cleanup(func() { exec.Command("runc", "delete", "--force", id).Run() })
	cmd := exec.Command("runc", "run", "--bundle", dir, id)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for sc := bufio.NewScanner(out); sc.Scan(); {
		got = append(got, sc.Text())
		at(len(got))
	}
	cmd.Wait()
	return got
}

// TestAgentServesContainers: containers whose profile names the agent have
// their connects judged by the agent's policy — in the host's network and
// in a network namespace of their own, where the agent connects in the
// container's namespace — or by the policy their annotation names; a name
// that is not a plain policy name, or names none, fails closed. Every
// denied listener counts zero, every record names its container.
func TestAgentServesContainers(t *testing.T) {
	requireRoot(t)
	rootfs := containerRootfs(t)
	allowed, denied := newCounter(t, "tcp4", "127.0.0.1:0"), newCounter(t, "tcp4", "127.0.0.1:0")
	own := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", allowed.port()))
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "both.yaml"), []byte(fmt.Sprintf("version: 1\ndefault: deny\nerrno: ECONNREFUSED\nrules:\n  - allow: tcp 127.0.0.1:%d\n", denied.port())), 0o644); err != nil {
		t.Fatal(err)
	}
	agent := startAgent(t, "--policy", own, "--policy-dir", dir)
	prof := agent.profile(t)
	dial := func(port int) []string { return []string{"/dial", "block", "tcp", "127.0.0.1", fmt.Sprint(port), "2"} }

	check := func(what string, r result, want string) {
		t.Helper()
		if got := strings.TrimSpace(r.stdout); r.status != 0 || got != want {
			t.Errorf("%s: status %d, printed %q (%s), want %q", what, r.status, got, r.stderr, want)
		}
	}
	check("allowed", runContainer(t, rootfs, container{args: dial(allowed.port()), seccomp: prof}), "ok=2")
	check("denied", runContainer(t, rootfs, container{args: dial(denied.port()), seccomp: prof}), "EACCES=2")
	// By annotation: both.yaml allows the other listener only.
	byName := map[string]string{"sandbox.policy": "both"}
	check("annotation: allowed there", runContainer(t, rootfs, container{args: dial(denied.port()), seccomp: prof, annotations: byName}), "ok=2")
	check("annotation: denied there", runContainer(t, rootfs, container{args: dial(allowed.port()), seccomp: prof, annotations: byName}), "ECONNREFUSED=2")
	// By the profile's metadata.
	check("metadata", runContainer(t, rootfs, container{args: dial(denied.port()), seccomp: agent.profile(t, "--metadata", "policy=both")}), "ok=2")
	// Fail closed: a path, a name with no file.
	for _, name := range []string{"../both", "nosuch"} {
		check("policy "+name, runContainer(t, rootfs, container{args: dial(allowed.port()), seccomp: prof, annotations: map[string]string{"sandbox.policy": name}}), "EACCES=2")
		if !strings.Contains(agent.stderr.String(), fmt.Sprintf("policy %q", name)) {
			t.Errorf("the agent's log does not say why policy %q failed closed:\n%s", name, agent.stderr.String())
		}
	}
	if n := allowed.accepted.Load(); n != 2 {
		t.Errorf("the allowed listener accepted %d connections, want 2", n)
	}
	if n := denied.accepted.Load(); n != 4 {
		t.Errorf("the listener both.yaml allows accepted %d connections, want 4 (and none from the agent's own policy)", n)
	}

	// A container in a network namespace of its own (a test host's): the
	// agent makes the connect there, so 127.0.0.1 is that namespace's
	// loopback, whose listener counts it, not the host's.
	h := newTestHost(t)
	inner := startCounter(t, h.listen(t, "tcp4", "127.0.0.1:0"))
	innerPolicy := fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", inner.port())
	if err := os.WriteFile(filepath.Join(dir, "inner.yaml"), []byte(innerPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	netns := "/run/netns/" + h.name
	check("own namespace", runContainer(t, rootfs, container{args: dial(inner.port()), netns: netns, seccomp: prof, annotations: map[string]string{"sandbox.policy": "inner"}}), "ok=2")
	if n := inner.accepted.Load(); n != 2 {
		t.Errorf("the container's own loopback listener accepted %d connections, want 2", n)
	}
	check("own namespace, denied", runContainer(t, rootfs, container{args: dial(allowed.port()), netns: netns, seccomp: prof, annotations: map[string]string{"sandbox.policy": "inner"}}), "EACCES=2")

	// Every record names its container.
	data, err := os.ReadFile(agent.log)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 18 {
		t.Errorf("%d records, want one per connect (18)", len(lines))
	}
	for _, line := range lines {
		var r struct{ Container, Verdict string }
		if err := json.Unmarshal([]byte(line), &r); err != nil || !strings.HasPrefix(r.Container, "sbx-") {
			t.Errorf("record without its container: %s", line)
		}
	}
}

// TestAgentManyContainers: one agent serves many containers at once, each
// under its policy, none lost or stuck; its state is freed as they end.
func TestAgentManyContainers(t *testing.T) {
	requireRoot(t)
	rootfs := containerRootfs(t)
	allowed, denied := newCounter(t, "tcp4", "127.0.0.1:0"), newCounter(t, "tcp4", "127.0.0.1:0")
	own := writePolicy(t, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", allowed.port()))
	agent := startAgent(t, "--policy", own)
	prof := agent.profile(t)
	const n = 50 // at once, on 2 cores: each runc start is ~25 ms of CPU
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			port := allowed.port()
			if i%2 == 1 {
				port = denied.port()
			}
			results[i] = runContainer(t, rootfs, container{args: []string{"/dial", "block", "tcp", "127.0.0.1", fmt.Sprint(port), "5"}, seccomp: prof})
		}()
	}
	wg.Wait()
	for i, r := range results {
		want := "ok=5"
		if i%2 == 1 {
			want = "EACCES=5"
		}
		if got := strings.TrimSpace(r.stdout); got != want {
			t.Errorf("container %d: %q (%s), want %q", i, got, r.stderr, want)
		}
	}
	if got := allowed.accepted.Load(); got != 5*n/2 {
		t.Errorf("the allowed listener accepted %d, want %d", got, 5*n/2)
	}
	expectNothingReached(t, denied)
	for deadline := time.Now().Add(10 * time.Second); strings.Count(agent.stderr.String(), ": ended") < n; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the agent saw %d of %d containers end:\n%s", strings.Count(agent.stderr.String(), ": ended"), n, agent.stderr.String())
		}
	}
	// What the agent holds once they have: for the record (memory is
	// measured, not asserted: the machines are noisy).
	if status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", agent.cmd.Process.Pid)); err == nil {
		for _, l := range strings.Split(string(status), "\n") {
			if strings.HasPrefix(l, "VmRSS") || strings.HasPrefix(l, "Threads") {
				t.Logf("agent after %d containers: %s", n, strings.Join(strings.Fields(l), " "))
			}
		}
	}
}

// TestAgentKilledMidRun: when the agent dies, a container's trapped calls
// fail (ENOSYS: the kernel's answer once no listener is left) — closed,
// never open: the denied listener still counts zero.
func TestAgentKilledMidRun(t *testing.T) {
	requireRoot(t)
	rootfs := containerRootfs(t)
	denied := newCounter(t, "tcp4", "127.0.0.1:0")
	agent := startAgent(t, "--policy", writePolicy(t, "version: 1\ndefault: deny\n"))
	got := containerLines(t, rootfs, container{args: []string{"/dialloop", "127.0.0.1", fmt.Sprint(denied.port()), "30", "50"}, seccomp: agent.profile(t)}, func(n int) {
		if n == 5 {
			agent.cmd.Process.Kill()
			agent.cmd.Wait()
		}
	})
	if len(got) != 30 {
		t.Fatalf("the container printed %d lines, want 30: %q", len(got), got)
	}
	for i, l := range got {
		switch {
		case i < 5 && l != "EACCES":
			t.Errorf("attempt %d with the agent: %s, want EACCES", i, l)
		case i >= 10 && l != "ENOSYS":
			// A few in between may still meet the dying agent.
			t.Errorf("attempt %d after the agent died: %s, want ENOSYS", i, l)
		}
	}
	expectNothingReached(t, denied)
}

// TestOCIProfile: the profile traps what `sandbox run` traps; merged into a
// base that allows by list (as Docker's does), the calls the agent takes
// whole leave the base's list, the rest stay — and runc runs a container
// with it, served by the agent.
func TestOCIProfile(t *testing.T) {
	requireRoot(t)
	agent := startAgent(t)
	var p struct {
		DefaultAction, ListenerPath string
		Architectures               []string
		Syscalls                    []struct {
			Names  []string
			Action string
		}
	}
	if err := json.Unmarshal(agent.profile(t), &p); err != nil {
		t.Fatal(err)
	}
	actions := map[string]string{}
	for _, s := range p.Syscalls {
		for _, n := range s.Names {
			actions[n] = s.Action
		}
	}
	for name, want := range map[string]string{"connect": "SCMP_ACT_NOTIFY", "sendmsg": "SCMP_ACT_NOTIFY", "sendto": "SCMP_ACT_NOTIFY", "bind": "SCMP_ACT_NOTIFY", "io_uring_setup": "SCMP_ACT_ERRNO", "ptrace": "SCMP_ACT_ERRNO"} {
		if actions[name] != want {
			t.Errorf("%s: %q, want %s", name, actions[name], want)
		}
	}
	if p.DefaultAction != "SCMP_ACT_ALLOW" || p.ListenerPath != agent.socket || strings.Join(p.Architectures, ",") != "SCMP_ARCH_X86_64" {
		t.Errorf("defaultAction %s, listenerPath %s, architectures %v", p.DefaultAction, p.ListenerPath, p.Architectures)
	}

	// A base in Docker's form: deny by default, allow a list.
	base := filepath.Join(t.TempDir(), "base.json")
	allowList := []string{"connect", "socket", "sendto", "write", "close", "exit_group", "execve", "brk", "arch_prctl", "set_tid_address", "set_robust_list", "rseq", "prlimit64", "mprotect", "readlinkat", "getrandom", "newfstatat", "fstat", "futex", "nanosleep", "clock_nanosleep", "exit", "rt_sigreturn", "rt_sigprocmask", "rt_sigaction", "read", "mmap", "munmap", "uname", "access", "openat", "ioctl", "fcntl", "getpid", "capget", "capset", "prctl", "setgroups", "setresuid", "setresgid", "getppid", "chdir", "fchdir", "getcwd", "statfs", "fstatfs", "stat", "lstat", "dup3", "pipe2", "epoll_ctl", "epoll_pwait", "sched_getaffinity", "sched_yield", "tgkill", "getdents64", "umask", "keyctl", "setns", "unshare", "mount", "pivot_root", "umount2", "sethostname", "setsid", "setuid", "setgid", "lseek", "madvise", "clone", "clone3", "wait4", "waitid", "write", "writev", "mknodat", "symlinkat", "fchown", "fchmod", "fchownat", "fchmodat", "mkdirat", "unlinkat", "faccessat2", "close_range", "statx", "seccomp", "fstatat", "poll", "ppoll", "select", "pselect6", "getuid", "getgid", "geteuid", "getegid", "gettid", "sigaltstack", "personality", "dup", "dup2", "sysinfo"}
	data, _ := json.Marshal(map[string]any{
		"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": []string{"SCMP_ARCH_X86_64"},
		"syscalls": []any{map[string]any{"names": allowList, "action": "SCMP_ACT_ALLOW"}},
	})
	if err := os.WriteFile(base, data, 0o644); err != nil {
		t.Fatal(err)
	}
	merged := agent.profile(t, "--base", base)
	var m struct {
		DefaultAction string
		Syscalls      []struct {
			Names  []string
			Action string
		}
	}
	if err := json.Unmarshal(merged, &m); err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	for _, s := range m.Syscalls {
		if s.Action == "SCMP_ACT_ALLOW" {
			for _, n := range s.Names {
				allowed[n] = true
			}
		}
	}
	if m.DefaultAction != "SCMP_ACT_ERRNO" || allowed["connect"] || !allowed["socket"] || !allowed["sendto"] || !allowed["write"] {
		t.Errorf("merged: default %s, allowed connect %v socket %v sendto %v write %v", m.DefaultAction, allowed["connect"], allowed["socket"], allowed["sendto"], allowed["write"])
	}
	counter := newCounter(t, "tcp4", "127.0.0.1:0")
	rootfs := containerRootfs(t)
	r := runContainer(t, rootfs, container{args: []string{"/dial", "block", "tcp", "127.0.0.1", fmt.Sprint(counter.port()), "1"}, seccomp: merged})
	// The agent runs the embedded default policy: the loopback is allowed.
	if got := strings.TrimSpace(r.stdout); got != "ok=1" {
		t.Errorf("a container under the merged profile printed %q (%s), want ok=1", got, r.stderr)
	}
	if n := counter.accepted.Load(); n != 1 {
		t.Errorf("its listener accepted %d, want 1", n)
	}
}

// TestAgentReload: SIGHUP reads the policies again, and a running
// container's next calls meet the new version; a file that no longer
// parses keeps the old one, and the log says why.
func TestAgentReload(t *testing.T) {
	requireRoot(t)
	rootfs := containerRootfs(t)
	target := newCounter(t, "tcp4", "127.0.0.1:0")
	dir := t.TempDir()
	file := filepath.Join(dir, "p.yaml")
	write := func(text string) {
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("version: 1\ndefault: deny\n")
	agent := startAgent(t, "--policy-dir", dir)
	got := containerLines(t, rootfs, container{args: []string{"/dialloop", "127.0.0.1", fmt.Sprint(target.port()), "60", "50"}, seccomp: agent.profile(t), annotations: map[string]string{"sandbox.policy": "p"}}, func(n int) {
		switch n {
		case 5:
			write(fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:%d\n", target.port()))
			agent.cmd.Process.Signal(syscall.SIGHUP)
		case 30:
			write("version: 1\nrules: [oops\n") // broken: the allowing version stays
			agent.cmd.Process.Signal(syscall.SIGHUP)
		}
	})
	joined := strings.Join(got, " ")
	// Denied at first, allowed from some attempt after the first reload
	// on, and still at the end.
	if len(got) != 60 || got[0] != "EACCES" || got[4] != "EACCES" || got[25] != "ok" || got[59] != "ok" {
		t.Errorf("attempts: %s", joined)
	}
	if !strings.Contains(agent.stderr.String(), `reload: policy "p" keeps its old version`) {
		t.Errorf("the agent's log does not say the broken file was kept out:\n%s", agent.stderr.String())
	}
}

// TestAgentConnectConformance: the connect(2) conformance program in a
// container served by the agent (allowing all) prints what it prints in
// the same container without the agent — in network namespaces built
// alike (netnsSetup), the container's capabilities and all.
func TestAgentConnectConformance(t *testing.T) {
	requireRoot(t)
	rootfs := containerRootfs(t)
	agent := startAgent(t, "--policy", writePolicy(t, "version: 1\ndefault: allow\n"))
	run := func(seccomp json.RawMessage) (map[string]string, []string) {
		h := newNetns(t)
		r := runContainer(t, rootfs, container{args: []string{"/connect"}, netns: "/run/netns/" + h, seccomp: seccomp, tmp: true})
		if r.status != 0 {
			t.Fatalf("connect in a container: status %d\n%s%s", r.status, r.stdout, r.stderr)
		}
		return caseLines(t, r.stdout)
	}
	native, order := run(nil)
	if len(order) < 100 {
		t.Fatalf("only %d cases ran; the program lost its cases", len(order))
	}
	served, sorder := run(agent.profile(t))
	if strings.Join(order, ",") != strings.Join(sorder, ",") {
		t.Fatalf("the served run printed other cases:\nwithout: %v\nwith:    %v", order, sorder)
	}
	for _, name := range order {
		if native[name] != served[name] {
			t.Errorf("%s: without the agent %q, with it %q", name, native[name], served[name])
		}
	}
}

// newNetns makes a named network namespace set up as netnsSetup does (lo;
// a veth pair inside; a route for the limited broadcast), removed when the
// test ends, and returns its name.
func newNetns(t *testing.T) string {
	t.Helper()
	containerSeqMu.Lock()
	containerSeq++
	name := fmt.Sprintf("sbxct%d-%d", os.Getpid()%100000, containerSeq)
	containerSeqMu.Unlock()
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v\n%s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	if out, err := exec.Command("ip", "netns", "exec", name, "sh", "-c", netnsSetup, "sh", "true").CombinedOutput(); err != nil {
		t.Fatalf("set up %s: %v\n%s", name, err, out)
	}
	return name
}

// TestRuncAgentExample runs examples/runc-agent.sh as README tells a user
// to: the container reaches the server its policy allows and is refused
// the other, and the agent's records name the container.
func TestRuncAgentExample(t *testing.T) {
	requireRoot(t)
	r := runCmd(t, 2*time.Minute, "sh", "../examples/runc-agent.sh", sandboxBin)
	for _, want := range []string{
		"127.0.0.1:8781: connected\n",
		"127.0.0.1:8782: Permission denied\n",
		`"dest":"127.0.0.1:8782","verdict":"deny"`,
		`"container":"sandbox-example"`,
	} {
		if r.status != 0 || !strings.Contains(r.stdout, want) {
			t.Errorf("examples/runc-agent.sh: status %d, want %q in:\n%s%s", r.status, want, r.stdout, r.stderr)
		}
	}
}
