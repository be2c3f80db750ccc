package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/serverpb"
)

// callTimeout bounds one admin call to one node: a paused or partitioned
// node must not hold up the harness. Ranges asks every range's replicas in
// turn, 2 s each, so a paused replica makes it slow.
const callTimeout = 10 * time.Second

type adminConn struct {
	conn *grpc.ClientConn
	cl   serverpb.AdminClient
}

// Admin returns an Admin client of node n (from the harness's place in the
// network, which partitions never cut). The connection is the cluster's;
// Close closes it.
func (c *Cluster) Admin(n *Node) (serverpb.AdminClient, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if a := c.mu.admin[n.RPCAddr]; a != nil {
		return a.cl, nil
	}
	conn, err := grpc.NewClient(n.RPCAddr, rpcauth.DialOptions(c.cfg.Secret)...)
	if err != nil {
		return nil, err
	}
	a := &adminConn{conn: conn, cl: serverpb.NewAdminClient(conn)}
	c.mu.admin[n.RPCAddr] = a
	return a.cl, nil
}

// Range is one range as the admin API reports it.
type Range struct {
	ID               uint64
	StartKey, EndKey []byte
	Replicas         []uint64 // node ids
	Leader           uint64   // 0: unknown
	Generation       uint64
	QPS              float64 // reads and writes per second, as the leader last measured
	MergingInto      uint64  // frozen for a merge into this range (0: not)
	Error            string
}

func (r Range) String() string {
	return fmt.Sprintf("r%d [%s, %s) replicas %v leader n%d", r.ID, keys.Pretty(r.StartKey), keys.Pretty(r.EndKey), r.Replicas, r.Leader)
}

// MetaRangeID is the meta range's id.
const MetaRangeID = 1

// available are the nodes that run and are not paused.
func (c *Cluster) available() []*Node {
	var out []*Node
	for _, n := range c.nodes {
		if n.Running() && !n.Paused() {
			out = append(out, n)
		}
	}
	return out
}

// onAny runs call against the available nodes in turn until one succeeds,
// each under callTimeout.
func (c *Cluster) onAny(ctx context.Context, call func(ctx context.Context, cl serverpb.AdminClient) error) error {
	err := errors.New("cluster: no node is running")
	for _, n := range c.available() {
		cl, cerr := c.Admin(n)
		if cerr != nil {
			return cerr
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err = call(cctx, cl)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
		err = fmt.Errorf("%s: %w", n.Name, err)
	}
	return err
}

// Ranges lists the ranges with their leaders, asking the available nodes
// in turn.
func (c *Cluster) Ranges(ctx context.Context) ([]Range, error) {
	var out []Range
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Ranges(ctx, &serverpb.RangesRequest{})
		if err != nil {
			return err
		}
		out = out[:0]
		for _, r := range resp.Ranges {
			rg := Range{ID: r.Desc.RangeId, StartKey: r.Desc.StartKey, EndKey: r.Desc.EndKey, Leader: r.LeaderNodeId,
				Generation: r.Desc.Generation, QPS: r.GetLoad().GetReadsPerSec() + r.GetLoad().GetWritesPerSec(),
				MergingInto: r.Desc.MergingInto, Error: r.Error}
			for _, rep := range r.Desc.Replicas {
				rg.Replicas = append(rg.Replicas, rep.NodeId)
			}
			out = append(out, rg)
		}
		return nil
	})
	return out, err
}

// LeaderOf returns the node that leads range id (an error when the range
// has no known leader, or its leader is not a running node).
func (c *Cluster) LeaderOf(ctx context.Context, id uint64) (*Node, error) {
	rs, err := c.Ranges(ctx)
	if err != nil {
		return nil, err
	}
	for _, r := range rs {
		if r.ID != id {
			continue
		}
		n := c.NodeByID(r.Leader)
		if r.Leader == 0 || n == nil || !n.Running() {
			return nil, fmt.Errorf("cluster: r%d has no running leader: %v %s", id, r, r.Error)
		}
		return n, nil
	}
	return nil, fmt.Errorf("cluster: no range r%d", id)
}

// TransferLeader moves range id's leadership to node to (admin
// TransferLeader) and returns the leader the replicas then report.
func (c *Cluster) TransferLeader(ctx context.Context, id uint64, to *Node) (uint64, error) {
	var leader uint64
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.TransferLeader(ctx, &serverpb.TransferLeaderRequest{RangeId: id, NodeId: to.ID()})
		leader = resp.GetLeaderNodeId()
		return err
	})
	return leader, err
}

// Split splits the range holding key at key (admin SplitRange) and returns
// the two halves' ids.
func (c *Cluster) Split(ctx context.Context, key []byte) (left, right uint64, err error) {
	err = c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.SplitRange(ctx, &serverpb.SplitRangeRequest{Key: key})
		if err != nil {
			return err
		}
		left, right = resp.Left.GetRangeId(), resp.Right.GetRangeId()
		return nil
	})
	return left, right, err
}

// Keys returns up to limit user keys in [start, end), read at a fresh
// timestamp through the admin API.
func (c *Cluster) Keys(ctx context.Context, start, end []byte, limit int) ([][]byte, error) {
	var out [][]byte
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.KV(ctx, &serverpb.KVRequest{Op: &serverpb.KVRequest_Scan{Scan: &kvpb.ScanRequest{StartKey: start, EndKey: end, Limit: int64(limit)}}})
		if err != nil {
			return err
		}
		out = out[:0]
		for _, kv := range resp.GetResponse().GetScan().GetRows() {
			out = append(out, kv.Key)
		}
		return nil
	})
	return out, err
}

