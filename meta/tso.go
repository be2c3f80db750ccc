package meta

import (
	"encoding/binary"
	"fmt"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/keys"
)

// The timestamp oracle (TSO) hands out hybrid timestamps (physical
// milliseconds << engine.LogicalBits | logical) from the meta range's
// leader. Its only durable state is the window: an upper bound, inclusive,
// of every timestamp handed out, stored in the meta range under
// TSOWindowKey and raised through Raft before any timestamp above the old
// bound is handed out. A new leader reads the window and starts strictly
// above it, so it never hands out a timestamp at or below one handed out by
// any earlier leader.
//
// Oracle is the pure part (no I/O, the clock passed in); the server runs
// it on the meta leader and does the reads and writes.

// TSOWindowName is the name of the window's system key.
const TSOWindowName = "tso-window"

// TSOWindowKey is where the window upper bound is stored in the meta range.
func TSOWindowKey() []byte { return keys.SystemKey(TSOWindowName) }

// DefaultTSOWindow is how far ahead of the clock the window is raised: one
// Raft write covers this much physical time.
const DefaultTSOWindow = 3 * time.Second

// MaxTSOBatch is the most timestamps one request may ask for.
const MaxTSOBatch = 1 << 16

// EncodeTSOWindow encodes a window bound for storage (8 bytes, big endian).
func EncodeTSOWindow(ts engine.Timestamp) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(ts))
}

// DecodeTSOWindow decodes a stored window bound; found false (no window
// yet, a new cluster) decodes as 0.
func DecodeTSOWindow(v []byte, found bool) (engine.Timestamp, error) {
	if !found {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: tso window of %d bytes", ErrCorrupt, len(v))
	}
	return engine.Timestamp(binary.BigEndian.Uint64(v)), nil
}

// Oracle is the timestamp oracle's state machine on one leader, for one
// term. It is not safe for concurrent use: one goroutine owns it.
//
// Invariants:
//   - every timestamp handed out is > the window it was started from
//     (NewOracle) and <= the current window;
//   - the blocks handed out are disjoint and strictly increasing;
//   - the window only grows, and a bound is used only after the caller
//     reported it persisted (Extended).
type Oracle struct {
	// last is the last timestamp handed out (or the persisted window the
	// oracle started from: nothing at or below it may be handed out).
	last engine.Timestamp
	// window is the persisted upper bound, inclusive.
	window engine.Timestamp
	// ahead is how far beyond the clock (or the last block) a new window
	// reaches, in milliseconds.
	ahead int64
}

// NewOracle starts an oracle on a new leader from the persisted window
// bound: it hands out nothing at or below persisted, and nothing at all
// before the window is extended. ahead (at least 1 ms; 0 means
// DefaultTSOWindow) is how far a window extension reaches beyond the clock.
func NewOracle(persisted engine.Timestamp, ahead time.Duration) *Oracle {
	if ahead == 0 {
		ahead = DefaultTSOWindow
	}
	return &Oracle{last: persisted, window: persisted, ahead: max(ahead.Milliseconds(), 1)}
}

// Last returns the last timestamp handed out (the starting window if none).
func (o *Oracle) Last() engine.Timestamp { return o.last }

// Window returns the persisted window bound.
func (o *Oracle) Window() engine.Timestamp { return o.window }

// Next hands out n (>= 1) contiguous timestamps [first, first+n), all above
// every timestamp handed out before. The physical part follows the clock
// when it moves forward; otherwise (the clock stands still or went back) the
// block follows the last one, its logical part carrying into the physical
// part when it overflows.
//
// If the block would pass the window, Next hands out nothing and returns
// extendTo: the caller must persist the window up to extendTo, call
// Extended(extendTo), and call Next again (with the clock read again).
func (o *Oracle) Next(now time.Time, n int) (first, extendTo engine.Timestamp) {
	if n < 1 {
		panic(fmt.Sprintf("meta: Oracle.Next of %d timestamps", n))
	}
	first = o.last + 1
	if c := engine.MakeTimestamp(now.UnixMilli(), 0); c > first {
		first = c
	}
	end := first + engine.Timestamp(n-1)
	if end > o.window {
		return 0, o.extension(end)
	}
	o.last = end
	return first, 0
}

// extension is the window that covers upTo and reaches ahead beyond it.
func (o *Oracle) extension(upTo engine.Timestamp) engine.Timestamp {
	return max(o.window, engine.MakeTimestamp(upTo.Physical()+o.ahead, 0))
}

// Extended records that the window bound w is persisted. A bound below the
// current one is ignored: the window only grows.
func (o *Oracle) Extended(w engine.Timestamp) {
	o.window = max(o.window, w)
}

// ShouldExtend says whether the window is worth extending ahead of demand,
// and to what: when less than half of the window's reach is left beyond
// the clock (or beyond the last timestamp, if that is ahead of the clock).
// It keeps extensions off the request path.
func (o *Oracle) ShouldExtend(now time.Time) (extendTo engine.Timestamp, ok bool) {
	base := max(engine.MakeTimestamp(now.UnixMilli(), 0), o.last)
	if o.window.Physical()-base.Physical() >= o.ahead/2 && o.window > o.last {
		return 0, false
	}
	return o.extension(base), true
}
