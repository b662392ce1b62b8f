package policy

import (
	"errors"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

func mustParse(t testing.TB, text string) *Policy {
	t.Helper()
	p, err := Parse("p.yaml", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return p
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, text string
		want       []string // each "line:col: substring", in order
	}{
		{"not yaml", "version: 1\nrules: [\n", []string{"2:1: not valid YAML"}},
		{"empty", "", []string{"1:1: empty policy"}},
		{"not a mapping", "- allow: tcp *\n", []string{"1:1: a policy is a mapping"}},
		{"missing version", "default: deny\n", []string{"1:1: missing \"version: 1\""}},
		{"bad version", "version: 2\n", []string{"1:10: version \"2\""}},
		{"unknown top key", "version: 1\ndefualt: deny\n", []string{"2:1: unknown key \"defualt\""}},
		{"bad dns-denied", "version: 1\ndns-denied: SERVFAIL\n", []string{"2:13: dns-denied \"SERVFAIL\": want NXDOMAIN or REFUSED"}},
		{"duplicate key", "version: 1\ndefault: deny\ndefault: allow\n", []string{"3:1: duplicate key \"default\" (first at line 2)"}},
		{"bad default", "version: 1\ndefault: maybe\n", []string{"2:10: default \"maybe\""}},
		{"unknown errno", "version: 1\nerrno: EACES\n", []string{"2:8: unknown errno \"EACES\" (did you mean EACCES?)"}},
		{"nonsense errno", "version: 1\nerrno: XYZZYPLUGH\n", []string{"2:8: unknown errno \"XYZZYPLUGH\": want an errno name"}},
		{"rules not a list", "version: 1\nrules: allow\n", []string{"2:8: rules must be a list"}},
		{"rule not a mapping", "version: 1\nrules:\n  - tcp *\n", []string{"3:5: a rule is a mapping"}},
		{"unknown rule key", "version: 1\nrules:\n  - alow: tcp *\n", []string{"3:5: unknown key \"alow\" in rule"}},
		{"allow and deny", "version: 1\nrules:\n  - allow: tcp *\n    deny: tcp *\n", []string{"4:5: a rule is either allow or deny"}},
		{"neither", "version: 1\nrules:\n  - errno: EPERM\n", []string{"3:5: rule has neither allow nor deny"}},
		{"errno on allow", "version: 1\nrules:\n  - allow: tcp *\n    errno: EPERM\n", []string{"4:12: errno applies only to deny rules"}},
		{"bad rule errno", "version: 1\nrules:\n  - deny: tcp *\n    errno: EPRM\n", []string{"4:12: unknown errno \"EPRM\" (did you mean EPERM?)"}},
		{"no dest", "version: 1\nrules:\n  - allow: tcp\n", []string{"3:12: rule \"tcp\": want PROTO DEST"}},
		{"unknown proto", "version: 1\nrules:\n  - allow: sctp *\n", []string{"3:12: unknown protocol \"sctp\""}},
		{"port too big", "version: 1\nrules:\n  - allow: tcp 127.0.0.1:70000\n", []string{"3:26: port 70000 is out of range"}},
		{"port not a number", "version: 1\nrules:\n  - allow: tcp 127.0.0.1:http\n", []string{"3:26: port \"http\" is not a number"}},
		{"backwards range", "version: 1\nrules:\n  - allow: tcp *:2000-1000\n", []string{"3:18: port range 2000-1000 runs backwards"}},
		{"bad item in list", "version: 1\nrules:\n  - allow: tcp *:80,x\n", []string{"3:21: port \"x\" is not a number"}},
		{"empty ports (quoted: errors point at the value)", "version: 1\nrules:\n  - allow: \"tcp 1.2.3.4:\"\n", []string{"3:12: missing ports"}},
		{"bad ipv4", "version: 1\nrules:\n  - allow: tcp 300.1.1.1\n", []string{"3:16: \"300.1.1.1\" is not a valid IPv4 address"}},
		{"bad cidr", "version: 1\nrules:\n  - allow: tcp 10.0.0.0/33\n", []string{"3:16: \"10.0.0.0/33\" is not a valid CIDR"}},
		{"host bits", "version: 1\nrules:\n  - allow: tcp 198.18.0.1/15\n", []string{"3:16: 198.18.0.1/15 has host bits set: did you mean 198.18.0.0/15?"}},
		{"unbracketed v6", "version: 1\nrules:\n  - allow: udp ::1:53\n", []string{"3:16: \"::1:53\": IPv6 addresses go in brackets"}},
		{"unclosed bracket", "version: 1\nrules:\n  - allow: udp [::1:53\n", []string{"3:16: \"[::1:53\": missing ]"}},
		{"bad v6", "version: 1\nrules:\n  - allow: udp [::g]\n", []string{"3:16: \"::g\" is not a valid IPv6 address"}},
		{"bad hostname", "version: 1\nrules:\n  - allow: tcp exa$mple.com:443\n", []string{"3:16: \"exa$mple.com\" is neither an address"}},
		{"relative unix", "version: 1\nrules:\n  - allow: unix run/x.sock\n", []string{"3:17: unix destination \"run/x.sock\""}},
		{"unclean unix", "version: 1\nrules:\n  - allow: unix /run/../x.sock\n", []string{"3:17: \"/run/../x.sock\": write the path as /x.sock"}},
		{"bad glob", "version: 1\nrules:\n  - allow: unix /run/[x\n", []string{"3:17: \"/run/[x\": bad pattern"}},
		{"several mistakes, all reported", "version: 1\ndefault: no\nrules:\n  - allow: tcp *:99999\n  - deny: udp 1.2.3\n", []string{"2:10: default", "4:18: port 99999", "5:15: \"1.2.3\" is not a valid IPv4"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(tt.text))
			if err == nil {
				t.Fatalf("parsed without error, want %v", tt.want)
			}
			lines := strings.Split(err.Error(), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], "p.yaml:") || !strings.Contains(lines[i], w) {
					t.Errorf("error %d = %q, want it to contain %q", i, lines[i], w)
				}
			}
			var pe *Error
			if !errors.As(err, &pe) || pe.Pos.File != "p.yaml" {
				t.Errorf("error is not a *policy.Error with the file name: %#v", err)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	p := mustParse(t, `version: 1
default: allow
errno: ECONNREFUSED
rules:
  - allow: tcp 127.0.0.1:8080
  - allow: tcp 198.18.0.0/24:1000-2000
  - allow: udp [::1]:53
  - allow: tcp example.com:443
  - allow: tcp *.example.org:80,443
  - deny:  tcp *:25
    errno: EHOSTUNREACH
  - allow: unix /run/postgresql/*
  - allow: unix @some-abstract-name
  - allow: ip [fd00::/8]
  - allow: unix /srv/**
  - deny: "tcp 10.0.0.0/8"
`)
	if p.Default != Allow || p.Errno != syscall.ECONNREFUSED || len(p.Rules) != 11 {
		t.Fatalf("got default %v errno %v and %d rules", p.Default, p.Errno, len(p.Rules))
	}
	wantSummaries := []string{
		"allow tcp 127.0.0.1 port 8080",
		"allow tcp 198.18.0.0/24 ports 1000-2000",
		"allow udp ::1 port 53",
		"allow tcp host example.com port 443",
		"allow tcp hosts *.example.org ports 80,443",
		"deny tcp any address port 25 → EHOSTUNREACH",
		"allow unix paths matching /run/postgresql/*",
		"allow unix abstract names matching some-abstract-name",
		"allow ip fd00::/8 all ports",
		"allow unix paths under /srv/",
		"deny tcp 10.0.0.0/8 all ports",
	}
	for i, r := range p.Rules {
		if r.Summary() != wantSummaries[i] {
			t.Errorf("rule %d summary %q, want %q", i, r.Summary(), wantSummaries[i])
		}
	}
	if r := p.Rules[0]; r.Pos != (Pos{"p.yaml", 5, 12}) || r.Text != "tcp 127.0.0.1:8080" {
		t.Errorf("rule 0 at %v text %q", r.Pos, r.Text)
	}
	if got := p.HostnameRules(); len(got) != 2 || got[0] != p.Rules[3] || got[1] != p.Rules[4] {
		t.Errorf("HostnameRules = %v", got)
	}
	if p := mustParse(t, "version: 1\nrules:\n"); p.Default != Deny || p.Errno != syscall.EACCES || len(p.Rules) != 0 {
		t.Errorf("minimal policy: default %v errno %v rules %d; want deny, EACCES, none", p.Default, p.Errno, len(p.Rules))
	}
	if p := mustParse(t, "version: 1\ndns-denied: REFUSED\n"); !p.DNSRefused {
		t.Error("dns-denied: REFUSED did not take")
	}
	if p := mustParse(t, "version: 1\nerrno: EWOULDBLOCK\n"); p.Errno != syscall.EAGAIN {
		t.Errorf("EWOULDBLOCK = %v, want EAGAIN", p.Errno)
	}
}

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

func TestDecide(t *testing.T) {
	p := mustParse(t, `version: 1
default: deny
errno: EPERM
rules:
  - deny: tcp 127.0.0.1:25
    errno: ECONNREFUSED
  - allow: tcp 127.0.0.0/8
  - allow: udp [::1]:53,5353
  - allow: tcp 198.18.0.0/24:1000-2000
  - allow: tcp example.com:443
  - allow: tcp *.example.org:80
  - allow: ip [fd00::/8]
  - allow: unix /run/postgresql/*
  - allow: unix /srv/**
  - allow: unix @abs-*
  - deny: ip *:9
`)
	tests := []struct {
		name    string
		req     Request
		verdict Verdict
		errno   syscall.Errno
		rule    int // index of the deciding rule; -1 for the default
	}{
		{"rule errno", Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 25}, Deny, syscall.ECONNREFUSED, 0},
		{"first match wins", Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 80}, Allow, 0, 1},
		{"cidr edge", Request{Proto: TCP, Addr: ip("127.255.255.255"), Port: 1}, Allow, 0, 1},
		{"outside cidr", Request{Proto: TCP, Addr: ip("128.0.0.1"), Port: 1}, Deny, syscall.EPERM, -1},
		{"mapped v4 meets v4 rules", Request{Proto: TCP, Addr: ip("::ffff:127.0.0.1"), Port: 25}, Deny, syscall.ECONNREFUSED, 0},
		{"udp rule not tcp", Request{Proto: TCP, Addr: ip("::1"), Port: 53}, Deny, syscall.EPERM, -1},
		{"port list", Request{Proto: UDP, Addr: ip("::1"), Port: 5353}, Allow, 0, 2},
		{"port list miss", Request{Proto: UDP, Addr: ip("::1"), Port: 54}, Deny, syscall.EPERM, -1},
		{"range low", Request{Proto: TCP, Addr: ip("198.18.0.9"), Port: 1000}, Allow, 0, 3},
		{"range high", Request{Proto: TCP, Addr: ip("198.18.0.9"), Port: 2000}, Allow, 0, 3},
		{"range above", Request{Proto: TCP, Addr: ip("198.18.0.9"), Port: 2001}, Deny, syscall.EPERM, -1},
		{"name without names", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 443}, Deny, syscall.EPERM, -1},
		{"name", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 443, Names: []string{"EXAMPLE.com."}}, Allow, 0, 4},
		{"wildcard name", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 80, Names: []string{"a.b.example.org"}}, Allow, 0, 5},
		{"wildcard is strict", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 80, Names: []string{"example.org"}}, Deny, syscall.EPERM, -1},
		{"wildcard needs a dot", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 80, Names: []string{"badexample.org"}}, Deny, syscall.EPERM, -1},
		{"ip rule, other proto", Request{Proto: OtherIP, Addr: ip("fd00::1")}, Allow, 0, 6},
		{"v6 rule never v4", Request{Proto: UDP, Addr: ip("253.0.0.1"), Port: 1}, Deny, syscall.EPERM, -1},
		{"ip star", Request{Proto: UDP, Addr: ip("198.18.5.5"), Port: 9}, Deny, syscall.EPERM, 10},
		{"unix glob", Request{Proto: Unix, Unix: "/run/postgresql/.s.PGSQL.5432"}, Allow, 0, 7},
		{"unix glob no dirs", Request{Proto: Unix, Unix: "/run/postgresql/sub/s"}, Deny, syscall.EPERM, -1},
		{"unix tree", Request{Proto: Unix, Unix: "/srv/a/b/c.sock"}, Allow, 0, 8},
		{"unix tree boundary", Request{Proto: Unix, Unix: "/srvx/c.sock"}, Deny, syscall.EPERM, -1},
		{"abstract", Request{Proto: Unix, Unix: "@abs-1"}, Allow, 0, 9},
		{"abstract is not a path", Request{Proto: Unix, Unix: "@/srv/x"}, Deny, syscall.EPERM, -1},
		{"tcp rule not unix", Request{Proto: Unix, Unix: "/x"}, Deny, syscall.EPERM, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := p.Decide(tt.req)
			var want *Rule
			if tt.rule >= 0 {
				want = p.Rules[tt.rule]
			}
			if d.Verdict != tt.verdict || d.Errno != tt.errno || d.Rule != want {
				t.Errorf("Decide = %v %v rule %v; want %v %v rule %d", d.Verdict, d.Errno, d.Rule, tt.verdict, tt.errno, tt.rule)
			}
		})
	}
	allow := mustParse(t, "version: 1\ndefault: allow\n")
	if d := allow.Decide(Request{Proto: TCP, Addr: ip("198.18.0.1"), Port: 1}); d.Verdict != Allow || d.Errno != 0 {
		t.Errorf("default allow: %+v", d)
	}
}

