package server

import (
	"context"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/meta"
)

// splitRange splits range id, which this node must lead, at key: a split
// command in the range's log (the commit point), then one meta batch that
// writes both new descriptors atomically. If the node dies between the two,
// the leaders' meta sync (syncMeta) writes the descriptors later; until then
// clients are told the key is outside the old range and retry.
//
// sticky marks the boundary as manual: the controller never merges it away.
func (s *Server) splitRange(ctx context.Context, id uint64, key []byte, sticky bool) (left, right *kvpb.RangeDescriptor, err error) {
	rep := s.replica(id)
	if rep == nil {
		return nil, nil, kvpb.NewRangeNotFound(id)
	}
	if id == meta.MetaRangeID {
		return nil, nil, kvpb.NewInvalid("the meta range is never split")
	}
	if err := keys.ValidateUserKey(key); err != nil {
		return nil, nil, kvpb.NewInvalid("split key: %v", err)
	}
	if !rep.Group().IsLeader() {
		id, addr := rep.Group().Leader()
		return nil, nil, kvpb.NewNotLeader(id, string(addr))
	}
	rightID, err := s.meta.AllocateID(ctx, meta.CounterRangeID)
	if err != nil {
		return nil, nil, kvpb.NewUnavailable("allocate range id: %v", err)
	}
	left, right, err = rep.Split(ctx, key, rightID, sticky)
	if err != nil {
		return nil, nil, err
	}
	s.log.Info("split range", "range", id, "key", keys.Pretty(key), "right", rightID)
	err = s.meta.WriteDescriptors(ctx, left, right)
	s.kv.EvictRange(left)
	s.kv.EvictRange(right)
	if err != nil {
		s.log.Warn("meta update after split failed; meta sync will repair it", "range", id, "err", err)
	}
	return left, right, nil
}

// syncMeta makes the meta entry of a range this node leads match its
// descriptor (see meta.Meta.SyncDescriptor).
func (s *Server) syncMeta(ctx context.Context, d *kvpb.RangeDescriptor) error {
	wrote, err := s.meta.SyncDescriptor(ctx, d)
	if wrote {
		s.log.Info("meta descriptor repaired", "range", d.RangeId, "generation", d.Generation)
		s.kv.EvictRange(d)
	}
	return err
}

// refreshNodes teaches the kv client every node's address.
func (s *Server) refreshNodes(ctx context.Context) {
	nodes, err := s.meta.Nodes(ctx)
	if err != nil {
		s.log.Debug("refresh nodes", "err", err)
		return
	}
	for _, n := range nodes {
		s.kv.SetNodeAddr(n.NodeId, n.RpcAddr)
	}
}
