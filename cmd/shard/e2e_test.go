package main

// End-to-end tests: real `shard` processes on 127.0.0.1 (internal/proctest),
// driven through the CLI exactly as an operator would. Skipped with -short.
// Each test makes its own three-node cluster; the file runs in about a
// minute on an idle two-core machine.

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/proctest"
)

const (
	// failoverGoal is what we aim for between the death of a leader and
	// the next successful write; failoverLimit is what the test asserts,
	// with room for a loaded two-core machine.
	failoverGoal  = 3 * time.Second
	failoverLimit = 10 * time.Second
	// settle bounds waits for replication and recovery.
	settle = 60 * time.Second
)

func startE2ECluster(t *testing.T, n int) *proctest.Cluster {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	proctest.Binary(t) // build outside the timing below
	start := time.Now()
	c := proctest.StartCluster(t, n)
	t.Logf("%d-node cluster up and fully replicated in %v", n, time.Since(start).Round(time.Millisecond))
	return c
}

// put writes key=value through n. A put is idempotent, so failed attempts
// are retried for up to 20 s; a healthy cluster should not need that, so
// every retry is logged.
func put(t *testing.T, n *proctest.Node, key, value string) {
	t.Helper()
	attempt := 0
	proctest.WaitFor(t, 20*time.Second, fmt.Sprintf("put %s through %s", key, n), func() error {
		attempt++
		r := n.CLI("kv", "put", key, value)
		if !r.OK() {
			t.Logf("put %s through %s, attempt %d: %v", key, n, attempt, r)
		}
		return r.Err()
	})
}

// get fails the test unless key holds want when read through n.
func get(t *testing.T, n *proctest.Node, key, want string) {
	t.Helper()
	r := n.CLI("kv", "get", key)
	if !r.OK() {
		t.Fatalf("get %s through %s: %v", key, n, r)
	}
	if got := strings.TrimSuffix(r.Stdout, "\n"); got != want {
		t.Fatalf("get %s through %s = %q, want %q", key, n, got, want)
	}
}

// waitGet waits until key holds want when read through n (a restarted node
// may not serve at once).
func waitGet(t *testing.T, n *proctest.Node, key, want string) {
	t.Helper()
	proctest.WaitFor(t, settle, fmt.Sprintf("%s to serve %s", n, key), func() error {
		r := n.CLI("kv", "get", key)
		if r.OK() && strings.TrimSuffix(r.Stdout, "\n") != want {
			t.Fatalf("get %s through %s = %q, want %q", key, n, r.Stdout, want)
		}
		return r.Err()
	})
}

type kvPair struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// scan returns every user key in [start, end) through n; empty bounds are
// open.
func scan(n *proctest.Node, start, end string) ([]kvPair, error) {
	args := []string{"kv", "scan", "--json", "--limit", "0"}
	if start != "" || end != "" {
		args = append(args, start)
	}
	if end != "" {
		args = append(args, end)
	}
	r := n.CLI(args...)
	if !r.OK() {
		return nil, r.Err()
	}
	var out []kvPair
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
		return nil, fmt.Errorf("decode scan output: %v\n%s", err, r.Stdout)
	}
	return out, nil
}

// wantScan fails the test unless a scan of [start, end) through n returns
// exactly want, in key order.
func wantScan(t *testing.T, n *proctest.Node, start, end string, want map[string]string) {
	t.Helper()
	got, err := scan(n, start, end)
	if err != nil {
		t.Fatalf("scan [%q, %q) through %s: %v", start, end, n, err)
	}
	exp := make([]kvPair, 0, len(want))
	for k, v := range want {
		exp = append(exp, kvPair{k, v})
	}
	sort.Slice(exp, func(i, j int) bool { return exp[i].Key < exp[j].Key })
	if !slices.Equal(got, exp) {
		t.Fatalf("scan [%q, %q) through %s:\n got %d rows %v\nwant %d rows %v", start, end, n, len(got), got, len(exp), exp)
	}
}

// sortedRanges returns the range list ordered by start key.
func sortedRanges(t *testing.T, c *proctest.Cluster) []proctest.Range {
	t.Helper()
	rs, err := c.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	return rs
}

