package workload

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestResultJSON: WriteJSON then ReadJSON gives the result back (the
// output writers are not saved).
func TestResultJSON(t *testing.T) {
	res := &Result{
		Workload: "kv",
		Options: Options{Concurrency: 8, Duration: time.Minute, Ramp: 5 * time.Second, MaxRate: 1000,
			Seed: 1<<64 - 1, Progress: os.Stdout, Out: os.Stdout},
		Start:   time.Date(2025, 1, 2, 3, 4, 5, 6, time.UTC),
		Elapsed: 60.25,
		Ops: []OpResult{{Name: "read", Count: 100, Errors: 1, Retries: 2, OpsPerSec: 1.5,
			AvgMs: 1.25, P50Ms: 1, P95Ms: 2, P99Ms: 3, MaxMs: 4, FirstError: "oops"}},
		Total:  OpResult{Name: "total", Count: 100},
		Series: []Tick{{Elapsed: 1, OpResult: OpResult{Name: "read", Count: 3, OpsPerSec: 3}}},
	}
	path := filepath.Join(t.TempDir(), "result.json")
	if err := res.WriteJSON(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadJSON(path)
	if err != nil {
		t.Fatal(err)
	}
	want := *res
	want.Options.Progress, want.Options.Out = nil, nil
	if !reflect.DeepEqual(*got, want) {
		t.Errorf("round trip\n got %+v\nwant %+v", *got, want)
	}
	b, _ := os.ReadFile(path)
	for _, field := range []string{`"workload": "kv"`, `"duration_ns": 60000000000`, `"p99_ms": 3`, `"elapsed_s": 1,`, `"first_error": "oops"`} {
		if !strings.Contains(string(b), field) {
			t.Errorf("JSON lacks %s:\n%s", field, b)
		}
	}
	if _, err := ReadJSON(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("ReadJSON of a missing file: no error")
	}
}
