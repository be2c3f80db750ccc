package workload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// fake is an in-memory Workload. Its workers run op and record, for each
// worker, the first values they draw and when they first ran.
type fake struct {
	op       func(id int, attempt int64, rng *rand.Rand) (string, error)
	setupErr error
	failOpen int // Worker(failOpen) fails, if > 0

	setups, opened, closed atomic.Int32
	calls                  atomic.Int64

	mu    sync.Mutex
	draws map[int][]uint64
	first map[int]time.Time
}

const keptDraws = 100

func (f *fake) Name() string { return "fake" }

func (f *fake) Setup(context.Context) error {
	f.setups.Add(1)
	return f.setupErr
}

func (f *fake) Worker(_ context.Context, id int) (Worker, error) {
	if f.failOpen > 0 && id == f.failOpen {
		return nil, errors.New("refused")
	}
	f.opened.Add(1)
	return &fakeWorker{f: f, id: id}, nil
}

type fakeWorker struct {
	f        *fake
	id       int
	attempts int64
}

func (w *fakeWorker) Op(_ context.Context, rng *rand.Rand) (string, error) {
	f := w.f
	f.calls.Add(1)
	w.attempts++
	if w.attempts <= keptDraws {
		v := rng.Uint64()
		f.mu.Lock()
		if f.draws == nil {
			f.draws, f.first = map[int][]uint64{}, map[int]time.Time{}
		}
		if w.attempts == 1 {
			f.first[w.id] = time.Now()
		}
		f.draws[w.id] = append(f.draws[w.id], v)
		f.mu.Unlock()
	}
	if f.op == nil {
		return "op", nil
	}
	return f.op(w.id, w.attempts, rng)
}

func (w *fakeWorker) Close() { w.f.closed.Add(1) }

var errRetry = fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40001", Message: "restart"})

// TestRunCounts runs the fake with retries and errors and checks the
// counts, the output and that every worker was closed (TestMain checks the
// goroutines).
func TestRunCounts(t *testing.T) {
	f := &fake{op: func(id int, attempt int64, rng *rand.Rand) (string, error) {
		time.Sleep(100 * time.Microsecond)
		switch {
		case attempt%5 == 0:
			return "write", errors.New("broken")
		case attempt%3 == 0:
			return "write", errRetry
		case attempt%2 == 0:
			return "write", nil
		}
		return "read", nil
	}}
	var progress, out bytes.Buffer
	res, err := Run(context.Background(), Options{Concurrency: 3, Duration: 1500 * time.Millisecond, Progress: &progress, Out: &out}, f)
	if err != nil {
		t.Fatal(err)
	}
	if f.setups.Load() != 1 || f.opened.Load() != 3 || f.closed.Load() != 3 {
		t.Errorf("setups %d, opened %d, closed %d", f.setups.Load(), f.opened.Load(), f.closed.Load())
	}
	if res.Workload != "fake" || res.Options.Concurrency != 3 || len(res.Ops) != 2 {
		t.Fatalf("result: %+v", res)
	}
	read, write := res.Ops[0], res.Ops[1]
	if read.Name != "read" || read.Count == 0 || read.Errors != 0 || read.Retries != 0 {
		t.Errorf("read: %+v", read)
	}
	if write.Name != "write" || write.Count == 0 || write.Errors == 0 || write.Retries == 0 || write.FirstError != "broken" || write.FirstRetry != errRetry.Error() {
		t.Errorf("write: %+v", write)
	}
	total := res.Total
	if total.Count != read.Count+write.Count || total.Errors != write.Errors || total.Retries != write.Retries {
		t.Errorf("total: %+v", total)
	}
	// Every call is an operation, an error, a retry or cut off at the end
	// (at most one per worker).
	counted := total.Count + total.Errors + total.Retries
	if calls := f.calls.Load(); calls < counted || calls > counted+3 {
		t.Errorf("%d calls, %d counted", calls, counted)
	}
	if !strings.HasPrefix(progress.String(), progressHeader+"\n") || !strings.Contains(progress.String(), " read\n") {
		t.Errorf("progress:\n%s", progress.String())
	}
	if len(res.Series) == 0 || res.Series[0].Elapsed < 0.9 {
		t.Errorf("series: %+v", res.Series)
	}
	if !strings.Contains(out.String(), summaryHeader) || !strings.Contains(out.String(), "  total\n") {
		t.Errorf("summary:\n%s", out.String())
	}
}

// TestRetryTimesFirstAttempt: the latency of a retried operation covers
// its attempts.
func TestRetryTimesFirstAttempt(t *testing.T) {
	f := &fake{op: func(id int, attempt int64, rng *rand.Rand) (string, error) {
		time.Sleep(2 * time.Millisecond)
		if attempt%4 != 0 {
			return "txn", errRetry
		}
		return "txn", nil
	}}
	res, err := Run(context.Background(), Options{Duration: 300 * time.Millisecond}, f)
	if err != nil {
		t.Fatal(err)
	}
	txn := res.Ops[0]
	if txn.Count == 0 || txn.Retries < 3*txn.Count || txn.P50Ms < 8 {
		t.Errorf("txn: %+v (every operation takes 4 attempts of 2 ms)", txn)
	}
}

