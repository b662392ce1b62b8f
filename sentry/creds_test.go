package sentry

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParseStatusCreds(t *testing.T) {
	status := "Name:\tx\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\nGroups:\t27 4 100 \nCapEff:\t0000000000000400\n"
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseStatusCreds(p)
	if err != nil {
		t.Fatal(err)
	}
	want := creds{fsuid: 1003, fsgid: 53, groups: []int{4, 27, 100}, capEff: 0x400}
	if !c.equal(want) {
		t.Fatalf("parsed %+v, want %+v", c, want)
	}
	if c.equal(creds{fsuid: 1003, fsgid: 53, groups: []int{4, 27}, capEff: 0x400}) {
		t.Fatal("creds with other groups compare equal")
	}
}

func TestParseStatusCredsRejectsTruncated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, []byte("Uid:\t0\t0\t0\t0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseStatusCreds(p); err == nil {
		t.Fatal("a status without Gid, Groups and CapEff parsed")
	}
}
