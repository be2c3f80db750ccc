package workload

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// The histograms' range and precision: latencies in microseconds, 1 µs to
// 60 s, 3 significant figures. Latencies outside are clamped into it.
const (
	histMinMicros = 1
	histMaxMicros = 60_000_000
	histSigFigs   = 3
)

// newHist returns an empty latency histogram.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histMinMicros, histMaxMicros, histSigFigs)
}

// micros is d in whole microseconds, clamped to the histograms' range.
func micros(d time.Duration) int64 {
	return min(max(d.Microseconds(), histMinMicros), histMaxMicros)
}

// opWindow is what one worker did with one operation since the last
// collection: the latencies of the successes, the errors and the retries.
type opWindow struct {
	hist     *hdrhistogram.Histogram
	errors   int64
	retries  int64
	firstErr string // the window's first error message
	// firstRetry is the message of the window's first error that made
	// the worker retry (a serialization failure, say).
	firstRetry string
}

// recorder is one worker's windows. The worker records into it and the
// reporter collects from it once a second; the mutex is taken by the
// worker once per operation and is contended only during a collection,
// which merges and resets a few histograms.
type recorder struct {
	mu struct {
		sync.Mutex
		ops map[string]*opWindow // by operation name
	}
}

func newRecorder() *recorder {
	r := &recorder{}
	r.mu.ops = make(map[string]*opWindow)
	return r
}

// windowLocked returns op's window, making it on first use.
func (r *recorder) windowLocked(op string) *opWindow {
	w := r.mu.ops[op]
	if w == nil {
		w = &opWindow{hist: newHist()}
		r.mu.ops[op] = w
	}
	return w
}

// success records a success of op that took lat.
func (r *recorder) success(op string, lat time.Duration) {
	r.mu.Lock()
	_ = r.windowLocked(op).hist.RecordValue(micros(lat)) // in range: clamped
	r.mu.Unlock()
}

// retry records an attempt of op that failed with err and is retried.
func (r *recorder) retry(op string, err error) {
	r.mu.Lock()
	w := r.windowLocked(op)
	if w.firstRetry == "" {
		w.firstRetry = err.Error()
	}
	w.retries++
	r.mu.Unlock()
}

// failure records an error of op.
func (r *recorder) failure(op string, err error) {
	r.mu.Lock()
	w := r.windowLocked(op)
	if w.firstErr == "" {
		w.firstErr = err.Error()
	}
	w.errors++
	r.mu.Unlock()
}

// collectInto adds the recorder's windows to agg and empties them.
func (r *recorder) collectInto(agg *aggregate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, w := range r.mu.ops {
		s := agg.op(name)
		s.tick.Merge(w.hist)
		s.tickErrors += w.errors
		s.tickRetries += w.retries
		if s.firstErr == "" {
			s.firstErr = w.firstErr
		}
		if s.firstRetry == "" {
			s.firstRetry = w.firstRetry
		}
		w.hist.Reset()
		w.errors, w.retries, w.firstErr, w.firstRetry = 0, 0, "", ""
	}
}

// opStats is the reporter's view of one operation: the current second's
// window (tick) and everything since the measurement started (cum).
type opStats struct {
	tick, cum               *hdrhistogram.Histogram
	tickErrors, tickRetries int64
	cumErrors, cumRetries   int64
	firstErr, firstRetry    string
}

// aggregate is every operation's stats. Only the reporter (Run's
// goroutine) uses it.
type aggregate struct {
	ops map[string]*opStats
}

func newAggregate() *aggregate { return &aggregate{ops: make(map[string]*opStats)} }

// op returns name's stats, making them on first use.
func (a *aggregate) op(name string) *opStats {
	s := a.ops[name]
	if s == nil {
		s = &opStats{tick: newHist(), cum: newHist()}
		a.ops[name] = s
	}
	return s
}

// endTick adds every tick window to the cumulative stats and empties it.
func (a *aggregate) endTick() {
	for _, s := range a.ops {
		s.cum.Merge(s.tick)
		s.cumErrors += s.tickErrors
		s.cumRetries += s.tickRetries
		s.tick.Reset()
		s.tickErrors, s.tickRetries = 0, 0
	}
}

// resetCumulative forgets the cumulative stats (at the end of the ramp).
func (a *aggregate) resetCumulative() {
	for _, s := range a.ops {
		s.cum.Reset()
		s.cumErrors, s.cumRetries = 0, 0
	}
}
