package test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// iperfGbits runs an iperf3 client (argv ends with its arguments) and
// returns the throughput the server received, in Gbit/s.
func iperfGbits(b *testing.B, argv ...string) float64 {
	r := runCmd(b, 2*time.Minute, argv...)
	var out struct {
		End struct {
			SumReceived struct {
				BitsPerSecond float64 `json:"bits_per_second"`
			} `json:"sum_received"`
		} `json:"end"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || out.End.SumReceived.BitsPerSecond == 0 {
		b.Fatalf("%q: status %d, %v\n%s%s", argv, r.status, err, r.stdout, r.stderr)
	}
	return out.End.SumReceived.BitsPerSecond / 1e9
}

// peerWay is one way of running a benchmark's client: natively, in one of
// the sandbox's modes, or in a peer (slirp4netns, pasta, runsc).
type peerWay struct {
	name string
	argv []string
	peer bool // not the sandbox's own: --net sandbox is compared with it
}

// peerWays are the ways a benchmark's client argv runs, toward the test
// host h: natively, in --net host (withHost) and --net sandbox under pol,
// and in each peer set up the same way, each with its own network toward
// the test host and nothing beyond it. A peer that cannot run here is
// left out, and the returned note says why.
func peerWays(b *testing.B, h *testHost, pol string, withHost bool, argv ...string) (ways []peerWay, note string) {
	ways = append(ways, peerWay{name: "native", argv: argv})
	if withHost {
		ways = append(ways, peerWay{name: "host-mode", argv: sandboxed(pol, argv...)})
	}
	ways = append(ways,
		peerWay{name: "sandbox-mode", argv: inSandboxMode(pol, argv...)},
		peerWay{name: "slirp4netns", argv: append([]string{"progs/slirp.sh"}, argv...), peer: true},
		peerWay{name: "pasta", argv: append([]string{"pasta", "--config-net", "--runas", "0", "-q", "--"}, argv...), peer: true},
	)
	runsc, err := runscWay(b, h, argv...)
	if err != nil {
		return ways, "runsc not measured: " + err.Error()
	}
	return append(ways, peerWay{name: "runsc", argv: runsc, peer: true}), ""
}

// runscBin is gVisor's runsc, which make bench builds (bin/runsc) from the
// module proxy at the gVisor version go.mod pins.
const runscBin = "../bin/runsc"

// runscWay returns the argv that runs argv in gVisor's runsc with its own
// network stack (--network=sandbox, as gVisor runs containers), in a
// network namespace joined to h alone (progs/runsc.sh). The container's
// root is the host's, read-only, so that the test's programs and iperf3
// run as they are; it runs as root without capabilities. An error says
// why runsc cannot run here: not built, or it failed its first try.
func runscWay(b *testing.B, h *testHost, argv ...string) ([]string, error) {
	bin, err := filepath.Abs(runscBin)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("%s is not built (make bench builds it)", runscBin)
	}
	tmpfs := func(dir string) map[string]any {
		return map[string]any{"destination": dir, "type": "tmpfs", "source": "tmpfs"}
	}
	spec := map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"user": map[string]int{"uid": 0, "gid": 0},
			"args": argv,
			// iperf3 makes its buffer file in TMPDIR.
			"env":             []string{"PATH=/usr/bin:/bin", "TMPDIR=/var/tmp"},
			"cwd":             "/",
			"noNewPrivileges": true,
		},
		"root":   map[string]any{"path": "/", "readonly": true},
		"mounts": []any{map[string]any{"destination": "/proc", "type": "proc", "source": "proc"}, tmpfs("/dev"), tmpfs("/var/tmp")},
		"linux": map[string]any{"namespaces": []map[string]string{
			{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"},
			{"type": "network", "path": "@NETNS@"},
		}},
	}
	config, err := os.CreateTemp(workDir, "runsc-*.json")
	if err != nil {
		return nil, err
	}
	defer config.Close()
	if err := json.NewEncoder(config).Encode(spec); err != nil {
		return nil, err
	}
	way := []string{"progs/runsc.sh", bin, h.name, h.spare(), config.Name()}
	if r := runCmd(b, time.Minute, append(way[:len(way):len(way)], "/bin/true")...); r.status != 0 {
		return nil, fmt.Errorf("runsc failed here (status %d): %s", r.status, firstLine(r.stderr))
	}
	return way, nil
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	line, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return line
}

// BenchmarkSandboxThroughput measures bulk TCP between a program and a
// test host, both ways (the program sending, as an upload; receiving, as
// a package download), natively, through --net sandbox's netstack, and
// through slirp4netns, pasta and runsc set up the same way, in one run,
// rounds alternating; it prints the table and reports each as Gbit/s and
// as a ratio.
func BenchmarkSandboxThroughput(b *testing.B) {
	requireRoot(b)
	h := newTestHost(b)
	server := exec.Command("ip", "netns", "exec", h.name, "iperf3", "-s", "-p", "5201")
	if err := server.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { server.Process.Kill(); server.Wait() })
	time.Sleep(300 * time.Millisecond)
	pol := writePolicy(b, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:5201\n", h.addr))
	const rounds = 3
	var table strings.Builder
	for _, dir := range []struct {
		name, metric string
		args         []string
	}{
		{"the program sending (upload)", "", nil},
		{"the program receiving (download, iperf3 -R)", "-download", []string{"-R"}},
	} {
		argv := append([]string{"iperf3", "-c", h.addr, "-p", "5201", "-t", "3", "-J"}, dir.args...)
		ways, note := peerWays(b, h, pol, false, argv...)
		got := map[string][]float64{}
		for range b.N {
			for range rounds {
				for _, w := range ways {
					got[w.name] = append(got[w.name], iperfGbits(b, w.argv...))
				}
			}
		}
		native := median(got["native"])
		fmt.Fprintf(&table, "bulk TCP with a test host, %s, median of %d × 3 s:\n", dir.name, rounds)
		for _, w := range ways {
			m := median(got[w.name])
			b.ReportMetric(m, w.name+dir.metric+"-Gbit/s")
			fmt.Fprintf(&table, "  %-12s %6.2f Gbit/s  %5.2f× native\n", w.name, m, m/native)
		}
		if note != "" {
			fmt.Fprintf(&table, "  (%s)\n", note)
		}
	}
	b.Log(table.String())
}

// BenchmarkSandboxConnectLatency measures connect+close to a test host
// natively, through --net host and --net sandbox (seccomp, and netstack),
// and through slirp4netns, pasta and runsc set up as for the throughput
// benchmark, medians of alternating rounds; it prints the table (p50 and
// p99) and reports each, and --net sandbox's ratios to native and to the
// peers.
func BenchmarkSandboxConnectLatency(b *testing.B) {
	requireRoot(b)
	prog := buildC(b, "progs/connbench.c")
	h := newTestHost(b)
	c := h.counter(b)
	pol := writePolicy(b, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:%d\n", h.addr, c.port()))
	ways, note := peerWays(b, h, pol, true, prog, "1000", h.addr, fmt.Sprint(c.port()))
	const rounds = 5
	p50, p99 := map[string][]float64{}, map[string][]float64{}
	for range b.N {
		for range rounds {
			for _, w := range ways {
				med, tail := percentiles(b, runCmd(b, 2*time.Minute, w.argv...))
				p50[w.name] = append(p50[w.name], med)
				p99[w.name] = append(p99[w.name], tail)
			}
		}
	}
	native := median(p50["native"])
	s := median(p50["sandbox-mode"])
	var table strings.Builder
	fmt.Fprintf(&table, "connect+close to a test host, medians of %d × 1000:\n", rounds)
	for _, w := range ways {
		m := median(p50[w.name])
		b.ReportMetric(m, w.name+"-ns/connect")
		fmt.Fprintf(&table, "  %-12s p50 %7.1f µs  p99 %7.1f µs  %5.2f× native", w.name, m/1e3, median(p99[w.name])/1e3, m/native)
		if w.peer {
			fmt.Fprintf(&table, "  (--net sandbox: %.2f× its time)", s/m)
			b.ReportMetric(s/m, "sandbox-to-"+w.name)
		}
		table.WriteString("\n")
	}
	if note != "" {
		fmt.Fprintf(&table, "  (%s)\n", note)
	}
	b.ReportMetric(s/native, "sandbox-ratio")
	b.Log(table.String())
}
