package sentry

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"sandbox/netstack"
	"sandbox/policy"
)

// An Observer is told of every record, as the audit log is: learn mode's
// learner is one.
type Observer interface {
	Observe(r *Record)
}

// Records says where the records of calls go. Each part may be nil; with
// all three nil no record is made at all.
type Records struct {
	Audit   *AuditLog // the --log file
	Learn   Observer  // learn mode
	Denials *Denials  // the summary of what was denied
}

// wantExe reports whether a record names the caller's executable: reading
// it costs a /proc lookup per call, which only the log and learn mode need.
func (rs *Records) wantExe() bool { return rs.Audit != nil || rs.Learn != nil }

// enabled reports whether records are made at all.
func (rs *Records) enabled() bool { return rs.wantExe() || rs.Denials != nil }

// write hands r to every part.
func (rs *Records) write(r *Record) {
	rs.Audit.write(r)
	if rs.Learn != nil {
		rs.Learn.Observe(r)
	}
	rs.Denials.add(r)
}

// DNSLog is netstack's DNS log for rs, or nil when no record is made.
func (rs Records) DNSLog() func(netstack.DNSRecord) {
	if !rs.enabled() {
		return nil
	}
	return func(d netstack.DNSRecord) { rs.write(dnsRecord(d)) }
}

// Denials counts what the policy denied, by destination, for the summary
// line the sandbox prints when the program ends. A nil *Denials counts
// nothing.
type Denials struct {
	mu sync.Mutex
	// +checklocks:mu
	count map[string]int
	// +checklocks:mu
	order []string // destinations in the order first denied
	// +checklocks:mu
	total int
}

// maxDenialKeys bounds the destinations counted one by one: a program
// that tries a million addresses must not grow the supervisor by a
// million strings. Past it only the total grows.
const maxDenialKeys = 1024

// add counts r if it is a denial.
func (d *Denials) add(r *Record) {
	if d == nil || r.Verdict != policy.Deny.String() {
		return
	}
	key := denialKey(r)
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.count == nil {
		d.count = map[string]int{}
	}
	d.total++
	if _, seen := d.count[key]; !seen {
		if len(d.count) >= maxDenialKeys {
			return
		}
		d.order = append(d.order, key)
	}
	d.count[key]++
}

// denialKey is how the summary names r's destination: "tcp
// 198.18.0.9:443", "tcp pkg.example (198.18.0.9:443)", "dns evil.example",
// "unix /run/x.sock", "listen tcp 0.0.0.0:80".
func denialKey(r *Record) string {
	switch {
	case r.Syscall == "dns":
		return "dns " + r.Name
	case r.Request != nil && r.Request.Listen:
		return "listen " + r.Proto + " " + r.Dest
	case r.Host != "":
		return r.Proto + " " + r.Host + " (" + r.Dest + ")"
	case r.Proto == "" && r.Dest == "":
		return r.Syscall + ": " + r.Reason
	}
	return r.Proto + " " + r.Dest
}

// summaryItems is how many destinations the summary names before "and N
// more": one line a person reads at a glance.
const summaryItems = 5

// Summary is the line that says what was denied — "denied 3 calls: tcp
// 198.18.0.9:443 (×2), dns evil.example" — or "" when nothing was.
func (d *Denials) Summary() string {
	if d == nil {
		return ""
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.total == 0 {
		return ""
	}
	var b strings.Builder
	calls := "calls"
	if d.total == 1 {
		calls = "call"
	}
	fmt.Fprintf(&b, "denied %d %s: ", d.total, calls)
	for i, k := range d.order[:min(len(d.order), summaryItems)] {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k)
		if n := d.count[k]; n > 1 {
			fmt.Fprintf(&b, " (×%d)", n)
		}
	}
	if more := d.total - d.named(); more > 0 {
		fmt.Fprintf(&b, " and %d more", more)
	}
	return b.String()
}

// named is how many denials the summary's items account for.
// +checklocks:d.mu
func (d *Denials) named() int {
	n := 0
	for _, k := range d.order[:min(len(d.order), summaryItems)] {
		n += d.count[k]
	}
	return n
}

// hostFor is the name a destination address was resolved from in this
// sandbox, for the record's host field: of several, the first in order
// (names for one address are rarely more than one: a CDN's), none for an
// address a name never stands for (policy: NameMayStandFor).
func hostFor(names []string, addr netip.Addr) string {
	if len(names) == 0 || !policy.NameMayStandFor(addr) {
		return ""
	}
	return slices.Min(names)
}
