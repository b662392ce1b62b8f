// Package docker holds the Docker tests: the sandbox runs inside a
// container, with exactly the docker run flags the README gives for its
// network mode, against servers in other containers on a Docker network of
// the test's own; every outcome is read on the server's side.
//
// The images are made locally with no registry (docker import of a tar
// holding static binaries: the sandbox and test/docker/peer), cached under
// a tag that is the hash of their contents. The network is --internal (no
// way off the bridge) in 198.19.224.0/19, the part of 198.18.0.0/15 the
// other tests' hosts never take; no container is ever attached to another
// network. `make test-docker` makes sure a daemon answers first.
package docker

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	// label marks everything the tests create, so that leftovers of a
	// run that was killed can be found and removed by a later one.
	label = "sandbox-test=docker"
	// imageRepo is the local repository of the test image; its tags are
	// content hashes.
	imageRepo = "sandbox-docker-test"
	// staleAfter is the age past which a labelled container, network or
	// image is a leftover: longer than any run (make's timeout is 15m).
	staleAfter = time.Hour
	// serverLifetime bounds a server container's life (it is started
	// with --rm): past any run, in case the run is killed before it
	// removes its servers.
	serverLifetime = "20m"
	// The ports the servers listen on: TCP on both, 8081 on the allowed
	// server only for the denied-port case, UDP on both.
	tcpPort, otherTCPPort, udpPort = "8080", "8081", "5353"
	// dockerDNS is Docker's embedded DNS server, every container's
	// resolver on a user-defined network.
	dockerDNS = "127.0.0.11"
)

// The world the tests share, made on first use (setUp) so that a run
// selecting no test here (-run '^$', -bench) touches no daemon.
var (
	setUpOnce sync.Once
	setUpErr  error
	w         world
	cleanups  []func() // undone by TestMain, last first
)

// world is what setUp made.
type world struct {
	image           string // the test image, content-hash tagged
	network         string // the Docker network of this run
	allowed, denied server
	runID           string // in every name, so concurrent runs never clash
}

// server is a container running `peer serve`.
type server struct{ name, ip string }

func TestMain(m *testing.M) {
	code := m.Run()
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	os.Exit(code)
}

// env returns the shared world, failing the test if it cannot be made.
func env(t *testing.T) *world {
	t.Helper()
	if _, err := docker(context.Background(), "info", "--format", "{{.ServerVersion}}"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Docker daemon answers, and CI runs these tests through make test-docker, which starts one: %v", err)
		}
		t.Skipf("no Docker daemon answers (make test-docker installs and starts one): %v", err)
	}
	setUpOnce.Do(func() { setUpErr = setUp() })
	if setUpErr != nil {
		t.Fatal(setUpErr)
	}
	return &w
}

func setUp() error {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return err
	}
	w.runID = fmt.Sprintf("%d-%x", os.Getpid(), b)
	image, err := buildImage()
	if err != nil {
		return err
	}
	w.image = image
	removeStale(image)
	if w.network, err = createNetwork("sbxdk-" + w.runID); err != nil {
		return err
	}
	if w.allowed, err = startServer("allowed", "-tcp", tcpPort+","+otherTCPPort, "-udp", udpPort); err != nil {
		return err
	}
	w.denied, err = startServer("denied", "-tcp", tcpPort, "-udp", udpPort)
	return err
}

// docker runs the docker client and returns its stdout; an error carries
// its stderr.
func docker(ctx context.Context, args ...string) (string, error) {
	return dockerIn(ctx, nil, args...)
}

func dockerIn(ctx context.Context, stdin []byte, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return out.String(), fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), nil
}

// buildImage builds the static binaries and imports them as an image
// tagged with the hash of its contents; an image with that tag already
// there is used as it is, which makes a second run cheap.
func buildImage() (string, error) {
	dir, err := os.MkdirTemp("", "sbxdk-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	builds := []struct {
		out  string
		args []string
		env  []string
	}{
		// libseccomp is C: a static cgo build against Debian's
		// libseccomp.a and glibc, with Go's own resolver and user
		// lookup so no glibc NSS module is needed in an empty image.
		{"sandbox", []string{"-tags", "netgo,osusergo", "-ldflags", `-linkmode external -extldflags "-static"`, "../../cmd/sandbox"}, []string{"CGO_ENABLED=1"}},
		{"peer", []string{"./peer"}, []string{"CGO_ENABLED=0"}},
	}
	files := map[string][]byte{}
	for _, b := range builds {
		out := filepath.Join(dir, b.out)
		cmd := exec.Command("go", append([]string{"build", "-o", out}, b.args...)...)
		cmd.Env = append(os.Environ(), b.env...)
		if msg, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("build %s: %w\n%s", b.out, err, msg)
		}
		if files["bin/"+b.out], err = os.ReadFile(out); err != nil {
			return "", err
		}
	}
	rootfs, err := rootfsTar(files)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(rootfs)
	image := imageRepo + ":" + hex.EncodeToString(sum[:8])
	ctx := context.Background()
	if _, err := docker(ctx, "image", "inspect", image); err == nil {
		return image, nil
	}
	if _, err := dockerIn(ctx, rootfs, "import", "--change", "LABEL "+label, "-", image); err != nil {
		return "", err
	}
	return image, nil
}

