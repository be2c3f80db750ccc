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
