package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"time"
	"unicode"

	"sandbox/learn"
	"sandbox/policy"
	"sandbox/sentry"
	"sandbox/spawn"
)

const runHelp = `usage: sandbox run [flags] -- PROG [ARGS...]

Runs PROG with every connect(2), every send that names a destination and,
in --net host, every bind(2) and listen(2) decided by the policy.

  --policy FILE    the policy (default: the embedded one, which 'sandbox
                   policy default' prints: the loopback and unix sockets,
                   and listening on the loopback only)
  --net MODE       sandbox (default): a network namespace whose only way
                   out is the sandbox's userspace network, which checks
                   every flow again and answers DNS (host names in rules
                   match only here); the host's loopback is the gateway,
                   100.96.0.1 or host.sandbox.internal.
                   host: the host's network; listen rules judge binds.
                   none: a loopback of PROG's own and nothing else.
  --dns ADDR[:PORT]
                   with --net sandbox: the resolver the sandbox's DNS asks
                   (default: the host's, from /etc/resolv.conf)
  --log FILE       append one JSON record per decision to FILE (- for
                   stderr); README, "Using it" (--log), lists the fields
  --learn FILE     learn mode: nothing the policy's default would deny is
                   denied; on exit FILE holds a policy that allows exactly
                   what PROG did (with --policy, that policy's rules first)
  --quiet          print nothing of the sandbox's own when PROG ends (the
                   summary of denied calls, learn mode's note)

The exit status is PROG's (128+N if signal N killed it); 125 means the
sandbox itself failed and PROG did not run.
`

// runFlags are sandbox run's flags.
type runFlags struct {
	policy, net, log, dns, learn string
	quiet                        bool
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, runHelp)
		return 0
	}
	var f runFlags
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&f.policy, "policy", "", "policy `FILE`")
	fs.StringVar(&f.net, "net", "sandbox", "network `MODE`")
	fs.StringVar(&f.log, "log", "", "audit log `FILE`")
	fs.StringVar(&f.dns, "dns", "", "resolver `ADDR[:PORT]`")
	fs.StringVar(&f.learn, "learn", "", "learn into `FILE`")
	fs.BoolVar(&f.quiet, "quiet", false, "print nothing of the sandbox's own at the end")
	if err := fs.Parse(args); err != nil {
		return fail(stderr, "run: %v (see 'sandbox help run')", err)
	}
	prog := fs.Args()
	if len(prog) == 0 {
		return fail(stderr, "run: no program given: sandbox run [flags] -- PROG [ARGS...]")
	}
	mode, err := sentry.ParseNetMode(f.net)
	if err != nil {
		return fail(stderr, "--net %q: unknown network mode (want sandbox, host or none)", f.net)
	}
	var dns netip.AddrPort
	if f.dns != "" {
		switch mode {
		case sentry.NetHost:
			return fail(stderr, "--dns goes with --net sandbox: in --net host the program uses the host's resolver itself")
		case sentry.NetNone:
			return fail(stderr, "--dns goes with --net sandbox: in --net none the program has only a loopback of its own, and no resolver to ask")
		}
		if dns, err = parseResolver(f.dns); err != nil {
			return fail(stderr, "--dns %q: %v (want an IP address, optionally with :PORT, such as 192.0.2.53 or [2001:db8::53]:5353)", f.dns, err)
		}
	}

	pol, base, status := loadRunPolicy(f, stderr)
	if status != 0 {
		return status
	}
	notePolicy(pol, mode, f.policy != "", stderr)

	// Say what the environment withholds (as a container does) before
	// anything starts, rather than fail half-way with a bare errno.
	if err := spawn.CheckPrivileges(mode); err != nil {
		return fail(stderr, "%s", oneLine(err))
	}

	path, err := exec.LookPath(prog[0])
	if err != nil {
		return fail(stderr, "cannot run %s: %v", prog[0], errors.Unwrap(err))
	}

	var records sentry.Records
	audit, closeLog, err := openAuditLog(f.log)
	if err != nil {
		return fail(stderr, "--log: %v", err)
	}
	defer closeLog()
	records.Audit = audit
	var learnOut *os.File
	var learner *learn.Learner
	if f.learn != "" {
		// Opened now, so that a file that cannot be written fails the
		// start, not the end of a long job.
		if learnOut, err = os.OpenFile(f.learn, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644); err != nil {
			return fail(stderr, "--learn: %v", err)
		}
		defer learnOut.Close()
		learner = learn.New(learn.ReadEphemeralRange())
		records.Learn = learner
	}
	if !f.quiet {
		records.Denials = &sentry.Denials{}
	}

	status, err = spawn.Run(spawn.Config{
		Policy:  pol,
		Records: records,
		Net:     mode,
		DNS:     dns,
		Path:    path,
		Argv:    prog,
		Env:     os.Environ(),
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
	})
	if err != nil {
		var se *spawn.StartError
		if errors.As(err, &se) {
			if learnOut != nil {
				os.Remove(f.learn) // nothing was learned; leave no empty policy behind
			}
			return fail(stderr, "%s", oneLine(err))
		}
		// The program ran, but its status is lost: say so, and do not
		// pass off a made-up status as the program's.
		fmt.Fprintf(stderr, "sandbox: %s\n", oneLine(err))
		status = exitSandbox
	}
	if err := records.Audit.Err(); err != nil {
		fmt.Fprintf(stderr, "sandbox: %v: the audit log is incomplete\n", err)
	}
	if learner != nil {
		header := []string{
			"Learned by: sandbox run --net " + string(mode) + " --learn " + f.learn + " -- " + commandLine(prog),
			"on " + time.Now().UTC().Format(time.RFC3339) + "; PROG exited " + fmt.Sprint(status) + ".",
			"Check it (sandbox check), then run the job under it (--policy).",
		}
		if err := learner.Write(learnOut, base, header); err != nil {
			fmt.Fprintf(stderr, "sandbox: --learn %s: %v\n", f.learn, err)
			return exitSandbox
		}
		if !f.quiet {
			fmt.Fprintf(stderr, "sandbox: learned %s into %s (sandbox check %s shows it)\n", learner.Summary(), f.learn, f.learn)
		}
	}
	if line := records.Denials.Summary(); line != "" {
		fmt.Fprintf(stderr, "sandbox: %s; %s\n", line, whereEach(f.log))
	}
	return status
}

