package oci

import (
	"encoding/json"
	"fmt"
	"slices"

	"sandbox/seccomp"
)

// Seccomp is the linux.seccomp object of an OCI runtime config (runtime
// spec, config-linux.md "Seccomp"), as far as this package writes it.
type Seccomp struct {
	DefaultAction    string    `json:"defaultAction"`
	DefaultErrnoRet  *uint     `json:"defaultErrnoRet,omitempty"`
	Architectures    []string  `json:"architectures,omitempty"`
	Flags            []string  `json:"flags,omitempty"`
	ListenerPath     string    `json:"listenerPath,omitempty"`
	ListenerMetadata string    `json:"listenerMetadata,omitempty"`
	Syscalls         []Syscall `json:"syscalls,omitempty"`
}

// Syscall is one entry of Seccomp.Syscalls: the calls it names, the
// action, and the argument conditions, all of which must hold.
type Syscall struct {
	Names    []string `json:"names"`
	Action   string   `json:"action"`
	ErrnoRet *uint    `json:"errnoRet,omitempty"`
	Args     []Arg    `json:"args,omitempty"`
}

// Arg is one argument condition. For SCMP_CMP_MASKED_EQ, Value is the
// mask and ValueTwo the value compared (libseccomp's datum_a, datum_b).
type Arg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// The OCI names of the actions and comparisons the rules use.
const (
	actAllow  = "SCMP_ACT_ALLOW"
	actNotify = "SCMP_ACT_NOTIFY"
	actErrno  = "SCMP_ACT_ERRNO"
)

// Profile is the seccomp object for rules (sentry.FilterRules): the calls
// the agent serves trapped (SCMP_ACT_NOTIFY), the calls always refused
// failing with their errno, everything else allowed — only native x86-64
// calls, as `sandbox run`'s filter: a runtime's libseccomp kills every
// other architecture and ABI (x32, ia32), whose calls have other numbers.
// The runtime sends the notification fd to socket, with metadata.
func Profile(rules []seccomp.Rule, socket, metadata string) *Seccomp {
	p := &Seccomp{
		DefaultAction:    actAllow,
		Architectures:    []string{"SCMP_ARCH_X86_64"},
		ListenerPath:     socket,
		ListenerMetadata: metadata,
	}
	p.Syscalls = syscallsOf(rules)
	return p
}

// syscallsOf writes rules as OCI entries, one per rule.
func syscallsOf(rules []seccomp.Rule) []Syscall {
	out := make([]Syscall, 0, len(rules))
	for _, r := range rules {
		s := Syscall{Names: []string{r.Syscall}, Action: actNotify}
		if r.Errno != 0 {
			e := uint(r.Errno)
			s.Action, s.ErrnoRet = actErrno, &e
		}
		for _, c := range r.When {
			a := Arg{Index: c.Arg, Value: c.Value}
			switch c.Op {
			case seccomp.Equal:
				a.Op = "SCMP_CMP_EQ"
			case seccomp.NotEqual:
				a.Op = "SCMP_CMP_NE"
			case seccomp.MaskedEqual:
				a.Op, a.Value, a.ValueTwo = "SCMP_CMP_MASKED_EQ", c.Mask, c.Value
			}
			s.Args = append(s.Args, a)
		}
		out = append(out, s)
	}
	return out
}

// Merge puts rules into base, a seccomp profile in the OCI form (Docker's
// default profile, or a Kubernetes node's): base's default action,
// architectures and entries stay, rules' entries are added, and the
// listener is set. Where base allows a call that rules trap or refuse
// whatever its arguments, base's allowance of it goes: two unconditional
// rules for one call would conflict. Fields of base this package does not
// know are kept as they are.
func Merge(base []byte, rules []seccomp.Rule, socket, metadata string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(base, &top); err != nil {
		return nil, fmt.Errorf("the base profile is not a JSON object: %w", err)
	}
	if _, ok := top["defaultAction"]; !ok {
		return nil, fmt.Errorf("the base profile has no defaultAction: want a seccomp profile (the linux.seccomp object of an OCI config, or Docker's profile)")
	}
	var entries []map[string]json.RawMessage
	if raw, ok := top["syscalls"]; ok {
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, fmt.Errorf("the base profile's syscalls: %w", err)
		}
	}
	whole := map[string]bool{} // calls the rules take whatever the arguments
	for _, r := range rules {
		if len(r.When) == 0 {
			whole[r.Syscall] = true
		}
	}
	var kept []any
	for i, e := range entries {
		var action string
		var names []string
		if err := json.Unmarshal(e["action"], &action); err != nil {
			return nil, fmt.Errorf("the base profile's syscalls[%d]: action: %w", i, err)
		}
		if raw, ok := e["names"]; ok {
			if err := json.Unmarshal(raw, &names); err != nil {
				return nil, fmt.Errorf("the base profile's syscalls[%d]: names: %w", i, err)
			}
		}
		if action == actAllow && len(names) > 0 {
			left := slices.DeleteFunc(slices.Clone(names), func(n string) bool { return whole[n] })
			if len(left) == 0 {
				continue
			}
			e["names"], _ = json.Marshal(left)
		}
		kept = append(kept, e)
	}
	for _, s := range syscallsOf(rules) {
		kept = append(kept, s)
	}
	var err error
	if top["syscalls"], err = json.Marshal(kept); err != nil {
		return nil, err
	}
	top["listenerPath"], _ = json.Marshal(socket)
	if metadata != "" {
		top["listenerMetadata"], _ = json.Marshal(metadata)
	} else {
		delete(top, "listenerMetadata")
	}
	return json.MarshalIndent(top, "", "  ")
}
