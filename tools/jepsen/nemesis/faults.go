package nemesis

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/shardingsystem/shard/keys"
	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/sql/rowenc"
	"github.com/shardingsystem/shard/tools/jepsen/cluster"
)

// Fault is one kind of fault: its start injects it and returns what its
// heal needs.
type Fault struct {
	// Name is the fault's name on the command line and in the timeline.
	Name string
	// Set is the named set the fault belongs to.
	Set string
	// Doc says what the fault does, in one line.
	Doc   string
	start func(ctx context.Context, n *Nemesis) active
}

// active is a started fault.
type active struct {
	nodes  []*cluster.Node
	detail string
	err    error
	// heal undoes the fault; nil when there is nothing to undo.
	heal func(ctx context.Context) (nodes []*cluster.Node, detail string, err error)
}

// failed is a fault that could not start and changed nothing.
func failed(err error) active { return active{err: err} }

// Sets are the named sets of faults; "all" is every fault, "none" none.
var Sets = []string{"kill", "pause", "partition", "clock", "churn", "all", "none"}

// All lists every fault.
func All() []*Fault {
	return []*Fault{
		{Name: "kill-random", Set: "kill", Doc: "kill -9 one random node; restart it", start: killRandom},
		{Name: "kill-minority", Set: "kill", Doc: "kill -9 a random minority of the nodes; restart them", start: killMinority},
		{Name: "kill-leader", Set: "kill", Doc: "kill -9 the leader of a range (Options.RangeID, else a random one); restart it", start: killLeader},
		{Name: "kill-meta-leader", Set: "kill", Doc: "kill -9 the meta range's leader; restart it", start: killMetaLeader},
		{Name: "pause-random", Set: "pause", Doc: "SIGSTOP one random node; SIGCONT it", start: pauseRandom},
		{Name: "pause-leader", Set: "pause", Doc: "SIGSTOP the leader of a range (Options.RangeID, else a random one); SIGCONT it", start: pauseLeader},
		{Name: "partition-isolate", Set: "partition", Doc: "cut one random node off from the others", start: partitionIsolate},
		{Name: "partition-halves", Set: "partition", Doc: "cut the nodes into a random minority and majority", start: partitionHalves},
		{Name: "partition-bridge", Set: "partition", Doc: "cut the nodes into two halves that both still reach one bridge node", start: partitionBridge},
		{Name: "partition-one-way", Set: "partition", Doc: "one random node drops every packet from another", start: partitionOneWay},
		{Name: "clock-offset", Set: "clock", Doc: "restart a random node with its clock shifted and give it the meta range's leadership; restart it without", start: clockOffset},
		{Name: "split", Set: "churn", Doc: "split a random range at a random shard-hash boundary of a database inside it", start: split},
		{Name: "transfer-leader", Set: "churn", Doc: "move a random range's leadership to another of its replicas", start: transferLeader},
		{Name: "merge", Set: "churn", Doc: "merge a random range with its right-hand neighbour in the same database (moving the right's replicas to the left's nodes first)", start: merge},
		{Name: "move-replica", Set: "churn", Doc: "move a random range's replica to a node without one (or remove it and add it back)", start: moveReplica},
		{Name: "decommission", Set: "churn", Doc: "decommission a random node (its replicas move away); reactivate it unless it was removed", start: decommission},
	}
}

// Lookup returns the faults that spec names: sets and fault names
// separated by commas, each fault once.
func Lookup(spec string) ([]*Fault, error) {
	all := All()
	var out []*Fault
	seen := map[string]bool{}
	add := func(f *Fault) {
		if !seen[f.Name] {
			seen[f.Name] = true
			out = append(out, f)
		}
	}
	for _, w := range strings.Split(spec, ",") {
		w = strings.TrimSpace(w)
		found := w == "none"
		for _, f := range all {
			if w == "all" || f.Set == w || f.Name == w {
				add(f)
				found = true
			}
		}
		if !found {
			var names []string
			for _, f := range all {
				names = append(names, f.Name)
			}
			return nil, fmt.Errorf("nemesis: unknown fault or set %q (sets: %s; faults: %s)", w,
				strings.Join(Sets, ", "), strings.Join(names, ", "))
		}
	}
	return out, nil
}

