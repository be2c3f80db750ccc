package main

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shardingsystem/shard/internal/proctest"
)

// writeLoad runs concurrent writers. Each writer puts its own keys, one
// `shard kv put` process at a time, through the cluster's nodes in turn, and
// keeps a history: every put tried, and the acknowledged ones (exit 0) with
// when they began and ended. The history is the oracle of a test: every
// acknowledged put must be readable, and nothing that was never tried may
// appear.
type writeLoad struct {
	stop  chan struct{}
	once  sync.Once
	wg    sync.WaitGroup
	acked atomic.Int64
	ws    []*writer
}

type writer struct {
	tried map[string]string // key -> value of every put tried
	acks  []ack
}

type ack struct {
	key, value   string
	began, ended time.Time
}

// startWriters starts n writers; key names the seq-th key of writer w. The
// writers stop at Stop or, at the latest, when the test ends.
func startWriters(t *testing.T, c *proctest.Cluster, n int, key func(w, seq int) string) *writeLoad {
	l := &writeLoad{stop: make(chan struct{})}
	nodes := c.Nodes()
	for w := range n {
		wr := &writer{tried: map[string]string{}}
		l.ws = append(l.ws, wr)
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := 0; ; seq++ {
				select {
				case <-l.stop:
					return
				default:
				}
				k := key(w, seq)
				v := fmt.Sprintf("writer %d put %d", w, seq)
				wr.tried[k] = v
				began := time.Now()
				if r := nodes[(seq+w)%len(nodes)].CLI("kv", "put", "--timeout", "5s", k, v); r.OK() {
					wr.acks = append(wr.acks, ack{k, v, began, time.Now()})
					l.acked.Add(1)
				}
			}
		}()
	}
	t.Cleanup(func() { l.Stop() })
	return l
}

// Acked is the number of acknowledged puts so far.
func (l *writeLoad) Acked() int64 { return l.acked.Load() }

// WaitAcked waits until at least n puts were acknowledged.
func (l *writeLoad) WaitAcked(t *testing.T, n int64, timeout time.Duration) {
	t.Helper()
	proctest.WaitFor(t, timeout, fmt.Sprintf("%d acknowledged writes", n), func() error {
		if got := l.Acked(); got < n {
			return fmt.Errorf("%d acknowledged", got)
		}
		return nil
	})
}

// Stop stops the writers, waits for their last puts, and returns the
// history.
func (l *writeLoad) Stop() history {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
	h := history{acked: map[string]string{}, tried: map[string]string{}}
	for _, w := range l.ws {
		for k, v := range w.tried {
			h.tried[k] = v
		}
		for _, a := range w.acks {
			h.acked[a.key] = a.value
			h.acks = append(h.acks, a)
		}
	}
	return h
}

type history struct {
	tried map[string]string
	acked map[string]string
	acks  []ack
}

// firstAckAfter returns when the first acknowledged put that began after ts
// ended.
func (h history) firstAckAfter(ts time.Time) (time.Time, bool) {
	var first time.Time
	for _, a := range h.acks {
		if a.began.After(ts) && (first.IsZero() || a.ended.Before(first)) {
			first = a.ended
		}
	}
	return first, !first.IsZero()
}

// check compares a scan of the whole keyspace (in order) with the history:
// every acknowledged put is there with its value; every key there was
// tried, with the value tried; keys listed in extra (written by the test
// itself) are skipped. It returns how many keys came from puts that failed
// (ambiguously) but took effect.
func (h history) check(t *testing.T, got []kvPair, extra map[string]string) (ambiguous int) {
	t.Helper()
	seen := map[string]string{}
	for i, p := range got {
		if i > 0 && got[i-1].Key >= p.Key {
			t.Errorf("scan out of order: %q then %q", got[i-1].Key, p.Key)
		}
		seen[p.Key] = p.Value
	}
	var lost []string
	for k, v := range h.acked {
		if g, ok := seen[k]; !ok || g != v {
			lost = append(lost, fmt.Sprintf("%s=%q (found %v, value %q)", k, v, ok, g))
		}
	}
	if len(lost) > 0 {
		t.Errorf("%d of %d acknowledged writes lost or changed, e.g.:\n%s", len(lost), len(h.acked),
			strings.Join(lost[:min(len(lost), 20)], "\n"))
	}
	for _, p := range got {
		if _, ok := extra[p.Key]; ok {
			continue
		}
		v, ok := h.tried[p.Key]
		switch {
		case !ok:
			t.Errorf("key %s=%q was never written", p.Key, p.Value)
		case p.Value != v:
			t.Errorf("key %s=%q, but the writer wrote %q", p.Key, p.Value, v)
		case h.acked[p.Key] == "":
			ambiguous++
		}
	}
	return ambiguous
}
