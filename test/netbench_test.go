package test

import (
	"encoding/json"
	"fmt"
	"os/exec"
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

// BenchmarkSandboxThroughput measures bulk TCP from a program to a test
// host natively, through --net sandbox's netstack, and through slirp4netns
// and pasta set up the same way, in one run, rounds alternating; it prints
// the table and reports each as Gbit/s and as a ratio.
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
	client := []string{"iperf3", "-c", h.addr, "-p", "5201", "-t", "3", "-J"}
	ways := []struct {
		name string
		argv []string
	}{
		{"native", client},
		{"sandbox", inSandboxMode(pol, client...)},
		{"slirp4netns", append([]string{"progs/slirp.sh"}, client...)},
		{"pasta", append([]string{"pasta", "--config-net", "--runas", "0", "-q", "--"}, client...)},
	}
	const rounds = 3
	got := map[string][]float64{}
	for range b.N {
		for range rounds {
			for _, w := range ways {
				got[w.name] = append(got[w.name], iperfGbits(b, w.argv...))
			}
		}
	}
	native := median(got["native"])
	var table strings.Builder
	fmt.Fprintf(&table, "bulk TCP to a test host, median of %d × 3 s:\n", rounds)
	for _, w := range ways {
		m := median(got[w.name])
		b.ReportMetric(m, w.name+"-Gbit/s")
		fmt.Fprintf(&table, "  %-12s %6.2f Gbit/s  %5.2f× native", w.name, m, m/native)
		if w.name == "sandbox" {
			fmt.Fprintf(&table, "  %.2f× slirp4netns  %.2f× pasta", m/median(got["slirp4netns"]), m/median(got["pasta"]))
		}
		table.WriteString("\n")
	}
	b.Log(table.String())
}

// BenchmarkSandboxConnectLatency measures connect+close to a test host
// natively, through --net host and --net sandbox (seccomp, and netstack),
// and through slirp4netns and pasta set up as for the throughput
// benchmark, medians of alternating rounds; it prints the table and
// reports each, and --net sandbox's ratios to native and to pasta.
func BenchmarkSandboxConnectLatency(b *testing.B) {
	requireRoot(b)
	prog := buildC(b, "progs/connbench.c")
	h := newTestHost(b)
	c := h.counter(b)
	pol := writePolicy(b, fmt.Sprintf("version: 1\ndefault: deny\nrules:\n  - allow: tcp %s:%d\n", h.addr, c.port()))
	args := []string{prog, "1000", h.addr, fmt.Sprint(c.port())}
	ways := []struct {
		name string
		argv []string
	}{
		{"native", args},
		{"host-mode", sandboxed(pol, args...)},
		{"sandbox-mode", inSandboxMode(pol, args...)},
		{"slirp4netns", append([]string{"progs/slirp.sh"}, args...)},
		{"pasta", append([]string{"pasta", "--config-net", "--runas", "0", "-q", "--"}, args...)},
	}
	const rounds = 5
	got := map[string][]float64{}
	for range b.N {
		for range rounds {
			for _, w := range ways {
				got[w.name] = append(got[w.name], medianOf(b, runCmd(b, 2*time.Minute, w.argv...)))
			}
		}
	}
	native := median(got["native"])
	var table strings.Builder
	fmt.Fprintf(&table, "connect+close to a test host, median of %d × 1000:\n", rounds)
	for _, w := range ways {
		m := median(got[w.name])
		b.ReportMetric(m, w.name+"-ns/connect")
		fmt.Fprintf(&table, "  %-12s %7.1f µs  %5.2f× native\n", w.name, m/1e3, m/native)
	}
	s := median(got["sandbox-mode"])
	b.ReportMetric(s/native, "sandbox-ratio")
	b.ReportMetric(s/median(got["pasta"]), "sandbox-to-pasta")
	b.Log(table.String())
}
