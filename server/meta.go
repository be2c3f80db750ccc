package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kv"
	"github.com/shardingsystem/shard/kvpb"
)

// splitRange splits range id, which this node must lead, at key: a split
// command in the range's log (the commit point), then one meta batch that
// writes both new descriptors atomically. If the node dies between the two,
// the leaders' meta sync (syncMeta) writes the descriptors later; until then
// clients are told the key is outside the old range and retry.
func (s *Server) splitRange(ctx context.Context, id uint64, key []byte) (left, right *kvpb.RangeDescriptor, err error) {
	rep := s.replica(id)
	if rep == nil {
		return nil, nil, kvpb.NewRangeNotFound(id)
	}
	if id == metaRangeID {
		return nil, nil, kvpb.NewInvalid("the meta range is never split")
	}
	if err := keys.ValidateUserKey(key); err != nil {
		return nil, nil, kvpb.NewInvalid("split key: %v", err)
	}
	if !rep.Group().IsLeader() {
		id, addr := rep.Group().Leader()
		return nil, nil, kvpb.NewNotLeader(id, string(addr))
	}
	rightID, err := s.allocateID(ctx, counterRangeID)
	if err != nil {
		return nil, nil, kvpb.NewUnavailable("allocate range id: %v", err)
	}
	left, right, err = rep.Split(ctx, key, rightID)
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("split range", "range", id, "key", keys.Pretty(key), "right", rightID)
	if err := s.writeDescriptors(ctx, left, right); err != nil {
		s.log.Warn("meta update after split failed; meta sync will repair it", "range", id, "err", err)
	}
	return left, right, nil
}

// writeDescriptors writes descriptors into the meta range in one batch,
// which is one raft command of the meta range: all or nothing.
func (s *Server) writeDescriptors(ctx context.Context, descs ...*kvpb.RangeDescriptor) error {
	reqs := make([]*kvpb.Request, 0, len(descs))
	for _, d := range descs {
		v, err := proto.Marshal(d)
		if err != nil {
			return err
		}
		reqs = append(reqs, &kvpb.Request{Value: &kvpb.Request_Put{Put: &kvpb.PutRequest{Key: keys.RangeDescriptorKey(d.EndKey), Value: v}}})
	}
	_, err := s.kv.Send(ctx, keys.MetaMin, reqs)
	for _, d := range descs {
		s.kv.EvictRange(d)
	}
	return err
}

// syncMeta makes the meta range agree with a descriptor this node's leader
// replica holds: each leader is the authority for its own range's entry.
// A conditional put on the value read guards against racing writers; an
// entry of the same range with a newer generation is never replaced.
func (s *Server) syncMeta(ctx context.Context, d *kvpb.RangeDescriptor) error {
	k := keys.RangeDescriptorKey(d.EndKey)
	cur, found, err := s.kv.Get(ctx, k)
	if err != nil {
		return err
	}
	want, err := proto.Marshal(d)
	if err != nil {
		return err
	}
	if found {
		old := &kvpb.RangeDescriptor{}
		if err := proto.Unmarshal(cur, old); err == nil {
			if proto.Equal(old, d) {
				return nil
			}
			if old.RangeId == d.RangeId && old.Generation > d.Generation {
				return nil
			}
		}
	}
	err = s.kv.CPut(ctx, k, want, cur, found)
	if errors.Is(err, kv.ErrConditionFailed) {
		return nil // someone else wrote; the next round looks again
	}
	if err == nil {
		s.log.Info("meta descriptor repaired", "range", d.RangeId, "generation", d.Generation)
		s.kv.EvictRange(d)
	}
	return err
}

// metaDescriptors reads every range descriptor from the meta range.
func (s *Server) metaDescriptors(ctx context.Context) ([]*kvpb.RangeDescriptor, error) {
	start, end := keys.RangeDescriptorSpan()
	rows, err := s.kv.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*kvpb.RangeDescriptor, 0, len(rows))
	for _, r := range rows {
		d := &kvpb.RangeDescriptor{}
		if err := proto.Unmarshal(r.Value, d); err != nil {
			return nil, fmt.Errorf("server: corrupt descriptor at %s: %w", keys.Pretty(r.Key), err)
		}
		if !bytes.Equal(keys.RangeDescriptorKey(d.EndKey), r.Key) {
			return nil, fmt.Errorf("server: descriptor of r%d stored at %s", d.RangeId, keys.Pretty(r.Key))
		}
		out = append(out, d)
	}
	return out, nil
}

// metaNodes reads every node record.
func (s *Server) metaNodes(ctx context.Context) ([]*kvpb.NodeDescriptor, error) {
	start, end := keys.NodeSpan()
	rows, err := s.kv.Scan(ctx, start, end, 0)
	if err != nil {
		return nil, err
	}
	out := make([]*kvpb.NodeDescriptor, 0, len(rows))
	for _, r := range rows {
		n := &kvpb.NodeDescriptor{}
		if err := proto.Unmarshal(r.Value, n); err != nil {
			return nil, fmt.Errorf("server: corrupt node record at %s: %w", keys.Pretty(r.Key), err)
		}
		out = append(out, n)
	}
	return out, nil
}

// refreshNodes teaches the kv client every node's address.
func (s *Server) refreshNodes(ctx context.Context) {
	nodes, err := s.metaNodes(ctx)
	if err != nil {
		s.log.Debug("refresh nodes", "err", err)
		return
	}
	for _, n := range nodes {
		s.kv.SetNodeAddr(n.NodeId, n.RpcAddr)
	}
}
