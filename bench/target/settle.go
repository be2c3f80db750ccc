package target

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/client"
)

// How Shard.Settle waits: it reads every running node's store activity
// each settlePoll, and is done when none has run or finished a flush or
// compaction for settleQuiet; it stops waiting after settleMax.
const (
	settlePoll  = 250 * time.Millisecond
	settleQuiet = 2 * time.Second
	settleMax   = 5 * time.Minute
)

// storeWork is one node's store activity at one reading: the flushes and
// compactions running and the sstable bytes they have written so far.
type storeWork struct {
	running float64
	written float64
}

// idle reports whether no store worked between two readings of the same
// nodes: none is flushing or compacting now, and none finished a flush or
// compaction since (its sstable bytes did not grow).
func idle(prev, cur []storeWork) bool {
	if len(prev) != len(cur) {
		return false // a node stopped or started: read again
	}
	for i, c := range cur {
		if c.running != 0 || c.written != prev[i].written {
			return false
		}
	}
	return true
}

// Settle has every node flush its store (POST /debug/store/flush) and
// waits until no store is flushing or compacting (bench.Settler). A load
// of 100,000 rows passes through every node's memtables twice (raft log
// and rows) and stays there until a memtable fills: a run started at
// once paid for flushing and compacting the load (docs/benchmarks.md,
// nineteenth round). If the stores are still busy after settleMax,
// Settle logs it and returns, and the run measures whatever they do.
func (s *Shard) Settle(ctx context.Context) error {
	for _, n := range s.c.Nodes() {
		if !n.Running() {
			continue
		}
		if err := client.New("http://"+n.HTTPAddr, s.adminToken).FlushStore(ctx); err != nil {
			return fmt.Errorf("target: %s flush: %w", n.Name, err)
		}
	}
	var prev []storeWork
	quietSince, deadline := time.Time{}, time.Now().Add(settleMax)
	for {
		cur, err := s.storeWork(ctx)
		if err != nil {
			return err
		}
		now := time.Now()
		switch {
		case !idle(prev, cur):
			quietSince = time.Time{}
		case quietSince.IsZero():
			quietSince = now
		case now.Sub(quietSince) >= settleQuiet:
			return nil
		}
		if now.After(deadline) {
			s.logf("the nodes' stores were still flushing or compacting after %v; measuring anyway", settleMax)
			return nil
		}
		prev = cur
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(settlePoll):
		}
	}
}

// storeWork reads the store activity of every running node.
func (s *Shard) storeWork(ctx context.Context) ([]storeWork, error) {
	var out []storeWork
	for _, n := range s.c.Nodes() {
		if !n.Running() {
			continue
		}
		m, err := Scrape(ctx, "http://"+n.HTTPAddr+"/metrics", "shard_store_compactions_running",
			"shard_store_sstable_bytes_written_total")
		if err != nil {
			return nil, fmt.Errorf("target: %s: %w", n.Name, err)
		}
		out = append(out, storeWork{running: m["shard_store_compactions_running"], written: m["shard_store_sstable_bytes_written_total"]})
	}
	return out, nil
}

func (s *Shard) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// Settle does what pgbench does after it loads its tables: VACUUM, here
// with ANALYZE, as autovacuum would do within a minute of the load, in
// the middle of the run (bench.Settler). It does not CHECKPOINT: the
// first change of every page after a checkpoint writes the whole page to
// the WAL, a cost that steady load spreads over the checkpoint interval
// (5 minutes) and a run of seconds right after one would pay in full.
func (p *Postgres) Settle(ctx context.Context) error {
	conn, err := pgx.Connect(ctx, p.DSN())
	if err != nil {
		return fmt.Errorf("target: postgres settle: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "VACUUM ANALYZE"); err != nil {
		return fmt.Errorf("target: postgres settle: VACUUM ANALYZE: %w", err)
	}
	return nil
}
