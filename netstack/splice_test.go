package netstack

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"io"
	"net"
	"testing"
	"time"
)

// tcpPair returns the two ends of a TCP connection on the loopback.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.DialTCP("tcp4", nil, ln.Addr().(*net.TCPAddr))
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.AcceptTCP()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c, s
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10 s", what)
		}
	}
}

// A bulk direction goes through a pipeline, and arrives whole and in
// order; the pipeline's slot is free again afterwards.
func TestCopyStreamPipelinesBulk(t *testing.T) {
	in, src := tcpPair(t)  // the test writes in, copyStream reads src
	dst, out := tcpPair(t) // copyStream writes dst, the test reads out
	data := make([]byte, 8<<20)
	rand.Read(data)
	go func() {
		in.Write(data)
		in.CloseWrite()
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyStream(dst, src)
		dst.CloseWrite()
	}()
	// out is read slowly until the pipeline shows: the copy cannot
	// end before it.
	var got []byte
	seen := false
	buf := make([]byte, 64<<10)
	for {
		n, err := out.Read(buf)
		got = append(got, buf[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !seen {
			seen = len(pipelines) == 1
			time.Sleep(time.Millisecond)
		}
	}
	<-done
	if !seen {
		t.Error("no pipeline was taken for 8 MB")
	}
	if sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("copied %d bytes, not the %d written (or not in order)", len(got), len(data))
	}
	if n := len(pipelines); n != 0 {
		t.Errorf("%d pipeline slots still taken", n)
	}
}

// An exchange shorter than pipelineAfter is copied by one goroutine: no
// pipeline slot is taken.
func TestCopyStreamShortNoPipeline(t *testing.T) {
	in, src := tcpPair(t)
	dst, out := tcpPair(t)
	msg := bytes.Repeat([]byte("reply "), (pipelineAfter-1)/6)
	go func() {
		in.Write(msg)
		in.CloseWrite()
	}()
	go func() {
		copyStream(dst, src)
		dst.CloseWrite()
	}()
	got, err := io.ReadAll(out)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("copied %d bytes, %v; want %d", len(got), err, len(msg))
	}
	if n := len(pipelines); n != 0 {
		t.Errorf("%d pipeline slots taken by a short exchange", n)
	}
}

// When the destination fails in the middle of a bulk copy, copyStream
// returns — though the source goes on with no end — and frees its slot.
func TestCopyStreamPipelineDestinationFails(t *testing.T) {
	in, src := tcpPair(t)
	dst, out := tcpPair(t)
	go func() {
		chunk := make([]byte, 64<<10)
		for {
			if _, err := in.Write(chunk); err != nil {
				return
			}
		}
	}()
	done := make(chan struct{})
	go func() {
		defer close(done)
		copyStream(dst, src)
	}()
	// Read until the pipeline is up; then the destination goes away
	// with a reset.
	draining := make(chan struct{})
	go func() {
		defer close(draining)
		buf := make([]byte, 64<<10)
		for len(pipelines) == 0 {
			if _, err := out.Read(buf); err != nil {
				return
			}
		}
	}()
	waitFor(t, "a pipeline", func() bool { return len(pipelines) == 1 })
	<-draining
	out.SetLinger(0)
	out.Close()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("copyStream still runs after its destination failed")
	}
	if n := len(pipelines); n != 0 {
		t.Errorf("%d pipeline slots still taken", n)
	}
}
