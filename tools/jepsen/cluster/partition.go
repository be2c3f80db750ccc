package cluster

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"google.golang.org/grpc"

	"github.com/shardingsystem/shard/internal/rpcauth"
	"github.com/shardingsystem/shard/serverpb"
)

// Drop makes node to drop every packet from node from: one direction of a
// partition (an iptables rule in to's namespace, or a stall in the
// proxies). Traffic between the harness and the nodes is never dropped.
func (c *Cluster) Drop(to, from *Node) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if to == from {
		return fmt.Errorf("cluster: %s cannot drop its own packets", to.Name)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	key := [2]int{to.Index, from.Index}
	if c.mu.drops[key] {
		return nil
	}
	if err := c.net.drop(to.Index, from.Index); err != nil {
		return err
	}
	c.mu.drops[key] = true
	return nil
}

// Heal removes every drop.
func (c *Cluster) Heal() error {
	if c.closed.Load() {
		return ErrClosed
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.net.heal(); err != nil {
		return err
	}
	clear(c.mu.drops)
	return nil
}

// Drops lists the drops in force as [to, from] pairs, sorted.
func (c *Cluster) Drops() [][2]*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out [][2]*Node
	for k := range c.mu.drops {
		out = append(out, [2]*Node{c.nodes[k[0]-1], c.nodes[k[1]-1]})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0].Index != out[j][0].Index {
			return out[i][0].Index < out[j][0].Index
		}
		return out[i][1].Index < out[j][1].Index
	})
	return out
}

// Reachable checks that node from can talk to node to: an Identify call to
// to's rpc address, from from's place in the network, that must answer
// within ctx. A partition makes it fail (the packets are dropped, so it
// times out).
func (c *Cluster) Reachable(ctx context.Context, from, to *Node) error {
	conn, err := grpc.NewClient(to.RPCAddr, append(rpcauth.DialOptions(c.cfg.Secret), grpc.WithContextDialer(c.net.dialer(from.Index)))...)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := serverpb.NewInternalClient(conn).Identify(ctx, &serverpb.IdentifyRequest{}, grpc.WaitForReady(true))
	if err != nil {
		return fmt.Errorf("%s -> %s: %w", from.Name, to.Name, err)
	}
	if resp.NodeId != to.ID() {
		return errors.New("cluster: " + to.Name + " answered as another node")
	}
	return nil
}
