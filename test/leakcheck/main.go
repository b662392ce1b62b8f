// Command leakcheck runs one program under the sandbox several times in one
// supervisor process and reports what the supervisor holds after each run:
// its goroutines and open file descriptors. A supervisor that leaks grows
// with every run; one that does not comes back to the same counts.
//
//	leakcheck RUNS host|sandbox POLICY PROG [ARGS...]
//
// It prints one line per run, "run=N status=S goroutines=G fds=F".
package main

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"time"

	"sandbox/policy"
	"sandbox/sentry"
	"sandbox/spawn"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == spawn.InitArg {
		spawn.InitMain()
	}
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: leakcheck RUNS host|sandbox POLICY PROG [ARGS...]")
		os.Exit(2)
	}
	runs, err := strconv.Atoi(os.Args[1])
	if err != nil {
		fail(err)
	}
	pol, err := policy.Load(os.Args[3])
	if err != nil {
		fail(err)
	}
	path, err := exec.LookPath(os.Args[4])
	if err != nil {
		fail(err)
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fail(err)
	}
	for i := 1; i <= runs; i++ {
		status, err := spawn.Run(spawn.Config{
			Policy: pol,
			Net:    sentry.NetMode(os.Args[2]),
			// A dead resolver: the machine's own is never asked.
			DNS:    netip.MustParseAddrPort("127.0.0.1:9"),
			Path:   path,
			Argv:   os.Args[4:],
			Env:    os.Environ(),
			Stdin:  devNull,
			Stdout: os.Stderr, // stdout is the report's
			Stderr: os.Stderr,
		})
		if err != nil {
			fail(err)
		}
		goroutines, fds := settle()
		fmt.Printf("run=%d status=%d goroutines=%d fds=%d\n", i, status, goroutines, fds)
	}
	if os.Getenv("LEAKCHECK_DUMP") != "" {
		// What is left, for whoever hunts a leak the test found.
		buf := make([]byte, 1<<20)
		os.Stderr.Write(buf[:runtime.Stack(buf, true)])
		entries, _ := os.ReadDir("/proc/self/fd")
		for _, e := range entries {
			target, _ := os.Readlink("/proc/self/fd/" + e.Name())
			fmt.Fprintln(os.Stderr, "fd", e.Name(), target)
		}
	}
}

// settle waits, up to two seconds, for goroutines that are on their way
// out (a receiver, netstack's workers) to end, and returns the counts.
func settle() (goroutines, fds int) {
	prev := -1
	for range 40 {
		goroutines = runtime.NumGoroutine()
		if goroutines == prev {
			break
		}
		prev = goroutines
		time.Sleep(50 * time.Millisecond)
	}
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		fail(err)
	}
	return goroutines, len(entries)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "leakcheck:", err)
	os.Exit(1)
}
