package netstack

import (
	"io"
	"sync"
)

// halfCloser is a stream that can end one direction alone, so that a
// program's shutdown(SHUT_WR) reaches the destination as a FIN while the
// reply still flows back, and stop reading one (see pipeline).
type halfCloser interface {
	io.ReadWriteCloser
	CloseWrite() error
	CloseRead() error
}

// spliceBufSize is the copy buffer of each direction of a TCP flow: a
// full-size segment on the TUN link (MTU) fits in one read.
const spliceBufSize = 64 << 10

// spliceBufs are reused: a buffer per direction per flow, allocated anew,
// made short connections (connect, a request, close) the main source of
// garbage, and each garbage collection a stall for every flow.
var spliceBufs = sync.Pool{New: func() any { return new([spliceBufSize]byte) }}

// splice copies both ways until both directions have ended, passing each
// end of stream on as a half-close: b to a on the caller's goroutine, a to
// b on one that spawn starts, which calls sent once it has ended.
func splice(a, b halfCloser, spawn func(func()), sent func()) {
	var wg sync.WaitGroup
	cp := func(dst, src halfCloser) {
		defer wg.Done()
		copyStream(dst, src)
		dst.CloseWrite()
	}
	wg.Add(2)
	spawn(func() {
		defer sent()
		cp(b, a)
	})
	cp(a, b)
	wg.Wait()
	a.Close()
	b.Close()
}

// A bulk direction of a flow is copied by two goroutines, one reading and
// one writing, with pipelineBufs buffers between them. One goroutine does
// a read and then a write: for a download that is the host socket's read,
// netstack's write and the TUN device's — in which the program's kernel
// receives the segment, on the same thread — one after the other on one
// CPU, while the other CPU may wait. Side by side they keep both busy:
// iperf3 through --net sandbox, 4 alternating rounds of 2 s, the program
// receiving 5.65 → 7.6 Gbit/s (median), sending 9.1 → 9.8. With two
// buffers instead of four, receiving gained a third as much.
const (
	pipelineBufs = 4
	// pipelineAfter is how much a direction copies before it is bulk. A
	// request or a reply shorter than that — most of them — is copied by
	// one goroutine to the end, and pays no hand-off between goroutines
	// for each chunk.
	pipelineAfter = 1 << 20
	// maxPipelines bounds the directions copied so at once in this
	// process, and so the memory their buffers hold (16 × 256 KiB);
	// beyond it a bulk direction is copied by one goroutine.
	maxPipelines = 16
)

// pipelines are the pipeline slots (maxPipelines).
var pipelines = make(chan struct{}, maxPipelines)

// copyStream copies src to dst until src ends or dst fails, by one
// goroutine, or once the direction has shown itself bulk and a slot is
// free, by a pipeline.
func copyStream(dst, src halfCloser) {
	buf := spliceBufs.Get().(*[spliceBufSize]byte)
	copied := 0
	for {
		n, rerr := src.Read(buf[:])
		if n > 0 {
			if _, err := dst.Write(buf[:n]); err != nil {
				break
			}
		}
		if rerr != nil {
			break
		}
		if copied += n; copied < pipelineAfter {
			continue
		}
		select {
		case pipelines <- struct{}{}:
			spliceBufs.Put(buf)
			pipeline(dst, src)
			<-pipelines
			return
		default:
			copied = 0 // no slot: ask again later
		}
	}
	spliceBufs.Put(buf)
}

// pipeline copies src to dst as copyStream does, reading on a goroutine
// of its own, and returns once that goroutine has ended too.
func pipeline(dst, src halfCloser) {
	type chunk struct {
		buf *[spliceBufSize]byte
		n   int
	}
	filled := make(chan chunk, pipelineBufs)
	free := make(chan *[spliceBufSize]byte, pipelineBufs)
	for range pipelineBufs {
		free <- spliceBufs.Get().(*[spliceBufSize]byte)
	}
	go func() {
		defer close(filled)
		for buf := range free {
			n, err := src.Read(buf[:])
			if n > 0 {
				filled <- chunk{buf, n}
			} else {
				free <- buf
			}
			if err != nil {
				return
			}
		}
	}()
	failed := false
	for c := range filled {
		if !failed {
			if _, err := dst.Write(c.buf[:c.n]); err != nil {
				// Nothing more can be written: stop the reader
				// (which may wait for data that never comes) and
				// take what it still hands over.
				failed = true
				src.CloseRead()
			}
		}
		free <- c.buf
	}
	// The reader has ended: every buffer is back.
	close(free)
	for buf := range free {
		spliceBufs.Put(buf)
	}
}
