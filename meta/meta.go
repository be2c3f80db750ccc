package meta

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
)

// DB is the access to the meta range that this package needs; the kv
// client implements it. A failed condition must come back as an error that
// wraps a *kvpb.Error with a ConditionFailed detail.
type DB interface {
	Get(ctx context.Context, key []byte) ([]byte, bool, error)
	Put(ctx context.Context, key, value []byte) error
	CPut(ctx context.Context, key, value, expected []byte, expectedExists bool) error
	Delete(ctx context.Context, key []byte) (bool, error)
	Scan(ctx context.Context, start, end []byte, limit int) ([]*kvpb.KeyValue, error)
	Send(ctx context.Context, key []byte, reqs []*kvpb.Request) (*kvpb.BatchResponse, error)
}

// Counters that hand out ids. Each holds the last id handed out.
const (
	CounterRangeID = "last-range-id"
	CounterNodeID  = "last-node-id"
)

// Fixed ranges of every cluster.
const (
	MetaRangeID      = 1
	FirstUserRangeID = 2
)

// ErrCorrupt is returned when a meta record cannot be decoded.
var ErrCorrupt = errors.New("meta: corrupt record")

// Meta reads and writes the meta range's records. Safe for concurrent use.
type Meta struct{ db DB }

// New returns a Meta over db.
func New(db DB) *Meta { return &Meta{db: db} }

// IsConditionFailed reports whether err is a failed conditional write.
func IsConditionFailed(err error) bool {
	var kerr *kvpb.Error
	return errors.As(err, &kerr) && kerr.GetConditionFailed() != nil
}

// InitialDescriptors are the two ranges a new cluster starts with: the meta
// range and one user range covering all user keys, both on the first node.
func InitialDescriptors(first *kvpb.ReplicaDescriptor) []*kvpb.RangeDescriptor {
	return []*kvpb.RangeDescriptor{
		{RangeId: MetaRangeID, StartKey: keys.MetaMin, EndKey: keys.MetaMax, Generation: 1, Replicas: []*kvpb.ReplicaDescriptor{first}},
		{RangeId: FirstUserRangeID, StartKey: keys.UserMin, EndKey: keys.KeyMax, Generation: 1, Replicas: []*kvpb.ReplicaDescriptor{first}},
	}
}

// Bootstrap writes the records of a new cluster: the initial descriptors,
// the first node and the id counters. It is idempotent: records already
// present (a crash halfway through) are left as they are.
func (m *Meta) Bootstrap(ctx context.Context, descs []*kvpb.RangeDescriptor, node *kvpb.NodeDescriptor) error {
	putNew := func(k []byte, v []byte) error {
		err := m.db.CPut(ctx, k, v, nil, false)
		if IsConditionFailed(err) {
			return nil
		}
		return err
	}
	for _, d := range descs {
		v, err := proto.Marshal(d)
		if err != nil {
			return err
		}
		if err := putNew(keys.RangeDescriptorKey(d.EndKey), v); err != nil {
			return fmt.Errorf("meta: bootstrap descriptor r%d: %w", d.RangeId, err)
		}
	}
	nv, err := proto.Marshal(node)
	if err != nil {
		return err
	}
	if err := putNew(keys.NodeKey(node.NodeId), nv); err != nil {
		return fmt.Errorf("meta: bootstrap node: %w", err)
	}
	var lastRange uint64
	for _, d := range descs {
		lastRange = max(lastRange, d.RangeId)
	}
	for name, v := range map[string]uint64{CounterRangeID: lastRange, CounterNodeID: node.NodeId} {
		if err := putNew(keys.SystemKey(name), binary.BigEndian.AppendUint64(nil, v)); err != nil {
			return fmt.Errorf("meta: bootstrap counter %s: %w", name, err)
		}
	}
	return nil
}

