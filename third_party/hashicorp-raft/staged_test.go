// Copyright (c) shard authors
// SPDX-License-Identifier: MPL-2.0

// Tests of shard's patch to hashicorp/raft; see PATCHES.md.

package raft

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// gatedStore is a log store whose StoreLogs can be held until released,
// or made to fail once.
type gatedStore struct {
	*InmemStore
	mu      sync.Mutex
	hold    chan struct{} // when set, StoreLogs waits for it to close
	held    chan struct{} // closed when a StoreLogs call starts waiting
	failErr error         // when set, the next StoreLogs returns it (after any hold), storing nothing
}

func (s *gatedStore) StoreLogs(logs []*Log) error {
	s.mu.Lock()
	hold, held, failErr := s.hold, s.held, s.failErr
	s.hold, s.held, s.failErr = nil, nil, nil
	s.mu.Unlock()
	if hold != nil {
		close(held)
		<-hold
	}
	if failErr != nil {
		return failErr
	}
	return s.InmemStore.StoreLogs(logs)
}

func (s *gatedStore) StoreLog(l *Log) error { return s.StoreLogs([]*Log{l}) }

type stagedCluster struct {
	rafts  []*Raft
	stores []*gatedStore
	fsms   []*MockFSM
	trans  []*InmemTransport
}

// stagedOptions change startStagedCluster's cluster: conf edits each
// node's config, wrap each node's transport.
type stagedOptions struct {
	conf func(*Config)
	wrap func(*InmemTransport) Transport
}

func startStagedCluster(t *testing.T, opts ...stagedOptions) *stagedCluster {
	t.Helper()
	c := &stagedCluster{}
	var trans []*InmemTransport
	var servers []Server
	for i := 0; i < 3; i++ {
		addr, tr := NewInmemTransport(ServerAddress(fmt.Sprintf("n%d", i)))
		trans = append(trans, tr)
		servers = append(servers, Server{Suffrage: Voter, ID: ServerID(addr), Address: addr})
	}
	for i, a := range trans {
		for j, b := range trans {
			if i != j {
				a.Connect(b.LocalAddr(), b)
			}
		}
	}
	c.trans = trans
	for i := 0; i < 3; i++ {
		conf := inmemConfig(t)
		conf.LocalID = servers[i].ID
		var tr Transport = trans[i]
		for _, o := range opts {
			if o.conf != nil {
				o.conf(conf)
			}
			if o.wrap != nil {
				tr = o.wrap(trans[i])
			}
		}
		store := &gatedStore{InmemStore: NewInmemStore()}
		fsm := &MockFSM{}
		snaps := NewInmemSnapshotStore()
		if err := BootstrapCluster(conf, store, store, snaps, tr, Configuration{Servers: servers}); err != nil {
			t.Fatal(err)
		}
		r, err := NewRaft(conf, fsm, store, store, snaps, tr)
		if err != nil {
			t.Fatal(err)
		}
		c.rafts, c.stores, c.fsms = append(c.rafts, r), append(c.stores, store), append(c.fsms, fsm)
	}
	t.Cleanup(func() {
		for _, r := range c.rafts {
			_ = r.Shutdown().Error()
		}
	})
	return c
}

