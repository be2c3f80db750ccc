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
}

// Options returns the scenario's test options; the caller sets Binary,
// Dir and Logf.
func (s Scenario) Options() Options {
	return Options{Workload: s.Workload, Nemesis: s.Nemesis, Seed: s.Seed, Time: s.Time, Interval: s.Interval}
}

// Smoke is the CI tier: every workload under kills, partitions and pauses,
// about two minutes each.
var Smoke = []Scenario{
	{Name: "register", Workload: "register", Nemesis: "kill,partition,pause", Seed: 1, Time: 90 * time.Second, Interval: 8 * time.Second,
		Why: "linearizable single-row reads, upserts and compare-and-set under faults"},
	{Name: "bank", Workload: "bank", Nemesis: "kill,partition,pause", Seed: 2, Time: 90 * time.Second, Interval: 8 * time.Second,
		Why: "multi-range transactions keep the total under faults"},
	{Name: "set", Workload: "set", Nemesis: "kill,partition,pause", Seed: 3, Time: 90 * time.Second, Interval: 8 * time.Second,
		Why: "no acknowledged insert is lost"},
	{Name: "list-append", Workload: "list-append", Nemesis: "kill,partition,pause", Seed: 4, Time: 90 * time.Second, Interval: 8 * time.Second,
		Why: "no cycle snapshot isolation forbids; this seed once showed a G1a from a COMMIT cut off by kill -9, which the harness had called failed because pgx said \"conn closed\" (safe to retry)"},
}

// Regressions are scenarios that once found a bug, kept with their seeds.
var Regressions = []Scenario{
	{Name: "schema-visible-everywhere", Workload: "set", Nemesis: "none", Seed: 5, Time: 10 * time.Second,
		Why: "the tables made by setup through n1 were unknown (42P01) on n2 and n3 for up to a catalog poll; " +
			"statements naming an unknown object now refresh the catalog",
		Forbid: []string{"42P01"}},
}
