package target

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseMetrics(t *testing.T) {
	text := `# HELP shard_store_wal_fsyncs_total WAL fsyncs.
# TYPE shard_store_wal_fsyncs_total counter
shard_store_wal_fsyncs_total 1234
shard_store_synced_commits_total{store="a"} 10
shard_store_synced_commits_total{store="b",x="}"} 5.5
shard_store_wal_fsyncs_total_other 99
shard_store_synced_commits_total_created 1e9
`
	m, err := parseMetrics(strings.NewReader(text), "shard_store_wal_fsyncs_total", "shard_store_synced_commits_total", "absent")
	if err != nil {
		t.Fatal(err)
	}
	if m["shard_store_wal_fsyncs_total"] != 1234 || m["shard_store_synced_commits_total"] != 15.5 || m["absent"] != 0 {
		t.Errorf("parsed %v", m)
	}
	if _, err := parseMetrics(strings.NewReader("shard_store_wal_fsyncs_total x\n"), "shard_store_wal_fsyncs_total"); err == nil {
		t.Error("a value that is not a number: no error")
	}
}

func TestDelta(t *testing.T) {
	t0 := time.Unix(100, 0)
	r := Delta(Counters{At: t0, Fsyncs: 100, Commits: 1000, CPUSeconds: 1, ContextSwitches: 50},
		Counters{At: t0.Add(2 * time.Second), Fsyncs: 300, Commits: 1800, CPUSeconds: 4, ContextSwitches: 170})
	if r.Fsyncs != 200 || r.Commits != 800 || r.FsyncsPerSec != 100 || r.CommitsPerFsync != 4 || r.CPUSeconds != 3 || r.ContextSwitches != 120 {
		t.Errorf("delta %+v", r)
	}
	if r := Delta(Counters{At: t0}, Counters{At: t0}); r.FsyncsPerSec != 0 || r.CommitsPerFsync != 0 {
		t.Errorf("empty delta %+v", r)
	}
	// Nodes: the later reading's layout, CPU since the earlier one; a node
	// that was not running at the start is left out.
	a := Counters{At: t0, Nodes: []NodeCounters{{Name: "n1", CPUSeconds: 10, Ranges: 4, Leaders: 4}, {Name: "n2", CPUSeconds: 5, Ranges: 4}}}
	b := Counters{At: t0.Add(time.Second), Nodes: []NodeCounters{{Name: "n1", CPUSeconds: 30, Ranges: 7, Leaders: 5}, {Name: "n2", CPUSeconds: 12, Ranges: 7, Leaders: 2}, {Name: "n3", CPUSeconds: 3, Ranges: 7}}}
	want := []NodeCounters{{Name: "n1", CPUSeconds: 20, Ranges: 7, Leaders: 5}, {Name: "n2", CPUSeconds: 7, Ranges: 7, Leaders: 2}}
	if got := Delta(a, b).Nodes; !slices.Equal(got, want) {
		t.Errorf("nodes %+v, want %+v", got, want)
	}
}
