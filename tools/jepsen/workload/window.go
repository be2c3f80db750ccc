package workload

import (
	"math/rand/v2"
	"sync"
)

// keyWindow is a rolling window of live keys: each key takes perKey
// counted uses, then a fresh key replaces it. Safe for concurrent use.
type keyWindow struct {
	perKey int64

	mu     sync.Mutex
	keys   []int64
	counts map[int64]int64
	next   int64
}

func newKeyWindow(size int, perKey int64) *keyWindow {
	w := &keyWindow{perKey: perKey, counts: map[int64]int64{}}
	for range size {
		w.keys = append(w.keys, w.next)
		w.next++
	}
	return w
}

// pick returns a random live key. With count, the use counts towards the
// key's budget and n is its number (1, 2, ...); the key is retired once
// the budget is spent.
func (w *keyWindow) pick(rng *rand.Rand, count bool) (k, n int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := rng.IntN(len(w.keys))
	k = w.keys[i]
	if !count {
		return k, 0
	}
	w.counts[k]++
	n = w.counts[k]
	if n >= w.perKey {
		delete(w.counts, k)
		w.keys[i] = w.next
		w.next++
	}
	return k, n
}
