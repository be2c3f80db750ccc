package lazyctx

import (
	"context"
	"sync"
	"time"
)

// ctx is a context bounded by deadline whose timer is made on demand.
type ctx struct {
	parent   context.Context
	deadline time.Time

	mu     sync.Mutex
	real   context.Context    // context.WithDeadline's, made by Done; nil before
	cancel context.CancelFunc // real's
	err    error              // the first error Err returned
}

// WithDeadline returns parent bounded by deadline, and the function that
// releases it. See the package comment for how it differs from
// context.WithDeadline.
func WithDeadline(parent context.Context, deadline time.Time) (context.Context, func()) {
	if d, ok := parent.Deadline(); ok && !d.After(deadline) {
		return parent, func() {} // the parent already ends first
	}
	c := &ctx{parent: parent, deadline: deadline}
	return c, c.release
}

func (c *ctx) Deadline() (time.Time, bool) { return c.deadline, true }

// Value looks in the real context once it is made, so that a context
// derived from this one finds the real one's cancelation to attach to (no
// goroutine to watch it).
func (c *ctx) Value(key any) any {
	c.mu.Lock()
	real := c.real
	c.mu.Unlock()
	if real != nil {
		return real.Value(key)
	}
	return c.parent.Value(key)
}

// Done makes the real context, if it is not made yet, and returns its
// channel.
func (c *ctx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.realLocked().Done()
}

func (c *ctx) realLocked() context.Context {
	if c.real == nil {
		c.real, c.cancel = context.WithDeadline(c.parent, c.deadline)
		if c.err != nil {
			// Err has already answered: the real context must be done
			// too, and with that error.
			c.cancel()
		}
	}
	return c.real
}

func (c *ctx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.errLocked()
}

func (c *ctx) errLocked() error {
	if c.err == nil {
		switch {
		case c.real != nil:
			c.err = c.real.Err()
		case c.parent.Err() != nil:
			c.err = c.parent.Err()
		case !time.Now().Before(c.deadline):
			c.err = context.DeadlineExceeded
		}
	}
	return c.err
}

// release ends the context as a CancelFunc does: Err is Canceled after it,
// unless the context had already ended.
func (c *ctx) release() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.errLocked() == nil && c.real == nil {
		c.err = context.Canceled
	}
	if c.cancel != nil {
		c.cancel()
	}
}

func (c *ctx) String() string { return "lazyctx.WithDeadline(" + c.deadline.String() + ")" }
