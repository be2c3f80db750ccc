package replica

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/shardingsystem/shard/kvpb"
	"github.com/shardingsystem/shard/replication"
)

// A one-phase commit whose proposal fails after raft appended it (this
// node lost leadership: a transfer, an election) may still be committed
// by the next leader. The client could only be told that the outcome is
// unknown, and a deferred transaction's blind write, which cannot be sent
// again (kv.ErrAmbiguous), would fail. Instead the proposer waits a little
// for its entry's index to be applied here, as a follower now: the
// applier hands the result of every watched commit to its proposer, so by
// then the answer is the commit's own result, or, when another entry took
// the index, a plain NotLeader (nothing was applied; safe to send again).
// An entry truncated from this node's log is no proof (a later leader
// that has it may still commit it), but a committed entry of a later term
// below its index is: every later leader's log holds that entry, and after
// it only entries of its term or later. That settles the entries the old
// leader appended beyond the new leader's log, which may take long to
// reach their index. A node that cannot learn the fate in outcomeWait (cut
// off, far behind) keeps the error ambiguous, and so does one whose
// applied index a snapshot moved past the entry: the snapshot may hold the
// commit, and no result was handed over.

// outcomeWait bounds the wait for an appended proposal's fate: about an
// election and a round of replication.
const outcomeWait = 3 * time.Second

// outcomes are the one-phase commits whose proposers watch for their
// results, by commit timestamp (the oracle's, unique to each attempt).
type outcomes struct {
	n  atomic.Int32 // len(m): the applier skips the lock when 0
	mu sync.Mutex
	m  map[uint64]chan *ApplyResult
}

// watch registers the commit at commit; the channel gets its result if
// this node applies it. unwatch must be called.
func (o *outcomes) watch(commit uint64) (results <-chan *ApplyResult, unwatch func()) {
	ch := make(chan *ApplyResult, 1)
	o.mu.Lock()
	if o.m == nil {
		o.m = map[uint64]chan *ApplyResult{}
	}
	o.m[commit] = ch
	o.n.Store(int32(len(o.m)))
	o.mu.Unlock()
	return ch, func() {
		o.mu.Lock()
		delete(o.m, commit)
		o.n.Store(int32(len(o.m)))
		o.mu.Unlock()
	}
}

// deliver hands res to the proposer of the commit at commit, if it
// watches; called by the applier.
func (o *outcomes) deliver(commit uint64, res *ApplyResult) {
	if o.n.Load() == 0 {
		return
	}
	o.mu.Lock()
	ch := o.m[commit]
	o.mu.Unlock()
	if ch != nil {
		select {
		case ch <- res:
		default: // applied twice? the first result stands
		}
	}
}

// proposeWatched proposes cmd, the one-phase commit at commit, and when
// the proposal's fate is unknown waits (outcomeWait at most) to learn it
// (see above).
func (r *Replica) proposeWatched(ctx context.Context, cmd *kvpb.Command, commit uint64) (*ApplyResult, error) {
	data, err := proto.Marshal(cmd)
	if err != nil {
		return nil, err
	}
	results, unwatch := r.outcomes.watch(commit)
	defer unwatch()
	restores := r.restores.Load()
	res, index, err := r.proposeData(ctx, data)
	if err == nil || !errors.Is(err, replication.ErrUnknownOutcome) || index == 0 ||
		errors.Is(err, replication.ErrGroupShutdown) { // the node is stopping: nothing to wait for
		return res, r.proposeError(err)
	}
	// The entry's term, while this node's log still holds it: once an
	// entry of a later term is committed below its index, no leader can
	// ever commit it (every later leader's log holds that entry, and only
	// entries of its term or later after it).
	term, d, ok := r.group.Entry(index)
	if !ok || !bytes.Equal(d, data) {
		term = 0 // replaced already: only its index's apply tells
	}
	deadline := time.NewTimer(outcomeWait)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	applied := func(res *ApplyResult) (*ApplyResult, error) {
		if res.Err != nil {
			return nil, res.Err
		}
		return res, nil
	}
	for {
		select {
		case res := <-results:
			return applied(res)
		case <-tick.C:
		case <-deadline.C:
			return nil, r.proposeError(err)
		case <-ctx.Done():
			return nil, r.proposeError(err)
		}
		if r.Applied() >= index {
			// Applied here without a result for this commit: another
			// entry took the index (a result is delivered before the
			// applied index moves), unless a snapshot moved it, which
			// may hold this commit: its fate stays unknown.
			select {
			case res := <-results:
				return applied(res)
			default:
			}
			if r.restores.Load() != restores {
				return nil, r.proposeError(err)
			}
			return nil, r.notLeader()
		}
		if c := r.group.CommitIndex(); term != 0 && c < index {
			if t, _, ok := r.group.Entry(c); ok && t > term {
				return nil, r.notLeader()
			}
		}
	}
}
