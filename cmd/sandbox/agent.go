package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"sandbox/oci"
	"sandbox/policy"
	"sandbox/sentry"
)

const agentHelp = `usage: sandbox agent --socket PATH [--policy FILE] [--policy-dir DIR] [--log FILE|-]

Serves the seccomp listeners that OCI runtimes (runc, crun) hand over: a
container whose profile (sandbox oci-profile) names PATH as its
listenerPath has its connects, sends, binds and listens judged as sandbox
run judges them in --net host, by a policy:

  --socket PATH      the unix socket runtimes connect to (created, mode 0600)
  --policy FILE      the policy of a container that names none (default:
                     the embedded one)
  --policy-dir DIR   the policies containers may name: the annotation
                     sandbox.policy: NAME (or the profile's
                     listenerMetadata "policy=NAME") selects DIR/NAME.yaml.
                     A name that is not one, or a file that does not read,
                     denies every call of that container.
  --log FILE         append one JSON record per decision (- for stderr);
                     each names its container (and pod, where Kubernetes
                     says it)

SIGHUP reads every policy again (a bad file keeps its old version);
SIGINT or SIGTERM stops the agent, and the calls of the containers it
served then fail (ENOSYS): closed, never open.
`

const ociProfileHelp = `usage: sandbox oci-profile --socket PATH [--metadata STR] [--base FILE]

Prints the linux.seccomp object of an OCI runtime config that has the
calls sandbox run traps sent to the agent at PATH (SCMP_ACT_NOTIFY), the
calls it always refuses refused, and everything else as the base profile
says (without --base: allowed). Drop it into a runc bundle's config.json,
or into a Kubernetes node's seccomp profile directory for a pod's
securityContext.seccompProfile (type Localhost).

  --socket PATH     the agent's socket (listenerPath)
  --metadata STR    listenerMetadata: "policy=NAME" picks the policy
  --base FILE       a seccomp profile to merge into (e.g. Docker's default)
`

func cmdAgent(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, agentHelp)
		return 0
	}
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", "", "")
	policyPath := fs.String("policy", "", "")
	policyDir := fs.String("policy-dir", "", "")
	logPath := fs.String("log", "", "")
	if err := fs.Parse(args); err != nil {
		return fail(stderr, "agent: %v (see 'sandbox help agent')", err)
	}
	if *socket == "" || fs.NArg() != 0 {
		return fail(stderr, "agent: --socket PATH is needed, and nothing else (see 'sandbox help agent')")
	}
	loadOwn := func() (*policy.Policy, error) {
		if *policyPath == "" {
			return nil, nil
		}
		return policy.Load(*policyPath)
	}
	own, err := loadOwn()
	if err != nil {
		lines(stderr, err)
		return exitSandbox
	}
	if *policyDir != "" {
		if st, err := os.Stat(*policyDir); err != nil || !st.IsDir() {
			return fail(stderr, "agent: --policy-dir %s: not a directory", *policyDir)
		}
	}
	audit, closeLog, err := openAuditLog(*logPath)
	if err != nil {
		return fail(stderr, "agent: --log: %v", err)
	}
	defer closeLog()
	records := sentry.Records{Audit: audit}
	// A stale socket of an agent that died is in the way; anything else
	// at PATH is not the agent's to remove.
	if st, err := os.Lstat(*socket); err == nil && st.Mode()&os.ModeSocket != 0 {
		os.Remove(*socket)
	}
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: *socket, Net: "unix"})
	if err != nil {
		return fail(stderr, "agent: listen on %s: %v", *socket, err)
	}
	ln.SetUnlinkOnClose(true)
	// Only root (the runtime) may hand over a container.
	if err := os.Chmod(*socket, 0o600); err != nil {
		ln.Close()
		return fail(stderr, "agent: %v", err)
	}
	logf := func(format string, a ...any) { fmt.Fprintf(stderr, "sandbox agent: "+format+"\n", a...) }
	agent := &oci.Agent{Policy: own, PolicyDir: *policyDir, Records: records, Log: logf}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			p, err := loadOwn()
			if err != nil {
				logf("reload: %s keeps its old version: %v", *policyPath, oneLine(err))
				p = nil
			}
			agent.Reload(p)
		}
	}()
	logf("serving on %s", *socket)
	err = agent.Serve(ctx, ln)
	now, total := agent.Serving()
	logf("stopped: served %d containers (%d still running lose their agent)", total, now)
	if err := records.Audit.Err(); err != nil {
		logf("%v: the audit log is incomplete", err)
	}
	if errors.Is(err, context.Canceled) {
		return 0
	}
	logf("%v", err)
	return 1
}

func cmdOCIProfile(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, ociProfileHelp)
		return 0
	}
	fs := flag.NewFlagSet("oci-profile", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	socket := fs.String("socket", "", "")
	metadata := fs.String("metadata", "", "")
	base := fs.String("base", "", "")
	if err := fs.Parse(args); err != nil || *socket == "" || fs.NArg() != 0 {
		fmt.Fprint(stderr, ociProfileHelp)
		return exitUsage
	}
	rules := sentry.FilterRules(sentry.NetHost)
	var out []byte
	if *base != "" {
		data, err := os.ReadFile(*base)
		if err != nil {
			return fail(stderr, "oci-profile: %v", err)
		}
		if out, err = oci.Merge(data, rules, *socket, *metadata); err != nil {
			return fail(stderr, "oci-profile: %s: %v", *base, err)
		}
	} else {
		var err error
		if out, err = jsonIndent(oci.Profile(rules, *socket, *metadata)); err != nil {
			return fail(stderr, "oci-profile: %v", err)
		}
	}
	stdout.Write(append(out, '\n'))
	return 0
}
