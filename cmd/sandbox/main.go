// Command sandbox runs a program whose network access is decided by a
// policy:
//
//	sandbox run [--policy FILE] [--net sandbox|host|none] [--dns ADDR] [--log FILE|-] -- PROG [ARGS…]
//	sandbox check FILE…
//	sandbox help
//
// It holds flags, sub-commands, exit codes and messages for people; the work
// is done in spawn (starting the program), sentry (serving its calls) and
// policy.
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

	"sandbox/policy"
	"sandbox/sentry"
	"sandbox/spawn"
)

// exitSandbox is the status of the sandbox's own failures, before the
// program runs (as env(1) and timeout(1) use it).
const exitSandbox = 125

const usage = `usage:
  sandbox run [--policy FILE] [--net sandbox|host|none] [--dns ADDR] [--log FILE|-] -- PROG [ARGS...]
  sandbox check FILE...
  sandbox help

run    runs PROG with every connect(2) decided by the policy (without
       --policy, the embedded default: the loopback and unix sockets, and
       listening on the loopback only).
       --net sandbox (default) gives PROG a network namespace whose only
       way out is netstack, which checks every flow again; --dns ADDR[:PORT]
       is the resolver the sandbox's DNS asks (default: the host's).
       --net host uses the host's network, and judges the local addresses
       PROG binds by the policy's listen rules too; --net none gives PROG
       only a loopback of its own.
       --log FILE appends one JSON record per decision (- for stderr).
       The exit status is PROG's (128+N if signal N killed it); 125 means the
       sandbox itself failed and PROG did not run.
check  validates policy files and prints one line per rule; exits 1 if any
       file has a mistake, each listed with file:line:col.
`

func main() {
	if len(os.Args) > 1 && os.Args[1] == spawn.InitArg {
		spawn.InitMain() // never returns
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stdout, stderr)
	case "check":
		return cmdCheck(args[1:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "sandbox: unknown command %q\n%s", args[0], usage)
	return 2
}

// fail prints the one line a failed start is allowed and returns 125.
func fail(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "sandbox: "+format+"\n", a...)
	return exitSandbox
}

func cmdRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	policyPath := fs.String("policy", "", "policy `FILE` (default: the embedded policy)")
	netMode := fs.String("net", "sandbox", "network mode: sandbox, host or none")
	logPath := fs.String("log", "", "write the audit log to `FILE` (- for stderr)")
	dnsFlag := fs.String("dns", "", "with --net sandbox: the resolver `ADDR[:PORT]` the sandbox's DNS asks (default: the host's)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) { // asked for, so not a failure
			fmt.Fprint(stdout, usage)
			return 0
		}
		return fail(stderr, "run: %v (see 'sandbox help')", err)
	}
	prog := fs.Args()
	if len(prog) == 0 {
		return fail(stderr, "run: no program given: sandbox run [flags] -- PROG [ARGS...]")
	}
	mode, err := sentry.ParseNetMode(*netMode)
	if err != nil {
		return fail(stderr, "--net %q: unknown network mode (want host, sandbox or none)", *netMode)
	}
	var dns netip.AddrPort
	if *dnsFlag != "" {
		if mode != sentry.NetSandbox {
			return fail(stderr, "--dns goes with --net sandbox: in --net %s the program uses the host's resolver itself", mode)
		}
		if dns, err = parseResolver(*dnsFlag); err != nil {
			return fail(stderr, "--dns %q: %v (want an IP address, optionally with :PORT)", *dnsFlag, err)
		}
	}

	pol := policy.Default()
	if *policyPath != "" {
		if pol, err = policy.Load(*policyPath); err != nil {
			return fail(stderr, "%s", oneLine(err))
		}
	}
	if mode != sentry.NetSandbox { // the sandbox's DNS resolves names only there
		for _, r := range pol.HostnameRules() {
			fmt.Fprintf(stderr, "sandbox: warning: %s: %q names a host: it matches nothing in --net %s mode (names are resolved only by the sandbox's own DNS, in --net sandbox)\n", r.Pos, r.Text, mode)
		}
	}

	// Say what the environment withholds (as a container does) before
	// anything starts, rather than fail half-way with a bare errno.
	if err := spawn.CheckPrivileges(mode); err != nil {
		return fail(stderr, "%s", oneLine(err))
	}

	path, err := exec.LookPath(prog[0])
	if err != nil {
		return fail(stderr, "cannot run %s: %v", prog[0], errors.Unwrap(err))
	}

	var audit *sentry.AuditLog
	switch *logPath {
	case "":
	case "-":
		audit = sentry.NewAuditLog(os.Stderr)
	default:
		f, err := os.OpenFile(*logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return fail(stderr, "audit log: %v", err)
		}
		defer f.Close()
		audit = sentry.NewAuditLog(f)
	}

	status, err := spawn.Run(spawn.Config{
		Policy: pol,
		Audit:  audit,
		Net:    mode,
		DNS:    dns,
		Path:   path,
		Argv:   prog,
		Env:    os.Environ(),
		Stdin:  os.Stdin,
		Stdout: os.Stdout,
		Stderr: os.Stderr,
	})
	if err != nil {
		var se *spawn.StartError
		if errors.As(err, &se) {
			return fail(stderr, "%s", oneLine(err))
		}
		// The program ran, but its status is lost: say so, and do not
		// pass off a made-up status as the program's.
		fmt.Fprintf(stderr, "sandbox: %s\n", oneLine(err))
		status = exitSandbox
	}
	if err := audit.Err(); err != nil {
		fmt.Fprintf(stderr, "sandbox: %v: the audit log is incomplete\n", err)
	}
	return status
}

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, "usage: sandbox check FILE...\n")
		return 2
	}
	if args[0] == "-h" || args[0] == "--help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	status := 0
	for _, path := range args {
		if !checkFile(path, stdout, stderr) {
			status = 1
		}
	}
	return status
}

// checkFile reports on one policy file, saying whether it is valid.
func checkFile(path string, stdout, stderr io.Writer) bool {
	pol, err := policy.Load(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return false
	}
	fmt.Fprintf(stdout, "%s: ok: %d rules, default %s", pol.Source, len(pol.Rules), pol.Default)
	if pol.Default == policy.Deny {
		fmt.Fprintf(stdout, " (%s)", policy.ErrnoName(pol.Errno))
	}
	fmt.Fprintln(stdout)
	for _, r := range pol.Rules {
		fmt.Fprintf(stdout, "%s: %s\n", r.Pos.Short(), r.Summary())
	}
	for _, r := range pol.HostnameRules() {
		fmt.Fprintf(stdout, "%s: note: %q names a host: matched only in --net sandbox mode\n", r.Pos.Short(), r.Text)
	}
	// One note, at the first listen rule, rather than one per rule: the
	// mode, not the rule, decides whether any of them is judged.
	for _, r := range pol.Rules {
		if r.Listen() {
			fmt.Fprintf(stdout, "%s: note: listen rules are judged only in --net host mode (in --net sandbox and --net none nothing outside can reach the program's network namespace)\n", r.Pos.Short())
			break
		}
	}
	return true
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

// oneLine joins a multi-error (a policy with several mistakes) so the
// failure stays one line per the CLI contract, mistakes separated by "; ".
func oneLine(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