// ---- kill -9 and restart

func killRandom(ctx context.Context, n *Nemesis) active {
	nodes := n.c.Nodes()
	return n.kill(ctx, []*cluster.Node{nodes[n.rng.IntN(len(nodes))]}, "")
}

func killMinority(ctx context.Context, n *Nemesis) active {
	nodes := n.c.Nodes()
	n.rng.Shuffle(len(nodes), func(i, j int) { nodes[i], nodes[j] = nodes[j], nodes[i] })
	k := max((len(nodes)-1)/2, 1)
	victims := nodes[:k]
	sort.Slice(victims, func(i, j int) bool { return victims[i].Index < victims[j].Index })
	return n.kill(ctx, victims, "")
}

func killLeader(ctx context.Context, n *Nemesis) active {
	leader, r, err := n.leader(ctx, n.opts.RangeID)
	if err != nil {
		return failed(err)
	}
	return n.kill(ctx, []*cluster.Node{leader}, fmt.Sprintf("leader of r%d", r))
}

func killMetaLeader(ctx context.Context, n *Nemesis) active {
	leader, _, err := n.leader(ctx, cluster.MetaRangeID)
	if err != nil {
		return failed(err)
	}
	return n.kill(ctx, []*cluster.Node{leader}, "leader of the meta range r1")
}

// kill kills nodes with SIGKILL; the heal starts them again on their data.
func (n *Nemesis) kill(_ context.Context, nodes []*cluster.Node, detail string) active {
	var errs []error
	for _, node := range nodes {
		errs = append(errs, node.Kill9())
	}
	return active{nodes: nodes, detail: detail, err: errors.Join(errs...), heal: func(ctx context.Context) ([]*cluster.Node, string, error) {
		var errs []error
		for _, node := range nodes {
			if !node.Running() {
				errs = append(errs, node.Start(ctx))
			}
		}
		return nodes, "restarted", errors.Join(errs...)
	}}
}

// leader returns the leader of range id, or of a random range when id is 0.
func (n *Nemesis) leader(ctx context.Context, id uint64) (*cluster.Node, uint64, error) {
	if id == 0 {
		rs, err := n.c.Ranges(ctx)
		if err != nil {
			return nil, 0, err
		}
		if len(rs) == 0 {
			return nil, 0, errors.New("no ranges")
		}
		id = rs[n.rng.IntN(len(rs))].ID
	}
	l, err := n.c.LeaderOf(ctx, id)
	return l, id, err
}

// ---- pause

func pauseRandom(_ context.Context, n *Nemesis) active {
	nodes := n.c.Nodes()
	return n.pause(nodes[n.rng.IntN(len(nodes))], "")
}

func pauseLeader(ctx context.Context, n *Nemesis) active {
	leader, r, err := n.leader(ctx, n.opts.RangeID)
	if err != nil {
		return failed(err)
	}
	return n.pause(leader, fmt.Sprintf("leader of r%d", r))
}

// pause stops node with SIGSTOP; the heal continues it.
func (n *Nemesis) pause(node *cluster.Node, detail string) active {
	if err := node.Pause(); err != nil {
		return failed(err)
	}
	nodes := []*cluster.Node{node}
	return active{nodes: nodes, detail: detail, heal: func(context.Context) ([]*cluster.Node, string, error) {
		return nodes, "resumed", node.Resume()
	}}
}

// ---- partitions

func partitionIsolate(_ context.Context, n *Nemesis) active {
	k := len(n.c.Nodes())
	return n.partition(Isolate(1+n.rng.IntN(k), k))
}

func partitionHalves(_ context.Context, n *Nemesis) active {
	return n.partition(Halves(n.rng, len(n.c.Nodes())))
}

func partitionBridge(_ context.Context, n *Nemesis) active {
	return n.partition(Bridge(n.rng, len(n.c.Nodes())))
}

