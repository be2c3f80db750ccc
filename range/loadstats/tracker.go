package loadstats

import (
	"bytes"
	"container/heap"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Config tunes a Tracker. Zero values take the defaults.
type Config struct {
	// HalfLife is the decay half-life of the rates and the key sample
	// (default 2 s).
	HalfLife time.Duration
	// Samples is the reservoir's size (default 64).
	Samples int
	// Rand draws the sample's priorities (default: a seeded source).
	Rand *rand.Rand
}

// Snapshot is a tracker's view at one moment.
type Snapshot struct {
	ReadsPerSec, WritesPerSec, WriteBytesPerSec float64
	// CPUPerSec is serving time per second: the share of one core.
	CPUPerSec float64
	Samples   []Sample
}

// Sample is a sampled key; every sample stands for an equal share of the
// recent load, so Weight is 1.
type Sample struct {
	Key    []byte
	Weight float64
}

// Tracker accumulates one replica's load. Safe for concurrent use.
type Tracker struct {
	cfg Config
	tau float64 // H / ln 2, in seconds

	mu struct {
		sync.Mutex
		last                       time.Time
		reads, writes, bytes, cpus float64 // decayed sums
		// written counts every byte written since the tracker was made,
		// never decayed nor reset.
		written  uint64
		landmark time.Time
		res      reservoir
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
	return &Tracker{cfg: cfg, tau: cfg.HalfLife.Seconds() / math.Ln2}
}

// decay brings the sums to now. Called with mu held.
func (t *Tracker) decay(now time.Time) {
	m := &t.mu
	if m.last.IsZero() {
		m.last = now
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
	m.cpus *= f
	m.last = now
}

// Record notes one request served at now: the reads and writes in its
// batch, the bytes it wrote, and the key that stands for it in the sample
// (weighted by reads+writes, at least 1).
func (t *Tracker) Record(now time.Time, key []byte, reads, writes, writeBytes int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.decay(now)
	t.mu.reads += float64(reads)
	t.mu.writes += float64(writes)
	t.mu.bytes += float64(writeBytes)
	t.mu.written += uint64(writeBytes)
	if key != nil {
		t.sample(now, key, float64(max(reads+writes, 1)))
	}
}

// RecordCPU adds time spent serving the range at now.
func (t *Tracker) RecordCPU(now time.Time, d time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.decay(now)
	t.mu.cpus += d.Seconds()
}

// maxExponent bounds the forward-decay exponent before the landmark moves.
const maxExponent = 200

// sample offers key to the reservoir. Called with mu held.
func (t *Tracker) sample(now time.Time, key []byte, w float64) {
	m := &t.mu
	if m.landmark.IsZero() {
		m.landmark = now
	}
	exp := math.Ln2 * now.Sub(m.landmark).Seconds() / t.cfg.HalfLife.Seconds()
	if exp > maxExponent {
		// Move the landmark to now: every stored log-priority ln(u)/w'
		// scales by the factor the weights lose.
		scale := math.Exp(exp)
		for i := range m.res.items {
			m.res.items[i].prio *= scale
		}
		m.landmark, exp = now, 0
	}
	// A-Res priority u^(1/w'), as ln(u)/w' with w' = w·e^exp: larger wins.
	u := t.cfg.Rand.Float64()
	for u == 0 {
		u = t.cfg.Rand.Float64()
	}
	prio := math.Log(u) / (w * math.Exp(exp))
	if len(m.res.items) < t.cfg.Samples {
		heap.Push(&m.res, item{key: bytes.Clone(key), prio: prio})
		return
	}
	if prio <= m.res.items[0].prio {
		return
	}
	m.res.items[0] = item{key: bytes.Clone(key), prio: prio}
	heap.Fix(&m.res, 0)
}

// Snapshot returns the decayed rates at now and a copy of the sample.
func (t *Tracker) Snapshot(now time.Time) Snapshot {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.decay(now)
	s := Snapshot{ReadsPerSec: t.mu.reads / t.tau, WritesPerSec: t.mu.writes / t.tau,
		WriteBytesPerSec: t.mu.bytes / t.tau, CPUPerSec: t.mu.cpus / t.tau}
	s.Samples = make([]Sample, len(t.mu.res.items))
	for i, it := range t.mu.res.items {
		s.Samples[i] = Sample{Key: it.key, Weight: 1}
	}
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

// Reset forgets everything: after a split or merge the history no longer
// describes the range.
func (t *Tracker) Reset() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.mu.last, t.mu.landmark = time.Time{}, time.Time{}
	t.mu.reads, t.mu.writes, t.mu.bytes, t.mu.cpus = 0, 0, 0, 0
	t.mu.res.items = nil
}

// item is one sampled key with its log-priority.
type item struct {
	key  []byte
	prio float64
}

// reservoir is a min-heap on priority: the root is the first to go.
type reservoir struct{ items []item }

func (r *reservoir) Len() int           { return len(r.items) }
func (r *reservoir) Less(i, j int) bool { return r.items[i].prio < r.items[j].prio }
func (r *reservoir) Swap(i, j int)      { r.items[i], r.items[j] = r.items[j], r.items[i] }
func (r *reservoir) Push(x any)         { r.items = append(r.items, x.(item)) }
func (r *reservoir) Pop() any {
	it := r.items[len(r.items)-1]
	r.items = r.items[:len(r.items)-1]
	return it
}
