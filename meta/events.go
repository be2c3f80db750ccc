package meta

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
)

// MaxEvents bounds the controller events kept in the meta range; TrimEvents
// drops the oldest beyond it.
const MaxEvents = 2000

// AppendEvents writes events in one batch (one raft command of the meta
// range). Each event's key is its time and reporter, so events recorded in
// the same nanosecond by one node must differ in time: the caller stamps
// them (StampEvents).
func (m *Meta) AppendEvents(ctx context.Context, events []*kvpb.Event) error {
	if len(events) == 0 {
		return nil
	}
	reqs := make([]*kvpb.Request, 0, len(events))
	for _, e := range events {
		v, err := proto.Marshal(e)
		if err != nil {
			return err
		}
		reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: keys.EventKey(e.UnixNanos, e.Reporter), Value: v}}})
	}
	_, err := m.db.Send(ctx, keys.MetaMin, reqs)
	return err
}

// StampEvents gives events strictly increasing times from now on, after
// last (the time of the previous event the caller stamped); it returns the
// last time used.
func StampEvents(events []*kvpb.Event, now, last int64) int64 {
	for _, e := range events {
		if now <= last {
			now = last + 1
		}
		e.UnixNanos = now
		last = now
	}
	return last
}

// Events returns the newest limit events (all when limit is 0), oldest
// first; rangeID, when not 0, keeps only that range's.
func (m *Meta) Events(ctx context.Context, rangeID uint64, limit int) ([]*kvpb.Event, error) {
	start, end := keys.EventSpan()
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	var out []*kvpb.Event
	for _, r := range rows {
		e := &kvpb.Event{}
		if err := proto.Unmarshal(r.Value, e); err != nil {
			return nil, fmt.Errorf("%w: event at %s: %v", ErrCorrupt, keys.Pretty(r.Key), err)
		}
		if rangeID != 0 && e.RangeId != rangeID {
			continue
		}
		out = append(out, e)
	}
	if limit > 0 && len(out) > limit {
		out = out[len(out)-limit:]
	}
	return out, nil
}

// TrimEvents deletes the oldest events beyond keep; it returns how many it
// deleted.
func (m *Meta) TrimEvents(ctx context.Context, keep int) (int, error) {
	start, end := keys.EventSpan()
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil || len(rows) <= keep {
		return 0, err
	}
	drop := rows[:len(rows)-keep]
	reqs := make([]*kvpb.Request, 0, len(drop))
	for _, r := range drop {
		reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: r.Key}}})
	}
	if _, err := m.db.Send(ctx, keys.MetaMin, reqs); err != nil {
		return 0, err
	}
	return len(drop), nil
}

// SetNodeState records what an operator asked of a node (drain,
// decommission) in its record, by a conditional put on the record read.
func (m *Meta) SetNodeState(ctx context.Context, id uint64, state kvpb.NodeState) (*kvpb.NodeDescriptor, error) {
	k := keys.NodeKey(id)
	for {
		cur, found, err := m.db.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("meta: no node n%d", id)
		}
		n := &kvpb.NodeDescriptor{}
		if err := proto.Unmarshal(cur, n); err != nil {
			return nil, fmt.Errorf("%w: node record n%d: %v", ErrCorrupt, id, err)
		}
		if n.State == state {
			return n, nil
		}
		n.State = state
		v, err := proto.Marshal(n)
		if err != nil {
			return nil, err
		}
		err = m.db.CPut(ctx, k, v, cur, true)
		if err == nil {
			return n, nil
		}
		if !IsConditionFailed(err) || ctx.Err() != nil {
			return nil, err
		}
	}
}