// rootfsTar is an image's file system: the files (all executables), /etc
// for the files Docker mounts there, and /tmp, where the sandbox writes the
// resolv.conf it shows the program.
func rootfsTar(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Fixed times, so equal contents give an equal hash.
	epoch := time.Unix(0, 0)
	for _, d := range []struct {
		name string
		mode int64
	}{{"bin/", 0o755}, {"etc/", 0o755}, {"tmp/", 0o1777}} {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d.name, Mode: d.mode, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: n, Mode: 0o755, Size: int64(len(files[n])), ModTime: epoch}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[n]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// createNetwork makes an internal bridge network in the first free /24 of
// 198.19.224.0/19, starting at one chosen by pid so concurrent runs seldom
// try the same; Docker refuses a subnet that overlaps one in use.
func createNetwork(name string) (string, error) {
	const slots = 32 // 198.19.224.0/24 … 198.19.255.0/24
	var lastErr error
	for i := range slots {
		subnet := fmt.Sprintf("198.19.%d.0/24", 224+(os.Getpid()+i)%slots)
		_, err := docker(context.Background(), "network", "create", "--internal", "--subnet", subnet, "--label", label, name)
		if err == nil {
			cleanups = append(cleanups, func() { docker(context.Background(), "network", "rm", name) })
			return name, nil
		}
		if !strings.Contains(err.Error(), "overlap") {
			return "", err
		}
		lastErr = err
	}
	return "", fmt.Errorf("no free /24 in 198.19.224.0/19 for the test network: %w", lastErr)
}

// startServer starts `peer serve` in a container on the test network,
// reachable by the alias role, and waits until it listens.
func startServer(role string, args ...string) (server, error) {
	s := server{name: fmt.Sprintf("sbxdk-%s-%s", w.runID, role)}
	ctx := context.Background()
	cleanups = append(cleanups, func() { docker(ctx, "rm", "-f", s.name) })
	run := append([]string{"run", "-d", "--rm", "--name", s.name, "--label", label, "--network", w.network, "--network-alias", role, "--cap-drop", "ALL", w.image, "/bin/peer", "serve", "-for", serverLifetime}, args...)
	if _, err := docker(ctx, run...); err != nil {
		return s, err
	}
	ip, err := docker(ctx, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", s.name)
	if err != nil {
		return s, err
	}
	s.ip = strings.TrimSpace(ip)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		lines, err := s.log()
		if err != nil {
			return s, err
		}
		if slices.Contains(lines, "listening") {
			return s, nil
		}
		if time.Now().After(deadline) {
			return s, fmt.Errorf("server %s did not start listening: %q", s.name, lines)
		}
	}
}

// log is everything the server has written: one line per arrival.
func (s server) log() ([]string, error) {
	out, err := docker(context.Background(), "logs", s.name)
	if err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimSpace(out), "\n"), nil
}

// removeStale removes what killed runs left behind, and images of trees
// gone by: labelled containers, networks and images older than staleAfter
// (a run in progress is younger), but not this run's image, however old.
// Best effort: a failure here fails nothing.
func removeStale(keepImage string) {
	ctx := context.Background()
	keep := ""
	if id, err := docker(ctx, "image", "inspect", "-f", "{{.Id}}", keepImage); err == nil {
		keep = strings.TrimSpace(id)
	}
	for _, kind := range []struct{ list, rm []string }{
		{[]string{"ps", "-aq"}, []string{"rm", "-f"}},
		{[]string{"network", "ls", "-q"}, []string{"network", "rm"}},
		{[]string{"images", "-q"}, []string{"rmi"}},
	} {
		ids, err := docker(ctx, append(kind.list, "--filter", "label="+label)...)
		if err != nil || strings.TrimSpace(ids) == "" {
			continue
		}
		out, err := docker(ctx, append([]string{"inspect", "-f", "{{.Id}} {{.Created}}"}, strings.Fields(ids)...)...)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(strings.NewReader(out))
		for sc.Scan() {
			id, created, _ := strings.Cut(sc.Text(), " ")
			if at, err := time.Parse(time.RFC3339Nano, created); err == nil && time.Since(at) > staleAfter && id != keep {
				docker(ctx, append(kind.rm, id)...)
			}
		}
	}
}

