package policy

import (
	"strings"
	"testing"
)

func TestShadowed(t *testing.T) {
	cases := []struct {
		name  string
		rules []string // "allow: tcp x" lines
		want  []string // "LINE by LINE" (dup marked "=") in rule order
	}{
		{"any covers all", []string{"allow: ip *", "deny: tcp 198.18.0.1:80"}, []string{"2 by 1"}},
		{"duplicate", []string{"allow: tcp 198.18.0.1:80", "allow: tcp 198.18.0.1:80"}, []string{"2 = 1"}},
		{"prefix covers address", []string{"deny: tcp 198.18.0.0/15", "allow: tcp 198.18.0.9:443"}, []string{"2 by 1"}},
		{"address does not cover prefix", []string{"allow: tcp 198.18.0.9", "allow: tcp 198.18.0.0/24"}, nil},
		{"ports", []string{"allow: tcp 198.18.0.1:1000-2000", "allow: tcp 198.18.0.1:1500,1999", "allow: tcp 198.18.0.1:999-1000"}, []string{"2 by 1"}},
		{"all ports only by all ports", []string{"allow: tcp 198.18.0.1:80", "allow: tcp 198.18.0.1"}, nil},
		{"tcp does not cover ip", []string{"allow: tcp *", "allow: ip 198.18.0.1"}, nil},
		{"ip covers udp", []string{"allow: ip *:53", "allow: udp 198.18.0.1:53"}, []string{"2 by 1"}},
		{"range does not cover a name", []string{"allow: tcp 0.0.0.0/0", "allow: tcp pkg.example"}, nil},
		{"wildcard covers deeper names", []string{"allow: tcp *.example", "allow: tcp a.b.example", "allow: tcp *.b.example", "allow: tcp example"}, []string{"2 by 1", "3 by 1"}},
		{"names ignore case", []string{"allow: tcp Pkg.Example", "allow: tcp pkg.example"}, []string{"2 = 1"}},
		{"listen apart", []string{"allow: tcp *", "allow: listen tcp 127.0.0.1:80", "deny: listen tcp *"}, nil},
		{"unix", []string{"allow: unix *", "allow: unix /run/x.sock"}, []string{"2 by 1"}},
		{"unix same pattern", []string{"allow: unix /run/*", "deny: unix /run/*"}, []string{"2 by 1"}},
		{"unix other patterns", []string{"allow: unix /run/*", "allow: unix /run/x.sock", "allow: unix @x"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("version: 1\nrules:\n")
			for _, r := range tc.rules {
				b.WriteString("  - " + r + "\n")
			}
			p, err := Parse("p.yaml", []byte(b.String()))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			line := map[*Rule]int{}
			for i, r := range p.Rules {
				line[r] = i + 1
			}
			for _, s := range p.Shadowed() {
				sep := "by"
				if s.Duplicate {
					sep = "="
				}
				got = append(got, strings.Join([]string{itoa(line[s.Rule]), sep, itoa(line[s.By])}, " "))
			}
			if strings.Join(got, ";") != strings.Join(tc.want, ";") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func itoa(i int) string { return string(rune('0' + i)) }
