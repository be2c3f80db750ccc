package kv

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// fakeOracle is a node's Internal service that only answers GetTimestamps:
// with consecutive blocks, or with answer's error when answer is set.
// Each call first waits for a token from gate, if gate is set.
type fakeOracle struct {
	serverpb.UnimplementedInternalServer
	addr   string
	gate   chan struct{}
	answer func() *kvpb.Error

	inflight, maxInflight atomic.Int32
	mu                    struct {
		sync.Mutex
		next   uint64
		counts []uint64
	}
}

func startFakeOracle(t *testing.T) *fakeOracle {
	f := &fakeOracle{}
	f.mu.next = 1000
	f.addr = serveInternal(t, f)
	return f
}

// serveInternal serves is as a node's Internal service on a loopback port
// until the test ends, and returns the port's address.
func serveInternal(t *testing.T, is serverpb.InternalServer) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	serverpb.RegisterInternalServer(srv, is)
	var wg sync.WaitGroup
	wg.Go(func() { _ = srv.Serve(lis) })
	t.Cleanup(func() {
		srv.Stop()
		wg.Wait()
	})
	return lis.Addr().String()
}

func (f *fakeOracle) GetTimestamps(ctx context.Context, req *serverpb.GetTimestampsRequest) (*serverpb.GetTimestampsResponse, error) {
	n := f.inflight.Add(1)
	defer f.inflight.Add(-1)
	for {
		m := f.maxInflight.Load()
		if n <= m || f.maxInflight.CompareAndSwap(m, n) {
			break
		}
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mu.counts = append(f.mu.counts, req.Count)
	if f.answer != nil {
		if err := f.answer(); err != nil {
			return &serverpb.GetTimestampsResponse{Error: err}, nil
		}
	}
	first := f.mu.next
	f.mu.next += req.Count
	return &serverpb.GetTimestampsResponse{First: first, Count: req.Count}, nil
}

func (f *fakeOracle) counts() []uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]uint64(nil), f.mu.counts...)
}

func newTestClient(t *testing.T, seeds ...string) *Client {
	t.Helper()
	pool := NewPool()
	t.Cleanup(func() { _ = pool.Close() })
	return NewClient(Config{Pool: pool, Seeds: func() []string { return seeds }, RetryTimeout: 2 * time.Second})
}

// verifyNoLeaks checks, after the test's other cleanups (servers and
// connections closed), that it left no goroutine behind.
func verifyNoLeaks(t *testing.T) {
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
}

// waitUntil polls cond every millisecond for up to 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func (b *tsoBatcher) waiting() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.mu.waiters)
}

// TestNowBatches: while one GetTimestamps call is in flight, later callers
// wait and are served together by the next call.
func TestNowBatches(t *testing.T) {
	verifyNoLeaks(t)
	f := startFakeOracle(t)
	f.gate = make(chan struct{})
	c := newTestClient(t, f.addr)

	const late = 9
	results := make(chan engine.Timestamp, 1+late)
	var wg sync.WaitGroup
	now := func() {
		ts, err := c.Now(context.Background())
		if err != nil {
			t.Error(err)
		}
		results <- ts
	}
	wg.Go(now)
	waitUntil(t, "the first call to reach the oracle", func() bool { return f.inflight.Load() == 1 })
	for range late {
		wg.Go(now)
	}
	waitUntil(t, "the late callers to queue", func() bool { return c.tso.waiting() == late })
	f.gate <- struct{}{}
	first := <-results
	if first != 1000 {
		t.Fatalf("first caller got %v, want 1000", first)
	}
	f.gate <- struct{}{}
	wg.Wait()
	close(results)
	seen := map[engine.Timestamp]bool{first: true}
	for ts := range results {
		if ts <= first || ts > first+late || seen[ts] {
			t.Fatalf("late caller got %v (seen before: %v)", ts, seen[ts])
		}
		seen[ts] = true
	}
	if got := f.counts(); len(got) != 2 || got[0] != 1 || got[1] != late {
		t.Fatalf("GetTimestamps counts %v, want [1 %d]", got, late)
	}
	if m := f.maxInflight.Load(); m != 1 {
		t.Fatalf("%d GetTimestamps calls in flight at once, want 1", m)
	}
	// The goroutine that retried for them is gone (goleak checks it too).
	waitUntil(t, "the round goroutine to stop", func() bool {
		c.tso.mu.Lock()
		defer c.tso.mu.Unlock()
		return !c.tso.mu.running
	})
}