func TestDefaultPolicy(t *testing.T) {
	p := Default()
	if p.Source != "<default>" {
		t.Errorf("source %q", p.Source)
	}
	for _, tt := range []struct {
		req  Request
		want Verdict
	}{
		{Request{Proto: TCP, Addr: ip("127.0.0.5"), Port: 1}, Allow},
		{Request{Proto: UDP, Addr: ip("::1"), Port: 53}, Allow},
		{Request{Proto: TCP, Addr: ip("::ffff:127.0.0.1"), Port: 80}, Allow},
		{Request{Proto: Unix, Unix: "/run/x.sock"}, Allow},
		{Request{Proto: Unix, Unix: "@x"}, Allow},
		{Request{Proto: TCP, Addr: ip("198.18.0.1"), Port: 80}, Deny},
		{Request{Proto: UDP, Addr: ip("fd00::1"), Port: 53}, Deny},
	} {
		d := p.Decide(tt.req)
		if d.Verdict != tt.want || (d.Verdict == Deny && d.Errno != syscall.EACCES) {
			t.Errorf("default policy on %+v: %v %v, want %v (EACCES when denied)", tt.req, d.Verdict, d.Errno, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"version: 1\n",
		"version: 1\ndefault: allow\nerrno: EPERM\nrules:\n  - allow: tcp 127.0.0.1:8080\n  - deny: udp [::1]:1-2,5\n    errno: ECONNREFUSED\n",
		"version: 1\nrules:\n  - allow: unix /run/*\n  - allow: unix @x*\n  - allow: tcp *.a.b:*\n  - allow: ip [fd00::/8]\n",
		"version: 1\nrules: [ {allow: 'tcp *'}, {deny: 'udp 1.2.3.4/32:53'} ]\n",
		"{",
	} {
		f.Add([]byte(seed))
	}
	reqs := []Request{
		{Proto: TCP, Addr: ip("127.0.0.1"), Port: 80},
		{Proto: UDP, Addr: ip("::1"), Port: 53, Names: []string{"a.b"}},
		{Proto: OtherIP, Addr: ip("198.18.0.1")},
		{Proto: Unix, Unix: "/run/x"},
		{Proto: Unix, Unix: "@x"},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned both a policy and an error")
			}
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "f.yaml:") {
					t.Fatalf("error line %q does not start with file:line:col", line)
				}
			}
			return
		}
		for _, r := range p.Rules {
			if r.Summary() == "" || r.Verdict == 0 {
				t.Fatalf("rule %q: empty summary or verdict", r.Text)
			}
		}
		for _, req := range reqs {
			d := p.Decide(req)
			if d.Verdict == Deny && d.Errno == 0 {
				t.Fatalf("denied %+v without an errno", req)
			}
		}
	})
}

