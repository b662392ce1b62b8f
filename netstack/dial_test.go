package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var inPlace = net.Dialer{KeepAlive: -1, ControlContext: connectInPlace}

// TestConnectInPlaceConnects: the connection it makes is an ordinary Go
// connection, in Go's poller (deadlines work), that carries data.
func TestConnectInPlaceConnects(t *testing.T) {
	for _, local := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", local)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.Copy(c, c)
				c.Close()
			}
		}()
		c, err := inPlace.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatalf("%s: %v", local, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "ping" {
			t.Fatalf("%s: echo %q, %v", local, buf, err)
		}
		c.Close()
	}
}

// TestConnectInPlaceRefused: a refusal is the kernel's ECONNREFUSED, as
// refuse() expects, not a timeout.
func TestConnectInPlaceRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = inPlace.Dial("tcp", addr)
	if !errors.Is(err, syscall.ECONNREFUSED) || isTimeout(err) {
		t.Fatalf("dial a closed port: %v, want ECONNREFUSED", err)
	}
}

// blackHole is a loopback address whose listener drops every SYN: its
// accept queue is full and nobody accepts.
func blackHole(t *testing.T) string {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	raw, _ := ln.(*net.TCPListener).SyscallConn()
	raw.Control(func(fd uintptr) { unix.Listen(int(fd), 0) })
	sa := &unix.SockaddrInet4{Port: ln.Addr().(*net.TCPAddr).Port, Addr: [4]byte{127, 0, 0, 1}}
	// Fill the queue; further SYNs are dropped (LISTENOVERFLOWS).
	for range 4 {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { unix.Close(fd) })
		unix.Connect(fd, sa)
	}
	time.Sleep(50 * time.Millisecond)
	return ln.Addr().String()
}

// TestConnectInPlaceTimesOut: a destination that never answers ends the
// dial at its deadline, as a timeout (refuse() then stays silent, and
// the program's own connect times out).
func TestConnectInPlaceTimesOut(t *testing.T) {
	addr := blackHole(t)
	d := inPlace
	d.Timeout = 200 * time.Millisecond
	start := time.Now()
	_, err := d.Dial("tcp", addr)
	if err == nil || !isTimeout(err) {
		t.Fatalf("dial a black hole: %v, want a timeout", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the dial took %v, its deadline was 200ms", took)
	}
}

// TestConnectInPlaceCancelled: closing the stack (its context) ends a
// dial under way at once.
func TestConnectInPlaceCancelled(t *testing.T) {
	addr := blackHole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := inPlace.DialContext(ctx, "tcp", addr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the dial took %v after its cancel at 100ms", took)
	}
}
