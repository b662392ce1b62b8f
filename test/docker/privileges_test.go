package docker

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// readmeSection is the README's section these tests hold to its word.
const readmeSection = "## Running in containers"

// containerDoc is what the README's section says: the docker run flags
// for each network mode, and the line it shows the sandbox printing when
// grants are missing.
type containerDoc struct {
	// flags are the flags between "docker run" and IMAGE, by the --net
	// mode, and by "MODE as a user" for the lines with --user.
	flags   map[string][]string
	example string // the "sandbox: …" line the section shows
}

// documented are the lines the section must have.
var documented = []string{"host", "sandbox", "none", "host as a user", "none as a user"}

// readReadme reads the section from the README, so that the flags the
// tests use are exactly the ones a reader copies.
func readReadme(t *testing.T) containerDoc {
	t.Helper()
	data, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "\n"+readmeSection+"\n")
	if !ok {
		t.Fatalf("README.md has no %q section", readmeSection)
	}
	if end := strings.Index(section, "\n## "); end >= 0 {
		section = section[:end]
	}
	doc := containerDoc{flags: map[string][]string{}}
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "sandbox: ") {
			doc.example = line
		}
		f := strings.Fields(line)
		if len(f) < 2 || f[0] != "docker" || f[1] != "run" {
			continue
		}
		img := slices.Index(f, "IMAGE")
		net := slices.Index(f, "--net")
		if img < 0 || net < 0 || net+1 >= len(f) {
			t.Fatalf("README: %q: want docker run FLAGS IMAGE sandbox run --net MODE …", line)
		}
		key := f[net+1]
		if slices.Contains(f[:img], "--user") {
			key += " as a user"
		}
		doc.flags[key] = f[2:img]
	}
	for _, key := range documented {
		if doc.flags[key] == nil {
			t.Fatalf("README's %q section gives no docker run line for --net %s", readmeSection, key)
		}
	}
	return doc
}

// grants are the flag pairs in flags that give the container something
// (a capability, a device), as opposed to those that take away.
func grants(flags []string) [][2]string {
	var g [][2]string
	for i := 0; i+1 < len(flags); i += 2 {
		if flags[i] == "--cap-add" || flags[i] == "--device" {
			g = append(g, [2]string{flags[i], flags[i+1]})
		}
	}
	return g
}

// without is flags less the flag pairs given.
func without(flags []string, drop ...[2]string) []string {
	var out []string
	for i := 0; i+1 < len(flags); i += 2 {
		if !slices.Contains(drop, [2]string{flags[i], flags[i+1]}) {
			out = append(out, flags[i], flags[i+1])
		}
	}
	return out
}

// TestReadmeFlagsAreLeastPrivilege proves, for each mode, that the
// README's flags are enough (an allowed connection arrives, a denied one
// does not) and that every grant in them is needed: with any one taken
// away, and with all of them, the sandbox exits 125 before the program
// runs, with one line that names each missing grant by its flag.
func TestReadmeFlagsAreLeastPrivilege(t *testing.T) {
	doc := readReadme(t)
	w := env(t)
	for _, key := range documented {
		flags := doc.flags[key]
		mode, _, _ := strings.Cut(key, " ")
		t.Run(key, func(t *testing.T) {
			t.Run("enough", func(t *testing.T) {
				tok := token(t)
				pol := fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:%s\n", w.allowed.ip, tcpPort)
				r := w.runSandboxed(t, flags, mode, pol, "dial", "tcp", w.allowed.ip+":"+tcpPort, tok)
				if mode == "none" {
					// Only a loopback of its own: the allowed host is
					// out of reach, as in an empty namespace.
					if r.status != 1 || !strings.Contains(r.stdout, "network is unreachable") {
						t.Errorf("--net none: status %d, stdout %q, sandbox said %q: want the program to run and find no route", r.status, r.stdout, r.sandboxLines)
					}
				} else {
					if r.status != 0 || strings.TrimSpace(r.stdout) != "ok "+tok {
						t.Fatalf("with the README's flags %q: status %d, stdout %q, sandbox said %q", flags, r.status, r.stdout, r.sandboxLines)
					}
					waitReceived(t, w.allowed, "tcp", tcpPort, tok)
				}
				r = w.runSandboxed(t, flags, mode, pol, "dial", "tcp", w.denied.ip+":"+tcpPort, token(t))
				if r.status != 1 || !strings.Contains(r.stdout, "permission denied") {
					t.Errorf("denied connect: status %d, stdout %q, sandbox said %q: want EACCES", r.status, r.stdout, r.sandboxLines)
				}
				expectNothingReached(t)
			})
			all := grants(flags)
			cases := map[string][][2]string{"all": all}
			for _, g := range all {
				cases[g[0]+" "+g[1]] = [][2]string{g}
			}
			for name, drop := range cases {
				t.Run("without "+name, func(t *testing.T) {
					// The program prints whatever happens to it, so
					// an empty stdout says it never ran.
					r := w.runSandboxed(t, without(flags, drop...), mode, "version: 1\n", "dial", "tcp", "127.0.0.1:9", token(t))
					if r.status != 125 || len(r.sandboxLines) != 1 || r.stdout != "" {
						t.Fatalf("status %d, stdout %q, sandbox lines %q: want 125, nothing from the program, one line", r.status, r.stdout, r.sandboxLines)
					}
					for _, g := range drop {
						if flag := g[0] + " " + g[1]; !strings.Contains(r.sandboxLines[0], flag) {
							t.Errorf("%q does not name the missing %s", r.sandboxLines[0], flag)
						}
					}
				})
			}
		})
	}
}

// TestReadmeExampleMessage: the failure line the README shows is the one
// the sandbox prints for what it says is missing there.
func TestReadmeExampleMessage(t *testing.T) {
	doc := readReadme(t)
	w := env(t)
	if doc.example == "" {
		t.Fatalf("README's %q section shows no sandbox: line", readmeSection)
	}
	flags := without(doc.flags["sandbox"], [2]string{"--cap-add", "NET_ADMIN"}, [2]string{"--device", "/dev/net/tun"})
	r := w.runSandboxed(t, flags, "sandbox", "version: 1\n", "dial", "tcp", "127.0.0.1:9", token(t))
	if r.status != 125 || len(r.sandboxLines) != 1 || r.sandboxLines[0] != doc.example {
		t.Errorf("status %d, sandbox said %q; the README shows\n%s", r.status, r.sandboxLines, doc.example)
	}
}
