// Copyright (c) shard authors
// SPDX-License-Identifier: MPL-2.0

// Tests of shard's patch to hashicorp/raft: an idle group's replicators
// send nothing on their commit-timeout ticks; see PATCHES.md.

package raft

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// countingTransport counts the AppendEntries a node sends that are not
// heartbeats (heartbeats carry neither entries nor a commit index).
type countingTransport struct {
	*InmemTransport
	appends *atomic.Int64
}

func (c countingTransport) count(req *AppendEntriesRequest) {
	if len(req.Entries) > 0 || req.LeaderCommitIndex > 0 || req.PrevLogEntry > 0 {
		c.appends.Add(1)
	}
}

func (c countingTransport) AppendEntries(id ServerID, target ServerAddress, req *AppendEntriesRequest, resp *AppendEntriesResponse) error {
	c.count(req)
	return c.InmemTransport.AppendEntries(id, target, req, resp)
}

func (c countingTransport) AppendEntriesPipeline(id ServerID, target ServerAddress) (AppendPipeline, error) {
	p, err := c.InmemTransport.AppendEntriesPipeline(id, target)
	if err != nil {
		return nil, err
	}
	return countingPipeline{AppendPipeline: p, c: c}, nil
}

type countingPipeline struct {
	AppendPipeline
	c countingTransport
}

func (p countingPipeline) AppendEntries(req *AppendEntriesRequest, resp *AppendEntriesResponse) (AppendFuture, error) {
	p.c.count(req)
	return p.AppendPipeline.AppendEntries(req, resp)
}

// idleCluster starts a cluster whose nodes count their appends, with a
// heartbeat timeout far above the commit timeout: an idle replicator sends
// about once per heartbeat timeout with the patch, once per commit timeout
// without it.
func idleCluster(t *testing.T) (*stagedCluster, *atomic.Int64) {
	appends := &atomic.Int64{}
	c := startStagedCluster(t, stagedOptions{
		conf: func(conf *Config) {
			conf.HeartbeatTimeout = 2 * time.Second
			conf.ElectionTimeout = 2 * time.Second
			conf.LeaderLeaseTimeout = time.Second
			conf.CommitTimeout = 5 * time.Millisecond
		},
		wrap: func(tr *InmemTransport) Transport { return countingTransport{InmemTransport: tr, appends: appends} },
	})
	return c, appends
}

// waitApplied waits until every FSM holds n entries, for at most limit.
func (c *stagedCluster) waitApplied(t *testing.T, n int, limit time.Duration) {
	t.Helper()
	eventually(t, limit, func() error {
		behind := 0
		for _, f := range c.fsms {
			if len(f.Logs()) < n {
				behind++
			}
		}
		if behind > 0 {
			return fmt.Errorf("%d of %d replicas had not applied entry %d after %v", behind, len(c.fsms), n, limit)
		}
		return nil
	})
}

// TestIdleGroupSendsNothing: once every follower has every entry and the
// commit index, the leader's replicators stop sending on each commit
// timeout (upstream sends about 2 × 200 appends in this second).
func TestIdleGroupSendsNothing(t *testing.T) {
	c, appends := idleCluster(t)
	l := c.leader(t)
	if err := c.rafts[l].Apply([]byte("x"), 5*time.Second).Error(); err != nil {
		t.Fatal(err)
	}
	c.waitApplied(t, 1, time.Second)
	time.Sleep(100 * time.Millisecond) // the last acknowledgements
	before := appends.Load()
	time.Sleep(time.Second)
	// Each follower is sent its idle append at most once per heartbeat
	// timeout, so none or one each; 10 leaves room for a slow machine.
	if sent := appends.Load() - before; sent > 10 {
		t.Fatalf("an idle group sent %d appends in a second", sent)
	}
}

// TestFollowersLearnCommitWhenIdle: a follower applies an entry without a
// later write to carry the commit index to it, promptly: the commit wakes
// the idle replicators, which send it a commit timeout later, not after
// the heartbeat timeout (2 s here, twice the wait allowed).
func TestFollowersLearnCommitWhenIdle(t *testing.T) {
	c, _ := idleCluster(t)
	l := c.leader(t)
	for i := 1; i <= 5; i++ {
		if err := c.rafts[l].Apply([]byte("x"), 5*time.Second).Error(); err != nil {
			t.Fatal(err)
		}
		c.waitApplied(t, i, time.Second)
		time.Sleep(50 * time.Millisecond) // idle again: ten commit timeouts
	}
}

// TestIdleTick: what makes a tick idle, the time bound included.
func TestIdleTick(t *testing.T) {
	conf := DefaultConfig()
	r := &Raft{}
	r.conf.Store(*conf)
	r.setCommitIndex(10)
	now := time.Now().UnixNano()
	for _, tc := range []struct {
		name        string
		next, last  uint64
		commitAcked uint64
		appendAcked int64
		want        bool
	}{
		{"all sent and acknowledged", 21, 20, 10, now, true},
		{"entries unsent", 20, 20, 10, now, false},
		{"commit index unacknowledged", 21, 20, 9, now, false},
		{"acknowledged too long ago", 21, 20, 10, now - int64(2*conf.HeartbeatTimeout), false},
		{"after a failure", 21, 20, 0, 0, false},
	} {
		s := &followerReplication{}
		s.commitAcked.Store(tc.commitAcked)
		s.appendAcked.Store(tc.appendAcked)
		if got := r.idleTick(s, tc.next, tc.last); got != tc.want {
			t.Errorf("%s: idleTick = %v, want %v", tc.name, got, tc.want)
		}
	}
}
