package sql_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestCancelLockWait cancels, over the wire, an UPDATE in a transaction
// block that waits for a row another transaction has locked: by a CancelRequest, then by
// statement_timeout. Each ends the statement with 57014 and its own
// message, long before the wait would end by itself; the connection goes
// on, and once the lock is released the same UPDATE succeeds.
func TestCancelLockWait(t *testing.T) {
	addr := startLogicCluster(t)
	a := connect(t, addr, "postgres")
	b := connect(t, addr, "postgres")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for _, q := range []string{
		"CREATE TABLE cl (id int PRIMARY KEY, v int)",
		"INSERT INTO cl VALUES (1, 0)",
		"BEGIN",
		"UPDATE cl SET v = 1 WHERE id = 1",
	} {
		if _, err := a.Exec(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// blocked starts the UPDATE in a transaction block of b's: an
	// autocommit statement takes no lock, so it would not wait.
	blocked := func() <-chan error {
		if _, err := b.Exec(ctx, "BEGIN"); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := b.Exec(ctx, "UPDATE cl SET v = 2 WHERE id = 1")
			done <- err
		}()
		return done
	}
	rollback := func() {
		t.Helper()
		if _, err := b.Exec(ctx, "ROLLBACK"); err != nil {
			t.Fatal(err)
		}
	}
	want57014 := func(done <-chan error, msg string) {
		t.Helper()
		select {
		case err := <-done:
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "57014" || !strings.Contains(pe.Message, msg) {
				t.Fatalf("want 57014 %q, got %v", msg, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("the waiting UPDATE did not end (%s)", msg)
		}
	}

	done := blocked()
	select {
	case err := <-done:
		t.Fatalf("UPDATE of a locked row did not wait: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	if err := b.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	want57014(done, "user request")
	rollback()

	if _, err := b.Exec(ctx, "SET statement_timeout = '300ms'"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	want57014(blocked(), "statement timeout")
	if took := time.Since(start); took < 300*time.Millisecond {
		t.Fatalf("statement_timeout of 300ms ended the statement after %v", took)
	}
	rollback()
	if _, err := b.Exec(ctx, "SET statement_timeout = 0"); err != nil {
		t.Fatal(err)
	}

	// A cancel between statements cancels nothing.
	if err := b.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	done = blocked()
	if _, err := a.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("UPDATE after the lock's release: %v", err)
		}
		if _, err := b.Exec(ctx, "COMMIT"); err != nil {
			t.Fatal(err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("UPDATE did not go on after the lock's release")
	}
	var v int
	if err := b.QueryRow(ctx, "SELECT v FROM cl WHERE id = 1").Scan(&v); err != nil {
		t.Fatal(err)
	}
	if v != 2 {
		t.Fatalf("v = %d, want 2", v)
	}
}
