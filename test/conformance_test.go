package test

import (
	"strings"
	"testing"
	"time"
)

// netnsSetup makes the conformance program's network: lo, and a veth pair
// whose both ends stay in the namespace, carrying only a route for the
// limited broadcast address (so a UDP connect to it meets EACCES rather
// than ENETUNREACH). 198.18.0.1 has no route at all. Nothing the cases do
// can leave the machine, with the sandbox or without.
const netnsSetup = `ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip route add 255.255.255.255/32 dev v0 && exec "$@"`

// inNetns runs argv in a network namespace of its own (see netnsSetup).
func inNetns(argv ...string) []string {
	return append([]string{"unshare", "--net", "sh", "-c", netnsSetup, "sh"}, argv...)
}

// conformanceLines runs the connect(2) conformance program and returns its
// "case: result" lines by case.
func conformanceLines(t *testing.T, argv ...string) (map[string]string, []string) {
	t.Helper()
	return conformanceRun(t, false, argv...)
}

// conformanceRun is conformanceLines; with setupErrorsOK, cases that could
// not set themselves up (their setup connects denied by the policy under
// test) print "setup-error" and make the program exit 1, which is expected.
func conformanceRun(t *testing.T, setupErrorsOK bool, argv ...string) (map[string]string, []string) {
	t.Helper()
	r := runCmd(t, 2*time.Minute, inNetns(argv...)...)
	if r.status != 0 && !(setupErrorsOK && r.status == 1 && strings.Contains(r.stdout, ": setup-error\n")) {
		t.Fatalf("%q exited %d\nstdout:\n%s\nstderr:\n%s", argv, r.status, r.stdout, r.stderr)
	}
	return caseLines(t, r.stdout)
}

// caseLines splits a conformance program's output, one "case: result"
// line per case, into the results by case and the cases in the order
// printed.
func caseLines(t *testing.T, out string) (map[string]string, []string) {
	t.Helper()
	byCase := map[string]string{}
	var order []string
	for _, line := range strings.Split(strings.TrimRight(out, "\n"), "\n") {
		name, res, ok := strings.Cut(line, ": ")
		if !ok {
			t.Fatalf("malformed line %q", line)
		}
		byCase[name] = res
		order = append(order, name)
	}
	return byCase, order
}

// refusedInHostMode are the cases whose sockets --net host refuses to
// create (raw and packet sockets send without any call to trap): their
// socket() fails with EPERM, as it does without CAP_NET_RAW.
var refusedInHostMode = map[string]bool{"raw4.loopback": true, "raw6.loopback": true, "packet.connect": true}

// TestConnectConformance runs the connect(2) conformance program natively
// once, in a namespace of the test's own (inNetns), and then under the
// sandbox in each way that native run is the reference for, each a
// subtest: --net host with an allow-all policy (host/allow-all) and with a
// deny-all one (host/deny-all), and --net sandbox (sandbox). --net none
// (none) is compared with a native run of its own, in a namespace that
// holds only lo as the sandbox's does; only that subtest needs it, so it
// runs there.
func TestConnectConformance(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "conformance/connect.c")
	native, order := conformanceLines(t, prog)
	if len(order) < 100 {
		t.Fatalf("only %d cases ran natively; the program lost its cases", len(order))
	}
	t.Run("host/allow-all", func(t *testing.T) { connectHostAllowAll(t, prog, native, order) })
	t.Run("host/deny-all", func(t *testing.T) { connectHostDenyAll(t, prog, native, order) })
	t.Run("sandbox", func(t *testing.T) { connectSandboxMode(t, prog, native, order) })
	t.Run("none", func(t *testing.T) { connectNetNone(t, prog) })
}

// connectHostAllowAll runs every connect(2) case under the sandbox with an
// allow-all policy: the outputs must be identical line by line to the
// native run (native, order) — same errno, same order of checks, same
// state quirks — but for the sockets host mode refuses.
func connectHostAllowAll(t *testing.T, prog string, native map[string]string, order []string) {
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	sandbox, sorder := conformanceLines(t, sandboxed(allowAll, prog)...)
	if strings.Join(order, ",") != strings.Join(sorder, ",") {
		t.Fatalf("the sandboxed run printed other cases:\nnative:  %v\nsandbox: %v", order, sorder)
	}
	for _, name := range order {
		want := native[name]
		if refusedInHostMode[name] {
			want = "socket=EPERM"
		}
		if sandbox[name] != want {
			t.Errorf("%s: native %q, sandbox %q, want %q", name, native[name], sandbox[name], want)
		}
	}
}

