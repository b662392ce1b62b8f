// Package oci speaks to OCI container runtimes (runc, crun): it reads what
// a runtime hands a seccomp agent — the container's state and its seccomp
// notification fd, sent to the profile's listenerPath — and writes the
// linux.seccomp object of an OCI config that traps what `sandbox run`
// traps, so that `sandbox agent` can serve containers with the same
// handlers and policies.
package oci

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/sys/unix"
)

// ProcessState is what the runtime sends with the fd (the runtime spec's
// "containerProcessState"): the container's state, which fds follow, the
// pid of the container process, and the profile's listenerMetadata.
type ProcessState struct {
	OCIVersion string   `json:"ociVersion"`
	Fds        []string `json:"fds"`
	Pid        int      `json:"pid"`
	Metadata   string   `json:"metadata"`
	State      State    `json:"state"`
}

// State is the container's state as the runtime spec defines it.
type State struct {
	OCIVersion  string            `json:"ociVersion"`
	ID          string            `json:"id"`
	Status      string            `json:"status"`
	Pid         int               `json:"pid"`
	Bundle      string            `json:"bundle"`
	Annotations map[string]string `json:"annotations"`
}

// seccompFd is the name the runtime spec gives the notification fd in
// ProcessState.Fds.
const seccompFd = "seccompFd"

// maxState bounds the state message. A runtime sends a few hundred bytes
// and the annotations; a peer that sends more is not a runtime.
const maxState = 1 << 20

// Handoff is one container handed over: its state and its seccomp
// notification fd, which the caller owns.
type Handoff struct {
	ProcessState
	SeccompFd int
}

// Receive reads one runtime's message from conn: the state as JSON, the
// fds in one SCM_RIGHTS control message. Any fd received is closed on
// error; extra ones are closed in every case.
func Receive(conn *net.UnixConn) (*Handoff, error) {
	buf := make([]byte, maxState)
	oob := make([]byte, unix.CmsgSpace(4*8)) // room for a few fds: a runtime sends one
	n, oobn, flags, _, err := conn.ReadMsgUnix(buf, oob)
	if err != nil {
		return nil, fmt.Errorf("read the runtime's message: %w", err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return nil, fmt.Errorf("read the runtime's fds: %w", err)
		}
		for _, m := range msgs {
			if got, err := unix.ParseUnixRights(&m); err == nil {
				fds = append(fds, got...)
			}
		}
	}
	closeAll := func() {
		for _, fd := range fds {
			unix.Close(fd)
		}
	}
	if flags&(unix.MSG_TRUNC|unix.MSG_CTRUNC) != 0 {
		closeAll()
		return nil, errors.New("the runtime's message was cut short: more state or fds than any runtime sends")
	}
	var ps ProcessState
	if err := json.Unmarshal(buf[:n], &ps); err != nil {
		closeAll()
		return nil, fmt.Errorf("the runtime's state is not JSON: %w", err)
	}
	at := -1
	for i, name := range ps.Fds {
		if name == seccompFd {
			at = i
		}
	}
	if at < 0 || at >= len(fds) || len(ps.Fds) != len(fds) {
		closeAll()
		return nil, fmt.Errorf("the runtime sent fds %q and %d descriptors: no %s among them", ps.Fds, len(fds), seccompFd)
	}
	h := &Handoff{ProcessState: ps, SeccompFd: fds[at]}
	for i, fd := range fds {
		if i != at {
			unix.Close(fd)
		}
	}
	unix.CloseOnExec(h.SeccompFd)
	return h, nil
}

// The annotations by which Kubernetes' runtimes (containerd's CRI plugin,
// CRI-O) name a container's pod.
var (
	podNameKeys      = []string{"io.kubernetes.cri.sandbox-name", "io.kubernetes.pod.name"}
	podNamespaceKeys = []string{"io.kubernetes.cri.sandbox-namespace", "io.kubernetes.pod.namespace"}
)

// Pod is the container's pod name and namespace, from the annotations
// Kubernetes' runtimes set ("" where none is).
func (s *State) Pod() (name, namespace string) {
	first := func(keys []string) string {
		for _, k := range keys {
			if v := s.Annotations[k]; v != "" {
				return v
			}
		}
		return ""
	}
	return first(podNameKeys), first(podNamespaceKeys)
}

// PolicyAnnotation is the annotation by which a container names its
// policy: a name in the agent's policy directory, never a path.
const PolicyAnnotation = "sandbox.policy"

// PolicyName is the policy the container asks for: its annotation, else
// the profile's listenerMetadata ("policy=NAME", or a bare NAME); "" for
// none.
func (h *Handoff) PolicyName() string {
	if n := h.State.Annotations[PolicyAnnotation]; n != "" {
		return n
	}
	m := strings.TrimSpace(h.Metadata)
	if v, ok := strings.CutPrefix(m, "policy="); ok {
		return v
	}
	return m
}

// ValidPolicyName reports whether name can only name a file in the policy
// directory: letters, digits, '-', '_' and '.', not starting with '.'. A
// container chooses it, and must not reach any other file of the host.
func ValidPolicyName(name string) bool {
	if name == "" || name[0] == '.' || len(name) > 128 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return false
		}
	}
	return true
}
