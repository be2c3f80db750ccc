package wire

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// encodeFrontend encodes client messages into one byte string.
func encodeFrontend(msgs ...pgproto3.FrontendMessage) []byte {
	var b []byte
	for _, m := range msgs {
		var err error
		if b, err = m.Encode(b); err != nil {
			panic(err)
		}
	}
	return b
}

// FuzzServerMessages feeds arbitrary bytes to a server after a valid
// startup. The server must not panic, must answer only well-formed
// messages, and must close the connection soon after the client half-closes
// it (no hang, whatever state the bytes left the connection in).
func FuzzServerMessages(f *testing.F) {
	for _, seed := range [][]byte{
		encodeFrontend(&pgproto3.Query{String: "SELECT 1; SERIES 3"}),
		encodeFrontend(&pgproto3.Query{String: "ERROR 22012 boom"}, &pgproto3.Query{String: ""}),
		encodeFrontend(&pgproto3.Parse{Name: "s", Query: "SELECT $1"}, &pgproto3.Describe{ObjectType: 'S', Name: "s"},
			&pgproto3.Bind{PreparedStatement: "s", Parameters: [][]byte{[]byte("x")}}, &pgproto3.Describe{ObjectType: 'P'},
			&pgproto3.Execute{}, &pgproto3.Close{ObjectType: 'S', Name: "s"}, &pgproto3.Sync{}),
		encodeFrontend(&pgproto3.Parse{Query: "SERIES 5"}, &pgproto3.Bind{}, &pgproto3.Execute{MaxRows: 2},
			&pgproto3.Flush{}, &pgproto3.Execute{MaxRows: 2}, &pgproto3.Sync{}),
		encodeFrontend(&pgproto3.Query{String: "COPY t FROM STDIN"}, &pgproto3.CopyData{Data: []byte("a\n")},
			&pgproto3.CopyDone{}, &pgproto3.Query{String: "COPY t FROM STDIN"}, &pgproto3.CopyFail{Message: "no"}),
		encodeFrontend(&pgproto3.Parse{Query: "FROB"}, &pgproto3.Bind{}, &pgproto3.Execute{}, &pgproto3.Sync{}),
		encodeFrontend(&pgproto3.Query{String: "BEGIN"}, &pgproto3.Query{String: "ERROR 23505 dup"},
			&pgproto3.Query{String: "SELECT 1"}, &pgproto3.Query{String: "ROLLBACK"}),
		encodeFrontend(&pgproto3.FunctionCall{Function: 7}, &pgproto3.Query{String: "SET a b"}, &pgproto3.Terminate{}),
		encodeFrontend(&pgproto3.Query{String: "SLEEP 50"}, &pgproto3.Query{String: "NOTICE hi"}),
		{'Q', 0, 0, 0, 4},
		{'B', 0, 0, 0, 6, 0, 0},
		{'Q', 0x7f, 0xff, 0xff, 0xff},
	} {
		f.Add(seed)
	}

	addr := startFuzzServer(f, func(c *Config) { c.Insecure = true })
	startup := encodeFrontend(startupMessage(map[string]string{"user": "fuzz"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkServerAnswers(t, addr, append(append([]byte(nil), startup...), data...))
	})
}

// FuzzStartup feeds arbitrary bytes from the first byte on, to a server
// that asks for SCRAM: the startup and authentication phases.
func FuzzStartup(f *testing.F) {
	startup := encodeFrontend(startupMessage(map[string]string{"user": testUser, "database": "db"}))
	for _, seed := range [][]byte{
		startup,
		append([]byte{0, 0, 0, 8, 4, 210, 22, 48}, startup...), // GSSENCRequest first
		append([]byte{0, 0, 0, 8, 4, 210, 22, 47}, startup...), // SSLRequest first
		append(append([]byte(nil), startup...), encodeFrontend(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,,n=,r=abc")})...),
		append(append([]byte(nil), startup...), encodeFrontend(&pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256-PLUS", Data: []byte("p=tls-server-end-point,,n=,r=abc")})...),
		append(append([]byte(nil), startup...), 'p', 0, 0, 0, 4),
		{0, 0, 0, 16, 4, 210, 22, 46, 0, 0, 0, 1, 0, 0, 0, 2}, // CancelRequest
		{0, 0, 0, 9, 0, 3, 0, 1, 0},
	} {
		f.Add(seed)
	}
	addr := startFuzzServer(f, nil)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkServerAnswers(t, addr, data)
	})
}

// startFuzzServer starts a server for a fuzz target, closed at its end.
func startFuzzServer(f *testing.F, mod func(*Config)) string {
	b := newFakeBackend()
	b.maxSleep = 20 * time.Millisecond
	b.addUser(testUser, testPassword)
	cfg := DefaultConfig()
	cfg.MaxMessageSize = 1 << 16
	cfg.StartupTimeout = 5 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if mod != nil {
		mod(&cfg)
	}
	s := New(cfg, b)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	f.Cleanup(func() {
		s.Close()
		<-served
	})
	return l.Addr().String()
}

// checkServerAnswers sends input and half-closes the connection: the
// server must close its side within 10 s (no hang), and what it sent must
// decode as backend messages.
func checkServerAnswers(t *testing.T, addr string, input []byte) {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		// The server may close first (a FATAL): write errors are fine.
		_, _ = nc.Write(input)
		_ = nc.(*net.TCPConn).CloseWrite()
	}()
	out, err := io.ReadAll(nc)
	<-wrote
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("server still had the connection open 10s after the client's EOF; read %d bytes", len(out))
	}
	// The 'N' answers to SSLRequest and GSSENCRequest come first (the
	// server has no TLS).
	for len(out) > 0 && out[0] == 'N' {
		out = out[1:]
	}
	fe := pgproto3.NewFrontend(bytes.NewReader(out), io.Discard)
	for {
		if _, err := fe.Receive(); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
				return
			}
			t.Fatalf("malformed server output: %v\n%q", err, out)
		}
	}
}
