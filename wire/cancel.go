package wire

import (
	"context"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"time"
)

// Cancel keys. A backend PID is (node ID << 20 | connection sequence): 11
// bits of node and 20 of sequence, so it is always a positive int32 and
// names the node that owns the connection. The secret is random.
const (
	nodeBits = 11
	seqBits  = 20
	seqMask  = 1<<seqBits - 1
	nodeMask = 1<<nodeBits - 1

	cancelRequestCode = 80877102
	// forwardTimeout bounds a forwarded cancel (dial, send, wait for close).
	forwardTimeout = 10 * time.Second
)

// NodeOfPID returns the node ID a backend PID was issued by.
func NodeOfPID(pid uint32) uint32 { return pid >> seqBits & nodeMask }

func makePID(nodeID, seq uint32) uint32 { return (nodeID&nodeMask)<<seqBits | seq&seqMask }

// Cancel cancels the statement running on this node's connection pid if
// secret matches its key, and reports whether it did (a match with no
// statement running still counts). It is what a local CancelRequest does,
// and what the server layer calls for a cancel another node forwards.
func (s *Server) Cancel(pid, secret uint32) bool {
	s.mu.Lock()
	c := s.mu.conns[pid]
	s.mu.Unlock()
	if c == nil {
		return false
	}
	var a, b [4]byte
	binary.BigEndian.PutUint32(a[:], c.secret)
	binary.BigEndian.PutUint32(b[:], secret)
	if subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		return false
	}
	c.cancelRunning()
	return true
}

// handleCancelRequest serves a CancelRequest packet: cancel here, or
// forward to the node that issued the PID. No reply is sent; the caller
// closes the connection, which tells the client the request was handled.
func (s *Server) handleCancelRequest(pid uint32, key []byte) {
	if len(key) != 4 {
		s.log.Warn("cancel request with an unsupported key length", "pid", pid, "len", len(key))
		return
	}
	s.metrics.cancelRequests.Add(1)
	secret := binary.BigEndian.Uint32(key)
	node := NodeOfPID(pid)
	if node == s.cfg.NodeID&nodeMask {
		if !s.Cancel(pid, secret) {
			s.log.Debug("cancel request matches no connection", "pid", pid)
		}
		return
	}
	if s.cfg.ForwardCancel == nil {
		s.log.Warn("cancel request for another node dropped: no forwarding configured", "pid", pid, "node", node)
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, forwardTimeout)
	defer cancel()
	s.metrics.forwarded.Add(1)
	if err := s.cfg.ForwardCancel(ctx, node, pid, secret); err != nil {
		s.metrics.forwardFailures.Add(1)
		s.log.Warn("forwarding cancel request failed", "pid", pid, "node", node, "err", err)
	}
}

// SendCancel sends a CancelRequest for (pid, secret) to the PostgreSQL
// wire server at addr and waits until that server closes the connection,
// which it does once it has acted on the request. Errors wrap
// ErrCancelFailed.
func SendCancel(ctx context.Context, addr string, pid, secret uint32) error {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCancelFailed, err)
	}
	defer nc.Close()
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Now()) })
	defer stop()

	var pkt [16]byte
	binary.BigEndian.PutUint32(pkt[0:], 16)
	binary.BigEndian.PutUint32(pkt[4:], cancelRequestCode)
	binary.BigEndian.PutUint32(pkt[8:], pid)
	binary.BigEndian.PutUint32(pkt[12:], secret)
	if _, err := nc.Write(pkt[:]); err != nil {
		return fmt.Errorf("%w: %w", ErrCancelFailed, err)
	}
	var b [1]byte
	if _, err := nc.Read(b[:]); err != nil && err != io.EOF {
		if ctx.Err() != nil {
			return fmt.Errorf("%w: %w", ErrCancelFailed, ctx.Err())
		}
		// A reset after the request was written still means the server
		// had it; only a timeout is a failure.
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return fmt.Errorf("%w: %w", ErrCancelFailed, err)
		}
	}
	return nil
}
