package server_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/internal/testcluster"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/meta"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/server"
	"github.com/shardingsystem/shard/serverpb"
)

// tsoOp is one Now call of a history: when it was invoked and when it
// returned (monotonic clock), and the timestamp it got.
type tsoOp struct {
	invoke, respond time.Time
	ts              engine.Timestamp
}

// checkTSOHistory checks a history of Now calls against the oracle's
// contract: timestamps are unique, and a call invoked after another
// returned gets a greater timestamp (so each caller's sequence is strictly
// increasing, and nothing handed out after a leader change is at or below
// anything handed out before it).
func checkTSOHistory(t *testing.T, ops []tsoOp) {
	t.Helper()
	seen := make(map[engine.Timestamp]bool, len(ops))
	for _, op := range ops {
		if op.ts == 0 {
			t.Fatal("a call returned the zero timestamp")
		}
		if seen[op.ts] {
			t.Fatalf("timestamp %v handed out twice", op.ts)
		}
		seen[op.ts] = true
	}
	// byRespond[i] returned before byRespond[i+1]; maxTS[i] is the largest
	// timestamp among byRespond[:i+1].
	byRespond := slices.Clone(ops)
	sort.Slice(byRespond, func(i, j int) bool { return byRespond[i].respond.Before(byRespond[j].respond) })
	maxTS := make([]engine.Timestamp, len(byRespond))
	for i, op := range byRespond {
		maxTS[i] = op.ts
		if i > 0 {
			maxTS[i] = max(maxTS[i], maxTS[i-1])
		}
	}
	for _, op := range ops {
		// The calls that returned before op was invoked.
		k := sort.Search(len(byRespond), func(i int) bool { return !byRespond[i].respond.Before(op.invoke) })
		if k > 0 && maxTS[k-1] >= op.ts {
			t.Fatalf("a call invoked at %v got %v, not above %v returned before it", op.invoke.Format("15:04:05.000000"), op.ts, maxTS[k-1])
		}
	}
}

