package server

import (
	"context"
	"sync"
	"time"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/range/loadstats"
	"github.com/shardingsystem/shard/range/replica"
	"github.com/shardingsystem/shard/serverpb"
)

// Load reports: every ReportInterval each node sends the controller (the
// meta range's leader) one ReportLoad with the load of every range it leads;
// the report is also the node's heartbeat, so a node leading nothing still
// sends one.
//
// A range's size comes from a scan of its span (replica.SpanStats), which
// is too costly to repeat every second: it is cached per range generation
// and redone when the bytes written since would have grown the range by a
// quarter (and by a sixteenth of the size limit at least), or after
// sizeRescanAfter. Between
// scans the size is the scanned size plus the bytes written since: never an
// underestimate of growth, so a range being loaded splits in time.

const sizeRescanAfter = time.Minute

// sizeCache remembers the last scan of each range.
type sizeCache struct {
	// slack is the growth below which a range is never rescanned.
	slack   uint64
	mu      sync.Mutex
	entries map[uint64]*sizeEntry
}

type sizeEntry struct {
	gen   uint64
	at    time.Time
	stats replica.SpanStats
	// written is the replica's Written() at the scan.
	written uint64
}

func newSizeCache(maxBytes uint64) *sizeCache {
	return &sizeCache{slack: max(maxBytes/16, 16<<10), entries: map[uint64]*sizeEntry{}}
}

// size returns the range's estimated size, scanning when the cached scan is
// too old or the range has grown too much since.
func (c *sizeCache) size(rep *replica.Replica, gen uint64, now time.Time) (replica.SpanStats, uint64, error) {
	written := rep.Written()
	c.mu.Lock()
	e := c.entries[rep.RangeID()]
	if e != nil && e.gen == gen {
		since := written - e.written
		grown := since > max(e.stats.Bytes()/4, c.slack)
		if !grown && now.Sub(e.at) < sizeRescanAfter {
			st, est := e.stats, e.stats.Bytes()+since
			c.mu.Unlock()
			return st, est, nil
		}
	}
	c.mu.Unlock()
	st, err := rep.SpanStats(keys.ShardBoundary)
	if err != nil {
		return st, 0, err
	}
	c.mu.Lock()
	c.entries[rep.RangeID()] = &sizeEntry{gen: gen, at: now, stats: st, written: written}
	c.mu.Unlock()
	return st, st.Bytes(), nil
}

// forget drops ranges this node no longer leads.
func (c *sizeCache) forget(keep map[uint64]bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id := range c.entries {
		if !keep[id] {
			delete(c.entries, id)
		}
	}
}

// rangeLoad builds the report of one range this node leads.
func (s *Server) rangeLoad(rep *replica.Replica, d *kvpb.RangeDescriptor, now time.Time) *serverpb.RangeLoad {
	ld := rep.Load(now)
	split := loadstats.FindSplit(ld.Samples, d.StartKey, d.EndKey, keys.ShardBoundary)
	out := &serverpb.RangeLoad{
		RangeId: d.RangeId, Generation: d.Generation, LeaderNodeId: s.NodeID(),
		ReadsPerSec: ld.ReadsPerSec, WritesPerSec: ld.WritesPerSec, WriteBytesPerSec: ld.WriteBytesPerSec, CpuPerSec: ld.CPUPerSec,
		LoadSplitKey: split.Key, LoadSplitBalance: split.Balance, HotBlock: split.HotBlock, HotShare: split.HotShare,
		Samples: uint32(split.Samples),
	}
	if t := rep.SplitAt(); !t.IsZero() {
		out.SplitAtUnixNanos = t.UnixNano()
	}
	st, est, err := s.sizes.size(rep, d.Generation, now)
	if err != nil {
		s.log.Debug("range size", "range", d.RangeId, "err", err)
		return out
	}
	out.Bytes, out.Keys = est, st.Keys
	if est > s.cfg.Controller.RangeMaxBytes {
		if st.Bytes() < est {
			// The estimate, not the last scan, crossed the limit: scan now
			// for a middle key that reflects the new data.
			s.sizes.mu.Lock()
			delete(s.sizes.entries, d.RangeId)
			s.sizes.mu.Unlock()
			if st, err = rep.SpanStats(keys.ShardBoundary); err == nil {
				out.Bytes, out.Keys = max(est, st.Bytes()), st.Keys
			}
		}
		out.SizeSplitKey = st.MidKey
	}
	return out
}

// reportLoad sends this node's report to the controller.
func (s *Server) reportLoad(ctx context.Context) {
	now := time.Now()
	req := &serverpb.ReportLoadRequest{NodeId: s.NodeID()}
	led := map[uint64]bool{}
	for _, rep := range s.store.list() {
		d := rep.Desc()
		if d == nil || !rep.Group().IsLeader() {
			continue
		}
		led[d.RangeId] = true
		req.Ranges = append(req.Ranges, s.rangeLoad(rep, d, now))
	}
	s.sizes.forget(led)
	if kerr := s.ctl.receive(req); kerr == nil {
		return // this node runs the controller
	}
	err := s.callController(ctx, 2*time.Second, func(ctx context.Context, cl serverpb.InternalClient) (*kvpb.Error, error) {
		resp, err := cl.ReportLoad(ctx, req)
		return resp.GetError(), err
	})
	if err != nil {
		s.log.Debug("report load", "err", err)
	}
}
