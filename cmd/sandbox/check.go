package main

import (
	"fmt"
	"io"
	"os"

	"sandbox/policy"
)

const checkHelp = `usage: sandbox check FILE...

Validates policy files ("-" reads one from stdin) and prints, for each, one
line per rule saying what it does, with notes on what depends on the
network mode and warnings about rules that can never match (an earlier rule
matches all they would; a rule written twice). Exits 1 if any file has a
mistake, each listed as file:line:col: what is wrong.
`

func cmdCheck(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, checkHelp)
		return 0
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, checkHelp)
		return exitUsage
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
	var pol *policy.Policy
	var err error
	if path == "-" {
		var data []byte
		if data, err = io.ReadAll(os.Stdin); err == nil {
			pol, err = policy.Parse("<stdin>", data)
		}
	} else {
		pol, err = policy.Load(path)
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return false
	}
	rules := "rules"
	if len(pol.Rules) == 1 {
		rules = "rule"
	}
	fmt.Fprintf(stdout, "%s: ok: %d %s, default %s", pol.Source, len(pol.Rules), rules, pol.Default)
	if pol.Default == policy.Deny {
		fmt.Fprintf(stdout, " (%s)", policy.ErrnoName(pol.Errno))
	}
	fmt.Fprintln(stdout)
	for _, r := range pol.Rules {
		fmt.Fprintf(stdout, "%s: %s\n", r.Pos.Short(), r.Summary())
	}
	for _, s := range pol.Shadowed() {
		if s.Duplicate {
			fmt.Fprintf(stdout, "%s: warning: %q is written twice: line %d says the same first; remove one\n", s.Rule.Pos.Short(), s.Rule.Text, s.By.Pos.Line)
			continue
		}
		fmt.Fprintf(stdout, "%s: warning: %q never matches: line %d (%q) matches everything it would, first; move it above, or remove it\n", s.Rule.Pos.Short(), s.Rule.Text, s.By.Pos.Line, s.By.Text)
	}
	for _, r := range pol.HostnameRules() {
		fmt.Fprintf(stdout, "%s: note: %q names a host: matched only in --net sandbox mode\n", r.Pos.Short(), r.Text)
	}
	if r := pol.FirstLoopbackRule(); r != nil {
		fmt.Fprintf(stdout, "%s: note: %q: a loopback address is the host's loopback in --net host; in --net sandbox the program's own loopback and the host's, which the program reaches as 100.96.0.1 or host.sandbox.internal; in --net none the program's own only\n", r.Pos.Short(), r.Text)
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
