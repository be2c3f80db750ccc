package loadstats

import (
	"bytes"
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Config tunes a Tracker. Zero values take the defaults.
type Config struct {
	// HalfLife is the decay half-life of the rates and of the key sample
	// (default 2 s).
	HalfLife time.Duration
	// Samples is the reservoir's size (default 64).
	Samples int
	// Rand draws the sample's priorities (default: a randomly seeded PCG).
	// The tracker uses it under its own lock; do not share it with other
	// goroutines.
	Rand *rand.Rand
}

// Snapshot is a tracker's view at one moment.
type Snapshot struct {
	ReadsPerSec, WritesPerSec, WriteBytesPerSec float64
	// CPUPerSec is serving time per second: the share of one core.
	CPUPerSec float64
	// Samples is the key sample, sorted by key. The caller owns it and its
	// keys.
	Samples []Sample
}

// Sample is a sampled key. The reservoir is already weighted by each
// request's cost and by recency, so every sample stands for an equal share
// of the recent load: Weight is 1.
type Sample struct {
	Key    []byte
	Weight float64
}

// Tracker accumulates one replica's load. Safe for concurrent use; Record
// takes one mutex, does a few float operations and allocates only when a
// key enters the reservoir and is longer than the buffer of the key it
// evicts.
type Tracker struct {
	cfg Config
	// tau is the decay time constant H/ln 2, in seconds; lambda is its
	// inverse, the forward-decay rate ln 2/H per second.
	tau, lambda float64

	mu struct {
		sync.Mutex
		// started is false until the first event or snapshot; last is the
		// time the sums were last brought to, landmark the zero of the
		// forward-decay clock.
		started        bool
		last, landmark time.Time
		// reads, writes, bytes and cpu are the decayed sums (cpu in
		// seconds).
		reads, writes, bytes, cpu float64
		// written counts every byte written since the tracker was made,
		// never decayed nor reset.
		written uint64
		res     reservoir
	}
}

// NewTracker returns an empty tracker.
func NewTracker(cfg Config) *Tracker {
	if cfg.HalfLife <= 0 {
		cfg.HalfLife = 2 * time.Second
	}
	if cfg.Samples <= 0 {
		cfg.Samples = 64
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	tau := cfg.HalfLife.Seconds() / math.Ln2
	t := &Tracker{cfg: cfg, tau: tau, lambda: 1 / tau}
	t.mu.res.items = make([]item, 0, cfg.Samples)
	return t
}

// advanceLocked brings the sums to now. A now before the last one (two
// goroutines that read the clock and then raced for the lock) counts as the
// last one.
func (t *Tracker) advanceLocked(now time.Time) {
	m := &t.mu
	if !m.started {
		m.started, m.last, m.landmark = true, now, now
		return
	}
	dt := now.Sub(m.last).Seconds()
	if dt <= 0 {
		return
	}
	f := math.Exp(-dt / t.tau)
	m.reads *= f
	m.writes *= f
	m.bytes *= f
	m.cpu *= f
	m.last = now
}

// Record notes one request served at now: the reads and writes in its
// batch, the bytes it wrote (keys and values), and the key that stands for
// it in the sample (nil: none), weighted by reads+writes, at least 1. The
// tracker copies key if it keeps it.
func (t *Tracker) Record(now time.Time, key []byte, reads, writes, writeBytes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked(now)
	t.mu.reads += float64(max(reads, 0))
	t.mu.writes += float64(max(writes, 0))
	t.mu.bytes += float64(max(writeBytes, 0))
	t.mu.written += uint64(max(writeBytes, 0))
	if key != nil {
		t.sampleLocked(now, key, float64(max(reads+writes, 1)))
	}
}

// RecordCPU adds time spent serving the range (evaluation or apply) at now.
func (t *Tracker) RecordCPU(now time.Time, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked(now)
	t.mu.cpu += max(d.Seconds(), 0)
}

// maxAge bounds the forward-decay exponent λ·(now-landmark) before the
// landmark moves forward. Priorities are logarithms, so nothing overflows
// however far it grows; moving the landmark keeps them small numbers, so
// that adding ln(cost) and ln(E) keeps full precision.
const maxAge = 1024

// sampleLocked offers key, at now and with cost w, to the reservoir.
//
// A-Res keeps the k events with the largest u^(1/w'); with E = -ln u, an
// Exp(1) draw, that is the k smallest E/w', or of their logarithms
// ln E - ln w'. Forward decay makes w' = w·e^(λ·(now-landmark)), so the
// priority is ln E - ln w - λ·(now-landmark), smallest kept.
func (t *Tracker) sampleLocked(now time.Time, key []byte, w float64) {
	m := &t.mu
	age := t.lambda * now.Sub(m.landmark).Seconds()
	if age > maxAge {
		// Moving the landmark to now lowers every weight by e^age, which
		// raises every stored priority by age: the order is unchanged.
		for i := range m.res.items {
			m.res.items[i].prio += age
		}
		m.landmark, age = now, 0
	}
	u := t.cfg.Rand.Float64()
	for u == 0 {
		u = t.cfg.Rand.Float64()
	}
	prio := math.Log(-math.Log(u)) - math.Log(w) - age
	if len(m.res.items) < t.cfg.Samples {
		m.res.items = append(m.res.items, item{key: bytes.Clone(key), prio: prio})
		heap.Fix(&m.res, len(m.res.items)-1)
		return
	}
	root := &m.res.items[0]
	if prio >= root.prio {
		return
	}
	// The evicted key's buffer is reused: Snapshot hands out copies.
	root.key, root.prio = append(root.key[:0], key...), prio
	heap.Fix(&m.res, 0)
}

// Snapshot returns the decayed rates at now and a copy of the key sample.
func (t *Tracker) Snapshot(now time.Time) Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.advanceLocked(now)
	m := &t.mu
	s := Snapshot{
		ReadsPerSec:      m.reads / t.tau,
		WritesPerSec:     m.writes / t.tau,
		WriteBytesPerSec: m.bytes / t.tau,
		CPUPerSec:        m.cpu / t.tau,
	}
	if len(m.res.items) == 0 {
		return s
	}
	n := 0
	for _, it := range m.res.items {
		n += len(it.key)
	}
	buf := make([]byte, 0, n)
	s.Samples = make([]Sample, len(m.res.items))
	for i, it := range m.res.items {
		buf = append(buf, it.key...)
		s.Samples[i] = Sample{Key: buf[len(buf)-len(it.key) : len(buf) : len(buf)], Weight: 1}
	}
	slices.SortFunc(s.Samples, func(a, b Sample) int { return bytes.Compare(a.Key, b.Key) })
	return s
}

// Written returns the bytes written since the tracker was made (Reset does
// not clear it): the difference of two readings is what was written between
// them.
func (t *Tracker) Written() uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.mu.written
}

// Reset forgets the rates and the sample: after a split or merge the
// history no longer describes the range. Written is kept.
func (t *Tracker) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := &t.mu
	m.started, m.last, m.landmark = false, time.Time{}, time.Time{}
	m.reads, m.writes, m.bytes, m.cpu = 0, 0, 0, 0
	clear(m.res.items)
	m.res.items = m.res.items[:0]
}

// item is one sampled key with its priority (smaller is kept longer).
type item struct {
	key  []byte
	prio float64
}

// reservoir is a max-heap on priority: the root is the first to go.
type reservoir struct{ items []item }

func (r *reservoir) Len() int           { return len(r.items) }
func (r *reservoir) Less(i, j int) bool { return r.items[i].prio > r.items[j].prio }
func (r *reservoir) Swap(i, j int)      { r.items[i], r.items[j] = r.items[j], r.items[i] }

// Push and Pop satisfy heap.Interface; the tracker appends and replaces the
// root itself so that no item is boxed.
func (r *reservoir) Push(x any) { r.items = append(r.items, x.(item)) }
func (r *reservoir) Pop() any {
	it := r.items[len(r.items)-1]
	r.items = r.items[:len(r.items)-1]
	return it
}
