package failover

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/bench/target"
	"github.com/shardingsystem/shard/bench/workload"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
)

// The faults.
const (
	RangeLeader = "range-leader"
	MetaLeader  = "meta-leader"
	// Split splits the busiest range (no node dies): what clients see of
	// a split under load, the new range's first election and its
	// discovery.
	Split = "split"
	// TransferLeader moves the busiest range's leadership to another of
	// its replicas (no node dies), as the controller does to balance
	// leaders.
	TransferLeader = "transfer-leader"
	// Merge merges the busiest range into its left-hand neighbour (no
	// node dies), as the controller does with cold ranges: the busy range
	// is the one frozen while the merge applies.
	Merge = "merge"
)

// splitSample bounds the keys read to pick a split point.
const splitSample = 1000

// Options configure a failover run.
type Options struct {
	// Run configures the workload; MaxRate should be set (a constant
	// rate), Duration is ignored: the faults decide the length.
	Run workload.Options
	// Faults are the faults in order (RangeLeader, MetaLeader, Split,
	// TransferLeader, Merge); default range-leader, meta-leader.
	Faults []string
	// Warmup is the load before the first fault and after each recovery;
	// default 10 s.
	Warmup time.Duration
	// Observe is how long a killed node stays dead (the window after a
	// split); default 10 s.
	Observe time.Duration
	// Logf gets progress lines; nil discards them.
	Logf func(format string, args ...any)
}

// Fault is one kill (or split) and what the clients saw.
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
	// SlowestOpMs is the longest an operation that ended in the
	// observation window took, success or error.
	SlowestOpMs float64 `json:"slowest_op_ms"`
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
		if !slices.Contains([]string{RangeLeader, MetaLeader, Split, TransferLeader, Merge}, f) {
			return nil, fmt.Errorf("failover: unknown fault %q (want %s, %s, %s, %s or %s)", f, RangeLeader, MetaLeader, Split, TransferLeader, Merge)
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
		if kind == Split || kind == TransferLeader || kind == Merge {
			now := func() float64 { return time.Since(start).Seconds() }
			var f Fault
			switch kind {
			case Split:
				f, ferr = split(ctx, c, now)
			case TransferLeader:
				f, ferr = transfer(ctx, c, now)
			default:
				f, ferr = merge(ctx, c, now)
			}
			if ferr != nil {
				break
			}
			logf("failover: %s r%d %s (leader %s) at %.1fs", kind, f.Range, f.Span, f.Node, f.At)
			faults = append(faults, f)
			if ferr = sleep(ctx, opts.Observe); ferr != nil {
				break
			}
			runOpts.Ramp = 0
			continue
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
	succ, errs, ops := rec.times()
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
		f.SlowestOpMs = float64(slowest(ops, from, to)) / float64(time.Millisecond)
	}
	return &Result{Faults: faults, Run: out.res}, nil
}

// loadWait bounds how long kill waits for the ranges' first load reports.
const loadWait = 10 * time.Second

// pick returns the victim of kind (see loadedRanges).
func pick(ctx context.Context, c *cluster.Cluster, kind string) (cluster.Range, error) {
	rs, err := loadedRanges(ctx, c, kind)
	if err != nil {
		return cluster.Range{}, err
	}
	return victim(rs, kind)
}