// restartAll starts every stopped node, each joining all the others.
func restartAll(c *proctest.Cluster) {
	for _, n := range c.Nodes() {
		if !n.Running() {
			n.SetJoin(c.RPCAddrs(n)...)
			n.Start()
		}
	}
}

// TestE2EReplicatedReadWrite: writes through node 1 are read back through
// node 3, and every range lists three replicas.
func TestE2EReplicatedReadWrite(t *testing.T) {
	c := startE2ECluster(t, 3)
	n1, n2, n3 := c.Node(1), c.Node(2), c.Node(3)

	want := map[string]string{}
	for i := range 20 {
		k, v := fmt.Sprintf("user/%02d", i), fmt.Sprintf("value %d from node 1", i)
		put(t, n1, k, v)
		want[k] = v
	}
	for k, v := range want {
		get(t, n3, k, v)
	}
	wantScan(t, n3, "", "", want)
	wantScan(t, n3, "user/05", "user/10", map[string]string{
		"user/05": want["user/05"], "user/06": want["user/06"], "user/07": want["user/07"],
		"user/08": want["user/08"], "user/09": want["user/09"]})

	// A missing key is exit 1 with "not found"; a delete is seen everywhere.
	if r := n3.CLI("kv", "get", "user/missing"); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("get of a missing key: %v", r)
	}
	if r := n1.CLI("kv", "delete", "user/00"); !r.OK() || strings.TrimSpace(r.Stdout) != "deleted: true" {
		t.Fatalf("delete through node 1: %v", r)
	}
	delete(want, "user/00")
	if r := n3.CLI("kv", "get", "user/00"); r.Code != 1 || !strings.Contains(r.Stderr, "not found") {
		t.Errorf("get of a deleted key through node 3: %v", r)
	}
	wantScan(t, n2, "", "", want)

	// Every range has three replicas, in JSON and in the table.
	rs, err := n3.Ranges()
	if err != nil {
		t.Fatal(err)
	}
	if err := proctest.CheckReplicated(rs, 3); err != nil {
		t.Errorf("shard ranges --json: %v", err)
	}
	if len(rs) != 2 {
		t.Errorf("a new cluster has %d ranges, want 2 (meta and user): %+v", len(rs), rs)
	}
	table := n1.CLI("ranges")
	if !table.OK() {
		t.Fatal(table)
	}
	rows := strings.Split(strings.TrimSpace(table.Stdout), "\n")
	if len(rows) != len(rs)+1 {
		t.Errorf("shard ranges printed %d rows for %d ranges:\n%s", len(rows), len(rs), table.Stdout)
	}
	for _, row := range rows[1:] {
		open, close := strings.Index(row, "["), strings.Index(row, "]")
		if open < 0 || close < open || len(strings.Fields(row[open+1:close])) != 3 {
			t.Errorf("shard ranges row without three replicas: %q", row)
		}
	}

	// Every node is listed, live.
	r := n3.CLI("nodes", "--json")
	var nodes []struct {
		ID   uint64 `json:"id"`
		Live bool   `json:"live"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &nodes); err != nil || !r.OK() {
		t.Fatalf("nodes --json: %v (%v)", r, err)
	}
	if len(nodes) != 3 {
		t.Errorf("shard nodes lists %d nodes, want 3: %+v", len(nodes), nodes)
	}
	for _, n := range nodes {
		if !n.Live {
			t.Errorf("node n%d is not live: %+v", n.ID, nodes)
		}
	}
}

// TestE2ELeaderFailover kills the leader of the user range with SIGKILL and
// measures how long writes through a surviving node fail.
func TestE2ELeaderFailover(t *testing.T) {
	c := startE2ECluster(t, 3)
	put(t, c.Node(1), "before", "kill")
	leader, err := c.LeaderOf(2)
	if err != nil {
		t.Fatal(err)
	}
	var survivors []*proctest.Node
	for _, n := range c.Nodes() {
		if n != leader {
			survivors = append(survivors, n)
		}
	}
	metaLeader, _ := c.LeaderOf(1)

	leader.Kill9()
	killed := time.Now()
	var took time.Duration
	attempts := 0
	err = proctest.Poll(30*time.Second, func() error {
		n := survivors[attempts%len(survivors)]
		attempts++
		r := n.CLI("kv", "put", "--timeout", "3s", "after", "kill")
		if r.OK() {
			took = time.Since(killed)
		}
		return r.Err()
	})
	if err != nil {
		t.Fatalf("no write succeeded after killing r2's leader %s: %v", leader, err)
	}
	t.Logf("LEADER FAILOVER: first successful write %v after kill -9 of r2's leader %s "+
		"(it also led the meta range: %v; %d attempt(s); goal < %v, limit %v)",
		took.Round(time.Millisecond), leader, metaLeader == leader, attempts, failoverGoal, failoverLimit)
	if took > failoverLimit {
		t.Errorf("writes resumed %v after the leader died, want < %v", took, failoverLimit)
	}
	get(t, survivors[0], "before", "kill")
	get(t, survivors[1], "after", "kill")
	newLeader, err := c.LeaderOf(2)
	if err != nil {
		t.Fatal(err)
	}
	if newLeader == leader {
		t.Fatalf("r2's leader is still the killed %s", leader)
	}
	// The dead node is reported as not live.
	r := survivors[0].CLI("nodes", "--json")
	var nodes []struct {
		ID   uint64 `json:"id"`
		Live bool   `json:"live"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &nodes); err != nil || !r.OK() {
		t.Fatalf("nodes --json: %v (%v)", r, err)
	}
	for _, n := range nodes {
		if n.Live == (n.ID == leader.ID()) {
			t.Errorf("n%d live=%v after n%d was killed", n.ID, n.Live, leader.ID())
		}
	}

	// The killed node comes back with its data, catches up, and serves.
	restartAll(c)
	waitGet(t, leader, "after", "kill")
	c.WaitReplicated(3, settle)

	// A clean stop (SIGTERM) of the leader: the node hands its leaderships
	// off, so writes should pause for less time than after a crash.
	leader, err = c.LeaderOf(2)
	if err != nil {
		t.Fatal(err)
	}
	var other *proctest.Node
	for _, n := range c.Nodes() {
		if n != leader {
			other = n
		}
	}
	stopped := time.Now()
	if code := leader.Stop(); code != 0 {
		t.Errorf("SIGTERM of the leader %s: exit code %d", leader, code)
	}
	stopTook := time.Since(stopped)
	err = proctest.Poll(30*time.Second, func() error {
		r := other.CLI("kv", "put", "--timeout", "3s", "after", "stop")
		if r.OK() {
			took = time.Since(stopped)
		}
		return r.Err()
	})
	if err != nil {
		t.Fatalf("no write succeeded after stopping r2's leader %s: %v", leader, err)
	}
	t.Logf("CLEAN STOP: r2's leader %s exited %v after SIGTERM; first successful write %v after the signal",
		leader, stopTook.Round(time.Millisecond), took.Round(time.Millisecond))
	if took > failoverLimit {
		t.Errorf("writes resumed %v after the leader's clean stop, want < %v", took, failoverLimit)
	}
}

