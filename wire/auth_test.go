package wire

import (
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/xdg-go/scram"
)

func TestStartupParameters(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.NodeID = 5 })
	c := ts.connect(t, "application_name=myapp options='-c search_path=x'")

	p := ts.b.lastConnect()
	if p.User != testUser || p.Database != "db" || p.TLS {
		t.Errorf("connect params: %+v", p)
	}
	if p.Options["application_name"] != "myapp" || p.Options["options"] != "-c search_path=x" || p.Options["user"] != testUser {
		t.Errorf("options: %v", p.Options)
	}
	if p.RemoteAddr == nil || !strings.HasPrefix(p.RemoteAddr.String(), "127.0.0.1:") {
		t.Errorf("remote addr: %v", p.RemoteAddr)
	}
	if got := c.ParameterStatus("server_version"); got != "15.0 (shard)" {
		t.Errorf("server_version = %q", got)
	}
	if got := c.ParameterStatus("application_name"); got != "myapp" {
		t.Errorf("application_name = %q", got)
	}
	if pid := c.PID(); NodeOfPID(pid) != 5 || int32(pid) <= 0 {
		t.Errorf("pid %#x: node %d", pid, NodeOfPID(pid))
	}
	if len(c.SecretKey()) != 4 {
		t.Errorf("secret key %x", c.SecretKey())
	}
}

func TestDatabaseDefaultsToUser(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	raw := ts.dialRawNoStartup(t)
	raw.send(startupMessage(map[string]string{"user": "bob"}))
	if got := raw.recvUntilReady(); got[len(got)-1] != "ReadyForQuery I" {
		t.Fatalf("startup: %q", got)
	}
	if p := ts.b.lastConnect(); p.Database != "bob" {
		t.Errorf("database = %q, want the user name", p.Database)
	}
}

func TestSCRAM(t *testing.T) {
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	c, err := pgx.Connect(ctx, ts.connString(testUser, testPassword, ""))
	if err != nil {
		t.Fatalf("right password: %v", err)
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT 42").Scan(&n); err != nil || n != 42 {
		t.Errorf("SELECT 42: %d, %v", n, err)
	}
	_ = c.Close(ctx)

	for _, tc := range []struct{ user, password string }{
		{testUser, "wrong"},
		{testUser, ""},
		{"mallory", testPassword},
	} {
		_, err := pgconn.Connect(ctx, ts.connString(tc.user, tc.password, ""))
		var pe *pgconn.PgError
		if !errors.As(err, &pe) {
			t.Errorf("%s/%q: error %v, want a PgError", tc.user, tc.password, err)
			continue
		}
		want := `password authentication failed for user "` + tc.user + `"`
		if pe.Code != "28P01" || pe.Severity != "FATAL" || pe.Message != want {
			t.Errorf("%s/%q: %s %s %q", tc.user, tc.password, pe.Severity, pe.Code, pe.Message)
		}
	}
	if m := ts.Metrics(); m.AuthFailures != 3 || m.ConnectionsAccepted != 4 {
		t.Errorf("metrics %+v", m)
	}
}

func TestMissingUser(t *testing.T) {
	ts := startServer(t, nil)
	raw := ts.dialRawNoStartup(t)
	raw.send(startupMessage(map[string]string{"database": "db"}))
	got := raw.recvUntilReady()
	want := []string{"ErrorResponse FATAL 28000 no PostgreSQL user name specified in startup packet", "EOF"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestConnectError(t *testing.T) {
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := pgconn.Connect(ctx, ts.connString(testUser, testPassword, "")+" dbname=nodb")
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != "3D000" || pe.Severity != "FATAL" {
		t.Fatalf("connect to a missing database: %v", err)
	}
}

func TestInsecure(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.Insecure = true })
	c := ts.connect(t, "")
	_ = c
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// No password at all, and a role the backend does not know.
	c2, err := pgconn.Connect(ctx, ts.connString("anybody", "", ""))
	if err != nil {
		t.Fatalf("insecure connect: %v", err)
	}
	_ = c2.Close(ctx)
}

func TestVerifier(t *testing.T) {
	v, err := MakeVerifier(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseVerifier(v)
	if err != nil {
		t.Fatal(err)
	}
	if parsed.String() != v || parsed.Iterations != 4096 || len(parsed.Salt) != 16 {
		t.Errorf("round trip: %q -> %+v", v, parsed)
	}
	if !parsed.matches(testPassword) || parsed.matches("other") {
		t.Error("matches")
	}
	v2, _ := MakeVerifier(testPassword)
	if v2 == v {
		t.Error("two verifiers of one password share a salt")
	}

	for _, bad := range []string{
		"", "md5abc", "SCRAM-SHA-256$", "SCRAM-SHA-256$0:c2FsdA==$" + strings.Repeat("A", 44) + ":" + strings.Repeat("A", 44),
		"SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA", "SCRAM-SHA-256$4096:!!$x:y",
	} {
		if _, err := ParseVerifier(bad); !errors.Is(err, ErrInvalidVerifier) {
			t.Errorf("ParseVerifier(%q) = %v", bad, err)
		}
	}
}

// TestVerifierRFC7677 checks the key derivation against RFC 7677's example
// exchange (password "pencil").
func TestVerifierRFC7677(t *testing.T) {
	salt, _ := base64.StdEncoding.DecodeString("W22ZaJ0SNY7soEsUEjb6gQ==")
	stored, server, err := scramKeys("pencil", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	v, err := ParseVerifier(SCRAMVerifier{Iterations: 4096, Salt: salt, StoredKey: stored, ServerKey: server}.String())
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return v.credentials(), nil })
	srv.WithNonceGenerator(func() string { return "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0" })
	conv := srv.NewConversation()
	first, err := conv.Step("n,,n=user,r=rOprNGfwEbeRWgbNEkqO")
	if err != nil || first != "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096" {
		t.Fatalf("server-first %q, %v", first, err)
	}
	final, err := conv.Step("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	if err != nil || !conv.Valid() || final != "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=" {
		t.Fatalf("server-final %q, valid %v, %v", final, conv.Valid(), err)
	}
}

// TestVerifierWithSCRAMClient checks MakeVerifier's keys against an
// independent client conversation (what libpq does).
func TestVerifierWithSCRAMClient(t *testing.T) {
	v, _ := MakeVerifier("pencil")
	parsed, _ := ParseVerifier(v)
	srv, _ := scram.SHA256.NewServer(func(string) (scram.StoredCredentials, error) { return parsed.credentials(), nil })
	for _, pw := range []string{"pencil", "pen"} {
		client, _ := scram.SHA256.NewClient("", pw, "")
		cc, sc := client.NewConversation(), srv.NewConversation()
		msg, err := cc.Step("")
		for err == nil && !sc.Done() {
			if msg, err = sc.Step(msg); err == nil {
				msg, err = cc.Step(msg)
			}
		}
		if got := err == nil && sc.Valid(); got != (pw == "pencil") {
			t.Errorf("password %q: valid=%v err=%v", pw, sc.Valid(), err)
		}
	}
}

func TestMockVerifierIsStable(t *testing.T) {
	s := New(DefaultConfig(), newFakeBackend())
	defer s.Close()
	a, b := s.mockVerifier("x"), s.mockVerifier("x")
	if a.String() != b.String() || a.String() == s.mockVerifier("y").String() {
		t.Error("mock verifiers must be stable per role and differ between roles")
	}
}
