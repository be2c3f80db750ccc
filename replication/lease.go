package replication

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Leader leases. A leader that has heard from a quorum recently may serve a
// linearizable read without first asking the quorum again
// (Group.VerifyLeader, a round of heartbeats per read): no other leader can
// exist yet. The argument, for hashicorp raft:
//
//   - A follower that accepted an AppendEntries (heartbeat or entries) of
//     the leader's term at time t (its clock) does not campaign, and
//     rejects every vote request while it knows a leader, until its
//     heartbeat timer fires: not before t + its heartbeat timeout, which
//     is HeartbeatTimeout, or LeaderLeaseTimeout while the follower is
//     hastened (FastElection, Group.hasten), never less. The only
//     exception is a vote request flagged as a leadership transfer, which
//     only the leader starts (Group.TransferLeadership ends the lease
//     first, for the rest of the term).
//   - A follower that restarts forgets its leader, and raft would grant
//     the next vote request at once; so a replica that opens on existing
//     state refuses vote and pre-vote requests for min(HeartbeatTimeout,
//     LeaderLeaseTimeout) after it starts (GroupTransport.refuseVotesUntil),
//     which outlasts any lease its last acknowledgement before the crash
//     gave. It cannot win an election of its own sooner either: its
//     heartbeat timer starts when it does.
//   - The leader itself votes for nobody while it leads, and it steps down
//     only after LeaderLeaseTimeout without contact from a quorum.
//   - A new leader needs the votes of a quorum, which shares a member with
//     any quorum that acknowledged the old leader.
//
// So if a quorum (the leader counting itself) acknowledged AppendEntries
// requests of the current term that the leader sent at or after s, no new
// leader is elected before s + min(HeartbeatTimeout, LeaderLeaseTimeout),
// measured from the leader's send time, which precedes every follower's
// receipt. The lease holds until s + leaseFraction of that, leaving the
// rest for the drift of the clocks' rates and for scheduling. The leader's
// heartbeats (every HeartbeatTimeout/10 or so) renew it while it leads.
//
// The acknowledgements are seen in this package's transport: unary
// AppendEntries (heartbeats, single sends) and the pipeline's responses.
// Only successful responses of the request's own term count.

// leaseFraction is the share of the election-safe window a lease uses.
const leaseFraction = 0.8

// leases tracks, for one group on this node, the send time of the newest
// acknowledged AppendEntries of each follower, in the newest term seen.
type leases struct {
	mu   sync.Mutex
	term uint64
	// acks are the send times of acknowledged requests of term, by
	// follower address.
	acks map[raft.ServerAddress]time.Time
	// endedTerm is a term in which the lease may no longer be held (a
	// leadership transfer started in it).
	endedTerm uint64
}

// ack records the response to an AppendEntries request sent at sent.
func (l *leases) ack(target raft.ServerAddress, sent time.Time, req *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) {
	if !resp.Success || resp.Term != req.Term {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case req.Term < l.term:
		return
	case req.Term > l.term:
		l.term = req.Term
		clear(l.acks)
	}
	if l.acks == nil {
		l.acks = make(map[raft.ServerAddress]time.Time)
	}
	if sent.After(l.acks[target]) {
		l.acks[target] = sent
	}
}

// end ends the lease for the rest of term.
func (l *leases) end(term uint64) {
	l.mu.Lock()
	l.endedTerm = max(l.endedTerm, term)
	l.mu.Unlock()
}

// held reports whether the leader at self, in term, with the voters of
// servers, holds a lease at now given the lease duration d.
func (l *leases) held(term uint64, self raft.ServerID, servers []raft.Server, now time.Time, d time.Duration) bool {
	since := now.Add(-d)
	l.mu.Lock()
	defer l.mu.Unlock()
	if term == 0 || term != l.term || term <= l.endedTerm {
		return false
	}
	voters, acked := 0, 0
	for _, s := range servers {
		if s.Suffrage != raft.Voter {
			continue
		}
		voters++
		if s.ID == self {
			acked++
		} else if t, ok := l.acks[s.Address]; ok && t.After(since) {
			acked++
		}
	}
	return voters > 0 && acked > voters/2
}

// leaseDuration is the lease of a group whose shortest heartbeat timeout
// is hb (a hastened follower's is the lease timeout) and whose lease
// timeout is llt.
func leaseDuration(hb, llt time.Duration) time.Duration {
	return time.Duration(float64(min(hb, llt)) * leaseFraction)
}
