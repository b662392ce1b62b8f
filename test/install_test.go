package test

import (
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// The repository's root, where make runs: tests run in test/.
const repoRoot = ".."

// makeIn runs make in the repository's root with args, as a user would
// from a shell: without the MAKEFLAGS of a make this test may run under
// (make integration), whose variables would override the Makefile's.
func makeIn(t testing.TB, timeout time.Duration, args ...string) result {
	t.Helper()
	argv := append([]string{"env", "-u", "MAKEFLAGS", "-u", "MFLAGS", "-u", "MAKELEVEL", "make", "--no-print-directory", "-C", repoRoot}, args...)
	return runCmd(t, timeout, argv...)
}

// requireTool fails the test when a program it needs is missing: .ci/deps
// installs it, so CI always has it.
func requireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: .ci/deps installs it (Debian package %s; make deps)", name, pkg)
	}
	return p
}

// installed lists what make install puts under DESTDIR with PREFIX=/usr:
// each file's path there, the file in the tree it copies and its mode.
var installed = []struct {
	path, src string
	mode      os.FileMode
}{
	{"usr/bin/sandbox", "bin/sandbox", 0o755},
	{"usr/share/man/man1/sandbox.1", "docs/sandbox.1", 0o644},
	{"usr/share/bash-completion/completions/sandbox", "completions/sandbox.bash", 0o644},
	{"usr/share/zsh/site-functions/_sandbox", "completions/_sandbox", 0o644},
}

