package test

import (
	"fmt"
	"net"
	"slices"
	"testing"
	"time"
)

// BenchmarkConnectLatency measures a loopback TCP connect+close natively and
// under the sandbox (--net host, allow-all policy) in the same run, rounds
// alternating so that machine noise hits both alike, and reports the medians
// and their ratio. It is a measurement, not a pass/fail test.
func BenchmarkConnectLatency(b *testing.B) {
	prog := buildC(b, "progs/connbench.c")
	pol := writePolicy(b, "version: 1\ndefault: allow\n")
	const rounds, perRound = 7, 3000
	var native, sandbox []float64
	for range b.N {
		for range rounds {
			native = append(native, medianOf(b, runCmd(b, 2*time.Minute, prog, fmt.Sprint(perRound))))
			sandbox = append(sandbox, medianOf(b, runCmd(b, 2*time.Minute, sandboxed(pol, prog, fmt.Sprint(perRound))...)))
		}
	}
	n, s := median(native), median(sandbox)
	b.ReportMetric(n, "native-ns/connect")
	b.ReportMetric(s, "sandbox-ns/connect")
	b.ReportMetric(s/n, "ratio")
	b.Logf("connect+close on loopback, median of %d rounds × %d: native %.1f µs, sandbox %.1f µs, ratio %.2f×", rounds, perRound, n/1e3, s/1e3, s/n)
}

// BenchmarkDeniedConnectLatency measures what a denied connect costs the
// program — the supervisor's whole round trip, no connect made — against a
// native connect that a closed loopback port refuses, in the same run.
func BenchmarkDeniedConnectLatency(b *testing.B) {
	prog := buildC(b, "progs/denybench.c")
	pol := writePolicy(b, "version: 1\ndefault: deny\n")
	port := fmt.Sprint(closedPort(b))
	const rounds, perRound = 7, 5000
	var native, sandbox []float64
	for range b.N {
		for range rounds {
			native = append(native, medianOf(b, runCmd(b, 2*time.Minute, prog, port, fmt.Sprint(perRound))))
			sandbox = append(sandbox, medianOf(b, runCmd(b, 2*time.Minute, sandboxed(pol, prog, port, fmt.Sprint(perRound))...)))
		}
	}
	n, s := median(native), median(sandbox)
	b.ReportMetric(n, "refused-ns/connect")
	b.ReportMetric(s, "denied-ns/connect")
	b.ReportMetric(s/n, "ratio")
	b.Logf("native connect refused by a closed port %.1f µs; denied by the policy %.1f µs; ratio %.2f×", n/1e3, s/1e3, s/n)
}

// closedPort returns a loopback port nothing listens on.
func closedPort(b *testing.B) int {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// medianOf is the median of a latency program's report line.
func medianOf(b *testing.B, r result) float64 {
	med, _ := percentiles(b, r)
	return med
}

// percentiles reads the median and the 99th percentile from a latency
// program's report line (progs/latency.h).
func percentiles(b *testing.B, r result) (med, p99 float64) {
	var p90 float64
	if _, err := fmt.Sscanf(r.stdout, "median=%g p90=%g p99=%g", &med, &p90, &p99); err != nil || r.status != 0 {
		b.Fatalf("latency report: %q (status %d, %s)", r.stdout, r.status, r.stderr)
	}
	return med, p99
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSendLatency measures one addressed UDP send (sendto, sendmsg)
// and one sendmsg on a connected TCP socket natively and under the sandbox
// (--net host, allow-all) in the same run, per payload size: the cost of
// deciding and of copying the payload, which the supervisor sends itself.
func BenchmarkSendLatency(b *testing.B) {
	prog := buildC(b, "progs/sendbench.c")
	pol := writePolicy(b, "version: 1\ndefault: allow\n")
	const rounds, perRound = 5, 2000
	for _, kind := range []string{"sendto", "sendmsg", "stream"} {
		for _, size := range []int{64, 1400, 16384, 65000} {
			b.Run(fmt.Sprintf("%s/%dB", kind, size), func(b *testing.B) {
				args := []string{prog, kind, fmt.Sprint(size), fmt.Sprint(perRound)}
				var native, sandbox []float64
				for range b.N {
					for range rounds {
						native = append(native, medianOf(b, runCmd(b, 2*time.Minute, args...)))
						sandbox = append(sandbox, medianOf(b, runCmd(b, 2*time.Minute, sandboxed(pol, args...)...)))
					}
				}
				n, s := median(native), median(sandbox)
				b.ReportMetric(n, "native-ns/send")
				b.ReportMetric(s, "sandbox-ns/send")
				b.ReportMetric(s/n, "ratio")
				b.Logf("%s of %d B, median of %d rounds × %d: native %.1f µs, sandbox %.1f µs, ratio %.2f×", kind, size, rounds, perRound, n/1e3, s/1e3, s/n)
			})
		}
	}
}
