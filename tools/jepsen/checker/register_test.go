package checker

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shardingsystem/shard/tools/jepsen/history"
)

func TestRegisterValid(t *testing.T) {
	var b builder
	b.run(0, history.OK, read(1, nil)) // no row yet
	b.run(0, history.OK, write(1, 1))
	b.run(1, history.OK, read(1, history.Int(1)))
	b.run(0, history.OK, cas(1, 1, 2))
	// Concurrent: a write of 3 and a read that sees either 2 or 3.
	b.invoke(0, write(1, 3))
	b.invoke(1, read(1, nil))
	b.ok(1, read(1, history.Int(2)))
	b.ok(0, write(1, 3))
	b.run(1, history.OK, read(1, history.Int(3)))
	// A cas that found no match, and one that failed for another reason.
	b.invoke(0, cas(1, 9, 4))
	b.fail(0, cas(1, 9, 4), history.NoMatch)
	b.invoke(0, cas(1, 3, 5))
	b.fail(0, cas(1, 3, 5), "40001: could not serialize access")
	b.run(1, history.OK, read(1, history.Int(3)))
	// Another key, independent.
	b.run(2, history.OK, write(2, 7))
	b.run(2, history.OK, read(2, history.Int(7)))
	checkValid(t, b.h)
	r := Register{}.Check(b.h)
	mustValid(t, r)
	if r.Counts != (Counts{OK: 10, Fail: 2}) || r.Stats["keys"] != 2 {
		t.Fatalf("counts %+v, stats %v", r.Counts, r.Stats)
	}
}

// A read that returns a value overwritten before it began.
func TestRegisterStaleRead(t *testing.T) {
	var b builder
	b.run(0, history.OK, write(1, 1))
	b.run(0, history.OK, write(2, 1)) // a healthy key next to it
	b.run(0, history.OK, write(1, 2))
	b.run(1, history.OK, read(1, history.Int(1)))
	b.run(1, history.OK, read(2, history.Int(1)))
	checkValid(t, b.h)
	r := Register{}.Check(b.h)
	a := mustFind(t, r, KindNonlinearizable)
	if !slices.Equal(a.Keys, []int64{1}) || r.Stats[string(KindNonlinearizable)] != 1 {
		t.Fatalf("keys %v, stats %v", a.Keys, r.Stats)
	}
	if !strings.Contains(a.Explanation, "op 7 (read → 1") {
		t.Fatalf("explanation does not name the stale read (op 7): %s", a.Explanation)
	}
}

// An Info write may take effect at any time after its invocation, or
// never; a Fail write never does.
func TestRegisterIndeterminate(t *testing.T) {
	t.Run("info-appears-later", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.invoke(1, write(1, 2))
		b.info(1, write(1, 2))
		b.run(0, history.OK, read(1, history.Int(1)))
		b.run(0, history.OK, read(1, history.Int(2))) // it took effect only now
		b.run(0, history.OK, read(1, history.Int(2)))
		mustValid(t, Register{}.Check(b.h))
	})
	t.Run("info-never-appears", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.invoke(1, cas(1, 1, 2))
		b.info(1, cas(1, 1, 2))
		b.run(0, history.OK, read(1, history.Int(1)))
		b.run(0, history.OK, write(1, 3))
		b.run(0, history.OK, read(1, history.Int(3)))
		r := Register{}.Check(b.h)
		mustValid(t, r)
		if r.Counts.Info != 1 {
			t.Fatalf("counts %+v", r.Counts)
		}
	})
	t.Run("info-appears-then-disappears", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.invoke(1, write(1, 2))
		b.info(1, write(1, 2))
		b.run(0, history.OK, read(1, history.Int(2)))
		b.run(0, history.OK, read(1, history.Int(1))) // 1 came back: no order explains it
		mustFind(t, Register{}.Check(b.h), KindNonlinearizable)
	})
	t.Run("failed-write-seen", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.run(1, history.Fail, write(1, 2))
		b.run(0, history.OK, read(1, history.Int(2)))
		mustFind(t, Register{}.Check(b.h), KindNonlinearizable)
	})
	t.Run("in-flight-at-end", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.invoke(1, write(1, 2)) // never completes
		b.run(0, history.OK, read(1, history.Int(2)))
		mustValid(t, Register{}.Check(b.h))
	})
}