// TestInstallUninstall: make install DESTDIR=… PREFIX=/usr puts the binary,
// the manual page and both completions where a package would, with their
// modes; the installed binary runs; make uninstall takes all four away.
// Installing never runs deps (apt-get): it needs no network.
func TestInstallUninstall(t *testing.T) {
	dest := t.TempDir()
	r := makeIn(t, 5*time.Minute, "install", "DESTDIR="+dest, "PREFIX=/usr")
	if r.status != 0 {
		t.Fatalf("make install: status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.stdout, r.stderr)
	}
	if strings.Contains(r.stdout, ".ci/deps") || strings.Contains(r.stdout, "apt-get") {
		t.Errorf("make install ran deps (it must need no network):\n%s", r.stdout)
	}
	for _, f := range installed {
		p := filepath.Join(dest, f.path)
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("make install did not install %s: %v", f.path, err)
			continue
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.mode {
			t.Errorf("%s: mode %v, want a regular file with mode %v", f.path, fi.Mode(), f.mode)
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join(repoRoot, f.src))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is not a copy of %s", f.path, f.src)
		}
	}
	bin := filepath.Join(dest, "usr/bin/sandbox")
	if v := runCmd(t, 30*time.Second, bin, "version"); v.status != 0 || !strings.HasPrefix(v.stdout, "sandbox ") || strings.Contains(v.stdout, "(devel)") {
		t.Errorf("installed %s version: status %d, stdout %q, stderr %q; want \"sandbox VERSION GO\" with the Makefile's version", bin, v.status, v.stdout, v.stderr)
	}

	// Without PREFIX, /usr/local; a dry run shows where.
	n := makeIn(t, time.Minute, "-n", "install", "DESTDIR="+dest)
	for _, want := range []string{
		dest + "/usr/local/bin/sandbox",
		dest + "/usr/local/share/man/man1/sandbox.1",
		dest + "/usr/local/share/bash-completion/completions/sandbox",
		dest + "/usr/local/share/zsh/site-functions/_sandbox",
	} {
		if !strings.Contains(n.stdout, want) {
			t.Errorf("make -n install DESTDIR=%s does not install %s (default PREFIX /usr/local):\n%s", dest, want, n.stdout)
		}
	}

	r = makeIn(t, time.Minute, "uninstall", "DESTDIR="+dest, "PREFIX=/usr")
	if r.status != 0 {
		t.Fatalf("make uninstall: status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.stdout, r.stderr)
	}
	for _, f := range installed {
		if _, err := os.Lstat(filepath.Join(dest, f.path)); err == nil {
			t.Errorf("make uninstall left %s", f.path)
		}
	}
	// Uninstalling what is not there is no error.
	if r := makeIn(t, time.Minute, "uninstall", "DESTDIR="+dest, "PREFIX=/usr"); r.status != 0 {
		t.Errorf("make uninstall a second time: status %d, stderr %q", r.status, r.stderr)
	}
}

// TestManPage: docs/sandbox.1 renders without a warning, and has the
// sections of a manual page and every command and flag of the CLI.
func TestManPage(t *testing.T) {
	groff := requireTool(t, "groff", "groff-base")
	page := filepath.Join(repoRoot, "docs/sandbox.1")
	// -ww: every warning; -z: no output, only the diagnostics.
	r := runCmd(t, 30*time.Second, groff, "-man", "-ww", "-z", page)
	if r.status != 0 || r.stderr != "" || r.stdout != "" {
		t.Errorf("groff -man -ww -z %s: status %d, warnings:\n%s%s", page, r.status, r.stderr, r.stdout)
	}
	if man, err := exec.LookPath("man"); err == nil {
		r := runCmd(t, 30*time.Second, "env", "MANWIDTH=80", man, "--warnings", "-l", page)
		if r.status != 0 || r.stderr != "" {
			t.Errorf("man --warnings -l %s: status %d, warnings:\n%s", page, r.status, r.stderr)
		}
	}
	r = runCmd(t, 30*time.Second, "env", "LC_ALL=C.UTF-8", groff, "-man", "-Tutf8", "-P", "-cbou", "-rLL=100n", page)
	if r.status != 0 {
		t.Fatalf("groff -Tutf8: status %d, stderr %q", r.status, r.stderr)
	}
	text := r.stdout
	var missing []string
	for _, want := range []string{
		"NAME", "SYNOPSIS", "DESCRIPTION", "POLICY FORMAT", "AUDIT LOG", "EXIT STATUS", "ERRORS", "FILES", "EXAMPLES", "SEE ALSO",
		"sandbox run", "sandbox check", "sandbox policy default", "sandbox version", "sandbox help",
		"--policy", "--net", "--dns", "--log", "--learn", "--quiet",
		"connect(2)", "seccomp_unotify(2)", "namespaces(7)",
		"EACCES", "125", "128+N", "took_us", "dns-denied", "listen",
	} {
		if !strings.Contains(text, want) {
			missing = append(missing, want)
		}
	}
	if len(missing) > 0 {
		t.Errorf("the rendered manual page lacks %q", missing)
	}
}

// bashComplete sources the bash completion in a bare bash (no rc files, no
// bash-completion) and returns COMPREPLY for the command line words, the
// last being the word completed.
func bashComplete(t *testing.T, words ...string) []string {
	t.Helper()
	script := `source "$1" || exit 1
complete -p sandbox >/dev/null || { echo "no completion registered for sandbox" >&2; exit 1; }
shift
COMP_WORDS=("$@")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
COMP_LINE="$*"
COMP_POINT=${#COMP_LINE}
COMPREPLY=()
_sandbox sandbox "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"`
	argv := append([]string{"bash", "--norc", "--noprofile", "-c", script, "bash", filepath.Join(repoRoot, "completions/sandbox.bash")}, words...)
	r := runCmd(t, 30*time.Second, argv...)
	if r.status != 0 {
		t.Fatalf("completing %q: status %d, stderr %q", words, r.status, r.stderr)
	}
	var reply []string
	for l := range strings.Lines(r.stdout) {
		if l = strings.TrimSuffix(l, "\n"); l != "" {
			reply = append(reply, l)
		}
	}
	return reply
}

// TestCompletions: bash reads the bash completion and completes the
// commands, run's flags and their values; zsh parses the zsh one.
func TestCompletions(t *testing.T) {
	t.Run("bash", func(t *testing.T) {
		file := filepath.Join(repoRoot, "completions/sandbox.bash")
		if r := runCmd(t, 30*time.Second, "bash", "-n", file); r.status != 0 {
			t.Fatalf("bash -n %s: status %d\n%s", file, r.status, r.stderr)
		}
		sorted := func(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }
		cases := []struct {
			words []string
			want  []string // exactly, in any order
		}{
			{[]string{"sandbox", "r"}, []string{"run"}},
			{[]string{"sandbox", ""}, []string{"run", "check", "policy", "version", "help", "agent", "oci-profile"}},
			{[]string{"sandbox", "run", "--net", ""}, []string{"sandbox", "host", "none"}},
			{[]string{"sandbox", "run", "--net", "h"}, []string{"host"}},
			// --net=<TAB>: bash splits the word at =.
			{[]string{"sandbox", "run", "--net", "=", ""}, []string{"sandbox", "host", "none"}},
			{[]string{"sandbox", "run", "--policy", "p.yaml", "--net", ""}, []string{"sandbox", "host", "none"}},
			{[]string{"sandbox", "run", "--q"}, []string{"--quiet"}},
			{[]string{"sandbox", "run", "--l"}, []string{"--log", "--learn"}},
			{[]string{"sandbox", "run", "--policy", filepath.Join(repoRoot, "examples/web-o")}, []string{filepath.Join(repoRoot, "examples/web-only.yaml")}},
			{[]string{"sandbox", "run", "--learn", filepath.Join(repoRoot, "examples/ci-")}, []string{filepath.Join(repoRoot, "examples/ci-job.yaml")}},
			{[]string{"sandbox", "check", filepath.Join(repoRoot, "examples/dev-")}, []string{filepath.Join(repoRoot, "examples/dev-server.yaml")}},
			{[]string{"sandbox", "policy", ""}, []string{"default"}},
			{[]string{"sandbox", "help", ""}, []string{"run", "check", "policy", "version", "help", "agent", "oci-profile"}},
			{[]string{"sandbox", "agent", "--pol"}, []string{"--policy", "--policy-dir"}},
			{[]string{"sandbox", "oci-profile", "--"}, []string{"--socket", "--metadata", "--base", "--help"}},
			{[]string{"sandbox", "help", "ch"}, []string{"check"}},
			{[]string{"sandbox", "version", ""}, nil},
		}
		for _, c := range cases {
			if got := bashComplete(t, c.words...); !slices.Equal(sorted(got), sorted(c.want)) {
				t.Errorf("%q<TAB>: COMPREPLY %q, want %q", strings.Join(c.words, " "), got, c.want)
			}
		}
		// After --, and at a word that is not a flag's value, the program:
		// a command on $PATH.
		for _, words := range [][]string{
			{"sandbox", "run", "--", "tru"},
			{"sandbox", "run", "--net", "host", "--", "tru"},
			{"sandbox", "run", "--net", "host", "tru"},
		} {
			if got := bashComplete(t, words...); !slices.Contains(got, "true") || slices.Contains(got, "--quiet") {
				t.Errorf("%q<TAB>: COMPREPLY %q, want the commands starting tru", strings.Join(words, " "), got)
			}
		}
	})
	t.Run("zsh", func(t *testing.T) {
		zsh, err := exec.LookPath("zsh")
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatal("zsh is not installed, and .ci/deps installs it in CI")
			}
			t.Skip("zsh is not installed (make deps installs it)")
		}
		file := filepath.Join(repoRoot, "completions/_sandbox")
		if r := runCmd(t, 30*time.Second, zsh, "-n", file); r.status != 0 || r.stderr != "" {
			t.Errorf("zsh -n %s: status %d\n%s", file, r.status, r.stderr)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("#compdef sandbox\n")) {
			t.Errorf("%s must begin with \"#compdef sandbox\", which compinit looks for", file)
		}
	})
}

