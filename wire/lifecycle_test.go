package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/goleak"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Errorf("default config: %v", err)
	}
	bad := Config{NodeID: MaxNodeID + 1, AllowCleartextOverTLS: true, TLS: &tls.Config{}}
	err := bad.Validate()
	for _, want := range []string{"max message size", "startup timeout", "node ID", "no certificate"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate() = %v, want it to mention %q", err, want)
		}
	}
	if err := (Config{MaxMessageSize: 1 << 20, StartupTimeout: time.Second, AllowCleartextOverTLS: true}).Validate(); err == nil {
		t.Error("cleartext without TLS accepted")
	}
	s := New(bad, newFakeBackend())
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(l); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("Serve with a bad config: %v", err)
	}
	s.Close()
}

// TestCloseStopsEverything closes a server with connections in every
// phase and checks that no goroutine is left and every session closed.
func TestCloseStopsEverything(t *testing.T) {
	opts := goleak.IgnoreCurrent()
	b := newFakeBackend()
	b.addUser(testUser, testPassword)
	cfg := DefaultConfig()
	cfg.Logger = testLogger(t)
	s := New(cfg, b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	ts := &testServer{Server: s, b: b, addr: l.Addr().String()}
	ts.host, ts.port, _ = net.SplitHostPort(ts.addr)
	ctx := testContext(t)

	// Idle.
	idle, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	// Running a statement.
	busy, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	busyDone := make(chan error, 1)
	go func() { _, err := busy.Exec(context.Background(), "SLEEP 60000").ReadAll(); busyDone <- err }()
	<-b.sleeping
	// In the middle of a COPY.
	copying, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, ""))
	if err != nil {
		t.Fatal(err)
	}
	copyDone := make(chan error, 1)
	pr, pw := net.Pipe()
	go func() { _, err := copying.CopyFrom(context.Background(), pr, "COPY t FROM STDIN"); copyDone <- err }()
	if _, err := pw.Write([]byte("row\n")); err != nil {
		t.Fatal(err)
	}
	// Connected but silent, before the startup message.
	silent, err := net.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()

	s.Close()
	if err := <-served; err != nil {
		t.Errorf("Serve: %v", err)
	}
	var pe *pgconn.PgError
	if err := <-busyDone; !errors.As(err, &pe) || pe.Code != "57014" && pe.Code != "57P01" {
		t.Errorf("running statement: %v", err)
	}
	_ = pw.Close()
	<-copyDone
	_, err = idle.Exec(ctx, "SELECT 1").ReadAll()
	if err == nil {
		t.Error("idle connection still works after Close")
	}
	if err := b.checkSessionsClosed(); err != nil {
		t.Error(err)
	}
	for _, c := range []*pgconn.PgConn{idle, busy, copying} {
		_ = c.Close(ctx)
	}
	pr.Close()
	if err := goleak.Find(opts); err != nil {
		t.Error(err)
	}
	// Close is idempotent, and Serve after Close returns nil at once.
	s.Close()
	l2, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(l2); err != nil {
		t.Errorf("Serve after Close: %v", err)
	}
}

// TestShutdownNotice: an idle client is told why its connection ends.
func TestShutdownNotice(t *testing.T) {
	b := newFakeBackend()
	cfg := DefaultConfig()
	cfg.Insecure = true
	s := New(cfg, b)
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	ts := &testServer{Server: s, b: b, addr: l.Addr().String()}
	raw := ts.dialRaw(t)
	s.Close()
	<-served
	want := []string{"ErrorResponse FATAL 57P01 terminating connection due to administrator command", "EOF"}
	if got := raw.recvN(2); !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
}

func TestMaxMessageSize(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true; c.MaxMessageSize = 4096 })
	raw := ts.dialRaw(t)
	// Just under the limit works (5 header bytes + query + NUL).
	raw.send(&pgproto3.Query{String: "INSERT " + strings.Repeat("x", 4096-5-1-7)})
	if got := raw.recvUntilReady(); got[0] != "CommandComplete INSERT 0 1" {
		t.Fatalf("at the limit: %q", got)
	}
	raw.send(&pgproto3.Query{String: "INSERT " + strings.Repeat("x", 4096)})
	got := raw.recvN(2)
	if !strings.HasPrefix(got[0], "ErrorResponse FATAL 08P01 message of type 'Q' is 4109 bytes, over the limit of 4096") || got[1] != "EOF" {
		t.Errorf("over the limit: %q", got)
	}
	waitFor(t, func() bool { return ts.Metrics().ProtocolErrors == 1 })
}

