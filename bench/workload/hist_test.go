package workload

import (
	"math"
	"testing"
	"time"
)

// near reports whether got is within 0.1% (the histograms' 3 significant
// figures) of want.
func near(got, want float64) bool {
	return math.Abs(got-want) <= 0.001*math.Abs(want)
}

// TestHistogramMerge records 1..10000 µs over two workers' recorders and
// checks the merged figures.
func TestHistogramMerge(t *testing.T) {
	recs := []*recorder{newRecorder(), newRecorder()}
	for i := 1; i <= 10000; i++ {
		recs[i%2].success("read", time.Duration(i)*time.Microsecond)
	}
	recs[0].retry("read", errTest("again"))
	recs[1].failure("read", errTest("boom"))
	agg := newAggregate()
	for _, r := range recs {
		r.collectInto(agg)
	}
	s := agg.ops["read"]
	got := opResult("read", s.tick, s.tickErrors, s.tickRetries, 2*time.Second)
	if got.Count != 10000 || got.Errors != 1 || got.Retries != 1 || got.OpsPerSec != 5000 {
		t.Errorf("counts: %+v", got)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"avg", got.AvgMs, 5.0005},
		{"p50", got.P50Ms, 5.0},
		{"p95", got.P95Ms, 9.5},
		{"p99", got.P99Ms, 9.9},
		{"max", got.MaxMs, 10.0},
	} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v ms, want %v", c.name, c.got, c.want)
		}
	}
	if s.firstErr != "boom" || s.firstRetry != "again" {
		t.Errorf("first error %q, first retry %q", s.firstErr, s.firstRetry)
	}

	// The recorders are empty after a collection; the tick moves to the
	// cumulative figures.
	agg.endTick()
	for _, r := range recs {
		r.collectInto(agg)
	}
	if s.tick.TotalCount() != 0 || s.tickErrors != 0 || s.tickRetries != 0 {
		t.Errorf("second collection: %d ops, %d errors, %d retries", s.tick.TotalCount(), s.tickErrors, s.tickRetries)
	}
	if s.cum.TotalCount() != 10000 || s.cumErrors != 1 || s.cumRetries != 1 {
		t.Errorf("cumulative: %d ops, %d errors, %d retries", s.cum.TotalCount(), s.cumErrors, s.cumRetries)
	}
	agg.resetCumulative()
	if s.cum.TotalCount() != 0 || s.cumErrors != 0 {
		t.Errorf("after the ramp: %d ops, %d errors", s.cum.TotalCount(), s.cumErrors)
	}
}

// TestClamp: latencies outside 1 µs..60 s are recorded at the bounds.
func TestClamp(t *testing.T) {
	r := newRecorder()
	r.success("x", 0)
	r.success("x", time.Hour)
	agg := newAggregate()
	r.collectInto(agg)
	h := agg.ops["x"].tick
	if h.TotalCount() != 2 || h.Min() != histMinMicros || !near(float64(h.Max()), histMaxMicros) {
		t.Errorf("count %d min %d max %d", h.TotalCount(), h.Min(), h.Max())
	}
}

// TestSummaryMath: the total merges the operations' histograms and sums
// their counts; the rates are over the measured time.
func TestSummaryMath(t *testing.T) {
	r := &runner{agg: newAggregate()}
	rec := newRecorder()
	for range 1000 {
		rec.success("read", time.Millisecond)
		rec.success("write", 10*time.Millisecond)
	}
	for range 3 {
		rec.retry("write", errTest("w again"))
	}
	rec.failure("write", errTest("w"))
	rec.collectInto(r.agg)
	r.agg.endTick()
	r.cumStart = time.Unix(100, 0)
	res := r.result("test", r.cumStart.Add(4*time.Second))

	if res.Elapsed != 4 || len(res.Ops) != 2 || res.Ops[0].Name != "read" || res.Ops[1].Name != "write" {
		t.Fatalf("result: %+v", res)
	}
	read, write, total := res.Ops[0], res.Ops[1], res.Total
	if read.Count != 1000 || read.OpsPerSec != 250 || !near(read.P99Ms, 1) || !near(read.AvgMs, 1) {
		t.Errorf("read: %+v", read)
	}
	if write.Count != 1000 || write.Retries != 3 || write.Errors != 1 || write.FirstError != "w" || write.FirstRetry != "w again" || !near(write.P50Ms, 10) {
		t.Errorf("write: %+v", write)
	}
	if total.Name != "total" || total.Count != 2000 || total.OpsPerSec != 500 || total.Retries != 3 || total.Errors != 1 {
		t.Errorf("total counts: %+v", total)
	}
	if !near(total.P50Ms, 1) || !near(total.P95Ms, 10) || !near(total.MaxMs, 10) || !near(total.AvgMs, 5.5) {
		t.Errorf("total latencies: %+v", total)
	}
	if got := retryPercent(write); !near(got, 100*3.0/1004) {
		t.Errorf("retry%% = %v", got)
	}
}

type errTest string

func (e errTest) Error() string { return string(e) }
