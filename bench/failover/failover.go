package failover

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/shardingsystem/shard/bench/target"
	"github.com/shardingsystem/shard/bench/workload"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
)

// The faults.
const (
	RangeLeader = "range-leader"
	MetaLeader  = "meta-leader"
)

// Options configure a failover run.
type Options struct {
	// Run configures the workload; MaxRate should be set (a constant
	// rate), Duration is ignored: the faults decide the length.
	Run workload.Options
	// Faults are the faults in order; default range-leader, meta-leader.
	Faults []string
	// Warmup is the load before the first fault and after each recovery;
	// default 10 s.
	Warmup time.Duration
	// Observe is how long a killed node stays dead; default 10 s.
	Observe time.Duration
	// Logf gets progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Fault is one kill and what the clients saw.
type Fault struct {
	Kind  string `json:"kind"`
	Node  string `json:"node"`
	Range uint64 `json:"range"`
	// Span is the range's span, as keys.Pretty prints it.
	Span string `json:"span"`
	// At is when the node was killed, in seconds from the workload's
	// start.
	At float64 `json:"at_s"`
	// LongestGapMs is the longest time without a successful operation
	// around the kill; GapFrom is when it began (seconds from the start).
	LongestGapMs float64 `json:"longest_gap_ms"`
	GapFrom      float64 `json:"gap_from_s"`
	// Errors counts the operations that failed in the observation window.
	Errors int64 `json:"errors"`
}

// Result is a failover run's outcome.
type Result struct {
	Faults []Fault          `json:"faults"`
	Run    *workload.Result `json:"run"`
}

// Run runs wl (already set up) against s and kills the victims of
// opts.Faults in turn.
func Run(ctx context.Context, s *target.Shard, wl workload.Workload, opts Options) (*Result, error) {
	if len(opts.Faults) == 0 {
		opts.Faults = []string{RangeLeader, MetaLeader}
	}
	for _, f := range opts.Faults {
		if f != RangeLeader && f != MetaLeader {
			return nil, fmt.Errorf("failover: unknown fault %q (want %s or %s)", f, RangeLeader, MetaLeader)
		}
	}
	if opts.Warmup <= 0 {
		opts.Warmup = 10 * time.Second
	}
	if opts.Observe <= 0 {
		opts.Observe = 10 * time.Second
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	rec := &recorder{}
	runOpts := opts.Run
	runOpts.SkipSetup = true
	runOpts.Duration = 0 // until the faults are done
	rctx, stop := context.WithCancel(ctx)
	defer stop()
	type outcome struct {
		res *workload.Result
		err error
	}
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		res, err := workload.Run(rctx, runOpts, &tracked{Workload: wl, rec: rec})
		done <- outcome{res, err}
	}()
	c := s.Cluster()
	var faults []Fault
	var ferr error
	for _, kind := range opts.Faults {
		if ferr = sleep(ctx, runOpts.Ramp+opts.Warmup); ferr != nil {
			break
		}
		f, n, err := kill(ctx, c, kind)
		if err != nil {
			ferr = err
			break
		}
		f.At = time.Since(start).Seconds()
		logf("failover: killed %s (leader of r%d %s, %s) at %.1fs", f.Node, f.Range, f.Span, kind, f.At)
		faults = append(faults, f)
		if ferr = sleep(ctx, opts.Observe); ferr != nil {
			break
		}
		if ferr = n.Start(ctx); ferr != nil {
			break
		}
		if ferr = c.WaitReady(ctx); ferr != nil {
			break
		}
		logf("failover: %s is back and the cluster whole at %.1fs", f.Node, time.Since(start).Seconds())
		runOpts.Ramp = 0
	}
	if ferr == nil {
		ferr = sleep(ctx, opts.Warmup)
	}
	stop()
	out := <-done
	if out.err != nil && !errors.Is(out.err, context.Canceled) {
		return nil, out.err
	}
	if ferr != nil {
		return nil, ferr
	}
	succ, errs := rec.times()
	for i := range faults {
		f := &faults[i]
		from, to := start.Add(time.Duration(f.At*float64(time.Second))), start.Add(time.Duration((f.At+opts.Observe.Seconds())*float64(time.Second)))
		gapFrom, gap := longestGap(succ, from, to)
		f.LongestGapMs = float64(gap) / float64(time.Millisecond)
		f.GapFrom = gapFrom.Sub(start).Seconds()
		for _, t := range errs {
			if !t.Before(from) && t.Before(to) {
				f.Errors++
			}
		}
	}
	return &Result{Faults: faults, Run: out.res}, nil
}

// loadWait bounds how long kill waits for the ranges' first load reports.
const loadWait = 10 * time.Second

// kill finds the victim of kind and kills it.
func kill(ctx context.Context, c *cluster.Cluster, kind string) (Fault, *cluster.Node, error) {
	deadline := time.Now().Add(loadWait)
	var r cluster.Range
	for {
		rs, err := c.Ranges(ctx)
		if err != nil {
			return Fault{}, nil, fmt.Errorf("failover: %w", err)
		}
		r, err = victim(rs, kind)
		if errors.Is(err, errNoLoad) && time.Now().Before(deadline) {
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return Fault{}, nil, err
			}
			continue
		}
		if err != nil {
			return Fault{}, nil, err
		}
		break
	}
	n := c.NodeByID(r.Leader)
	if n == nil || !n.Running() {
		return Fault{}, nil, fmt.Errorf("failover: r%d's leader n%d is not a running node", r.ID, r.Leader)
	}
	if err := n.Kill9(); err != nil {
		return Fault{}, nil, err
	}
	return Fault{Kind: kind, Node: n.Name, Range: r.ID, Span: fmt.Sprintf("[%s, %s)", keys.Pretty(r.StartKey), keys.Pretty(r.EndKey))}, n, nil
}

