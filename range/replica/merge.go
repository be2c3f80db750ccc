package replica

import (
	"bytes"
	"context"
	"encoding/binary"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/engine"
	"github.com/shardingsystem/shard/kvpb"
)

// Merges. Two adjacent ranges L and R whose replicas live on the same nodes
// become one, L, in two raft commands:
//
//  1. Subsume, in R's log: R's descriptor gets merging_into = L (a new
//     generation) and R is frozen for good: every later request is refused
//     with RangeNotFound, so clients look the key up again, and every later
//     write command is rejected at apply. The entry's index is R's final
//     applied state.
//  2. Merge, in L's log: L's descriptor grows over R's span. Each replica of
//     L applies it only once its node's replica of R has applied the
//     subsume entry (Config.WaitMerge): the data of R's span on that node is
//     then final, and since a node's replicas share one engine, it is L's
//     now without a byte copied. The same batch deletes R's descriptor on the
//     node, so R is never reopened; the store then closes R's group and
//     removes its remaining local state (Config.OnMerge).
//
// The freeze is never undone: a merge that stops after step 1 is finished
// by the next controller, which sees merging_into in R's meta entry.

// SubsumeResult is R's final state, as the subsume entry left it.
type SubsumeResult struct {
	Desc        *kvpb.RangeDescriptor
	Applied     uint64
	LastTS      engine.Timestamp
	GCThreshold engine.Timestamp
}

// Subsume freezes this range (the right-hand side) for a merge into
// intoID, or confirms that it already is; it returns the state that the
// merge carries over. Only the leader proposes.
func (r *Replica) Subsume(ctx context.Context, intoID uint64) (*SubsumeResult, error) {
	if !r.group.IsLeader() {
		return nil, r.notLeader()
	}
	desc := r.Desc()
	if desc == nil {
		return nil, kvpb.NewRangeNotFound(r.id)
	}
	if desc.MergingInto != 0 && desc.MergingInto != intoID {
		return nil, kvpb.NewInvalid("r%d is being merged into r%d, not r%d", r.id, desc.MergingInto, intoID)
	}
	if desc.MergingInto == 0 {
		d := proto.Clone(desc).(*kvpb.RangeDescriptor)
		d.Generation++
		d.MergingInto = intoID
		if _, err := r.propose(ctx, &kvpb.Command{Subsume: &kvpb.SubsumeTrigger{Desc: d}}); err != nil {
			return nil, err
		}
	} else if err := r.ensureLeaseholder(ctx); err != nil {
		// Already frozen (a merge being finished): make sure this leader
		// has applied the freeze before reporting the final state.
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return &SubsumeResult{Desc: proto.Clone(r.mu.desc).(*kvpb.RangeDescriptor), Applied: r.mu.applied,
		LastTS: r.mu.lastTS, GCThreshold: r.mu.gcThreshold}, nil
}

// Merge extends this range (the left-hand side) over the frozen right-hand
// range described by right; it returns the merged descriptor once applied
// here.
func (r *Replica) Merge(ctx context.Context, right *SubsumeResult) (*kvpb.RangeDescriptor, error) {
	if !r.group.IsLeader() {
		return nil, r.notLeader()
	}
	desc := r.Desc()
	if desc == nil {
		return nil, kvpb.NewRangeNotFound(r.id)
	}
	rd := right.Desc
	if rd.MergingInto != r.id || !bytes.Equal(desc.EndKey, rd.StartKey) {
		return nil, kvpb.NewInvalid("r%d [%q, %q) cannot absorb r%d [%q, %q) (merging into r%d)",
			r.id, desc.StartKey, desc.EndKey, rd.RangeId, rd.StartKey, rd.EndKey, rd.MergingInto)
	}
	left := proto.Clone(desc).(*kvpb.RangeDescriptor)
	left.EndKey = append([]byte(nil), rd.EndKey...)
	left.Generation = max(desc.Generation, rd.Generation) + 1
	cmd := &kvpb.Command{Merge: &kvpb.MergeTrigger{Left: left, Right: rd, RightApplied: right.Applied,
		RightLastTs: uint64(right.LastTS), RightGcThreshold: uint64(right.GCThreshold)}}
	if _, err := r.propose(ctx, cmd); err != nil {
		return nil, err
	}
	return left, nil
}

// frozen reports whether the range is being merged away (nil if not).
func frozen(d *kvpb.RangeDescriptor, id uint64) *kvpb.Error {
	if d != nil && d.MergingInto != 0 {
		return kvpb.NewRangeNotFound(id)
	}
	return nil
}

func (a *applier) applySubsume(t *kvpb.SubsumeTrigger) *ApplyResult {
	cur, d := a.desc, t.Desc
	if d.GetRangeId() != cur.RangeId || d.Generation <= cur.Generation || d.MergingInto == 0 || cur.MergingInto != 0 ||
		!bytes.Equal(d.StartKey, cur.StartKey) || !bytes.Equal(d.EndKey, cur.EndKey) {
		return &ApplyResult{Err: kvpb.NewInvalid("subsume gen %d does not follow gen %d of r%d", d.GetGeneration(), cur.Generation, cur.RangeId)}
	}
	enc, err := proto.Marshal(d)
	a.must(err, "encode descriptor")
	a.must(a.batch().Put(DescriptorKey(a.r.id), enc), "descriptor")
	a.desc = d
	return &ApplyResult{}
}

func (a *applier) applyMerge(t *kvpb.MergeTrigger) *ApplyResult {
	cur, left, right := a.desc, t.Left, t.Right
	if left.GetRangeId() != cur.RangeId || left.Generation <= cur.Generation || cur.MergingInto != 0 ||
		right.GetMergingInto() != cur.RangeId || !bytes.Equal(cur.EndKey, right.StartKey) ||
		!bytes.Equal(left.StartKey, cur.StartKey) || !bytes.Equal(left.EndKey, right.EndKey) {
		return &ApplyResult{Err: kvpb.NewInvalid("merge of r%d into r%d (gen %d) does not match [%q, %q) gen %d",
			right.GetRangeId(), cur.RangeId, left.GetGeneration(), cur.StartKey, cur.EndKey, cur.Generation)}
	}
	// Everything before this entry goes into the engine, with the applied
	// index just before it (see ApplyBatch): the right-hand data must be
	// final on this node before the span becomes ours, and a crash, or a
	// snapshot exported, during the wait must not find this entry's index
	// with the descriptor from before it (the merge would then never be
	// applied).
	a.flush()
	if w := a.r.cfg.WaitMerge; w != nil {
		if err := w(right.RangeId, t.RightApplied); err != nil {
			// The node is shutting down before its replica of the right
			// caught up: stop applying, so that the restart applies this
			// entry again.
			a.halted = true
			a.r.log.Warn("merge not applied before shutdown", "right", right.RangeId, "err", err)
			return &ApplyResult{Err: kvpb.NewUnavailable("r%d: shutting down during a merge", a.r.id)}
		}
	}
	b := a.batch()
	enc, err := proto.Marshal(left)
	a.must(err, "encode descriptor")
	a.must(b.Put(DescriptorKey(a.r.id), enc), "descriptor")
	a.must(b.Delete(DescriptorKey(right.RangeId)), "right-hand descriptor")
	if ts := engine.Timestamp(t.RightLastTs); ts > a.lastTS {
		a.lastTS = ts
	}
	if g := engine.Timestamp(t.RightGcThreshold); g > a.gcThreshold {
		a.gcThreshold = g
		a.must(b.Put(gcKey(a.r.id), binary.BigEndian.AppendUint64(nil, uint64(g))), "gc threshold")
	}
	a.desc = left
	a.merged = append(a.merged, right.RangeId)
	a.done = a.index
	a.flush()
	a.r.load.Reset()
	return &ApplyResult{}
}