// runTSOCallers runs callers goroutines, each calling Now on client(g)
// calls times (or until stop is closed, if calls is 0), and returns every
// call's record, and each goroutine's in order. It may run on any
// goroutine.
func runTSOCallers(callers, calls int, client func(g int) *kv.Client, stop <-chan struct{}) (all []tsoOp, per [][]tsoOp, err error) {
	per = make([][]tsoOp, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for g := range callers {
		cl := client(g)
		wg.Go(func() {
			for i := 0; calls == 0 || i < calls; i++ {
				if stop != nil {
					select {
					case <-stop:
						return
					default:
					}
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				invoke := time.Now()
				ts, err := cl.Now(ctx)
				respond := time.Now()
				cancel()
				if err != nil {
					errs <- fmt.Errorf("caller %d, call %d: %w", g, i, err)
					return
				}
				per[g] = append(per[g], tsoOp{invoke: invoke, respond: respond, ts: ts})
			}
		})
	}
	wg.Wait()
	close(errs)
	for _, p := range per {
		all = append(all, p...)
	}
	return all, per, <-errs
}

func TestTSOUniqueAndIncreasing(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	start := time.Now()
	const callers, calls = 16, 500
	all, per, err := runTSOCallers(callers, calls, func(g int) *kv.Client { return c.Client(1 + g%3) }, nil)
	if err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	if len(all) != callers*calls {
		t.Fatalf("%d calls recorded, want %d", len(all), callers*calls)
	}
	for g, ops := range per {
		for i := 1; i < len(ops); i++ {
			if ops[i].ts <= ops[i-1].ts {
				t.Fatalf("caller %d: call %d got %v after %v", g, i, ops[i].ts, ops[i-1].ts)
			}
		}
	}
	checkTSOHistory(t, all)
	// The physical part is the wall clock's (one node's clock; the window
	// reaches 3 s ahead at most).
	for _, op := range all {
		if p := time.UnixMilli(op.ts.Physical()); p.Before(start.Add(-time.Second)) || p.After(time.Now().Add(meta.DefaultTSOWindow)) {
			t.Fatalf("timestamp %v is %v, far from the clock", op.ts, p)
		}
	}
	// The counters of every node: the controller may move the meta
	// range's leadership while the callers run, and then two nodes serve.
	var m server.TSOMetrics
	for i := 1; i <= c.N(); i++ {
		n := c.Server(i).TSOMetrics()
		m.Requests += n.Requests
		m.Timestamps += n.Timestamps
		m.Batches += n.Batches
	}
	t.Logf("%d timestamps in %v (%.0f/s); oracle counters of all nodes: %+v", len(all), elapsed.Round(time.Millisecond),
		float64(len(all))/elapsed.Seconds(), m)
	if m.Timestamps < uint64(len(all)) {
		t.Fatalf("the oracle handed out %d timestamps, fewer than the %d calls", m.Timestamps, len(all))
	}
	// The clients batch their callers: 16 callers share 3 clients. How
	// many requests the oracle's node serves together depends on the
	// machine's timing (a loaded one served every request alone once);
	// TestTSOTakeBatchesQueued checks that it does.
	if m.Requests >= m.Timestamps {
		t.Fatalf("no batching: %d requests for %d timestamps", m.Requests, m.Timestamps)
	}
}

// TestTSONotLeader: only the meta leader hands out timestamps; the other
// nodes name it.
func TestTSONotLeader(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	leader := c.LeaderOf(meta.MetaRangeID)
	pool := kv.NewPool(c.DialOptions()...)
	defer func() { _ = pool.Close() }()
	call := func(i int, count uint64) *serverpb.GetTimestampsResponse {
		t.Helper()
		cl, err := pool.Internal(c.Addr(i))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := cl.GetTimestamps(ctx, &serverpb.GetTimestampsRequest{Count: count})
		if err != nil {
			t.Fatalf("n%d: %v", i, err)
		}
		return resp
	}
	var last uint64
	for i := 1; i <= c.N(); i++ {
		resp := call(i, 10)
		if i == leader {
			if resp.Error != nil || resp.Count != 10 || resp.First <= last {
				t.Fatalf("leader n%d answered %v", i, resp)
			}
			last = resp.First + 9
			continue
		}
		nl := resp.GetError().GetNotLeader()
		if nl == nil || nl.LeaderNodeId != uint64(leader) || nl.LeaderAddr != c.Addr(leader) {
			t.Fatalf("n%d answered %v, want not leader naming n%d at %s", i, resp, leader, c.Addr(leader))
		}
	}
	for _, bad := range []uint64{0, meta.MaxTSOBatch + 1} {
		if resp := call(leader, bad); resp.GetError().GetInvalid() == nil {
			t.Fatalf("count %d: %v, want an invalid request", bad, resp)
		}
	}
}

// TestTSOMetaLeaderKill: callers run while the meta leader is killed;
// every call that starts after the kill gets a timestamp above every one
// obtained before it, and the whole history keeps the oracle's contract.
func TestTSOMetaLeaderKill(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	cl := c.NewClient()
	old := c.LeaderOf(meta.MetaRangeID)

	stop := make(chan struct{})
	type result struct {
		all []tsoOp
		err error
	}
	done := make(chan result, 1)
	go func() {
		all, _, err := runTSOCallers(8, 0, func(int) *kv.Client { return cl }, stop)
		done <- result{all, err}
	}()
	// Let the callers run, kill the leader, let them run on.
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for range 200 {
		if _, err := cl.Now(ctx); err != nil {
			t.Fatal(err)
		}
	}
	c.Stop(old)
	killed := time.Now()
	var after []engine.Timestamp
	for range 200 {
		ts, err := cl.Now(ctx)
		if err != nil {
			t.Fatalf("after killing n%d: %v", old, err)
		}
		after = append(after, ts)
	}
	close(stop)
	res := <-done
	if res.err != nil {
		t.Fatal(res.err)
	}
	all := res.all

	newLeader := c.LeaderOf(meta.MetaRangeID)
	if newLeader == old {
		t.Fatalf("n%d still leads the meta range after it was killed", old)
	}
	var maxBefore engine.Timestamp
	nBefore, nAfter := 0, 0
	for _, op := range all {
		switch {
		case op.respond.Before(killed):
			maxBefore = max(maxBefore, op.ts)
			nBefore++
		case op.invoke.After(killed):
			nAfter++
		}
	}
	if nBefore == 0 || nAfter == 0 {
		t.Fatalf("%d calls returned before the kill and %d started after it; want some of each", nBefore, nAfter)
	}
	for _, op := range all {
		if op.invoke.After(killed) && op.ts <= maxBefore {
			t.Fatalf("after the kill: %v, not above %v from before it", op.ts, maxBefore)
		}
	}
	for _, ts := range after {
		if ts <= maxBefore {
			t.Fatalf("after the kill: %v, not above %v from before it", ts, maxBefore)
		}
	}
	checkTSOHistory(t, all)
	m := c.Server(newLeader).TSOMetrics()
	t.Logf("meta leader n%d killed; n%d took over: %d calls before, %d after; %+v", old, newLeader, nBefore, nAfter, m)
	if m.Loads == 0 || m.Timestamps == 0 {
		t.Fatalf("the new meta leader n%d never served: %+v", newLeader, m)
	}
}

// TestTSOPartitionedLeader: the meta leader is cut off from the other
// nodes' raft traffic while clients keep calling it directly and through a
// client that follows the leader. The cut-off leader stops handing out
// timestamps (its leadership checks fail), a new leader takes over, and the
// whole history keeps the oracle's contract: no call gets a timestamp at or
// below one returned before it started.
func TestTSOPartitionedLeader(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	cl := c.NewClient()
	old := c.LeaderOf(meta.MetaRangeID)
	pool := kv.NewPool(c.DialOptions()...)
	defer func() { _ = pool.Close() }()
	direct, err := pool.Internal(c.Addr(old))
	if err != nil {
		t.Fatal(err)
	}

	var mu sync.Mutex
	var ops []tsoOp
	var fromOld, fromOldAfterCut int
	var cut time.Time // zero until the partition
	record := func(op tsoOp, viaOld bool) {
		mu.Lock()
		defer mu.Unlock()
		ops = append(ops, op)
		if viaOld {
			fromOld++
			if !cut.IsZero() && op.invoke.After(cut) {
				fromOldAfterCut++
			}
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 4 { // callers pinned to the old leader
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				invoke := time.Now()
				resp, err := direct.GetTimestamps(ctx, &serverpb.GetTimestampsRequest{Count: 1})
				respond := time.Now()
				cancel()
				if err == nil && resp.Error == nil {
					record(tsoOp{invoke: invoke, respond: respond, ts: engine.Timestamp(resp.First)}, true)
				}
			}
		})
	}
	for range 4 { // callers that follow the leader
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				invoke := time.Now()
				ts, err := cl.Now(ctx)
				respond := time.Now()
				cancel()
				if err != nil {
					errs <- err
					return
				}
				record(tsoOp{invoke: invoke, respond: respond, ts: ts}, false)
			}
		})
	}
	count := func() (all, viaOld int) {
		mu.Lock()
		defer mu.Unlock()
		return len(ops), fromOld
	}
	testcluster.WaitFor(t, 10*time.Second, "calls to the meta leader", func() (bool, string) {
		n, viaOld := count()
		return viaOld >= 100 && n >= 200, fmt.Sprintf("%d calls, %d to the leader directly", n, viaOld)
	})
	mu.Lock()
	cut = time.Now()
	mu.Unlock()
	c.Isolate(old, true)
	testcluster.WaitFor(t, 10*time.Second, "a new meta leader", func() (bool, string) {
		l := c.LeaderOf(meta.MetaRangeID)
		return l != old, fmt.Sprintf("n%d leads", l)
	})
	n0, _ := count()
	testcluster.WaitFor(t, 10*time.Second, "calls served by the new leader", func() (bool, string) {
		n, _ := count()
		return n >= n0+300, fmt.Sprintf("%d calls since the new leader was elected", n-n0)
	})
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	c.Isolate(old, false)
	checkTSOHistory(t, ops)
	t.Logf("%d calls; %d served by the old leader n%d directly, %d of them started after the cut", len(ops), fromOld, old, fromOldAfterCut)
}

