package jepsen

import "time"

// Scenario is a fixed-seed test: the smoke tier and the regressions.
type Scenario struct {
	Name     string
	Workload string
	Nemesis  string
	Seed     uint64
	Time     time.Duration
	Interval time.Duration
	// Why says what the scenario guards (for regressions: the bug).
	Why string
	// Forbid lists SQLSTATEs no operation may fail with.
	Forbid []string
	// Nodes is the cluster's size (default 3).
	Nodes int
	// StartArgs are added to every node's `shard start`.
	StartArgs []string
	// Require lists faults that must have been injected, and Controller
	// kinds of the controller's events that must have happened, for the
	// scenario to pass.
	Require, Controller []string
}

// Options returns the scenario's test options; the caller sets Binary,
// Dir and Logf.
func (s Scenario) Options() Options {
	return Options{Workload: s.Workload, Nemesis: s.Nemesis, Seed: s.Seed, Time: s.Time, Interval: s.Interval,
		Nodes: s.Nodes, StartArgs: s.StartArgs}
}

// ControllerArgs are test-sized thresholds of the zero-touch controller:
// a few dozen writes per second for 3 s split a range, 10 s of quiet merge
// it back, so that a short run sees the controller's load splits and
// merges under its faults.
var ControllerArgs = []string{"--split-qps", "30", "--split-window", "3s", "--merge-after", "10s", "--merge-cooldown", "10s"}

// Smoke is the CI tier: every workload under kills, partitions and pauses,
// about two minutes each.
var Smoke = []Scenario{
	{Name: "register", Workload: "register", Nemesis: "kill,partition,pause", Seed: 1, Time: 90 * time.Second, Interval: 8 * time.Second,
		StartArgs: ControllerArgs,
		Why:       "linearizable single-row reads, upserts and compare-and-set under faults, while the controller splits and merges"},
	{Name: "bank-sharded", Workload: "bank-sharded", Nemesis: "kill,partition,pause,churn", Seed: 2, Time: 90 * time.Second, Interval: 8 * time.Second,
		StartArgs: ControllerArgs,
		Why: "multi-range transactions keep the total under faults, splits, merges, replica moves and decommissions, " +
			"in a database with a shard key where every lookup by id goes through a global index whose entries the locked rows imply"},
	{Name: "set", Workload: "set", Nemesis: "kill,partition,pause,churn", Seed: 3, Time: 90 * time.Second, Interval: 8 * time.Second,
		Nodes: 5, StartArgs: ControllerArgs,
		Why: "no acknowledged insert is lost, on 5 nodes where replica moves and decommissions have somewhere to go"},
	{Name: "churn", Workload: "bank", Nemesis: "merge,move-replica,decommission,split", Seed: 5, Time: 60 * time.Second, Interval: 5 * time.Second,
		Nodes: 5, StartArgs: ControllerArgs, Require: []string{"merge", "move-replica", "decommission"}, Controller: []string{"split", "relocate"},
		Why: "the bank's total holds while ranges merge, replicas move, a node is decommissioned and the controller splits and rebalances"},
	{Name: "list-append", Workload: "list-append", Nemesis: "kill,partition,pause", Seed: 4, Time: 90 * time.Second, Interval: 8 * time.Second,
		StartArgs: ControllerArgs,
		Why:       "no cycle snapshot isolation forbids; this seed once showed a G1a from a COMMIT cut off by kill -9, which the harness had called failed because pgx said \"conn closed\" (safe to retry)"},
}

// Regressions are scenarios that once found a bug, kept with their seeds.
var Regressions = []Scenario{
	{Name: "schema-visible-everywhere", Workload: "set", Nemesis: "none", Seed: 5, Time: 10 * time.Second,
		Why: "the tables made by setup through n1 were unknown (42P01) on n2 and n3 for up to a catalog poll; " +
			"statements naming an unknown object now refresh the catalog",
		Forbid: []string{"42P01"}},
}