// errNoLoad: no range but the meta range has reported any load yet, so
// none can be told busy. On a loaded machine the first reports can come
// after the warmup; a victim picked blind was a range the workload does
// not use, and its leader's death no gap at all.
var errNoLoad = errors.New("failover: no range has reported its load yet")

// victim picks the range whose leader a fault of kind kills.
func victim(rs []cluster.Range, kind string) (cluster.Range, error) {
	var meta cluster.Range
	for _, r := range rs {
		if r.ID == cluster.MetaRangeID {
			meta = r
		}
	}
	if kind == MetaLeader {
		if meta.Leader == 0 {
			return meta, errors.New("failover: the meta range has no leader")
		}
		return meta, nil
	}
	// The busiest range off the meta leader's node; else the busiest.
	var best, bestAny *cluster.Range
	for i := range rs {
		r := &rs[i]
		if r.ID == cluster.MetaRangeID || r.Leader == 0 {
			continue
		}
		if bestAny == nil || r.QPS > bestAny.QPS {
			bestAny = r
		}
		if r.Leader != meta.Leader && (best == nil || r.QPS > best.QPS) {
			best = r
		}
	}
	if best == nil {
		best = bestAny
	}
	if best == nil {
		return cluster.Range{}, errors.New("failover: no range with a leader besides meta")
	}
	if best.QPS <= 0 {
		return cluster.Range{}, errNoLoad
	}
	return *best, nil
}

// longestGap returns the longest interval between consecutive times of
// sorted succ that ends after from and starts before to (an interval
// still open at the last success ends at to).
func longestGap(succ []time.Time, from, to time.Time) (time.Time, time.Duration) {
	var start time.Time
	var longest time.Duration
	i, _ := slices.BinarySearchFunc(succ, from, func(t, target time.Time) int { return t.Compare(target) })
	prev := from
	if i > 0 {
		prev = succ[i-1]
	}
	for ; i <= len(succ); i++ {
		end := to
		if i < len(succ) {
			end = succ[i]
		}
		if d := end.Sub(prev); d > longest {
			start, longest = prev, d
		}
		if i == len(succ) || !succ[i].Before(to) {
			break
		}
		prev = succ[i]
	}
	return start, longest
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// recorder keeps the times of successes and errors of every worker.
type recorder struct {
	mu   sync.Mutex
	succ []time.Time
	errs []time.Time
}

func (r *recorder) record(t time.Time, ok bool) {
	r.mu.Lock()
	if ok {
		r.succ = append(r.succ, t)
	} else {
		r.errs = append(r.errs, t)
	}
	r.mu.Unlock()
}

// times returns the sorted times.
func (r *recorder) times() (succ, errs []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	succ, errs = slices.Clone(r.succ), slices.Clone(r.errs)
	cmp := func(a, b time.Time) int { return a.Compare(b) }
	slices.SortFunc(succ, cmp)
	slices.SortFunc(errs, cmp)
	return succ, errs
}

// tracked is a workload whose workers record their outcomes.
type tracked struct {
	workload.Workload
	rec *recorder
}

func (t *tracked) Worker(ctx context.Context, id int) (workload.Worker, error) {
	w, err := t.Workload.Worker(ctx, id)
	if err != nil {
		return nil, err
	}
	return &trackedWorker{Worker: w, rec: t.rec}, nil
}

type trackedWorker struct {
	workload.Worker
	rec *recorder
}

func (w *trackedWorker) Op(ctx context.Context, rng *rand.Rand) (string, error) {
	op, err := w.Worker.Op(ctx, rng)
	// An attempt cut off by the end of the run counts for nothing, and
	// one the runner retries (40001) is neither a success nor an error.
	if ctx.Err() == nil && !workload.IsRetry(err) {
		w.rec.record(time.Now(), err == nil)
	}
	return op, err
}
