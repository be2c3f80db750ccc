package wire

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"
)

func TestLibPQ(t *testing.T) {
	tlsCfg, _ := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = tlsCfg })
	for _, mode := range []string{"disable", "require"} {
		t.Run(mode, func(t *testing.T) {
			db, err := sql.Open("postgres", ts.connString(testUser, testPassword, "sslmode="+mode))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := testContext(t)

			var n int64
			if err := db.QueryRowContext(ctx, "SELECT 7").Scan(&n); err != nil || n != 7 {
				t.Fatalf("SELECT 7: %d, %v", n, err)
			}
			var s string
			if err := db.QueryRowContext(ctx, "SELECT $1", "param").Scan(&s); err != nil || s != "param" {
				t.Errorf("SELECT $1: %q, %v", s, err)
			}
			rows, err := db.QueryContext(ctx, "SERIES 4")
			if err != nil {
				t.Fatal(err)
			}
			var sum int64
			for rows.Next() {
				if err := rows.Scan(&n); err != nil {
					t.Fatal(err)
				}
				sum += n
			}
			if rows.Err() != nil || sum != 10 {
				t.Errorf("SERIES 4: sum %d, %v", sum, rows.Err())
			}
			_, err = db.ExecContext(ctx, "ERROR 42P01 relation missing does not exist")
			var pe *pq.Error
			if !errors.As(err, &pe) || pe.Code != "42P01" || pe.Message != "relation missing does not exist" {
				t.Errorf("want 42P01, got %v", err)
			}
			if ts.b.lastConnect().TLS != (mode == "require") {
				t.Errorf("TLS = %v", ts.b.lastConnect().TLS)
			}
		})
	}

	db, err := sql.Open("postgres", ts.connString(testUser, "wrong", "sslmode=disable"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.PingContext(testContext(t))
	var pe *pq.Error
	if !errors.As(err, &pe) || pe.Code != "28P01" {
		t.Errorf("wrong password: %v", err)
	}
}

// psql runs psql with args and returns its output.
func psql(t *testing.T, password string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "psql", args...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+password, "PGCONNECT_TIMEOUT=10", "PSQLRC=/dev/null")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	tlsCfg, _ := testTLS(t)
	ts := startServer(t, func(c *Config) { c.TLS = tlsCfg })
	conn := "host=" + ts.host + " port=" + ts.port + " user=" + testUser + " dbname=db sslmode=require"

	out, err := psql(t, testPassword, conn, "-X", "-A", "-t", "-c", "select 1", "-c", "SERIES 3")
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := strings.Fields(out); strings.Join(got, ",") != "1,1,2,3" {
		t.Errorf("psql output %q", out)
	}
	if !ts.b.lastConnect().TLS || ts.b.lastConnect().Options["application_name"] != "psql" {
		t.Errorf("connect params %+v", ts.b.lastConnect())
	}

	out, err = psql(t, testPassword, conn+" channel_binding=require", "-X", "-A", "-t", "-c", "select 9")
	if err != nil || strings.TrimSpace(out) != "9" {
		t.Errorf("psql with channel binding: %v\n%s", err, out)
	}

	out, err = psql(t, testPassword, conn, "-X", "-c", "ERROR 22012 division by zero")
	if err == nil || !strings.Contains(out, "ERROR:  division by zero") {
		t.Errorf("psql error: %v\n%s", err, out)
	}

	out, err = psql(t, "wrong", conn, "-X", "-c", "select 1")
	if err == nil || !strings.Contains(out, `password authentication failed for user "alice"`) {
		t.Errorf("psql wrong password: %v\n%s", err, out)
	}

	// COPY FROM STDIN through psql.
	cmd := exec.Command("psql", conn, "-X", "-c", "COPY p FROM STDIN")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+testPassword, "PSQLRC=/dev/null")
	cmd.Stdin = strings.NewReader("a\nb\n\\.\n")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "COPY 2") {
		t.Errorf("psql COPY: %v\n%s", err, out)
	}
	if got := ts.b.table("p"); strings.Join(got, ",") != "a,b" {
		t.Errorf("copied %q", got)
	}
}
