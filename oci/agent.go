package oci

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"sandbox/policy"
	"sandbox/seccomp"
	"sandbox/sentry"
)

// Agent serves the seccomp listeners container runtimes hand it, one
// sentry.Server per container, each under the policy the container names.
type Agent struct {
	// Policy is the policy of a container that names none (nil: the
	// embedded default).
	Policy *policy.Policy
	// PolicyDir holds the policies containers may name: NAME.yaml for
	// the annotation sandbox.policy: NAME. Empty: containers name none.
	PolicyDir string
	// Records is where every container's records go; each record names
	// its container.
	Records sentry.Records
	// Log tells the operator of what happens to containers (one line
	// each: served, ended, refused, a policy reloaded or not).
	Log func(format string, args ...any)

	mu sync.Mutex
	// +checklocks:mu
	named map[string]*policy.Policy // by name, as last read from PolicyDir
	// +checklocks:mu
	served map[*sentry.Server]servedBy
	// +checklocks:mu
	total int // containers served since the start
}

// servedBy is what a served container's policy came from, for a reload.
type servedBy struct {
	id, name string // name "": the agent's own Policy
}

// denyAll is the policy of a container whose policy cannot be had: every
// call denied, what a sandbox does when it cannot judge.
var denyAll = func() *policy.Policy {
	p, err := policy.Parse("<fail-closed>", []byte("version: 1\ndefault: deny\n"))
	if err != nil {
		panic(err)
	}
	return p
}()

// Serve accepts runtime connections on ln until ctx ends, serving each
// container handed over on its own; one that is slow or ends does not
// hold up the others. It returns ctx's error, or the listener's.
func (a *Agent) Serve(ctx context.Context, ln *net.UnixListener) error {
	a.mu.Lock()
	if a.served == nil {
		a.served = map[*sentry.Server]servedBy{}
		a.named = map[string]*policy.Policy{}
	}
	a.mu.Unlock()
	go func() {
		<-ctx.Done()
		ln.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			a.logf("accept: %v", err)
			time.Sleep(10 * time.Millisecond) // EMFILE and the like: do not spin
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.handle(ctx, conn)
		}()
	}
}

// handshakeTimeout bounds how long a connection may take to say what it
// hands over: the socket may be reachable by more than the runtime.
const handshakeTimeout = 5 * time.Second

// handle takes one container from conn and serves it until it ends.
func (a *Agent) handle(ctx context.Context, conn *net.UnixConn) {
	conn.SetReadDeadline(time.Now().Add(handshakeTimeout))
	h, err := Receive(conn)
	conn.Close()
	if err != nil {
		a.logf("a runtime's handover failed: %v", err)
		return
	}
	id := h.State.ID
	pol, name := a.policyFor(h)
	listener, err := seccomp.NewListener(h.SeccompFd, sentry.Trapped())
	if err != nil {
		unix.Close(h.SeccompFd)
		a.logf("container %s: %v: its trapped calls fail (ENOSYS)", id, err)
		return
	}
	pod, ns := h.State.Pod()
	srv, err := sentry.Serve(listener, sentry.Config{
		Policy:    pol,
		Records:   a.Records,
		Mode:      sentry.NetHost, // the container's sockets are judged by their real destinations
		Container: &sentry.Container{ID: id, Pod: pod, PodNamespace: ns},
	})
	if err != nil {
		listener.Close()
		a.logf("container %s: %v: its trapped calls fail (ENOSYS)", id, err)
		return
	}
	a.mu.Lock()
	a.served[srv] = servedBy{id: id, name: name}
	a.total++
	a.mu.Unlock()
	a.logf("container %s: serving (pid %d, policy %s)", id, h.Pid, pol.Source)
	select {
	case <-srv.Done():
		a.logf("container %s: ended", id)
	case <-ctx.Done():
	}
	srv.Close()
	a.mu.Lock()
	delete(a.served, srv)
	a.mu.Unlock()
}

// policyFor is the policy a container gets, and the name it asked for.
// A name that is not a plain name, or names no readable, valid policy,
// fails closed: every call of the container is denied, and the log says
// why.
func (a *Agent) policyFor(h *Handoff) (*policy.Policy, string) {
	name := h.PolicyName()
	if name == "" {
		if a.Policy != nil {
			return a.Policy, ""
		}
		return policy.Default(), ""
	}
	fail := func(why string) (*policy.Policy, string) {
		a.logf("container %s: policy %q: %s: every call denied", h.State.ID, name, why)
		return denyAll, name
	}
	if !ValidPolicyName(name) {
		return fail("not a policy name (letters, digits, '-', '_', '.'; never a path)")
	}
	if a.PolicyDir == "" {
		return fail("the agent has no --policy-dir")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.named[name]; p != nil {
		return p, name
	}
	p, err := policy.Load(filepath.Join(a.PolicyDir, name+".yaml"))
	if err != nil {
		return fail(err.Error())
	}
	a.named[name] = p
	return p, name
}

// Reload reads every policy again — the agent's own file is the caller's
// to read — and gives each served container its policy's new version. A
// file that no longer reads keeps its old version, and the log says why.
func (a *Agent) Reload(own *policy.Policy) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if own != nil {
		a.Policy = own
	}
	for name := range a.named {
		p, err := policy.Load(filepath.Join(a.PolicyDir, name+".yaml"))
		if err != nil {
			a.logf("reload: policy %q keeps its old version: %v", name, err)
			continue
		}
		a.named[name] = p
	}
	for srv, by := range a.served {
		switch p := a.named[by.name]; {
		case by.name == "" && a.Policy != nil:
			srv.SetPolicy(a.Policy)
		case p != nil:
			srv.SetPolicy(p)
		}
	}
	a.logf("reloaded: %d named policies, %d containers served", len(a.named), len(a.served))
}

// Serving is how many containers are being served, and how many have been
// since the start.
func (a *Agent) Serving() (now, total int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.served), a.total
}

func (a *Agent) logf(format string, args ...any) {
	if a.Log != nil {
		a.Log(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, "sandbox agent: "+format+"\n", args...)
}