func FuzzDecide(f *testing.F) {
	p := mustParse(f, `version: 1
default: deny
rules:
  - allow: tcp 127.0.0.0/8:1-1000
  - deny: udp 198.18.0.0/15:53
    errno: ECONNREFUSED
  - allow: ip 10.1.2.3
  - allow: udp *:5353
  - allow: unix /run/**
`)
	f.Add([]byte{127, 0, 0, 1}, uint16(80), uint8(1))
	f.Add([]byte{198, 18, 3, 4}, uint16(53), uint8(2))
	f.Add([]byte{10, 1, 2, 3}, uint16(9), uint8(3))
	f.Fuzz(func(t *testing.T, a []byte, port uint16, proto uint8) {
		if len(a) != 4 {
			return
		}
		v4 := netip.AddrFrom4([4]byte(a))
		mapped := netip.AddrFrom16(v4.As16())
		pr := Proto(proto%3 + 1)
		d4 := p.Decide(Request{Proto: pr, Addr: v4, Port: port})
		d6 := p.Decide(Request{Proto: pr, Addr: mapped, Port: port})
		if d4 != d6 {
			t.Fatalf("%v and %v decided differently: %+v vs %+v", v4, mapped, d4, d6)
		}
		if (d4.Verdict == Deny) != (d4.Errno != 0) {
			t.Fatalf("verdict %v with errno %v", d4.Verdict, d4.Errno)
		}
	})
}