// AllocateID increments a counter with a conditional put and returns the
// new value. Ids are never handed out twice.
func (m *Meta) AllocateID(ctx context.Context, counter string) (uint64, error) {
	k := keys.SystemKey(counter)
	for {
		cur, found, err := m.db.Get(ctx, k)
		if err != nil {
			return 0, err
		}
		if !found || len(cur) != 8 {
			return 0, fmt.Errorf("%w: counter %s missing or malformed", ErrCorrupt, counter)
		}
		next := binary.BigEndian.Uint64(cur) + 1
		err = m.db.CPut(ctx, k, binary.BigEndian.AppendUint64(nil, next), cur, true)
		if err == nil {
			return next, nil
		}
		if !IsConditionFailed(err) {
			return 0, err
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
	}
}

// Descriptors returns every range descriptor, in key order.
func (m *Meta) Descriptors(ctx context.Context) ([]*kvpb.RangeDescriptor, error) {
	start, end := keys.RangeDescriptorSpan()
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*kvpb.RangeDescriptor, 0, len(rows))
	for _, r := range rows {
		d, err := DecodeDescriptor(r.Key, r.Value)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// DecodeDescriptor decodes the descriptor stored at key and checks that it
// is stored where it belongs (at its end key).
func DecodeDescriptor(key, value []byte) (*kvpb.RangeDescriptor, error) {
	d := &kvpb.RangeDescriptor{}
	if err := proto.Unmarshal(value, d); err != nil {
		return nil, fmt.Errorf("%w: descriptor at %s: %v", ErrCorrupt, keys.Pretty(key), err)
	}
	if !bytes.Equal(keys.RangeDescriptorKey(d.EndKey), key) {
		return nil, fmt.Errorf("%w: descriptor of r%d stored at %s", ErrCorrupt, d.RangeId, keys.Pretty(key))
	}
	return d, nil
}

// Nodes returns every node record, by node id.
func (m *Meta) Nodes(ctx context.Context) ([]*kvpb.NodeDescriptor, error) {
	start, end := keys.NodeSpan()
	rows, err := m.db.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*kvpb.NodeDescriptor, 0, len(rows))
	for _, r := range rows {
		n := &kvpb.NodeDescriptor{}
		if err := proto.Unmarshal(r.Value, n); err != nil {
			return nil, fmt.Errorf("%w: node record at %s: %v", ErrCorrupt, keys.Pretty(r.Key), err)
		}
		out = append(out, n)
	}
	return out, nil
}

// PutNode writes a node record.
func (m *Meta) PutNode(ctx context.Context, n *kvpb.NodeDescriptor) error {
	v, err := proto.Marshal(n)
	if err != nil {
		return err
	}
	return m.db.Put(ctx, keys.NodeKey(n.NodeId), v)
}

// WriteDescriptors writes descriptors in one batch to the meta range, which
// is one raft command there: all of them or none.
func (m *Meta) WriteDescriptors(ctx context.Context, descs ...*kvpb.RangeDescriptor) error {
	reqs := make([]*kvpb.Request, 0, len(descs))
	for _, d := range descs {
		v, err := proto.Marshal(d)
		if err != nil {
			return err
		}
		reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: keys.RangeDescriptorKey(d.EndKey), Value: v}}})
	}
	_, err := m.db.Send(ctx, keys.MetaMin, reqs)
	return err
}

// MergeDescriptors records a merge in one batch: the left-hand range's
// entry moves from its old end key to the merged descriptor's end key
// (where it replaces the right-hand range's entry).
func (m *Meta) MergeDescriptors(ctx context.Context, oldLeftEnd []byte, merged *kvpb.RangeDescriptor) error {
	v, err := proto.Marshal(merged)
	if err != nil {
		return err
	}
	_, err = m.db.Send(ctx, keys.MetaMin, []*kvpb.Request{
		{Value: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: keys.RangeDescriptorKey(oldLeftEnd)}}},
		{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: keys.RangeDescriptorKey(merged.EndKey), Value: v}}},
	})
	return err
}

// SyncDescriptor makes the meta entry at d's end key equal d, unless it
// holds a newer generation of the same range. The caller must be the
// range's leader: each leader is the authority for its own entry. It
// reports whether it wrote.
func (m *Meta) SyncDescriptor(ctx context.Context, d *kvpb.RangeDescriptor) (bool, error) {
	k := keys.RangeDescriptorKey(d.EndKey)
	cur, found, err := m.db.Get(ctx, k)
	if err != nil {
		return false, err
	}
	if found {
		if old, err := DecodeDescriptor(k, cur); err == nil && !ShouldReplace(old, d) {
			return false, nil
		}
	}
	want, err := proto.Marshal(d)
	if err != nil {
		return false, err
	}
	err = m.db.CPut(ctx, k, want, cur, found)
	if IsConditionFailed(err) {
		return false, nil // a racing writer; the next round looks again
	}
	if err != nil {
		return false, err
	}
	return true, m.dropStale(ctx, d)
}

// dropStale deletes the entries that an older generation of d's range left
// inside d's span: after a merge whose meta batch was lost, the left-hand
// range's old entry still sits at its old end key. Range ids are never
// reused, so an entry of the same range with a lower generation is stale.
func (m *Meta) dropStale(ctx context.Context, d *kvpb.RangeDescriptor) error {
	start := append(keys.RangeDescriptorKey(d.StartKey), 0)
	rows, err := m.db.Scan(ctx, start, keys.RangeDescriptorKey(d.EndKey), 0)
	if err != nil {
		return err
	}
	var reqs []*kvpb.Request
	for _, r := range rows {
		old, err := DecodeDescriptor(r.Key, r.Value)
		if err == nil && old.RangeId == d.RangeId && old.Generation < d.Generation {
			reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Delete{Delete: &kvpb.DeleteRequest{Key: r.Key}}})
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	_, err = m.db.Send(ctx, keys.MetaMin, reqs)
	return err
}

// ShouldReplace decides whether the meta entry old gives way to the leader's
// descriptor d stored under the same key: always, unless they are equal or
// old is a newer generation of the same range.
func ShouldReplace(old, d *kvpb.RangeDescriptor) bool {
	if proto.Equal(old, d) {
		return false
	}
	if d.MergingInto != 0 && old.RangeId == d.MergingInto {
		// The merge is recorded: the frozen range's leader, still alive
		// for a moment, must not bring it back.
		return false
	}
	return old.RangeId != d.RangeId || old.Generation <= d.Generation
}
