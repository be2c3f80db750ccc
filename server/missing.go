package server

import (
	"context"
	"sync"
	"time"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
	"github.com/shardingsystem/shard/serverpb"
)

// missingReplicas creates, on demand, a replica that this node should hold
// but does not know: raft traffic arrives for a range that the meta range
// says has a replica here (the node was down when the split that created
// the range happened, and caught up on the left-hand side by snapshot, so it
// never applied the split). The replica is created empty, without
// bootstrapping, and catches up from its leader by log or snapshot.
//
// It refuses when a local replica still overlaps the range's span: that
// replica has not applied the split yet, and will create the range itself
// when it does. It refuses before asking the leader for a snapshot, so a
// replica that is only slow to apply the split is not sent one.
type missingReplicas struct {
	s *Server

	mu struct {
		sync.Mutex
		// refused remembers recent negative answers so a leader's retries
		// do not turn into a meta scan each.
		refused map[replication.GroupID]time.Time
	}
}

const missingRetryAfter = 2 * time.Second

func newMissingReplicas(s *Server) *missingReplicas {
	m := &missingReplicas{s: s}
	m.mu.refused = map[replication.GroupID]time.Time{}
	return m
}

// handle is the hub's unknown-group handler; see replication.Hub.
func (m *missingReplicas) handle(id replication.GroupID) bool {
	m.mu.Lock()
	if t, ok := m.mu.refused[id]; ok && time.Since(t) < missingRetryAfter {
		m.mu.Unlock()
		return false
	}
	m.mu.Unlock()
	ok := m.create(id)
	if !ok {
		m.mu.Lock()
		m.mu.refused[id] = time.Now()
		for k, t := range m.mu.refused {
			if time.Since(t) > missingRetryAfter {
				delete(m.mu.refused, k)
			}
		}
		m.mu.Unlock()
	}
	return ok
}

func (m *missingReplicas) create(id replication.GroupID) bool {
	s := m.s
	if s.store == nil {
		return false
	}
	ctx, cancel := context.WithTimeout(s.ctx, 2*time.Second)
	defer cancel()
	descs, err := s.meta.Descriptors(ctx)
	if err != nil {
		return false
	}
	var desc *kvpb.RangeDescriptor
	for _, d := range descs {
		if d.RangeId == uint64(id) && d.HasReplica(s.id.NodeID) {
			desc = d
		}
	}
	if desc == nil {
		return false
	}
	// A local replica in the way that meta does not call stale has not
	// applied the split that made the range yet, and will open it itself
	// when it does: refuse before the leader truncates its log for a
	// snapshot that replica would then be sent for nothing. (createReplica
	// checks again, and collects a stale one.)
	for _, r := range s.store.overlapping(desc) {
		if !maybeStale(r, descs, s.id.NodeID) {
			return false
		}
	}
	// The leader must bring the new replica up by snapshot: the range's log
	// does not hold what it inherited from a split.
	err = sendToLeader(ctx, s, desc, func(cl serverpb.InternalClient) (*kvpb.Error, error) {
		resp, err := cl.AdminPrepareReplica(ctx, &serverpb.AdminPrepareReplicaRequest{RangeId: desc.RangeId})
		return resp.GetError(), err
	})
	if err != nil {
		s.log.Debug("missing replica: the leader did not prepare a snapshot", "range", id, "err", err)
		return false
	}
	if _, err := s.store.createReplica(desc, s.collector(ctx)); err != nil {
		s.log.Debug("create missing replica", "range", id, "err", err)
		return false
	}
	s.log.Info("created missing replica", "range", id)
	return true
}
