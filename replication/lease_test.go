package replication

import (
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestLeasesHeld(t *testing.T) {
	t0 := time.Unix(1000, 0)
	d := 100 * time.Millisecond
	servers := []raft.Server{
		{ID: "1", Address: "a", Suffrage: raft.Voter},
		{ID: "2", Address: "b", Suffrage: raft.Voter},
		{ID: "3", Address: "c", Suffrage: raft.Voter},
		{ID: "4", Address: "d", Suffrage: raft.Nonvoter},
	}
	ok := &raft.AppendEntriesResponse{Term: 5, Success: true}
	req := &raft.AppendEntriesRequest{Term: 5}
	var l leases
	if l.held(5, "1", servers, t0, d) {
		t.Fatal("a lease without any acknowledgement")
	}
	// A non-voter's acknowledgement does not count.
	l.ack("d", t0, req, ok)
	if l.held(5, "1", servers, t0, d) {
		t.Fatal("a lease from a non-voter")
	}
	// One follower and the leader: a quorum of three.
	l.ack("b", t0, req, ok)
	if !l.held(5, "1", servers, t0.Add(50*time.Millisecond), d) {
		t.Fatal("no lease after a quorum acknowledged")
	}
	// It runs from the send time: gone d after it.
	if l.held(5, "1", servers, t0.Add(d), d) {
		t.Fatal("the lease outlived its duration")
	}
	// Another term's leader holds nothing.
	if l.held(6, "1", servers, t0.Add(time.Millisecond), d) {
		t.Fatal("a lease in another term")
	}
	// A failed response, or one of another term, does not count.
	l.ack("c", t0.Add(90*time.Millisecond), req, &raft.AppendEntriesResponse{Term: 5})
	l.ack("c", t0.Add(90*time.Millisecond), req, &raft.AppendEntriesResponse{Term: 6, Success: true})
	if l.held(5, "1", servers, t0.Add(150*time.Millisecond), d) {
		t.Fatal("a lease from a refused request")
	}
	// An older send time does not move an acknowledgement back.
	l.ack("c", t0.Add(90*time.Millisecond), req, ok)
	l.ack("c", t0, req, ok)
	if !l.held(5, "1", servers, t0.Add(150*time.Millisecond), d) {
		t.Fatal("an older acknowledgement replaced a newer one")
	}
	// A newer term forgets the old term's acknowledgements.
	l.ack("b", t0.Add(100*time.Millisecond), &raft.AppendEntriesRequest{Term: 7}, &raft.AppendEntriesResponse{Term: 7, Success: true})
	if l.held(7, "1", servers, t0.Add(150*time.Millisecond), d) != true {
		t.Fatal("no lease in term 7 after b acknowledged it")
	}
	if l.held(5, "1", servers, t0.Add(150*time.Millisecond), d) {
		t.Fatal("term 5's lease after term 7 began")
	}
	// A leadership transfer ends the lease for the rest of the term.
	l.end(7)
	if l.held(7, "1", servers, t0.Add(150*time.Millisecond), d) {
		t.Fatal("a lease after a transfer started")
	}
	// The lease is shorter than any follower's wait before it campaigns.
	if got := leaseDuration(800*time.Millisecond, 400*time.Millisecond); got != 320*time.Millisecond {
		t.Errorf("lease of 800 ms heartbeat, 400 ms lease timeout: %v, want 320ms", got)
	}
	if got := leaseDuration(100*time.Millisecond, 400*time.Millisecond); got != 80*time.Millisecond {
		t.Errorf("lease of 100 ms heartbeat, 400 ms lease timeout: %v, want 80ms", got)
	}
	// A lone voter is its own quorum.
	var solo leases
	solo.ack("x", t0, &raft.AppendEntriesRequest{Term: 2}, &raft.AppendEntriesResponse{Term: 2, Success: true})
	if !solo.held(2, "1", servers[:1], t0, d) {
		t.Fatal("no lease for a single voter")
	}
}
