package meta_test

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/meta"
)

// tsoBase is an arbitrary wall-clock instant the tests move around.
var tsoBase = time.UnixMilli(1_750_000_000_000)

func tsoAt(ms int64) time.Time { return tsoBase.Add(time.Duration(ms) * time.Millisecond) }

// tsoNext calls o.Next, persisting (and recording) window extensions as a
// server would, and returns the block's first timestamp.
func tsoNext(t *testing.T, o *meta.Oracle, now time.Time, n int, persisted *engine.Timestamp) engine.Timestamp {
	t.Helper()
	for range 3 {
		first, ext := o.Next(now, n)
		if ext == 0 {
			if first == 0 {
				t.Fatalf("Next(%v, %d) returned neither a block nor an extension", now, n)
			}
			if end := first + engine.Timestamp(n-1); end > o.Window() {
				t.Fatalf("block [%v, %v] passes the window %v", first, end, o.Window())
			}
			return first
		}
		if ext <= o.Window() {
			t.Fatalf("Next asks to extend the window %v to %v, which is not above it", o.Window(), ext)
		}
		if persisted != nil {
			*persisted = ext
		}
		o.Extended(ext)
	}
	t.Fatalf("Next(%v, %d) still asks for an extension after three", now, n)
	return 0
}

func TestOracleStrictlyIncreasing(t *testing.T) {
	o := meta.NewOracle(0, 0)
	var last engine.Timestamp
	// The clock stands still for a while, then moves, then jumps.
	clock := []int64{0, 0, 0, 1, 1, 5, 5, 5, 1000, 1000, 2999, 3001, 10_000}
	for i, ms := range clock {
		n := 1 + i%4
		first := tsoNext(t, o, tsoAt(ms), n, nil)
		if first <= last {
			t.Fatalf("call %d at %d ms: first %v is not above the last %v", i, ms, first, last)
		}
		if p := first.Physical(); p < tsoAt(ms).UnixMilli() {
			t.Fatalf("call %d: physical part %d is behind the clock %d", i, p, tsoAt(ms).UnixMilli())
		}
		last = first + engine.Timestamp(n-1)
		if o.Last() != last {
			t.Fatalf("call %d: Last() = %v, want %v", i, o.Last(), last)
		}
	}
}

func TestOracleFollowsClock(t *testing.T) {
	o := meta.NewOracle(0, 0)
	if got, want := tsoNext(t, o, tsoAt(0), 1, nil), engine.MakeTimestamp(tsoAt(0).UnixMilli(), 0); got != want {
		t.Fatalf("first timestamp %v, want %v (the clock, logical 0)", got, want)
	}
	if got, want := tsoNext(t, o, tsoAt(0), 1, nil), engine.MakeTimestamp(tsoAt(0).UnixMilli(), 1); got != want {
		t.Fatalf("same millisecond: %v, want %v (logical + 1)", got, want)
	}
	if got, want := tsoNext(t, o, tsoAt(7), 3, nil), engine.MakeTimestamp(tsoAt(7).UnixMilli(), 0); got != want {
		t.Fatalf("clock moved: %v, want %v", got, want)
	}
}

func TestOracleClockBackwards(t *testing.T) {
	o := meta.NewOracle(0, 0)
	top := tsoNext(t, o, tsoAt(2000), 1, nil)
	for _, ms := range []int64{1999, 0, -5000, 1500, 2000} {
		got := tsoNext(t, o, tsoAt(ms), 1, nil)
		if got != o.Last() || got <= top {
			t.Fatalf("clock back to %d ms: %v, want above %v", ms, got, top)
		}
		if got.Physical() != tsoAt(2000).UnixMilli() {
			t.Fatalf("clock back to %d ms: physical part %d moved (want %d, logical increments)", ms, got.Physical(), tsoAt(2000).UnixMilli())
		}
		top = got
	}
	if top.Logical() != 5 {
		t.Fatalf("after five calls behind the clock the logical part is %d, want 5", top.Logical())
	}
}