func partitionOneWay(_ context.Context, n *Nemesis) active {
	k := len(n.c.Nodes())
	to := 1 + n.rng.IntN(k)
	from := 1 + (to-1+1+n.rng.IntN(k-1))%k
	return n.partition(OneWay(to, from))
}

// partition installs g's drops; the heal removes every drop.
func (n *Nemesis) partition(g Grudge) active {
	var errs []error
	var nodes []*cluster.Node
	seen := map[int]bool{}
	for _, p := range g.Pairs() {
		to, from := n.c.Node(p[0]), n.c.Node(p[1])
		errs = append(errs, n.c.Drop(to, from))
		if !seen[p[0]] {
			seen[p[0]] = true
			nodes = append(nodes, to)
		}
	}
	return active{nodes: nodes, detail: g.String(), err: errors.Join(errs...), heal: func(context.Context) ([]*cluster.Node, string, error) {
		return nodes, "every drop removed", n.c.Heal()
	}}
}

// ---- clock

// clockOffset restarts a random node with a shifted clock, then moves the
// meta range's leadership to it, so that its clock drives the timestamp
// oracle; the heal restarts it with the true clock.
func clockOffset(ctx context.Context, n *Nemesis) active {
	nodes := n.c.Nodes()
	node := nodes[n.rng.IntN(len(nodes))]
	lo, hi := n.opts.MaxClockOffset/10, n.opts.MaxClockOffset
	off := (lo + time.Duration(n.rng.Int64N(int64(hi-lo)+1))).Round(time.Millisecond)
	if n.rng.IntN(2) == 0 {
		off = -off
	}
	node.SetClockOffset(off)
	err := restart(ctx, node)
	detail := fmt.Sprintf("clock offset %v", off)
	if err == nil {
		if l, terr := n.c.TransferLeader(ctx, cluster.MetaRangeID, node); terr == nil && l == node.ID() {
			detail += "; leads the meta range"
		} else {
			detail += fmt.Sprintf("; meta leadership not moved (leader n%d, %v)", l, terr)
		}
	}
	nodesOf := []*cluster.Node{node}
	return active{nodes: nodesOf, detail: detail, err: err, heal: func(ctx context.Context) ([]*cluster.Node, string, error) {
		node.SetClockOffset(0)
		return nodesOf, "clock reset", restart(ctx, node)
	}}
}

// restart stops node (SIGTERM, then SIGKILL after a grace period) and
// starts it again.
func restart(ctx context.Context, node *cluster.Node) error {
	if err := node.Stop(10 * time.Second); err != nil {
		return err
	}
	return node.Start(ctx)
}

// ---- churn

// split splits a random range at a random shard-hash boundary strictly
// inside it, within the database of the range's start key or, for a range
// that starts outside any database, of its first key.
func split(ctx context.Context, n *Nemesis) active {
	rs, err := n.c.Ranges(ctx)
	if err != nil {
		return failed(err)
	}
	n.rng.Shuffle(len(rs), func(i, j int) { rs[i], rs[j] = rs[j], rs[i] })
	for _, r := range rs {
		if r.ID == cluster.MetaRangeID {
			continue
		}
		db, ok := dbOf(r.StartKey)
		if !ok {
			ks, err := n.c.Keys(ctx, r.StartKey, r.EndKey, 1)
			if err != nil || len(ks) == 0 {
				continue
			}
			if db, ok = dbOf(ks[0]); !ok {
				continue
			}
		}
		key, ok := n.splitKey(r, db)
		if !ok {
			continue
		}
		left, right, err := n.c.Split(ctx, key)
		if err != nil {
			return active{detail: fmt.Sprintf("r%d at %s", r.ID, keys.Pretty(key)), err: err}
		}
		return active{detail: fmt.Sprintf("r%d at %s: r%d and r%d", r.ID, keys.Pretty(key), left, right)}
	}
	return failed(errors.New("no range holds a database's keys to split"))
}

