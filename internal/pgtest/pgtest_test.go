package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shardingsystem/shard/internal/leakcheck"
)

func TestMain(m *testing.M) { leakcheck.Main(m) }

func query(t *testing.T, dsn, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var s string
	if err := conn.QueryRow(ctx, sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

func TestServer(t *testing.T) {
	s := Start(t, Options{Settings: map[string]string{"default_transaction_isolation": "repeatable read"}})
	if v := query(t, s.DSN(""), "SHOW server_version"); !strings.HasPrefix(v, "15.") {
		t.Fatalf("server_version %q", v)
	}
	for setting, want := range map[string]string{
		"TimeZone":                      "UTC",
		"default_transaction_isolation": "repeatable read",
		"max_connections":               "100",
		"ssl":                           "off",
	} {
		if got := query(t, s.DSN("postgres"), "SHOW "+setting); got != want {
			t.Errorf("%s = %q, want %q", setting, got, want)
		}
	}
	if got := query(t, s.DSN(""), "SELECT current_user"); got != "root" || s.User() != "root" {
		t.Errorf("current_user %q, User %q", got, s.User())
	}

	s.Stop()
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory left after Stop: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := pgx.Connect(ctx, s.DSN("")); err == nil {
		conn.Close(ctx)
		t.Fatal("connected after Stop")
	}
	s.Stop() // again: nothing
}

// TestLaunch: a program's server (no test around it), here with fsync on
// as a benchmark peer wants; Stop removes it.
func TestLaunch(t *testing.T) {
	Require(t, "")
	var lines []string
	s, err := Launch(Options{Name: "peer", Settings: map[string]string{"fsync": "on", "synchronous_commit": "on"}},
		func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	if err != nil {
		t.Fatal(err)
	}
	if got := query(t, s.DSN(""), "SHOW fsync"); got != "on" {
		s.Stop()
		t.Fatalf("fsync %q", got)
	}
	s.Stop()
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("directory left after Stop: %v (log: %v)", err, lines)
	}
	if _, err := Launch(Options{BinDir: t.TempDir()}, nil); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("Launch without PostgreSQL: %v", err)
	}
}

func TestServerTLS(t *testing.T) {
	s := Start(t, Options{Name: "tls", User: "admin", Password: "secret", TLS: true, MaxConnections: 20})
	if !strings.Contains(s.DSN("x"), "sslmode=require") {
		t.Fatalf("DSN %s", s.DSN("x"))
	}
	if got := query(t, s.DSN(""), "SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()"); got != "true" {
		t.Fatalf("ssl %q", got)
	}
	if got := query(t, s.DSN(""), "SHOW max_connections"); got != "20" {
		t.Fatalf("max_connections %q", got)
	}
}

func TestFindMissing(t *testing.T) {
	_, err := Find(t.TempDir())
	if !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("got %v, want ErrNotInstalled", err)
	}
}

// fakeTB records how Require ended the test.
type fakeTB struct {
	testing.TB
	ended string
}

type ended struct{}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.ended = "skip: " + fmt.Sprintf(format, args...)
	panic(ended{})
}
func (f *fakeTB) Fatal(args ...any) {
	f.ended = "fatal: " + fmt.Sprint(args...)
	panic(ended{})
}

func requireMissing(t *testing.T) string {
	f := &fakeTB{TB: t}
	func() {
		defer func() {
			if r := recover(); r != nil && r != (ended{}) {
				panic(r)
			}
		}()
		Require(f, t.TempDir())
	}()
	return f.ended
}

// Missing PostgreSQL skips, but fails under CI=true.
func TestRequireSkipsOrFails(t *testing.T) {
	t.Setenv("CI", "")
	if got := requireMissing(t); !strings.HasPrefix(got, "skip: ") {
		t.Fatalf("without CI: %s", got)
	}
	t.Setenv("CI", "true")
	if got := requireMissing(t); !strings.HasPrefix(got, "fatal: ") {
		t.Fatalf("with CI=true: %s", got)
	}
}
