package lazyctx

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// made reports whether c has made its real context (and so a timer).
func made(c context.Context) bool {
	l := c.(*ctx)
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.real != nil
}

func isDone(c context.Context) bool {
	select {
	case <-c.Done():
		return true
	default:
		return false
	}
}

func TestErrWithoutTimer(t *testing.T) {
	c, release := WithDeadline(context.Background(), time.Now().Add(30*time.Millisecond))
	defer release()
	if err := c.Err(); err != nil {
		t.Fatalf("Err before the deadline: %v", err)
	}
	if d, ok := c.Deadline(); !ok || d.IsZero() {
		t.Fatalf("Deadline = %v, %v", d, ok)
	}
	time.Sleep(40 * time.Millisecond)
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err after the deadline: %v", err)
	}
	if made(c) {
		t.Fatal("Err made a timer")
	}
	if !isDone(c) {
		t.Fatal("Done is open after Err reported the deadline")
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err changed after Done: %v", err)
	}
}

func TestDoneClosesAtDeadline(t *testing.T) {
	c, release := WithDeadline(context.Background(), time.Now().Add(20*time.Millisecond))
	defer release()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close at the deadline")
	}
	if err := c.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Err = %v", err)
	}
}

func TestParentCancel(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	c, release := WithDeadline(parent, time.Now().Add(time.Hour))
	defer release()
	cancel()
	if err := c.Err(); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err after the parent's cancel: %v", err)
	}
	if !isDone(c) {
		t.Fatal("Done is open after the parent's cancel")
	}

	// The same when Done was made first.
	parent, cancel = context.WithCancel(context.Background())
	c2, release2 := WithDeadline(parent, time.Now().Add(time.Hour))
	defer release2()
	done := c2.Done()
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not close when the parent was cancelled")
	}
}

func TestRelease(t *testing.T) {
	for _, wait := range []bool{false, true} {
		c, release := WithDeadline(context.Background(), time.Now().Add(time.Hour))
		if wait {
			_ = c.Done()
		}
		release()
		if err := c.Err(); !errors.Is(err, context.Canceled) {
			t.Fatalf("wait %v: Err after release: %v", wait, err)
		}
		if !isDone(c) {
			t.Fatalf("wait %v: Done open after release", wait)
		}
	}
}

func TestValueAndParentDeadline(t *testing.T) {
	type key struct{}
	parent := context.WithValue(context.Background(), key{}, "v")
	c, release := WithDeadline(parent, time.Now().Add(time.Hour))
	defer release()
	if c.Value(key{}) != "v" {
		t.Fatal("the parent's value is lost")
	}
	_ = c.Done()
	if c.Value(key{}) != "v" {
		t.Fatal("the parent's value is lost once Done was made")
	}

	early, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c3, release3 := WithDeadline(early, time.Now().Add(time.Hour))
	defer release3()
	if c3 != early {
		t.Fatal("a later deadline than the parent's made a new context")
	}
}

// TestDerivedContext: a context derived with WithCancel ends at the
// deadline, and deriving it starts no goroutine to watch the parent.
func TestDerivedContext(t *testing.T) {
	c, release := WithDeadline(context.Background(), time.Now().Add(50*time.Millisecond))
	defer release()
	before := runtime.NumGoroutine()
	var children []context.CancelFunc
	for range 100 {
		_, cancel := context.WithCancel(c)
		children = append(children, cancel)
	}
	if n := runtime.NumGoroutine(); n > before+10 {
		t.Errorf("deriving 100 contexts started %d goroutines", n-before)
	}
	child, cancel := context.WithCancel(c)
	defer cancel()
	select {
	case <-child.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the derived context did not end at the deadline")
	}
	if err := child.Err(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("derived Err = %v", err)
	}
	for _, f := range children {
		f()
	}
}
