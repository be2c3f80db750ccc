package controller

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/shardingsystem/shard/keys"
)

// metaRangeID is the meta range: never split or merged.
const metaRangeID = 1

// round is one Decide call: the state, indexes over it and the plan so far.
type round struct {
	cfg  Config
	mem  *memory
	st   State
	plan Plan

	nodes  map[uint64]*Node
	live   map[uint64]bool // heard from within DeadAfter, not removed
	usable map[uint64]bool // live and neither draining nor decommissioning
	// recent nodes were heard from within three report intervals: only
	// they receive replicas and leaderships (a node that just went silent
	// is not dead yet, but no target either).
	recent map[uint64]bool
	// busy ranges have an action in flight or one decided this round;
	// nodeBusy nodes a MarkRemoved in flight.
	busy, nodeBusy map[uint64]bool
	// moves and merges in flight or decided; transfers decided this round.
	moves, merges, transfers int
	// replicas and leaders per node, kept current as actions are decided.
	replicas, leaders map[uint64]int
	byID              map[uint64]*Range
	// shards counts each database's ranges, splits decided included.
	shards map[uint32]int
}

func newRound(cfg Config, mem *memory, st State) *round {
	r := &round{cfg: cfg, mem: mem, st: st, nodes: map[uint64]*Node{}, live: map[uint64]bool{}, usable: map[uint64]bool{}, recent: map[uint64]bool{},
		busy: map[uint64]bool{}, nodeBusy: map[uint64]bool{}, replicas: map[uint64]int{}, leaders: map[uint64]int{}, byID: map[uint64]*Range{},
		shards: map[uint32]int{}}
	for i := range st.Nodes {
		n := &st.Nodes[i]
		if n.Removed {
			continue
		}
		r.nodes[n.ID] = n
		if st.Now.Sub(n.LastSeen) <= 3*cfg.ReportInterval {
			r.recent[n.ID] = true
		}
		if st.Now.Sub(n.LastSeen) < cfg.DeadAfter {
			r.live[n.ID] = true
			if !n.Draining && !n.Decommissioning {
				r.usable[n.ID] = true
			}
		}
	}
	for _, a := range st.InFlight {
		if a.Kind == MarkRemoved {
			r.nodeBusy[a.From] = true
			continue
		}
		r.busy[a.RangeID] = true
		if a.RightID != 0 {
			r.busy[a.RightID] = true
		}
		switch {
		case a.Kind.isMove():
			r.moves++
		case a.Kind == Merge:
			r.merges++
		}
	}
	for i := range st.Ranges {
		rg := &st.Ranges[i]
		r.byID[rg.ID] = rg
		if db, ok := keys.TenantID(rg.StartKey); ok {
			r.shards[db]++
		}
		for _, rep := range rg.Replicas {
			r.replicas[rep.NodeID]++
		}
		if rg.Leader != 0 {
			r.leaders[rg.Leader]++
		}
	}
	return r
}

// act records an action and its event. An action retried round after
// round (its executions keep failing; the failures are events of their
// own) is recorded once a minute, like a note.
func (r *round) act(a Action) {
	r.plan.Actions = append(r.plan.Actions, a)
	r.note(a.RangeID, a.To, a.Kind.String(), a.Detail)
	r.busy[a.RangeID] = true
	if a.RightID != 0 {
		r.busy[a.RightID] = true
	}
	switch {
	case a.Kind.isMove():
		r.moves++
		r.mem.movedAt[a.RangeID] = r.st.Now
		if a.To != 0 {
			r.replicas[a.To]++
		}
		if a.From != 0 {
			r.replicas[a.From]--
		}
	case a.Kind == Merge:
		r.merges++
	case a.Kind == TransferLeader:
		r.transfers++
		r.mem.transferAt[a.RangeID] = r.st.Now
		r.mem.lastTransfer = r.st.Now
		r.leaders[a.To]++
		if rg := r.byID[a.RangeID]; rg != nil && rg.Leader != 0 {
			r.leaders[rg.Leader]--
		}
	}
}

