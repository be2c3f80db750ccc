package workload

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestProgressLayout checks the per-second line against cockroach
// workload's layout: each value ends where its header column ends, and a
// header comes before every 20 lines.
func TestProgressLayout(t *testing.T) {
	var buf bytes.Buffer
	p := progressPrinter{textWriter: textWriter{w: &buf}}
	r := OpResult{Name: "read", OpsPerSec: 1234.5, P50Ms: 1.2, P95Ms: 3.4, P99Ms: 5.6, MaxMs: 12.1}
	for range 21 {
		p.line(time.Second, 0, 1234.5, r)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 23 || lines[0] != progressHeader || lines[21] != progressHeader {
		t.Fatalf("%d lines, headers at 0 and 21 expected:\n%s", len(lines), buf.String())
	}
	const want = "    1.0s        0         1234.5         1234.5      1.2      3.4      5.6     12.1 read"
	if lines[1] != want {
		t.Errorf("line\n got %q\nwant %q", lines[1], want)
	}
	checkColumns(t, progressHeader, lines[1])
}

// checkColumns checks that every field of line ends where the matching
// column of header (columns end before a '_' that follows a non-'_')
// ends.
func checkColumns(t *testing.T, header, line string) {
	t.Helper()
	var ends []int // the index after each header column
	for i := 1; i < len(header); i++ {
		if header[i] == '_' && header[i-1] != '_' {
			ends = append(ends, i)
		}
	}
	ends = append(ends, len(header))
	for _, end := range ends[:len(ends)-1] {
		if end > len(line) || line[end-1] == ' ' || (end < len(line) && line[end] != ' ') {
			t.Errorf("column ending at %d of %q is misaligned in\n%q", end, header, line)
		}
	}
}

// TestSummaryLayout checks the summary block to the byte.
func TestSummaryLayout(t *testing.T) {
	res := &Result{
		Elapsed: 10,
		Ops: []OpResult{
			{Name: "read", Count: 20000, OpsPerSec: 2000, AvgMs: 1.05, P50Ms: 1, P95Ms: 2.1, P99Ms: 3.2, MaxMs: 25.2},
			{Name: "write", Count: 5000, Errors: 2, Retries: 50, OpsPerSec: 500, AvgMs: 4, P50Ms: 3.5, P95Ms: 8.9, P99Ms: 14.7, MaxMs: 60.8},
		},
		Total: OpResult{Name: "total", Count: 25000, Errors: 2, Retries: 50, OpsPerSec: 2500, AvgMs: 1.64, P50Ms: 1.1, P95Ms: 5.2, P99Ms: 10.5, MaxMs: 60.8},
	}
	var buf bytes.Buffer
	if err := writeSummary(&buf, res); err != nil {
		t.Fatal(err)
	}
	want := `
_elapsed___errors_____ops(total)___ops/sec(cum)__avg(ms)__p50(ms)__p95(ms)__p99(ms)_pMax(ms)__total
   10.0s        0          20000         2000.0      1.1      1.0      2.1      3.2     25.2  read
   10.0s        2           5000          500.0      4.0      3.5      8.9     14.7     60.8  write
   10.0s        2          25000         2500.0      1.6      1.1      5.2     10.5     60.8  total

_elapsed__retries___retry(%)
   10.0s        0       0.00 read
   10.0s       50       0.99 write
   10.0s       50       0.20 total
`
	if buf.String() != want {
		t.Errorf("summary\n got:\n%s\nwant:\n%s", buf.String(), want)
	}
	lines := strings.Split(want, "\n")
	checkColumns(t, summaryHeader, lines[2])
	checkColumns(t, retriesHeader, lines[7])
}

// TestOutputError: a failing writer's error comes back.
func TestOutputError(t *testing.T) {
	if err := writeSummary(failWriter{}, &Result{}); err == nil {
		t.Error("no error from a failing writer")
	}
	if err := writeSummary(nil, &Result{}); err != nil {
		t.Errorf("nil writer: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }
