package kv

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// fakeRange is a node's Internal service whose Batch never succeeds: it
// answers a retryable error, or, when hang is set, waits for the call's
// context to end. It records each call's deadline.
type fakeRange struct {
	serverpb.UnimplementedInternalServer
	hang  bool
	calls atomic.Int32
	mu    sync.Mutex
	last  time.Time // the latest deadline of a call
}

func startFakeRange(t *testing.T, hang bool) (*fakeRange, string) {
	f := &fakeRange{hang: hang}
	return f, serveInternal(t, f)
}

func (f *fakeRange) Batch(ctx context.Context, _ *kvpb.BatchRequest) (*kvpb.BatchResponse, error) {
	f.calls.Add(1)
	if d, ok := ctx.Deadline(); ok {
		f.mu.Lock()
		if d.After(f.last) {
			f.last = d
		}
		f.mu.Unlock()
	}
	if f.hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	return &kvpb.BatchResponse{Error: kvpb.NewUnavailable("no quorum")}, nil
}

// A Send whose context has no deadline retries until RetryTimeout, and
// none of its attempts outlives that bound, even when one attempt alone
// could (AttemptTimeout is longer here).
func TestSendRetryBound(t *testing.T) {
	for _, hang := range []bool{false, true} {
		f, addr := startFakeRange(t, hang)
		pool := NewPool()
		t.Cleanup(func() { _ = pool.Close() })
		const retry = 300 * time.Millisecond
		c := NewClient(Config{Pool: pool, Seeds: func() []string { return []string{addr} },
			RetryTimeout: retry, AttemptTimeout: time.Minute})
		get := &kvpb.Request{Value: &kvpb.Request_Get{Get: &kvpb.GetRequest{Key: keys.MetaMin}}}
		start := time.Now()
		done := make(chan error, 1)
		go func() {
			_, err := c.Send(context.Background(), keys.MetaMin, []*kvpb.Request{get})
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("hang=%v: Send = %v, want unavailable", hang, err)
			}
		case <-time.After(20 * retry): // a generous margin: the bound must hold, this is no speed test
			t.Fatalf("hang=%v: Send still running %v after it began, its bound was %v", hang, 20*retry, retry)
		}
		f.mu.Lock()
		last := f.last
		f.mu.Unlock()
		if bound := start.Add(retry); last.After(bound.Add(50 * time.Millisecond)) {
			t.Fatalf("hang=%v: an attempt's deadline was %v after the bound", hang, last.Sub(bound))
		}
		if n := f.calls.Load(); !hang && n < 2 {
			t.Fatalf("a retryable error was not retried: %d calls", n)
		}
	}
}

// TestUnavailableSaysWhy: a call that gives up because its caller's
// context ended carries that context's error (so SQL answers 57014); one
// that gives up at the kv layer's own bound does not, even though the
// bound is a deadline too.
func TestUnavailableSaysWhy(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := unavailable(ctx, context.Canceled, errors.New("waiting for a lock"))
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled caller: %v", err)
	}
	err = unavailable(context.Background(), context.DeadlineExceeded, errors.New("no leader"))
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		t.Errorf("the kv layer's own bound: %v", err)
	}
}
