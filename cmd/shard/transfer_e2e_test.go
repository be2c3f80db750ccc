package main

import (
	"fmt"
	"strings"
	"testing"
)

// TestE2ETransferLeader: `shard ranges transfer-leader RANGE NODE` moves the
// leadership of the meta range and of a user range to another node, asked
// through a third; writes keep working.
func TestE2ETransferLeader(t *testing.T) {
	c := startE2ECluster(t, 3)
	for _, id := range []uint64{1, 2} {
		old, err := c.LeaderOf(id)
		if err != nil {
			t.Fatal(err)
		}
		target, via := c.Node(int(old.ID())%3+1), c.Node((int(old.ID())+1)%3+1)
		r := via.CLI("ranges", "transfer-leader", fmt.Sprint(id), fmt.Sprint(target.ID()))
		if !r.OK() {
			t.Fatalf("transfer-leader: %v", r)
		}
		want := fmt.Sprintf("r%d is now led by n%d", id, target.ID())
		if !strings.Contains(r.Stdout, want) {
			t.Errorf("transfer-leader output %q, want %q", r.Stdout, want)
		}
		if l, err := c.LeaderOf(id); err != nil || l != target {
			t.Errorf("after transfer-leader r%d to %v: leader %v (%v)", id, target, l, err)
		}
		put(t, via, fmt.Sprintf("after-transfer-%d", id), "v")
	}
	r := c.Node(1).CLI("ranges", "transfer-leader", "2", "9")
	if r.OK() || !strings.Contains(r.Stderr, "n9 holds no voting replica of r2") {
		t.Errorf("transfer to a node without a replica: %v", r)
	}
}

// TestCLIStartHiddenFlags: the fault-injection flags of `shard start` parse
// and are checked, but -h does not list them.
func TestCLIStartHiddenFlags(t *testing.T) {
	_, _, stderr := runCLI("start", "-h")
	for _, f := range []string{"clock-offset", "rpc-source-addr", "rpc-listen-addr"} {
		if strings.Contains(stderr, f) {
			t.Errorf("start -h lists the hidden flag %s:\n%s", f, stderr)
		}
	}
	if !strings.Contains(stderr, "-data-dir") {
		t.Errorf("start -h lost the visible flags:\n%s", stderr)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "--clock-offset", "2h"}, "clock offset 2h0m0s is beyond"},
		{[]string{"start", "--rpc-source-addr", "nohost"}, `rpc source address "nohost" is not an IP address`},
		{[]string{"ranges", "transfer-leader", "1"}, "takes a RANGE id and a NODE id"},
		{[]string{"ranges", "transfer-leader", "x", "2"}, `bad RANGE "x"`},
	} {
		code, _, stderr := runCLI(tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("shard %q: exit %d (want 2), stderr:\n%s(want it to contain %q)", tc.args, code, stderr, tc.want)
		}
	}
}
