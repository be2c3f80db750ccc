package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestE2ETxnAndAsOf: `kv txn` commits a script atomically across two
// ranges (2PC) and within one (1PC), and `kv get --as-of` reads the past.
func TestE2ETxnAndAsOf(t *testing.T) {
	c := startE2ECluster(t, 3)
	n1, n2, n3 := c.Node(1), c.Node(2), c.Node(3)
	if r := n1.CLI("ranges", "split", "m"); !r.OK() {
		t.Fatalf("split: %v", r)
	}
	// Two accounts on two ranges: the transfer must be 2PC.
	r := n2.CLI("kv", "txn", "put alice 100; put zed 0")
	if !r.OK() || !strings.Contains(r.Stdout, "(2PC)") {
		t.Fatalf("create accounts: %v", r)
	}
	before := n3.CLI("kv", "get", "--json", "alice")
	if !before.OK() {
		t.Fatalf("get alice: %v", before)
	}
	var got struct {
		Value  string `json:"value"`
		ReadTS uint64 `json:"read_ts"`
	}
	if err := json.Unmarshal([]byte(before.Stdout), &got); err != nil || got.Value != "100" || got.ReadTS == 0 {
		t.Fatalf("get --json alice = %q (%v)", before.Stdout, err)
	}
	r = n1.CLI("kv", "txn", "get alice; get zed; put alice 60; put zed 40")
	if !r.OK() || !strings.Contains(r.Stdout, "get alice\t100") || !strings.Contains(r.Stdout, "get zed\t0") {
		t.Fatalf("transfer: %v", r)
	}
	// Both sides moved together, seen through every node.
	for _, n := range c.Nodes() {
		get(t, n, "alice", "60")
		get(t, n, "zed", "40")
	}
	// The past is still readable at the earlier timestamp.
	old := n2.CLI("kv", "get", "--as-of", strconv.FormatUint(got.ReadTS, 10), "alice")
	if !old.OK() || strings.TrimSpace(old.Stdout) != "100" {
		t.Fatalf("get --as-of %d alice = %v, want 100", got.ReadTS, old)
	}
	// Keys of one range commit in one raft command.
	r = n3.CLI("kv", "txn", "put bob 1; put carol 2")
	if !r.OK() || !strings.Contains(r.Stdout, "(1PC)") {
		t.Fatalf("single-range transaction: %v", r)
	}
	// A read-only script commits nothing.
	r = n3.CLI("kv", "txn", "get bob")
	if !r.OK() || !strings.Contains(r.Stdout, "get bob\t1") || !strings.Contains(r.Stdout, "(read-only)") {
		t.Fatalf("read-only transaction: %v", r)
	}
	// Bad scripts are usage errors and change nothing.
	for _, bad := range []string{"frobnicate x", "put onlykey", "", "get"} {
		r := n1.CLI("kv", "txn", bad)
		if r.Code != 2 {
			t.Errorf("kv txn %q: exit %d, want 2: %v", bad, r.Code, r)
		}
	}
	get(t, n1, "alice", "60")
}