func TestOracleLogicalOverflow(t *testing.T) {
	const maxLogical = 1<<engine.LogicalBits - 1
	p := tsoAt(0).UnixMilli()
	// Start as if the last timestamp handed out had the largest logical
	// part (a persisted window there); the clock stands still.
	o := meta.NewOracle(engine.MakeTimestamp(p, maxLogical-2), 0)
	first := tsoNext(t, o, tsoAt(0), 5, nil)
	if want := engine.MakeTimestamp(p, maxLogical-1); first != want {
		t.Fatalf("first %v, want %v", first, want)
	}
	end := first + 4
	if want := engine.MakeTimestamp(p+1, 2); end != want {
		t.Fatalf("block end %v, want %v: the logical part carries into the physical part", end, want)
	}
	for i := range engine.Timestamp(5) {
		ts := first + i
		if ts.Logical() > maxLogical || (ts.Physical() != p && ts.Physical() != p+1) {
			t.Fatalf("timestamp %d of the block is %v", i, ts)
		}
	}
	if got := tsoNext(t, o, tsoAt(0), 1, nil); got != end+1 {
		t.Fatalf("after the carry: %v, want %v", got, end+1)
	}
}

func TestOracleWindow(t *testing.T) {
	o := meta.NewOracle(0, 3*time.Second)
	// A new oracle hands out nothing before its first extension.
	first, ext := o.Next(tsoAt(0), 1)
	if first != 0 || ext == 0 {
		t.Fatalf("fresh oracle: Next = (%v, %v), want an extension first", first, ext)
	}
	if want := engine.MakeTimestamp(tsoAt(3000).UnixMilli(), 0); ext != want {
		t.Fatalf("extension to %v, want the clock + 3 s = %v", ext, want)
	}
	if first, _ := o.Next(tsoAt(0), 1); first != 0 {
		t.Fatal("Next handed out a timestamp before the extension was reported persisted")
	}
	o.Extended(ext)
	var persisted engine.Timestamp = ext
	// Within the window: no extension.
	for ms := int64(0); ms < 2999; ms += 100 {
		before := o.Window()
		tsoNext(t, o, tsoAt(ms), 10, &persisted)
		if o.Window() != before {
			t.Fatalf("at %d ms the window moved from %v to %v, still inside it", ms, before, o.Window())
		}
	}
	// The clock passes the window: extension, then the block.
	first = tsoNext(t, o, tsoAt(5000), 1, &persisted)
	if persisted != engine.MakeTimestamp(tsoAt(8000).UnixMilli(), 0) {
		t.Fatalf("window persisted at %v, want %v", persisted, engine.MakeTimestamp(tsoAt(8000).UnixMilli(), 0))
	}
	if first > persisted {
		t.Fatalf("handed out %v above the persisted window %v", first, persisted)
	}
	// A report of an older bound does not shrink the window.
	o.Extended(ext)
	if o.Window() != persisted {
		t.Fatalf("window shrank to %v", o.Window())
	}
	// A block larger than what is left of the window.
	o2 := meta.NewOracle(0, time.Millisecond)
	tsoNext(t, o2, tsoAt(0), 1, nil)
	big := 3 << engine.LogicalBits // three milliseconds' worth
	first = tsoNext(t, o2, tsoAt(0), big, nil)
	if end := first + engine.Timestamp(big-1); end > o2.Window() {
		t.Fatalf("block ends at %v above the window %v", end, o2.Window())
	}
}

func TestOracleShouldExtend(t *testing.T) {
	o := meta.NewOracle(0, 3*time.Second)
	if ext, ok := o.ShouldExtend(tsoAt(0)); !ok || ext != engine.MakeTimestamp(tsoAt(3000).UnixMilli(), 0) {
		t.Fatalf("fresh oracle: ShouldExtend = (%v, %v)", ext, ok)
	}
	o.Extended(engine.MakeTimestamp(tsoAt(3000).UnixMilli(), 0))
	if _, ok := o.ShouldExtend(tsoAt(1000)); ok {
		t.Fatal("2 s of 3 left: ShouldExtend says yes")
	}
	ext, ok := o.ShouldExtend(tsoAt(2000))
	if !ok || ext != engine.MakeTimestamp(tsoAt(5000).UnixMilli(), 0) {
		t.Fatalf("1 s of 3 left: ShouldExtend = (%v, %v), want the clock + 3 s", ext, ok)
	}
	// A clock far behind the window (a new leader whose clock lags the old
	// one's) does not ask for more.
	o3 := meta.NewOracle(engine.MakeTimestamp(tsoAt(60_000).UnixMilli(), 0), 3*time.Second)
	ext, ok = o3.ShouldExtend(tsoAt(0))
	if !ok || ext != engine.MakeTimestamp(tsoAt(63_000).UnixMilli(), 0) {
		t.Fatalf("new leader with a lagging clock: ShouldExtend = (%v, %v), want the window + 3 s", ext, ok)
	}
	o3.Extended(ext)
	if _, ok := o3.ShouldExtend(tsoAt(0)); ok {
		t.Fatal("extended new leader: ShouldExtend says yes")
	}
}

