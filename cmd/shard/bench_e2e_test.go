package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shardingsystem/shard/bench"
	"github.com/shardingsystem/shard/bench/failover"
	"github.com/shardingsystem/shard/internal/pgtest"
	"github.com/shardingsystem/shard/internal/proctest"
)

// runBenchCmd runs `shard bench ARGS --json FILE` as a user would and
// decodes the report into v.
func runBenchCmd(t *testing.T, v any, args ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "report.json")
	cmd := exec.Command(proctest.Binary(t), append(append([]string{"bench"}, args...), "--json", path)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("shard bench %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("the report: %v\n%s", err, b)
	}
	return string(out)
}

// TestE2EBench is the harness's smoke run against a real cluster: kv
// writes on a 3-node cluster of processes and on PostgreSQL 15 side by
// side, with the report's figures and the durability counters read from
// both.
func TestE2EBench(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	pgtest.Require(t, "")
	var rep bench.Report
	out := runBenchCmd(t, &rep, "kv", "--duration", "3s", "--ramp", "0s", "--concurrency", "4", "--keys", "2000",
		"--read-percent", "50", "--compare", "postgres", "--rounds", "2")
	if len(rep.Runs) != 4 || rep.RunsPerRound != 2 || rep.Runs[0].System != "shard" || rep.Runs[1].System != "postgres" ||
		rep.Runs[2].System != "shard" || rep.Runs[3].System != "postgres" {
		t.Fatalf("want two rounds of a shard run and a postgres run:\n%s", out)
	}
	if !strings.Contains(out, "round 2 of 2") || !strings.Contains(out, "shard over postgres: median") {
		t.Errorf("no second round or no median ratio:\n%s", out)
	}
	for i, run := range rep.Runs {
		tot := run.Result.Total
		if tot.Count == 0 || tot.Errors != 0 || tot.OpsPerSec <= 0 || tot.P99Ms <= 0 {
			t.Errorf("%s: %d ops, %d errors, %.1f ops/s, p99 %.2f ms (first error %q)", run.System, tot.Count, tot.Errors,
				tot.OpsPerSec, tot.P99Ms, tot.FirstError)
		}
		if run.Writes == 0 || run.Durability.Fsyncs <= 0 || run.WritesPerFsync <= 0 {
			t.Errorf("%s: %d writes, %.0f fsyncs, %.2f writes per fsync", run.System, run.Writes, run.Durability.Fsyncs, run.WritesPerFsync)
		}
		// Both systems settle after the load: shard's stores stay idle for
		// two seconds at least, PostgreSQL runs VACUUM ANALYZE.
		label := fmt.Sprintf("%s#%d", run.System, i/2+1)
		if run.SettleSeconds <= 0 || (run.System == "shard" && run.SettleSeconds < 2) || !strings.Contains(out, label+": settled") {
			t.Errorf("%s: settled in %.2f s after the load:\n%s", run.System, run.SettleSeconds, out)
		}
		if len(run.Result.Ops) != 2 {
			t.Errorf("%s: want read and write operations, got %+v", run.System, run.Result.Ops)
		}
	}
	if r := rep.Ratio(1); r <= 0 || rep.Ratio(3) <= 0 {
		t.Errorf("ratios %v and %v", r, rep.Ratio(3))
	}
	// The nodes' context switches come from their /metrics; PostgreSQL's
	// are not read.
	if s, pg := rep.Runs[0].SwitchesPerOp, rep.Runs[1].SwitchesPerOp; s <= 0 || pg != 0 || !strings.Contains(out, "cs/op") {
		t.Errorf("context switches per op: shard %.2f, postgres %.2f:\n%s", s, pg, out)
	}
	if rep.Machine.CPUs == 0 || !strings.Contains(out, "first/this") {
		t.Errorf("no machine or side-by-side table:\n%s", out)
	}
	// Where the leaders were: every node, with leaders somewhere (a range
	// may be between leaders at the moment of reading).
	nodes := rep.Runs[0].Durability.Nodes
	leaders := 0
	for _, n := range nodes {
		leaders += n.Leaders
	}
	if len(nodes) != 3 || nodes[0].Ranges == 0 || leaders == 0 || !strings.Contains(out, "shard#1 nodes (leaders") {
		t.Errorf("layout %+v:\n%s", nodes, out)
	}
}