// note records a non-decision, unless one of the same shape (the message
// with its numbers taken out: loads and ages change every round) was
// recorded within a minute.
func (r *round) note(rangeID, nodeID uint64, kind, msg string) {
	k := noteKey{rangeID, nodeID, kind}
	shape := msgShape(msg)
	if n, ok := r.mem.notes[k]; ok && n.msg == shape && r.st.Now.Sub(n.at) < noteEvery {
		return
	}
	r.mem.notes[k] = note{msg: shape, at: r.st.Now}
	r.plan.Events = append(r.plan.Events, Event{RangeID: rangeID, NodeID: nodeID, Kind: kind, Message: msg})
}

func (r *round) canMove() bool { return r.moves < r.cfg.MaxConcurrentMoves }

// fresh reports whether a range's report is recent enough for load
// decisions.
func (r *round) fresh(rg *Range) bool {
	return !rg.ReportedAt.IsZero() && r.st.Now.Sub(rg.ReportedAt) <= 3*r.cfg.ReportInterval
}

func (r *round) decide() {
	r.nodeEvents()
	r.updateWindows()
	for i := range r.st.Ranges {
		r.repair(&r.st.Ranges[i])
	}
	r.decommission()
	r.drain()
	for i := range r.st.Ranges {
		r.split(&r.st.Ranges[i])
	}
	r.mergeAll()
	r.rebalance()
}

// target is the replica target: Replicas, capped by the nodes that are not
// removed. Dead, draining and decommissioning nodes count: a dead node's
// replica is replaced, not dropped, and a cluster too small to let a node
// go keeps its replicas there.
func (r *round) target() int { return min(r.cfg.Replicas, max(len(r.nodes), 1)) }

// nodeEvents reports nodes that died or came back.
func (r *round) nodeEvents() {
	for _, id := range sortedIDs(r.nodes) {
		dead := !r.live[id]
		if dead != r.mem.dead[id] {
			r.mem.dead[id] = dead
			if dead {
				r.plan.Events = append(r.plan.Events, Event{NodeID: id, Kind: "node-dead",
					Message: fmt.Sprintf("n%d is dead: not heard from for %v (dead-after %v)", id, r.st.Now.Sub(r.nodes[id].LastSeen).Round(time.Second), r.cfg.DeadAfter)})
			} else {
				r.plan.Events = append(r.plan.Events, Event{NodeID: id, Kind: "node-live", Message: fmt.Sprintf("n%d is live again", id)})
			}
		}
	}
}

// hot reports whether a range's load is over a split threshold.
func (r *round) hot(l Load) bool {
	return l.ReadsPerSec > r.cfg.SplitQPS || l.WritesPerSec > r.cfg.SplitQPS || l.CPUPerSec > r.cfg.SplitCPU
}

// cold reports whether a load is under half the split thresholds.
func (r *round) cold(l Load) bool {
	return l.ReadsPerSec+l.WritesPerSec < r.cfg.SplitQPS/2 && l.CPUPerSec < r.cfg.SplitCPU/2
}

// updateWindows tracks since when each range has been hot, and cold.
func (r *round) updateWindows() {
	for i := range r.st.Ranges {
		rg := &r.st.Ranges[i]
		if !r.fresh(rg) {
			// No evidence either way: the windows go on (a report may be
			// late, or describe a generation just replaced).
			continue
		}
		if r.hot(rg.Load) {
			if _, ok := r.mem.hotSince[rg.ID]; !ok {
				r.mem.hotSince[rg.ID] = r.st.Now
			}
		} else {
			delete(r.mem.hotSince, rg.ID)
		}
		if r.cold(rg.Load) {
			if _, ok := r.mem.coldSince[rg.ID]; !ok {
				r.mem.coldSince[rg.ID] = r.st.Now
			}
		} else {
			delete(r.mem.coldSince, rg.ID)
		}
	}
}

// pickTarget returns the usable node without a replica of rg holding the
// fewest replicas (0: none).
func (r *round) pickTarget(rg *Range) uint64 {
	var best uint64
	for _, id := range sortedIDs(r.usable) {
		if hasReplica(rg, id) || !r.recent[id] {
			continue
		}
		if best == 0 || r.replicas[id] < r.replicas[best] {
			best = id
		}
	}
	return best
}

func hasReplica(rg *Range, node uint64) bool {
	for _, rep := range rg.Replicas {
		if rep.NodeID == node {
			return true
		}
	}
	return false
}

