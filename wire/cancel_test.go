package wire

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// startSleep runs SLEEP on c in the background and returns once the
// statement is running; the channel yields its error.
func startSleep(t *testing.T, ts *testServer, c *pgconn.PgConn, ms string) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := c.Exec(context.Background(), "SLEEP "+ms).ReadAll()
		done <- err
	}()
	select {
	case <-ts.b.sleeping:
	case <-time.After(10 * time.Second):
		t.Fatal("SLEEP did not start")
	}
	return done
}

func wantCanceled(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "57014" {
			t.Fatalf("want 57014, got %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("statement was not canceled")
	}
}

func TestCancelRequest(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	done := startSleep(t, ts, c, "60000")
	if err := c.CancelRequest(testContext(t)); err != nil {
		t.Fatal(err)
	}
	wantCanceled(t, done)
	// The connection goes on, and a second cancel works as the first.
	if _, err := c.Exec(testContext(t), "SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
	done = startSleep(t, ts, c, "60000")
	if err := c.CancelRequest(testContext(t)); err != nil {
		t.Fatal(err)
	}
	wantCanceled(t, done)
}

// TestCancelBetweenStatements: a CancelRequest that arrives while the
// connection is idle cancels nothing, neither then nor the next
// statement, as in PostgreSQL.
func TestCancelBetweenStatements(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	if _, err := c.Exec(testContext(t), "SELECT 1").ReadAll(); err != nil {
		t.Fatal(err)
	}
	secret := binary.BigEndian.Uint32(c.SecretKey())
	if !ts.Cancel(c.PID(), secret) {
		t.Fatal("Cancel of the idle connection's pid failed")
	}
	if err := <-startSleep(t, ts, c, "50"); err != nil {
		t.Fatalf("the statement after an idle cancel failed: %v", err)
	}
}

func TestCancelWrongSecretDoesNothing(t *testing.T) {
	ts := startServer(t, nil)
	c := ts.connect(t, "")
	done := startSleep(t, ts, c, "300")
	secret := binary.BigEndian.Uint32(c.SecretKey())
	if ts.Cancel(c.PID(), secret+1) {
		t.Error("Cancel with a wrong secret succeeded")
	}
	if err := SendCancel(testContext(t), ts.addr, c.PID(), secret^0xffff); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("statement failed: %v", err)
	}
	if ts.Cancel(c.PID()+1, secret) {
		t.Error("Cancel of an unknown pid succeeded")
	}
}

// TestCancelForwarding sends the cancel to the wrong node, which forwards
// it to the node that issued the PID.
func TestCancelForwarding(t *testing.T) {
	addrs := make(map[uint32]string)
	forward := func(ctx context.Context, node, pid, secret uint32) error {
		return SendCancel(ctx, addrs[node], pid, secret)
	}
	a := startServer(t, func(c *Config) { c.NodeID = 1; c.ForwardCancel = forward })
	b := startServer(t, func(c *Config) { c.NodeID = 2; c.ForwardCancel = forward })
	addrs[1], addrs[2] = a.addr, b.addr

	c := b.connect(t, "")
	if NodeOfPID(c.PID()) != 2 {
		t.Fatalf("pid %#x is not node 2's", c.PID())
	}
	done := startSleep(t, b, c, "60000")
	if err := SendCancel(testContext(t), a.addr, c.PID(), binary.BigEndian.Uint32(c.SecretKey())); err != nil {
		t.Fatal(err)
	}
	wantCanceled(t, done)
	if m := a.Metrics(); m.CancelRequests != 1 || m.CancelsForwarded != 1 || m.CancelForwardFailures != 0 {
		t.Errorf("node 1 metrics %+v", m)
	}
	if m := b.Metrics(); m.CancelRequests != 1 || m.CancelsForwarded != 0 || m.ConnectionsOpen != 1 {
		t.Errorf("node 2 metrics %+v", m)
	}
}

func TestSendCancelErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	if err := SendCancel(testContext(t), addr, 1, 2); !errors.Is(err, ErrCancelFailed) {
		t.Errorf("dial a closed port: %v", err)
	}

	// A server that never closes: the context ends the wait.
	l, err = net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		nc, err := l.Accept()
		if err == nil {
			accepted <- nc
		}
		close(accepted)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := SendCancel(ctx, l.Addr().String(), 1, 2); !errors.Is(err, ErrCancelFailed) {
		t.Errorf("silent server: %v", err)
	}
	if nc := <-accepted; nc != nil {
		nc.Close()
	}
}

func TestPIDs(t *testing.T) {
	for _, node := range []uint32{0, 1, 77, MaxNodeID} {
		for _, seq := range []uint32{1, 2, seqMask} {
			pid := makePID(node, seq)
			if int32(pid) <= 0 || NodeOfPID(pid) != node || pid&seqMask != seq {
				t.Errorf("node %d seq %d: pid %#x", node, seq, pid)
			}
		}
	}
}

func TestPIDSequenceSkipsLiveConnections(t *testing.T) {
	s := New(DefaultConfig(), newFakeBackend())
	defer s.Close()
	first := &conn{}
	if err := s.register(first); err != nil {
		t.Fatal(err)
	}
	s.mu.seq = seqMask // wrap next time
	next := &conn{}
	if err := s.register(next); err != nil {
		t.Fatal(err)
	}
	if next.pid != makePID(0, 2) || first.pid != makePID(0, 1) {
		t.Errorf("after wrapping: first %#x next %#x", first.pid, next.pid)
	}
}
