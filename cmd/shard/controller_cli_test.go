package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestControllerCLIUsage: the controller's commands refuse bad arguments
// with a message and exit code 2, before dialing anything.
func TestControllerCLIUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ranges", "explain"}, "exactly one RANGE"},
		{[]string{"ranges", "explain", "r0"}, "bad RANGE"},
		{[]string{"ranges", "merge", "x"}, "bad RANGE"},
		{[]string{"ranges", "relocate", "3", "1"}, "RANGE id, the FROM node and the TO node"},
		{[]string{"ranges", "hot", "extra"}, "unexpected arguments"},
		{[]string{"events", "--range", "abc"}, "bad --range"},
		{[]string{"node"}, "drain ID, decommission ID, activate ID"},
		{[]string{"node", "frob", "1"}, `unknown node subcommand "frob"`},
		{[]string{"node", "drain"}, "exactly one node ID"},
		{[]string{"start", "--range-max-bytes", "lots"}, "not a positive size"},
		{[]string{"start", "--range-max-bytes", "0"}, "not a positive size"},
	} {
		var stdout, stderr bytes.Buffer
		code := run(c.args, &stdout, &stderr)
		if code != 2 || !strings.Contains(stderr.String(), c.want) {
			t.Errorf("shard %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stderr.String(), c.want)
		}
	}
}

func TestByteSizeFlag(t *testing.T) {
	for in, want := range map[string]uint64{"64MiB": 64 << 20, "1kb": 1000, "512": 512, "2 GiB": 2 << 30, "10B": 10} {
		var b byteSize
		if err := b.Set(in); err != nil || uint64(b) != want {
			t.Errorf("Set(%q) = %d, %v; want %d", in, uint64(b), err, want)
		}
	}
	b := byteSize(64 << 20)
	if b.String() != "64MiB" {
		t.Errorf("String() = %q", b.String())
	}
}
