package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"

	"github.com/shardingsystem/shard/internal/freeport"
)

// loopNet is the network of a run without namespaces (not root, or no
// ip/iptables). Slot S, node i:
//
//	127.199.S.i:PORT      the node's advertised rpc address, where the
//	                      harness's proxy for the node listens; also the
//	                      node's SQL and HTTP addresses and the source
//	                      address of its outgoing node-to-node connections
//	                      (--rpc-source-addr)
//	127.199.S.(100+i):P   where the node's rpc server really listens
//	                      (--rpc-listen-addr); only the proxy dials it
//
// The proxy knows the calling node by the connection's source address. A
// partition stalls the connections between the two nodes (neither side's
// bytes are read or written, as when iptables drops the packets: TCP then
// neither fails nor delivers) and new connections between them are
// accepted but stalled the same way; a heal lets the bytes flow again.
// Clients (the harness, SQL) come from other addresses and are never cut.
type loopNet struct {
	slot    int
	nodes   int
	proxies []*proxy // [i-1] fronts node i

	mu struct {
		sync.Mutex
		// drops[[2]int{to, from}]: node to drops packets from node from.
		drops map[[2]int]bool
		// changed is closed (and replaced) on every change of drops.
		changed chan struct{}
		closed  bool
	}
	wg sync.WaitGroup // proxy goroutines
}

func (n *loopNet) mode() Mode              { return Loopback }
func (n *loopNet) ip(i int) string         { return fmt.Sprintf("127.199.%d.%d", n.slot, i) }
func (n *loopNet) hostIP() string          { return "127.0.0.1" }
func (n *loopNet) sourceIP(i int) string   { return n.ip(i) }
func (n *loopNet) listenAddr(i int) string { return n.proxies[i-1].target }

// setup picks the ports and starts one proxy per node.
func (n *loopNet) setup() error {
	n.mu.drops = map[[2]int]bool{}
	n.mu.changed = make(chan struct{})
	for i := 1; i <= n.nodes; i++ {
		// The node's real listener: a free port on its private address.
		target, err := freeport.Addrs(fmt.Sprintf("127.199.%d.%d", n.slot, 100+i), 1)
		if err != nil {
			return err
		}
		lis, err := net.Listen("tcp", net.JoinHostPort(n.ip(i), "0"))
		if err != nil {
			return fmt.Errorf("cluster: proxy for n%d: %w", i, err)
		}
		p := &proxy{net: n, node: i, lis: lis, target: target[0]}
		n.proxies = append(n.proxies, p)
		n.wg.Add(1)
		go p.serve()
	}
	return nil
}

// addrs are node i's rpc address (its proxy's), and free ports on its
// address for SQL and HTTP.
func (n *loopNet) addrs(i int) (rpc, sql, http string, err error) {
	ports, err := freeport.Addrs(n.ip(i), 2)
	if err != nil {
		return "", "", "", err
	}
	return n.proxies[i-1].lis.Addr().String(), ports[0], ports[1], nil
}

func (n *loopNet) command(_ int, bin string, args []string) *exec.Cmd {
	return exec.Command(bin, args...)
}

func (n *loopNet) drop(to, from int) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.mu.drops[[2]int{to, from}] = true
	n.changedLocked()
	return nil
}

func (n *loopNet) heal() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	clear(n.mu.drops)
	n.changedLocked()
	return nil
}

func (n *loopNet) changedLocked() {
	close(n.mu.changed)
	n.mu.changed = make(chan struct{})
}

// waitOpen blocks while traffic between nodes a and b is cut (either drops
// the other's packets); false once the network is closed.
func (n *loopNet) waitOpen(a, b int) bool {
	for {
		n.mu.Lock()
		cut := n.mu.drops[[2]int{a, b}] || n.mu.drops[[2]int{b, a}]
		closed, ch := n.mu.closed, n.mu.changed
		n.mu.Unlock()
		if closed {
			return false
		}
		if !cut {
			return true
		}
		<-ch
	}
}

// dialer dials from node i's source address.
func (n *loopNet) dialer(i int) func(ctx context.Context, addr string) (net.Conn, error) {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(n.ip(i))}}
	return func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
}

// close stops the proxies and every connection through them.
func (n *loopNet) close() error {
	n.mu.Lock()
	if !n.mu.closed {
		n.mu.closed = true
		n.changedLocked()
	}
	n.mu.Unlock()
	for _, p := range n.proxies {
		p.close()
	}
	n.wg.Wait()
	return nil
}

// byIP is the node whose source address ip is (0: a client).
func (n *loopNet) byIP(ip string) int {
	for i := 1; i <= n.nodes; i++ {
		if n.ip(i) == ip {
			return i
		}
	}
	return 0
}

// proxy fronts one node's rpc server.
type proxy struct {
	net    *loopNet
	node   int
	lis    net.Listener
	target string

	mu struct {
		sync.Mutex
		conns  map[net.Conn]bool
		closed bool
	}
}

func (p *proxy) serve() {
	defer p.net.wg.Done()
	for {
		c, err := p.lis.Accept()
		if err != nil {
			return
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		from := p.net.byIP(host)
		if !p.track(c) {
			return
		}
		p.net.wg.Add(1)
		go p.handle(c, from)
	}
}

// handle forwards one connection from node from (0: a client) to the node.
func (p *proxy) handle(in net.Conn, from int) {
	defer p.net.wg.Done()
	defer p.untrack(in)
	if from != 0 && !p.net.waitOpen(from, p.node) {
		return
	}
	out, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	if !p.track(out) {
		return
	}
	defer p.untrack(out)
	// Each direction reports whether it ended with a clean EOF (then the
	// other may go on: a half-close) or failed (then both end).
	eof := make(chan bool, 2)
	go func() { eof <- p.pipe(out, in, from) }()
	go func() { eof <- p.pipe(in, out, from) }()
	if <-eof {
		if tc, ok := out.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
	}
	_ = in.Close()
	_ = out.Close()
	<-eof
}

// pipe copies src to dst while traffic between from and the proxy's node
// flows; true when src ended with EOF.
func (p *proxy) pipe(dst, src net.Conn, from int) bool {
	buf := make([]byte, 32<<10)
	for {
		if from != 0 && !p.net.waitOpen(from, p.node) {
			return false
		}
		k, err := src.Read(buf)
		if k > 0 {
			// A partition that began during the read holds the bytes.
			if from != 0 && !p.net.waitOpen(from, p.node) {
				return false
			}
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return false
			}
		}
		if err != nil {
			return errors.Is(err, io.EOF)
		}
	}
}

// track registers a connection for close; false (and the connection
// closed) once the proxy is closed.
func (p *proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.mu.closed {
		_ = c.Close()
		return false
	}
	if p.mu.conns == nil {
		p.mu.conns = map[net.Conn]bool{}
	}
	p.mu.conns[c] = true
	return true
}

func (p *proxy) untrack(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.mu.conns, c)
}

func (p *proxy) close() {
	_ = p.lis.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mu.closed = true
	for c := range p.mu.conns {
		_ = c.Close()
	}
}
