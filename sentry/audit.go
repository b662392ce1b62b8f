package sentry

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/netstack"
	"sandbox/policy"
)

// Verdicts in the audit log beyond the policy's own allow and deny.
const (
	// verdictInvalid: the call failed Linux's own checks (EBADF, EFAULT,
	// EINVAL, ENOTSOCK…) before any destination could be named.
	verdictInvalid = "invalid"
	// verdictPass: the address names no destination the policy speaks of
	// (AF_UNSPEC, a family the socket rejects, netlink); the supervisor
	// made the call with its copy and the kernel answered.
	verdictPass = "pass"
)

// Record is one line of the audit log: one trapped call and what became of
// it. The field names are a contract (ARCHITECTURE.md): add, never rename.
type Record struct {
	Time    time.Time `json:"time"`
	Pid     int       `json:"pid"` // the calling thread's id, as the kernel reports it
	Exe     string    `json:"exe,omitempty"`
	Syscall string    `json:"syscall"`
	Fd      int       `json:"fd"`
	Proto   string    `json:"proto,omitempty"`
	Dest    string    `json:"dest,omitempty"`
	// Host is the name the destination's address was resolved from by
	// the sandbox's DNS (--net sandbox), when it was.
	Host    string  `json:"host,omitempty"`
	Verdict string  `json:"verdict"`         // allow, deny, invalid or pass (see verdictInvalid, verdictPass)
	Rule    string  `json:"rule,omitempty"`  // file:line of the deciding rule, or of the policy's default (policy.DefaultRule)
	Errno   string  `json:"errno,omitempty"` // what the call returned to the program; empty for success
	Reason  string  `json:"reason,omitempty"`
	TookUS  float64 `json:"took_us"` // from the notification's arrival to the answer

	// A DNS query the --net sandbox gateway answered (syscall "dns"):
	// the name asked, its type, the answer's rcode and the addresses
	// it gave.
	Name    string   `json:"name,omitempty"`
	QType   string   `json:"qtype,omitempty"`
	RCode   string   `json:"rcode,omitempty"`
	Answers []string `json:"answers,omitempty"`

	// The container the call came from (the OCI agent): its id, and its
	// pod's name and namespace where the runtime says them.
	Container    string `json:"container,omitempty"`
	Pod          string `json:"pod,omitempty"`
	PodNamespace string `json:"pod_namespace,omitempty"`

	// Request is the question put to the policy, nil when none was (for
	// learn mode's learner; not logged: Proto and Dest say it).
	Request *policy.Request `json:"-"`
	// Learned: in learn mode, allowed because learned (the policy's
	// default would deny it); the Reason says so in the log.
	Learned bool `json:"-"`
}

// dnsRecord is the audit record of a DNS message the gateway answered.
// The pid and fd are not known at the gateway (it sees packets): 0 and -1.
func dnsRecord(d netstack.DNSRecord) *Record {
	return &Record{
		Time: d.Time, Syscall: "dns", Fd: -1, Proto: d.Proto, Verdict: d.Verdict, Rule: d.Rule, Reason: d.Reason, Learned: d.Learned,
		Name: d.Name, QType: d.Type, RCode: d.RCode, Answers: d.Answers,
		TookUS: float64(d.Took.Nanoseconds()) / 1e3,
	}
}

// AuditLog writes Records as JSON lines. A nil *AuditLog discards them.
type AuditLog struct {
	mu  sync.Mutex
	enc *json.Encoder
	err error
}

// NewAuditLog writes records to w.
func NewAuditLog(w io.Writer) *AuditLog {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return &AuditLog{enc: enc}
}

func (a *AuditLog) write(r *Record) {
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.err != nil {
		return
	}
	if err := a.enc.Encode(r); err != nil {
		a.err = fmt.Errorf("write audit log: %w", err)
	}
}

// Err reports the first write error, so that a lost audit trail is not
// silent.
func (a *AuditLog) Err() error {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.err
}

// errnoName is policy.ErrnoName, but for ERESTARTSYS, an errno of the
// kernel's own that only the supervisor answers with.
func errnoName(e unix.Errno) string {
	if e == errRestartSys {
		return "ERESTARTSYS"
	}
	return policy.ErrnoName(e)
}
