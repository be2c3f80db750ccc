package compat

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/proctest"
)

// clusterSize is the number of shard nodes the suite runs against.
const clusterSize = 3

// sqlReadyTimeout bounds the wait for a started cluster to accept root's
// password login on every node.
const sqlReadyTimeout = 30 * time.Second

// startShard starts a 3-node shard cluster (node1 bootstraps with root's
// password in SHARD_ROOT_PASSWORD, the others join) and waits until every
// range is replicated and every node accepts a login. With
// SHARD_COMPAT_ADDR it starts nothing and uses that node instead. The
// cluster stops at the end of t.
func startShard(t testing.TB, cfg config) server {
	t.Helper()
	if cfg.shardAddr != "" {
		t.Logf("shard: using the running node at %s", cfg.shardAddr)
		return server{side: sideTarget, addrs: []string{cfg.shardAddr}, password: cfg.password}
	}
	c := proctest.NewCluster(t)
	c.SetEnv("SHARD_ROOT_PASSWORD=" + cfg.password)
	var rpc []string
	for range clusterSize {
		n := c.AddNode()
		n.SetJoin(rpc...)
		n.Start()
		rpc = append(rpc, n.RPCAddr)
	}
	c.WaitReplicated(clusterSize, 60*time.Second)
	s := server{side: sideTarget, password: cfg.password}
	for _, n := range c.Nodes() {
		s.addrs = append(s.addrs, n.SQLAddr)
	}
	for i := range s.addrs {
		node := s.at(i)
		err := proctest.Poll(sqlReadyTimeout, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			conn, err := pgx.Connect(ctx, node.url(defaultDB))
			if err != nil {
				return err
			}
			return conn.Close(ctx)
		})
		if err != nil {
			t.Fatalf("shard: node%d does not accept root's login on its SQL address %s: %v", i+1, node.addrs[0], err)
		}
	}
	t.Logf("shard: %d nodes, SQL at %v", clusterSize, s.addrs)
	return s
}

// describe is a one-line summary of a side for logs.
func (s server) describe() string {
	return fmt.Sprintf("%s at %v", s.side, s.addrs)
}