// TestNowConcurrent: many callers, one call in flight at a time, every
// timestamp unique and each caller's increasing; half the callers take
// two at a time (NowN), which are theirs alone.
func TestNowConcurrent(t *testing.T) {
	f := startFakeOracle(t)
	c := newTestClient(t, f.addr)
	const callers, calls = 32, 200
	var mu sync.Mutex
	seen := map[engine.Timestamp]bool{}
	var wg sync.WaitGroup
	for i := range callers {
		n := 1 + i%2
		wg.Go(func() {
			var last engine.Timestamp
			for range calls {
				ts, err := c.NowN(context.Background(), n)
				if err != nil {
					t.Error(err)
					return
				}
				if ts <= last {
					t.Errorf("got %v after %v", ts, last)
				}
				last = ts + engine.Timestamp(n-1)
				mu.Lock()
				for k := range n {
					if seen[ts+engine.Timestamp(k)] {
						t.Errorf("%v handed out twice", ts+engine.Timestamp(k))
					}
					seen[ts+engine.Timestamp(k)] = true
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if m := f.maxInflight.Load(); m != 1 {
		t.Fatalf("%d GetTimestamps calls in flight at once, want 1", m)
	}
	if n := len(f.counts()); n >= callers*calls {
		t.Fatalf("%d calls for %d timestamps: no batching", n, callers*calls)
	}
}

// TestNowFollowsNotLeader: a node that does not lead the meta range names
// the leader; the client goes there and remembers it.
func TestNowFollowsNotLeader(t *testing.T) {
	leader, follower := startFakeOracle(t), startFakeOracle(t)
	follower.answer = func() *kvpb.Error { return kvpb.NewNotLeader(2, leader.addr) }
	c := newTestClient(t, follower.addr)
	for i := range 3 {
		ts, err := c.Now(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if want := engine.Timestamp(1000 + i); ts != want {
			t.Fatalf("call %d got %v, want %v", i, ts, want)
		}
	}
	if n := len(follower.counts()); n != 1 {
		t.Fatalf("the follower was asked %d times, want once (the leader is cached)", n)
	}
	// The leader loses leadership to no one known: the client goes back to
	// the seeds.
	leader.answer = func() *kvpb.Error { return kvpb.NewNotLeader(0, "") }
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if _, err := c.Now(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("no leader anywhere: %v, want unavailable", err)
	}
	if n := len(follower.counts()); n < 2 {
		t.Fatalf("the seed was not asked again (%d calls)", n)
	}
}

// TestNowGivesUp: with no oracle answering, Now fails when its context
// ends, and the round stops retrying once its callers are gone.
func TestNowGivesUp(t *testing.T) {
	verifyNoLeaks(t)
	f := startFakeOracle(t)
	f.answer = func() *kvpb.Error { return kvpb.NewUnavailable("no quorum") }
	c := newTestClient(t, f.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := c.Now(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Now = %v, want unavailable", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Now returned %v after its context ended", d)
	}
	// Without a deadline of its own, RetryTimeout (2 s here) bounds it.
	if _, err := c.Now(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Now = %v, want unavailable", err)
	}
	// The goroutine that retried for them is gone (goleak checks it too).
	waitUntil(t, "the round goroutine to stop", func() bool {
		c.tso.mu.Lock()
		defer c.tso.mu.Unlock()
		return !c.tso.mu.running
	})
}

// TestNowResult: a result (an invalid request) comes back at once.
func TestNowResult(t *testing.T) {
	f := startFakeOracle(t)
	f.answer = func() *kvpb.Error { return kvpb.NewInvalid("no") }
	c := newTestClient(t, f.addr)
	_, err := c.Now(context.Background())
	var kerr *kvpb.Error
	if !errors.As(err, &kerr) || kerr.GetInvalid() == nil {
		t.Fatalf("Now = %v, want the invalid request error", err)
	}
	if n := len(f.counts()); n != 1 {
		t.Fatalf("a result was retried: %d calls", n)
	}
}
