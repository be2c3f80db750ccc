// Package freeport picks TCP ports that are free now, for tests and for
// the harnesses that start servers of their own (clusters, PostgreSQL,
// etcd).
package freeport

import (
	"fmt"
	"net"
)

// Addrs returns n distinct host:port addresses on host whose ports were
// free a moment ago: it listens on port 0 n times, keeping every listener
// open until all are chosen so that the kernel cannot hand out a port
// twice, then closes them. Another process may still take a port before
// the caller binds it; callers that start servers retry with new ports.
func Addrs(host string, n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("freeport: pick a free port on %s: %w", host, err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
