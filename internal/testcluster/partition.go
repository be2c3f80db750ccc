package testcluster

import "github.com/hashicorp/raft"

// Partition cuts (cut true) or restores raft traffic between nodes i and j,
// in both directions, at both nodes' transport hubs
// (replication.Hub.SetPartitioned). Client traffic (kv requests, the
// timestamp oracle) still flows: a partitioned leader keeps receiving
// requests and must refuse what it can no longer serve. A stopped node is
// skipped; a restarted node starts with no partition of its own.
func (c *Cluster) Partition(i, j int, cut bool) {
	c.tb.Helper()
	for _, p := range [][2]int{{i, j}, {j, i}} {
		if s := c.server(p[0]); s != nil && s.Hub() != nil {
			s.Hub().SetPartitioned(raft.ServerAddress(c.Addr(p[1])), cut)
		}
	}
}

// Isolate cuts node i off from every other node (cut false: heals every
// link of node i).
func (c *Cluster) Isolate(i int, cut bool) {
	c.tb.Helper()
	for j := 1; j <= c.N(); j++ {
		if j != i {
			c.Partition(i, j, cut)
		}
	}
}
