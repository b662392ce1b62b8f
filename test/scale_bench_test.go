package test

import (
	"fmt"
	"net"
	"testing"
	"time"
)

// BenchmarkStartup measures what starting costs: `sandbox run -- true` in
// each network mode against running true natively, rounds alternating so
// that machine noise hits all alike; medians in milliseconds.
func BenchmarkStartup(b *testing.B) {
	requireRoot(b)
	pol := writePolicy(b, "version: 1\ndefault: deny\n")
	runs := map[string][]string{
		"native":  {"/bin/true"},
		"host":    sandboxedIn("host", pol, "/bin/true"),
		"none":    sandboxedIn("none", pol, "/bin/true"),
		"sandbox": inSandboxMode(pol, "/bin/true"),
	}
	order := []string{"native", "host", "none", "sandbox"}
	const rounds = 15
	took := map[string][]float64{}
	for range b.N {
		for range rounds {
			for _, mode := range order {
				start := time.Now()
				if r := runCmd(b, time.Minute, runs[mode]...); r.status != 0 {
					b.Fatalf("%s: status %d: %s", mode, r.status, r.stderr)
				}
				took[mode] = append(took[mode], float64(time.Since(start).Microseconds())/1e3)
			}
		}
	}
	for _, mode := range order {
		b.ReportMetric(median(took[mode]), mode+"-ms")
	}
	b.Logf("start and end of true: native %.1f ms, --net host %.1f ms, --net none %.1f ms, --net sandbox %.1f ms (medians of %d)",
		median(took["native"]), median(took["host"]), median(took["none"]), median(took["sandbox"]), rounds)
}

// BenchmarkConcurrentConnects: 1,000 connects from 100 threads at once to
// a listener on the host's loopback — natively, in --net host, and in --net
// sandbox through the gateway — with the latency percentiles of each; a
// connect lost or stuck (not done within 10 s) fails the run.
func BenchmarkConcurrentConnects(b *testing.B) {
	requireRoot(b)
	prog := buildC(b, "progs/fanout.c")
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	serve(ln, func(net.Conn) {}) // accept, and close at once
	port := fmt.Sprint(ln.Addr().(*net.TCPAddr).Port)
	pol := writePolicy(b, "version: 1\ndefault: deny\nrules:\n  - allow: tcp 127.0.0.1:"+port+"\n")
	runs := map[string][]string{
		"native":  {prog, "100", "10", "127.0.0.1", port},
		"host":    sandboxed(pol, prog, "100", "10", "127.0.0.1", port),
		"sandbox": inSandboxMode(pol, prog, "100", "10", "100.96.0.1", port),
	}
	order := []string{"native", "host", "sandbox"}
	const rounds = 5
	p50, p99 := map[string][]float64{}, map[string][]float64{}
	for range b.N {
		for range rounds {
			for _, mode := range order {
				r := runCmd(b, 2*time.Minute, runs[mode]...)
				var a, c, max float64
				var failed int
				if _, err := fmt.Sscanf(r.stdout, "p50=%g p99=%g max=%g failed=%d", &a, &c, &max, &failed); err != nil || r.status != 0 {
					b.Fatalf("%s: %q (status %d, %s)", mode, r.stdout, r.status, r.stderr)
				}
				if failed != 0 {
					b.Fatalf("%s: %d of 1000 connects failed or stuck", mode, failed)
				}
				p50[mode] = append(p50[mode], a)
				p99[mode] = append(p99[mode], c)
			}
		}
	}
	for _, mode := range order {
		b.ReportMetric(median(p50[mode])/1e3, mode+"-p50-µs")
		b.ReportMetric(median(p99[mode])/1e3, mode+"-p99-µs")
	}
	b.Logf("1,000 connects from 100 threads (medians of %d runs): native p50 %.0f µs p99 %.0f µs; --net host p50 %.0f µs p99 %.0f µs; --net sandbox p50 %.0f µs p99 %.0f µs",
		rounds, median(p50["native"])/1e3, median(p99["native"])/1e3, median(p50["host"])/1e3, median(p99["host"])/1e3, median(p50["sandbox"])/1e3, median(p99["sandbox"])/1e3)
}