func BenchmarkDecide(b *testing.B) {
	text := "version: 1\ndefault: deny\nrules:\n"
	for i := range 19 {
		text += "  - allow: tcp 198.18." + string(rune('0'+i%10)) + ".0/24:1000-2000\n"
	}
	text += "  - allow: tcp 127.0.0.1:8080\n"
	p := mustParse(b, text)
	req := Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 8080}
	b.ReportAllocs()
	for b.Loop() {
		if p.Decide(req).Verdict != Allow {
			b.Fatal("not allowed")
		}
	}
}

func TestMayResolve(t *testing.T) {
	p := mustParse(t, `version: 1
default: deny
rules:
  - deny: tcp secret.example.com
  - allow: tcp example.com:443
  - allow: udp *.cdn.example.net
  - allow: tcp 198.18.0.0/24
  - allow: unix /run/*
`)
	for name, want := range map[string]bool{
		"example.com":        true,
		"EXAMPLE.COM.":       true,
		"a.cdn.example.net":  true,
		"cdn.example.net":    false, // *.suffix is strictly below it
		"other.org":          false, // an address rule makes no name resolvable
		"secret.example.com": false,
	} {
		if got := p.MayResolve(name); got != want {
			t.Errorf("MayResolve(%q) = %v, want %v", name, got, want)
		}
	}
	if !mustParse(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp *:443\n").MayResolve("any.name") {
		t.Error("an allow rule for any address must make every name resolvable")
	}
	if !mustParse(t, "version: 1\ndefault: allow\n").MayResolve("any.name") {
		t.Error("a default-allow policy must resolve every name")
	}
}
