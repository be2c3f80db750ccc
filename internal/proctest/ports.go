package proctest

import (
	"fmt"
	"net"
)

// freeAddrs returns n distinct 127.0.0.1 addresses whose ports were free a
// moment ago: it listens on port 0 n times, keeping every listener open
// until all are chosen so that the kernel cannot hand out a port twice, then
// closes them. Another process may still take a port before the node binds
// it; Node.TryStart retries a fresh node's first start with new ports when
// that happens.
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			_ = l.Close()
		}
	}()
	out := make([]string, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("proctest: pick a free port: %w", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
