package kv

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// tsoMaxBatch is the most callers one GetTimestamps call serves; the
// server accepts up to meta.MaxTSOBatch.
const tsoMaxBatch = 4096

// tsoBatcher batches a client's Now calls: at most one GetTimestamps call
// is in flight; callers that arrive meanwhile wait and are served together
// by the next call, which asks for one timestamp per waiter.
//
// The calls are made by a goroutine that the first waiter starts and that
// exits as soon as no waiter is left; each round stops retrying once every
// one of its waiters has given up (its context ended), so the goroutine
// lives no longer than its callers.
type tsoBatcher struct {
	mu struct {
		sync.Mutex
		waiters []*tsoWaiter
		running bool // a goroutine runs rounds
	}
}

// tsoWaiter is one Now call waiting for its round.
type tsoWaiter struct {
	ctx  context.Context
	n    int              // timestamps wanted
	ts   engine.Timestamp // the first of them
	err  error
	done chan struct{} // closed once ts or err is set
}

// Now returns a timestamp from the cluster's timestamp oracle, on the meta
// range's leader: above every timestamp the oracle handed out before the
// call (to anyone, on any node), so timestamps only grow across calls, even
// across meta leader changes. Concurrent calls share one round trip. It
// retries (following not-leader hints, then every known node) until ctx
// ends, or RetryTimeout if ctx has no deadline; it then fails with an error
// matching ErrUnavailable. Safe for concurrent use.
func (c *Client) Now(ctx context.Context) (engine.Timestamp, error) { return c.NowN(ctx, 1) }

// NowN is Now for n timestamps at once: it returns the first of n
// consecutive timestamps, all handed out to this caller alone.
func (c *Client) NowN(ctx context.Context, n int) (engine.Timestamp, error) {
	if n < 1 || n > tsoMaxBatch {
		return 0, fmt.Errorf("kv: %d timestamps asked for, want 1 to %d", n, tsoMaxBatch)
	}
	caller := ctx
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.RetryTimeout)
		defer cancel()
	}
	w := &tsoWaiter{ctx: ctx, n: n, done: make(chan struct{})}
	b := &c.tso
	b.mu.Lock()
	b.mu.waiters = append(b.mu.waiters, w)
	start := !b.mu.running
	b.mu.running = true
	b.mu.Unlock()
	if start {
		go c.runTSORounds()
	}
	select {
	case <-w.done:
		return w.ts, w.err
	case <-ctx.Done():
		return 0, unavailable(caller, ctx.Err(), errors.New("no timestamp yet"))
	}
}

// runTSORounds runs rounds until no waiter is left.
func (c *Client) runTSORounds() {
	for {
		batch := c.tso.take()
		if batch == nil {
			return
		}
		c.tsoRound(batch)
	}
}

// take removes waiters that still wait, in arrival order, up to
// tsoMaxBatch timestamps in all; with none left it marks the goroutine
// stopped and returns nil.
func (b *tsoBatcher) take() []*tsoWaiter {
	b.mu.Lock()
	defer b.mu.Unlock()
	var batch []*tsoWaiter
	k, n := 0, 0
	for ; k < len(b.mu.waiters) && n+b.mu.waiters[k].n <= tsoMaxBatch; k++ {
		if w := b.mu.waiters[k]; w.ctx.Err() == nil {
			batch = append(batch, w)
			n += w.n
		}
	}
	b.mu.waiters = b.mu.waiters[k:]
	if len(b.mu.waiters) == 0 {
		b.mu.waiters = nil
	}
	if len(batch) == 0 {
		b.mu.running = false
	}
	return batch
}

// tsoRound gets the waiters' timestamps with one GetTimestamps call,
// retried until it succeeds or every waiter has given up; the waiters get
// the block in arrival order.
func (c *Client) tsoRound(batch []*tsoWaiter) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var left atomic.Int64
	left.Store(int64(len(batch)))
	for _, w := range batch {
		stop := context.AfterFunc(w.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}
	n := 0
	for _, w := range batch {
		n += w.n
	}
	first, err := c.getTimestamps(ctx, n)
	for _, w := range batch {
		if err == nil {
			w.ts = first
			first += engine.Timestamp(w.n)
		}
		w.err = err
		close(w.done)
	}
}

// getTimestamps asks the meta leader for n timestamps until it answers or
// ctx ends.
func (c *Client) getTimestamps(ctx context.Context, n int) (engine.Timestamp, error) {
	var lastErr error
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			if err := backoff(ctx, time.Time{}, attempt); err != nil {
				return 0, fmt.Errorf("%w: timestamps: %v (last error: %v)", ErrUnavailable, err, lastErr)
			}
		}
		start := time.Now()
		first, err := c.getTimestampsOnce(ctx, n)
		if err == nil {
			if obs := c.cfg.ObserveTSO; obs != nil {
				obs(time.Since(start))
			}
			return first, nil
		}
		lastErr = err
		var kerr *kvpb.Error
		if errors.As(err, &kerr) && !kerr.Retryable() {
			return 0, err
		}
	}
}

// getTimestampsOnce tries the candidates of the meta range (cached leader,
// seeds, known nodes), following NotLeader hints (see tryLeader).
func (c *Client) getTimestampsOnce(ctx context.Context, n int) (engine.Timestamp, error) {
	var first engine.Timestamp
	err := c.tryLeader(ctx, metaDesc, func(addr string) error {
		var err error
		first, err = c.getTimestampsFrom(ctx, addr, n)
		return err
	})
	return first, err
}

func (c *Client) getTimestampsFrom(ctx context.Context, addr string, n int) (engine.Timestamp, error) {
	cl, err := c.cfg.Pool.Internal(addr)
	if err != nil {
		return 0, err
	}
	actx, cancel := context.WithTimeout(ctx, c.cfg.AttemptTimeout)
	defer cancel()
	resp, err := cl.GetTimestamps(actx, &serverpb.GetTimestampsRequest{Count: uint64(n)})
	if err != nil {
		if s, ok := status.FromError(err); ok && s.Code() == codes.Unavailable {
			return 0, kvpb.NewUnavailable("%s: %s", addr, s.Message())
		}
		return 0, err
	}
	if resp.Error != nil {
		return 0, resp.Error
	}
	if resp.Count != uint64(n) || resp.First == 0 {
		return 0, fmt.Errorf("kv: %s answered %d timestamps from %d to a request for %d", addr, resp.Count, resp.First, n)
	}
	return engine.Timestamp(resp.First), nil
}
