package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
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
		want       []string // each "LINE:COL: substring of the message", in order
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
		{"two documents", "version: 1\n---\nrules: []\n", []string{"2:1: a policy file holds one YAML document"}},
		{"quoted version", "version: \"1\"\n", []string{"1:10: version \"1\": the only policy version is 1"}},
		{"version as a list", "version: [1]\n", []string{"1:10: version (a list)"}},
		{"key not a name", "version: 1\n[a]: 1\n", []string{"2:1: a key must be a name"}},
		{"tagged default", "version: 1\ndefault: !foo allow\n", []string{"2:10: default \"allow\": want allow or deny"}},
		{"default as a list", "version: 1\ndefault: [deny]\n", []string{"2:10: default (a list)"}},
		{"errno as a list", "version: 1\nrules:\n  - deny: tcp *\n    errno: [EPERM]\n", []string{"4:12: errno (a list): want an errno name"}},
		{"duplicate key in rule", "version: 1\nrules:\n  - deny: tcp *\n    deny: udp *\n", []string{"4:5: duplicate key \"deny\" in rule (first at line 3)"}},
		{"rule value a number", "version: 1\nrules:\n  - allow: 8080\n", []string{"3:12: allow \"8080\": want PROTO DEST"}},
		{"rule value empty", "version: 1\nrules:\n  - deny:\n", []string{"3:10: deny \"\": want PROTO DEST"}},
		{"rule value a list", "version: 1\nrules:\n  - allow: [tcp, \"*\"]\n", []string{"3:12: allow (a list): want PROTO DEST"}},
		{"two dests", "version: 1\nrules:\n  - allow: tcp 127.0.0.1 ::1\n", []string{"3:12: rule \"tcp 127.0.0.1 ::1\": want PROTO DEST"}},
		{"unbracketed v6 cidr", "version: 1\nrules:\n  - allow: ip fd00::/8\n", []string{"3:15: \"fd00::/8\": IPv6 addresses go in brackets"}},
		{"bracketed v4", "version: 1\nrules:\n  - allow: tcp [127.0.0.1]:80\n", []string{"3:16: \"[127.0.0.1]:80\": brackets are for IPv6"}},
		{"bracketed name", "version: 1\nrules:\n  - allow: tcp [example.com]\n", []string{"3:16: \"[example.com]\": brackets are for IPv6"}},
		{"junk after bracket", "version: 1\nrules:\n  - allow: udp [::1]53\n", []string{"3:16: \"[::1]53\": want [IPv6]:PORTS"}},
		{"bad v6 cidr", "version: 1\nrules:\n  - allow: ip [fd00::/129]\n", []string{"3:15: \"fd00::/129\" is not a valid CIDR"}},
		{"short ipv4", "version: 1\nrules:\n  - allow: tcp 127.1\n", []string{"3:16: \"127.1\" is not a valid IPv4 address"}},
		{"label too long", "version: 1\nrules:\n  - allow: tcp " + strings.Repeat("a", 64) + ".test\n", []string{"3:16: a label is longer than 63 characters"}},
		{"name too long", "version: 1\nrules:\n  - allow: tcp " + strings.Repeat("abcdefg.", 32) + "test\n", []string{"3:16: longer than 253 characters"}},
		{"hyphen at label end", "version: 1\nrules:\n  - allow: tcp a-.test\n", []string{"3:16: \"a-.test\" is neither an address"}},
		{"empty wildcard", "version: 1\nrules:\n  - allow: tcp *.:443\n", []string{"3:16: \"*.\": want *.SUFFIX"}},
		{"wildcard inside", "version: 1\nrules:\n  - allow: tcp a.*.test\n", []string{"3:16: \"a.*.test\" is neither an address"}},
		{"open range", "version: 1\nrules:\n  - allow: tcp *:1000-\n", []string{"3:23: port \"\" is not a number"}},
		{"star in a list", "version: 1\nrules:\n  - allow: tcp *:80,*\n", []string{"3:21: port \"*\" is not a number"}},
		{"empty abstract", "version: 1\nrules:\n  - allow: unix @\n", []string{"3:17: \"@\" needs an abstract name"}},
		{"bad abstract glob", "version: 1\nrules:\n  - allow: unix @[\n", []string{"3:17: \"@[\": bad pattern"}},
		{"unclean tree", "version: 1\nrules:\n  - allow: unix /run/../**\n", []string{"3:17: \"/run/../**\": write the path as /**"}},
		{"trailing slash", "version: 1\nrules:\n  - allow: unix /run/\n", []string{"3:17: \"/run/\": write the path as /run"}},
		{"listen unix", "version: 1\nrules:\n  - allow: listen unix /run/x.sock\n", []string{"3:19: listen unix: unix binds are not judged; a listen rule takes tcp, udp or ip"}},
		{"listen unix, spaced", "version: 1\nrules:\n  - allow: listen   unix @x\n", []string{"3:21: listen unix: unix binds are not judged"}},
		{"listen host name", "version: 1\nrules:\n  - allow: listen tcp example.com:80\n", []string{"3:23: \"example.com\": a listen rule names a local address, not a host"}},
		{"listen wildcard name", "version: 1\nrules:\n  - allow: listen udp *.example.com\n", []string{"3:23: \"*.example.com\": a listen rule names a local address, not a host"}},
		{"listen localhost", "version: 1\nrules:\n  - allow: listen tcp localhost:8080\n", []string{"3:23: (localhost: 127.0.0.1 and [::1])"}},
		{"listen bad name", "version: 1\nrules:\n  - allow: listen tcp exa$mple:80\n", []string{"3:23: \"exa$mple\": a listen rule names a local address, not a host"}},
		{"listen port too big", "version: 1\nrules:\n  - allow: listen tcp 127.0.0.1:99999\n", []string{"3:33: port 99999 is out of range"}},
		{"listen port not a number", "version: 1\nrules:\n  - allow: listen udp [::1]:dns\n", []string{"3:29: port \"dns\" is not a number"}},
		{"listen backwards range", "version: 1\nrules:\n  - deny: listen ip *:90-80\n", []string{"3:23: port range 90-80 runs backwards"}},
		{"listen bad ipv4", "version: 1\nrules:\n  - allow: listen tcp 127.0.0.256\n", []string{"3:23: \"127.0.0.256\" is not a valid IPv4 address"}},
		{"listen unbracketed v6", "version: 1\nrules:\n  - allow: listen tcp :::8080\n", []string{"3:23: \":::8080\": IPv6 addresses go in brackets"}},
		{"listen unknown proto", "version: 1\nrules:\n  - allow: listen sctp *\n", []string{"3:19: unknown protocol \"sctp\" after listen (want tcp, udp or ip)"}},
		{"listen without proto", "version: 1\nrules:\n  - allow: listen *:8080\n", []string{"3:12: rule \"listen *:8080\": want listen PROTO DEST"}},
		{"listen alone", "version: 1\nrules:\n  - allow: listen\n", []string{"3:12: rule \"listen\": want listen PROTO DEST"}},
		{"listen two dests", "version: 1\nrules:\n  - allow: listen tcp 127.0.0.1 [::1]\n", []string{"3:12: want listen PROTO DEST"}},
		{"listen misspelt", "version: 1\nrules:\n  - allow: lisen tcp *:80\n", []string{"3:12: rule \"lisen tcp *:80\": want PROTO DEST or listen PROTO DEST (did you mean listen?)"}},
		{"listen misspelt, no dest", "version: 1\nrules:\n  - allow: listn tcp\n", []string{"3:12: unknown protocol \"listn\" (did you mean listen?"}},
		{"listen errno on allow", "version: 1\nrules:\n  - allow: listen tcp *:22\n    errno: EPERM\n", []string{"4:12: errno applies only to deny rules"}},
		{"listen bad errno", "version: 1\nrules:\n  - deny: listen tcp *:22\n    errno: EADDRINUS\n", []string{"4:12: unknown errno \"EADDRINUS\" (did you mean EADDRINUSE?)"}},
		{"listen quoted (errors point at the value)", "version: 1\nrules:\n  - allow: \"listen tcp example.com\"\n", []string{"3:12: a listen rule names a local address, not a host"}},
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
				pos, msg, _ := strings.Cut(w, ": ")
				if !strings.HasPrefix(lines[i], "p.yaml:"+pos+": ") || !strings.Contains(lines[i], msg) {
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
  - allow: ip *
  - allow: tcp *:*
  - allow: unix *
  - allow: tcp 198.18.0.1:80,443,8000-8080
  - allow: tcp [fd00::/8]:443
  - allow: tcp Example.COM.:443
  - allow: unix /**
  - allow: unix /run/*/**
  - allow: udp 0.0.0.0/0:0
  - allow: tcp [::ffff:127.0.0.1]:80
  - allow: 'unix @*'
  - allow: tcp   *.com
  - deny: ip [::]:65535
  - allow: tcp project_db_1:5432
`)
	if p.Default != Allow || p.Errno != syscall.ECONNREFUSED || len(p.Rules) != 25 {
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
		"allow ip any address all ports",
		"allow tcp any address all ports",
		"allow unix any unix socket",
		"allow tcp 198.18.0.1 ports 80,443,8000-8080",
		"allow tcp fd00::/8 port 443",
		"allow tcp host example.com port 443",
		"allow unix paths under /",
		"allow unix paths under /run/*/",
		"allow udp 0.0.0.0/0 port 0",
		"allow tcp 127.0.0.1 port 80",
		"allow unix abstract names matching *",
		"allow tcp hosts *.com all ports",
		"deny ip :: port 65535",
		"allow tcp host project_db_1 port 5432",
	}
	for i, r := range p.Rules {
		if r.Summary() != wantSummaries[i] {
			t.Errorf("rule %d summary %q, want %q", i, r.Summary(), wantSummaries[i])
		}
	}
	if r := p.Rules[0]; r.Pos != (Pos{"p.yaml", 5, 12}) || r.Text != "tcp 127.0.0.1:8080" {
		t.Errorf("rule 0 at %v text %q", r.Pos, r.Text)
	}
	if got := p.HostnameRules(); len(got) != 5 || got[0] != p.Rules[3] || got[1] != p.Rules[4] || got[2] != p.Rules[16] || got[3] != p.Rules[22] || got[4] != p.Rules[24] {
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

func TestParseListen(t *testing.T) {
	p := mustParse(t, `version: 1
default: deny
rules:
  - allow: listen tcp 127.0.0.1:8080
  - allow: listen udp *:5353
  - deny: listen ip *:22
    errno: EADDRINUSE
  - allow: listen tcp 0.0.0.0:80
  - allow: listen tcp [::]:443
  - allow: listen ip [::1]
  - allow: listen tcp [fd00::/8]:1-1024
  - allow: listen udp 198.18.0.0/15
  - allow: listen tcp [::ffff:127.0.0.1]:80
  - allow: listen tcp [::ffff:0.0.0.0]:80
  - allow: listen tcp 0.0.0.0/0
  - allow: 'listen  udp   *'
  - allow: listen tcp *:*
  - deny: listen ip 127.0.0.0/8:80,443
  - allow: tcp 127.0.0.1:8080
  - allow: ip *
`)
	want := []struct {
		summary string
		listen  bool
	}{
		{"allow listen tcp 127.0.0.1 port 8080", true},
		{"allow listen udp every address port 5353", true},
		{"deny listen ip every address port 22 → EADDRINUSE", true},
		{"allow listen tcp every address port 80", true},
		{"allow listen tcp every address port 443", true},
		{"allow listen ip ::1 all ports", true},
		{"allow listen tcp fd00::/8 ports 1-1024", true},
		{"allow listen udp 198.18.0.0/15 all ports", true},
		{"allow listen tcp 127.0.0.1 port 80", true},
		{"allow listen tcp every address port 80", true},
		{"allow listen tcp 0.0.0.0/0 all ports", true}, // a range, not "every address"
		{"allow listen udp every address all ports", true},
		{"allow listen tcp every address all ports", true},
		{"deny listen ip 127.0.0.0/8 ports 80,443", true},
		{"allow tcp 127.0.0.1 port 8080", false},
		{"allow ip any address all ports", false},
	}
	if len(p.Rules) != len(want) {
		t.Fatalf("%d rules, want %d", len(p.Rules), len(want))
	}
	for i, r := range p.Rules {
		if r.Summary() != want[i].summary || r.Listen() != want[i].listen {
			t.Errorf("rule %d (%q): summary %q listen %v, want %q %v", i, r.Text, r.Summary(), r.Listen(), want[i].summary, want[i].listen)
		}
	}
	if r := p.Rules[0]; r.Text != "listen tcp 127.0.0.1:8080" || r.Pos != (Pos{"p.yaml", 4, 12}) {
		t.Errorf("rule 0: text %q at %v", r.Text, r.Pos)
	}
	if r := p.Rules[2]; r.Errno != syscall.EADDRINUSE || r.Verdict != Deny {
		t.Errorf("rule 2: %v %v, want deny EADDRINUSE", r.Verdict, r.Errno)
	}
	if got := p.HostnameRules(); len(got) != 0 {
		t.Errorf("HostnameRules = %v, want none", got)
	}
	// An allow rule for every address makes every name resolvable, but a
	// listen rule speaks of the program's own addresses, not of names.
	listenOnly := mustParse(t, "version: 1\ndefault: deny\nrules:\n  - allow: listen tcp *\n  - allow: listen ip *:53\n")
	if mayResolve(listenOnly, "example.com") {
		t.Error("a listen rule made a name resolvable")
	}
}

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
		{"tcp rule not other ip", Request{Proto: OtherIP, Addr: ip("127.0.0.1")}, Deny, syscall.EPERM, -1},
		{"v4 rule never v6", Request{Proto: TCP, Addr: ip("::7f00:1"), Port: 80}, Deny, syscall.EPERM, -1},
		{"v6 cidr low edge", Request{Proto: UDP, Addr: ip("fd00::"), Port: 1}, Allow, 0, 6},
		{"v6 cidr high edge", Request{Proto: TCP, Addr: ip("fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Port: 1}, Allow, 0, 6},
		{"v6 cidr below", Request{Proto: TCP, Addr: ip("fcff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"), Port: 1}, Deny, syscall.EPERM, -1},
		{"v4 cidr below", Request{Proto: TCP, Addr: ip("126.255.255.255"), Port: 1}, Deny, syscall.EPERM, -1},
		{"range below", Request{Proto: TCP, Addr: ip("198.18.0.255"), Port: 999}, Deny, syscall.EPERM, -1},
		{"cidr edge, range", Request{Proto: TCP, Addr: ip("198.18.0.255"), Port: 1500}, Allow, 0, 3},
		{"ip star, v6, ip rule meets tcp", Request{Proto: TCP, Addr: ip("2001:db8::1"), Port: 9}, Deny, syscall.EPERM, 10},
		{"ip star, other ip", Request{Proto: OtherIP, Addr: ip("198.18.0.1"), Port: 9}, Deny, syscall.EPERM, 10},
		{"name needs its port", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 80, Names: []string{"example.com"}}, Deny, syscall.EPERM, -1},
		{"name needs its proto", Request{Proto: UDP, Addr: ip("198.18.1.1"), Port: 443, Names: []string{"example.com"}}, Deny, syscall.EPERM, -1},
		{"any of the names", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 443, Names: []string{"cdn.test", "example.com"}}, Allow, 0, 4},
		{"not a subdomain", Request{Proto: TCP, Addr: ip("198.18.1.1"), Port: 443, Names: []string{"www.example.com"}}, Deny, syscall.EPERM, -1},
		{"unix glob case", Request{Proto: Unix, Unix: "/run/PostgreSQL/s"}, Deny, syscall.EPERM, -1},
		{"unix tree, not the dir itself", Request{Proto: Unix, Unix: "/srv"}, Deny, syscall.EPERM, -1},
		{"abstract with NUL", Request{Proto: Unix, Unix: "@abs-\x00x"}, Allow, 0, 9},
		{"path is not abstract", Request{Proto: Unix, Unix: "/abs-1"}, Deny, syscall.EPERM, -1},
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
	allow := mustParse(t, "version: 1\ndefault: allow\nrules:\n  - deny: tcp *:25\n")
	if d := allow.Decide(Request{Proto: TCP, Addr: ip("198.18.0.1"), Port: 1}); d.Verdict != Allow || d.Errno != 0 || d.Rule != nil {
		t.Errorf("default allow: %+v", d)
	}
	if d := allow.Decide(Request{Proto: TCP, Addr: ip("198.18.0.1"), Port: 25}); d.Verdict != Deny || d.Errno != syscall.EACCES || d.Rule != allow.Rules[0] {
		t.Errorf("deny rule without errno in a policy without errno: %+v, want EACCES", d)
	}
}

func TestDecideListen(t *testing.T) {
	p := mustParse(t, `version: 1
default: deny
errno: EPERM
rules:
  - deny: listen tcp 127.0.0.1:25
    errno: EADDRINUSE
  - allow: listen tcp 127.0.0.0/8
  - allow: listen udp [::1]:5353
  - allow: listen ip *:8080
  - allow: listen tcp 0.0.0.0/0:9000
  - allow: listen tcp [fd00::/8]:443
  - deny: listen udp [::]:53
    errno: EACCES
  - allow: tcp 198.18.0.5:80
  - allow: tcp *:7000
  - allow: tcp allowed.example:6000
`)
	bind := func(proto Proto, addr string, port uint16) Request {
		return Request{Proto: proto, Addr: ip(addr), Port: port, Listen: true}
	}
	tests := []struct {
		name    string
		req     Request
		verdict Verdict
		errno   syscall.Errno
		rule    int // index of the deciding rule; -1 for the default
	}{
		{"rule errno", bind(TCP, "127.0.0.1", 25), Deny, syscall.EADDRINUSE, 0},
		{"specific address in a range", bind(TCP, "127.0.0.1", 80), Allow, 0, 1},
		{"range edge", bind(TCP, "127.255.255.254", 1), Allow, 0, 1},
		{"mapped meets v4 rules", bind(TCP, "::ffff:127.0.0.1", 80), Allow, 0, 1},
		{"mapped meets v4 rule errno", bind(TCP, "::ffff:127.0.0.1", 25), Deny, syscall.EADDRINUSE, 0},
		{"port 0 (the kernel picks)", bind(TCP, "127.0.0.2", 0), Allow, 0, 1},
		{"wildcard bind is not the loopback", bind(TCP, "0.0.0.0", 80), Deny, syscall.EPERM, -1},
		{"mapped wildcard bind", bind(TCP, "::ffff:0.0.0.0", 80), Deny, syscall.EPERM, -1},
		{"wildcard bind, every-address rule", bind(TCP, "0.0.0.0", 8080), Allow, 0, 3},
		{"v6 wildcard bind, every-address rule", bind(UDP, "::", 8080), Allow, 0, 3},
		{"every-address rule, specific bind", bind(OtherIP, "198.18.0.5", 8080), Allow, 0, 3},
		{"every-address rule, v6 bind", bind(TCP, "fe80::1", 8080), Allow, 0, 3},
		{"0.0.0.0/0 is a range: not the wildcard", bind(TCP, "0.0.0.0", 9000), Deny, syscall.EPERM, -1},
		{"0.0.0.0/0, specific bind", bind(TCP, "198.18.0.5", 9000), Allow, 0, 4},
		{"0.0.0.0/0 never v6", bind(TCP, "fd01::1", 9000), Deny, syscall.EPERM, -1},
		{"v6 rule", bind(UDP, "::1", 5353), Allow, 0, 2},
		{"v6 rule, other proto", bind(TCP, "::1", 5353), Deny, syscall.EPERM, -1},
		{"v6 wildcard is not ::1", bind(UDP, "::", 5353), Deny, syscall.EPERM, -1},
		{"v6 range", bind(TCP, "fd00::1", 443), Allow, 0, 5},
		{"v6 wildcard is not a v6 range", bind(TCP, "::", 443), Deny, syscall.EPERM, -1},
		{"v4 rule never v6", bind(TCP, "::7f00:1", 80), Deny, syscall.EPERM, -1},
		{"[::] rule, v6 wildcard", bind(UDP, "::", 53), Deny, syscall.EACCES, 6},
		{"[::] rule is every address: v4 wildcard", bind(UDP, "0.0.0.0", 53), Deny, syscall.EACCES, 6},
		{"[::] rule is every address: specific", bind(UDP, "198.18.0.5", 53), Deny, syscall.EACCES, 6},
		{"connect rules do not judge binds", bind(TCP, "198.18.0.5", 80), Deny, syscall.EPERM, -1},
		{"connect * does not judge binds", bind(TCP, "0.0.0.0", 7000), Deny, syscall.EPERM, -1},
		{"names are ignored", Request{Proto: TCP, Addr: ip("198.18.0.6"), Port: 6000, Names: []string{"allowed.example"}, Listen: true}, Deny, syscall.EPERM, -1},
		{"unix binds meet no listen rule", Request{Proto: Unix, Unix: "/x", Listen: true}, Deny, syscall.EPERM, -1},
		{"listen rules do not judge connects", Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 80}, Deny, syscall.EPERM, -1},
		{"every-address listen rule does not judge connects", Request{Proto: UDP, Addr: ip("198.18.0.5"), Port: 8080}, Deny, syscall.EPERM, -1},
		{"listen errno rule does not judge connects", Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 25}, Deny, syscall.EPERM, -1},
		{"connect rule", Request{Proto: TCP, Addr: ip("198.18.0.5"), Port: 80}, Allow, 0, 7},
		{"connect name rule", Request{Proto: TCP, Addr: ip("198.18.0.6"), Port: 6000, Names: []string{"allowed.example"}}, Allow, 0, 9},
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

	// Default allow allows listening too; a deny rule without errno gets
	// the policy's.
	allow := mustParse(t, "version: 1\ndefault: allow\nrules:\n  - deny: ip *\n  - deny: listen tcp *:22\n")
	for _, tt := range []struct {
		req  Request
		want Decision
	}{
		{bind(TCP, "0.0.0.0", 80), Decision{Verdict: Allow}},
		{bind(UDP, "::", 22), Decision{Verdict: Allow}},
		{bind(TCP, "::", 22), Decision{Verdict: Deny, Errno: syscall.EACCES, Rule: allow.Rules[1]}},
		{bind(TCP, "127.0.0.1", 22), Decision{Verdict: Deny, Errno: syscall.EACCES, Rule: allow.Rules[1]}},
		{Request{Proto: TCP, Addr: ip("198.18.0.1"), Port: 80}, Decision{Verdict: Deny, Errno: syscall.EACCES, Rule: allow.Rules[0]}},
	} {
		if d := allow.Decide(tt.req); d != tt.want {
			t.Errorf("default allow, %+v: %+v, want %+v", tt.req, d, tt.want)
		}
	}
	deny := mustParse(t, "version: 1\nerrno: ECONNREFUSED\nrules:\n  - allow: ip *\n")
	if d := deny.Decide(bind(TCP, "127.0.0.1", 80)); d != (Decision{Verdict: Deny, Errno: syscall.ECONNREFUSED}) {
		t.Errorf("default deny, bind: %+v, want deny ECONNREFUSED by the default", d)
	}
}

// TestRebinding: a name never stands for a special address — the loopback,
// link-local, multicast or unspecified — so a host-name rule cannot allow
// one, whatever the sandbox's DNS said the name resolved to.
func TestRebinding(t *testing.T) {
	p := mustParse(t, `version: 1
default: deny
rules:
  - allow: tcp allowed.example:80
  - allow: tcp *.wild.example:80
`)
	names := []string{"allowed.example", "a.wild.example"}
	for _, a := range []string{
		"169.254.169.254", "::ffff:169.254.169.254", "127.0.0.1", "127.1.2.3", "::ffff:127.0.0.1",
		"224.0.0.1", "239.1.2.3", "fe80::1", "ff02::1", "ff05::2", "ff01::1", "0.0.0.0", "::", "::1",
	} {
		if d := p.Decide(Request{Proto: TCP, Addr: ip(a), Port: 80, Names: names}); d.Verdict != Deny || d.Rule != nil {
			t.Errorf("%s with names %v: %v by %v, want the default's deny", a, names, d.Verdict, d.Rule)
		}
	}
	for _, a := range []string{"198.18.0.5", "::ffff:198.18.0.5", "fd00::5", "2001:db8::1", "10.0.0.1"} {
		if d := p.Decide(Request{Proto: TCP, Addr: ip(a), Port: 80, Names: names[:1]}); d.Verdict != Allow || d.Rule != p.Rules[0] {
			t.Errorf("%s with its name: %v by %v, want allowed by the name rule", a, d.Verdict, d.Rule)
		}
	}
	// A rule naming the address, or a range holding it, still allows it.
	byAddr := mustParse(t, `version: 1
rules:
  - allow: tcp allowed.example:80
  - allow: tcp 169.254.169.254:80
  - allow: tcp [fe80::/10]
  - allow: tcp *:8080
`)
	for _, tt := range []struct {
		addr string
		port uint16
		rule int
	}{{"169.254.169.254", 80, 1}, {"fe80::1", 80, 2}, {"127.0.0.1", 8080, 3}, {"224.0.0.1", 8080, 3}, {"198.18.0.5", 80, 0}} {
		d := byAddr.Decide(Request{Proto: TCP, Addr: ip(tt.addr), Port: tt.port, Names: names})
		if d.Verdict != Allow || d.Rule != byAddr.Rules[tt.rule] {
			t.Errorf("%s:%d: %v by %v, want allowed by rule %d", tt.addr, tt.port, d.Verdict, d.Rule, tt.rule)
		}
	}
}

// TestDecideUnix covers the unix destinations the first table does not.
func TestDecideUnix(t *testing.T) {
	p := mustParse(t, `version: 1
rules:
  - deny: unix /run/*/secret.sock
  - allow: unix /run/*/**
  - allow: unix /**
`)
	for dest, want := range map[string]int{ // index of the deciding rule; -1 for the default
		"/run/a/secret.sock":   0,
		"/run/a/b/secret.sock": 1,
		"/run/a/x.sock":        1,
		"/run/x.sock":          2, // not below a directory /run/*
		"/x":                   2,
		"@x":                   -1, // paths only
	} {
		d := p.Decide(Request{Proto: Unix, Unix: dest})
		got := slices.Index(p.Rules, d.Rule)
		if got != want {
			t.Errorf("%q decided by rule %d, want %d", dest, got, want)
		}
	}
	anyUnix := mustParse(t, "version: 1\nrules:\n  - allow: unix *\n")
	for _, dest := range []string{"/a", "@", "@x/y", ""} {
		if d := anyUnix.Decide(Request{Proto: Unix, Unix: dest}); d.Verdict != Allow {
			t.Errorf("unix * on %q: %v", dest, d.Verdict)
		}
	}
	if d := anyUnix.Decide(Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 1}); d.Verdict != Deny {
		t.Errorf("unix * allowed TCP")
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("version: 1\nrules:\n  - allow: tcp 127.0.0.1:80\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := Load(good)
	if err != nil || p.Source != good || p.Rules[0].Pos != (Pos{good, 3, 12}) {
		t.Fatalf("Load(%s) = %+v, %v", good, p, err)
	}
	if got := p.Rules[0].Pos.Short(); got != good+":3" {
		t.Errorf("Short() = %q", got)
	}
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Load of a missing file: %v; want ErrNotExist naming the path", err)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\ndefault: no\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(bad); err == nil || !strings.HasPrefix(err.Error(), bad+":2:10: ") {
		t.Errorf("Load of a bad file: %v", err)
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
		{Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 8080, Listen: true}, Allow},
		{Request{Proto: UDP, Addr: ip("127.0.0.53"), Port: 53, Listen: true}, Allow},
		{Request{Proto: TCP, Addr: ip("::ffff:127.0.0.1"), Port: 8080, Listen: true}, Allow},
		{Request{Proto: TCP, Addr: ip("::1"), Port: 8080, Listen: true}, Allow},
		{Request{Proto: OtherIP, Addr: ip("::1"), Listen: true}, Allow},
		{Request{Proto: TCP, Addr: ip("0.0.0.0"), Port: 8080, Listen: true}, Deny},
		{Request{Proto: TCP, Addr: ip("::"), Port: 8080, Listen: true}, Deny},
		{Request{Proto: UDP, Addr: ip("::ffff:0.0.0.0"), Port: 8080, Listen: true}, Deny},
		{Request{Proto: TCP, Addr: ip("198.18.0.1"), Port: 8080, Listen: true}, Deny},
		{Request{Proto: TCP, Addr: ip("169.254.169.254"), Port: 80, Names: []string{"localhost"}}, Deny},
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
		"version: 1\nrules:\n  - allow: unix /**\n  - allow: unix /run/*/**\n  - allow: tcp example.com.:80,443,8000-8080\n",
		"version: 1\nrules:\n  - allow: tcp [::ffff:127.0.0.1]:80\n  - allow: udp 0.0.0.0/0:0\n  - deny: ip *\n",
		"version: 1\n---\nversion: 1\n",
		"version: 1\nrules:\n  - alow: tcp *:70000\n    errno: EACES\n  - allow: udp ::1:53\n",
		"a: &x [*x]\n",
		"{",
		"version: 1\nrules:\n  - allow: listen tcp 127.0.0.1:8080\n  - allow: listen udp *:5353\n  - deny: listen ip *:22\n    errno: EADDRINUSE\n",
		"version: 1\nrules:\n  - allow: listen tcp [::]:443\n  - allow: listen ip [fd00::/8]\n  - allow: listen tcp 0.0.0.0\n",
		"version: 1\nrules:\n  - allow: listen unix /x\n  - allow: listen tcp example.com\n  - allow: listen\n",
	} {
		f.Add([]byte(seed))
	}
	reqs := []Request{
		{Proto: TCP, Addr: ip("127.0.0.1"), Port: 80},
		{Proto: TCP, Addr: ip("::ffff:127.0.0.1"), Port: 8080},
		{Proto: UDP, Addr: ip("::1"), Port: 53, Names: []string{"a.b"}},
		{Proto: OtherIP, Addr: ip("198.18.0.1")},
		{Proto: TCP, Port: 1, Names: []string{"example.com."}}, // no address
		{Proto: Unix, Unix: "/run/x"},
		{Proto: Unix, Unix: "@x"},
		{Proto: Unix},
		{Proto: TCP, Addr: ip("127.0.0.1"), Port: 8080, Listen: true},
		{Proto: UDP, Addr: ip("::"), Port: 5353, Listen: true},
		{Proto: TCP, Addr: ip("::ffff:0.0.0.0"), Port: 22, Listen: true, Names: []string{"example.com"}},
		{Proto: OtherIP, Addr: ip("fd00::1"), Listen: true},
		{Proto: TCP, Addr: ip("169.254.169.254"), Port: 80, Names: []string{"example.com"}},
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse("f.yaml", data)
		if err != nil {
			if p != nil {
				t.Fatal("Parse returned both a policy and an error")
			}
			errs := []error{err}
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				errs = j.Unwrap()
			}
			for _, e := range errs {
				pe, ok := e.(*Error)
				if !ok || pe.Pos.File != "f.yaml" || pe.Pos.Line < 1 || pe.Pos.Col < 1 || pe.Msg == "" || strings.Contains(pe.Msg, "\n") {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		for _, r := range p.Rules {
			if r.Summary() == "" || r.Verdict == 0 || r.Text == "" || r.Pos.Line < 1 {
				t.Fatalf("rule %q: empty summary, verdict, text or position", r.Text)
			}
			if r.Errno != 0 && r.Verdict != Deny {
				t.Fatalf("rule %q: errno on an allow rule", r.Text)
			}
			if r.Listen() && (r.IsName() || r.proto == protoUnix || !strings.HasPrefix(r.Summary(), r.Verdict.String()+" listen ")) {
				t.Fatalf("listen rule %q: a name, unix, or summary %q", r.Text, r.Summary())
			}
		}
		for _, req := range reqs {
			d := p.Decide(req)
			if (d.Verdict == Deny) != (d.Errno != 0) {
				t.Fatalf("%+v: verdict %v with errno %v", req, d.Verdict, d.Errno)
			}
			if d.Rule != nil && d.Rule.Listen() != req.Listen {
				t.Fatalf("%+v decided by %q", req, d.Rule.Text)
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
  - allow: tcp [::ffff:192.0.2.0/120]:443
  - deny: ip [::/0]
  - allow: tcp *.example.org:80,443
  - allow: udp *:5353
  - allow: unix /run/**
  - allow: unix @abs-*
  - allow: tcp a.example.org:443
  - deny: listen tcp 127.0.0.1:25
    errno: EADDRINUSE
  - allow: listen tcp 127.0.0.0/8:1-1000
  - deny: listen udp *:53
  - allow: listen ip [fd00::/8]
  - allow: listen tcp 0.0.0.0/0:8000-9000
  - allow: listen ip [::1]
`)
	// proto: bits 0-1 the protocol, bit 2 a listen request.
	f.Add([]byte{127, 0, 0, 1}, uint16(80), uint8(1), "")
	f.Add([]byte{198, 18, 3, 4}, uint16(53), uint8(2), "")
	f.Add([]byte{10, 1, 2, 3}, uint16(9), uint8(3), "x")
	f.Add([]byte{192, 0, 2, 200}, uint16(443), uint8(1), "a.example.org")
	f.Add([]byte{198, 18, 0, 1}, uint16(80), uint8(4), "/run/a/b")
	f.Add([]byte{0, 0, 0, 0}, uint16(0), uint8(4), "@abs-1")
	f.Add([]byte{192, 0, 2, 1}, uint16(443), uint8(0), "a.example.org")
	f.Add([]byte{169, 254, 169, 254}, uint16(443), uint8(0), "a.example.org")
	f.Add([]byte{127, 0, 0, 1}, uint16(25), uint8(4), "")
	f.Add([]byte{0, 0, 0, 0}, uint16(8080), uint8(4), "")
	f.Add([]byte{198, 18, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, uint16(8080), uint8(6), "")
	f.Add([]byte{0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(53), uint8(5), "x")
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, uint16(53), uint8(6), "")
	f.Fuzz(func(t *testing.T, a []byte, port uint16, proto uint8, name string) {
		if len(a) < 4 {
			return
		}
		pr := Proto(proto%4 + 1)
		listen := proto&4 != 0
		if pr == Unix {
			if d := p.Decide(Request{Proto: Unix, Unix: name, Listen: listen}); (d.Verdict == Deny) != (d.Errno != 0) || listen && d.Rule != nil {
				t.Fatalf("unix %q (listen %v): verdict %v with errno %v by %v", name, listen, d.Verdict, d.Errno, d.Rule)
			}
			return
		}
		// check holds for every decision of a request for addr.
		check := func(addr netip.Addr, d Decision) {
			t.Helper()
			if (d.Verdict == Deny) != (d.Errno != 0) {
				t.Fatalf("%v: verdict %v with errno %v", addr, d.Verdict, d.Errno)
			}
			if d.Rule != nil && d.Rule.Listen() != listen {
				t.Fatalf("%v (listen %v) decided by %q", addr, listen, d.Rule.Text)
			}
			// Binding the unspecified address binds every address: only
			// a rule for every address may judge it.
			if listen && addr.Unmap().IsUnspecified() && d.Rule != nil && !d.Rule.dest.any {
				t.Fatalf("bind to %v decided by %q", addr, d.Rule.Text)
			}
		}
		// decide decides for addr with and without the name: the name may
		// matter only for a connect to an address it may stand for.
		decide := func(addr netip.Addr) Decision {
			t.Helper()
			d := p.Decide(Request{Proto: pr, Addr: addr, Port: port, Names: []string{name}, Listen: listen})
			check(addr, d)
			u := addr.Unmap()
			special := u.IsLoopback() || u.IsLinkLocalUnicast() || u.IsMulticast() || u.IsUnspecified()
			if listen || special {
				if dn := p.Decide(Request{Proto: pr, Addr: addr, Port: port, Listen: listen}); dn != d {
					t.Fatalf("%v (listen %v): the name %q changed the decision: %+v vs %+v", addr, listen, name, d, dn)
				}
			}
			return d
		}
		v4 := netip.AddrFrom4([4]byte(a))
		mapped := netip.AddrFrom16(v4.As16())
		if d4, d6 := decide(v4), decide(mapped); d4 != d6 {
			t.Fatalf("%v and %v decided differently: %+v vs %+v", v4, mapped, d4, d6)
		}
		if len(a) >= 16 { // a real IPv6 address never meets an IPv4 rule
			v6 := netip.AddrFrom16([16]byte(a))
			d := decide(v6)
			if !v6.Is4In6() && d.Rule != nil && d.Rule != p.Rules[4] && !d.Rule.dest.any && !d.Rule.dest.prefix.Addr().Is6() && !d.Rule.IsName() {
				t.Fatalf("%v decided by %q", v6, d.Rule.Text)
			}
		}
	})
}

// BenchmarkDecide decides against a 20-rule policy of every kind of IP
// rule: the request matches the last rule, or none.
func BenchmarkDecide(b *testing.B) {
	var rules []string
	for i := range 4 {
		rules = append(rules,
			fmt.Sprintf("allow: tcp 198.18.%d.0/24:1000-2000", i),
			fmt.Sprintf("deny: udp [fd00:%x::/32]:53,5353", i),
			fmt.Sprintf("allow: tcp host%d.example.com:443", i),
			fmt.Sprintf("allow: tcp *.cdn%d.example.net:80,443", i),
			fmt.Sprintf("allow: unix /run/app%d/**", i))
	}
	rules = append(rules[:19], "allow: tcp 127.0.0.1:8080")
	p := mustParse(b, "version: 1\ndefault: deny\nrules:\n  - "+strings.Join(rules, "\n  - ")+"\n")
	if len(p.Rules) != 20 {
		b.Fatalf("%d rules", len(p.Rules))
	}
	names := []string{"www.example.org", "other.example.org"}
	for _, bm := range []struct {
		name string
		req  Request
		want Verdict
	}{
		{"last rule", Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 8080, Names: names}, Allow},
		{"v4-mapped", Request{Proto: TCP, Addr: ip("::ffff:127.0.0.1"), Port: 8080, Names: names}, Allow},
		{"default", Request{Proto: TCP, Addr: ip("198.18.9.1"), Port: 8080, Names: names}, Deny},
		{"listen", Request{Proto: TCP, Addr: ip("127.0.0.1"), Port: 8080, Listen: true}, Deny},
		{"special address", Request{Proto: TCP, Addr: ip("169.254.169.254"), Port: 443, Names: []string{"host3.example.com"}}, Deny},
	} {
		b.Run(bm.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if p.Decide(bm.req).Verdict != bm.want {
					b.Fatal("wrong verdict")
				}
			}
		})
	}
}

// mayResolve reports whether p lets the sandbox's DNS look name up.
func mayResolve(p *Policy, name string) bool { return p.DecideName(name).Verdict == Allow }

func TestDecideName(t *testing.T) {
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
		if got := mayResolve(p, name); got != want {
			t.Errorf("DecideName(%q) allows: %v, want %v", name, got, want)
		}
	}
	if !mayResolve(mustParse(t, "version: 1\ndefault: deny\nrules:\n  - allow: tcp *:443\n"), "any.name") {
		t.Error("an allow rule for any address must make every name resolvable")
	}
	if !mayResolve(mustParse(t, "version: 1\ndefault: allow\n"), "any.name") {
		t.Error("a default-allow policy must resolve every name")
	}
}

// TestErrnoName: the one spelling of an errno in what the sandbox prints.
func TestErrnoName(t *testing.T) {
	for e, want := range map[syscall.Errno]string{0: "", syscall.EACCES: "EACCES", syscall.ECONNREFUSED: "ECONNREFUSED", 4095: "errno 4095"} {
		if got := ErrnoName(e); got != want {
			t.Errorf("ErrnoName(%d) = %q, want %q", int(e), got, want)
		}
	}
}