func TestProtocolViolations(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	for _, tc := range []struct {
		name string
		send []byte
		want string
	}{
		{"unknown type", []byte{'Z', 0, 0, 0, 4}, "ErrorResponse FATAL 08P01 invalid frontend message type 90"},
		{"bad length", []byte{'Q', 0, 0, 0, 2}, "ErrorResponse FATAL 08P01 invalid message length 2 for message type 'Q'"},
		{"password outside auth", []byte{'p', 0, 0, 0, 5, 0}, "ErrorResponse FATAL 08P01 invalid frontend message type 112"},
		{"malformed describe", []byte{'D', 0, 0, 0, 5, 'S'}, "ErrorResponse FATAL 08P01 invalid message format for message type 'D': "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := ts.dialRaw(t)
			if _, err := raw.nc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			got := raw.recvN(2)
			if !strings.HasPrefix(got[0], tc.want) || got[1] != "EOF" {
				t.Errorf("got %q, want %q then EOF", got, tc.want)
			}
		})
	}
}

func TestStartupErrors(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	for _, tc := range []struct {
		name string
		send []byte
		want string
	}{
		{"protocol 2", []byte{0, 0, 0, 9, 0, 2, 0, 0, 0}, "unsupported frontend protocol 2.0: server supports 3.0 to 3.0"},
		{"short", []byte{0, 0, 0, 4}, "invalid length of startup packet: 4"},
		{"huge", []byte{0, 1, 0, 0, 0, 3, 0, 0}, "invalid length of startup packet: 65536"},
		{"no terminator", []byte{0, 0, 0, 12, 0, 3, 0, 0, 'u', 0, 'x', 'y'}, "invalid startup packet layout"},
		{"second SSLRequest", []byte{0, 0, 0, 8, 4, 210, 22, 47, 0, 0, 0, 8, 4, 210, 22, 47}, "unsupported frontend protocol 1234.5679"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw := ts.dialRawNoStartup(t)
			if _, err := raw.nc.Write(tc.send); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 1024)
			n, _ := readAll(raw.nc, buf)
			if !strings.Contains(string(buf[:n]), tc.want) {
				t.Errorf("got %q, want %q", buf[:n], tc.want)
			}
		})
	}
}

func TestGSSENCRequestRefused(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	ctx := testContext(t)
	c, err := pgconn.Connect(ctx, ts.connString(testUser, "", "gssencmode=prefer"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	raw := ts.dialRawNoStartup(t)
	raw.nc.Write([]byte{0, 0, 0, 8, 4, 210, 22, 48})
	buf := make([]byte, 1)
	if _, err := raw.nc.Read(buf); err != nil || buf[0] != 'N' {
		t.Fatalf("GSSENCRequest: %q %v", buf, err)
	}
	raw.send(startupMessage(map[string]string{"user": testUser}))
	if got := raw.recvUntilReady(); got[len(got)-1] != "ReadyForQuery I" {
		t.Errorf("startup after GSSENCRequest: %q", got)
	}
}

func TestProtocolNegotiation(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRawNoStartup(t)
	raw.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion32,
		Parameters: map[string]string{"user": testUser, "_pq_.test": "1"}})
	got := raw.recvUntilReady()
	if got[0] != "NegotiateProtocolVersion 3.0 [_pq_.test]" || got[len(got)-1] != "ReadyForQuery I" {
		t.Errorf("got %q", got)
	}
	if _, ok := ts.b.lastConnect().Options["_pq_.test"]; ok {
		t.Error("protocol option passed to the session")
	}
	// pgx asking for 3.2 settles for 3.0.
	ctx := testContext(t)
	c, err := pgconn.Connect(ctx, ts.connString(testUser, "", "max_protocol_version=3.2"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
}

func TestStartupTimeout(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.StartupTimeout = 100 * time.Millisecond })
	raw := ts.dialRawNoStartup(t)
	buf := make([]byte, 1)
	start := time.Now()
	if _, err := raw.nc.Read(buf); err == nil {
		t.Fatal("read succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("closed after %v", d)
	}
}

func TestFunctionCallAndTerminate(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(&pgproto3.FunctionCall{Function: 1})
	want := []string{"ErrorResponse ERROR 0A000 fastpath function calls are not supported", "ReadyForQuery I"}
	if got := raw.recvUntilReady(); !slices.Equal(got, want) {
		t.Errorf("got %q", got)
	}
	raw.send(&pgproto3.Terminate{})
	if got := raw.recv(); got != "EOF" {
		t.Errorf("after Terminate: %q", got)
	}
}

// TestClientGoneCancelsStatement: a client that disconnects in the
// middle of a statement cancels it.
func TestClientGoneCancelsStatement(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRaw(t)
	raw.send(&pgproto3.Query{String: "SLEEP 60000"})
	<-ts.b.sleeping
	_ = raw.nc.Close()
	waitFor(t, func() bool {
		ts.b.mu.Lock()
		defer ts.b.mu.Unlock()
		return ts.b.mu.sessions[0].closed.Load() == 1
	})
}
