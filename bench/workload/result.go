package workload

import (
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Result is what a run measured; WriteJSON saves it.
type Result struct {
	// Workload is the workload's name.
	Workload string `json:"workload"`
	// Options are the run's options (with defaults filled in).
	Options Options `json:"options"`
	// Start is when the workers started (the ramp's start).
	Start time.Time `json:"start"`
	// Elapsed is the measured time in seconds: from the end of the ramp
	// to the end of the run.
	Elapsed float64 `json:"elapsed_s"`
	// Ops are the measured totals per operation, by name; Total is all of
	// them together (named "total").
	Ops   []OpResult `json:"ops"`
	Total OpResult   `json:"total"`
	// Series has one entry per second and operation, the ramp included.
	Series []Tick `json:"series"`
}

// OpResult is the figures of one operation over a period. Count is the
// successes, the only operations with a latency; OpsPerSec is Count per
// second; the latencies are in milliseconds.
type OpResult struct {
	Name      string  `json:"name"`
	Count     int64   `json:"count"`
	Errors    int64   `json:"errors"`
	Retries   int64   `json:"retries"`
	OpsPerSec float64 `json:"ops_per_sec"`
	AvgMs     float64 `json:"avg_ms"`
	P50Ms     float64 `json:"p50_ms"`
	P95Ms     float64 `json:"p95_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	// FirstError is the first error message seen, for diagnosis, and
	// FirstRetry the first message of an error that was retried.
	FirstError string `json:"first_error,omitempty"`
	FirstRetry string `json:"first_retry,omitempty"`
}

// Tick is one operation's figures over one second of the run; Elapsed is
// the seconds from Result.Start to the end of that second.
type Tick struct {
	Elapsed float64 `json:"elapsed_s"`
	OpResult
}

// opResult computes the figures of h (latencies in µs) over elapsed.
func opResult(name string, h *hdrhistogram.Histogram, errors, retries int64, elapsed time.Duration) OpResult {
	r := OpResult{Name: name, Count: h.TotalCount(), Errors: errors, Retries: retries}
	if s := elapsed.Seconds(); s > 0 {
		r.OpsPerSec = float64(r.Count) / s
	}
	if r.Count > 0 {
		r.AvgMs = h.Mean() / 1000
		r.P50Ms = ms(h.ValueAtQuantile(50))
		r.P95Ms = ms(h.ValueAtQuantile(95))
		r.P99Ms = ms(h.ValueAtQuantile(99))
		r.MaxMs = ms(h.Max())
	}
	return r
}

// ms converts microseconds to milliseconds.
func ms(us int64) float64 { return float64(us) / 1000 }

// WriteJSON writes r to path as indented JSON.
func (r *Result) WriteJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("workload: encode result: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("workload: write result: %w", err)
	}
	return nil
}

// ReadJSON reads a result that WriteJSON wrote.
func ReadJSON(path string) (*Result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("workload: read result: %w", err)
	}
	var r Result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("workload: decode result %s: %w", path, err)
	}
	return &r, nil
}
