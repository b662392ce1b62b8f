package sentry

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestWouldInterrupt(t *testing.T) {
	const alrm, usr1 = 1 << (14 - 1), 1 << (10 - 1) // bit N-1 is signal N
	tests := []struct {
		name        string
		st          sigState
		sharedAgain bool
		want        bool
	}{
		{"nothing pending", sigState{caught: alrm, threads: 1}, false, false},
		{"caught, for this thread", sigState{threadPending: alrm, caught: alrm, threads: 4}, false, true},
		{"blocked", sigState{threadPending: alrm, blocked: alrm, caught: alrm, threads: 1}, false, false},
		{"not caught (default action: the kernel kills or ignores)", sigState{threadPending: usr1, threads: 1}, false, false},
		{"process-wide, single thread", sigState{sharedPending: alrm, caught: alrm, threads: 1}, false, true},
		{"process-wide, other threads may take it", sigState{sharedPending: alrm, caught: alrm, threads: 3}, false, false},
		{"process-wide, still pending a tick later", sigState{sharedPending: alrm, caught: alrm, threads: 3}, true, true},
	}
	for _, tt := range tests {
		if got := tt.st.wouldInterrupt(tt.sharedAgain); got != tt.want {
			t.Errorf("%s: wouldInterrupt = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// taskSignals reads this very thread's masks from /proc.
func TestTaskSignalsReadsProc(t *testing.T) {
	st, ok := taskSignals(unix.Gettid())
	if !ok || st.threads < 1 {
		t.Fatalf("taskSignals(self) = %+v, %v", st, ok)
	}
}
