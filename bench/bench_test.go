package bench

import (
	"bytes"
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/bench/target"
	"github.com/shardingsystem/shard/bench/workload"
)

// TestPrintNamesFirstErrors: the report says, per system, the first error
// and the first retried error of its run, so that retries are not only a
// count.
func TestPrintNamesFirstErrors(t *testing.T) {
	r := &Report{Runs: []*Run{
		{System: "shard", Result: &workload.Result{Workload: "tpcb", Total: workload.OpResult{
			Name: "total", Count: 10, OpsPerSec: 5, Retries: 2,
			FirstRetry: "ERROR: restart transaction (SQLSTATE 40001)"}}},
		{System: "postgres", Result: &workload.Result{Workload: "tpcb", Total: workload.OpResult{
			Name: "total", Count: 20, OpsPerSec: 10, Errors: 1, FirstError: "connection reset"}}},
	}}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{
		"shard: first retried error: ERROR: restart transaction (SQLSTATE 40001)\n",
		"postgres: first error: connection reset\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "shard: first error") || strings.Contains(out.String(), "postgres: first retried") {
		t.Errorf("report names an error a run did not have:\n%s", out.String())
	}
}

// TestPrintPerOp: CPU and context switches per operation are printed
// where they were measured, and "-" where they were not (a peer whose
// counters shard cannot read).
func TestPrintPerOp(t *testing.T) {
	r := &Report{Runs: []*Run{
		{System: "shard", CPUMsPerOp: 0.1234, SwitchesPerOp: 1.256, Result: &workload.Result{Total: workload.OpResult{OpsPerSec: 5}}},
		{System: "postgres", Result: &workload.Result{Total: workload.OpResult{OpsPerSec: 10}}},
	}}
	var out bytes.Buffer
	r.Print(&out)
	lines := strings.Split(out.String(), "\n")
	fields := func(prefix string) []string {
		for _, l := range lines {
			if f := strings.Fields(l); len(f) > 0 && f[0] == prefix {
				return f
			}
		}
		t.Fatalf("no %q line in:\n%s", prefix, out.String())
		return nil
	}
	// The header's "cpu ms/op" is two fields: count the columns from the
	// end, where the rows have cpu ms/op, cs/op and first/this.
	head, shard, pg := fields("system"), fields("shard"), fields("postgres")
	if n := len(head); n < 3 || head[n-3] != "ms/op" || head[n-2] != "cs/op" || len(shard) != n-1 || len(pg) != n-1 {
		t.Fatalf("columns %q, rows %q and %q", head, shard, pg)
	}
	at := func(row []string, fromEnd int) string { return row[len(row)-fromEnd] }
	if at(shard, 3) != "0.123" || at(shard, 2) != "1.26" || at(pg, 3) != "-" || at(pg, 2) != "-" {
		t.Errorf("cpu ms/op and cs/op: shard %q %q, postgres %q %q", at(shard, 3), at(shard, 2), at(pg, 3), at(pg, 2))
	}
}

// settling is a System that records the order of what it is asked to do.
type settling struct{ calls *[]string }

func (s settling) Name() string { return "settling" }
func (s settling) Counters(context.Context) (target.Counters, error) {
	*s.calls = append(*s.calls, "counters")
	return target.Counters{At: time.Now()}, nil
}
func (s settling) Settle(context.Context) error {
	*s.calls = append(*s.calls, "settle")
	time.Sleep(10 * time.Millisecond)
	return nil
}

// loadOnly is a workload whose Setup is recorded and whose operations do
// nothing.
type loadOnly struct{ calls *[]string }

func (l loadOnly) Name() string { return "load" }
func (l loadOnly) Setup(context.Context) error {
	*l.calls = append(*l.calls, "setup")
	return nil
}
func (l loadOnly) Worker(context.Context, int) (workload.Worker, error) { return nopWorker{}, nil }

type nopWorker struct{}

func (nopWorker) Op(context.Context, *rand.Rand) (string, error) {
	time.Sleep(time.Millisecond)
	return "op", nil
}
func (nopWorker) Close() {}

// TestMeasureSettlesAfterSetup: a Settler settles after the workload's
// setup and before the counters that the run is measured from, and the
// run says how long it took; with SkipSetup it does not settle.
func TestMeasureSettlesAfterSetup(t *testing.T) {
	var calls []string
	run, err := Measure(context.Background(), settling{&calls}, loadOnly{&calls}, workload.Options{Duration: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"setup", "settle", "counters", "counters"}; !slices.Equal(calls, want) {
		t.Errorf("calls %q, want %q", calls, want)
	}
	if run.SettleSeconds < 0.01 {
		t.Errorf("settled in %v s, want at least the 10 ms Settle took", run.SettleSeconds)
	}
	var out bytes.Buffer
	(&Report{Runs: []*Run{run}}).Print(&out)
	if !strings.Contains(out.String(), "settling: settled 0.0 s after the load") {
		t.Errorf("the report does not say how long the system settled:\n%s", out.String())
	}
	calls = nil
	run, err = Measure(context.Background(), settling{&calls}, loadOnly{&calls}, workload.Options{Duration: 20 * time.Millisecond, SkipSetup: true})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"counters", "counters"}; !slices.Equal(calls, want) || run.SettleSeconds != 0 {
		t.Errorf("with SkipSetup: calls %q, settled in %v s", calls, run.SettleSeconds)
	}
}

// TestPrintRounds: with several rounds, each run's ratio is against its
// own round's first run, rows name their round, and the median of each
// peer's ratios is printed.
func TestPrintRounds(t *testing.T) {
	run := func(system string, ops float64) *Run {
		return &Run{System: system, Result: &workload.Result{Total: workload.OpResult{OpsPerSec: ops}}}
	}
	r := &Report{RunsPerRound: 2, Runs: []*Run{
		run("shard", 50), run("postgres", 100),
		run("shard", 90), run("postgres", 100),
		run("shard", 60), run("postgres", 200),
	}}
	if got := []float64{r.Ratio(1), r.Ratio(3), r.Ratio(5), r.Ratio(2)}; !slices.Equal(got, []float64{0.5, 0.9, 0.3, 1}) {
		t.Errorf("ratios %v, want each against its own round's shard run", got)
	}
	each, median := r.Ratios(1)
	if !slices.Equal(each, []float64{0.5, 0.9, 0.3}) || median != 0.5 {
		t.Errorf("ratios %v, median %v", each, median)
	}
	r.Runs = r.Runs[:4]
	if _, median := r.Ratios(1); median != 0.7 {
		t.Errorf("median of 0.5 and 0.9: %v", median)
	}
	var out bytes.Buffer
	r.Print(&out)
	for _, want := range []string{"shard#1", "postgres#2", "shard over postgres: median 0.70 of 2 rounds (0.50, 0.90)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("no %q in:\n%s", want, out.String())
		}
	}
	// One round prints as before: no round in the names, no median.
	one := &Report{Runs: []*Run{run("shard", 50), run("postgres", 100)}}
	out.Reset()
	one.Print(&out)
	if strings.Contains(out.String(), "#1") || strings.Contains(out.String(), "median") || one.Ratio(1) != 0.5 {
		t.Errorf("one round:\n%s", out.String())
	}
}