// leader waits for a leader and returns its position.
func (c *stagedCluster) leader(t *testing.T) int {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for i, r := range c.rafts {
			if r.State() == Leader {
				// A leader's first entry (its no-op) must be committed
				// before the test gates its store.
				if err := r.Barrier(time.Second).Error(); err == nil {
					return i
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader")
	return -1
}

// eventually polls cond until it returns nil, and fails the test with its
// last error once limit has passed.
func eventually(t *testing.T, limit time.Duration, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitFollowersHave waits until every raft but the leader's has index in
// its log store.
func (c *stagedCluster) waitFollowersHave(t *testing.T, leader int, index uint64) {
	t.Helper()
	eventually(t, 5*time.Second, func() error {
		missing := 0
		for i, s := range c.stores {
			if last, _ := s.LastIndex(); i != leader && last < index {
				missing++
			}
		}
		if missing > 0 {
			return fmt.Errorf("%d followers lack entry %d while the leader writes it", missing, index)
		}
		return nil
	})
}

// gate makes the next StoreLogs of store i wait until the returned channel
// is closed, then return failErr if not nil; held is closed when it starts
// waiting.
func (c *stagedCluster) gate(i int, failErr error) (release, held chan struct{}) {
	release, held = make(chan struct{}), make(chan struct{})
	s := c.stores[i]
	s.mu.Lock()
	s.hold, s.held, s.failErr = release, held, failErr
	s.mu.Unlock()
	return release, held
}

// TestLeaderSendsWhileItWrites: the followers receive and store a new
// entry while the leader's own write of it has not returned, and the entry
// commits once that write returns.
func TestLeaderSendsWhileItWrites(t *testing.T) {
	c := startStagedCluster(t)
	l := c.leader(t)
	release, held := c.gate(l, nil)
	f := c.rafts[l].Apply([]byte("x"), 5*time.Second)
	<-held
	index := c.rafts[l].LastIndex()
	c.waitFollowersHave(t, l, index)
	if got, _ := c.stores[l].LastIndex(); got >= index {
		t.Fatalf("the leader stored entry %d before its write was released", index)
	}
	close(release)
	if err := f.Error(); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if f.Index() != index {
		t.Fatalf("applied at %d, want %d", f.Index(), index)
	}
}

// TestLeaderWriteFails: when the leader's write of an entry fails after
// both followers stored it, the proposer learns that leadership was lost
// (the outcome is unknown, not a failure), the leader steps down, and the
// next leader, one of the followers, commits the entry everywhere, the old
// leader included.
func TestLeaderWriteFails(t *testing.T) {
	c := startStagedCluster(t)
	l := c.leader(t)
	release, held := c.gate(l, errors.New("disk on fire"))
	f := c.rafts[l].Apply([]byte("sent"), 5*time.Second)
	<-held
	c.waitFollowersHave(t, l, c.rafts[l].LastIndex())
	close(release)
	if err := f.Error(); !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("apply after a failed write: %v, want ErrLeadershipLost", err)
	}

	c.applyAfter(t)
	c.waitAgree(t, func(logs []string) bool { return len(logs) == 2 && logs[0] == "sent" && logs[1] == "after" })
}

// TestLeaderWriteFailsOneFollowerHasIt: when the leader's write fails
// after only one follower stored the entry, the entry may be committed or
// dropped, depending on which follower the next election picks; the
// replicas agree either way.
func TestLeaderWriteFailsOneFollowerHasIt(t *testing.T) {
	c := startStagedCluster(t)
	l := c.leader(t)
	a, b := (l+1)%3, (l+2)%3
	release, held := c.gate(l, errors.New("disk on fire"))
	c.trans[l].Disconnect(c.trans[b].LocalAddr())
	f := c.rafts[l].Apply([]byte("sent"), 5*time.Second)
	<-held
	index := c.rafts[l].LastIndex()
	eventually(t, 5*time.Second, func() error {
		if last, _ := c.stores[a].LastIndex(); last < index {
			return fmt.Errorf("follower %d lacks entry %d", a, index)
		}
		return nil
	})
	if last, _ := c.stores[b].LastIndex(); last >= index {
		t.Fatalf("follower %d has entry %d though the leader cannot reach it", b, index)
	}
	close(release)
	c.trans[l].Connect(c.trans[b].LocalAddr(), c.trans[b])
	if err := f.Error(); !errors.Is(err, ErrLeadershipLost) {
		t.Fatalf("apply after a failed write: %v, want ErrLeadershipLost", err)
	}
	c.applyAfter(t)
	c.waitAgree(t, func(logs []string) bool {
		return len(logs) > 0 && logs[len(logs)-1] == "after" && (len(logs) == 1 || len(logs) == 2 && logs[0] == "sent")
	})
}

// applyAfter waits for a leader and commits "after" through it.
func (c *stagedCluster) applyAfter(t *testing.T) {
	t.Helper()
	var err error
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		nl := c.leader(t)
		if err = c.rafts[nl].Apply([]byte("after"), time.Second).Error(); err == nil {
			return
		}
	}
	t.Fatalf("apply after re-election: %v", err)
}

// waitAgree waits until the three replicas have applied the same
// commands, and those satisfy ok.
func (c *stagedCluster) waitAgree(t *testing.T, ok func(logs []string) bool) {
	t.Helper()
	eventually(t, 5*time.Second, func() error {
		var got [][]string
		for _, m := range c.fsms {
			var logs []string
			for _, l := range m.Logs() {
				logs = append(logs, string(l))
			}
			got = append(got, logs)
		}
		same := fmt.Sprint(got[0]) == fmt.Sprint(got[1]) && fmt.Sprint(got[1]) == fmt.Sprint(got[2])
		if !same || !ok(got[0]) {
			return fmt.Errorf("replicas applied %q", got)
		}
		t.Logf("every replica applied %q", got[0])
		return nil
	})
}

// TestGetLog: a replicator reads a staged entry from the batch; a missing
// entry at or below the last index is ErrLogNotFound (the follower needs
// a snapshot), one beyond it belongs to a batch the leader failed to
// write, and is not.
func TestGetLog(t *testing.T) {
	r := &Raft{logs: NewInmemStore()}
	r.setLastLog(5, 1)
	var l Log
	if err := r.getLog(3, &l); !errors.Is(err, ErrLogNotFound) {
		t.Errorf("entry 3, compacted: %v, want ErrLogNotFound", err)
	}
	if err := r.getLog(6, &l); !errors.Is(err, errWithdrawn) || errors.Is(err, ErrLogNotFound) {
		t.Errorf("entry 6, beyond the last: %v, want errWithdrawn", err)
	}
	batch := []*Log{{Index: 6, Term: 2, Data: []byte("a")}, {Index: 7, Term: 2, Data: []byte("b")}}
	r.staged.Store(&batch)
	r.setLastLog(7, 2)
	if err := r.getLog(7, &l); err != nil || l.Index != 7 || string(l.Data) != "b" {
		t.Errorf("staged entry 7: %+v, %v", l, err)
	}
}
