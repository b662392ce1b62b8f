package netstack

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// dialString is dialTCP to a "host:port".
func dialString(ctx context.Context, t *testing.T, addr string) (*hostConn, error) {
	to, err := netip.ParseAddrPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return dialTCP(ctx, to)
}

// TestDialTCPConnects: the connection it makes is in Go's poller
// (deadlines work), carries data both ways, and half-closes: CloseWrite
// reaches the peer as end of stream while the reply still comes back.
func TestDialTCPConnects(t *testing.T) {
	for _, local := range []string{"127.0.0.1:0", "[::1]:0"} {
		ln, err := net.Listen("tcp", local)
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err == nil {
				io.Copy(c, c) // until the dialer's FIN
				c.Close()
			}
		}()
		c, err := dialString(context.Background(), t, ln.Addr().String())
		if err != nil {
			t.Fatalf("%s: %v", local, err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		if err := c.CloseWrite(); err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(c) // the echo, then the peer's own FIN
		if err != nil || string(got) != "ping" {
			t.Fatalf("%s: echo %q, %v", local, got, err)
		}
		c.Close()
	}
}

// TestDialTCPRefused: a refusal is the kernel's ECONNREFUSED, as
// refuse() expects, not a timeout.
func TestDialTCPRefused(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, err = dialString(context.Background(), t, addr)
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

// TestDialTCPTimesOut: a destination that never answers ends the dial at
// its deadline, as a timeout (refuse() then stays silent, and the
// program's own connect times out).
func TestDialTCPTimesOut(t *testing.T) {
	addr := blackHole(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := dialString(ctx, t, addr)
	if err == nil || !isTimeout(err) {
		t.Fatalf("dial a black hole: %v, want a timeout", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the dial took %v, its deadline was 200ms", took)
	}
}

// TestDialTCPCancelled: closing the stack (its context) ends a
// dial under way at once.
func TestDialTCPCancelled(t *testing.T) {
	addr := blackHole(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := dialString(ctx, t, addr)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v, want context.Canceled", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("the dial took %v after its cancel at 100ms", took)
	}
}

// TestHostConnCloseReadEndsRead: CloseRead makes a read that waits for
// data which never comes return (the pipeline's reader, when its
// destination has failed).
func TestHostConnCloseReadEndsRead(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // silent, and open
		}
	}()
	c, err := dialString(context.Background(), t, ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() { (<-accepted).Close() }()
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 16))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := c.CloseRead(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != io.EOF {
			t.Fatalf("read after CloseRead: %v, want EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a read still waits 5 s after CloseRead")
	}
}