// TestStaticBuild: make static links bin/sandbox-static statically
// (libseccomp and glibc inside, no program interpreter), stamped with the
// Makefile's version, and it runs a real program under a policy: the
// allowed listener is reached, the denied one receives nothing.
func TestStaticBuild(t *testing.T) {
	python := requireTool(t, "python3", "python3")
	r := makeIn(t, 5*time.Minute, "static")
	if r.status != 0 {
		t.Fatalf("make static: status %d\nstdout:\n%s\nstderr:\n%s", r.status, r.stdout, r.stderr)
	}
	if strings.Contains(r.stderr, "statically linked applications requires at runtime") {
		t.Errorf("make static: the linker warns of a glibc NSS call (netgo/osusergo should keep them out):\n%s", r.stderr)
	}
	bin, err := filepath.Abs(filepath.Join(repoRoot, "bin/sandbox-static"))
	if err != nil {
		t.Fatal(err)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("make static did not write an ELF file at %s: %v", bin, err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a PT_INTERP program header: it is dynamically linked", bin)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) != 0 {
		t.Errorf("%s needs shared libraries %q (%v); want none", bin, libs, err)
	}
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "1" || settings["-tags"] != "netgo,osusergo" ||
		!strings.Contains(settings["-ldflags"], "-X main.buildVersion=") || !strings.Contains(settings["-ldflags"], "-extldflags") {
		t.Errorf("%s was built with CGO_ENABLED=%q -tags=%q -ldflags=%q; want cgo, netgo,osusergo, the Makefile's -X main.buildVersion and -extldflags -static",
			bin, settings["CGO_ENABLED"], settings["-tags"], settings["-ldflags"])
	}
	if v := runCmd(t, 30*time.Second, bin, "version"); v.status != 0 || !strings.HasPrefix(v.stdout, "sandbox ") || strings.Contains(v.stdout, "(devel)") {
		t.Errorf("%s version: status %d, stdout %q; want the Makefile's version", bin, v.status, v.stdout)
	}

	if r := runCmd(t, 30*time.Second, bin, "run", "--net", "host", "--", "/bin/true"); r.status != 0 {
		t.Errorf("%s run --net host -- /bin/true: status %d, stderr %q", bin, r.status, r.stderr)
	}

	allowed, denied, pol := allowOne(t)
	const script = `import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"static")
s.close()
print("allowed")
try:
    socket.create_connection(("127.0.0.1", int(sys.argv[2])), timeout=10)
except PermissionError as e:
    print("denied", e.errno)
else:
    print("reached")
    sys.exit(1)
`
	r = runCmd(t, time.Minute, bin, "run", "--net", "host", "--policy", pol, "--",
		python, "-c", script, fmt.Sprint(allowed.port()), fmt.Sprint(denied.port()))
	if r.status != 0 || r.stdout != "allowed\ndenied 13\n" {
		t.Errorf("static sandbox: status %d, stdout %q, stderr %q; want the allowed connect to succeed and the denied one to get EACCES (13)", r.status, r.stdout, r.stderr)
	}
	if want := fmt.Sprintf("sandbox: denied 1 call: tcp 127.0.0.1:%d", denied.port()); !strings.Contains(r.stderr, want) {
		t.Errorf("static sandbox: stderr %q lacks the summary %q", r.stderr, want)
	}
	settle()
	if n := allowed.accepted.Load(); n != 1 {
		t.Errorf("allowed listener accepted %d connections, want 1", n)
	}
	expectNothingReached(t, denied)
}

// TestExamplesCheck: every policy in examples/ passes sandbox check, the
// install-time ones are there, and each says in a comment what it is for
// and how to run it.
func TestExamplesCheck(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples/*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"allow-all", "ci-job", "dev-server", "web-only", "pip-pypi", "npm", "go-modules", "debian-apt", "git-hosting"} {
		if !slices.Contains(files, filepath.Join(repoRoot, "examples", name+".yaml")) {
			t.Errorf("examples/%s.yaml is missing", name)
		}
	}
	for _, f := range files {
		r := runCmd(t, 30*time.Second, sandboxBin, "check", f)
		if r.status != 0 || !strings.HasPrefix(r.stdout, f+": ok: ") {
			t.Errorf("sandbox check %s: status %d\nstdout:\n%s\nstderr:\n%s", f, r.status, r.stdout, r.stderr)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, []byte("# ")) {
			t.Errorf("%s does not begin with a comment saying what it allows", f)
		}
	}
	// The package-manager examples name hosts: they say where those match
	// and how to run them.
	for _, name := range []string{"pip-pypi", "npm", "go-modules", "debian-apt", "git-hosting"} {
		f := filepath.Join(repoRoot, "examples", name+".yaml")
		b, err := os.ReadFile(f)
		if err != nil {
			continue // reported above
		}
		for _, want := range []string{"--net sandbox", "sandbox run --policy examples/" + name + ".yaml -- "} {
			if !strings.Contains(string(b), want) {
				t.Errorf("%s: its comment does not say %q", f, want)
			}
		}
	}
	// All at once, as `sandbox check examples/*.yaml` is run.
	if r := runCmd(t, 30*time.Second, append([]string{sandboxBin, "check"}, files...)...); r.status != 0 {
		t.Errorf("sandbox check examples/*.yaml: status %d\n%s%s", r.status, r.stdout, r.stderr)
	}
}
