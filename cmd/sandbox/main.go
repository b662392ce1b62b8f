// Command sandbox runs a program whose network access is decided by a
// policy:
//
//	sandbox run [--policy FILE] [--net sandbox|host|none] [--dns ADDR] [--log FILE|-] [--learn FILE] [--quiet] -- PROG [ARGS…]
//	sandbox check FILE…|-
//	sandbox policy default
//	sandbox version
//	sandbox agent --socket PATH [--policy FILE] [--policy-dir DIR] [--log FILE|-]
//	sandbox oci-profile --socket PATH [--metadata STR] [--base FILE]
//	sandbox help [COMMAND]
//
// It holds flags, sub-commands, exit codes and messages for people; the work
// is done in spawn (starting the program), sentry (serving its calls),
// policy and learn.
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"sandbox/spawn"
)

// exitSandbox is the status of the sandbox's own failures, before the
// program runs (as env(1) and timeout(1) use it).
const exitSandbox = 125

// exitUsage is the status of a command line the sandbox cannot read.
const exitUsage = 2

const usage = `usage:
  sandbox run [flags] -- PROG [ARGS...]   run PROG under a network policy
  sandbox check FILE...                   validate policy files (- for stdin)
  sandbox policy default                  print the embedded default policy
  sandbox version                         print the version
  sandbox agent --socket PATH [flags]     serve containers' seccomp listeners (runc, crun)
  sandbox oci-profile --socket PATH       print the OCI seccomp profile for the agent
  sandbox help [COMMAND]                  this, or a command's flags

'sandbox help run' lists run's flags. The exit status of run is PROG's
(128+N if signal N killed it); 125 means the sandbox itself failed and
PROG did not run; 2, a command line the sandbox cannot read.
`

// command is one sub-command: its function and the help 'sandbox help
// NAME' and 'sandbox NAME --help' print.
type command struct {
	run  func(args []string, stdout, stderr io.Writer) int
	help string
}

// commands are the sub-commands, by name. Filled in init: cmdHelp looks
// itself up in it.
var commands map[string]command

func init() {
	commands = map[string]command{
		"run":         {cmdRun, runHelp},
		"check":       {cmdCheck, checkHelp},
		"policy":      {cmdPolicy, policyHelp},
		"version":     {cmdVersion, versionHelp},
		"agent":       {cmdAgent, agentHelp},
		"oci-profile": {cmdOCIProfile, ociProfileHelp},
		"help":        {cmdHelp, usage},
	}
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == spawn.InitArg {
		spawn.InitMain() // never returns
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return exitUsage
	}
	switch args[0] {
	case "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "--version":
		return cmdVersion(nil, stdout, stderr)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sandbox: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	return c.run(args[1:], stdout, stderr)
}

// cmdHelp prints the usage, or one command's help.
func cmdHelp(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stdout, usage)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "sandbox: help: unknown command %q\n%s", args[0], usage)
		return exitUsage
	}
	fmt.Fprint(stdout, c.help)
	return 0
}

// wantsHelp reports whether args ask for help (-h, --help, -help) before
// any "--".
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help":
			return true
		}
	}
	return false
}

// fail prints the one line a failed start is allowed and returns 125.
func fail(stderr io.Writer, format string, a ...any) int {
	fmt.Fprintf(stderr, "sandbox: "+format+"\n", a...)
	return exitSandbox
}

// lines prints err one line each, prefixed: a policy with several mistakes
// is one mistake per line, file:line:col first, as compilers print them.
func lines(stderr io.Writer, err error) {
	for _, l := range strings.Split(strings.TrimRight(err.Error(), "\n"), "\n") {
		fmt.Fprintf(stderr, "sandbox: %s\n", l)
	}
}