// Whole returns nil when the cluster is whole: every node runs, is not
// paused and is live in the node list; every range has min(nodes, 3)
// replicas or more, a leader and no error; and every node answers SQL.
func (c *Cluster) Whole(ctx context.Context) error {
	for _, n := range c.nodes {
		if !n.Running() {
			return fmt.Errorf("%s is not running", n.Name)
		}
		if n.Paused() {
			return fmt.Errorf("%s is paused", n.Name)
		}
	}
	var dead []string
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Nodes(ctx, &serverpb.NodesRequest{})
		if err != nil {
			return err
		}
		dead = dead[:0]
		for _, n := range resp.Nodes {
			if !n.Live {
				dead = append(dead, fmt.Sprintf("n%d", n.Desc.NodeId))
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(dead) > 0 {
		return fmt.Errorf("nodes not live: %s", strings.Join(dead, ", "))
	}
	rs, err := c.Ranges(ctx)
	if err != nil {
		return err
	}
	want := min(len(c.nodes), 3)
	for _, r := range rs {
		if len(r.Replicas) < want || r.Leader == 0 || r.Error != "" {
			return fmt.Errorf("%v (want %d replicas) %s", r, want, r.Error)
		}
	}
	for _, n := range c.nodes {
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := pingSQL(cctx, n.DSN("postgres"))
		cancel()
		if err != nil {
			return fmt.Errorf("%s SQL: %w", n.Name, err)
		}
	}
	return nil
}

func pingSQL(ctx context.Context, dsn string) error {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	var one int
	return conn.QueryRow(ctx, "SELECT 1").Scan(&one)
}

// WaitReady waits until the cluster is whole (Whole), for at most
// Config.ReadyTimeout.
func (c *Cluster) WaitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.ReadyTimeout)
	defer cancel()
	start := time.Now()
	err := Poll(ctx, 200*time.Millisecond, c.Whole)
	if err != nil {
		return fmt.Errorf("cluster: not whole after %v: %w", time.Since(start).Round(time.Millisecond), err)
	}
	c.cfg.Logf("cluster: whole after %v", time.Since(start).Round(time.Millisecond))
	return nil
}

// Poll calls cond every interval until it returns nil or ctx ends; then it
// returns cond's last error.
func Poll(ctx context.Context, interval time.Duration, cond func(context.Context) error) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		err := cond(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
}

// Merge merges range id with its right-hand neighbour (admin MergeRanges)
// and returns the merged range.
func (c *Cluster) Merge(ctx context.Context, id uint64) (Range, error) {
	var out Range
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.MergeRanges(ctx, &serverpb.MergeRangesRequest{RangeId: id})
		if err != nil {
			return err
		}
		out = rangeOf(resp.Desc)
		return nil
	})
	return out, err
}

// Relocate moves range id's replica from node from to node to (admin
// RelocateReplica; 0 for from only adds, 0 for to only removes).
func (c *Cluster) Relocate(ctx context.Context, id, from, to uint64) (Range, error) {
	var out Range
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.RelocateReplica(ctx, &serverpb.RelocateReplicaRequest{RangeId: id, FromNodeId: from, ToNodeId: to})
		if err != nil {
			return err
		}
		out = rangeOf(resp.Desc)
		return nil
	})
	return out, err
}

// SetNodeState drains, decommissions or reactivates a node (admin
// SetNodeState) and returns the state recorded.
func (c *Cluster) SetNodeState(ctx context.Context, id uint64, state kvpb.NodeState) (kvpb.NodeState, error) {
	var out kvpb.NodeState
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.SetNodeState(ctx, &serverpb.SetNodeStateRequest{NodeId: id, State: state})
		if err != nil {
			return err
		}
		out = resp.Node.GetState()
		return nil
	})
	return out, err
}

// NodeStates returns every node's state as the meta range records it.
func (c *Cluster) NodeStates(ctx context.Context) (map[uint64]kvpb.NodeState, error) {
	out := map[uint64]kvpb.NodeState{}
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Nodes(ctx, &serverpb.NodesRequest{})
		if err != nil {
			return err
		}
		for _, n := range resp.Nodes {
			out[n.Desc.NodeId] = n.Desc.State
		}
		return nil
	})
	return out, err
}

func rangeOf(d *kvpb.RangeDescriptor) Range {
	r := Range{ID: d.GetRangeId(), StartKey: d.GetStartKey(), EndKey: d.GetEndKey(), Generation: d.GetGeneration()}
	for _, rep := range d.GetReplicas() {
		r.Replicas = append(r.Replicas, rep.NodeId)
	}
	return r
}

// Events returns the zero-touch controller's events (admin Events), oldest
// first.
func (c *Cluster) Events(ctx context.Context) ([]*kvpb.Event, error) {
	var out []*kvpb.Event
	err := c.onAny(ctx, func(ctx context.Context, cl serverpb.AdminClient) error {
		resp, err := cl.Events(ctx, &serverpb.EventsRequest{Limit: 100000})
		if err != nil {
			return err
		}
		out = resp.Events
		return nil
	})
	return out, err
}