func voters(rg *Range) []uint64 {
	var out []uint64
	for _, rep := range rg.Replicas {
		if rep.Voter {
			out = append(out, rep.NodeID)
		}
	}
	return out
}

func nodeList(ids []uint64) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprintf("n%d", id)
	}
	return strings.Join(s, ",")
}

// repair replaces dead voters, adds missing ones, finishes stray non-voters
// and removes extra voters.
func (r *round) repair(rg *Range) {
	if r.busy[rg.ID] {
		return
	}
	vs := voters(rg)
	var dead []uint64
	for _, v := range vs {
		if !r.live[v] {
			dead = append(dead, v)
		}
	}
	if len(dead) > 0 && 2*len(dead) >= len(vs) && len(vs) > 1 {
		r.note(rg.ID, 0, "quorum-lost", fmt.Sprintf("r%d lost its quorum: voters %s, dead %s; waiting for them to come back", rg.ID, nodeList(vs), nodeList(dead)))
		return
	}
	if len(dead) > 0 {
		if !r.canMove() {
			return
		}
		to := r.pickTarget(rg)
		if to == 0 {
			r.note(rg.ID, dead[0], "not-moved", fmt.Sprintf("r%d's replica on dead n%d has nowhere to go: every usable node holds one", rg.ID, dead[0]))
			return
		}
		r.act(Action{Kind: Relocate, RangeID: rg.ID, From: dead[0], To: to, Reason: "dead-node",
			Detail: fmt.Sprintf("move r%d's replica from dead n%d to n%d", rg.ID, dead[0], to)})
		return
	}
	for _, rep := range rg.Replicas {
		if !rep.Voter && r.canMove() && r.live[rep.NodeID] {
			r.act(Action{Kind: AddReplica, RangeID: rg.ID, To: rep.NodeID, Reason: "non-voter",
				Detail: fmt.Sprintf("finish adding r%d's replica on n%d (a non-voter left by an interrupted move)", rg.ID, rep.NodeID)})
			return
		}
	}
	want := r.target()
	switch {
	case len(vs) < want && r.canMove():
		if to := r.pickTarget(rg); to != 0 {
			r.act(Action{Kind: AddReplica, RangeID: rg.ID, To: to, Reason: "under-replicated",
				Detail: fmt.Sprintf("add a replica of r%d on n%d: %d voters, target %d", rg.ID, to, len(vs), want)})
		}
	case len(vs) > want && r.canMove() && !r.decommissioningHolds(rg):
		if from := r.pickRemoval(rg); from != 0 {
			r.act(Action{Kind: RemoveReplica, RangeID: rg.ID, From: from, Reason: "over-replicated",
				Detail: fmt.Sprintf("remove r%d's replica on n%d: %d voters, target %d", rg.ID, from, len(vs), want)})
		}
	}
}

// decommissioningHolds tells whether a decommissioning node holds a replica
// of rg: decommission relocates it instead.
func (r *round) decommissioningHolds(rg *Range) bool {
	for _, rep := range rg.Replicas {
		if n := r.nodes[rep.NodeID]; n != nil && n.Decommissioning {
			return true
		}
	}
	return false
}

// pickRemoval chooses the replica to remove from an over-replicated range:
// one on a node that is not usable, else on the node with the most
// replicas; never the leader's.
func (r *round) pickRemoval(rg *Range) uint64 {
	var best uint64
	for _, v := range voters(rg) {
		if v == rg.Leader {
			continue
		}
		if !r.usable[v] {
			return v
		}
		if best == 0 || r.replicas[v] > r.replicas[best] {
			best = v
		}
	}
	return best
}

