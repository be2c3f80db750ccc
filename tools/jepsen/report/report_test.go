package report

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

func TestSummarizeAndWrite(t *testing.T) {
	s := time.Second
	h := history.History{
		{Process: 0, Type: history.Invoke, F: history.FRead, Time: 1 * s},
		{Process: 0, Type: history.OK, F: history.FRead, Time: 1*s + 1, Value: history.Int(1)}, // before the fault: not counted as progress
		{Process: 1, Type: history.Invoke, F: history.FWrite, Time: 3 * s, Value: history.Int(2)},
		{Process: 1, Type: history.OK, F: history.FWrite, Time: 4 * s, Value: history.Int(2)}, // during
		{Process: 0, Type: history.Invoke, F: history.FCAS, Time: 4 * s},
		{Process: 0, Type: history.Info, F: history.FCAS, Time: 5 * s, Error: "08006: connection lost"},
		{Process: 2, Type: history.Invoke, F: history.FRead, Time: 7 * s},
		{Process: 2, Type: history.OK, F: history.FRead, Time: 8 * s}, // after
		{Process: 1, Type: history.Invoke, F: history.FWrite, Time: 8 * s},
		{Process: 1, Type: history.Fail, F: history.FWrite, Time: 9 * s, Error: "40001: could not serialize access: kv: write conflict on key \"x\""},
	}
	for i := range h {
		h[i].Index = i
	}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	faults := []Fault{{Kind: "partition", Start: 2 * s, End: 6 * s, Nodes: []string{"n1"}}}
	sum := Summarize(h, faults)
	if sum.Ops != 5 || sum.All != (Outcomes{OK: 3, Fail: 1, Info: 1}) {
		t.Fatalf("counts: %+v", sum)
	}
	if sum.DuringFaults != (Progress{Writes: 1}) || sum.AfterFaults != (Progress{Reads: 1}) {
		t.Fatalf("progress: during %+v after %+v", sum.DuringFaults, sum.AfterFaults)
	}
	if sum.Errs["40001 could not serialize access"] != 1 || sum.Errs["08006 connection lost"] != 1 {
		t.Fatalf("errors: %v", sum.Errs)
	}
	dir := t.TempDir()
	r := Report{Workload: "register", Nemesis: "partition", Nodes: 3, History: h, Faults: faults, Summary: sum,
		Verdict: Verdict{Valid: false, Anomalies: []string{"key 3: not linearizable"}}}
	if err := Write(dir, r); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"INVALID", "key 3: not linearizable", "<svg", "partition"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("index.html lacks %q", want)
		}
	}
	f, err := os.Open(filepath.Join(dir, "history.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	back, err := history.Read(f)
	if err != nil || len(back) != len(h) || *back[3].Value != 2 {
		t.Fatalf("history round trip: %v %v", err, back)
	}
}

// TestNotesAndFailedFaultsAreNotActive: a nemesis note and a fault that
// failed to start do not make ops count as "during faults".
func TestNotesAndFailedFaultsAreNotActive(t *testing.T) {
	s := time.Second
	h := history.History{
		{Index: 0, Process: 0, Type: history.Invoke, F: history.FWrite, Time: 2 * s},
		{Index: 1, Process: 0, Type: history.OK, F: history.FWrite, Time: 3 * s},
	}
	faults := []Fault{
		{Kind: "whole", Start: 2 * s, End: 3 * s, Note: true},
		{Kind: "pause-random", Start: 1 * s, End: 4 * s, Error: "no node to pause"},
		{Kind: "kill-random", Start: 5 * s, End: 6 * s},
	}
	if got := Summarize(h, faults).DuringFaults; got != (Progress{}) {
		t.Fatalf("during faults: %+v, want none", got)
	}
	if faults[0].Injected() || faults[1].Injected() || !faults[2].Injected() {
		t.Fatal("Injected: notes and failed faults are not injected faults")
	}
}
