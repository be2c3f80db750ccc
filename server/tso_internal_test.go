package server

import "testing"

// TestTSOTakeBatchesQueued: the requests queued while a batch is served
// are taken together as the next batch, up to tsoMaxBatchTotal timestamps
// (a single request bigger than that still goes alone).
func TestTSOTakeBatchesQueued(t *testing.T) {
	ts := &tsoServer{}
	queue := func(ns ...int) {
		for _, n := range ns {
			ts.mu.pending = append(ts.mu.pending, &tsoRequest{n: n})
		}
	}
	sizes := func(batch []*tsoRequest) []int {
		var out []int
		for _, r := range batch {
			out = append(out, r.n)
		}
		return out
	}
	queue(1, 2, 1, 4)
	if got := sizes(ts.take()); len(got) != 4 {
		t.Fatalf("first batch %v, want the 4 queued requests", got)
	}
	if got := ts.take(); len(got) != 0 {
		t.Fatalf("batch %v from an empty queue", sizes(got))
	}
	queue(tsoMaxBatchTotal-1, 1, 1, tsoMaxBatchTotal+5, 3)
	for _, want := range [][]int{{tsoMaxBatchTotal - 1, 1}, {1}, {tsoMaxBatchTotal + 5}, {3}} {
		got := sizes(ts.take())
		if len(got) != len(want) || got[0] != want[0] {
			t.Fatalf("batch %v, want %v", got, want)
		}
	}
}
