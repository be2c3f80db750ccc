package server

import (
	"context"

	"github.com/shardingsystem/shard/engine"
)

// gcOnce garbage-collects MVCC versions older than the retention window on
// every range this node leads (see range/replica/gc.go).
func (s *Server) gcOnce(ctx context.Context) {
	now, err := s.kv.Now(ctx)
	if err != nil {
		s.log.Debug("gc: no timestamp", "err", err)
		return
	}
	threshold := engine.MakeTimestamp(now.Physical()-s.cfg.MVCCRetention.Milliseconds(), 0)
	if threshold.Physical() <= 0 {
		return
	}
	for _, rep := range s.store.list() {
		if !rep.Group().IsLeader() {
			continue
		}
		n, err := rep.GC(ctx, threshold)
		if err != nil {
			s.log.Debug("gc", "range", rep.RangeID(), "err", err)
			continue
		}
		if n > 0 {
			s.log.Debug("gc done", "range", rep.RangeID(), "keys", n, "threshold", threshold)
		}
	}
}
