package bench

import (
	"bytes"
	"strings"
	"testing"

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
