package test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The flood tests play the hostile program of issue 10: root in its own
// network namespace, it writes raw packets on tun0 (test/progs/flood.c) —
// spoofed sources, many source ports — for two seconds at most, aimed only
// at the gateway and the test's own test host. Meanwhile and after, the
// same program's other flows (a TCP echo, a UDP echo it started before,
// a DNS lookup) must keep working; the supervisor's peak memory and fds
// must stay under the bounds netstack sets; spoofed packets must reach
// nothing; and each limit hit must be logged exactly once.
//
// FLOOD_SANDBOX names another sandbox binary to run instead of the one
// built (to measure an older build: the test logs what it measures).

// floodSeconds and floodMax bound every flood in time and count.
const (
	floodSeconds = "2"
	floodMax     = "2000000"
)

// supervisorStats is what the sampler saw of the supervisor process.
type supervisorStats struct {
	hwmKB, rssKB int // peak resident memory (VmHWM), and the largest VmRSS sampled
	fds          int // the most fds seen open at once
}

// sample watches pid every 20 ms until stop is closed, and returns the
// peaks it saw.
func sample(pid int, stop <-chan struct{}) supervisorStats {
	var st supervisorStats
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			sc := bufio.NewScanner(bytes.NewReader(b))
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 2 {
					continue
				}
				n, _ := strconv.Atoi(f[1])
				switch f[0] {
				case "VmHWM:":
					st.hwmKB = max(st.hwmKB, n)
				case "VmRSS:":
					st.rssKB = max(st.rssKB, n)
				}
			}
		}
		if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
			st.fds = max(st.fds, len(ents))
		}
		select {
		case <-stop:
			return st
		case <-tick.C:
		}
	}
}

// floodChecker is the sandboxed program: it checks its other flows, starts
// the flood, checks them again every 300 ms while the flood runs, and
// once more after it; then it prints, as JSON, what passed in each phase.
const floodChecker = `import json, socket, subprocess, sys, time
cfg = json.loads(sys.argv[1])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(1)
u.connect((cfg["host"], cfg["udp_echo"]))
def tcp():
    try:
        s = socket.create_connection((cfg["host"], cfg["tcp_echo"]), timeout=10)
        s.sendall(b"ping")
        ok = s.recv(16) == b"ping"
        s.close()
        return ok
    except OSError:
        return False
def udp():
    # As a UDP application does: a datagram lost on a saturated link
    # is sent again.
    for _ in range(3):
        try:
            u.send(b"ping")
            return u.recv(16) == b"ping"
        except OSError:
            pass
    return False
def dns():
    try:
        return socket.gethostbyname("ok.test") == cfg["host"]
    except OSError:
        return False
checks = {"tcp": tcp, "udp": udp, "dns": dns}
res = {}
def run(phase):
    r = res.setdefault(phase, {})
    for k, f in checks.items():
        ok, n = r.get(k, [0, 0])
        r[k] = [ok + (1 if f() else 0), n + 1]
run("before")
flood = subprocess.Popen(cfg["flood"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
time.sleep(0.05)
run("during")
while flood.poll() is None:
    time.sleep(0.3)
    run("during")
out, err = flood.communicate()
res["flood"] = (out + err).decode().strip()
time.sleep(cfg.get("settle", 0))
run("after")
print(json.dumps(res))`

// floodCase is one flood and what the test expects of it.
type floodCase struct {
	name  string
	flood []string // flood's arguments after the program's path
	// degraded names the checks allowed to fail while the flood runs
	// (the flood uses up the very resource they need).
	degraded []string
	settle   float64  // seconds the program waits after the flood before the last checks
	logs     []string // each must appear exactly once on stderr
	maxFDs   int      // the supervisor's fds must stay at or under this
	// reached, for a spoofed flood, counts what reached its target: it
	// must not grow. Such a flood must also cost no memory: the
	// supervisor's peak stays within spoofSlackKB of the idle run's.
	reached func() int64
}

// spoofSlackKB is how much more than an idle run's peak a spoofed flood
// may leave the supervisor at (measured: ~5 MB, the link reader's pooled
// buffers and the runtime at half a million packets, whatever they are).
const spoofSlackKB = 8 << 10

