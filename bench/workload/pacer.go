package workload

import (
	"context"
	"time"
)

// pacer spaces one worker's operations at least interval apart. It never
// bursts to catch up after a slow operation, so a worker makes at most
// 1 + t/interval operations in time t. A nil pacer does not wait.
type pacer struct {
	interval time.Duration
	next     time.Time   // the earliest start of the next operation
	timer    *time.Timer // reused between waits; nil until the first
}

// newPacer returns a pacer for rate operations per second, or nil for a
// rate of 0 (unlimited).
func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{interval: time.Duration(float64(time.Second) / rate)}
}

// wait blocks until the next operation may start and reports whether it
// may (false: ctx is done).
func (p *pacer) wait(ctx context.Context) bool {
	if p == nil {
		return ctx.Err() == nil
	}
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	if d := p.next.Sub(now); d > 0 {
		if p.timer == nil {
			p.timer = time.NewTimer(d)
		} else {
			p.timer.Reset(d)
		}
		select {
		case <-ctx.Done():
			p.timer.Stop()
			return false
		case <-p.timer.C:
		}
	}
	p.next = p.next.Add(p.interval)
	return ctx.Err() == nil
}
