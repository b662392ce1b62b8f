// Command goclient is a Go net/http client for the integration tests. It
// GETs a URL COUNT times from several goroutines while other goroutines spin,
// so that the Go runtime preempts them with SIGURG all the while: those
// signals land while connects are trapped, and every connect must still end
// as it would natively. It prints "ok=N" when every request succeeded, or
// the first error, and exits 1.
//
//	goclient URL COUNT
package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: goclient URL COUNT")
		os.Exit(2)
	}
	url := os.Args[1]
	count, err := strconv.Atoi(os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "goclient: COUNT:", err)
		os.Exit(2)
	}
	var stop atomic.Bool
	for range runtime.NumCPU() {
		go func() {
			for x := 0; !stop.Load(); x++ {
				_ = x * x // a tight loop only async preemption can stop
			}
		}()
	}
	// No keep-alive: every request is a new connect.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	var (
		ok       atomic.Int64
		firstErr error
		mu       sync.Mutex
		wg       sync.WaitGroup
		next     atomic.Int64
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(count) {
				resp, err := client.Get(url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					continue
				}
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	stop.Store(true)
	if firstErr != nil {
		fmt.Printf("ok=%d error: %v\n", ok.Load(), firstErr)
		os.Exit(1)
	}
	fmt.Printf("ok=%d\n", ok.Load())
}