// dbOf is the database whose span holds key.
func dbOf(key []byte) (uint32, bool) {
	if len(key) < 5 || key[0] != rowenc.Prefix {
		return 0, false
	}
	return binary.BigEndian.Uint32(key[1:5]), true
}

// splitKey picks a shard-hash boundary of database db strictly inside r.
func (n *Nemesis) splitKey(r cluster.Range, db uint32) ([]byte, bool) {
	lo, hi := hashAt(r.StartKey, db, 0), hashAt(r.EndKey, db, ^uint64(0))
	if hi <= lo+1 {
		return nil, false
	}
	for range 20 {
		h := lo + 1 + n.rng.Uint64N(hi-lo-1)
		k := rowenc.HashSplitKey(db, h)
		if bytes.Compare(k, r.StartKey) > 0 && bytes.Compare(k, r.EndKey) < 0 {
			return k, true
		}
	}
	return nil, false
}

// hashAt is the shard hash at which key sits within database db's span:
// def when key lies outside the span or holds no full hash.
func hashAt(key []byte, db uint32, def uint64) uint64 {
	p := rowenc.DatabasePrefix(db)
	if !bytes.HasPrefix(key, p) || len(key) < len(p)+8 {
		return def
	}
	return binary.BigEndian.Uint64(key[len(p):])
}

// transferLeader moves a random range's leadership to another running,
// unpaused replica.
func transferLeader(ctx context.Context, n *Nemesis) active {
	rs, err := n.c.Ranges(ctx)
	if err != nil {
		return failed(err)
	}
	if len(rs) == 0 {
		return failed(errors.New("no ranges"))
	}
	r := rs[n.rng.IntN(len(rs))]
	var cands []*cluster.Node
	for _, id := range r.Replicas {
		if node := n.c.NodeByID(id); node != nil && id != r.Leader && node.Running() && !node.Paused() {
			cands = append(cands, node)
		}
	}
	if len(cands) == 0 {
		return failed(fmt.Errorf("r%d has no replica to move its leadership to: %v", r.ID, r))
	}
	to := cands[n.rng.IntN(len(cands))]
	l, err := n.c.TransferLeader(ctx, r.ID, to)
	detail := fmt.Sprintf("r%d n%d -> %s", r.ID, r.Leader, to.Name)
	if err == nil && l != to.ID() {
		err = fmt.Errorf("leader is n%d after the transfer", l)
	}
	return active{nodes: []*cluster.Node{to}, detail: detail, err: err}
}

