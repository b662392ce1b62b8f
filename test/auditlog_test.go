package test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// documentedVerdicts are the verdicts README's "--log" documents; no
// record may carry any other, or none.
var documentedVerdicts = map[string]bool{"allow": true, "deny": true, "invalid": true, "pass": true}

// TestAuditVerdictsAreDocumented runs the connect and send conformance
// programs — every error path, every send call, sendmmsg's empty and
// partial batches — under --net host with --log, allowing all and denying
// all, and holds every record to the log's contract: a documented verdict,
// and for a decision of the policy's, the rule that made it (a rule's
// line, or the default's).
func TestAuditVerdictsAreDocumented(t *testing.T) {
	requireRoot(t)
	progs := map[string][]string{
		"connect": {buildC(t, "conformance/connect.c")},
		"send":    withFastOpen(buildC(t, "conformance/send.c")),
	}
	policies := map[string]string{
		"allow-all": writePolicy(t, "version: 1\ndefault: allow\n"),
		"deny-all":  writePolicy(t, "version: 1\ndefault: deny\n"),
	}
	for name, prog := range progs {
		for pname, pol := range policies {
			t.Run(name+"/"+pname, func(t *testing.T) {
				logFile := filepath.Join(t.TempDir(), "audit.jsonl")
				argv := append([]string{sandboxBin, "run", "--net", "host", "--quiet", "--log", logFile, "--policy", pol, "--"}, prog...)
				runCmd(t, 2*time.Minute, inNetns(argv...)...) // its output is the conformance tests' business
				data, err := os.ReadFile(logFile)
				if err != nil {
					t.Fatal(err)
				}
				lines := strings.Split(strings.TrimSpace(string(data)), "\n")
				if len(lines) < 50 {
					t.Fatalf("only %d records", len(lines))
				}
				bySyscall := map[string]int{}
				for _, line := range lines {
					var r struct{ Syscall, Verdict, Rule, Reason string }
					if err := json.Unmarshal([]byte(line), &r); err != nil {
						t.Fatalf("record %q: %v", line, err)
					}
					bySyscall[r.Syscall]++
					if !documentedVerdicts[r.Verdict] {
						t.Errorf("verdict %q is not documented: %s", r.Verdict, line)
					}
					if (r.Verdict == "allow" || r.Verdict == "deny") && r.Rule == "" && !strings.HasPrefix(r.Reason, "fail closed") && !strings.Contains(r.Reason, "not covered by the policy") && r.Reason != "the sandbox's DNS" {
						t.Errorf("a decision of the policy's names no rule: %s", line)
					}
				}
				if name == "send" && bySyscall["sendmmsg"] == 0 {
					t.Errorf("no sendmmsg records: %v", bySyscall)
				}
				t.Log(fmt.Sprint(bySyscall))
			})
		}
	}
}
