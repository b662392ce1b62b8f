package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"sandbox/policy"
)

const policyHelp = `usage: sandbox policy default

Prints the embedded default policy, the one sandbox run uses without
--policy and the log cites as <default>:LINE; a start for a policy of
your own.
`

const versionHelp = `usage: sandbox version

Prints the sandbox's version: its module version, the commit it was built
from (and whether the tree had changes), and the Go release.
`

func cmdPolicy(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, policyHelp)
		return 0
	}
	if len(args) != 1 || args[0] != "default" {
		fmt.Fprint(stderr, policyHelp)
		return exitUsage
	}
	stdout.Write(policy.DefaultYAML())
	return 0
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	if wantsHelp(args) {
		fmt.Fprint(stdout, versionHelp)
		return 0
	}
	fmt.Fprintln(stdout, version())
	return 0
}

// buildVersion is what the Makefile stamps (-X main.buildVersion=…): the
// commit the tree was at, as git describe says it ("-dirty" with changes).
var buildVersion string

// version is "sandbox VERSION GO": the stamped version, else what the build
// recorded of itself (the module version; the commit where go build
// stamped it), else "(devel)".
func version() string {
	v := buildVersion
	if v == "" {
		v = "(devel)"
		if bi, ok := debug.ReadBuildInfo(); ok {
			if bi.Main.Version != "" {
				v = bi.Main.Version
			}
			for _, s := range bi.Settings {
				switch s.Key {
				case "vcs.revision":
					v += " (commit " + s.Value
				case "vcs.modified":
					if s.Value == "true" {
						v += ", modified"
					}
				}
			}
			if strings.Contains(v, "(commit") {
				v += ")"
			}
		}
	}
	return "sandbox " + v + " " + runtime.Version()
}

// jsonIndent is v as indented JSON.
func jsonIndent(v any) ([]byte, error) {
	return json.MarshalIndent(v, "", "  ")
}