// result is what a client container left.
type result struct {
	stdout string
	// sandboxLines are the lines of stderr the sandbox wrote (the docker
	// client adds warnings of its own there).
	sandboxLines []string
	status       int
}

// runSandboxed runs, in a fresh container on the test network with the
// docker run flags given, `sandbox run --net MODE --policy P -- peer ARGS`
// with policyText as P.
func (w *world) runSandboxed(t *testing.T, flags []string, mode, policyText string, peerArgs ...string) result {
	t.Helper()
	pol := filepath.Join(t.TempDir(), "policy.yaml")
	if err := os.WriteFile(pol, []byte(policyText), 0o644); err != nil {
		t.Fatal(err)
	}
	name := fmt.Sprintf("sbxdk-%s-%s", w.runID, randHex(t))
	t.Cleanup(func() { docker(context.Background(), "rm", "-f", name) })
	argv := []string{"run", "--rm", "--name", name, "--label", label, "--network", w.network, "-v", pol + ":/policy.yaml:ro"}
	argv = append(argv, flags...)
	argv = append(argv, w.image, "/bin/sandbox", "run", "--net", mode, "--policy", "/policy.yaml", "--", "/bin/peer")
	argv = append(argv, peerArgs...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "docker", argv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("docker %q did not finish within a minute\nstdout:\n%s\nstderr:\n%s", argv, out.String(), errb.String())
	}
	r := result{stdout: out.String()}
	for _, l := range strings.Split(errb.String(), "\n") {
		if strings.HasPrefix(l, "sandbox: ") {
			r.sandboxLines = append(r.sandboxLines, l)
		}
	}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.status = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			t.Fatalf("docker %q killed by %v", argv, ws.Signal())
		}
	case err != nil:
		t.Fatalf("docker %q: %v", argv, err)
	}
	return r
}

func randHex(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b[:])
}

// token is a word that names one exchange, so the servers' logs tell
// whether exactly that one arrived.
func token(t *testing.T) string {
	return strings.NewReplacer("/", "-", " ", "_").Replace(t.Name()) + "-" + randHex(t)
}

// waitReceived fails the test unless the server logs that token arrived
// over proto (tcp or udp) on port.
func waitReceived(t *testing.T, s server, proto, port, tok string) {
	t.Helper()
	want := fmt.Sprintf("%s %s data %s", proto, port, tok)
	var lines []string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		var err error
		if lines, err = s.log(); err != nil {
			t.Fatal(err)
		}
		for _, l := range lines {
			if l == want || strings.HasPrefix(l, want+" ") {
				return
			}
		}
	}
	t.Errorf("server %s never logged %q; its log:\n%s", s.name, want, strings.Join(lines, "\n"))
}

// checked is how many of each server's log lines expectNothingReached has
// looked at already, so that a breach is reported once, by the test during
// or after which it arrived, not again by every test after it.
var checked = map[string]int{}

// expectNothingReached fails the test if anything reached a place no
// policy of these tests allows: the denied server (any protocol, any port)
// and the allowed server's other TCP port. It waits a moment first, so an
// arrival still on its way is counted.
func expectNothingReached(t *testing.T) {
	t.Helper()
	time.Sleep(200 * time.Millisecond)
	for _, s := range []struct {
		srv    server
		banned func(line string) bool
	}{
		{w.denied, func(l string) bool { return l != "listening" }},
		{w.allowed, func(l string) bool { return strings.HasPrefix(l, "tcp "+otherTCPPort+" ") }},
	} {
		lines, err := s.srv.log()
		if err != nil {
			t.Fatal(err)
		}
		from := min(checked[s.srv.name], len(lines))
		checked[s.srv.name] = len(lines)
		for _, l := range lines[from:] {
			if s.banned(l) {
				t.Errorf("server %s received what every policy here denies: %q", s.srv.name, l)
			}
		}
	}
}