// connectHostDenyAll runs the cases under a deny-everything policy whose
// errno (EHOSTDOWN) no case produces natively: a call Linux rejects before
// it names a destination (bad fd, bad length, bad pointer, not a socket, a
// family the socket cannot use, a path that does not resolve) keeps its
// native errno; every connect that would have reached a destination gets
// EHOSTDOWN instead.
func connectHostDenyAll(t *testing.T, prog string, native map[string]string, order []string) {
	denyAll := writePolicy(t, "version: 1\ndefault: deny\nerrno: EHOSTDOWN\n")
	denied, _ := conformanceRun(t, true, sandboxed(denyAll, prog)...)
	kept := map[string]bool{"EBADF": true, "ENOTSOCK": true, "EFAULT": true, "EAFNOSUPPORT": true, "ENOENT": true, "ENOTDIR": true}
	var changed int
	for _, name := range order {
		n, d := native[name], denied[name]
		if strings.Contains(n, "EHOSTDOWN") {
			t.Fatalf("%s: EHOSTDOWN natively; pick another errno for this test", name)
		}
		if d == "setup-error" {
			continue // its own setup connects are denied: nothing to compare
		}
		if refusedInHostMode[name] {
			if d != "socket=EPERM" {
				t.Errorf("%s: deny-all %q, want socket=EPERM (host mode refuses the socket)", name, d)
			}
			continue
		}
		switch {
		case kept[n]:
			if d != n {
				t.Errorf("%s: native %s is Linux's own check, yet under deny-all it became %q", name, n, d)
			}
		case d != n:
			if !strings.Contains(d, "EHOSTDOWN") {
				t.Errorf("%s: native %q, deny-all %q: a changed result must be the policy's errno", name, n, d)
			}
			changed++
		}
	}
	if changed < 10 {
		t.Errorf("deny-all changed only %d cases: the policy is not being applied", changed)
	}
}

// connectSandboxMode: the same cases under --net sandbox, where every
// connect that leaves the program's own loopback goes through netstack —
// which dials from a namespace of the test's (so nothing can reach the
// real network), and answers an unreachable destination with the ICMP
// error Linux would get — give the native output line by line.
func connectSandboxMode(t *testing.T, prog string, native map[string]string, order []string) {
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	// The program skips the cases that name non-loopback addresses
	// wherever it sees a route for them — as it does here, through the
	// sandbox's TUN. This run is inside a namespace of the test's own,
	// whose only way out leads nowhere, so they may run.
	sandbox, sorder := conformanceLines(t, inSandboxMode(allowAll, "env", "CONNECT_NETNS_CHECKED=1", prog)...)
	if strings.Join(order, ",") != strings.Join(sorder, ",") {
		t.Fatalf("the sandboxed run printed other cases:\nnative:  %v\nsandbox: %v", order, sorder)
	}
	// A UDP connect sends nothing: the kernel answers it from the routing
	// table, and the sandbox's has a default route (into netstack) where
	// this test's namespace has none.
	routeOnly := map[string]string{"udp4.no_route": "ok"}
	for _, name := range order {
		if want, ok := routeOnly[name]; ok {
			if sandbox[name] != want {
				t.Errorf("%s: --net sandbox %q, want %q (its default route)", name, sandbox[name], want)
			}
			continue
		}
		if native[name] != sandbox[name] {
			t.Errorf("%s: native %q, --net sandbox %q", name, native[name], sandbox[name])
		}
	}
}

// connectNetNone: the program gives the same output under --net none
// (allow-all) as natively in an empty namespace with only lo — a native
// environment of its own, which only this variant compares with, so it
// runs here, once.
func connectNetNone(t *testing.T, prog string) {
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	native := runCmd(t, time.Minute, inEmptyNetns(prog)...)
	sandbox := runCmd(t, time.Minute, sandboxBin, "run", "--net", "none", "--policy", allowAll, "--", prog)
	if native.status != 0 || sandbox.status != 0 {
		t.Fatalf("native status %d (%s), sandbox status %d (%s)", native.status, native.stderr, sandbox.status, sandbox.stderr)
	}
	nl, sl := strings.Split(native.stdout, "\n"), strings.Split(sandbox.stdout, "\n")
	if len(nl) != len(sl) {
		t.Fatalf("native printed %d lines, sandbox %d", len(nl), len(sl))
	}
	for i := range nl {
		if nl[i] != sl[i] {
			t.Errorf("native %q, --net none %q", nl[i], sl[i])
		}
	}
}