// decommission moves replicas off decommissioning nodes and marks the
// empty ones removed.
func (r *round) decommission() {
	for _, id := range sortedIDs(r.nodes) {
		n := r.nodes[id]
		if !n.Decommissioning {
			continue
		}
		held := 0
		for i := range r.st.Ranges {
			rg := &r.st.Ranges[i]
			if !hasReplica(rg, id) {
				continue
			}
			held++
			if r.busy[rg.ID] || !r.canMove() {
				continue
			}
			to := r.pickTarget(rg)
			if to == 0 {
				r.note(rg.ID, id, "not-moved", fmt.Sprintf("r%d's replica on decommissioning n%d has nowhere to go: every usable node holds one", rg.ID, id))
				continue
			}
			r.act(Action{Kind: Relocate, RangeID: rg.ID, From: id, To: to, Reason: "decommission",
				Detail: fmt.Sprintf("move r%d's replica from decommissioning n%d to n%d", rg.ID, id, to)})
		}
		if held == 0 && !r.nodeBusy[id] {
			r.plan.Actions = append(r.plan.Actions, Action{Kind: MarkRemoved, From: id, Reason: "decommission",
				Detail: fmt.Sprintf("n%d holds no replica: decommissioned", id)})
			r.plan.Events = append(r.plan.Events, Event{NodeID: id, Kind: MarkRemoved.String(), Message: fmt.Sprintf("n%d holds no replica: decommissioned", id)})
		}
	}
}

// drain moves leaderships off draining and decommissioning nodes.
func (r *round) drain() {
	for i := range r.st.Ranges {
		rg := &r.st.Ranges[i]
		n := r.nodes[rg.Leader]
		if n == nil || (!n.Draining && !n.Decommissioning) || r.busy[rg.ID] || r.transfers >= r.cfg.MaxLeaderTransfersPerRound {
			continue
		}
		to := r.leaderTarget(rg, rg.Leader)
		if to == 0 {
			r.note(rg.ID, rg.Leader, "not-moved", fmt.Sprintf("r%d's leadership cannot leave n%d: no usable voter", rg.ID, rg.Leader))
			continue
		}
		r.act(Action{Kind: TransferLeader, RangeID: rg.ID, From: rg.Leader, To: to, Reason: "drain",
			Detail: fmt.Sprintf("move r%d's leadership from draining n%d to n%d", rg.ID, rg.Leader, to)})
	}
}

// leaderTarget picks the usable voter of rg, other than not, leading the
// fewest ranges.
func (r *round) leaderTarget(rg *Range, not uint64) uint64 {
	var best uint64
	for _, v := range voters(rg) {
		if v == not || !r.usable[v] || !r.recent[v] {
			continue
		}
		if best == 0 || r.leaders[v] < r.leaders[best] || (r.leaders[v] == r.leaders[best] && v < best) {
			best = v
		}
	}
	return best
}

// splitCandidate checks that key may cut rg: strictly inside its span.
func splitCandidate(rg *Range, key []byte) bool {
	return key != nil && bytes.Compare(key, rg.StartKey) > 0 && bytes.Compare(key, rg.EndKey) < 0
}

// split decides size and load splits.
func (r *round) split(rg *Range) {
	if rg.ID == metaRangeID || r.busy[rg.ID] || !r.fresh(rg) {
		return
	}
	if rg.Bytes > r.cfg.RangeMaxBytes {
		if splitCandidate(rg, rg.SizeSplitKey) {
			r.splitAt(rg, rg.SizeSplitKey, "size", fmt.Sprintf("split r%d at %s: %s > %s", rg.ID, keys.Pretty(rg.SizeSplitKey),
				bytesString(rg.Bytes), bytesString(r.cfg.RangeMaxBytes)))
			return
		}
		r.note(rg.ID, 0, "hot-key", fmt.Sprintf("r%d is %s, over the %s limit, but one shard value holds it: not split",
			rg.ID, bytesString(rg.Bytes), bytesString(r.cfg.RangeMaxBytes)))
	}
	since, hot := r.mem.hotSince[rg.ID]
	if !hot || r.st.Now.Sub(since) < r.cfg.SplitWindow {
		return
	}
	ls := rg.LoadSplit
	what := r.loadString(rg.Load)
	switch {
	case splitCandidate(rg, ls.Key) && ls.Balance <= r.cfg.MaxSplitImbalance:
		r.splitAt(rg, ls.Key, "load", fmt.Sprintf("split r%d at %s: %s for %v (the busier side keeps %.0f%% of the load)",
			rg.ID, keys.Pretty(ls.Key), what, r.st.Now.Sub(since).Round(time.Second), 100*ls.Balance))
	case ls.HotShare >= r.cfg.HotKeyShare && ls.HotBlock != nil:
		r.note(rg.ID, 0, "hot-key", fmt.Sprintf("hot key in r%d: block %s has %.0f%% of the load (%s); one shard value cannot be split",
			rg.ID, keys.Pretty(ls.HotBlock), 100*ls.HotShare, what))
	default:
		r.note(rg.ID, 0, "not-split", fmt.Sprintf("r%d is hot (%s) but has no useful split key yet (%d samples, best cut leaves %.0f%% on one side)",
			rg.ID, what, ls.Samples, 100*ls.Balance))
	}
}