// loadedRanges returns the ranges once victim can pick one of kind (for
// all but the meta leader, some range but the meta range has reported its
// load), waiting up to loadWait; after that, as they are.
func loadedRanges(ctx context.Context, c *cluster.Cluster, kind string) ([]cluster.Range, error) {
	deadline := time.Now().Add(loadWait)
	for {
		rs, err := c.Ranges(ctx)
		if err != nil {
			return nil, fmt.Errorf("failover: %w", err)
		}
		if _, err := victim(rs, kind); errors.Is(err, errNoLoad) && time.Now().Before(deadline) {
			if err := sleep(ctx, 200*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		}
		return rs, nil
	}
}

// split splits the busiest range in the middle of its first keys (the
// range's traffic is on both sides) and returns the fault, its At set by
// now when the split returned.
func split(ctx context.Context, c *cluster.Cluster, now func() float64) (Fault, error) {
	r, err := pick(ctx, c, Split)
	if err != nil {
		return Fault{}, err
	}
	ks, err := c.Keys(ctx, r.StartKey, r.EndKey, splitSample)
	if err != nil {
		return Fault{}, fmt.Errorf("failover: keys of r%d: %w", r.ID, err)
	}
	if len(ks) < 2 {
		return Fault{}, fmt.Errorf("failover: r%d has %d keys, too few to split", r.ID, len(ks))
	}
	at := ks[len(ks)/2]
	f := Fault{Kind: Split, Range: r.ID, Span: fmt.Sprintf("[%s, %s) at %s", keys.Pretty(r.StartKey), keys.Pretty(r.EndKey), keys.Pretty(at))}
	if n := c.NodeByID(r.Leader); n != nil {
		f.Node = n.Name
	}
	// The window starts when the split was asked for: its commit is
	// somewhere in the call.
	f.At = now()
	if _, _, err := c.Split(ctx, at); err != nil {
		return Fault{}, fmt.Errorf("failover: split r%d at %s: %w", r.ID, keys.Pretty(at), err)
	}
	return f, nil
}

// transfer moves the busiest range's leadership to another of its
// replicas and returns the fault (Node is the leader before), its At set
// when the transfer was asked for.
func transfer(ctx context.Context, c *cluster.Cluster, now func() float64) (Fault, error) {
	r, err := pick(ctx, c, TransferLeader)
	if err != nil {
		return Fault{}, err
	}
	var to *cluster.Node
	for _, id := range r.Replicas {
		if n := c.NodeByID(id); id != r.Leader && n != nil && n.Running() {
			to = n
			break
		}
	}
	if to == nil {
		return Fault{}, fmt.Errorf("failover: r%d has no running replica besides its leader n%d", r.ID, r.Leader)
	}
	f := Fault{Kind: TransferLeader, Range: r.ID, Span: fmt.Sprintf("[%s, %s) to %s", keys.Pretty(r.StartKey), keys.Pretty(r.EndKey), to.Name)}
	if n := c.NodeByID(r.Leader); n != nil {
		f.Node = n.Name
	}
	f.At = now()
	if _, err := c.TransferLeader(ctx, r.ID, to); err != nil {
		return Fault{}, fmt.Errorf("failover: transfer r%d to %s: %w", r.ID, to.Name, err)
	}
	return f, nil
}

// merge merges the busiest range that can be merged into its left-hand
// neighbour (both in one database, the meta range excepted) and returns
// the fault (Range is the busy range, Node its leader), its At set when
// the merge was asked for.
func merge(ctx context.Context, c *cluster.Cluster, now func() float64) (Fault, error) {
	rs, err := loadedRanges(ctx, c, Merge)
	if err != nil {
		return Fault{}, err
	}
	byLoad := slices.Clone(rs)
	slices.SortFunc(byLoad, func(a, b cluster.Range) int { return cmp.Compare(b.QPS, a.QPS) })
	for _, r := range byLoad {
		var left *cluster.Range
		for i := range rs {
			if string(rs[i].EndKey) == string(r.StartKey) && rs[i].ID != cluster.MetaRangeID && r.ID != cluster.MetaRangeID {
				left = &rs[i]
			}
		}
		if left == nil || r.QPS <= 0 {
			continue
		}
		f := Fault{Kind: Merge, Range: r.ID, Span: fmt.Sprintf("[%s, %s) into r%d", keys.Pretty(r.StartKey), keys.Pretty(r.EndKey), left.ID)}
		if n := c.NodeByID(r.Leader); n != nil {
			f.Node = n.Name
		}
		f.At = now()
		_, err := c.Merge(ctx, left.ID)
		if status.Code(err) == codes.InvalidArgument {
			continue // another database's range, say
		}
		if err != nil {
			return Fault{}, fmt.Errorf("failover: merge r%d into r%d: %w", r.ID, left.ID, err)
		}
		return f, nil
	}
	return Fault{}, errors.New("failover: no busy range can be merged into its left-hand neighbour")
}

// kill finds the victim of kind and kills it.
func kill(ctx context.Context, c *cluster.Cluster, kind string) (Fault, *cluster.Node, error) {
	r, err := pick(ctx, c, kind)
	if err != nil {
		return Fault{}, nil, err
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

// slowest returns the longest duration of the ops that ended in [from, to).
func slowest(ops []op, from, to time.Time) time.Duration {
	var d time.Duration
	for _, o := range ops {
		if !o.end.Before(from) && o.end.Before(to) {
			d = max(d, o.took)
		}
	}
	return d
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

// recorder keeps the times of successes and errors of every worker, and
// how long each operation took.
type recorder struct {
	mu   sync.Mutex
	succ []time.Time
	errs []time.Time
	ops  []op
}

// op is one recorded operation: when it ended and how long it took.
type op struct {
	end  time.Time
	took time.Duration
}

func (r *recorder) record(start, end time.Time, ok bool) {
	r.mu.Lock()
	if ok {
		r.succ = append(r.succ, end)
	} else {
		r.errs = append(r.errs, end)
	}
	r.ops = append(r.ops, op{end: end, took: end.Sub(start)})
	r.mu.Unlock()
}

// times returns the sorted times, and the operations.
func (r *recorder) times() (succ, errs []time.Time, ops []op) {
	r.mu.Lock()
	defer r.mu.Unlock()
	succ, errs, ops = slices.Clone(r.succ), slices.Clone(r.errs), slices.Clone(r.ops)
	cmp := func(a, b time.Time) int { return a.Compare(b) }
	slices.SortFunc(succ, cmp)
	slices.SortFunc(errs, cmp)
	return succ, errs, ops
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
	start := time.Now()
	name, err := w.Worker.Op(ctx, rng)
	// An attempt cut off by the end of the run counts for nothing, and
	// one the runner retries (40001) is neither a success nor an error.
	if ctx.Err() == nil && !workload.IsRetry(err) {
		w.rec.record(start, time.Now(), err == nil)
	}
	return name, err
}
