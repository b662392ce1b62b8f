package test

import (
	"os"
	"strings"
	"testing"
	"time"
)

// The bind(2)/listen(2) conformance program (conformance/bind.c) runs in a
// network namespace of the test's own, natively and under the sandbox, and
// the outputs are compared line by line. The namespaces below are what the
// program sees in each network mode: --net host runs it in the namespace
// the test made; --net none and --net sandbox in one of the sandbox's own,
// whose native counterpart the test builds alike. None has a route out,
// and the program never connects or sends: only binds.

// bindHostNetns: lo, and a veth pair (both ends in the namespace) whose v0
// holds 198.18.0.1/24 — the non-loopback address the LOCALADDR cases bind
// (BIND_LOCAL4) — and 2001:2::1/64, as a host on a network has.
const bindHostNetns = `ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip addr add 198.18.0.1/24 dev v0 && ip -6 addr add 2001:2::1/64 dev v0 nodad && exec "$@"`

// bindSandboxNetns: what --net sandbox gives the program, as far as a bind
// can tell — lo, and an interface holding the program's address,
// 100.96.0.2/24 — without the route to a gateway.
const bindSandboxNetns = `ip link set lo up && ip link add v0 type veth peer name v1 && ip link set v0 up && ip addr add 100.96.0.2/24 dev v0 && exec "$@"`

// bindNoneNetns: what --net none gives the program: lo only.
const bindNoneNetns = `ip link set lo up && exec "$@"`

// inBindNetns runs argv in a new network namespace set up by setup.
func inBindNetns(setup string, argv ...string) []string {
	return append([]string{"unshare", "--net", "sh", "-c", setup, "sh"}, argv...)
}

// joinArgv is the command line made of parts, in a slice of its own.
func joinArgv(parts ...[]string) []string {
	var argv []string
	for _, p := range parts {
		argv = append(argv, p...)
	}
	return argv
}

