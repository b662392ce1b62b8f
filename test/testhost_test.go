package test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// testHost is a host of the test's own: a network namespace joined to this
// one by a veth pair, in a /24 of 198.18.0.0/15 (the host side is .1, the
// test host .2). It stands for "the internet" without sending anything off the
// machine.
type testHost struct {
	name  string
	addr  string // the test host's address, 198.18-19.X.2
	addr6 string // and its IPv6 one, in 2001:2::/48 (RFC 5180's benchmarking range, like 198.18.0.0/15)
}

var testHostSeq int

// newTestHost makes a test host; it is removed when the test ends.
func newTestHost(t testing.TB) *testHost {
	t.Helper()
	requireRoot(t)
	testHostSeq++
	n := testHostSeq
	// Each test process takes its own slice of 198.18.0.0/15's 512 /24s
	// (by pid), so two runs at once do not route into each other's hosts.
	// idx stays below 480: 198.19.224.0/19 is left to the Docker tests'
	// networks (test/docker).
	idx := (os.Getpid()%40)*12 + n%12
	net4 := fmt.Sprintf("198.%d.%d", 18+idx/256, idx%256)
	h := &testHost{name: fmt.Sprintf("sbxth%d-%d", os.Getpid()%100000, n), addr: net4 + ".2", addr6: fmt.Sprintf("2001:2:0:%x::2", idx)}
	outer, inner := fmt.Sprintf("sbxo%d-%d", os.Getpid()%10000, n), fmt.Sprintf("sbxi%d-%d", os.Getpid()%10000, n)
	steps := [][]string{
		{"ip", "netns", "add", h.name},
		{"ip", "link", "add", outer, "type", "veth", "peer", "name", inner},
		{"ip", "link", "set", inner, "netns", h.name},
		{"ip", "addr", "add", net4 + ".1/24", "dev", outer},
		{"ip", "addr", "add", fmt.Sprintf("2001:2:0:%x::1/64", idx), "dev", outer, "nodad"},
		{"ip", "link", "set", outer, "up"},
		{"ip", "netns", "exec", h.name, "ip", "addr", "add", h.addr + "/24", "dev", inner},
		{"ip", "netns", "exec", h.name, "ip", "addr", "add", h.addr6 + "/64", "dev", inner, "nodad"},
		{"ip", "netns", "exec", h.name, "ip", "link", "set", inner, "up"},
		{"ip", "netns", "exec", h.name, "ip", "link", "set", "lo", "up"},
	}
	t.Cleanup(func() {
		exec.Command("ip", "link", "del", outer).Run()
		exec.Command("ip", "netns", "del", h.name).Run()
	})
	for _, s := range steps {
		if out, err := exec.Command(s[0], s[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%v: %v\n%s", s, err, out)
		}
	}
	return h
}

// inside runs fn on a thread in the test host's network namespace: a socket
// belongs to the namespace of the thread that creates it, so fn's sockets
// are the test host's, and they can be used from any thread afterwards.
func (h *testHost) inside(t testing.TB, fn func() error) {
	t.Helper()
	ch := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies in the test host's namespace
		fd, err := unix.Open("/run/netns/"+h.name, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			ch <- err
			return
		}
		defer unix.Close(fd)
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			ch <- err
			return
		}
		ch <- fn()
	}()
	if err := <-ch; err != nil {
		t.Fatalf("in test host %s: %v", h.name, err)
	}
}

// listen opens a listener inside the test host.
func (h *testHost) listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	h.inside(t, func() (err error) { ln, err = net.Listen(network, addr); return err })
	return ln
}

// listenPacket opens a UDP socket inside the test host.
func (h *testHost) listenPacket(t *testing.T) net.PacketConn {
	t.Helper()
	var pc net.PacketConn
	h.inside(t, func() (err error) { pc, err = net.ListenPacket("udp4", h.addr+":0"); return err })
	return pc
}

// counter starts a counting TCP listener on the test host.
func (h *testHost) counter(t testing.TB) *counter {
	t.Helper()
	return startCounter(t, h.listen(t, "tcp4", h.addr+":0"))
}

// spare is an address of h's /24 that neither end of its veth pair uses
// (.3), for a second way into the test host (progs/runsc.sh).
func (h *testHost) spare() string {
	return strings.TrimSuffix(h.addr, "2") + "3"
}
