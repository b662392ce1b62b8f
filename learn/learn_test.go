package learn

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"

	"sandbox/policy"
	"sandbox/sentry"
)

// rec is a learned record of a call by exe.
func rec(exe, syscall string, q policy.Request, host string) *sentry.Record {
	return &sentry.Record{Exe: exe, Syscall: syscall, Verdict: "allow", Learned: true, Request: &q, Host: host}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// The learned policy parses, allows what was learned and only that, and
// groups the ports of one destination into one rule.
func TestLearnedPolicy(t *testing.T) {
	l := New([2]uint16{32768, 60999})
	calls := []*sentry.Record{
		rec("/usr/bin/curl", "connect", policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.9"), Port: 443, Names: []string{"pkg.example"}}, "pkg.example"),
		rec("/usr/bin/curl", "connect", policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.9"), Port: 443, Names: []string{"pkg.example"}}, "pkg.example"),
		rec("/usr/bin/git", "connect", policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.9"), Port: 80, Names: []string{"pkg.example"}}, "pkg.example"),
		rec("/bin/app", "sendto", policy.Request{Proto: policy.UDP, Addr: ip("::ffff:198.18.0.5"), Port: 53}, ""),
		rec("/bin/app", "connect", policy.Request{Proto: policy.TCP, Addr: ip("2001:2::7"), Port: 8080}, ""),
		rec("/bin/app", "connect", policy.Request{Proto: policy.Unix, Unix: "/run/a*b.sock"}, ""),
		rec("/bin/app", "connect", policy.Request{Proto: policy.Unix, Unix: "@abstract"}, ""),
		rec("/bin/app", "connect", policy.Request{Proto: policy.Unix, Unix: "@bad\x00name"}, ""),
		rec("/bin/srv", "bind", policy.Request{Listen: true, Proto: policy.TCP, Addr: ip("127.0.0.1"), Port: 8080}, ""),
		rec("/bin/srv", "listen", policy.Request{Listen: true, Proto: policy.TCP, Addr: ip("127.0.0.1"), Port: 8080}, ""),
		rec("/bin/srv", "listen", policy.Request{Listen: true, Proto: policy.TCP, Addr: ip("0.0.0.0"), Port: 40000}, ""),
		// Not learned: the base allowed it, or the sandbox's DNS.
		{Syscall: "connect", Verdict: "allow", Request: &policy.Request{Proto: policy.TCP, Addr: ip("127.0.0.1"), Port: 1}},
		{Syscall: "dns", Verdict: "allow", Name: "only-resolved.example"},
		{Syscall: "dns", Verdict: "allow", Name: "pkg.example"},
	}
	for _, r := range calls {
		l.Observe(r)
	}
	var out bytes.Buffer
	if err := l.Write(&out, mustParse(t, "version: 1\ndefault: deny\n"), []string{"a header"}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"# a header\n",
		"  - allow: tcp pkg.example:80,443  # /usr/bin/curl: 2 calls, /usr/bin/git: 1 call\n",
		"  - allow: udp 198.18.0.5:53  # /bin/app: 1 call\n",
		"  - allow: tcp [2001:2::7]:8080  # /bin/app: 1 call\n",
		`  - allow: unix /run/a\*b.sock  # /bin/app: 1 call` + "\n",
		"  - allow: unix @abstract  # /bin/app: 1 call\n",
		"  # not written as a rule: unix \"@bad\\x00name\": a name a policy cannot spell (/bin/app: 1 call)\n",
		"  - allow: listen tcp 127.0.0.1:8080  # /bin/srv: 2 calls\n",
		"  - allow: listen tcp 0.0.0.0:32768-60999  # /bin/srv: 1 call\n",
		"# Resolved but never connected to (a rule naming one makes it resolvable): only-resolved.example\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("missing %q in:\n%s", want, text)
		}
	}
	pol := mustParse(t, text)
	for _, tc := range []struct {
		q    policy.Request
		want policy.Verdict
	}{
		{policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.9"), Port: 443, Names: []string{"pkg.example"}}, policy.Allow},
		{policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.9"), Port: 22, Names: []string{"pkg.example"}}, policy.Deny},
		{policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.9"), Port: 443}, policy.Deny},
		{policy.Request{Proto: policy.UDP, Addr: ip("198.18.0.5"), Port: 53}, policy.Allow},
		{policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.5"), Port: 53}, policy.Deny},
		{policy.Request{Proto: policy.Unix, Unix: "/run/a*b.sock"}, policy.Allow},
		{policy.Request{Proto: policy.Unix, Unix: "/run/axb.sock"}, policy.Deny},
		{policy.Request{Proto: policy.Unix, Unix: "@abstract"}, policy.Allow},
		{policy.Request{Listen: true, Proto: policy.TCP, Addr: ip("0.0.0.0"), Port: 41234}, policy.Allow},
		{policy.Request{Listen: true, Proto: policy.TCP, Addr: ip("0.0.0.0"), Port: 8080}, policy.Deny},
		{policy.Request{Proto: policy.TCP, Addr: ip("127.0.0.1"), Port: 1}, policy.Deny},
	} {
		if got := pol.Decide(tc.q).Verdict; got != tc.want {
			t.Errorf("%+v: %v, want %v", tc.q, got, tc.want)
		}
	}
}

// With a base policy, its rules come first, as written, with their errno;
// the default, errno and dns-denied are the base's.
func TestLearnedPolicyKeepsTheBase(t *testing.T) {
	base := mustParse(t, "version: 1\ndefault: deny\nerrno: ECONNREFUSED\ndns-denied: REFUSED\nrules:\n  - deny: tcp *:25\n    errno: EPERM\n  - allow: unix *\n")
	l := New([2]uint16{1, 2})
	l.Observe(rec("/bin/x", "connect", policy.Request{Proto: policy.TCP, Addr: ip("198.18.0.1"), Port: 443}, ""))
	var out bytes.Buffer
	if err := l.Write(&out, base, nil); err != nil {
		t.Fatal(err)
	}
	pol := mustParse(t, out.String())
	if pol.Errno.Error() != "connection refused" || !pol.DNSRefused || len(pol.Rules) != 3 {
		t.Fatalf("errno %v, dns-denied REFUSED %v, %d rules:\n%s", pol.Errno, pol.DNSRefused, len(pol.Rules), out.String())
	}
	if r := pol.Rules[0]; r.Text != "tcp *:25" || r.Verdict != policy.Deny || policy.ErrnoName(r.Errno) != "EPERM" {
		t.Errorf("first rule %q %v %v, want the base's deny tcp *:25 with EPERM", r.Text, r.Verdict, r.Errno)
	}
	if r := pol.Rules[2]; r.Text != "tcp 198.18.0.1:443" {
		t.Errorf("learned rule %q", r.Text)
	}
}

// Learning holds no more than maxDests destinations, and says so.
func TestLearnerIsBounded(t *testing.T) {
	l := New([2]uint16{1, 2})
	for i := range maxDests + 10 {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i >> 8), byte(i)})
		l.Observe(rec("/bin/scan", "connect", policy.Request{Proto: policy.TCP, Addr: a, Port: 1}, ""))
	}
	var out bytes.Buffer
	if err := l.Write(&out, mustParse(t, "version: 1\n"), nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "# and 10 calls to destinations past the first 4096, not learned") {
		t.Errorf("no note of what was left out")
	}
}

func mustParse(t *testing.T, text string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	return p
}
