package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"

	"github.com/shardingsystem/shard/internal/freeport"
)

// errNoFaults is the answer of a Direct network to a partition.
var errNoFaults = errors.New("cluster: the direct network cannot cut traffic (use namespaces or loopback)")

// directNet is the network of a benchmark: every node listens straight on
// 127.199.S.i, with no proxy between the nodes, so node-to-node traffic
// costs what it costs in production on one machine. It cannot partition.
type directNet struct {
	slot int
}

func (n *directNet) mode() Mode              { return Direct }
func (n *directNet) ip(i int) string         { return fmt.Sprintf("127.199.%d.%d", n.slot, i) }
func (n *directNet) hostIP() string          { return "127.0.0.1" }
func (n *directNet) listenAddr(int) string   { return "" }
func (n *directNet) sourceIP(int) string     { return "" }
func (n *directNet) drop(to, from int) error { return errNoFaults }
func (n *directNet) heal() error             { return nil }
func (n *directNet) close() error            { return nil }

// addrs are free ports on node i's address.
func (n *directNet) addrs(i int) (rpc, sql, http string, err error) {
	ports, err := freeport.Addrs(n.ip(i), 3)
	if err != nil {
		return "", "", "", err
	}
	return ports[0], ports[1], ports[2], nil
}

func (n *directNet) command(_ int, bin string, args []string) *exec.Cmd {
	return exec.Command(bin, args...)
}

func (n *directNet) dialer(int) func(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
}
