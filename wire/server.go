package wire

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/shardingsystem/shard/sql/pgerror"
	"github.com/xdg-go/scram"
)

// closeGrace bounds how long a connection may take, once the server is
// closing, to flush its last messages (FATAL 57P01) to a client that does
// not read.
const closeGrace = time.Second

// Server serves the PostgreSQL v3 wire protocol on listeners, one goroutine
// per connection, with the SQL layer behind a Backend. It is safe for
// concurrent use.
type Server struct {
	cfg     Config
	backend Backend
	log     *slog.Logger
	// mockKey derives the fake SCRAM salt of roles that do not exist, so
	// that a role's existence is not disclosed by a random salt.
	mockKey [32]byte
	// tls is cfg.TLS with PostgreSQL's ALPN name, nil without TLS.
	tls *tls.Config
	// channelBinding is the SCRAM-SHA-256-PLUS binding of the server's
	// certificate; nil without TLS or with several certificates.
	channelBinding *scram.ChannelBinding

	// ctx is canceled by Close: running statements, startup and forwarded
	// cancels stop.
	ctx    context.Context
	cancel context.CancelFunc
	// wg counts every goroutine the server starts (a connection's reader
	// goroutine is counted too, and also waited for by its connection).
	wg sync.WaitGroup

	metrics serverMetrics

	mu struct {
		sync.Mutex
		closed    bool
		listeners map[net.Listener]struct{}
		// netConns holds every accepted connection, authenticated or not.
		netConns map[net.Conn]struct{}
		// conns holds authenticated connections by backend PID.
		conns map[uint32]*conn
		// seq is the last connection sequence number handed out.
		seq uint32
	}
}

// New returns a server for backend. Serve checks cfg.
func New(cfg Config, b Backend) *Server {
	s := &Server{cfg: cfg, backend: b, log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	_, _ = rand.Read(s.mockKey[:])
	if cfg.TLS != nil {
		s.tls = withALPN(cfg.TLS)
		s.channelBinding = serverEndpointBinding(cfg.TLS)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.mu.listeners = make(map[net.Listener]struct{})
	s.mu.netConns = make(map[net.Conn]struct{})
	s.mu.conns = make(map[uint32]*conn)
	return s
}

// Serve accepts connections on l until Close, then returns nil; it returns
// an error if the config is invalid or l fails. l is closed when Serve
// returns. Serve may be called for several listeners.
func (s *Server) Serve(l net.Listener) error {
	if err := s.cfg.Validate(); err != nil {
		_ = l.Close()
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	}
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		_ = l.Close()
		return nil
	}
	s.mu.listeners[l] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.mu.listeners, l)
		s.mu.Unlock()
		_ = l.Close()
	}()

	s.log.Info("serving PostgreSQL wire protocol", "addr", l.Addr().String(), "node", s.cfg.NodeID)
	var backoff time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			if s.closing() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || isTemporary(err) {
				// Out of file descriptors and the like: wait and retry,
				// as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", backoff)
				select {
				case <-time.After(backoff):
					continue
				case <-s.ctx.Done():
					return nil
				}
			}
			s.log.Error("listener failed", "addr", l.Addr().String(), "err", err)
			return err
		}
		backoff = 0
		// The startup deadline is set before the connection is tracked,
		// so that Close's deadline, set after, always wins.
		_ = nc.SetDeadline(time.Now().Add(s.cfg.StartupTimeout))
		if !s.track(nc) {
			_ = nc.Close()
			return nil
		}
		go func() {
			defer s.wg.Done()
			defer s.untrack(nc)
			s.serveConn(nc)
		}()
	}
}

func isTemporary(err error) bool {
	t, ok := err.(interface{ Temporary() bool })
	return ok && t.Temporary()
}

// Close stops the server and waits for everything it started. Shutdown
// order:
//  1. mark the server closed: no listener or connection registers after;
//  2. close every listener: Serve returns nil;
//  3. cancel the server context: running statements, authentication and
//     forwarded cancels stop;
//  4. wake every connection with a past read deadline (and bound its
//     writes): idle ones send FATAL 57P01 and close, busy ones do so once
//     their canceled statement returns;
//  5. wait for every goroutine; each connection has closed its session.
//
// Close is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	s.mu.closed = true
	listeners := make([]net.Listener, 0, len(s.mu.listeners))
	for l := range s.mu.listeners {
		listeners = append(listeners, l)
	}
	netConns := make([]net.Conn, 0, len(s.mu.netConns))
	for nc := range s.mu.netConns {
		netConns = append(netConns, nc)
	}
	s.mu.Unlock()

	for _, l := range listeners {
		_ = l.Close()
	}
	s.cancel()
	now := time.Now()
	for _, nc := range netConns {
		_ = nc.SetReadDeadline(now)
		_ = nc.SetWriteDeadline(now.Add(closeGrace))
	}
	s.wg.Wait()
}

func (s *Server) closing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mu.closed
}

// track registers an accepted connection and counts the goroutine that
// will serve it (under the lock, so that Close cannot start waiting in
// between); false when the server is closed.
func (s *Server) track(nc net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return false
	}
	s.mu.netConns[nc] = struct{}{}
	s.wg.Add(1)
	s.metrics.accepted.Add(1)
	return true
}

func (s *Server) untrack(nc net.Conn) {
	s.mu.Lock()
	delete(s.mu.netConns, nc)
	s.mu.Unlock()
	_ = nc.Close()
}

// register gives c its backend PID and makes it cancelable. It fails with
// 57P01 when the server is closing and 53300 when every sequence number is
// in use. Sequence numbers wrap, skipping ones still in use and 0.
func (s *Server) register(c *conn) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return errShuttingDown()
	}
	for range seqMask {
		s.mu.seq = (s.mu.seq + 1) & seqMask
		if s.mu.seq == 0 {
			continue
		}
		pid := makePID(s.cfg.NodeID, s.mu.seq)
		if _, used := s.mu.conns[pid]; used {
			continue
		}
		c.pid = pid
		s.mu.conns[pid] = c
		s.metrics.open.Add(1)
		return nil
	}
	return pgerror.New(pgerror.CodeTooManyConnections, "sorry, too many clients already")
}

func (s *Server) unregister(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.conns[c.pid] == c {
		delete(s.mu.conns, c.pid)
		s.metrics.open.Add(-1)
	}
}
