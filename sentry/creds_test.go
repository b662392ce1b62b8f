package sentry

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestParseStatusCreds(t *testing.T) {
	status := "Name:\tx\nTgid:\t4242\nNgid:\t0\nPid:\t4243\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\nGroups:\t27 4 100 \nCapEff:\t0000000000000400\n"
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, []byte(status), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parseStatusCreds(p)
	if err != nil {
		t.Fatal(err)
	}
	want := creds{tgid: 4242, uids: [3]int{1000, 1001, 1002}, gids: [3]int{50, 51, 52}, fsuid: 1003, fsgid: 53, groups: []int{4, 27, 100}, capEff: 0x400}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("parsed %+v, want %+v", c, want)
	}
	if !c.equal(want) {
		t.Fatal("creds do not equal themselves")
	}
	other := want
	other.groups = []int{4, 27}
	if c.equal(other) {
		t.Fatal("creds with other groups compare equal")
	}
	other = want
	other.uids[1] = 0
	if c.equal(other) {
		t.Fatal("creds with another effective uid compare equal: a unix peer would see the wrong one")
	}
}

func TestParseStatusCredsRejectsTruncated(t *testing.T) {
	p := filepath.Join(t.TempDir(), "status")
	if err := os.WriteFile(p, []byte("Uid:\t0\t0\t0\t0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := parseStatusCreds(p); err == nil {
		t.Fatal("a status without Tgid, Gid, Groups and CapEff parsed")
	}
}
