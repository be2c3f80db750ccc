package workload

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Run runs wl as opts say and returns what it measured: Setup (unless
// opts.SkipSetup), one Worker per unit of concurrency, then the workers'
// operations for opts.Ramp + opts.Duration, with a progress line per
// second and operation to opts.Progress and the summary to opts.Out at the
// end. Canceling ctx ends the run early; the result then covers what ran
// and the error is nil. Every goroutine Run starts has ended and every
// worker is closed when it returns. Errors of operations are counted, not
// returned; the error is Setup's, a Worker's, or a failed write of the
// output (the result is returned with the latter).
func Run(ctx context.Context, opts Options, wl Workload) (*Result, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	if !opts.SkipSetup {
		if err := wl.Setup(ctx); err != nil {
			return nil, fmt.Errorf("workload %s: setup: %w", wl.Name(), err)
		}
	}
	workers, err := openWorkers(ctx, wl, opts.Concurrency)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, w := range workers {
			w.Close()
		}
	}()
	r := &runner{
		opts:     opts,
		agg:      newAggregate(),
		progress: progressPrinter{textWriter: textWriter{w: opts.Progress}},
	}
	res := r.run(ctx, wl.Name(), workers)
	err = writeSummary(opts.Out, res)
	if err == nil {
		err = r.progress.err
	}
	if err != nil {
		return res, fmt.Errorf("workload %s: write output: %w", wl.Name(), err)
	}
	return res, nil
}

// openWorkers opens n workers, closing those it opened when one fails.
func openWorkers(ctx context.Context, wl Workload, n int) ([]Worker, error) {
	workers := make([]Worker, 0, n)
	for id := range n {
		w, err := wl.Worker(ctx, id)
		if err != nil {
			for _, w := range workers {
				w.Close()
			}
			return nil, fmt.Errorf("workload %s: worker %d: %w", wl.Name(), id, err)
		}
		workers = append(workers, w)
	}
	return workers, nil
}

// runner is one run's state. Its fields other than opts and recs are used
// by the reporter (Run's goroutine) only.
type runner struct {
	opts     Options
	recs     []*recorder // one per worker
	agg      *aggregate
	progress progressPrinter
	series   []Tick

	start     time.Time // the workers' start
	rampEnd   time.Time
	measuring bool      // the ramp is over: cum counts from cumStart
	cumStart  time.Time // start of the cumulative figures
	lastTick  time.Time
}

// run starts the workers, reports every second until the end of the run,
// stops the workers and waits for them, and returns the result.
func (r *runner) run(ctx context.Context, name string, workers []Worker) *Result {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()

	r.start = time.Now()
	r.rampEnd = r.start.Add(r.opts.Ramp)
	r.cumStart, r.lastTick, r.measuring = r.start, r.start, r.opts.Ramp == 0
	var wg sync.WaitGroup
	r.recs = make([]*recorder, len(workers))
	for id, w := range workers {
		rec := newRecorder()
		r.recs[id] = rec
		wg.Go(func() { r.work(runCtx, id, w, rec) })
	}

	var end <-chan time.Time
	if r.opts.Duration > 0 {
		t := time.NewTimer(r.opts.Ramp + r.opts.Duration)
		defer t.Stop()
		end = t.C
	}
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	stop := func() time.Time {
		for {
			select {
			case now := <-ticker.C:
				r.tick(now, true)
			case now := <-end:
				return now
			case <-ctx.Done():
				return time.Now()
			}
		}
	}()

	// Shutdown: stop the workers (an operation in flight is cut off and
	// not counted), wait for them, then take in their last records.
	cancel()
	wg.Wait()
	// The last second gets its line when it is more than half a second;
	// otherwise it only counts in the summary.
	if stop.Sub(r.lastTick) >= lastTickMin {
		r.tick(stop, false)
	} else {
		for _, rec := range r.recs {
			rec.collectInto(r.agg)
		}
		r.agg.endTick()
	}
	return r.result(name, stop)
}

// lastTickMin is the shortest last second that gets a progress line.
const lastTickMin = 500 * time.Millisecond

// tick reports the second that ended at now: it collects the workers'
// windows, prints and records a line per operation, adds the second to the
// cumulative figures, and (unless it is the last) starts the measurement
// at the first tick after the ramp.
func (r *runner) tick(now time.Time, startMeasuring bool) {
	for _, rec := range r.recs {
		rec.collectInto(r.agg)
	}
	window, cumElapsed := now.Sub(r.lastTick), now.Sub(r.cumStart).Seconds()
	r.lastTick = now
	for _, name := range slices.Sorted(maps.Keys(r.agg.ops)) {
		s := r.agg.ops[name]
		t := opResult(name, s.tick, s.tickErrors, s.tickRetries, window)
		cumRate := 0.0
		if cumElapsed > 0 {
			cumRate = float64(s.cum.TotalCount()+s.tick.TotalCount()) / cumElapsed
		}
		r.progress.line(now.Sub(r.start), s.cumErrors+s.tickErrors, cumRate, t)
		r.series = append(r.series, Tick{Elapsed: now.Sub(r.start).Seconds(), OpResult: t})
	}
	r.agg.endTick()
	if startMeasuring && !r.measuring && !now.Before(r.rampEnd) {
		r.agg.resetCumulative()
		r.cumStart, r.measuring = now, true
	}
}

// result is the run's result, measured up to stop.
func (r *runner) result(name string, stop time.Time) *Result {
	elapsed := stop.Sub(r.cumStart)
	res := &Result{
		Workload: name,
		Options:  r.opts,
		Start:    r.start,
		Elapsed:  elapsed.Seconds(),
		Series:   r.series,
	}
	total := newHist()
	var errs, retries int64
	for _, op := range slices.Sorted(maps.Keys(r.agg.ops)) {
		s := r.agg.ops[op]
		o := opResult(op, s.cum, s.cumErrors, s.cumRetries, elapsed)
		o.FirstError, o.FirstRetry = s.firstErr, s.firstRetry
		res.Ops = append(res.Ops, o)
		total.Merge(s.cum)
		errs += s.cumErrors
		retries += s.cumRetries
		if res.Total.FirstError == "" {
			res.Total.FirstError = s.firstErr
		}
		if res.Total.FirstRetry == "" {
			res.Total.FirstRetry = s.firstRetry
		}
	}
	firstErr, firstRetry := res.Total.FirstError, res.Total.FirstRetry
	res.Total = opResult("total", total, errs, retries, elapsed)
	res.Total.FirstError, res.Total.FirstRetry = firstErr, firstRetry
	return res
}

// work is worker id's loop: wait for its start in the ramp, then run
// operations until ctx is done.
func (r *runner) work(ctx context.Context, id int, w Worker, rec *recorder) {
	if d := r.opts.Ramp * time.Duration(id) / time.Duration(r.opts.Concurrency); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	rng := newRand(r.opts.Seed, id)
	pace := newPacer(r.opts.MaxRate / float64(r.opts.Concurrency))
	var began time.Time
	retrying := false
	for {
		if !retrying {
			if !pace.wait(ctx) {
				return
			}
			began = time.Now()
		}
		op, err := w.Op(ctx, rng)
		if ctx.Err() != nil {
			return
		}
		retrying = false
		switch {
		case err == nil:
			rec.success(op, time.Since(began))
		case IsRetry(err):
			rec.retry(op, err)
			retrying = true
		default:
			rec.failure(op, err)
		}
	}
}

// newRand is worker id's random source for seed.
func newRand(seed uint64, id int) *rand.Rand {
	return rand.New(rand.NewPCG(seed, uint64(id)))
}