func (r *round) splitAt(rg *Range, key []byte, reason, detail string) {
	if db, ok := keys.TenantID(rg.StartKey); ok {
		if limit := r.st.ShardCaps[db]; limit > 0 && r.shards[db] >= limit {
			r.note(rg.ID, 0, "not-split", fmt.Sprintf("r%d not split (%s): its database has %d shards, the cap of its template",
				rg.ID, reason, r.shards[db]))
			return
		}
		r.shards[db]++
	}
	r.act(Action{Kind: Split, RangeID: rg.ID, Key: key, Reason: reason, Detail: detail})
	r.mem.splitAt[rg.ID] = r.st.Now
	delete(r.mem.hotSince, rg.ID)
	delete(r.mem.coldSince, rg.ID)
}

// loadString says which thresholds a load passes.
func (r *round) loadString(l Load) string {
	var parts []string
	if l.WritesPerSec > r.cfg.SplitQPS {
		parts = append(parts, fmt.Sprintf("%.0f writes/s > %.0f", l.WritesPerSec, r.cfg.SplitQPS))
	}
	if l.ReadsPerSec > r.cfg.SplitQPS {
		parts = append(parts, fmt.Sprintf("%.0f reads/s > %.0f", l.ReadsPerSec, r.cfg.SplitQPS))
	}
	if l.CPUPerSec > r.cfg.SplitCPU {
		parts = append(parts, fmt.Sprintf("%.0f%% of a core > %.0f%%", 100*l.CPUPerSec, 100*r.cfg.SplitCPU))
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%.0f reads/s, %.0f writes/s, %.0f%% of a core", l.ReadsPerSec, l.WritesPerSec, 100*l.CPUPerSec)
	}
	return strings.Join(parts, ", ")
}