// TestE2ESplit splits the user range at "m" while writers write on both
// sides, checks both halves, and checks that the split survives kill -9 of
// every node.
func TestE2ESplit(t *testing.T) {
	c := startE2ECluster(t, 3)
	n1, n2, n3 := c.Node(1), c.Node(2), c.Node(3)
	want := map[string]string{}
	for _, k := range []string{"apple", "kiwi", "lemon", "mango", "melon", "zucchini"} {
		put(t, n1, k, "before split: "+k)
		want[k] = "before split: " + k
	}
	// Writers spread their keys over a..z, on both sides of m.
	load := startWriters(t, c, 3, func(w, seq int) string {
		return fmt.Sprintf("%c/w%d/%04d", 'a'+(seq*7+w*11)%26, w, seq)
	})
	load.WaitAcked(t, 15, settle)

	r := n2.CLI("ranges", "split", "m")
	if !r.OK() {
		t.Fatalf("split: %v", r)
	}
	t.Logf("%s", strings.TrimSpace(r.Stdout))
	if !strings.Contains(r.Stdout, "split r2 at m: r2 [/user, m) and r") {
		t.Errorf("split output: %q", r.Stdout)
	}
	load.WaitAcked(t, load.Acked()+30, settle)
	hist := load.Stop()
	t.Logf("writers during the split: %d puts tried, %d acknowledged", len(hist.tried), len(hist.acked))

	// The ranges tile the keyspace: the left half ends at m, the right
	// starts there; both have three replicas and a leader.
	c.WaitReplicated(3, settle)
	rs := sortedRanges(t, c)
	bounds := [][2]string{{"/meta", "/user"}, {"/user", "m"}, {"m", "/Max"}}
	if len(rs) != len(bounds) {
		t.Fatalf("after one split: %d ranges, want 3: %+v", len(rs), rs)
	}
	for i, r := range rs {
		if r.Start != bounds[i][0] || r.End != bounds[i][1] {
			t.Errorf("range %d: r%d [%s, %s), want [%s, %s)", i, r.ID, r.Start, r.End, bounds[i][0], bounds[i][1])
		}
	}

	// Both sides take writes and serve reads, through every node.
	for i, n := range []*proctest.Node{n1, n2, n3} {
		for _, k := range []string{fmt.Sprintf("b%d", i), fmt.Sprintf("y%d", i), fmt.Sprintf("m%d", i), "m"} {
			v := fmt.Sprintf("after split via %s", n.Name)
			put(t, n, k, v)
			want[k] = v
		}
	}
	for k, v := range want {
		get(t, n3, k, v)
	}
	all := map[string]string{}
	for k, v := range hist.acked {
		all[k] = v
	}
	for k, v := range want {
		all[k] = v
	}
	// Scans, whole and across the split point, return everything in order.
	got, err := scan(n1, "", "")
	if err != nil {
		t.Fatal(err)
	}
	ambiguous := hist.check(t, got, want)
	for k, v := range want {
		if !slices.Contains(got, kvPair{k, v}) {
			t.Errorf("scan misses %s=%q", k, v)
		}
	}
	part, err := scan(n2, "kiwi", "n")
	if err != nil {
		t.Fatal(err)
	}
	var wantPart []kvPair
	for _, p := range got {
		if p.Key >= "kiwi" && p.Key < "n" {
			wantPart = append(wantPart, p)
		}
	}
	if !slices.Equal(part, wantPart) {
		t.Errorf("scan [kiwi, n) across the split:\n got %v\nwant %v", part, wantPart)
	}
	t.Logf("%d keys after the split (%d from ambiguous puts)", len(got), ambiguous)

	// The split is durable: after kill -9 of every node and a restart, the
	// same ranges hold the same data.
	for _, n := range c.Nodes() {
		n.Kill9()
	}
	restartAll(c)
	c.WaitReplicated(3, settle)
	after := sortedRanges(t, c)
	if len(after) != len(rs) {
		t.Fatalf("ranges changed across a crash and restart:\nbefore %+v\nafter  %+v", rs, after)
	}
	for i := range rs {
		if after[i].ID != rs[i].ID || after[i].Start != rs[i].Start || after[i].End != rs[i].End {
			t.Fatalf("ranges changed across a crash and restart:\nbefore %+v\nafter  %+v", rs, after)
		}
	}
	again, err := scan(n3, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(again, got) {
		t.Errorf("data changed across a crash and restart:\nbefore %v\nafter  %v", got, again)
	}
}

// TestE2ECrashRestartKeepsAcknowledgedWrites: concurrent writers write
// while the user range's leader is killed with SIGKILL; then the two
// survivors are killed too, mid-write. After all three restart, every
// acknowledged put is readable.
func TestE2ECrashRestartKeepsAcknowledgedWrites(t *testing.T) {
	c := startE2ECluster(t, 3)
	load := startWriters(t, c, 4, func(w, seq int) string { return fmt.Sprintf("w%d/%04d", w, seq) })
	load.WaitAcked(t, 100, settle)

	leader, err := c.LeaderOf(2)
	if err != nil {
		t.Fatal(err)
	}
	leader.Kill9()
	killed := time.Now()
	atKill := load.Acked()
	t.Logf("killed r2's leader %s after %d acknowledged writes", leader, atKill)
	load.WaitAcked(t, atKill+150, settle)
	// Kill the survivors while the writers are still writing.
	for _, n := range c.Running() {
		n.Kill9()
	}
	hist := load.Stop()
	first, ok := hist.firstAckAfter(killed)
	if !ok {
		t.Fatal("no put begun after the leader's kill was acknowledged")
	}
	t.Logf("writers: %d puts tried, %d acknowledged; the first put begun after the leader's kill was acknowledged %v after it",
		len(hist.tried), len(hist.acked), first.Sub(killed).Round(time.Millisecond))

	restartAll(c)
	restarted := time.Now()
	n1 := c.Node(1)
	var got []kvPair
	proctest.WaitFor(t, settle, "a full scan after the restart", func() error {
		var err error
		got, err = scan(n1, "", "")
		return err
	})
	t.Logf("the restarted cluster served a full scan %v after the last node started", time.Since(restarted).Round(time.Millisecond))
	ambiguous := hist.check(t, got, nil)
	t.Logf("%d keys after the restart: %d acknowledged, %d from puts that failed ambiguously", len(got), len(hist.acked), ambiguous)

	// Every node serves reads again, and the ranges get back three replicas.
	for i, a := range hist.acks {
		if i%20 == 0 {
			get(t, c.Nodes()[i/20%3], a.key, a.value)
		}
	}
	c.WaitReplicated(3, settle)
}

// TestE2EQuorumLoss kills two of three nodes: requests through the survivor
// fail within their --timeout, with exit 1 and no false "not found"; the
// cluster comes back when a second node returns. Finally every node stops
// cleanly on SIGTERM, the last ones without a quorum.
func TestE2EQuorumLoss(t *testing.T) {
	c := startE2ECluster(t, 3)
	n1, n2, n3 := c.Node(1), c.Node(2), c.Node(3)
	put(t, n1, "a", "before")
	n2.Kill9()
	n3.Kill9()

	for _, args := range [][]string{
		{"kv", "put", "--timeout", "3s", "b", "during"},
		{"kv", "get", "--timeout", "3s", "a"},
		{"kv", "scan", "--timeout", "3s"},
	} {
		r := n1.CLI(args...)
		t.Logf("without a quorum, shard %s: exit %d after %v: %s", strings.Join(args[:2], " "), r.Code,
			r.Elapsed.Round(time.Millisecond), strings.TrimSpace(r.Stderr))
		if r.Code != 1 {
			t.Errorf("without a quorum: want exit 1: %v", r)
		}
		if r.Elapsed > 3*time.Second+5*time.Second {
			t.Errorf("%s took %v with --timeout 3s", strings.Join(args, " "), r.Elapsed)
		}
		if strings.Contains(r.Stderr, "not found") {
			t.Errorf("a missing quorum reported as a missing key: %v", r)
		}
		// n1 answered; what it could not reach is the other replicas. Which
		// message the CLI prints depends on the kv client's last internal
		// error, so the wrong "cannot reach" is only sometimes seen here;
		// TestCLIExplainServerUnavailable pins it down.
		if strings.Contains(r.Stderr, "cannot reach a shard node at "+n1.RPCAddr) {
			t.Logf("KNOWN BUG (TestCLIExplainServerUnavailable): the CLI blames %s, which answered", n1.RPCAddr)
		}
	}

	n2.SetJoin(c.RPCAddrs(n2)...)
	n2.Start()
	back := time.Now()
	proctest.WaitFor(t, settle, "writes with two of three nodes", func() error {
		return n1.CLI("kv", "put", "c", "after").Err()
	})
	t.Logf("writes resumed %v after the second node's restart", time.Since(back).Round(time.Millisecond))
	get(t, n2, "a", "before")
	get(t, n2, "c", "after")
	// The put that timed out is ambiguous: it may have been applied once
	// the quorum came back, but with nothing else.
	if r := n2.CLI("kv", "get", "b"); r.OK() && r.Stdout != "during\n" {
		t.Errorf("key b: %v", r)
	}

	restartAll(c)
	c.WaitReplicated(3, settle)
	waitGet(t, n3, "c", "after")

	for _, n := range []*proctest.Node{n1, n2, n3} {
		start := time.Now()
		if code := n.Stop(); code != 0 {
			t.Errorf("SIGTERM of %s: exit code %d", n, code)
		}
		t.Logf("%s stopped on SIGTERM in %v", n, time.Since(start).Round(time.Millisecond))
	}
}