// merge merges a random range with its right-hand neighbour in the same
// database, first moving the right's replicas onto the left's nodes (as
// the controller does).
func merge(ctx context.Context, n *Nemesis) active {
	rs, err := n.c.Ranges(ctx)
	if err != nil {
		return failed(err)
	}
	var pairs [][2]cluster.Range
	for i := 0; i+1 < len(rs); i++ {
		l, r := rs[i], rs[i+1]
		if l.ID != cluster.MetaRangeID && bytes.Equal(l.EndKey, r.StartKey) && keys.SameTenant(l.StartKey, r.EndKey) {
			pairs = append(pairs, [2]cluster.Range{l, r})
		}
	}
	if len(pairs) == 0 {
		return failed(errors.New("no two adjacent ranges of one database"))
	}
	p := pairs[n.rng.IntN(len(pairs))]
	detail := fmt.Sprintf("r%d + r%d", p[0].ID, p[1].ID)
	// The controller may move replicas meanwhile: co-locate and merge,
	// reading the ranges again, a few times.
	var m cluster.Range
	for attempt := 0; ; attempt++ {
		if err := n.colocate(ctx, p[0].ID, p[1].ID); err != nil {
			return active{detail: detail, err: err}
		}
		m, err = n.c.Merge(ctx, p[0].ID)
		if err == nil || attempt == 4 || ctx.Err() != nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err == nil {
		detail += fmt.Sprintf(" -> %v", m)
	}
	return active{detail: detail, err: err}
}

// colocate moves the replicas of range right onto the nodes of range left.
func (n *Nemesis) colocate(ctx context.Context, left, right uint64) error {
	for range 5 {
		rs, err := n.c.Ranges(ctx)
		if err != nil {
			return err
		}
		var l, r *cluster.Range
		for i := range rs {
			switch rs[i].ID {
			case left:
				l = &rs[i]
			case right:
				r = &rs[i]
			}
		}
		if l == nil || r == nil {
			return fmt.Errorf("r%d or r%d is gone", left, right)
		}
		var from, to uint64
		for _, x := range r.Replicas {
			if !slices.Contains(l.Replicas, x) {
				from = x
			}
		}
		for _, x := range l.Replicas {
			if !slices.Contains(r.Replicas, x) {
				to = x
			}
		}
		if from == 0 || to == 0 {
			return nil
		}
		if _, err := n.c.Relocate(ctx, right, from, to); err != nil {
			return fmt.Errorf("move r%d n%d -> n%d: %w", right, from, to, err)
		}
	}
	return nil
}

// moveReplica moves a random range's follower replica to a running node
// that holds none; when every node holds one, it removes the follower and
// adds it back.
func moveReplica(ctx context.Context, n *Nemesis) active {
	rs, err := n.c.Ranges(ctx)
	if err != nil {
		return failed(err)
	}
	if len(rs) == 0 {
		return failed(errors.New("no ranges"))
	}
	r := rs[n.rng.IntN(len(rs))]
	var followers []uint64
	for _, id := range r.Replicas {
		if id != r.Leader {
			followers = append(followers, id)
		}
	}
	if len(followers) == 0 {
		return failed(fmt.Errorf("r%d has no follower to move: %v", r.ID, r))
	}
	from := followers[n.rng.IntN(len(followers))]
	var spare []*cluster.Node
	for _, node := range n.c.Nodes() {
		if node.Running() && !node.Paused() && !slices.Contains(r.Replicas, node.ID()) {
			spare = append(spare, node)
		}
	}
	if len(spare) > 0 {
		to := spare[n.rng.IntN(len(spare))]
		m, err := n.c.Relocate(ctx, r.ID, from, to.ID())
		return active{nodes: []*cluster.Node{to}, detail: fmt.Sprintf("r%d n%d -> %s: %v", r.ID, from, to.Name, m), err: err}
	}
	detail := fmt.Sprintf("r%d: remove n%d and add it back", r.ID, from)
	if _, err := n.c.Relocate(ctx, r.ID, from, 0); err != nil {
		return active{detail: detail, err: err}
	}
	m, err := n.c.Relocate(ctx, r.ID, 0, from)
	if err != nil && strings.Contains(err.Error(), "already holds") {
		err = nil // the controller re-added it first
	}
	return active{detail: fmt.Sprintf("%s: %v", detail, m), err: err}
}

// decommission starts decommissioning a random node: the controller moves
// its replicas away (where there is room) and then marks it removed. The
// heal reactivates it unless it was removed by then; a removed node keeps
// running as a SQL gateway.
func decommission(ctx context.Context, n *Nemesis) active {
	nodes := n.c.Nodes()
	node := nodes[n.rng.IntN(len(nodes))]
	if _, err := n.c.SetNodeState(ctx, node.ID(), kvpb.NodeState_DECOMMISSIONING); err != nil {
		return active{nodes: []*cluster.Node{node}, err: err}
	}
	return active{nodes: []*cluster.Node{node}, detail: "decommissioning", heal: func(ctx context.Context) ([]*cluster.Node, string, error) {
		return []*cluster.Node{node}, "", n.reactivate(ctx, node)
	}}
}

// reactivate makes a decommissioning node active again; a node already
// removed stays removed.
func (n *Nemesis) reactivate(ctx context.Context, node *cluster.Node) error {
	states, err := n.c.NodeStates(ctx)
	if err != nil {
		return err
	}
	switch states[node.ID()] {
	case kvpb.NodeState_REMOVED, kvpb.NodeState_ACTIVE:
		return nil
	}
	_, err = n.c.SetNodeState(ctx, node.ID(), kvpb.NodeState_ACTIVE)
	return err
}
