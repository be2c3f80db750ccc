package proctest

import (
	"fmt"
	"testing"
	"time"
)

// pollInterval is how often Poll re-evaluates a condition.
const pollInterval = 100 * time.Millisecond

// Poll calls cond until it returns nil or timeout passes, waiting
// pollInterval between calls; it returns nil or the last error of cond
// wrapped with the time spent. cond runs at least once.
func Poll(timeout time.Duration, cond func() error) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	start := time.Now()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still failing after %v: %w", time.Since(start).Round(time.Millisecond), err)
		}
		<-tick.C
	}
}

// WaitFor is Poll that fails the test (naming what it waited for) when cond
// does not hold in time. Call it only from the test's goroutine.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	if err := Poll(timeout, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