// TestOracleLeaderChange: a new leader starts from the persisted window and
// hands out nothing at or below anything handed out before, whatever its
// clock says, including what a deposed leader hands out from its window
// after the new one took over.
func TestOracleLeaderChange(t *testing.T) {
	var persisted engine.Timestamp
	a := meta.NewOracle(persisted, 0)
	var aTop engine.Timestamp
	for ms := int64(0); ms < 500; ms += 7 {
		aTop = tsoNext(t, a, tsoAt(ms), 3, &persisted) + 2
	}
	// A is deposed without knowing it; B's clock is 10 s behind A's.
	b := meta.NewOracle(persisted, 0)
	if first, ext := b.Next(tsoAt(-10_000), 1); first != 0 || ext <= persisted {
		t.Fatalf("new leader: Next = (%v, %v), want an extension above %v first", first, ext, persisted)
	}
	bFirst := tsoNext(t, b, tsoAt(-10_000), 1, &persisted)
	// A keeps handing out from its window, which B's read of the window
	// covered.
	for ms := int64(500); a.Window() >= a.Last()+1; ms++ {
		first, ext := a.Next(tsoAt(ms), 1)
		if ext != 0 {
			break
		}
		aTop = first
	}
	if aTop >= bFirst {
		t.Fatalf("deposed leader handed out %v, not below the new leader's first %v", aTop, bFirst)
	}
	if bFirst <= a.Window() {
		t.Fatalf("new leader's first %v is not above the deposed leader's window %v", bFirst, a.Window())
	}
}

// TestOracleModel runs random clocks, batch sizes and leader changes (each
// new leader starting from the last persisted window) and checks every
// timestamp handed out against all earlier ones: strictly increasing, never
// above the window persisted when it was handed out.
func TestOracleModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for run := range 50 {
		var persisted, top engine.Timestamp
		o := meta.NewOracle(persisted, time.Duration(1+rng.IntN(5000))*time.Millisecond)
		clock := int64(0)
		for step := range 2000 {
			switch r := rng.IntN(100); {
			case r < 3: // leader change, with a clock of its own
				o = meta.NewOracle(persisted, time.Duration(1+rng.IntN(5000))*time.Millisecond)
				clock += int64(rng.IntN(20_000)) - 10_000
			case r < 10: // the clock jumps back
				clock -= int64(rng.IntN(1000))
			case r < 30: // background extension
				if ext, ok := o.ShouldExtend(tsoAt(clock)); ok {
					if ext <= persisted && ext <= o.Window() {
						t.Fatalf("run %d step %d: ShouldExtend to %v, not above the window %v", run, step, ext, o.Window())
					}
					persisted = max(persisted, ext)
					o.Extended(ext)
				}
			default:
				clock += int64(rng.IntN(3))
				n := 1 + rng.IntN(1<<rng.IntN(18))
				first := tsoNext(t, o, tsoAt(clock), n, &persisted)
				if first <= top {
					t.Fatalf("run %d step %d: block at %v is not above %v", run, step, first, top)
				}
				top = first + engine.Timestamp(n-1)
				if top > persisted {
					t.Fatalf("run %d step %d: handed out %v above the persisted window %v", run, step, top, persisted)
				}
			}
		}
	}
}

func TestTSOWindowEncoding(t *testing.T) {
	for _, ts := range []engine.Timestamp{0, 1, engine.MakeTimestamp(tsoAt(0).UnixMilli(), 7)} {
		got, err := meta.DecodeTSOWindow(meta.EncodeTSOWindow(ts), true)
		if err != nil || got != ts {
			t.Fatalf("round trip of %v: %v, %v", ts, got, err)
		}
	}
	if got, err := meta.DecodeTSOWindow(nil, false); err != nil || got != 0 {
		t.Fatalf("absent window: %v, %v", got, err)
	}
	if _, err := meta.DecodeTSOWindow([]byte{1, 2, 3}, true); err == nil {
		t.Fatal("a 3-byte window decoded")
	}
}
