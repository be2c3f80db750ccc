package workload

import (
	"fmt"
	"io"
	"time"
)

// The output's headers, in the column layout of `cockroach workload`.
const (
	progressHeader = "_elapsed___errors__ops/sec(inst)___ops/sec(cum)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)"
	summaryHeader  = "_elapsed___errors_____ops(total)___ops/sec(cum)__avg(ms)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)__total"
	retriesHeader  = "_elapsed__retries___retry(%)"

	// headerEvery is how many progress lines a header precedes.
	headerEvery = 20
)

// textWriter writes lines to w (nil: nowhere) and keeps the first error.
type textWriter struct {
	w   io.Writer
	err error
}

func (t *textWriter) printf(format string, args ...any) {
	if t.w == nil || t.err != nil {
		return
	}
	if _, err := fmt.Fprintf(t.w, format, args...); err != nil {
		t.err = err
	}
}

// progressPrinter prints the per-second lines, with a header before every
// headerEvery lines.
type progressPrinter struct {
	textWriter
	lines int
}

// line prints one operation's second: elapsed since the run's start, the
// operation's errors since the measurement started, its rate in that
// second (r.OpsPerSec) and since the measurement started (cumRate), and
// its latencies in that second.
func (p *progressPrinter) line(elapsed time.Duration, cumErrors int64, cumRate float64, r OpResult) {
	if p.lines%headerEvery == 0 {
		p.printf("%s\n", progressHeader)
	}
	p.lines++
	p.printf("%7.1fs %8d %14.1f %14.1f %8.1f %8.1f %8.1f %8.1f %s\n",
		elapsed.Seconds(), cumErrors, r.OpsPerSec, cumRate, r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs, r.Name)
}

// writeSummary prints the summary of res to w: one line per operation
// and the total, then the retries the same way. It returns the first
// write error.
func writeSummary(w io.Writer, res *Result) error {
	t := &textWriter{w: w}
	rows := append(append([]OpResult(nil), res.Ops...), res.Total)
	t.printf("\n%s\n", summaryHeader)
	for _, r := range rows {
		t.printf("%7.1fs %8d %14d %14.1f %8.1f %8.1f %8.1f %8.1f %8.1f  %s\n",
			res.Elapsed, r.Errors, r.Count, r.OpsPerSec, r.AvgMs, r.P50Ms, r.P95Ms, r.P99Ms, r.MaxMs, r.Name)
	}
	t.printf("\n%s\n", retriesHeader)
	for _, r := range rows {
		t.printf("%7.1fs %8d %10.2f %s\n", res.Elapsed, r.Retries, retryPercent(r), r.Name)
	}
	return t.err
}

// retryPercent is the share of r's attempts that were retried.
func retryPercent(r OpResult) float64 {
	attempts := r.Count + r.Errors + r.Retries
	if attempts == 0 {
		return 0
	}
	return 100 * float64(r.Retries) / float64(attempts)
}