// TestMaxRate: with a rate limit a run makes at most MaxRate per second
// plus one operation per worker, and does not stall.
func TestMaxRate(t *testing.T) {
	f := &fake{}
	const rate, workers = 200, 4
	start := time.Now()
	res, err := Run(context.Background(), Options{Concurrency: workers, Duration: time.Second, MaxRate: rate}, f)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start).Seconds()
	calls := f.calls.Load()
	if max := int64(rate*wall) + workers; calls > max {
		t.Errorf("%d operations in %.2fs at %d/s: more than %d", calls, wall, rate, max)
	}
	if calls < rate/10 {
		t.Errorf("%d operations in %.2fs at %d/s: the limiter stalls", calls, wall, rate)
	}
	if res.Total.Count+1*workers < calls {
		t.Errorf("%d calls but %d operations", calls, res.Total.Count)
	}
}

// TestSeed: the same seed gives each worker the same draws; another seed
// or another worker draws differently.
func TestSeed(t *testing.T) {
	run := func(seed uint64) map[int][]uint64 {
		f := &fake{}
		if _, err := Run(context.Background(), Options{Concurrency: 2, Duration: 100 * time.Millisecond, Seed: seed}, f); err != nil {
			t.Fatal(err)
		}
		for id := range 2 {
			if len(f.draws[id]) < 10 {
				t.Fatalf("worker %d drew %d values", id, len(f.draws[id]))
			}
		}
		return f.draws
	}
	a, b, c := run(42), run(42), run(43)
	for id := range 2 {
		n := min(len(a[id]), len(b[id]))
		if fmt.Sprint(a[id][:n]) != fmt.Sprint(b[id][:n]) {
			t.Errorf("worker %d: seed 42 drew %v then %v", id, a[id][:5], b[id][:5])
		}
		if a[id][0] == c[id][0] {
			t.Errorf("worker %d: seeds 42 and 43 both drew %d first", id, a[id][0])
		}
	}
	if a[0][0] == a[1][0] {
		t.Errorf("workers 0 and 1 both drew %d first", a[0][0])
	}
}

// TestRamp: workers start spread over the ramp, and the measurement
// starts after it.
func TestRamp(t *testing.T) {
	f := &fake{op: func(int, int64, *rand.Rand) (string, error) {
		time.Sleep(time.Millisecond)
		return "op", nil
	}}
	res, err := Run(context.Background(), Options{Concurrency: 2, Duration: time.Second, Ramp: time.Second}, f)
	if err != nil {
		t.Fatal(err)
	}
	if late := f.first[1].Sub(res.Start); late < 500*time.Millisecond {
		t.Errorf("worker 1 started %v after the start, before its ramp slot (500ms)", late)
	}
	if f.first[0].Sub(res.Start) > 400*time.Millisecond {
		t.Errorf("worker 0 started %v after the start", f.first[0].Sub(res.Start))
	}
	if res.Elapsed > 1.5 || res.Elapsed <= 0 {
		t.Errorf("measured %.2fs of a 1s run after a 1s ramp", res.Elapsed)
	}
}

// TestCancel: canceling ctx ends an endless run with its result.
func TestCancel(t *testing.T) {
	f := &fake{}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	res, err := Run(ctx, Options{Concurrency: 2}, f)
	if err != nil {
		t.Fatal(err)
	}
	if res.Total.Count == 0 || f.closed.Load() != 2 {
		t.Errorf("%d operations, %d workers closed", res.Total.Count, f.closed.Load())
	}
}

// TestRunErrors: Setup's and Worker's errors come back with context, and
// the workers opened before a failure are closed.
func TestRunErrors(t *testing.T) {
	f := &fake{setupErr: errors.New("no space")}
	if _, err := Run(context.Background(), Options{Duration: time.Second}, f); err == nil || !strings.Contains(err.Error(), "setup: no space") {
		t.Errorf("setup failure: %v", err)
	}
	f = &fake{failOpen: 2}
	_, err := Run(context.Background(), Options{Concurrency: 3, Duration: time.Second, SkipSetup: true}, f)
	if err == nil || !strings.Contains(err.Error(), "worker 2: refused") {
		t.Errorf("worker failure: %v", err)
	}
	if f.setups.Load() != 0 || f.opened.Load() != 2 || f.closed.Load() != 2 {
		t.Errorf("setups %d, opened %d, closed %d", f.setups.Load(), f.opened.Load(), f.closed.Load())
	}
	if _, err := Run(context.Background(), Options{Concurrency: -1, MaxRate: -1}, f); err == nil ||
		!strings.Contains(err.Error(), "concurrency") || !strings.Contains(err.Error(), "max rate") {
		t.Errorf("invalid options: %v", err)
	}
}

func TestIsRetry(t *testing.T) {
	for _, c := range []struct {
		err  error
		want bool
	}{
		{errRetry, true},
		{&pgconn.PgError{Code: "40P01"}, true},
		{&pgconn.PgError{Code: "23505"}, false},
		{errors.New("40001"), false},
		{nil, false},
	} {
		if got := IsRetry(c.err); got != c.want {
			t.Errorf("IsRetry(%v) = %v", c.err, got)
		}
	}
}
