package replica

import (
	"bytes"
	"context"
	"time"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/loadstats"
)

// recordLoad notes a served batch in the replica's load tracker: its first
// key stands for it in the key sample, and serving time of a read counts
// as CPU (a write's is counted when it applies), less the time it spent
// waiting (idle).
func (r *Replica) recordLoad(reqs []*kvpb.Request, reads, writes int, start time.Time, idle time.Duration) {
	now := r.cfg.Clock()
	var key []byte
	written := 0
	for _, req := range reqs {
		k, n := requestKeyAndBytes(req)
		if key == nil {
			key = k
		}
		written += n
	}
	r.load.Record(now, key, reads, writes, written)
	if reads > 0 {
		r.load.RecordCPU(now, now.Sub(start)-idle)
	}
}

// idleClock sums the time a read batch spends waiting: for a row's write
// lock, for latches, for proof of leadership. That is not load: TPC-B's
// UPDATE of its one branch row waits for the lock most of the time it is
// served, and counted as CPU, the waits of the queued transactions made
// the branch's range look several cores busy, so the controller split it
// again and again, and every split spread the transactions over more
// ranges.
type idleClock struct{ d time.Duration }

type idleKey struct{}

// withIdleClock returns ctx carrying a new idle clock.
func withIdleClock(ctx context.Context) (context.Context, *idleClock) {
	c := &idleClock{}
	return context.WithValue(ctx, idleKey{}, c), c
}

// waited adds the time since start (Config.Clock) to ctx's idle clock, if
// it has one. A clock belongs to one batch, which its reads serve one
// after the other.
func (r *Replica) waited(ctx context.Context, start time.Time) {
	if c, ok := ctx.Value(idleKey{}).(*idleClock); ok {
		c.d += r.cfg.Clock().Sub(start)
	}
}

// requestKeyAndBytes returns the key a request stands for and the bytes it
// writes (keys and values).
func requestKeyAndBytes(req *kvpb.Request) ([]byte, int) {
	mutations := func(ms []*kvpb.Mutation) ([]byte, int) {
		n := 0
		for _, m := range ms {
			n += len(m.Key) + len(m.Value)
		}
		if len(ms) == 0 {
			return nil, 0
		}
		return ms[0].Key, n
	}
	switch v := req.Value.(type) {
	case *kvpb.Request_Get:
		return v.Get.Key, 0
	case *kvpb.Request_Scan:
		return v.Scan.StartKey, 0
	case *kvpb.Request_Put:
		return v.Put.Key, len(v.Put.Key) + len(v.Put.Value)
	case *kvpb.Request_Cput:
		return v.Cput.Key, len(v.Cput.Key) + len(v.Cput.Value)
	case *kvpb.Request_Delete:
		return v.Delete.Key, len(v.Delete.Key)
	case *kvpb.Request_DeleteRange:
		return v.DeleteRange.StartKey, 0
	case *kvpb.Request_Prewrite:
		return mutations(v.Prewrite.Mutations)
	case *kvpb.Request_OnePc:
		return mutations(v.OnePc.Mutations)
	}
	if ks := txnKeys(req); len(ks) > 0 {
		return ks[0], 0
	}
	return nil, 0
}

// Written returns the bytes written to the replica since it opened.
func (r *Replica) Written() uint64 { return r.load.Written() }

// Load returns the replica's decayed load and key sample at now.
func (r *Replica) Load(now time.Time) loadstats.Snapshot { return r.load.Snapshot(now) }

// SplitAt returns when this replica last applied a split of its range
// (zero if not since it opened).
func (r *Replica) SplitAt() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.mu.splitAt
}

// SpanStats is the size of a replica's span, from one scan.
type SpanStats struct {
	// Keys and LiveBytes count the newest live version of each key.
	Keys, LiveBytes uint64
	// DiskBytes is the engine's estimate of the span on disk (sstables,
	// old versions included; what is still in the memtable is not).
	DiskBytes uint64
	// MidKey is the block boundary (snap) nearest the middle of the live
	// bytes, strictly inside the span; nil when the span holds one block.
	MidKey []byte
}

// Bytes is the size the controller compares with the limit: the larger of
// the two estimates.
func (s SpanStats) Bytes() uint64 { return max(s.LiveBytes, s.DiskBytes) }

// SpanStats scans the replica's span once: keys, live bytes, and the block
// boundary nearest the middle by bytes, where snap maps a key to the start
// of its block (keys.ShardBoundary).
func (r *Replica) SpanStats(snap func([]byte) []byte) (SpanStats, error) {
	desc := r.Desc()
	var s SpanStats
	if desc == nil {
		return s, nil
	}
	disk, err := r.eng.ApproximateSpanStats(desc.StartKey, desc.EndKey)
	if err != nil {
		return s, err
	}
	s.DiskBytes = disk
	// Block starts with the live bytes before them.
	type mark struct {
		key    []byte
		before uint64
	}
	// At most maxMarks are kept: when full, every other one is dropped and
	// marks must then be twice as far apart, so the middle found is within
	// 2/maxMarks of the span's bytes of the true one.
	const maxMarks = 1024
	var marks []mark
	var last []byte
	gap := uint64(1)
	err = Scan(r.eng, desc.StartKey, desc.EndKey, engine.MaxTimestamp, func(k []byte, _ engine.Timestamp, v []byte) bool {
		if b := snap(k); !bytes.Equal(b, last) {
			last = append(last[:0], b...)
			far := len(marks) == 0 || s.LiveBytes-marks[len(marks)-1].before >= gap
			if far && bytes.Compare(b, desc.StartKey) > 0 {
				marks = append(marks, mark{key: bytes.Clone(b), before: s.LiveBytes})
				if len(marks) == maxMarks {
					for i := range maxMarks / 2 {
						marks[i] = marks[2*i]
					}
					marks = marks[:maxMarks/2]
					gap = max(2*gap, s.LiveBytes/(maxMarks/2))
				}
			}
		}
		s.Keys++
		s.LiveBytes += uint64(len(k) + len(v))
		return true
	})
	if err != nil {
		return s, err
	}
	half, best := s.LiveBytes/2, uint64(0)
	for _, m := range marks {
		d := max(m.before, half) - min(m.before, half)
		if s.MidKey == nil || d < best {
			s.MidKey, best = m.key, d
		}
	}
	return s, nil
}