// TestE2EBenchEtcd runs single-key writes on shard and on a 3-member etcd
// side by side.
func TestE2EBenchEtcd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	var rep bench.Report
	out := runBenchCmd(t, &rep, "kv", "--duration", "2s", "--ramp", "0s", "--concurrency", "4", "--keys", "1000",
		"--compare", "etcd")
	if len(rep.Runs) != 2 || rep.Runs[1].System != "etcd" {
		t.Fatalf("want a shard run and an etcd run:\n%s", out)
	}
	for _, run := range rep.Runs {
		if tot := run.Result.Total; tot.Count == 0 || tot.Errors != 0 || run.WritesPerFsync <= 0 || run.CPUMsPerOp <= 0 {
			t.Errorf("%s: %d ops, %d errors, %.2f writes per fsync, %.3f CPU ms per op (first error %q)", run.System, tot.Count,
				tot.Errors, run.WritesPerFsync, run.CPUMsPerOp, tot.FirstError)
		}
	}
}

// TestE2EBenchFailover kills a busy range's leader under load and checks
// that the report finds the gap the kill made and that the cluster served
// again afterwards; then splits a busy range, which must not stop the
// workload for its whole window.
func TestE2EBenchFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	var rep struct {
		Failover failover.Result `json:"failover"`
	}
	out := runBenchCmd(t, &rep, "failover", "--faults", "range-leader,split", "--warmup", "3s", "--observe", "6s",
		"--ramp", "0s", "--concurrency", "4", "--max-rate", "200", "--keys", "2000")
	fo := rep.Failover
	if len(fo.Faults) != 2 {
		t.Fatalf("want two faults:\n%s", out)
	}
	if s := fo.Faults[1]; s.Kind != failover.Split || s.Range == 0 || s.SlowestOpMs <= 0 || s.LongestGapMs >= 6000 {
		t.Errorf("split %+v:\n%s", s, out)
	}
	f := fo.Faults[0]
	// At 200 ops/s successes are 5 ms apart: a kill of a leader the
	// clients use leaves a longer gap, and a gap as long as the node's
	// whole absence would mean nothing failed over.
	if f.Kind != failover.RangeLeader || f.LongestGapMs < 20 || f.LongestGapMs >= 6000 {
		t.Errorf("fault %+v:\n%s", f, out)
	}
	if fo.Run == nil || fo.Run.Total.Count == 0 {
		t.Fatalf("no operations:\n%s", out)
	}
	// The run goes on after the node is back: the last seconds have
	// successes.
	last := fo.Run.Series[len(fo.Run.Series)-1]
	if last.Count == 0 {
		t.Errorf("no successes in the last second %+v:\n%s", last, out)
	}
}

// TestE2EBenchTPCBShardKey runs tpcb on a database sharded by branch, as
// the benchmark's figures for TPC-B are taken: every transaction commits
// (the UPDATEs by account and teller id reach their rows through global
// indexes, and wait for their locks rather than fail), and the balances
// add up after the run.
func TestE2EBenchTPCBShardKey(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end test with real processes; skipped with -short")
	}
	var rep bench.Report
	out := runBenchCmd(t, &rep, "tpcb", "--shard-key", "bid", "--duration", "3s", "--ramp", "0s", "--concurrency", "4")
	if len(rep.Runs) != 1 {
		t.Fatalf("want one run:\n%s", out)
	}
	run := rep.Runs[0]
	tot := run.Result.Total
	if tot.Count == 0 || tot.Errors != 0 || run.Check != bench.CheckOK {
		t.Errorf("%d transactions, %d errors (first %q), check %q:\n%s", tot.Count, tot.Errors, tot.FirstError, run.Check, out)
	}
}