// TestTSOStartsAboveStoredWindow: a meta leader that takes over starts
// above the stored window bound, however far ahead of its clock it is (as
// if the previous leader's clock ran an hour ahead).
func TestTSOStartsAboveStoredWindow(t *testing.T) {
	c := testcluster.Start(t, testcluster.Options{})
	c.WaitReplicated()
	cl := c.NewClient()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cl.Now(ctx); err != nil {
		t.Fatal(err)
	}
	bound := engine.MakeTimestamp(time.Now().Add(time.Hour).UnixMilli(), 0)
	if err := cl.Put(ctx, meta.TSOWindowKey(), meta.EncodeTSOWindow(bound)); err != nil {
		t.Fatal(err)
	}
	old := c.LeaderOf(meta.MetaRangeID)
	c.Stop(old)
	var last engine.Timestamp
	for range 100 {
		ts, err := cl.Now(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ts <= bound || ts <= last {
			t.Fatalf("after the meta leader n%d was killed: %v, want above the stored window %v and the last %v", old, ts, bound, last)
		}
		last = ts
	}
	// The window keeps following: it is now stored above what was handed
	// out.
	v, found, err := cl.Get(ctx, meta.TSOWindowKey())
	if err != nil {
		t.Fatal(err)
	}
	if w, err := meta.DecodeTSOWindow(v, found); err != nil || w < last {
		t.Fatalf("stored window %v (%v), below the last timestamp handed out %v", w, err, last)
	}
}

// BenchmarkTSO measures Now on a 3-node in-process cluster with the
// production raft timing, from one client of no node, with 1, 8 and 64
// concurrent callers (with 8, ns/op times 8 is about one call's latency).
// Besides ns/op it reports timestamps/s, and from the meta leader's
// counters the callers served per GetTimestamps call (client batching)
// and the calls per leadership check (server batching).
func BenchmarkTSO(b *testing.B) {
	c := testcluster.Start(b, testcluster.Options{
		Timing:            replication.DefaultTiming(),
		ReplicateInterval: server.DefaultConfig().ReplicateInterval,
	})
	c.WaitReplicated()
	cl := c.NewClient()
	if _, err := cl.Now(context.Background()); err != nil { // finds the leader
		b.Fatal(err)
	}
	leader := c.Server(c.LeaderOf(meta.MetaRangeID))
	for _, callers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("callers=%d", callers), func(b *testing.B) {
			procs := runtime.GOMAXPROCS(0)
			b.SetParallelism((callers + procs - 1) / procs)
			ctx := context.Background()
			before := leader.TSOMetrics()
			start := time.Now()
			b.ResetTimer()
			if callers == 1 {
				for b.Loop() {
					if _, err := cl.Now(ctx); err != nil {
						b.Fatal(err)
					}
				}
			} else {
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := cl.Now(ctx); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			b.StopTimer()
			elapsed := time.Since(start).Seconds()
			m := leader.TSOMetrics()
			reqs, batches := m.Requests-before.Requests, m.Batches-before.Batches
			b.ReportMetric(float64(b.N)/elapsed, "timestamps/s")
			if reqs > 0 && batches > 0 {
				b.ReportMetric(float64(m.Timestamps-before.Timestamps)/float64(reqs), "ts/rpc")
				b.ReportMetric(float64(reqs)/float64(batches), "rpcs/batch")
			}
		})
	}
}
