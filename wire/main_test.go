package wire

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Test users.
const (
	testUser     = "alice"
	testPassword = "s3cret pässword"
)

// testServer is a Server on a loopback port with a fake backend.
type testServer struct {
	*Server
	b    *fakeBackend
	addr string
	host string
	port string
}

// startServer starts a server with the default config changed by mod
// (nil: none); the test's cleanup closes it, checks Serve returned nil and
// that every session was closed exactly once.
func startServer(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Logger = testLogger(t)
	if mod != nil {
		mod(&cfg)
	}
	b := newFakeBackend()
	b.addUser(testUser, testPassword)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(cfg, b)
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	ts := &testServer{Server: s, b: b, addr: l.Addr().String()}
	ts.host, ts.port, _ = net.SplitHostPort(ts.addr)
	t.Cleanup(func() {
		s.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		if err := b.checkSessionsClosed(); err != nil {
			t.Error(err)
		}
		if m := s.Metrics(); m.ConnectionsOpen != 0 {
			t.Errorf("%d connections open after Close", m.ConnectionsOpen)
		}
	})
	return ts
}

// testLogger logs to the test at Warn and above, so failures show what
// the server saw.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// connString returns a libpq connection string for the server.
func (ts *testServer) connString(user, password, extra string) string {
	return fmt.Sprintf("host=%s port=%s user=%s password='%s' dbname=db sslmode=disable connect_timeout=10 %s",
		ts.host, ts.port, user, password, extra)
}

// connect opens a pgconn connection as the test user and closes it at the
// end of the test.
func (ts *testServer) connect(t testing.TB, extra string) *pgconn.PgConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, extra))
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

// rawClient speaks the protocol message by message with pgproto3.
type rawClient struct {
	t  testing.TB
	nc net.Conn
	fe *pgproto3.Frontend
}

// dialRaw connects without TLS and sends a StartupMessage for the test
// user; the server must be insecure (no password exchange). It returns
// after the first ReadyForQuery.
func (ts *testServer) dialRaw(t testing.TB) *rawClient {
	t.Helper()
	c := ts.dialRawNoStartup(t)
	c.send(&pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30,
		Parameters: map[string]string{"user": testUser, "database": "db"}})
	msgs := c.recvUntilReady()
	if len(msgs) == 0 || msgs[len(msgs)-1] != "ReadyForQuery I" {
		t.Fatalf("startup: %q", msgs)
	}
	return c
}

func (ts *testServer) dialRawNoStartup(t testing.TB) *rawClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", ts.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &rawClient{t: t, nc: nc, fe: pgproto3.NewFrontend(nc, nc)}
}

func (c *rawClient) send(msgs ...pgproto3.FrontendMessage) {
	c.t.Helper()
	for _, m := range msgs {
		c.fe.Send(m)
	}
	if err := c.fe.Flush(); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// recv reads one message and formats it; "EOF" when the server closed.
func (c *rawClient) recv() string {
	c.t.Helper()
	m, err := c.fe.Receive()
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || strings.Contains(err.Error(), "connection reset") {
			return "EOF"
		}
		c.t.Fatalf("receive: %v", err)
	}
	return formatBackend(m)
}

// recvUntilReady reads up to and including ReadyForQuery (or EOF).
func (c *rawClient) recvUntilReady() []string {
	c.t.Helper()
	var out []string
	for {
		s := c.recv()
		out = append(out, s)
		if strings.HasPrefix(s, "ReadyForQuery") || s == "EOF" {
			return out
		}
	}
}

// recvN reads n messages.
func (c *rawClient) recvN(n int) []string {
	c.t.Helper()
	var out []string
	for range n {
		out = append(out, c.recv())
	}
	return out
}

// formatBackend renders a backend message on one line: its type and the
// fields that matter to the tests.
func formatBackend(m pgproto3.BackendMessage) string {
	switch m := m.(type) {
	case *pgproto3.ReadyForQuery:
		return "ReadyForQuery " + string(m.TxStatus)
	case *pgproto3.CommandComplete:
		return "CommandComplete " + string(m.CommandTag)
	case *pgproto3.DataRow:
		vals := make([]string, len(m.Values))
		for i, v := range m.Values {
			if v == nil {
				vals[i] = "NULL"
			} else {
				vals[i] = fmt.Sprintf("%q", v)
			}
		}
		return "DataRow " + strings.Join(vals, " ")
	case *pgproto3.RowDescription:
		var cols []string
		for _, f := range m.Fields {
			cols = append(cols, fmt.Sprintf("%s:%d:%d", f.Name, f.DataTypeOID, f.Format))
		}
		return "RowDescription " + strings.Join(cols, " ")
	case *pgproto3.ParameterDescription:
		return fmt.Sprintf("ParameterDescription %v", m.ParameterOIDs)
	case *pgproto3.ErrorResponse:
		return fmt.Sprintf("ErrorResponse %s %s %s", m.Severity, m.Code, m.Message)
	case *pgproto3.NoticeResponse:
		return fmt.Sprintf("NoticeResponse %s %s %s", m.Severity, m.Code, m.Message)
	case *pgproto3.ParameterStatus:
		return fmt.Sprintf("ParameterStatus %s=%s", m.Name, m.Value)
	case *pgproto3.BackendKeyData:
		return "BackendKeyData"
	case *pgproto3.CopyInResponse:
		return fmt.Sprintf("CopyInResponse %d %v", m.OverallFormat, m.ColumnFormatCodes)
	case *pgproto3.NegotiateProtocolVersion:
		return fmt.Sprintf("NegotiateProtocolVersion 3.%d %v", m.NewestMinorProtocol, m.UnrecognizedOptions)
	}
	name := fmt.Sprintf("%T", m)
	return name[strings.LastIndexByte(name, '.')+1:]
}

func startupMessage(params map[string]string) *pgproto3.StartupMessage {
	return &pgproto3.StartupMessage{ProtocolVersion: pgproto3.ProtocolVersion30, Parameters: params}
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