func bytesString(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// mergeAll looks at each pair of neighbours once, left to right.
func (r *round) mergeAll() {
	for i := 0; i+1 < len(r.st.Ranges); i++ {
		left, right := &r.st.Ranges[i], &r.st.Ranges[i+1]
		if ok, _ := r.mergeable(left, right); !ok {
			continue
		}
		if r.merges >= r.cfg.MaxConcurrentMoves {
			return
		}
		if sameVoterSet(left, right) && r.released(left) && r.released(right) {
			r.act(Action{Kind: Merge, RangeID: left.ID, RightID: right.ID, Reason: "released",
				Detail: fmt.Sprintf("merge r%d into r%d: their databases were dropped, the ranges are released", right.ID, left.ID)})
			i++
			continue
		}
		if sameVoterSet(left, right) {
			r.act(Action{Kind: Merge, RangeID: left.ID, RightID: right.ID, Reason: "cold",
				Detail: fmt.Sprintf("merge r%d into r%d: together %s and %s, cold for %v", right.ID, left.ID,
					r.loadString(addLoad(left.Load, right.Load)), bytesString(left.Bytes+right.Bytes), r.coldFor(left, right).Round(time.Second))})
			i++
			continue
		}
		r.colocate(left, right)
		i++
	}
}

// released tells whether every key of rg belongs to a dropped database.
func (r *round) released(rg *Range) bool { return Released(rg.StartKey, rg.EndKey, r.st.Dropped) }

// Released tells whether every key of [start, end) belongs to one of the
// dropped databases.
func Released(start, end []byte, dropped map[uint32]bool) bool {
	first, last, ok := keys.TenantSpan(start, end)
	if !ok || len(dropped) == 0 || last-first > 10000 {
		return false
	}
	for i := uint32(0); i <= last-first; i++ {
		if !dropped[first+i] {
			return false
		}
	}
	return true
}

// mergeable says whether two neighbours should merge now, and if not why
// (empty when the reason is not worth an event: busy, different databases,
// a sticky boundary, hot or large).
func (r *round) mergeable(left, right *Range) (bool, string) {
	switch {
	case left.ID == metaRangeID || right.ID == metaRangeID || r.busy[left.ID] || r.busy[right.ID]:
		return false, ""
	case bytes.Equal(left.EndKey, right.StartKey) && r.released(left) && r.released(right):
		// A dropped database's ranges: nothing to wait for.
		return r.fresh(left) && r.fresh(right), ""
	case !bytes.Equal(left.EndKey, right.StartKey) || !keys.SameTenant(left.StartKey, right.EndKey):
		return false, ""
	case right.Sticky:
		return false, ""
	case !r.fresh(left) || !r.fresh(right):
		return false, ""
	case !r.cold(addLoad(left.Load, right.Load)) || left.Bytes+right.Bytes >= r.cfg.RangeMaxBytes/2:
		return false, ""
	}
	if cold := r.coldFor(left, right); cold < r.cfg.MergeAfter {
		return false, ""
	}
	for _, rg := range []*Range{left, right} {
		at := rg.SplitAt
		if t, ok := r.mem.splitAt[rg.ID]; ok && t.After(at) {
			at = t
		}
		if !at.IsZero() && r.st.Now.Sub(at) < r.cfg.MergeCooldown {
			msg := fmt.Sprintf("r%d not merged with r%d: r%d split %v ago (cool-down %v)", left.ID, right.ID, rg.ID,
				r.st.Now.Sub(at).Round(time.Second), r.cfg.MergeCooldown)
			r.note(left.ID, 0, "not-merged", msg)
			return false, msg
		}
	}
	return true, ""
}

// coldFor is how long both ranges have been cold.
func (r *round) coldFor(left, right *Range) time.Duration {
	a, okA := r.mem.coldSince[left.ID]
	b, okB := r.mem.coldSince[right.ID]
	if !okA || !okB {
		return 0
	}
	if b.After(a) {
		a = b
	}
	return r.st.Now.Sub(a)
}

func addLoad(a, b Load) Load {
	return Load{a.ReadsPerSec + b.ReadsPerSec, a.WritesPerSec + b.WritesPerSec, a.WriteBytesPerSec + b.WriteBytesPerSec, a.CPUPerSec + b.CPUPerSec}
}

// sameVoterSet tells whether two ranges have voters on the same nodes and
// no non-voters.
func sameVoterSet(a, b *Range) bool {
	if len(a.Replicas) != len(b.Replicas) {
		return false
	}
	for _, rep := range a.Replicas {
		if !rep.Voter {
			return false
		}
	}
	for _, rep := range b.Replicas {
		if !rep.Voter || !hasReplica(a, rep.NodeID) {
			return false
		}
	}
	return true
}

// colocate moves one of right's replicas onto a node of left's.
func (r *round) colocate(left, right *Range) {
	var from, to uint64
	for _, rep := range right.Replicas {
		if !hasReplica(left, rep.NodeID) {
			from = rep.NodeID
			break
		}
	}
	for _, v := range voters(left) {
		if !hasReplica(right, v) && r.usable[v] {
			to = v
			break
		}
	}
	msg := fmt.Sprintf("r%d not merged with r%d yet: moving r%d's replicas to %s first", left.ID, right.ID, right.ID, nodeList(voters(left)))
	// The left stays where it is while the right comes to it: busy for
	// this round, and for rebalancing in the next ones as if just moved
	// (a move of the left would send the right after it again).
	r.busy[left.ID] = true
	r.mem.movedAt[left.ID] = r.st.Now
	if from == 0 || to == 0 || !r.canMove() {
		r.note(left.ID, 0, "not-merged", msg)
		return
	}
	r.note(left.ID, 0, "not-merged", msg)
	r.act(Action{Kind: Relocate, RangeID: right.ID, From: from, To: to, Reason: "merge",
		Detail: fmt.Sprintf("move r%d's replica from n%d to n%d, to merge it into r%d", right.ID, from, to, left.ID)})
}

// rebalance evens replica counts, then leader counts, then leader load.
func (r *round) rebalance() {
	if len(r.usable) < 2 {
		return
	}
	for id := range r.usable {
		if !r.recent[id] {
			// A node went quiet: it may be dying. Balance once the
			// cluster's shape is known again.
			return
		}
	}
	r.rebalanceReplicas()
	r.rebalanceLeaders()
	r.rebalanceLoad()
}

func (r *round) mean(total int) float64 { return float64(total) / float64(len(r.usable)) }

// rebalanceReplicas moves replicas from the fullest usable node to the
// emptiest while either is further than the tolerance from the mean.
func (r *round) rebalanceReplicas() {
	tol := float64(r.cfg.RebalanceTolerance)
	for r.canMove() {
		total := 0
		for id := range r.usable {
			total += r.replicas[id]
		}
		mean := r.mean(total)
		var most, least uint64
		for _, id := range sortedIDs(r.usable) {
			if most == 0 || r.replicas[id] > r.replicas[most] {
				most = id
			}
			if least == 0 || r.replicas[id] < r.replicas[least] {
				least = id
			}
		}
		if float64(r.replicas[most]) <= mean+tol && float64(r.replicas[least]) >= mean-tol {
			return
		}
		if r.replicas[most]-r.replicas[least] < 2 {
			return
		}
		rg := r.coldestMovable(most, least)
		if rg == nil {
			return
		}
		r.act(Action{Kind: Relocate, RangeID: rg.ID, From: most, To: least, Reason: "rebalance-count",
			Detail: fmt.Sprintf("move r%d's replica from n%d (%d replicas) to n%d (%d); mean %.1f", rg.ID, most, r.replicas[most], least, r.replicas[least], mean)})
	}
}

// coldestMovable is the coldest range on from, not on to, with no action.
func (r *round) coldestMovable(from, to uint64) *Range {
	var best *Range
	for i := range r.st.Ranges {
		rg := &r.st.Ranges[i]
		if r.busy[rg.ID] || !hasReplica(rg, from) || hasReplica(rg, to) || !sameVoterCount(rg) {
			continue
		}
		if t, ok := r.mem.movedAt[rg.ID]; ok && r.st.Now.Sub(t) < 10*r.cfg.ReportInterval {
			continue // moved a moment ago: its counts may not show it yet
		}
		if best == nil || loadScore(rg.Load) < loadScore(best.Load) {
			best = rg
		}
	}
	return best
}

// sameVoterCount: only healthy ranges (no non-voter) are rebalanced.
func sameVoterCount(rg *Range) bool { return len(voters(rg)) == len(rg.Replicas) }

func loadScore(l Load) float64 { return l.ReadsPerSec + l.WritesPerSec + 1000*l.CPUPerSec }

// leaderSettle is how long leader counts are not trusted after a transfer:
// reports show the old leader until the next one arrives.
func (r *round) leaderSettle() time.Duration { return 4 * r.cfg.ReportInterval }

// leaderMovable tells whether rg's leadership may move for balance: not the
// meta range's (the controller runs there), and not one moved recently.
func (r *round) leaderMovable(rg *Range) bool {
	if rg.ID == metaRangeID || r.busy[rg.ID] || rg.Leader == 0 {
		return false
	}
	t, ok := r.mem.transferAt[rg.ID]
	return !ok || r.st.Now.Sub(t) >= 10*r.cfg.ReportInterval
}

// rebalanceLeaders transfers leaderships from nodes leading more than the
// mean plus the tolerance to usable voters leading fewer.
func (r *round) rebalanceLeaders() {
	if r.st.Now.Sub(r.mem.lastTransfer) < r.leaderSettle() {
		return
	}
	tol := float64(r.cfg.RebalanceTolerance)
	led := 0
	for i := range r.st.Ranges {
		if r.usable[r.st.Ranges[i].Leader] {
			led++
		}
	}
	mean := r.mean(led)
	for i := range r.st.Ranges {
		if r.transfers >= r.cfg.MaxLeaderTransfersPerRound {
			return
		}
		rg := &r.st.Ranges[i]
		if !r.leaderMovable(rg) || !r.usable[rg.Leader] || float64(r.leaders[rg.Leader]) <= mean+tol {
			continue
		}
		to := r.leaderTarget(rg, rg.Leader)
		if to == 0 || r.leaders[rg.Leader]-r.leaders[to] < 2 {
			continue
		}
		r.act(Action{Kind: TransferLeader, RangeID: rg.ID, From: rg.Leader, To: to, Reason: "rebalance-leaders",
			Detail: fmt.Sprintf("move r%d's leadership from n%d (leads %d) to n%d (leads %d); mean %.1f", rg.ID, rg.Leader, r.leaders[rg.Leader], to, r.leaders[to], mean)})
	}
	// Nodes far below the mean pull a leadership from the busiest voter.
	for _, id := range sortedIDs(r.usable) {
		if r.transfers >= r.cfg.MaxLeaderTransfersPerRound || float64(r.leaders[id]) >= mean-tol {
			continue
		}
		var pick *Range
		for i := range r.st.Ranges {
			rg := &r.st.Ranges[i]
			if !r.leaderMovable(rg) || rg.Leader == id || !hasVoter(rg, id) || r.leaders[rg.Leader]-r.leaders[id] < 2 {
				continue
			}
			if pick == nil || r.leaders[rg.Leader] > r.leaders[pick.Leader] {
				pick = rg
			}
		}
		if pick != nil {
			r.act(Action{Kind: TransferLeader, RangeID: pick.ID, From: pick.Leader, To: id, Reason: "rebalance-leaders",
				Detail: fmt.Sprintf("move r%d's leadership from n%d (leads %d) to n%d (leads %d); mean %.1f", pick.ID, pick.Leader, r.leaders[pick.Leader], id, r.leaders[id], mean)})
		}
	}
}

func hasVoter(rg *Range, node uint64) bool {
	for _, rep := range rg.Replicas {
		if rep.NodeID == node && rep.Voter {
			return true
		}
	}
	return false
}

// rebalanceLoad moves the hottest leadership off a node leading more than
// twice the mean load, when that load matters (a quarter of the split
// threshold).
func (r *round) rebalanceLoad() {
	if r.transfers >= r.cfg.MaxLeaderTransfersPerRound || r.st.Now.Sub(r.mem.lastTransfer) < r.leaderSettle() {
		return
	}
	load := map[uint64]float64{}
	var total float64
	for i := range r.st.Ranges {
		rg := &r.st.Ranges[i]
		if r.usable[rg.Leader] && r.fresh(rg) {
			load[rg.Leader] += loadScore(rg.Load)
			total += loadScore(rg.Load)
		}
	}
	mean := total / float64(len(r.usable))
	var hottest uint64
	for _, id := range sortedIDs(r.usable) {
		if hottest == 0 || load[id] > load[hottest] {
			hottest = id
		}
	}
	if load[hottest] <= 2*mean || load[hottest] < r.cfg.SplitQPS/4 {
		return
	}
	var cands []*Range
	for i := range r.st.Ranges {
		rg := &r.st.Ranges[i]
		if rg.Leader == hottest && r.leaderMovable(rg) && r.fresh(rg) {
			cands = append(cands, rg)
		}
	}
	sort.SliceStable(cands, func(i, j int) bool { return loadScore(cands[i].Load) > loadScore(cands[j].Load) })
	for _, rg := range cands {
		var to uint64
		for _, v := range voters(rg) {
			if v != hottest && r.usable[v] && (to == 0 || load[v] < load[to]) {
				to = v
			}
		}
		// The move must lower the hotter of the two nodes by a tenth at
		// least: one hot range bouncing between nodes helps nobody.
		score := loadScore(rg.Load)
		if to == 0 || max(load[hottest]-score, load[to]+score) >= 0.9*load[hottest] {
			continue
		}
		r.act(Action{Kind: TransferLeader, RangeID: rg.ID, From: hottest, To: to, Reason: "rebalance-load",
			Detail: fmt.Sprintf("move r%d's leadership (%.0f req/s) from n%d (%.0f req/s led) to n%d (%.0f); mean %.0f", rg.ID, loadScore(rg.Load), hottest, load[hottest], to, load[to], mean)})
		return
	}
}

func prettyKey(k []byte) string { return keys.Pretty(k) }

func tenantOK(start, end []byte) bool { return keys.SameTenant(start, end) }

// msgShape is msg with every run of digits (and the decimal points and
// units between them) replaced by '#'.
func msgShape(msg string) string {
	var b strings.Builder
	inNum := false
	for _, c := range msg {
		if c >= '0' && c <= '9' || (inNum && c == '.') {
			if !inNum {
				b.WriteByte('#')
			}
			inNum = true
			continue
		}
		inNum = false
		b.WriteRune(c)
	}
	return b.String()
}