// A cas OK applied; a cas that reported no match saw another value.
func TestRegisterCAS(t *testing.T) {
	t.Run("ok-without-match", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.run(0, history.OK, cas(1, 2, 3))
		mustFind(t, Register{}.Check(b.h), KindNonlinearizable)
	})
	t.Run("no-match-with-match", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 1))
		b.invoke(0, cas(1, 1, 3))
		b.fail(0, cas(1, 1, 3), history.NoMatch)
		mustFind(t, Register{}.Check(b.h), KindNonlinearizable)
	})
	t.Run("no-row", func(t *testing.T) {
		var b builder
		b.invoke(0, cas(1, 0, 3))
		b.fail(0, cas(1, 0, 3), history.NoMatch)
		b.run(0, history.OK, read(1, nil))
		b.run(0, history.OK, write(1, 0))
		b.run(0, history.OK, cas(1, 0, 3))
		b.run(0, history.OK, read(1, history.Int(3)))
		mustValid(t, Register{}.Check(b.h))
	})
	t.Run("read-no-row-after-write", func(t *testing.T) {
		var b builder
		b.run(0, history.OK, write(1, 0))
		b.run(1, history.OK, read(1, nil))
		mustFind(t, Register{}.Check(b.h), KindNonlinearizable)
	})
}

// A search that runs out of time is Unknown, never Valid.
func TestRegisterTimeoutIsUnknown(t *testing.T) {
	// 40 concurrent writes and a read, concurrent with all of them, of a
	// value none wrote: refuting every order takes porcupine far longer
	// than the timeout.
	var b builder
	const n = 40
	for p := range n {
		b.invoke(p, write(1, int64(p)))
	}
	b.invoke(n, read(1, nil))
	b.ok(n, read(1, history.Int(1000)))
	for p := range n {
		b.ok(p, write(1, int64(p)))
	}
	checkValid(t, b.h)
	start := time.Now()
	r := Register{Timeout: 100 * time.Millisecond}.Check(b.h)
	t.Logf("%s after %v", r, time.Since(start))
	if r.Valid || !r.Unknown || r.Stats["keys-unknown"] != 1 {
		t.Fatalf("want unknown, got %+v", r)
	}
	if !strings.Contains(r.String(), "UNKNOWN") {
		t.Fatalf("String: %s", r)
	}
}

func TestRegisterNothingSucceeded(t *testing.T) {
	var b builder
	b.run(0, history.Fail, write(1, 1))
	r := Register{}.Check(b.h)
	if r.Valid || !r.Unknown {
		t.Fatalf("want unknown, got %s", r)
	}
}

func TestRegisterMalformed(t *testing.T) {
	var b builder
	b.run(0, history.OK, write(1, 1))
	b.h[1].Index = 7
	if r := (Register{}).Check(b.h); r.Valid || !r.Unknown || !strings.Contains(r.Reason, "malformed") {
		t.Fatalf("want unknown, got %s", r)
	}
}

func TestRegisterVisualizations(t *testing.T) {
	var b builder
	b.run(0, history.OK, write(1, 1))
	b.run(0, history.OK, write(1, 2))
	b.run(1, history.OK, read(1, history.Int(1)))
	b.run(1, history.OK, write(2, 1))
	dir := t.TempDir()
	paths, err := Register{}.WriteVisualizations(b.h, dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{filepath.Join(dir, "register-key-1.html")}; !slices.Equal(paths, want) {
		t.Fatalf("wrote %v, want %v", paths, want)
	}
	page, err := os.ReadFile(paths[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(page), "read → 1") {
		t.Fatalf("page does not describe the ops")
	}
	var sb strings.Builder
	if err := (Register{}).Visualize(b.h, 2, &sb); err != nil || sb.Len() == 0 {
		t.Fatalf("Visualize: %v", err)
	}
}
