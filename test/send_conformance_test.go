package test

import (
	"strings"
	"testing"
)

// withFastOpen runs argv with TCP Fast Open enabled for clients and servers
// (tcp_fastopen=3) in the network namespace it runs in — the one inNetns
// made, so the setting dies with it. The sandbox, in --net host, runs the
// program in that same namespace.
func withFastOpen(argv ...string) []string {
	return append([]string{"sh", "-c", `echo 3 > /proc/sys/net/ipv4/tcp_fastopen && exec "$@"`, "sh"}, argv...)
}

// TestSendConformance runs the sendto/sendmsg/sendmmsg conformance program
// natively once, with TCP Fast Open on in a namespace of the test's own
// (inNetns, withFastOpen), and then under the sandbox in --net host, in that
// same namespace, with an allow-all and with a deny-all policy: the one
// native run is the reference for both, each a subtest.
func TestSendConformance(t *testing.T) {
	requireRoot(t)
	prog := buildC(t, "conformance/send.c")
	native, order := conformanceLines(t, withFastOpen(prog)...)
	if len(order) < 200 {
		t.Fatalf("only %d cases ran natively; the program lost its cases", len(order))
	}
	t.Run("host/allow-all", func(t *testing.T) { sendHostAllowAll(t, prog, native, order) })
	t.Run("host/deny-all", func(t *testing.T) { sendHostDenyAll(t, prog, native, order) })
}

// sendHostAllowAll runs every case under the sandbox with an allow-all
// policy: the outputs must be identical line by line to the native run
// (native, order) — the same count or errno, the same order of checks,
// the same data, files and credentials at the receiver, the same signals.
// (The credentials' pid is the program's because the supervisor, root
// here, may claim it: see send.c.)
func sendHostAllowAll(t *testing.T, prog string, native map[string]string, order []string) {
	allowAll := writePolicy(t, "version: 1\ndefault: allow\n")
	sandbox, sorder := conformanceLines(t, withFastOpen(sandboxed(allowAll, prog)...)...)
	if strings.Join(order, ",") != strings.Join(sorder, ",") {
		t.Fatalf("the sandboxed run printed other cases:\nnative:  %v\nsandbox: %v", order, sorder)
	}
	for _, name := range order {
		if native[name] != sandbox[name] {
			t.Errorf("%s: native %q, sandbox %q", name, native[name], sandbox[name])
		}
	}
}

// sendKept are the errnos of checks Linux makes before a send looks at its
// destination — the fd, the pointers and lengths of the call and of its
// message header, its flags, the name's form, the payload's size for UDP
// over IPv4, the control messages of a unix socket, a path that does not
// resolve — which a deny policy must leave as they are.
var sendKept = map[string]bool{
	"EBADF": true, "ENOTSOCK": true, "EFAULT": true, "EINVAL": true, "EAFNOSUPPORT": true,
	"EMSGSIZE": true, "ENOBUFS": true, "EOPNOTSUPP": true, "EDESTADDRREQ": true,
	"ENETUNREACH": true, "EPERM": true, "ENOENT": true, "ENOTDIR": true, "EAGAIN": true,
	"EINTR": true, "EPIPE": true, "ENOTCONN": true, "EISCONN": true,
}

// sendAfterDestination are the cases whose native errno is one of
// sendKept but comes only once the destination is known, where a deny
// policy answers first.
var sendAfterDestination = map[string]string{
	"sendto.bad_buf":                 "UDP copies the payload after it has routed the datagram",
	"msg.bad_iov_base":               "UDP copies the payload after it has routed the datagram",
	"msg.iov_straddles_prot_none":    "UDP copies the payload after it has routed the datagram",
	"sendto.buf_straddles_prot_none": "UDP copies the payload after it has routed the datagram",
	"udp4.emsgsize_65508":            "ip_append_data measures the datagram against the route",
	"udp6.emsgsize_70000":            "ip6_append_data measures the datagram against the route",
	"udp4.cmsg_len_short":            "an inet socket's control messages are parsed after the name: the policy has decided by then",
	"udp4.ip_ttl_invalid":            "an inet socket's control messages are parsed after the name: the policy has decided by then",
	"cap.so_mark_nobody":             "an inet socket's control messages are parsed after the name: the policy has decided by then",
	"cap.so_priority_nobody":         "an inet socket's control messages are parsed after the name: the policy has decided by then",
	"cap.hopopts_nobody":             "an inet socket's control messages are parsed after the name: the policy has decided by then",
	"mmsg.msg_len_readonly":          "msg_len is written once the message has gone",
}

// nothingArrived reports whether a step says that a receiver got nothing.
func nothingArrived(step string) bool {
	switch step {
	case "recv=none", "got=0", "peer=0", "accept=none", "second=x", "last=x":
		return true
	}
	if lens, ok := strings.CutPrefix(step, "lens="); ok {
		return strings.Trim(lens, "x/") == ""
	}
	return false
}

// sendHostDenyAll runs the cases under a deny-everything policy whose
// errno (EHOSTDOWN) no case produces natively. A send Linux rejects before
// it looks at the destination keeps its native errno (sendKept); a send
// that would have reached one gets EHOSTDOWN instead, and its receiver
// gets nothing. Sends that name no destination (on a socketpair, say) are
// not the policy's and go as natively.
func sendHostDenyAll(t *testing.T, prog string, native map[string]string, order []string) {
	denyAll := writePolicy(t, "version: 1\ndefault: deny\nerrno: EHOSTDOWN\n")
	denied, _ := conformanceRun(t, true, withFastOpen(sandboxed(denyAll, prog)...)...)
	var changed, setup int
	for _, name := range order {
		n, d := native[name], denied[name]
		if strings.Contains(n, "EHOSTDOWN") {
			t.Fatalf("%s: EHOSTDOWN natively; pick another errno for this test", name)
		}
		if d == "setup-error" {
			setup++ // its own setup connects are denied: nothing to compare
			continue
		}
		ns, ds := strings.Split(n, ","), strings.Split(d, ",")
		if len(ns) != len(ds) {
			t.Errorf("%s: native %q, deny-all %q: other steps", name, n, d)
			continue
		}
		for i := range ns {
			switch {
			case ns[i] == ds[i]:
			case sendKept[ns[i]] && sendAfterDestination[name] == "":
				t.Errorf("%s: native %q, deny-all %q: step %d (%s) is Linux's own check, made before the destination", name, n, d, i+1, ns[i])
			case ds[i] == "EHOSTDOWN" || nothingArrived(ds[i]):
				changed++
			default:
				t.Errorf("%s: native %q, deny-all %q: a changed step must be the policy's errno, or nothing received", name, n, d)
			}
		}
	}
	t.Logf("%d cases, %d steps changed by the policy, %d cases could not set up (their own connects denied)", len(order), changed, setup)
	if changed < 20 {
		t.Errorf("deny-all changed only %d steps: the policy is not being applied", changed)
	}
}