// bindPolicy writes a policy file that nobody (uid 65534) can read too,
// for a sandbox run as nobody: t.TempDir is root's alone.
func bindPolicy(t *testing.T, text string) string {
	t.Helper()
	f, err := os.CreateTemp(workDir, "bind-policy-*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(f.Name()) })
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
	if err := f.Chmod(0o644); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// bindLines runs argv (which runs the bind program) and returns its
// "case: result" lines by case, and the cases in the order printed. Every
// case must come to its end: a case that could not set itself up would
// compare nothing.
func bindLines(t *testing.T, argv ...string) (map[string]string, []string) {
	t.Helper()
	r := runCmd(t, time.Minute, argv...)
	if r.status != 0 {
		t.Fatalf("%q exited %d\nstdout:\n%s\nstderr:\n%s", argv, r.status, r.stdout, r.stderr)
	}
	return caseLines(t, r.stdout)
}

// bindUser is one way of running the program: as whom, and as whom the
// sandbox runs.
type bindUser struct {
	name string
	// native is the native command line of prog; sandboxed wraps a
	// sandbox command line (sandbox … -- prog) as this user needs.
	native    func(prog string) []string
	sandboxed func(sandbox func(prog ...string) []string, prog string) []string
}

var bindUsers = []bindUser{
	{
		name:      "root",
		native:    func(prog string) []string { return []string{prog} },
		sandboxed: func(sb func(...string) []string, prog string) []string { return sb(prog) },
	},
	{
		// The supervisor (root) makes the calls of a program that is
		// nobody: they must carry the program's rights, not its own.
		name:   "nobody",
		native: func(prog string) []string { return joinArgv(setprivNobody, []string{prog}) },
		sandboxed: func(sb func(...string) []string, prog string) []string {
			return sb(joinArgv(setprivNobody, []string{prog})...)
		},
	},
	{
		// Both nobody: the unprivileged sandbox.
		name:      "nobody-sandbox",
		native:    func(prog string) []string { return joinArgv(setprivNobody, []string{prog}) },
		sandboxed: func(sb func(...string) []string, prog string) []string { return joinArgv(setprivNobody, sb(prog)) },
	},
}

// compareBind fails for every line of sandboxed that differs from native,
// and when the two did not run the same cases.
func compareBind(t *testing.T, what string, native map[string]string, order []string, sandboxed map[string]string, sorder []string) {
	t.Helper()
	if strings.Join(order, ",") != strings.Join(sorder, ",") {
		t.Fatalf("the sandboxed run printed other cases:\nnative:  %v\nsandbox: %v", order, sorder)
	}
	for _, name := range order {
		if native[name] != sandboxed[name] {
			t.Errorf("%s: native %q, %s %q", name, native[name], what, sandboxed[name])
		}
	}
}

// bindRun is what one run of the program printed: its lines by case, and
// the cases in the order printed.
type bindRun struct {
	lines map[string]string
	order []string
}

// TestBindConformance runs every bind/listen case natively and under the
// sandbox, in each network mode — --net host in a namespace of the test's
// (with a non-loopback address to bind), --net none and --net sandbox
// against a native namespace built like theirs — as root, as nobody under
// a root supervisor, and as nobody under a sandbox run by nobody, with an
// allow-all policy: the outputs must be identical line by line. That
// proves the supervisor's binds and listens (trapped in --net host) keep
// Linux's order of checks and errnos, and carry the program's rights: its
// uid for the ports below 1024 and SO_REUSEPORT, its capabilities, and
// for unix paths its cwd, root, umask and ownership. In --net host the
// cases also run as root under a deny-all policy (bindHostDenyAll).
//
// Each mode is a subtest, and each way of running the program there a
// subtest of it (host/root, host/nobody, host/nobody-sandbox,
// host/deny-all, none/root, …). The native runs are the mode's: each
// distinct native command line runs once, before the subtests that compare
// with it — nobody and nobody-sandbox share nobody's, root and deny-all
// root's.
func TestBindConformance(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "conformance/bind.c")
	allowAll := bindPolicy(t, "version: 1\ndefault: allow\n")
	modes := []struct {
		mode, setup, local4 string
		// nobodySandbox: whether the sandbox can run as nobody here.
		nobodySandbox bool
		// denyAll: whether to run the deny-all variant too; bind
		// and listen are trapped, and so judged, in --net host only.
		denyAll bool
	}{
		{"host", bindHostNetns, "198.18.0.1", true, true},
		{"none", bindNoneNetns, "", true, false},
		// As nobody, --net sandbox needs a /dev/net/tun open to all,
		// which this machine kind does not have (TestSandboxModeUnprivileged
		// opens it for itself); root's supervisor with nobody's program
		// is run.
		{"sandbox", bindSandboxNetns, "100.96.0.2", false, false},
	}
	for _, m := range modes {
		t.Run(m.mode, func(t *testing.T) {
			env := []string{"env"}
			if m.local4 != "" {
				env = append(env, "BIND_LOCAL4="+m.local4)
			}
			var users []bindUser
			for _, u := range bindUsers {
				if u.name != "nobody-sandbox" || m.nobodySandbox {
					users = append(users, u)
				}
			}
			// The native runs: each distinct command line once, here,
			// before the subtests that compare with it.
			natives := map[string]bindRun{}
			nativeOf := func(prog ...string) bindRun {
				argv := inBindNetns(m.setup, joinArgv(env, prog)...)
				k := strings.Join(argv, "\x00")
				if r, ok := natives[k]; ok {
					return r
				}
				lines, order := bindLines(t, argv...)
				if len(order) < 150 {
					t.Fatalf("only %d cases ran natively; the program lost its cases", len(order))
				}
				natives[k] = bindRun{lines, order}
				return natives[k]
			}
			userNatives := make([]bindRun, len(users))
			for i, u := range users {
				userNatives[i] = nativeOf(u.native(prog)...)
			}
			var rootNative bindRun
			if m.denyAll {
				rootNative = nativeOf(prog)
			}
			sandbox := func(prog ...string) []string { return sandboxedIn(m.mode, allowAll, prog...) }
			for i, u := range users {
				t.Run(u.name, func(t *testing.T) {
					// --net host runs the program in this namespace;
					// the other modes make their own inside it, so that
					// nothing of theirs can reach the machine's network.
					argv := joinArgv(env, u.sandboxed(sandbox, prog))
					sandboxed, sorder := bindLines(t, inBindNetns(m.setup, argv...)...)
					compareBind(t, "--net "+m.mode, userNatives[i].lines, userNatives[i].order, sandboxed, sorder)
				})
			}
			if m.denyAll {
				t.Run("deny-all", func(t *testing.T) { bindHostDenyAll(t, prog, m.setup, env, rootNative) })
			}
		})
	}
}

// bindDenied is what each case prints under a deny-all policy in --net
// host (default: deny, no listen rule, errno EACCES) where that differs
// from its native line as root. A step may list the results it accepts,
// separated by "|".
//
// What changes, and why:
//   - a bind to an inet port the program names (not 0) is judged at bind:
//     EACCES, before the kernel would look at the address (so
//     EADDRNOTAVAIL, EADDRINUSE and the EINVAL of a second bind become
//     EACCES too), and the socket stays unbound (local 0.0.0.0/::, port 0);
//   - a stream socket whose port the kernel chose (bound to port 0, or not
//     bound at all) is judged at listen: EACCES. A socket that was not
//     bound may be left bound to a port of the kernel's choice by the
//     denied listen (the supervisor binds it to learn the address it
//     judges), or not: both are accepted;
//   - a bind to port 0 is the kernel's (a datagram socket on an ephemeral
//     port is every client's way to get replies; a stream socket is
//     judged when it listens), and so are unix binds, which no listen rule
//     judges.
//
// Every other line keeps Linux's answer: the fd (EBADF, ENOTSOCK), the
// address's copy and length (EFAULT, EINVAL), its family (EAFNOSUPPORT,
// EINVAL), listen on a datagram socket (EOPNOTSUPP), and everything a bind
// to port 0 meets in the kernel (EADDRNOTAVAIL, a second bind's EINVAL).
var bindDenied = map[string]string{
	"fd.high_bits":                        "ok,local=127.0.0.1,port!=0,listen=EACCES",
	"fd.high_bits_named":                  "EACCES,local=0.0.0.0,port=0",
	"tcp4.family_unspec_any_named":        "EACCES,local=0.0.0.0,port=0",
	"tcp4.loopback":                       "ok,local=127.0.0.1,port!=0,listen=EACCES,local=127.0.0.1,port!=0",
	"tcp4.other_loopback":                 "ok,local=127.0.0.2,port!=0,listen=EACCES",
	"tcp4.any":                            "ok,local=0.0.0.0,port!=0,listen=EACCES",
	"tcp4.named_port":                     "EACCES,local=0.0.0.0,port=0,listen=EACCES",
	"tcp4.any_named_port":                 "EACCES,local=0.0.0.0,port=0,listen=EACCES",
	"tcp4.broadcast":                      "ok,listen=EACCES",
	"tcp4.nonlocal_named":                 "EACCES",
	"tcp4.freebind":                       "ok,local=198.18.0.254,port!=0,listen=EACCES",
	"tcp4.freebind_named":                 "EACCES,local=0.0.0.0,port=0,listen=EACCES",
	"tcp4.local_addr":                     "ok,listen=EACCES",
	"tcp4.local_addr_named":               "EACCES,local=0.0.0.0,port=0,listen=EACCES",
	"tcp4.rebind_named":                   "ok,EACCES",
	"tcp4.bind_after_listen":              "listen=EACCES,ok|EINVAL",
	"tcp4.eaddrinuse":                     "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"tcp4.eaddrinuse_listening":           "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.eaddrinuse_any_then_loopback":   "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"tcp4.eaddrinuse_loopback_then_any":   "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.two_loopbacks":                  "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.reuseaddr":                      "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"tcp4.reuseaddr_listening":            "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.reuseaddr_second_only":          "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"tcp4.reuseaddr_any_listening":        "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.reuseport":                      "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"tcp4.reuseport_listening":            "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.reuseport_first_only":           "EACCES,listen=EACCES,EACCES,listen=EACCES",
	"tcp4.reuseport_other_user":           "EACCES,listen=EACCES,EACCES",
	"tcp4.port_freed_by_close":            "EACCES",
	"tcp4.port80":                         "EACCES,listen=EACCES",
	"tcp4.port80_any":                     "EACCES,listen=EACCES",
	"tcp4.port1024_nobody":                "EACCES",
	"tcp4.port80_no_capability":           "EACCES,listen=EACCES",
	"tcp4.port80_capability_raised":       "EACCES",
	"tcp4.port80_nobody_keeps_capability": "uid=65534,capset=ok,EACCES",
	"tcp4.port80_thread_credentials":      "thread=EACCES,main=EACCES",
	"tcp6.port80":                         "EACCES",
	"listen.unbound_tcp4":                 "listen=EACCES,local=0.0.0.0,port=0|port!=0",
	"listen.unbound_tcp6":                 "listen=EACCES,local=::,port=0|port!=0",
	"listen.unbound_tcp6_v6only":          "listen=EACCES,local=::,port=0|port!=0",
	"listen.twice":                        "ok,listen=EACCES,listen=EACCES,local=127.0.0.1,port!=0",
	"listen.twice_unbound":                "listen=EACCES,listen=EACCES",
	"listen.backlog_minus_one":            "ok,listen=EACCES",
	"listen.backlog_zero":                 "ok,listen=EACCES",
	"listen.backlog_int_max":              "ok,listen=EACCES",
	"listen.backlog_int_min":              "ok,listen=EACCES",
	"listen.high_bits":                    "ok,listen=EACCES",
	"listen.high_bits_unbound":            "listen=EACCES,local=0.0.0.0,port=0|port!=0",
	"listen.after_shutdown":               "ok,shutdown=ENOTCONN,listen=EACCES",
	"listen.shutdown_relisten":            "ok,listen=EACCES,shutdown=ENOTCONN,listen=EACCES,local=127.0.0.1,port!=0",
	"tcp6.loopback":                       "ok,local=::1,port!=0,listen=EACCES",
	"tcp6.any":                            "ok,local=::,port!=0,listen=EACCES",
	"tcp6.named_port":                     "EACCES,local=::,port=0,listen=EACCES",
	"tcp6.v4mapped":                       "ok,local=::ffff:127.0.0.1,port!=0,listen=EACCES",
	"tcp6.v4mapped_any":                   "ok,local=::ffff:0.0.0.0,port!=0,listen=EACCES",
	"tcp6.nonlocal_named":                 "EACCES",
	"tcp6.freebind":                       "ok,local=2001:2::ff,port!=0,listen=EACCES",
	"tcp6.eaddrinuse":                     "EACCES,listen=EACCES,EACCES",
	"tcp6.port_freed_by_close":            "EACCES",
	"dual.v6any_then_v4any":               "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v6only_then_v4any":              "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v4any_then_v6any":               "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v4any_then_v6only":              "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v4loopback_then_v6any":          "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v6any_then_v4loopback":          "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v6loopback_then_v4any":          "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.v4mapped_then_v4":               "EACCES,EACCES,listen=EACCES,listen=EACCES",
	"dual.udp_v6any_then_v4any":           "EACCES,EACCES",
	"dual.udp_v6only_then_v4any":          "EACCES,EACCES",
	"udp4.named_port":                     "EACCES,local=0.0.0.0,port=0",
	"udp4.any_named_port":                 "EACCES,local=0.0.0.0,port=0",
	"udp4.local_addr_named":               "EACCES,local=0.0.0.0,port=0",
	"udp4.eaddrinuse":                     "EACCES,EACCES",
	"udp4.eaddrinuse_any":                 "EACCES,EACCES",
	"udp4.reuseaddr":                      "EACCES,EACCES",
	"udp4.reuseport":                      "EACCES,EACCES",
	"udp4.port_freed_by_close":            "EACCES",
	"udp4.port80":                         "EACCES",
	"udp6.named_port":                     "EACCES,local=::,port=0",
}

// bindLineMatches reports whether got is want, step by step, where a step
// of want may list alternatives separated by "|".
func bindLineMatches(got, want string) bool {
	gs, ws := strings.Split(got, ","), strings.Split(want, ",")
	if len(gs) != len(ws) {
		return false
	}
	for i := range ws {
		ok := false
		for _, alt := range strings.Split(ws[i], "|") {
			ok = ok || gs[i] == alt
		}
		if !ok {
			return false
		}
	}
	return true
}

// bindHostDenyAll runs the cases as root in --net host, in a namespace
// set up by setup with env, under a policy that denies everything
// (default: deny, no listen rule): the lines Linux rejects before any
// address is judged keep Linux's errno, binds to the inet ports a program
// names and listens on the ports the kernel chose get EACCES, and
// everything else — binds to port 0, unix binds — is as native, the run
// as root in the same namespace without the sandbox (bindDenied spells out
// every changed line).
func bindHostDenyAll(t *testing.T, prog, setup string, env []string, native bindRun) {
	denyAll := bindPolicy(t, "version: 1\ndefault: deny\n")
	denied, dorder := bindLines(t, inBindNetns(setup, joinArgv(env, sandboxed(denyAll, prog))...)...)
	order := native.order
	if strings.Join(order, ",") != strings.Join(dorder, ",") {
		t.Fatalf("the sandboxed run printed other cases:\nnative:  %v\nsandbox: %v", order, dorder)
	}
	for name := range bindDenied {
		if _, ok := native.lines[name]; !ok {
			t.Errorf("bindDenied names %s, which the program did not run", name)
		}
	}
	for _, name := range order {
		want, changed := bindDenied[name]
		if !changed {
			want = native.lines[name]
		}
		if !bindLineMatches(denied[name], want) {
			t.Errorf("%s: native %q, deny-all %q, want %q", name, native.lines[name], denied[name], want)
		}
	}
}