// TestFloodBounded runs each flood of issue 10 against the sandbox and
// checks what it cost the supervisor, what reached the test host, and
// that the program's other flows were not disturbed.
func TestFloodBounded(t *testing.T) {
	requireRoot(t)
	bin := sandboxBin
	if b := os.Getenv("FLOOD_SANDBOX"); b != "" {
		bin = b
	}
	flood := buildC(t, "progs/flood.c")
	h := newTestHost(t)
	dead := strings.TrimSuffix(h.addr, ".2") + ".3" // on the test host's link, nothing answers there

	// The program's other flows: a TCP echo, a UDP echo, DNS.
	tcpEcho := h.listen(t, "tcp4", h.addr+":0")
	t.Cleanup(func() { tcpEcho.Close() })
	serve(tcpEcho, func(c net.Conn) { io.Copy(c, c) })
	udpEcho := h.listenPacket(t)
	t.Cleanup(func() { udpEcho.Close() })
	go func() {
		buf := make([]byte, 65536)
		for {
			n, from, err := udpEcho.ReadFrom(buf)
			if err != nil {
				return
			}
			udpEcho.WriteTo(buf[:n], from)
		}
	}()
	dns := newDNSHost(t, h, map[string]string{"ok.test": h.addr}, "slow.test")

	// The floods' targets: they count what reaches them.
	synTarget := startCounter(t, h.listen(t, "tcp4", h.addr+":0"))
	synTarget6 := startCounter(t, h.listen(t, "tcp6", "["+h.addr6+"]:0"))
	udpPort, udpCount := udpCounter(t, h)

	pol := writePolicy(t, fmt.Sprintf(`version: 1
default: deny
rules:
  - allow: tcp %[1]s:%[2]d
  - allow: udp %[1]s:%[3]d
  - allow: tcp ok.test:1
  - allow: tcp slow.test:1
  - allow: tcp flood.test:1
  - allow: tcp %[1]s:%[4]d
  - allow: tcp [%[5]s]:%[6]d
  - allow: udp %[1]s:%[7]d
  - allow: tcp %[8]s:%[4]d
  # the flood's raw sockets connect to these (port 0)
  - allow: ip %[1]s:0
  - allow: ip [%[5]s]:0
  - allow: ip %[8]s:0
  - allow: ip 127.0.0.1:0
  - allow: ip [::1]:0
`, h.addr, tcpEcho.Addr().(*net.TCPAddr).Port, udpEcho.LocalAddr().(*net.UDPAddr).Port,
		synTarget.port(), h.addr6, synTarget6.port(), udpPort, dead))

	const spoofLog = "dropped a packet from"
	const spoofTotal = "packets dropped in all"
	synPort, synPort6 := fmt.Sprint(synTarget.port()), fmt.Sprint(synTarget6.port())
	cases := []floodCase{
		// No flood at all (MAXCOUNT 0): the supervisor's own peak, for
		// the spoofed floods to be compared with.
		{name: "Idle", flood: []string{"udp", "own", h.addr, fmt.Sprint(udpPort), floodSeconds, "0"}, maxFDs: 64},
		// (a): queries to the gateway's DNS from spoofed sources, for
		// a name the policy allows: dropped at the link, none goes
		// upstream.
		{name: "DNSSpoofed", flood: []string{"dns", "spoof", "100.96.0.1", "53", floodSeconds, floodMax, "flood.test"},
			logs: []string{spoofLog, spoofTotal}, maxFDs: 64, reached: func() int64 { return int64(dns.count("flood.test")) }},
		{name: "DNSSpoofed6", flood: []string{"dns", "spoof", "fd00:5a::1", "53", floodSeconds, floodMax, "flood.test"},
			logs: []string{spoofLog, spoofTotal}, maxFDs: 64, reached: func() int64 { return int64(dns.count("flood.test")) }},
		// The same from the program's own address and many ports, for
		// a name the upstream never answers: every upstream slot is
		// held for the whole exchange timeout; the program's own DNS
		// may fail meanwhile (it is the flooded resource), and works
		// again once the exchanges time out.
		{name: "DNSOwnSlow", flood: []string{"dns", "own", "100.96.0.1", "53", floodSeconds, floodMax, "slow.test"},
			degraded: []string{"dns"}, settle: 5, maxFDs: 64 + 64,
			logs: []string{"64 DNS lookups upstream in flight (the limit)"}},
		// (b): UDP from spoofed sources to an allowed destination.
		{name: "UDPSpoofed", flood: []string{"udp", "spoof", h.addr, fmt.Sprint(udpPort), floodSeconds, floodMax},
			logs: []string{spoofLog, spoofTotal}, maxFDs: 64, reached: udpCount.Load},
		// The same from the program's own address and many ports: at
		// most maxUDPFlows host sockets; the UDP echo flow, which has
		// had replies, is not evicted by the flood's.
		{name: "UDPOwnPorts", flood: []string{"udp", "own", h.addr, fmt.Sprint(udpPort), floodSeconds, floodMax},
			logs: []string{"512 UDP flows in use (the limit)"}, maxFDs: 512 + 64},
		// (c): IPv6 SYNs from spoofed sources to an allowed port.
		{name: "SYN6Spoofed", flood: []string{"syn", "spoof", h.addr6, synPort6, floodSeconds, floodMax},
			logs: []string{spoofLog, spoofTotal}, maxFDs: 64, reached: synTarget6.accepted.Load},
		// SYNs from the program's own address and many ports to an
		// allowed port: its kernel resets each SYN-ACK, so each costs
		// a dial and nothing after.
		{name: "SYNOwnPorts", flood: []string{"syn", "own", h.addr, synPort, floodSeconds, floodMax},
			logs: []string{"32 TCP connections being set up to " + h.addr + ":" + synPort}, maxFDs: 512 + 64},
		// SYNs to an allowed address that never answers: at most
		// maxPendingDialsPerDest dials wait for it; the program's
		// connects elsewhere go on.
		{name: "SYNDeadDest", flood: []string{"syn", "own", dead, synPort, floodSeconds, floodMax},
			logs: []string{"32 TCP connections being set up to " + dead + ":" + synPort}, maxFDs: 32 + 64},
	}
	idleKB := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := int64(0)
			if c.reached != nil {
				before = c.reached()
			}
			cfg, _ := json.Marshal(map[string]any{
				"host": h.addr, "tcp_echo": tcpEcho.Addr().(*net.TCPAddr).Port, "udp_echo": udpEcho.LocalAddr().(*net.UDPAddr).Port,
				"flood": append([]string{flood}, c.flood...), "settle": c.settle,
			})
			ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
			defer cancel()
			argv := []string{bin, "run", "--net", "sandbox", "--dns", dns.addr, "--policy", pol, "--", "/usr/bin/python3", "-c", floodChecker, string(cfg)}
			cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			stop := make(chan struct{})
			stats := make(chan supervisorStats, 1)
			go func() { stats <- sample(cmd.Process.Pid, stop) }()
			err := cmd.Wait()
			close(stop)
			st := <-stats
			t.Logf("supervisor peak: VmHWM %d MB, VmRSS %d MB, %d fds", st.hwmKB>>10, st.rssKB>>10, st.fds)
			if ctx.Err() != nil {
				t.Fatalf("the sandbox did not finish within 90 s\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
			}
			if err != nil {
				t.Fatalf("sandbox: %v\nstdout: %s\nstderr: %s", err, stdout.String(), stderr.String())
			}
			var res map[string]json.RawMessage
			if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
				t.Fatalf("the program's report %q: %v\nstderr: %s", stdout.String(), err, stderr.String())
			}
			var sent string
			json.Unmarshal(res["flood"], &sent)
			t.Logf("flood: %s", sent)
			for _, line := range strings.Split(stderr.String(), "\n") {
				if strings.HasPrefix(line, "sandbox:") {
					t.Logf("stderr: %s", line)
				}
			}
			if !strings.HasPrefix(sent, "sent ") {
				t.Errorf("the flood did not run: %q", sent)
			}
			for _, phase := range []string{"before", "during", "after"} {
				var checks map[string][2]int
				json.Unmarshal(res[phase], &checks)
				for name, r := range checks {
					if r[0] == r[1] || (phase == "during" && slices.Contains(c.degraded, name)) {
						continue
					}
					t.Errorf("%s the flood, %s: %d of %d checks passed", phase, name, r[0], r[1])
				}
				if len(checks) == 0 {
					t.Errorf("no checks %s the flood: %s", phase, res[phase])
				}
			}
			// Memory: a bound above the ~30 MB an idle supervisor
			// holds, well below what the floods took before (GBs).
			if st.hwmKB > 200<<10 {
				t.Errorf("the supervisor's peak resident memory was %d MB; want at most 200 MB", st.hwmKB>>10)
			}
			if st.fds > c.maxFDs {
				t.Errorf("the supervisor had %d fds open at once; want at most %d", st.fds, c.maxFDs)
			}
			if c.name == "Idle" {
				idleKB = st.hwmKB
			}
			if c.reached != nil {
				settle()
				if n := c.reached() - before; n != 0 {
					t.Errorf("spoofed packets reached the test host: %d", n)
				}
				if idleKB > 0 && st.hwmKB > idleKB+spoofSlackKB {
					t.Errorf("spoofed packets cost the supervisor memory: peak %d MB, idle %d MB", st.hwmKB>>10, idleKB>>10)
				}
			}
			if len(c.logs) > 0 && !strings.Contains(stderr.String(), "sandbox: netstack:") {
				t.Errorf("nothing of netstack's on stderr: is netstack.Config.Log wired to stderr (spawn/run.go)?")
			}
			for _, l := range c.logs {
				if n := strings.Count(stderr.String(), l); n != 1 {
					t.Errorf("%q logged %d times, want once; stderr:\n%s", l, n, stderr.String())
				}
			}
			// Every netstack line is one of a kind: none repeats.
			seen := map[string]bool{}
			for _, line := range strings.Split(stderr.String(), "\n") {
				if strings.HasPrefix(line, "sandbox: netstack:") {
					if seen[line] {
						t.Errorf("logged more than once: %q", line)
					}
					seen[line] = true
				}
			}
		})
	}
}