// loadRunPolicy reads the policy run judges by: --policy's, or the
// embedded default; in learn mode, --policy's (or an empty one) made to
// learn (policy.Learning). base is the policy as read, which learn mode
// writes first. A non-zero status means it failed and said why.
func loadRunPolicy(f runFlags, stderr io.Writer) (pol, base *policy.Policy, status int) {
	var err error
	switch {
	case f.policy != "":
		if base, err = policy.Load(f.policy); err != nil {
			lines(stderr, err)
			return nil, nil, exitSandbox
		}
	case f.learn != "":
		// Learning from nothing: everything the program does is
		// learned, the loopback included.
		base, _ = policy.Parse("<none>", []byte("version: 1\ndefault: deny\n"))
	default:
		base = policy.Default()
	}
	if f.learn != "" {
		return base.Learning(), base, 0
	}
	return base, base, 0
}

// notePolicy says, before the program runs, what in the policy will not
// do what it seems to in this mode.
func notePolicy(pol *policy.Policy, mode sentry.NetMode, given bool, stderr io.Writer) {
	if !given {
		return
	}
	if mode != sentry.NetSandbox { // the sandbox's DNS resolves names only there
		for _, r := range pol.HostnameRules() {
			fmt.Fprintf(stderr, "sandbox: warning: %s: %q names a host: it matches nothing in --net %s mode (names are resolved only by the sandbox's own DNS, in --net sandbox)\n", r.Pos, r.Text, mode)
		}
	}
	if mode == sentry.NetSandbox {
		if r := pol.FirstLoopbackRule(); r != nil {
			fmt.Fprintf(stderr, "sandbox: note: %s: %q: in --net sandbox a loopback address means the program's own loopback and the host's, which the program reaches as 100.96.0.1 or host.sandbox.internal\n", r.Pos, r.Text)
		}
	}
}

// whereEach is the end of the denial summary: where each denial is told.
func whereEach(log string) string {
	switch log {
	case "":
		return "--log - shows each"
	case "-":
		return "the log above shows each"
	}
	return log + " shows each"
}

// parseResolver reads ADDR, ADDR:PORT or [V6]:PORT; the port defaults to 53.
func parseResolver(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return netip.AddrPortFrom(a, 53), nil
}

// openAuditLog opens --log's FILE for appending ("-": stderr; "": no log)
// and returns the log and what closes it.
func openAuditLog(path string) (*sentry.AuditLog, func(), error) {
	switch path {
	case "":
		return nil, func() {}, nil
	case "-":
		return sentry.NewAuditLog(os.Stderr), func() {}, nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, nil, err
	}
	return sentry.NewAuditLog(f), func() { f.Close() }, nil
}

// commandLine is argv as a shell would take it back, each long argument
// cut short: a comment that says which job was learned, not a copy of an
// inline script.
func commandLine(argv []string) string {
	const maxArg = 40
	out := make([]string, len(argv))
	for i, a := range argv {
		a = strings.Map(func(r rune) rune {
			if !unicode.IsPrint(r) {
				return ' ' // an inline script's line breaks
			}
			return r
		}, a)
		if len([]rune(a)) > maxArg {
			a = string([]rune(a)[:maxArg]) + "…"
		}
		if a == "" || strings.ContainsFunc(a, func(r rune) bool {
			return !(unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_./:=,+@%…", r))
		}) {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// oneLine joins a multi-line error so that a failed start stays one line
// (the CLI contract), its parts separated by "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
